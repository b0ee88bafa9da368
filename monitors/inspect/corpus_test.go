package inspect_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
	"github.com/stellarfeed/stellarfeed/monitors"
	_ "github.com/stellarfeed/stellarfeed/monitors/all"
	"github.com/stellarfeed/stellarfeed/monitors/inspect"
	"github.com/stellarfeed/stellarfeed/stellar"
)

var writeDoc = flag.Bool("write-doc", false, "TestCorpusReport: rewrite the corpus table in docs/monitors.md")

// corpusPage is one real page of ../shared/realpages (or ../shared/fixtures)
// with what a person read on it (MANIFEST.md). Fields left "" or nil in
// want are the ones the person wrote as "?" or "–": not checked.
type corpusPage struct {
	file       string // relative to ../shared
	site       string
	region     string
	sku        string
	handle     string // shopify
	status     int    // 0: 200
	conditions []string
	want       corpusWant
}

type corpusWant struct {
	outcome      string
	price        string // plain decimal, as a ping carries it
	currency     string
	merchant     string
	soldByAmazon *bool
	offerID      string // as MANIFEST prints it: URL-encoded; pings carry it decoded
	title        string // the first characters, as MANIFEST prints them
	image        string
	reason       string // substring of Report.Reason
	request2     string // substring of the second URL asked for
}

var yes, no = new(bool), new(bool)

func init() { *yes = true }

