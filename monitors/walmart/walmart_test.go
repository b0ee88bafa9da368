package walmart

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

func TestRegistered(t *testing.T) {
	m, err := monitors.New(Site)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(monitors.TargetValidator); !ok {
		t.Error("walmart monitor does not validate targets")
	}
}

func TestCheck(t *testing.T) {
	usaIn := testutil.Testdata(t, "usa-instock-walmart.html")
	usa3P := testutil.Testdata(t, "usa-thirdparty.html")
	caIn := testutil.Testdata(t, "ca-instock-walmart.html")
	ca3P := testutil.Testdata(t, "ca-thirdparty.html")
	noPrice := bytes.Replace(bytes.Replace(usaIn, []byte(`"price":19.93`), []byte(`"price":null`), 1), []byte(`"priceString":"$19.93"`), []byte(`"priceString":""`), 1)

	usa := func(sku string) monitors.Target { return monitors.Target{Site: Site, Region: RegionUSA, SKU: sku} }
	ca := func(sku string) monitors.Target { return monitors.Target{Site: Site, Region: RegionCA, SKU: sku} }
	with := func(tg monitors.Target, fn func(*monitors.Target)) monitors.Target { fn(&tg); return tg }
	ok200 := func(body []byte) *monitors.Response { return &monitors.Response{Status: 200, Body: body} }

	tests := []struct {
		name     string
		target   monitors.Target
		resp     *monitors.Response
		err      error
		want     monitors.Outcome
		reason   string // substring of Reason
		wantURL  string
		wantSite string
	}{
		{name: "usa in stock, any merchant", target: usa("5113183757"), resp: ok200(usaIn), want: monitors.InStock,
			wantURL: "https://www.walmart.com/ip/5113183757", wantSite: "walmart"},
		{name: "usa walmart filter passes", target: with(usa("5113183757"), func(t *monitors.Target) { t.Merchant = "walmart" }), resp: ok200(usaIn), want: monitors.InStock},
		{name: "usa walmart filter drops third party", target: with(usa("13816151308"), func(t *monitors.Target) { t.Merchant = "Walmart" }), resp: ok200(usa3P), want: monitors.OutOfStock, reason: "not Walmart"},
		{name: "usa seller id filter matches", target: with(usa("13816151308"), func(t *monitors.Target) { t.Merchant = "101188231" }), resp: ok200(usa3P), want: monitors.InStock},
		{name: "usa seller id filter mismatch", target: with(usa("5113183757"), func(t *monitors.Target) { t.Merchant = "101188231" }), resp: ok200(usaIn), want: monitors.OutOfStock, reason: "not seller 101188231"},
		{name: "max price above", target: with(usa("5113183757"), func(t *monitors.Target) { t.MaxPrice = 20 }), resp: ok200(usaIn), want: monitors.InStock},
		{name: "max price equal", target: with(usa("5113183757"), func(t *monitors.Target) { t.MaxPrice = 19.93 }), resp: ok200(usaIn), want: monitors.InStock},
		{name: "max price below", target: with(usa("5113183757"), func(t *monitors.Target) { t.MaxPrice = 19.5 }), resp: ok200(usaIn), want: monitors.OutOfStock, reason: "above maxPrice 19.5"},
		{name: "max price and no price", target: with(usa("5113183757"), func(t *monitors.Target) { t.MaxPrice = 100 }), resp: ok200(noPrice), want: monitors.OutOfStock, reason: "no price"},
		{name: "no price, no cap", target: usa("5113183757"), resp: ok200(noPrice), want: monitors.InStock},
		{name: "usa out of stock", target: usa("5089212491"), resp: ok200(testutil.Testdata(t, "usa-oos.html")), want: monitors.OutOfStock, reason: "OUT_OF_STOCK"},
		{name: "ca in stock, walmart filter by name", target: with(ca("6000203458791"), func(t *monitors.Target) { t.Merchant = "walmart" }), resp: ok200(caIn), want: monitors.InStock,
			wantURL: "https://www.walmart.ca/en/ip/6000203458791", wantSite: "walmartca"},
		{name: "ca walmart filter drops third party", target: with(ca("2RP4NDX6W8YA"), func(t *monitors.Target) { t.Merchant = "walmart" }), resp: ok200(ca3P), want: monitors.OutOfStock, reason: "not Walmart"},
		{name: "ca third party any", target: ca("2RP4NDX6W8YA"), resp: ok200(ca3P), want: monitors.InStock},
		{name: "ca sku case-insensitive", target: ca("2rp4ndx6w8ya"), resp: ok200(ca3P), want: monitors.InStock, wantURL: "https://www.walmart.ca/en/ip/2rp4ndx6w8ya"},
		{name: "ca fulfillment out", target: ca("6JW7MWS0LXB5"), resp: ok200(testutil.Testdata(t, "ca-oos-fulfillment.html")), want: monitors.OutOfStock},
		{name: "stellar site override", target: with(ca("6000203458791"), func(t *monitors.Target) { t.StellarSite = "walmart-canada" }), resp: ok200(caIn), want: monitors.InStock, wantSite: "walmart-canada"},
		{name: "base url with path", target: with(usa("5113183757"), func(t *monitors.Target) { t.BaseURL = "http://127.0.0.1:9000/www.walmart.com/" }), resp: ok200(usaIn), want: monitors.InStock,
			wantURL: "http://127.0.0.1:9000/www.walmart.com/ip/5113183757"},
		{name: "blocked redirect", target: usa("5113183757"), resp: &monitors.Response{Status: 200, Body: testutil.Testdata(t, "blocked-redirect.html"), URL: "https://www.walmart.com/blocked?url=L2lw"}, want: monitors.Blocked, reason: "/blocked"},
		{name: "robot or human", target: usa("5113183757"), resp: ok200(testutil.Testdata(t, "robot-or-human.html")), want: monitors.Blocked},
		{name: "px captcha", target: usa("5113183757"), resp: ok200(testutil.Testdata(t, "px-captcha.html")), want: monitors.Blocked},
		{name: "access denied", target: ca("6000203458791"), resp: &monitors.Response{Status: 403, Body: testutil.Testdata(t, "access-denied.html")}, want: monitors.Blocked, reason: "403"},
		{name: "429", target: usa("5113183757"), resp: &monitors.Response{Status: 429}, want: monitors.Blocked},
		{name: "no next data", target: usa("5113183757"), resp: ok200(testutil.Testdata(t, "no-next-data.html")), want: monitors.UnknownLayout, reason: "no __NEXT_DATA__"},
		{name: "truncated", target: usa("5113183757"), resp: ok200(testutil.Testdata(t, "truncated-json.html")), want: monitors.Error, reason: "truncated"},
		{name: "404", target: usa("9999999999"), resp: &monitors.Response{Status: 404, Body: testutil.Testdata(t, "usa-not-found.html")}, want: monitors.Error, reason: "HTTP 404"},
		{name: "503 error page", target: usa("5113183757"), resp: &monitors.Response{Status: 503, Body: []byte("<html>Service Unavailable</html>")}, want: monitors.Error, reason: "HTTP 503"},
		{name: "other item on the page", target: usa("123"), resp: ok200(usaIn), want: monitors.Error, reason: "not 123"},
		{name: "fetch error", target: usa("5113183757"), err: errors.New("proxy refused"), want: monitors.Error, reason: "proxy refused"},
		{name: "nil response", target: usa("5113183757"), want: monitors.Error, reason: "no response"},
		{name: "invalid target", target: monitors.Target{Site: Site, Region: "US", SKU: "1"}, want: monitors.Error, reason: "region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeFetcher{resp: tt.resp, err: tt.err}
			if tt.resp == nil && tt.err == nil {
				f.err = nil
			}
			var fetcher monitors.Fetcher = f
			if tt.name == "nil response" {
				fetcher = nilFetcher{}
			}
			tg := tt.target
			obs := New().Check(context.Background(), &tg, fetcher)
			if obs.Outcome != tt.want {
				t.Fatalf("outcome %v (%s), want %v", obs.Outcome, obs.Reason, tt.want)
			}
			if !strings.Contains(obs.Reason, tt.reason) {
				t.Errorf("reason %q does not mention %q", obs.Reason, tt.reason)
			}
			if obs.Region != "" {
				t.Errorf("region %q: Walmart pings carry none", obs.Region)
			}
			if tt.wantSite != "" && obs.StellarSite != tt.wantSite {
				t.Errorf("stellar site %q, want %q", obs.StellarSite, tt.wantSite)
			}
			if tt.wantURL != "" && (len(f.reqs) != 1 || f.reqs[0].URL != tt.wantURL) {
				t.Errorf("requests %+v, want one GET %s", f.reqs, tt.wantURL)
			}
			if len(f.reqs) == 1 && f.reqs[0].Region != tg.Region {
				t.Errorf("request region %q", f.reqs[0].Region)
			}
			if (obs.Outcome == monitors.InStock) != (len(obs.Offers) > 0) {
				t.Fatalf("outcome %v with %d offers", obs.Outcome, len(obs.Offers))
			}
			for _, o := range obs.Offers {
				checkOffer(t, obs.StellarSite, o)
				if tt.wantURL != "" && o.URL != tt.wantURL {
					t.Errorf("offer URL %q", o.URL)
				}
			}
		})
	}
}

