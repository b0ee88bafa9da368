package sim

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"
)

func parseHTML(t testing.TB, body string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func queryAll(doc *html.Node, css string) []*html.Node {
	return cascadia.QueryAll(doc, cascadia.MustCompile(css))
}

func attr(n *html.Node, name string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func first(doc *html.Node, css string) *html.Node {
	if ns := queryAll(doc, css); len(ns) > 0 {
		return ns[0]
	}
	return nil
}

func TestFormatAmazonPrice(t *testing.T) {
	f := func(region, price, want, whole, frac string) {
		t.Helper()
		r, ok := amazonRegionByCode(region)
		if !ok {
			t.Fatalf("no region %s", region)
		}
		got := formatAmazonPrice(r, price)
		if got.Display != want || got.Whole != whole || got.Fraction != frac {
			t.Errorf("%s %s: got %+v, want %q %q %q", region, price, got, want, whole, frac)
		}
	}
	f("USA", "1234.56", "$1,234.56", "1,234", "56")
	f("USA", "0.99", "$0.99", "0", "99")
	f("USA", "5", "$5.00", "5", "00")
	f("CA", "1234.5", "CDN$ 1,234.50", "1,234", "50")
	f("UK", "229.00", "£229.00", "229", "00")
	f("AU", "799", "A$799.00", "799", "00")
	f("DE", "1234.56", "1.234,56 €", "1.234", "56")
	f("FR", "1234567.8", "1.234.567,80 €", "1.234.567", "80")
	f("IT", "19.9", "19,90 €", "19", "90")
	f("ES", "549.99", "549,99 €", "549", "99")
	f("NL", "84.99", "84,99 €", "84", "99")
	f("BE", "1229.00", "1.229,00 €", "1.229", "00")
	f("PL", "1399.00", "1.399,00 zł", "1.399", "00")
	f("JP", "12800", "￥12,800", "12,800", "")
	f("JP", "37980.00", "￥37,980", "37,980", "")
}

// shownPrice is how a person reads testCatalog's prices on each Amazon
// domain, written by hand: the page tests must not take their expectation
// from formatAmazonPrice, the renderer under test.
func shownPrice(t *testing.T, region, price string) string {
	t.Helper()
	euro := func(s string) string { return s + " €" }
	shown := map[string]map[string]string{
		"1234.56": {"USA": "$1,234.56", "CA": "CDN$ 1,234.56", "UK": "£1,234.56", "AU": "A$1,234.56",
			"DE": euro("1.234,56"), "FR": euro("1.234,56"), "IT": euro("1.234,56"), "ES": euro("1.234,56"),
			"NL": euro("1.234,56"), "BE": euro("1.234,56"), "PL": "1.234,56 zł"},
		"12800": {"JP": "￥12,800"},
		"45.00": {"USA": "$45.00", "CA": "CDN$ 45.00", "UK": "£45.00", "AU": "A$45.00",
			"DE": euro("45,00"), "FR": euro("45,00"), "IT": euro("45,00"), "ES": euro("45,00"),
			"NL": euro("45,00"), "BE": euro("45,00"), "PL": "45,00 zł", "JP": "￥45"},
		"19.90": {"USA": "$19.90", "CA": "CDN$ 19.90", "UK": "£19.90", "AU": "A$19.90",
			"DE": euro("19,90"), "FR": euro("19,90"), "IT": euro("19,90"), "ES": euro("19,90"),
			"NL": euro("19,90"), "BE": euro("19,90"), "PL": "19,90 zł", "JP": "￥20"},
	}
	want, ok := shown[price][region]
	if !ok {
		t.Fatalf("shownPrice: no hand-written display for %s in %s", price, region)
	}
	return want
}

// splitShown splits a hand-written display price ("1.234,56 €") into the
// whole and fraction parts Amazon renders in separate spans ("1.234",
// "56"); yen prices have no fraction.
func splitShown(shown string) (whole, frac string) {
	num := strings.TrimFunc(shown, func(r rune) bool { return (r < '0' || r > '9') && r != ',' && r != '.' })
	if n := len(num); n > 3 && (num[n-3] == ',' || num[n-3] == '.') {
		return num[:n-3], num[n-2:]
	}
	return num, ""
}

func TestAmazonProductPage(t *testing.T) {
	s := New(Config{Catalog: testCatalog(), Seed: 7})
	base, c := testServer(t, s)
	for _, r := range amazonRegions {
		for _, p := range s.Products() {
			if p.Site != SiteAmazon || p.Region != r.Code {
				continue
			}
			name := r.Code + "/" + p.SKU
			for _, path := range []string{"/dp/" + p.SKU, "/Some-Slug/dp/" + p.SKU + "/ref=sr_1_1", "/gp/product/" + p.SKU} {
				res := get(t, c, base+"/"+r.Domain+path)
				if res.status != 200 {
					t.Fatalf("%s %s: status %d", name, path, res.status)
				}
				if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("%s: content type %q", name, ct)
				}
			}
			res := get(t, c, base+"/"+r.Domain+"/dp/"+p.SKU)
			doc := parseHTML(t, res.body)
			if got := attr(first(doc, "html"), "lang"); got != r.Lang {
				t.Errorf("%s: lang %q, want %q", name, got, r.Lang)
			}
			if got := strings.TrimSpace(textOf(first(doc, "#productTitle"))); got != p.Title {
				t.Errorf("%s: title %q, want %q", name, got, p.Title)
			}
			img := first(doc, "#landingImage")
			if hires := attr(img, "data-old-hires"); !strings.HasPrefix(hires, "https://m.media-amazon.com/images/I/") || !strings.Contains(hires, "_SL1500_") {
				t.Errorf("%s: data-old-hires %q", name, hires)
			}
			var dyn map[string][2]int
			if err := json.Unmarshal([]byte(attr(img, "data-a-dynamic-image")), &dyn); err != nil || len(dyn) == 0 {
				t.Errorf("%s: data-a-dynamic-image %q: %v", name, attr(img, "data-a-dynamic-image"), err)
			}
			// Decoys: the page carries other prices outside the buy box.
			want := shownPrice(t, r.Code, p.Price)
			all := queryAll(doc, ".a-price .a-offscreen")
			if len(all) < 5 {
				t.Errorf("%s: only %d prices on the page, want decoys", name, len(all))
			}
			if textOf(all[0]) == want {
				t.Errorf("%s: the first price on the page is the real one; decoys must come first", name)
			}
			mustContain(t, name, res.body, `id="sims-consolidated-1_feature_div"`, `class="a-carousel"`)

			if p.InStock {
				if got := textOf(first(doc, "#corePrice_feature_div .priceToPay .a-offscreen")); got != want {
					t.Errorf("%s: price to pay %q, want %q", name, got, want)
				}
				whole := textOf(first(doc, "#corePrice_feature_div .priceToPay .a-price-whole"))
				frac := textOf(first(doc, "#corePrice_feature_div .priceToPay .a-price-fraction"))
				wantWhole, wantFrac := splitShown(want)
				if !strings.HasPrefix(whole, wantWhole) || frac != wantFrac {
					t.Errorf("%s: whole/fraction %q %q, want %q %q", name, whole, frac, wantWhole, wantFrac)
				}
				if basis := textOf(first(doc, "#corePrice_feature_div .basisPrice .a-text-price .a-offscreen")); basis == "" || basis == want {
					t.Errorf("%s: list price %q should be a different price", name, basis)
				}
				forms := queryAll(doc, "form#addToCart")
				if len(forms) != 2 {
					t.Fatalf("%s: %d addToCart forms, want 2", name, len(forms))
				}
				for _, f := range forms {
					enc := attr(first(f, `input[name="offerListingID"]`), "value")
					dec, err := url.QueryUnescape(enc)
					if err != nil || dec != p.OfferID {
						t.Errorf("%s: offerListingID %q decodes to %q (%v), want %q", name, enc, dec, err, p.OfferID)
					}
					if enc == p.OfferID {
						t.Errorf("%s: offerListingID is not URL-encoded", name)
					}
					if got := attr(first(f, `input[name="items[0.base][offerListingId]"]`), "value"); got != enc {
						t.Errorf("%s: items[0.base][offerListingId] %q", name, got)
					}
					if got := attr(first(f, `input[name="ASIN"]`), "value"); got != p.SKU {
						t.Errorf("%s: ASIN input %q", name, got)
					}
				}
				merchant := attr(first(doc, "form#addToCart input#merchantID"), "value")
				if p.SoldBy == SoldByAmazon {
					if merchant != r.SellerID {
						t.Errorf("%s: merchant %q, want Amazon's %q", name, merchant, r.SellerID)
					}
					mustContain(t, name, res.body, esc(r.SoldByAmazon))
				} else if merchant == r.SellerID || len(merchant) != 14 {
					t.Errorf("%s: third-party merchant %q", name, merchant)
				}
				if first(doc, "#desktop_buybox #add-to-cart-button") == nil || first(doc, "#desktop_buybox #buy-now-button") == nil {
					t.Errorf("%s: in stock without buy-box buttons", name)
				}
				if got := strings.TrimSpace(textOf(first(doc, "#availability"))); got != r.InStock {
					t.Errorf("%s: availability %q, want %q", name, got, r.InStock)
				}
				mustNotContain(t, name, res.body, `id="outOfStock"`)
			} else {
				if first(doc, "#add-to-cart-button") != nil || first(doc, "#buy-now-button") != nil {
					t.Errorf("%s: out of stock with buy buttons", name)
				}
				if got := strings.TrimSpace(textOf(first(doc, "#outOfStock #availability"))); got != r.Unavailable {
					t.Errorf("%s: availability %q, want %q", name, got, r.Unavailable)
				}
				if got := textOf(first(doc, "#corePrice_feature_div")); got != "" {
					t.Errorf("%s: out of stock with a core price %q", name, got)
				}
				if got := attr(first(doc, `form#addToCart input[name="ASIN"]`), "value"); got != p.SKU {
					t.Errorf("%s: ASIN input %q", name, got)
				}
				mustNotContain(t, name, res.body, `name="offerListingID"`)
			}
		}
	}
}

func TestAmazonSmid(t *testing.T) {
	s := New(Config{Catalog: testCatalog(), Seed: 7})
	base, c := testServer(t, s)
	r, _ := amazonRegionByCode("DE")
	p, _ := s.Product(SiteAmazon, "DE", "B0TESTING1")
	if !p.InStock || p.SoldBy != SoldByAmazon {
		t.Fatalf("fixture changed: %+v", p)
	}
	mine := get(t, c, base+"/www.amazon.de/dp/"+p.SKU+"?smid="+r.SellerID)
	mustContain(t, "smid=amazon", mine.body, `id="add-to-cart-button"`)
	other := get(t, c, base+"/www.amazon.de/dp/"+p.SKU+"?smid=A2JZ0S3QVWQECL")
	mustContain(t, "smid=other", other.body, `id="outOfStock"`)
	mustNotContain(t, "smid=other", other.body, `id="add-to-cart-button"`)
}

func TestAmazonAOD(t *testing.T) {
	s := New(Config{Catalog: testCatalog(), Seed: 7})
	base, c := testServer(t, s)
	for _, r := range amazonRegions {
		for _, p := range s.Products() {
			if p.Site != SiteAmazon || p.Region != r.Code {
				continue
			}
			name := r.Code + "/" + p.SKU
			for _, path := range []string{
				"/gp/product/ajax/ref=dp_aod_ALL_mbc?asin=" + p.SKU + "&pc=dp&experienceId=aodAjaxMain",
				"/gp/aod/ajax?asin=" + p.SKU,
			} {
				res := get(t, c, base+"/"+r.Domain+path)
				if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
					t.Fatalf("%s %s: %d %s", name, path, res.status, res.header.Get("Content-Type"))
				}
				doc := parseHTML(t, res.body)
				pinned := first(doc, "#aod-pinned-offer")
				offers := queryAll(doc, "#aod-offer")
				if !p.InStock {
					if pinned != nil || len(offers) != 0 {
						t.Errorf("%s: out of stock but offers shown", name)
					}
					if got := attr(first(doc, "#aod-total-offer-count"), "value"); got != "0" {
						t.Errorf("%s: offer count %q", name, got)
					}
					continue
				}
				if pinned == nil {
					t.Fatalf("%s: no pinned offer", name)
				}
				enc := attr(first(pinned, `input[name="offeringID.1"]`), "value")
				if dec, err := url.QueryUnescape(enc); err != nil || dec != p.OfferID {
					t.Errorf("%s: offeringID.1 %q → %q, want %q", name, enc, dec, p.OfferID)
				}
				var atc struct{ OID, ASIN string }
				if err := json.Unmarshal([]byte(attr(first(pinned, `span[data-action="aod-atc-action"]`), "data-aod-atc-action")), &atc); err != nil || atc.OID != p.OfferID || atc.ASIN != p.SKU {
					t.Errorf("%s: data-aod-atc-action %+v (%v)", name, atc, err)
				}
				if got := attr(first(pinned, "#ftSelectAsin"), "value"); got != p.SKU {
					t.Errorf("%s: ftSelectAsin %q", name, got)
				}
				merchant := attr(first(pinned, "#ftSelectMerchant"), "value")
				if want := textOf(first(pinned, ".a-price .a-offscreen")); want != shownPrice(t, r.Code, p.Price) {
					t.Errorf("%s: pinned price %q", name, want)
				}
				if p.SoldBy == SoldByAmazon {
					if merchant != r.SellerID || len(offers) != 1 {
						t.Errorf("%s: merchant %q with %d extra offers", name, merchant, len(offers))
					}
					if len(offers) == 1 {
						if m := attr(first(offers[0], "#ftSelectMerchant"), "value"); m == r.SellerID {
							t.Errorf("%s: extra offer is Amazon's", name)
						}
					}
				} else if merchant == r.SellerID || len(offers) != 0 {
					t.Errorf("%s: third-party merchant %q with %d extra offers", name, merchant, len(offers))
				}
			}
			page2 := get(t, c, base+"/"+r.Domain+"/gp/aod/ajax?asin="+p.SKU+"&pageno=2")
			mustNotContain(t, name+" page 2", page2.body, "aod-pinned-offer", `id="aod-offer"`)
		}
	}
}

func TestSellerIDOverride(t *testing.T) {
	s := New(Config{Catalog: testCatalog(), Seed: 7, SellerIDs: map[string]string{"PL": "A1TESTPLSELLER", "XX": "A1", "BE": "lower"}})
	h := s.Handler()
	for _, tc := range []struct{ path, want string }{
		{"/www.amazon.pl/dp/B0TESTINK1", `name="merchantID" value="A1TESTPLSELLER"`},
		{"/www.amazon.pl/gp/aod/ajax?asin=B0TESTINK1", `id="ftSelectMerchant" name="merchantID" value="A1TESTPLSELLER"`},
		{"/www.amazon.com.be/dp/B0TESTINJ1", `name="merchantID" value="A3Q3FYJVX702M2"`}, // invalid override ignored
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		mustContain(t, tc.path, rec.Body.String(), tc.want)
	}
	err := Config{SellerIDs: map[string]string{"XX": "A1TESTPLSELLER", "BE": "lower"}}.Validate()
	if err == nil || !strings.Contains(err.Error(), `sellerIds: region "XX"`) || !strings.Contains(err.Error(), `sellerIds.BE: "lower"`) {
		t.Errorf("validate: %v", err)
	}
}
