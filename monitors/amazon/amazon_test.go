package amazon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// fakeFetcher serves canned responses by URL and records the requests.
type fakeFetcher struct {
	mu     sync.Mutex
	routes map[string]fakeResp
	reqs   []*monitors.Request
}

type fakeResp struct {
	status int
	file   string // testdata file
	body   string // used when file is empty
	err    error
}

func (f *fakeFetcher) Fetch(ctx context.Context, req *monitors.Request) (*monitors.Response, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	r, ok := f.routes[req.URL]
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !ok {
		return &monitors.Response{Status: 404, Body: []byte("<html><body>not found</body></html>"), URL: req.URL}, nil
	}
	if r.err != nil {
		return nil, r.err
	}
	body := []byte(r.body)
	if r.file != "" {
		var err error
		if body, err = os.ReadFile(filepath.Join("testdata", r.file)); err != nil {
			return nil, err
		}
	}
	status := r.status
	if status == 0 {
		status = 200
	}
	return &monitors.Response{Status: status, Body: body, URL: req.URL}, nil
}

const testOrigin = "http://127.0.0.1:9000/www.amazon.test"

func dpURL(asin string) string { return testOrigin + "/dp/" + asin }
func aodURL(asin string) string {
	return testOrigin + "/gp/product/ajax/ref=dp_aod_ALL_mbc?asin=" + asin + "&pc=dp&experienceId=aodAjaxMain"
}

