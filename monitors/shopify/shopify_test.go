package shopify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

const store = "https://shop.example.com"

func TestRegistered(t *testing.T) {
	m, err := monitors.New(Site)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(monitors.TargetValidator); !ok {
		t.Error("shopify monitor does not validate targets")
	}
}

// checkObservation asserts what holds for every observation.
func checkObservation(t *testing.T, obs monitors.Observation) {
	t.Helper()
	if (obs.Outcome == monitors.InStock) != (len(obs.Offers) > 0) {
		t.Fatalf("outcome %v with %d offers", obs.Outcome, len(obs.Offers))
	}
	if obs.Region != "" {
		t.Errorf("region %q: Shopify pings carry none", obs.Region)
	}
	for _, o := range obs.Offers {
		if o.OfferID != "" {
			t.Errorf("offer id %q on a Shopify offer", o.OfferID)
		}
		p := stellar.Ping{Site: obs.StellarSite, SKU: o.SKU,
			Details: &stellar.Details{ProductTitle: o.Title, ProductImage: o.Image, ProductPrice: o.Price}}
		if err := (stellar.Rules{}).Validate(&p); err != nil {
			t.Errorf("offer %+v makes an invalid ping: %v", o, err)
		}
	}
}

func TestCheckHandle(t *testing.T) {
	mixed := testutil.Testdata(t, "product-mixed.js")
	jsURL := store + "/products/classic-leather-jacket.js"
	tests := []struct {
		name    string
		target  monitors.Target
		resp    *monitors.Response
		err     error
		want    monitors.Outcome
		reason  string
		offers  []string // variant ids
		wantURL string
	}{
		{name: "mixed availability", resp: ok200(mixed), want: monitors.InStock, offers: []string{"44012345678902", "44012345678903"}},
		{name: "cap drops the dearer variant", target: monitors.Target{MaxPrice: 130}, resp: ok200(mixed), want: monitors.InStock, offers: []string{"44012345678902"}},
		{name: "cap drops all", target: monitors.Target{MaxPrice: 100}, resp: ok200(mixed), want: monitors.OutOfStock, reason: "above maxPrice 100"},
		{name: "sold out", resp: ok200(testutil.Testdata(t, "product-soldout.js")), want: monitors.OutOfStock, reason: "sold out"},
		{name: "unpublished handle", resp: &monitors.Response{Status: 404, Body: []byte("Not Found")}, want: monitors.OutOfStock, reason: "404"},
		{name: "password page", resp: &monitors.Response{Status: 200, Body: []byte("<html>Enter store using password</html>"), URL: store + "/password"}, want: monitors.OutOfStock, reason: "password"},
		{name: "throttled 429", resp: &monitors.Response{Status: 429}, want: monitors.Blocked, reason: "429"},
		{name: "throttled 430", resp: &monitors.Response{Status: 430}, want: monitors.Blocked, reason: "430"},
		{name: "throttle page", resp: ok200(testutil.Testdata(t, "throttle.html")), want: monitors.Blocked, reason: "throttle page"},
		{name: "malformed", resp: ok200(testutil.Testdata(t, "malformed.js")), want: monitors.Error, reason: "decode"},
		{name: "storefront html instead of json", resp: ok200(testutil.Testdata(t, "storefront.html")), want: monitors.Error, reason: "decode"},
		{name: "500", resp: &monitors.Response{Status: 500, Body: []byte("oops")}, want: monitors.Error, reason: "HTTP 500"},
		{name: "fetch error", err: errors.New("connection reset"), want: monitors.Error, reason: "connection reset"},
		{name: "base url with path", target: monitors.Target{BaseURL: "http://127.0.0.1:9000/shop.example.com"}, resp: ok200(mixed), want: monitors.InStock,
			offers: []string{"44012345678902", "44012345678903"}, wantURL: "http://127.0.0.1:9000/shop.example.com/products/classic-leather-jacket.js"},
		{name: "invalid target", target: monitors.Target{SKU: "123"}, want: monitors.Error, reason: "sku"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := tt.target
			tg.Site, tg.Store, tg.Handle = Site, store, "classic-leather-jacket"
			u := jsURL
			if tt.wantURL != "" {
				u = tt.wantURL
			}
			f := &routeFetcher{routes: map[string]*monitors.Response{}, errs: map[string]error{}}
			if tt.resp != nil {
				f.routes[u] = tt.resp
			}
			if tt.err != nil {
				f.errs[u] = tt.err
			}
			obs := New().Check(context.Background(), &tg, f)
			if obs.Outcome != tt.want {
				t.Fatalf("outcome %v (%s), want %v", obs.Outcome, obs.Reason, tt.want)
			}
			if !strings.Contains(obs.Reason, tt.reason) {
				t.Errorf("reason %q does not mention %q", obs.Reason, tt.reason)
			}
			if obs.StellarSite != "shopify" {
				t.Errorf("stellar site %q", obs.StellarSite)
			}
			checkObservation(t, obs)
			var ids []string
			for _, o := range obs.Offers {
				ids = append(ids, o.SKU)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.offers) {
				t.Errorf("offers %v, want %v", ids, tt.offers)
			}
			if tt.want != monitors.Error || tt.reason != "sku" {
				if len(f.urls) != 1 || f.urls[0] != u {
					t.Errorf("requests %v, want one GET %s", f.urls, u)
				}
			}
		})
	}
}