type nilFetcher struct{}

func (nilFetcher) Fetch(context.Context, *monitors.Request) (*monitors.Response, error) {
	return nil, nil
}

// checkOffer asserts the offer makes a ping Stellar accepts.
func checkOffer(t *testing.T, site string, o monitors.Offer) {
	t.Helper()
	if !IsOfferID(o.OfferID) {
		t.Errorf("offer id %q is not 32 upper-case hex", o.OfferID)
	}
	p := stellar.Ping{Site: site, SKU: o.SKU, OfferID: o.OfferID,
		Details: &stellar.Details{ProductTitle: o.Title, ProductImage: o.Image, ProductPrice: o.Price}}
	if err := (stellar.Rules{OfferIDSites: []string{site}}).Validate(&p); err != nil {
		t.Errorf("offer %+v makes an invalid ping: %v", o, err)
	}
}

func TestCheckOfferFields(t *testing.T) {
	f := &fakeFetcher{resp: &monitors.Response{Status: 200, Body: testutil.Testdata(t, "usa-thirdparty.html")}}
	obs := New().Check(context.Background(), &monitors.Target{Region: RegionUSA, SKU: "13816151308"}, f)
	if obs.Outcome != monitors.InStock {
		t.Fatalf("%v: %s", obs.Outcome, obs.Reason)
	}
	want := monitors.Offer{
		SKU: "13816151308", OfferID: "7C4B6E2A9D1F4E0B8A3C5D7E9F1A2B3C",
		Title: "Pokemon Trading Card Game: Scarlet & Violet Prismatic Evolutions Elite Trainer Box",
		// thumbnailUrl is empty: allImages[0], protocol-relative, gets https.
		Image: "https://i5.walmartimages.com/seo/Pokemon-TCG-Scarlet-Violet-Prismatic-Evolutions-Elite-Trainer-Box_3c4d5e6f.jpeg",
		Price: "1249.99", PriceValue: 1249.99, Currency: "USD", Merchant: "101188231", SoldByRetailer: false,
		URL: "https://www.walmart.com/ip/13816151308", Condition: monitors.ConditionNew,
	}
	if obs.Offers[0] != want {
		t.Errorf("offer\n got %+v\nwant %+v", obs.Offers[0], want)
	}
	if h := f.reqs[0].Header.Get("Accept-Language"); !strings.HasPrefix(h, "en-US") {
		t.Errorf("Accept-Language %q", h)
	}
}

func TestCheckCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := &fakeFetcher{resp: &monitors.Response{Status: 200, Body: testutil.Testdata(t, "usa-instock-walmart.html")}}
	obs := New().Check(ctx, &monitors.Target{Region: RegionUSA, SKU: "5113183757"}, f)
	if obs.Outcome != monitors.Error || !strings.Contains(obs.Reason, "canceled") {
		t.Errorf("%v: %s", obs.Outcome, obs.Reason)
	}
}

func TestCheckLongTitleClipped(t *testing.T) {
	long := strings.Repeat("Ünïcode ", 100)
	body := bytes.Replace(testutil.Testdata(t, "usa-instock-walmart.html"),
		[]byte(`"name":"Ziploc Brand Freezer Bags with New Stay Open Design, Gallon, 38 Count"`), []byte(`"name":"`+long+`"`), 1)
	f := &fakeFetcher{resp: &monitors.Response{Status: 200, Body: body}}
	obs := New().Check(context.Background(), &monitors.Target{Region: RegionUSA, SKU: "5113183757"}, f)
	if obs.Outcome != monitors.InStock {
		t.Fatalf("%v: %s", obs.Outcome, obs.Reason)
	}
	checkOffer(t, obs.StellarSite, obs.Offers[0])
	if len(obs.Offers[0].Title) > maxTitle {
		t.Errorf("title %d bytes", len(obs.Offers[0].Title))
	}
}