func TestCheck(t *testing.T) {
	usaOffer := offerIDFor("USA")
	tests := []struct {
		name   string
		target monitors.Target
		routes map[string]fakeResp

		outcome  monitors.Outcome
		reason   string // substring of Reason
		offerID  string
		merchant string
		price    string
		requests int
	}{
		{
			name:    "in stock sold by amazon, any merchant",
			target:  monitors.Target{Region: "USA", SKU: "B0US000100"},
			routes:  map[string]fakeResp{dpURL("B0US000100"): {file: "product-USA-instock-amazon.html"}},
			outcome: monitors.InStock, offerID: usaOffer, merchant: "ATVPDKIKX0DER", price: "35.99", requests: 1,
		},
		{
			name:    "in stock, merchant amazon, under max price",
			target:  monitors.Target{Region: "USA", SKU: "B0US000100", Merchant: "amazon", MaxPrice: 40},
			routes:  map[string]fakeResp{dpURL("B0US000100"): {file: "product-USA-instock-amazon.html"}},
			outcome: monitors.InStock, offerID: usaOffer, merchant: "ATVPDKIKX0DER", price: "35.99", requests: 1,
		},
		{
			name:    "JP in stock, merchant amazon",
			target:  monitors.Target{Region: "JP", SKU: "B0JP000107", Merchant: "amazon"},
			routes:  map[string]fakeResp{dpURL("B0JP000107"): {file: "product-JP-instock-amazon.html"}},
			outcome: monitors.InStock, offerID: offerIDFor("JP"), merchant: "AN1VRQENFRJN5", price: "12800", requests: 1,
		},
		{
			name:   "buy box fails exact merchant filter, AOD has it",
			target: monitors.Target{Region: "USA", SKU: "B0US000100", Merchant: "A2JZ0S3QVWQECL"},
			routes: map[string]fakeResp{
				dpURL("B0US000100"):  {file: "product-USA-instock-amazon.html"},
				aodURL("B0US000100"): {file: "aod-USA-offers.html"},
			},
			outcome: monitors.InStock, offerID: offerIDFor("AODUSA2"), merchant: "A2JZ0S3QVWQECL", price: "33.50", requests: 2,
		},
		{
			name:   "over max price in buy box, cheaper AOD offer",
			target: monitors.Target{Region: "USA", SKU: "B0US000100", MaxPrice: 32},
			routes: map[string]fakeResp{
				dpURL("B0US000100"):  {file: "product-USA-instock-amazon.html"},
				aodURL("B0US000100"): {file: "aod-USA-offers.html"},
			},
			outcome: monitors.InStock, offerID: offerIDFor("AODUSA3"), merchant: "A1Q2W3E4R5T6Y7", price: "31.00", requests: 2,
		},
		{
			name:   "everything over max price",
			target: monitors.Target{Region: "USA", SKU: "B0US000100", MaxPrice: 20},
			routes: map[string]fakeResp{
				dpURL("B0US000100"):  {file: "product-USA-instock-amazon.html"},
				aodURL("B0US000100"): {file: "aod-USA-offers.html"},
			},
			outcome: monitors.OutOfStock, reason: "over maxPrice 20", requests: 2,
		},
		{
			name:    "third-party buy box, merchant any",
			target:  monitors.Target{Region: "FR", SKU: "B0FR3P0001"},
			routes:  map[string]fakeResp{dpURL("B0FR3P0001"): {file: "product-FR-thirdparty.html"}},
			outcome: monitors.InStock, offerID: offerIDFor("FR3P"), merchant: "A1B2C3D4E5F6G7", price: "1189.00", requests: 1,
		},
		{
			name:   "third party only under merchant amazon",
			target: monitors.Target{Region: "FR", SKU: "B0FR3P0001", Merchant: "amazon"},
			routes: map[string]fakeResp{
				dpURL("B0FR3P0001"):  {file: "product-FR-thirdparty.html"},
				aodURL("B0FR3P0001"): {file: "aod-FR-thirdparty.html"},
			},
			outcome: monitors.OutOfStock, reason: "third party", requests: 2,
		},
		{
			name:   "no buy box, amazon offer in AOD",
			target: monitors.Target{Region: "UK", SKU: "B0UKNOBB01", Merchant: "amazon"},
			routes: map[string]fakeResp{
				dpURL("B0UKNOBB01"):  {file: "product-UK-nobuybox.html"},
				aodURL("B0UKNOBB01"): {file: "aod-UK-amazon.html"},
			},
			outcome: monitors.InStock, offerID: offerIDFor("AODUK2"), merchant: "A3P5ROKL5A1OLE", price: "449.99", requests: 2,
		},
		{
			name:    "out of stock without other sellers: no AOD request",
			target:  monitors.Target{Region: "DE", SKU: "B0DEOOS001"},
			routes:  map[string]fakeResp{dpURL("B0DEOOS001"): {file: "product-DE-outofstock.html"}},
			outcome: monitors.OutOfStock, reason: "out of stock", requests: 1,
		},
		{
			name:   "out of stock with other sellers, AOD empty",
			target: monitors.Target{Region: "IT", SKU: "B0ITOOS001"},
			routes: map[string]fakeResp{
				dpURL("B0ITOOS001"):  {file: "product-IT-outofstock-othersellers.html"},
				aodURL("B0ITOOS001"): {file: "aod-ES-empty.html"},
			},
			outcome: monitors.OutOfStock, reason: "no offers", requests: 2,
		},
		{
			name:   "button without offer id falls back to AOD",
			target: monitors.Target{Region: "AU", SKU: "B0AUNOID01"},
			routes: map[string]fakeResp{
				dpURL("B0AUNOID01"):  {file: "product-AU-no-offerid.html"},
				aodURL("B0AUNOID01"): {file: "aod-ES-empty.html"},
			},
			outcome: monitors.OutOfStock, reason: "buy button without offerListingID", requests: 2,
		},
		{
			name:    "captcha is blocked",
			target:  monitors.Target{Region: "DE", SKU: "B0DE000106"},
			routes:  map[string]fakeResp{dpURL("B0DE000106"): {file: "captcha-de.html"}},
			outcome: monitors.Blocked, reason: "captcha", requests: 1,
		},
		{
			name:    "503 automated access is blocked",
			target:  monitors.Target{Region: "USA", SKU: "B0US000100"},
			routes:  map[string]fakeResp{dpURL("B0US000100"): {status: 503, file: "blocked-503.html"}},
			outcome: monitors.Blocked, reason: "automated-access", requests: 1,
		},
		{
			name:    "dogs of amazon is blocked",
			target:  monitors.Target{Region: "USA", SKU: "B0US000100"},
			routes:  map[string]fakeResp{dpURL("B0US000100"): {status: 500, file: "dogs-of-amazon.html"}},
			outcome: monitors.Blocked, reason: "Dogs of Amazon", requests: 1,
		},
		{
			name:    "429 is blocked",
			target:  monitors.Target{Region: "USA", SKU: "B0US000100"},
			routes:  map[string]fakeResp{dpURL("B0US000100"): {status: 429}},
			outcome: monitors.Blocked, reason: "HTTP 429", requests: 1,
		},
		{
			name:   "captcha on the AOD request is blocked",
			target: monitors.Target{Region: "UK", SKU: "B0UKNOBB01"},
			routes: map[string]fakeResp{
				dpURL("B0UKNOBB01"):  {file: "product-UK-nobuybox.html"},
				aodURL("B0UKNOBB01"): {file: "captcha-en-gb.html"},
			},
			outcome: monitors.Blocked, reason: "offers: captcha", requests: 2,
		},
		{
			name:   "AOD 500 is an error, not out of stock",
			target: monitors.Target{Region: "UK", SKU: "B0UKNOBB01"},
			routes: map[string]fakeResp{
				dpURL("B0UKNOBB01"):  {file: "product-UK-nobuybox.html"},
				aodURL("B0UKNOBB01"): {status: 500, body: "oops"},
			},
			outcome: monitors.Error, reason: "offers: HTTP 500", requests: 2,
		},
		{
			name:   "AOD not a fragment is an unknown layout",
			target: monitors.Target{Region: "UK", SKU: "B0UKNOBB01"},
			routes: map[string]fakeResp{
				dpURL("B0UKNOBB01"):  {file: "product-UK-nobuybox.html"},
				aodURL("B0UKNOBB01"): {body: "<html><body>hello</body></html>"},
			},
			outcome: monitors.UnknownLayout, reason: "not an offers fragment", requests: 2,
		},
		{
			name:   "AOD truncated is an error, not out of stock",
			target: monitors.Target{Region: "USA", SKU: "B0US000100", Merchant: "A2JZ0S3QVWQECL"},
			routes: map[string]fakeResp{
				dpURL("B0US000100"):  {file: "product-USA-instock-amazon.html"},
				aodURL("B0US000100"): {file: "aod-USA-truncated.html"},
			},
			outcome: monitors.Error, reason: "truncated", requests: 2,
		},
		{
			name:   "AOD variant is an error",
			target: monitors.Target{Region: "JP", SKU: "B0JP000107", Merchant: "A2JZ0S3QVWQECL"},
			routes: map[string]fakeResp{
				dpURL("B0JP000107"):  {file: "product-JP-instock-amazon.html"},
				aodURL("B0JP000107"): {file: "aod-JP-variant.html"},
			},
			outcome: monitors.Error, reason: "variant redirect", requests: 2,
		},
		{
			name:    "variant redirect is an error",
			target:  monitors.Target{Region: "USA", SKU: "B0USVAR001"},
			routes:  map[string]fakeResp{dpURL("B0USVAR001"): {file: "product-USA-variant.html"}},
			outcome: monitors.Error, reason: "variant redirect", requests: 1,
		},
		{
			name:    "truncated page is an error",
			target:  monitors.Target{Region: "USA", SKU: "B0USTRUNC1"},
			routes:  map[string]fakeResp{dpURL("B0USTRUNC1"): {file: "product-USA-truncated.html"}},
			outcome: monitors.Error, reason: "truncated", requests: 1,
		},
		{
			name:    "404 is an error",
			target:  monitors.Target{Region: "USA", SKU: "B0NOTFOUND"},
			routes:  map[string]fakeResp{},
			outcome: monitors.Error, reason: "HTTP 404", requests: 1,
		},
		{
			name:    "fetch error is an error",
			target:  monitors.Target{Region: "USA", SKU: "B0US000100"},
			routes:  map[string]fakeResp{dpURL("B0US000100"): {err: errors.New("proxy refused")}},
			outcome: monitors.Error, reason: "proxy refused", requests: 1,
		},
		{
			name:    "invalid target is an error without requests",
			target:  monitors.Target{Region: "US", SKU: "B0US000100"},
			outcome: monitors.Error, reason: `region: "US"`, requests: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			tt.target.Site = "amazon"
			tt.target.BaseURL = testOrigin
			f := &fakeFetcher{routes: tt.routes}
			obs := m.Check(context.Background(), &tt.target, f)
			if obs.Outcome != tt.outcome || !strings.Contains(obs.Reason, tt.reason) {
				t.Fatalf("outcome = %s (%q), want %s (%q)", obs.Outcome, obs.Reason, tt.outcome, tt.reason)
			}
			if len(f.reqs) != tt.requests {
				t.Errorf("%d requests, want %d", len(f.reqs), tt.requests)
			}
			if obs.StellarSite != "amazon" || obs.Region != tt.target.Region {
				t.Errorf("site/region = %q/%q", obs.StellarSite, obs.Region)
			}
			if tt.outcome != monitors.InStock {
				if len(obs.Offers) != 0 {
					t.Errorf("offers on %s: %+v", obs.Outcome, obs.Offers)
				}
				return
			}
			if len(obs.Offers) != 1 {
				t.Fatalf("offers = %+v", obs.Offers)
			}
			o := obs.Offers[0]
			if o.SKU != tt.target.SKU || o.OfferID != tt.offerID || o.Merchant != tt.merchant || o.Price != tt.price {
				t.Errorf("offer = %+v\nwant offerID %s merchant %s price %s", o, tt.offerID, tt.merchant, tt.price)
			}
			r, _ := Region(tt.target.Region)
			if o.SoldByRetailer != r.IsAmazon(o.Merchant) || o.Currency != r.Currency {
				t.Errorf("soldByRetailer/currency = %v/%q", o.SoldByRetailer, o.Currency)
			}
			if !strings.HasPrefix(o.URL, "https://"+r.Domain+"/dp/"+tt.target.SKU) {
				t.Errorf("URL = %q", o.URL)
			}
			// The offer makes a ping Stellar accepts.
			p := stellar.Ping{Site: obs.StellarSite, Region: obs.Region, SKU: o.SKU, OfferID: o.OfferID,
				Details: &stellar.Details{ProductTitle: o.Title, ProductImage: o.Image, ProductPrice: o.Price}}
			if err := (stellar.Rules{}).Validate(&p); err != nil {
				t.Errorf("ping invalid: %v", err)
			}
		})
	}
}