func corpus() []corpusPage {
	const rp = "realpages/"
	return []corpusPage{
		{file: rp + "amazon-com-B07G2L3JMM-instock-thirdparty.html", site: "amazon", region: "USA", sku: "B07G2L3JMM", want: corpusWant{
			outcome: "in_stock", price: "29.99", currency: "USD", merchant: "A3EL5JZNMT8SZ7", soldByAmazon: no,
			offerID: "mrKd%2F0h7v3%2FWR87uDexi0oJ9g8jrp9iVxy26bKEQyueeSJ3Fay1M%2B5OHUsY%2B7laCV32%2BxtDzdSm9P6BZzStzUeBUoIr7kCfBf8%2BRDc%2B%2FJ9GJnMt%2FwJyLhPoKSj5XuMsHMg%2FoRPy7f0dWd938dSCUig%2FTcOBuMl26",
			title:   "Modern LED Wall Sconce Lighting Fixture", image: "https://images-na.ssl-images-amazon.com/images/I/71mo6NjnxaL._AC_SL1500_.jpg"}},
		{file: rp + "amazon-com-B00N150YS4-instock-amazon.html", site: "amazon", region: "USA", sku: "B00N150YS4", want: corpusWant{
			outcome: "in_stock", price: "12.48", currency: "USD", merchant: "ATVPDKIKX0DER", soldByAmazon: yes,
			offerID: "p8CqJwyRMziVzxkJz2HLNEegeoYfYboO1H%2F%2BJpn8Lt%2FWKM3q6VwxVi%2FFwAq%2FpEdXlA2WwHYG6BLfbVYNxZpBglKrXe99NFtKvr5j0OEWLr4FwfSL6bSNlSiv9JZBFAKkrFAhe%2FK8DU63dKDjNSFEpw%3D%3D",
			title:   `Gorilla Black Duct Tape, 1.88" x 12 yd,`, image: "https://m.media-amazon.com/images/I/91WVWYPWe5L._AC_SL1500_.jpg"}},
		// Misread 1: this in-stock page quotes an old validateCaptcha URL as
		// its referer inside a JSON attribute.
		{file: rp + "amazon-com-B0BRZXRBZL-instock-thirdparty.html", site: "amazon", region: "USA", sku: "B0BRZXRBZL", want: corpusWant{
			outcome: "in_stock", price: "13.50", currency: "USD", merchant: "A2TRK9FB3PVEXU", soldByAmazon: no,
			offerID: "8FZi9bhDkl8qUgrQBwYDOBoRA3h%2BhxoJkhEfeFwI9tm3z8xLhQq0dJmNRFxUkKjr18yBej%2BjJV6N5o5iH8YKKQNKRqg8mYVBeECKvOSp%2Fi%2FGXiNaLAW3K38S5pFM32%2FZtX3blEgsNfAyNU7YYdD1tPetD5eneU6p7x2LP4uXGzQj2zwT3NNDdfMxua3TfhlM",
			title:   "EMUST Dog Life Vests, Adjustable Dog Lif", image: "https://m.media-amazon.com/images/I/61KzQCwovrL._AC_SL1001_.jpg"}},
		{file: rp + "amazon-com-B0057OC5O8-instock-thirdparty.html", site: "amazon", region: "USA", sku: "B0057OC5O8", want: corpusWant{
			outcome: "in_stock", price: "8.99", currency: "USD", merchant: "A1CJB5SYI9X4XC", soldByAmazon: no,
			offerID: "bfYR62RbBF444Jcheo7z7L%2FK5UpU8QjX095ksrSWartcgZUxfFwm2no%2FEcxDwVG6%2BL9CqVneGf3TBuhUcTqM0540%2FOuhxAM1HoqgwZnUezpdFEMaiG9oSRNDRn94eA6Y0dtezBz2I5%2Bm07lpxrIY%2FaL0hlssFwRiB8phzSInUB8q9%2FvFCY7SpQKXMTdV6pYk",
			title:   "SainSmart 4-Channel Relay Module", image: "https://m.media-amazon.com/images/W/MEDIAX_792452-T2/images/I/71p1Oe9knSL._AC_SL1200_.jpg"}},
		{file: rp + "amazon-com-B0057OC5O8-instock-amazon-2017.html", site: "amazon", region: "USA", sku: "B0057OC5O8", want: corpusWant{
			outcome: "in_stock", price: "8.99", currency: "USD", merchant: "ATVPDKIKX0DER", soldByAmazon: yes,
			offerID: "6rLI78ySw2SR3YOvv5REyTU%2FWrpIlIb8iR04rNQBP1o7zRY%2F9aNM4yJ6zAXuc6Qqhgc8KT8UnivonRPTnVMaoirnZWX5V1RgtZUdeftTJ%2FVK7AFvXj%2B8RA%3D%3D",
			title:   "SainSmart 4-Channel Relay Module", image: "https://images-na.ssl-images-amazon.com/images/I/51M0KK9HuHL.jpg"}},
		{file: rp + "amazon-com-B08JJC6WLV-instock-thirdparty.html", site: "amazon", region: "USA", sku: "B08JJC6WLV", want: corpusWant{
			outcome: "in_stock", price: "599.66", currency: "USD", merchant: "A19N59FKNWHX7C", soldByAmazon: no,
			offerID: "0BFyDbFn4kZJER7PzHZ4VOVwerGypxGz6CFOW4%2BgkVmtcAdzNR3UUEamPfbVsgq4VKO%2FVF%2FaSLWGAjfz%2FdHnKxJRKjDtf1hl7Xpxc801XWL8f8tXVAk5pNS5CbP6HdM%2B%2FD7DpKtTkj8F72%2FYwcyRpk%2BGvB08zDLwrKV50qRVamXqTTO1M4lQQw%3D%3D",
			title:   "ASUS GeForce RTX 2060 Overclocked 6G GDD", image: "https://images-na.ssl-images-amazon.com/images/I/81Nu3G391XL._AC_SL1500_.jpg"}},
		{file: rp + "amazon-com-B08L8HPKR6-outofstock.html", site: "amazon", region: "USA", sku: "B08L8HPKR6", want: corpusWant{
			outcome: "out_of_stock", title: "ASUS Dual NVIDIA GeForce RTX 3070 Gaming", image: "https://images-na.ssl-images-amazon.com/images/I/81Bfni5AVdL._AC_SL1500_.jpg",
			reason: "#outOfStock"}},
		// The mobile layout: the used form comes first, the new one (oid) decides.
		{file: rp + "amazon-com-193435659X-instock-amazon-mobile-2018.html", site: "amazon", region: "USA", sku: "193435659X", want: corpusWant{
			outcome: "in_stock", price: "21.11", currency: "USD", merchant: "ATVPDKIKX0DER", soldByAmazon: yes,
			offerID: "qpYstoUm2IWlPY1RqjQUzvk%2F4O9B7Pp7woGziNjZ%2BVuf9XauXgWmPRt4Dll7c4xoUH58XERmSulhFpGwShCxlUxvbmTV7pjNFoyT6iNzMizhROvlZUaWMQ%3D%3D",
			title:   "Seven Languages in Seven Weeks: A Pragma", image: "https://images-na.ssl-images-amazon.com/images/I/51opYcR6kVL._SY400_.jpg"}},
		{file: rp + "amazon-com-B0011UCPM4-kindle-ebook.html", site: "amazon", region: "USA", sku: "B0011UCPM4", want: corpusWant{
			outcome: "error", reason: "digital-only", price: "10.99", currency: "USD",
			title: "The Whole Truth (A. Shaw Book 1)", image: "https://m.media-amazon.com/images/W/MEDIAX_792452-T2/images/I/91c7gvGFyvL._SL1500_.jpg"}},
		{file: rp + "amazon-com-captcha-robotcheck.html", site: "amazon", region: "USA", sku: "B0BRZXRBZL", want: corpusWant{
			outcome: "blocked", reason: "validateCaptcha"}},
		{file: rp + "amazon-com-error404-dogsofamazon.html", site: "amazon", region: "USA", sku: "B0BRZXRBZL", status: 404, want: corpusWant{
			outcome: "error", reason: "HTTP 404"}},
		// Misread 2b: the 2017 book page's price sits in #buyNewSection .offer-price.
		{file: rp + "amazon-co-uk-1849757097-instock-amazon-book-2017.html", site: "amazon", region: "UK", sku: "1849757097", want: corpusWant{
			outcome: "in_stock", price: "13.53", currency: "GBP", merchant: "A3P5ROKL5A1OLE", soldByAmazon: yes,
			offerID: "rhnRxhSwrJ7BsqebcAAObWTdVG2P6k4IqadEOE3j23igtvoCn8BnY%2B9T%2F8HJZm29ZNQV9Zi6v3UZbqxKGSGkNdw36jsi7Ej1",
			title:   "Vegetable Perfection: 100 delicious reci", image: "https://images-na.ssl-images-amazon.com/images/I/61Q2c36lYeL._SX411_BO1,204,203,200_.jpg"}},
		// Misread 2a: used only. New only by default: out of stock, with the
		// used offer shown for the operator.
		{file: rp + "amazon-co-uk-1849757097-usedonly-thirdparty-book.html", site: "amazon", region: "UK", sku: "1849757097", want: corpusWant{
			outcome: "out_of_stock", reason: "only a used copy", price: "4.45", currency: "GBP", merchant: "A2NQK4TIWYJD6B", soldByAmazon: no,
			offerID: "eCmkttujYPmA%2BpK5yWifslIBoWRrK3vyM%2BKQK6gBD3CTvuNl%2Bwyp1VRhZm7EIkkYh4E6TRm5N6hRE%2B7DEY8tEt3pugw6MXAdmk3Opy1%2FMCCfNjCl1W5cU%2BRzwFvOsXKPmY%2BoT2bCntkkiElBdm2LQGBoAY%2FAhm0MzgvHjJqdFlLzilCId157QQ%3D%3D",
			title:   "Vegetable Perfection: 100 delicious reci", image: "https://m.media-amazon.com/images/I/91EpHNSPFnL._SL1500_.jpg"}},
		// … and with the target allowing used offers, that offer pings.
		{file: rp + "amazon-co-uk-1849757097-usedonly-thirdparty-book.html", site: "amazon", region: "UK", sku: "1849757097", conditions: []string{"used"}, want: corpusWant{
			outcome: "in_stock", price: "4.45", currency: "GBP", merchant: "A2NQK4TIWYJD6B", soldByAmazon: no,
			offerID: "eCmkttujYPmA%2BpK5yWifslIBoWRrK3vyM%2BKQK6gBD3CTvuNl%2Bwyp1VRhZm7EIkkYh4E6TRm5N6hRE%2B7DEY8tEt3pugw6MXAdmk3Opy1%2FMCCfNjCl1W5cU%2BRzwFvOsXKPmY%2BoT2bCntkkiElBdm2LQGBoAY%2FAhm0MzgvHjJqdFlLzilCId157QQ%3D%3D",
			title:   "Vegetable Perfection: 100 delicious reci", image: "https://m.media-amazon.com/images/I/91EpHNSPFnL._SL1500_.jpg"}},
		{file: rp + "amazon-de-B000LQXC2Q-instock-amazon.html", site: "amazon", region: "DE", sku: "B000LQXC2Q", want: corpusWant{
			outcome: "in_stock", price: "109.00", currency: "EUR", merchant: "A3JWKAKR8XB7XF", soldByAmazon: yes,
			offerID: "YOgl%2Fl9q%2Bm2TD5Aue1qHOicb19PBrYAFSePfo8Eor7SIY0kmj1SSqaHSanmU4egXilyQAG3IoJyiok%2BFclmXq9w57A2nTVKrLCRtiRzPUi0%3D",
			title:   "Gastroback 42429 Design Wasserkocher Adv", image: "http://ecx.images-amazon.com/images/I/814Yl6mxLsL._SL1500_.jpg"}},
		{file: rp + "amazon-de-B07JWMTL6G-instock-amazon-dealprice.html", site: "amazon", region: "DE", sku: "B07JWMTL6G", want: corpusWant{
			outcome: "in_stock", price: "8.99", currency: "EUR", merchant: "A3JWKAKR8XB7XF", soldByAmazon: yes,
			offerID: "Jce%2FhaxzrdHOkMjjaIoe9THS%2Bj2F2jSr2A5K%2BGJ9aFweaLeswerHsRnQnXnGhC4%2FzSHkvPu9%2FRi9LXbqgGJIwH8f2tmLIVNWyIhalw6RsxE%3D",
			title:   "MaxiNutrition Whey Protein Pro Vanille –", image: "https://images-na.ssl-images-amazon.com/images/I/71TFNLdZHiL._SL1500_.jpg"}},
		// A pre-order with its add-to-cart button: buyable now, so in stock.
		{file: rp + "amazon-de-0356510344-preorder-amazon-book.html", site: "amazon", region: "DE", sku: "0356510344", want: corpusWant{
			outcome: "in_stock", price: "12.99", currency: "EUR", merchant: "A3JWKAKR8XB7XF", soldByAmazon: yes,
			offerID: "kAivA7apZzAos85%2F3B3ZBSLB75DSYupNc6IXb89xrbBMgeEOUtv5rTlX2K5jpb0T1Y%2FqPRBw%2Bc6EdbaX5L7T2fbyF13CgWhWFPThmX4YUSw%3D",
			title:   "Tiamat's Wrath: Book 8 of the Expanse (n", image: "https://images-na.ssl-images-amazon.com/images/I/61ncIDLR%2BSL._SX330_BO1,204,203,200_.jpg"}},
		{file: rp + "amazon-de-B01DQDZVCO-instock-thirdparty-fba.html", site: "amazon", region: "DE", sku: "B01DQDZVCO", want: corpusWant{
			outcome: "in_stock", price: "14.99", currency: "EUR", merchant: "A2KTBS1FE89V3M", soldByAmazon: no,
			offerID: "xWiVgsy%2Fi06FM%2FmFBVX8V544M5jpBJTDE5QWDozxDPkfg9Y8A59UZZ6WF6MmfQYrMyc%2Bu4Bgck5aNDQcuf1nfRa96cQmxWVZ%2B%2FmlgtDmEtDLa77vGQfAXQ%2Fx%2F%2FsbwgwTXLUF0YRxepzYXrNvgeerkhXxsRfKXsDc",
			title:   "WINOMO Kleiderhaken Klappbar Wand-Kleide", image: "https://images-na.ssl-images-amazon.com/images/I/61PbuwxxQ-L._SL1200_.jpg"}},
		{file: rp + "amazon-de-B084BZSZ5X-instock-thirdparty.html", site: "amazon", region: "DE", sku: "B084BZSZ5X", want: corpusWant{
			outcome: "in_stock", price: "1130.00", currency: "EUR", merchant: "A236OBCNGB3H6N", soldByAmazon: no,
			offerID: "SfDTLWU9zsA8pt8azn0o6JBuakVB0cfV1o%2FGBZwHB4qhZ8qFktyGODnJoq9AWPVJkv95iSeBpKwlwmDKnirbWWcmT6pkF%2B5l6OTc5cjRiFc1cVsC%2BbOmi6nG0WG9Ildgk47RkNxPT%2Bzrjm8cIkzMmQdzAF8Dhq7C0Iykvfr%2FTJAGoJNrsDdX%2BCOMi%2FGZRaqd",
			title:   "Ubiquiti UniFi Switch Gen2 (USW-PRO-48-P", image: "https://images-na.ssl-images-amazon.com/images/I/41B5skLrhTL._SL1000_.jpg"}},
		{file: rp + "amazon-es-B01MUGXRT9-instock-amazon-2017.html", site: "amazon", region: "ES", sku: "B01MUGXRT9", want: corpusWant{
			outcome: "in_stock", price: "219.00", currency: "EUR", merchant: "A1AT7YVPFBWXBL", soldByAmazon: yes,
			offerID: "Cjl%2BuTBrn3fEY6H4sWiQPDqTmo6ku%2FRMw2EaQF3J%2B21%2B9V9Mc2Ks%2FE8t%2BfCDOh1njKNLlrt09DASrubhfxzUdwo3WETb%2BWHrTZleuxXE04%2BMct3iZnNq63udfzbbuKet",
			title:   "Robot aspirador Conga Excellence 990 de", image: "https://images-na.ssl-images-amazon.com/images/I/81lde%2B541vL._SL1500_.jpg"}},
		{file: rp + "amazon-es-B01MUGXRT9-instock-thirdparty-2019.html", site: "amazon", region: "ES", sku: "B01MUGXRT9", want: corpusWant{
			outcome: "in_stock", price: "225.00", currency: "EUR", merchant: "A18MRNJX8NUA6B", soldByAmazon: no,
			offerID: "71qgi9MuonjngvgqTk0e7Vd2Hk4%2FO0%2FjBPlZTrBSowGbXwF%2BxY0uChPG6inMyPmxFHc6QEasByzWL5JxGh396nv0cGa4kJntn4iYRfFOIHu%2FrM7O%2FKDaeLP7i2MJexfnb0LWp%2BinOzKXzKn4Cg%2BC%2FvTfpB4x8k2K",
			title:   "Cecotec Conga Excellence 990, Robot Aspi", image: "https://images-na.ssl-images-amazon.com/images/I/81lde%2B541vL._SL1500_.jpg"}},
		// Misread 3: no featured offer. The page says nothing about stock:
		// the monitor asks for the offers (AOD), which nobody saved.
		{file: rp + "amazon-es-B01MUGXRT9-nofeaturedoffer-2024.html", site: "amazon", region: "ES", sku: "B01MUGXRT9", want: corpusWant{
			outcome: "error", reason: "has no saved page", request2: "/gp/product/ajax/ref=dp_aod_ALL_mbc?asin=B01MUGXRT9",
			title: "Cecotec Robot Limpiacristales Windroid 8", image: "https://m.media-amazon.com/images/I/81lde+541vL._AC_SL1500_.jpg"}},
		{file: "fixtures/amazon-com-B0DR8G428S-third-party.html", site: "amazon", region: "USA", sku: "B0DR8G428S", want: corpusWant{
			outcome: "in_stock", price: "35.99", currency: "USD", merchant: "A2JZ0S3QVWQECL", soldByAmazon: no,
			offerID: "p7h8Hu2%2BBb5u3qEl55Zl3dADtomEyeIV%2BkwkygBC5r7zVH1qnZJJldBCdpkef42LbyR6TNtIFxNWQ4V36RtFbCKk%2BLfW0gJg4b9Wgn5GuBAicqSugbL6kyHzK%2FJQ24rMfjauEqbOVL8pCu%2Fhf8JILmKdEnYJGSIp1B%2B3zYQwEYA5aaESxcS2gG1kFLnogPUS",
			title:   "charmast 20000mAh Portable Charger", image: "https://m.media-amazon.com/images/I/81lAsPSu2FL._AC_SL1500_.jpg"}},
		// Misread 4: the 2020 layout keeps its data in <script id="item">.
		{file: rp + "walmart-com-341937837-instock-thirdparty-legacy2020.html", site: "walmart", region: "USA", sku: "341937837", want: corpusWant{
			outcome: "in_stock", price: "499.99", currency: "USD", merchant: "FF3D955198374FE1ABC64985EF64625C", soldByAmazon: no,
			offerID: "6B55202500A644399FC3ED3B7CEAE09B", title: "ZOTAC GAMING GeForce RTX 2060, Black",
			image: "https://i5.walmartimages.com/asr/1a8f8cee-f34c-4783-b7bf-571f5e761ac2.425f6213a3a894f1a5bc0b684a73a682.jpeg"}},
		{file: rp + "walmart-com-blocked-verifyidentity-2020.html", site: "walmart", region: "USA", sku: "341937837", want: corpusWant{
			outcome: "blocked"}},
		{file: rp + "shopify-ratio-eight-product-js.json", site: "shopify", handle: "ratio-eight", want: corpusWant{
			outcome: "in_stock", price: "520.00", title: "Ratio Eight",
			image: "https://cdn.shopify.com/s/files/1/1255/2693/products/Slideshow_1.png?v=1511539679"}},
	}
}