func TestCheckHandleOfferFields(t *testing.T) {
	f := &routeFetcher{routes: map[string]*monitors.Response{
		store + "/products/classic-leather-jacket.js": ok200(testutil.Testdata(t, "product-mixed.js")),
	}}
	tg := monitors.Target{Site: Site, Store: store + "/", Handle: "classic-leather-jacket", StellarSite: "northwind"}
	obs := New().Check(context.Background(), &tg, f)
	if obs.Outcome != monitors.InStock || obs.StellarSite != "northwind" {
		t.Fatalf("%v %s: %s", obs.Outcome, obs.StellarSite, obs.Reason)
	}
	want := []monitors.Offer{
		{SKU: "44012345678902", Title: "Classic Leather Jacket - M / Black",
			Image: "https://shop.example.com/cdn/shop/files/classic-leather-jacket-black.jpg?v=1727900404",
			Price: "129.00", PriceValue: 129, Merchant: "shop.example.com", SoldByRetailer: true,
			URL: "https://shop.example.com/cart/44012345678902:1"},
		{SKU: "44012345678903", Title: "Classic Leather Jacket - M / Brown",
			Image: "https://shop.example.com/cdn/shop/files/classic-leather-jacket-brown.jpg?v=1727900404",
			Price: "139.50", PriceValue: 139.5, Merchant: "shop.example.com", SoldByRetailer: true,
			URL: "https://shop.example.com/cart/44012345678903:1"},
	}
	for i := range want {
		if obs.Offers[i] != want[i] {
			t.Errorf("offer %d\n got %+v\nwant %+v", i, obs.Offers[i], want[i])
		}
	}
}

func catalog(t *testing.T, base string, pages ...[]byte) *routeFetcher {
	f := &routeFetcher{routes: map[string]*monitors.Response{}, errs: map[string]error{}}
	for i, p := range pages {
		f.routes[ProductsJSONURL(base, i+1)] = ok200(p)
	}
	return f
}