// Requests go to BaseURL + path (BaseURL may carry a path, as the
// simulator's does), with the region's Accept-Language.
func TestCheckRequests(t *testing.T) {
	const base = "http://127.0.0.1:9000/www.amazon.co.uk/"
	f := &fakeFetcher{routes: map[string]fakeResp{
		"http://127.0.0.1:9000/www.amazon.co.uk/dp/B0UKNOBB01":                                                                     {file: "product-UK-nobuybox.html"},
		"http://127.0.0.1:9000/www.amazon.co.uk/gp/product/ajax/ref=dp_aod_ALL_mbc?asin=B0UKNOBB01&pc=dp&experienceId=aodAjaxMain": {file: "aod-UK-amazon.html"},
	}}
	tgt := monitors.Target{Site: "amazon", Region: "UK", SKU: "B0UKNOBB01", BaseURL: base, StellarSite: "amazon-eu"}
	obs := New().Check(context.Background(), &tgt, f)
	if obs.Outcome != monitors.InStock || obs.StellarSite != "amazon-eu" {
		t.Fatalf("obs = %+v", obs)
	}
	if len(f.reqs) != 2 {
		t.Fatalf("requests = %d", len(f.reqs))
	}
	for _, r := range f.reqs {
		if r.Method != "GET" || r.Region != "UK" || r.Header.Get("Accept-Language") != "en-GB,en;q=0.9" {
			t.Errorf("request %+v", r)
		}
	}
	// Without BaseURL the real storefront is used.
	f = &fakeFetcher{}
	tgt = monitors.Target{Site: "amazon", Region: "DE", SKU: "B0DE000106"}
	New().Check(context.Background(), &tgt, f)
	if len(f.reqs) != 1 || f.reqs[0].URL != "https://www.amazon.de/dp/B0DE000106" {
		t.Errorf("requests = %+v", f.reqs)
	}
}

func TestCheckCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := &fakeFetcher{}
	tgt := monitors.Target{Region: "USA", SKU: "B0US000100"}
	obs := New().Check(ctx, &tgt, f)
	if obs.Outcome != monitors.Error || !strings.Contains(obs.Reason, "canceled") || len(f.reqs) != 0 {
		t.Errorf("obs = %+v, %d requests", obs, len(f.reqs))
	}
}

func TestRegistered(t *testing.T) {
	m, err := monitors.New("amazon")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(monitors.TargetValidator); !ok {
		t.Error("registered monitor does not validate targets")
	}
}

func TestValidateTarget(t *testing.T) {
	m := New().(*Monitor)
	ok := monitors.Target{Region: "USA", SKU: "B0DR8G428S"}
	tests := []struct {
		name  string
		edit  func(*monitors.Target)
		field string // "" = valid
	}{
		{"valid", func(*monitors.Target) {}, ""},
		{"merchant any", func(t *monitors.Target) { t.Merchant = "any" }, ""},
		{"merchant amazon", func(t *monitors.Target) { t.Merchant = "amazon" }, ""},
		{"merchant id", func(t *monitors.Target) { t.Merchant = "A2JZ0S3QVWQECL" }, ""},
		{"base url with path", func(t *monitors.Target) { t.BaseURL = "http://127.0.0.1:9000/www.amazon.de" }, ""},
		{"region US", func(t *monitors.Target) { t.Region = "US" }, `region: "US" is not one of USA, CA, UK, NL, FR, IT, DE, JP, ES, BE, PL, AU`},
		{"region empty", func(t *monitors.Target) { t.Region = "" }, "region:"},
		{"sku lower", func(t *monitors.Target) { t.SKU = "b0dr8g428s" }, "sku:"},
		{"sku short", func(t *monitors.Target) { t.SKU = "B0DR8G" }, "sku:"},
		{"merchant bad", func(t *monitors.Target) { t.Merchant = "Amazon.com" }, "merchant:"},
		{"max price negative", func(t *monitors.Target) { t.MaxPrice = -1 }, "maxPrice:"},
		{"base url relative", func(t *monitors.Target) { t.BaseURL = "/www.amazon.de" }, "baseURL:"},
		{"base url ftp", func(t *monitors.Target) { t.BaseURL = "ftp://x" }, "baseURL:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tgt := ok
			tt.edit(&tgt)
			err := monitors.Validate(m, &tgt)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			// The field is data, not text to parse: config places it.
			fe := monitors.FieldErrors(err)
			if len(fe) != 1 || !strings.HasPrefix(fe[0].Error(), tt.field) || fe[0].Path != strings.TrimSuffix(strings.SplitN(tt.field, ":", 2)[0], ":") {
				t.Fatalf("err = %v (%+v), want one field error with prefix %q", err, fe, tt.field)
			}
		})
	}
}