// sharedDir finds ../shared next to the module root (the directory holding
// go.mod), or "" when it is absent.
func sharedDir(tb testing.TB) string {
	tb.Helper()
	shared := testutil.SharedDir()
	if shared == "" {
		return ""
	}
	if _, err := os.Stat(filepath.Join(shared, "realpages", "MANIFEST.md")); err != nil {
		return ""
	}
	return shared
}

// check reads one corpus page through the code path of `stellarfeed check`.
func check(tb testing.TB, shared string, c corpusPage) inspect.Report {
	tb.Helper()
	body, err := os.ReadFile(filepath.Join(shared, c.file))
	if err != nil {
		tb.Fatal(err)
	}
	m, err := monitors.New(c.site)
	if err != nil {
		tb.Fatal(err)
	}
	t := &monitors.Target{Site: c.site, Region: c.region, SKU: c.sku, Conditions: c.conditions}
	if c.site == "shopify" {
		t.Store, t.Handle = "https://shop.example.com", c.handle
	}
	return inspect.Run(context.Background(), m, t, &inspect.Pages{Bodies: [][]byte{body}, Status: c.status}, stellar.Rules{})
}

// fieldResult is one checked field of one page.
type fieldResult struct {
	name      string
	got, want string
	ok        bool
}

func compare(r inspect.Report, w corpusWant) []fieldResult {
	var out []fieldResult
	add := func(name, got, want string, ok bool) {
		out = append(out, fieldResult{name, got, want, ok})
	}
	eq := func(name, got, want string) {
		if want != "" {
			add(name, got, want, got == want)
		}
	}
	eq("outcome", r.Outcome, w.outcome)
	eq("price", r.Price, w.price)
	eq("currency", r.Currency, w.currency)
	eq("merchant", r.Merchant, w.merchant)
	if w.soldByAmazon != nil {
		add("soldByAmazon", fmt.Sprint(r.SoldByAmazon), fmt.Sprint(*w.soldByAmazon), r.SoldByAmazon == *w.soldByAmazon)
	}
	if w.offerID != "" {
		dec, err := url.PathUnescape(w.offerID)
		if err != nil {
			panic(err)
		}
		eq("offerId", r.OfferID, dec)
	}
	if w.title != "" {
		add("title", r.Title, w.title+"…", strings.HasPrefix(r.Title, w.title))
	}
	eq("image", r.Image, w.image)
	if w.reason != "" {
		add("reason", r.Reason, "…"+w.reason+"…", strings.Contains(r.Reason, w.reason))
	}
	if w.request2 != "" {
		got := ""
		if len(r.Requests) > 1 {
			got = r.Requests[1]
		}
		add("request 2", got, "…"+w.request2+"…", strings.Contains(got, w.request2))
	}
	if w.outcome == "in_stock" && r.Outcome == "in_stock" {
		// What is in stock must ping, and the ping must pass Stellar's rules.
		add("ping", fmt.Sprint(r.Ping != nil), "true ("+r.PingError+")", r.Ping != nil && r.PingError == "")
	}
	return out
}