func TestCheckKeywords(t *testing.T) {
	p1, p2, empty := testutil.Testdata(t, "products-page1.json"), testutil.Testdata(t, "products-page2.json"), testutil.Testdata(t, "products-empty.json")
	tests := []struct {
		name     string
		keywords [][]string
		maxPrice float64
		fetcher  func(t *testing.T) *routeFetcher
		want     monitors.Outcome
		reason   string
		offers   []string
		requests int
	}{
		{name: "dunk across two pages", keywords: [][]string{{"dunk"}},
			fetcher: func(t *testing.T) *routeFetcher { return catalog(t, store, p1, p2, empty) },
			want:    monitors.InStock, offers: []string{"45000000000011", "45000000000021", "45000000000051"}, requests: 3},
		{name: "negative keyword", keywords: [][]string{{"dunk", "-kids"}},
			fetcher: func(t *testing.T) *routeFetcher { return catalog(t, store, p1, p2, empty) },
			want:    monitors.InStock, offers: []string{"45000000000011", "45000000000051"}, requests: 3},
		{name: "or across groups", keywords: [][]string{{"samba"}, {"jordan", "chicago"}},
			fetcher: func(t *testing.T) *routeFetcher { return catalog(t, store, p1, p2, empty) },
			want:    monitors.InStock, offers: []string{"45000000000031", "45000000000042"}, requests: 3},
		{name: "max price", keywords: [][]string{{"dunk"}}, maxPrice: 100,
			fetcher: func(t *testing.T) *routeFetcher { return catalog(t, store, p1, p2, empty) },
			want:    monitors.InStock, offers: []string{"45000000000021"}, requests: 3},
		{name: "max price drops all", keywords: [][]string{{"dunk", "high"}}, maxPrice: 100,
			fetcher: func(t *testing.T) *routeFetcher { return catalog(t, store, p1, p2, empty) },
			want:    monitors.OutOfStock, reason: "maxPrice", requests: 3},
		{name: "no match", keywords: [][]string{{"asics"}},
			fetcher: func(t *testing.T) *routeFetcher { return catalog(t, store, p1, p2, empty) },
			want:    monitors.OutOfStock, reason: "no product matches", requests: 3},
		{name: "matched but sold out", keywords: [][]string{{"yeezy", "slide"}},
			fetcher: func(t *testing.T) *routeFetcher { return catalog(t, store, p1, p2, empty) },
			want:    monitors.OutOfStock, reason: "all variants sold out", requests: 3},
		{name: "duplicate page is one offer", keywords: [][]string{{"samba"}},
			fetcher: func(t *testing.T) *routeFetcher { return catalog(t, store, p1, p1, empty) },
			want:    monitors.InStock, offers: []string{"45000000000031"}, requests: 3},
		{name: "throttled on page 2", keywords: [][]string{{"dunk"}},
			fetcher: func(t *testing.T) *routeFetcher {
				f := catalog(t, store, p1, p2, empty)
				f.routes[ProductsJSONURL(store, 2)] = &monitors.Response{Status: 200, Body: testutil.Testdata(t, "throttle.html")}
				return f
			},
			want: monitors.Blocked, reason: "throttle", requests: 2},
		{name: "error on page 2 fails the check", keywords: [][]string{{"dunk"}},
			fetcher: func(t *testing.T) *routeFetcher {
				f := catalog(t, store, p1, p2, empty)
				f.errs[ProductsJSONURL(store, 2)] = errors.New("timeout")
				return f
			},
			want: monitors.Error, reason: "timeout", requests: 2},
		{name: "products.json disabled", keywords: [][]string{{"dunk"}},
			fetcher: func(t *testing.T) *routeFetcher { return catalog(t, store) },
			want:    monitors.Error, reason: "HTTP 404", requests: 1},
		{name: "not a products page", keywords: [][]string{{"dunk"}},
			fetcher: func(t *testing.T) *routeFetcher { return catalog(t, store, testutil.Testdata(t, "product-mixed.js")) },
			want:    monitors.Error, reason: "no products array", requests: 1},
		{name: "bounded at 20 pages", keywords: [][]string{{"samba"}},
			fetcher: func(t *testing.T) *routeFetcher {
				pages := make([][]byte, MaxPages+5)
				for i := range pages {
					pages[i] = p1
				}
				return catalog(t, store, pages...)
			},
			want: monitors.InStock, offers: []string{"45000000000031"}, reason: "only the first 5000 products", requests: MaxPages},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fetcher(t)
			tg := monitors.Target{Site: Site, Store: store, Keywords: tt.keywords, MaxPrice: tt.maxPrice}
			obs := New().Check(context.Background(), &tg, f)
			if obs.Outcome != tt.want {
				t.Fatalf("outcome %v (%s), want %v", obs.Outcome, obs.Reason, tt.want)
			}
			if !strings.Contains(obs.Reason, tt.reason) {
				t.Errorf("reason %q does not mention %q", obs.Reason, tt.reason)
			}
			checkObservation(t, obs)
			var ids []string
			for _, o := range obs.Offers {
				ids = append(ids, o.SKU)
				if !strings.HasPrefix(o.URL, store+"/cart/"+o.SKU+":1") {
					t.Errorf("offer URL %q", o.URL)
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.offers) {
				t.Errorf("offers %v, want %v", ids, tt.offers)
			}
			if len(f.urls) != tt.requests {
				t.Errorf("%d requests, want %d: %v", len(f.urls), tt.requests, f.urls)
			}
			for i, u := range f.urls {
				if u != ProductsJSONURL(store, i+1) {
					t.Errorf("request %d: %s", i, u)
				}
			}
		})
	}
}

func TestCheckKeywordsBaseURLAndImages(t *testing.T) {
	base := "http://127.0.0.1:9000/shop.example.com"
	f := catalog(t, base, testutil.Testdata(t, "products-page2.json"), testutil.Testdata(t, "products-empty.json"))
	tg := monitors.Target{Site: Site, Store: store, Keywords: [][]string{{"jordan"}}, BaseURL: base + "/"}
	obs := New().Check(context.Background(), &tg, f)
	if obs.Outcome != monitors.InStock {
		t.Fatalf("%v: %s", obs.Outcome, obs.Reason)
	}
	o := obs.Offers[0]
	// The product has no image: the variant's own image is used.
	if o.Image != "https://cdn.shopify.com/s/files/1/0611/2233/4455/files/j1-chicago-10.jpg?v=1730000001" ||
		o.Title != "Jordan 1 Retro High OG Chicago - 10" || o.URL != base+"/cart/45000000000042:1" || o.Price != "180.00" {
		t.Errorf("offer %+v", o)
	}
}

func TestCheckCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tg := range []monitors.Target{
		{Store: store, Handle: "x"},
		{Store: store, Keywords: [][]string{{"x"}}},
	} {
		obs := New().Check(ctx, &tg, catalog(t, store))
		if obs.Outcome != monitors.Error || !strings.Contains(obs.Reason, "canceled") {
			t.Errorf("%v: %s", obs.Outcome, obs.Reason)
		}
	}
}

func TestValidateTarget(t *testing.T) {
	tests := []struct {
		name   string
		target monitors.Target
		field  string
	}{
		{"handle", monitors.Target{Store: store, Handle: "classic-leather-jacket"}, ""},
		{"keywords", monitors.Target{Store: "http://shop.example.com:8080/", Keywords: [][]string{{"dunk", "-kids"}, {"samba"}}}, ""},
		{"all options", monitors.Target{Store: store, Handle: "x", MaxPrice: 10, StellarSite: "kith", Merchant: "any", BaseURL: "http://127.0.0.1:9000/shop.example.com"}, ""},
		{"no store", monitors.Target{Handle: "x"}, "store"},
		{"store not absolute", monitors.Target{Store: "shop.example.com", Handle: "x"}, "store"},
		{"store with path", monitors.Target{Store: store + "/collections/all", Handle: "x"}, "store"},
		{"store ftp", monitors.Target{Store: "ftp://shop.example.com", Handle: "x"}, "store"},
		{"neither", monitors.Target{Store: store}, "site shopify needs handle"},
		{"both", monitors.Target{Store: store, Handle: "x", Keywords: [][]string{{"y"}}}, "handle and keywords are exclusive"},
		{"handle with slash", monitors.Target{Store: store, Handle: "a/b"}, "handle"},
		{"handle url", monitors.Target{Store: store, Handle: "https://shop.example.com/products/x"}, "handle"},
		{"empty group", monitors.Target{Store: store, Keywords: [][]string{{"a"}, {}}}, "keywords[1]: empty keyword group"},
		{"empty keyword", monitors.Target{Store: store, Keywords: [][]string{{"a", " "}}}, "keywords[0]: has an empty keyword"},
		{"bare minus", monitors.Target{Store: store, Keywords: [][]string{{"a", "-"}}}, "keywords[0]: has an empty keyword"},
		{"only negatives", monitors.Target{Store: store, Keywords: [][]string{{"-kids"}}}, "keywords[0]: needs at least one positive keyword"},
		{"region", monitors.Target{Store: store, Handle: "x", Region: "USA"}, "region"},
		{"sku", monitors.Target{Store: store, Handle: "x", SKU: "1"}, "sku"},
		{"merchant", monitors.Target{Store: store, Handle: "x", Merchant: "walmart"}, "merchant"},
		{"max price", monitors.Target{Store: store, Handle: "x", MaxPrice: -5}, "maxPrice"},
		{"stellar site bad", monitors.Target{Store: store, Handle: "x", StellarSite: "My Store"}, "stellarSite"},
		{"stellar site walmart", monitors.Target{Store: store, Handle: "x", StellarSite: "walmart"}, "stellarSite"},
		{"base url", monitors.Target{Store: store, Handle: "x", BaseURL: "127.0.0.1:9000"}, "baseURL"},
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
			var te *monitors.TargetError
			if !errors.As(err, &te) || !strings.HasPrefix(te.Fields[0].Error(), tt.field) {
				t.Errorf("error %v (%T) does not start with %q", err, err, tt.field)
			}
		})
	}
}

func TestOfferTitle(t *testing.T) {
	for _, tt := range []struct{ p, v, want string }{
		{"Tee", "Default Title", "Tee"},
		{"Tee", "", "Tee"},
		{"Tee", "M", "Tee - M"},
		{"", "M", "M"},
	} {
		if got := OfferTitle(tt.p, tt.v); got != tt.want {
			t.Errorf("OfferTitle(%q, %q) = %q", tt.p, tt.v, got)
		}
	}
	long := strings.Repeat("é", 400)
	if got := clip(OfferTitle(long, "XL"), maxTitle); len(got) > maxTitle || !strings.HasPrefix(long, got) {
		t.Errorf("clip: %d bytes", len(got))
	}
}

func TestLongTruncatedBodyErrorIsShort(t *testing.T) {
	body := append([]byte(`{"id":1,"title":"`), bytes.Repeat([]byte("x"), 1<<20)...)
	_, err := ParseProductJS(body)
	if err == nil || len(err.Error()) > 300 {
		t.Errorf("error of %d bytes", len(fmt.Sprint(err)))
	}
}