func TestNewMonitorSellerIDs(t *testing.T) {
	m, err := NewMonitor(Config{SellerIDs: map[string][]string{"PL": {"A1PLNEWSELLER1", "A2R2221NX79QZP"}}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := m.Region("PL")
	if r.SellerID != "A1PLNEWSELLER1" || !r.IsAmazon("A2R2221NX79QZP") || r.IsAmazon("ATVPDKIKX0DER") {
		t.Errorf("PL = %+v", r)
	}
	if def, _ := Region("PL"); def.SellerID != "A2R2221NX79QZP" {
		t.Error("override leaked into the package table")
	}
	for _, cfg := range []Config{
		{SellerIDs: map[string][]string{"XX": {"A1PLNEWSELLER1"}}},
		{SellerIDs: map[string][]string{"PL": {}}},
		{SellerIDs: map[string][]string{"PL": {"bad id"}}},
	} {
		if _, err := NewMonitor(cfg); err == nil || !strings.Contains(err.Error(), "sellerIds") {
			t.Errorf("NewMonitor(%v) err = %v", cfg, err)
		}
	}
	// An override changes what merchant "amazon" accepts.
	m, _ = NewMonitor(Config{SellerIDs: map[string][]string{"FR": {"A1B2C3D4E5F6G7"}}})
	f := &fakeFetcher{routes: map[string]fakeResp{dpURL("B0FR3P0001"): {file: "product-FR-thirdparty.html"}}}
	tgt := monitors.Target{Region: "FR", SKU: "B0FR3P0001", Merchant: "amazon", BaseURL: testOrigin}
	if obs := m.Check(context.Background(), &tgt, f); obs.Outcome != monitors.InStock || !obs.Offers[0].SoldByRetailer {
		t.Errorf("obs = %+v", obs)
	}
}

// Every region's in-stock page, through Check, yields a ping Stellar takes.
func TestCheckEveryRegion(t *testing.T) {
	m := New()
	for i, r := range regionTable {
		spec := productSpecs()[i]
		t.Run(r.Code, func(t *testing.T) {
			f := &fakeFetcher{routes: map[string]fakeResp{dpURL(spec.ASIN): {file: spec.Name + ".html"}}}
			tgt := monitors.Target{Site: "amazon", Region: r.Code, SKU: spec.ASIN, Merchant: "amazon", BaseURL: testOrigin}
			obs := m.Check(context.Background(), &tgt, f)
			if obs.Outcome != monitors.InStock || len(obs.Offers) != 1 {
				t.Fatalf("obs = %+v", obs)
			}
			o := obs.Offers[0]
			if o.OfferID != spec.OfferID || o.Price != spec.Price || !o.SoldByRetailer || o.Merchant != r.SellerID || o.Title != spec.Title {
				t.Errorf("offer = %+v", o)
			}
			p := stellar.Ping{Site: obs.StellarSite, Region: obs.Region, SKU: o.SKU, OfferID: o.OfferID,
				Details: &stellar.Details{ProductTitle: o.Title, ProductImage: o.Image, ProductPrice: o.Price}}
			if err := (stellar.Rules{}).Validate(&p); err != nil {
				t.Errorf("ping invalid: %v", err)
			}
		})
	}
}