// TestCorpus reads every real page through the check path and compares
// every field a person wrote down.
func TestCorpus(t *testing.T) {
	shared := sharedDir(t)
	if shared == "" {
		t.Skip("../shared/realpages (the real-page corpus, kept outside the repository) is absent: skipping the corpus tests")
	}
	for _, c := range corpus() {
		name := strings.TrimSuffix(filepath.Base(c.file), filepath.Ext(c.file))
		if len(c.conditions) > 0 {
			name += "/conditions=" + strings.Join(c.conditions, ",")
		}
		t.Run(name, func(t *testing.T) {
			r := check(t, shared, c)
			for _, f := range compare(r, c.want) {
				if !f.ok {
					t.Errorf("%s = %q, want %q (reason %q, evidence %q)", f.name, f.got, f.want, r.Reason, r.Evidence)
				}
			}
		})
	}
}

// TestCorpusReport measures the pass rate per site and region and the time
// each page takes through the check path, and with -write-doc writes the
// table into docs/monitors.md (run it without -race for honest times):
//
//	go test -run TestCorpusReport -v ./monitors/inspect/ -write-doc
func TestCorpusReport(t *testing.T) {
	shared := sharedDir(t)
	if shared == "" {
		t.Skip("../shared/realpages is absent: no corpus report")
	}
	if !*writeDoc && !testing.Verbose() {
		t.Skip("run with -v (print) or -write-doc (rewrite docs/monitors.md)")
	}
	type agg struct{ pages, fields, right int }
	groups := map[string]*agg{}
	var rows []string
	for _, c := range corpus() {
		var r inspect.Report
		best := time.Duration(1<<63 - 1)
		for range 5 {
			start := time.Now()
			r = check(t, shared, c)
			best = min(best, time.Since(start))
		}
		res := compare(r, c.want)
		key := c.site
		if c.region != "" {
			key += " " + c.region
		}
		g := groups[key]
		if g == nil {
			g = &agg{}
			groups[key] = g
		}
		g.pages++
		right := 0
		var wrong []string
		for _, f := range res {
			if f.ok {
				right++
			} else {
				wrong = append(wrong, f.name)
			}
		}
		g.fields += len(res)
		g.right += right
		file := filepath.Base(c.file)
		if len(c.conditions) > 0 {
			file += " (conditions: " + strings.Join(c.conditions, ",") + ")"
		}
		body, _ := os.ReadFile(filepath.Join(shared, c.file))
		rows = append(rows, fmt.Sprintf("| %s | %d KB | %s | %d/%d %s | %.2f ms |", file, len(body)>>10, r.Outcome, right, len(res),
			strings.Join(wrong, ", "), float64(best.Microseconds())/1000))
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("| site and region | pages | fields checked | right | pass rate |\n|---|---|---|---|---|\n")
	for _, k := range keys {
		g := groups[k]
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %.0f%% |\n", k, g.pages, g.fields, g.right, 100*float64(g.right)/float64(max(g.fields, 1)))
	}
	b.WriteString("\n| page | size | outcome | fields right (wrong) | check time (best of 5) |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		b.WriteString(r + "\n")
	}
	table := b.String()
	t.Log("\n" + table)
	if !*writeDoc {
		return
	}
	if err := writeCorpusTable(filepath.Join("..", "..", "docs", "monitors.md"), table); err != nil {
		t.Fatal(err)
	}
}

const (
	beginMark = "<!-- corpus-table:begin (generated by TestCorpusReport -write-doc; do not edit) -->"
	endMark   = "<!-- corpus-table:end -->"
)

func writeCorpusTable(path, table string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(doc)
	i, j := strings.Index(s, beginMark), strings.Index(s, endMark)
	if i < 0 || j < i {
		return errors.New(path + ": corpus table markers missing")
	}
	s = s[:i+len(beginMark)] + "\n" + table + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