func TestValidateTarget(t *testing.T) {
	tests := []struct {
		name   string
		target monitors.Target
		field  string // "" means valid
	}{
		{"usa", monitors.Target{Region: "USA", SKU: "5113183757"}, ""},
		{"ca 12 alnum", monitors.Target{Region: "CA", SKU: "6JW7MWS0LXB5"}, ""},
		{"ca 13 digits", monitors.Target{Region: "CA", SKU: "6000203458791"}, ""},
		{"all filters", monitors.Target{Region: "USA", SKU: "1", Merchant: "F55CDC31AB754BB68FE0B39041159D63", MaxPrice: 10, StellarSite: "walmart", BaseURL: "http://127.0.0.1:9000/www.walmart.com"}, ""},
		{"merchant any", monitors.Target{Region: "USA", SKU: "1", Merchant: "any"}, ""},
		{"no region", monitors.Target{SKU: "1"}, "region"},
		{"bad region", monitors.Target{Region: "US", SKU: "1"}, "region"},
		{"usa sku not numeric", monitors.Target{Region: "USA", SKU: "B09MQ5L5N9"}, "sku"},
		{"usa sku empty", monitors.Target{Region: "USA"}, "sku"},
		{"ca sku 11", monitors.Target{Region: "CA", SKU: "6JW7MWS0LXB"}, "sku"},
		{"ca sku 13 alnum", monitors.Target{Region: "CA", SKU: "6JW7MWS0LXB55"}, "sku"},
		{"bad merchant", monitors.Target{Region: "USA", SKU: "1", Merchant: "walmart.com"}, "merchant"},
		{"negative price", monitors.Target{Region: "USA", SKU: "1", MaxPrice: -1}, "maxPrice"},
		{"shopify fields", monitors.Target{Region: "USA", SKU: "1", Handle: "x"}, "handle"},
		{"bad stellar site", monitors.Target{Region: "USA", SKU: "1", StellarSite: "Walmart US"}, "stellarSite"},
		{"bad base url", monitors.Target{Region: "USA", SKU: "1", BaseURL: "www.walmart.com"}, "baseURL"},
		{"base url query", monitors.Target{Region: "USA", SKU: "1", BaseURL: "https://x.test/?a=1"}, "baseURL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := monitors.Validate(New(), &tt.target)
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			fe := monitors.FieldErrors(err)
			if len(fe) == 0 || fe[0].Path != tt.field {
				t.Errorf("error %v (%+v) does not name %q", err, fe, tt.field)
			}
		})
	}
}

// TestCAItemIDOneRule: the Canada sku rule reads the same through
// ValidateTarget and IsItemID (config has no copy of its own any more).
func TestCAItemIDOneRule(t *testing.T) {
	for sku, want := range map[string]bool{
		"6JW7MWS0LXB5": true, "6000203458791": true, "1SZQHN3LOSE0": true,
		"6JW7MWS0LXB": false, "6JW7MWS0LXB55": false, "1szq": false, "6jw7mws0lxb5": true, "": false, "6JW7MWS0LXB5X2AB": false,
	} {
		if got := IsItemID(RegionCA, sku); got != want {
			t.Errorf("IsItemID(CA, %q) = %v, want %v", sku, got, want)
		}
		err := monitors.Validate(New(), &monitors.Target{Region: RegionCA, SKU: sku})
		if (err == nil) != want {
			t.Errorf("Validate(CA, %q) = %v, want ok=%v", sku, err, want)
		}
	}
}
