package sim

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCatalogValidate(t *testing.T) {
	ok := Product{Site: SiteAmazon, Region: "DE", SKU: "B0CJKTWTR1", Title: "x", Price: "1.00"}
	for _, tc := range []struct {
		name string
		mod  func(p *Product)
		want string // "" means valid
	}{
		{"valid", func(p *Product) {}, ""},
		{"site", func(p *Product) { p.Site = "ebay" }, `site: "ebay"`},
		{"region", func(p *Product) { p.Region = "US" }, `region: "US" is not one of USA, CA, UK`},
		{"asin", func(p *Product) { p.SKU = "b0cjktwtr1" }, `sku: "b0cjktwtr1" is not an ASIN`},
		{"price", func(p *Product) { p.Price = "1,00" }, `price: "1,00"`},
		{"price empty", func(p *Product) { p.Price = "" }, `price: ""`},
		{"title", func(p *Product) { p.Title = "  " }, "title: empty"},
		{"image", func(p *Product) { p.Image = "//cdn.example.com/x.jpg" }, "image:"},
		{"soldBy", func(p *Product) { p.SoldBy = "walmart" }, `soldBy: "walmart"`},
		{"walmart region", func(p *Product) { *p = Product{Site: SiteWalmart, Region: "MX", SKU: "123456", Title: "x", Price: "1"} }, `region: "MX" is not USA or CA`},
		{"walmart us id", func(p *Product) { *p = Product{Site: SiteWalmart, Region: "USA", SKU: "12AB", Title: "x", Price: "1"} }, `sku: "12AB" is not a Walmart USA item id`},
		{"walmart ca id", func(p *Product) { *p = Product{Site: SiteWalmart, Region: "CA", SKU: "12345", Title: "x", Price: "1"} }, `sku: "12345" is not a Walmart CA item id`},
		{"walmart offer", func(p *Product) {
			*p = Product{Site: SiteWalmart, Region: "USA", SKU: "12345", Title: "x", Price: "1", OfferID: "e29410d79b744ea6b99dff6ff89213b8"}
		}, "offerId:"},
		{"shopify store", func(p *Product) {
			*p = Product{Site: SiteShopify, Store: "https://shop.example.com", Handle: "a", Title: "x", Price: "1"}
		}, "store:"},
		{"shopify handle", func(p *Product) {
			*p = Product{Site: SiteShopify, Store: "shop.example.com", Handle: "A B", Title: "x", Price: "1"}
		}, "handle:"},
		{"shopify variant id", func(p *Product) {
			*p = Product{Site: SiteShopify, Store: "shop.example.com", Handle: "a", Title: "x", Variants: []Variant{{ID: 5}, {ID: 5}}}
		}, "variants[1].id: 5 repeats"},
		{"shopify variant price", func(p *Product) {
			*p = Product{Site: SiteShopify, Store: "shop.example.com", Handle: "a", Title: "x", Variants: []Variant{{PriceCents: -1}}}
		}, "variants[0].priceCents"},
	} {
		p := ok
		tc.mod(&p)
		err := Catalog{Products: []Product{ok, p}}.Validate()
		if tc.name == "valid" {
			if err == nil || !strings.Contains(err.Error(), "products[1]: duplicate of products[0]") {
				t.Errorf("duplicate not reported: %v", err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "products[1]: "+tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := (Config{Faults: Faults{RateSlow: -1}, FlipEvery: -time.Second}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "faults: rateSlow") || !strings.Contains(err.Error(), "flipEvery") {
		t.Errorf("config: %v", err)
	}
}

func TestNewSkipsInvalid(t *testing.T) {
	c := testCatalog()
	good := len(c.Products)
	c.Products = append(c.Products, Product{Site: "ebay"}, c.Products[0])
	s := New(Config{Catalog: c, Faults: Faults{Rate429: 2}})
	if n := len(s.Products()); n != good {
		t.Errorf("%d products kept, want %d", n, good)
	}
	if f := s.Faults(); f != (Faults{}) {
		t.Errorf("invalid faults kept: %+v", f)
	}
}

func TestDemoCatalog(t *testing.T) {
	c := DemoCatalog()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	regions := map[string]bool{}
	var thirdParty, walmartUS, walmartCA, shopify, dunk int
	for _, p := range c.Products {
		switch p.Site {
		case SiteAmazon:
			regions[p.Region] = true
			if p.SoldBy == SoldByThirdParty {
				thirdParty++
			}
		case SiteWalmart:
			if p.Region == "USA" {
				walmartUS++
			} else {
				walmartCA++
			}
		case SiteShopify:
			shopify++
			if strings.Contains(strings.ToLower(p.Title), "nike dunk") {
				dunk++
			}
		}
	}
	if len(regions) != 12 || thirdParty == 0 || walmartUS < 2 || walmartCA < 2 || shopify < 3 || dunk == 0 {
		t.Errorf("demo coverage: %d regions, %d third-party, walmart %d/%d, shopify %d (dunk %d)", len(regions), thirdParty, walmartUS, walmartCA, shopify, dunk)
	}

	// Every demo target resolves to a page through its BaseURL.
	s := New(Config{Catalog: c, Seed: 1})
	h := s.Handler()
	const base = "http://127.0.0.1:8089"
	targets := DemoTargets(base)
	if len(targets) != len(c.Products)+1 {
		t.Fatalf("%d targets for %d products", len(targets), len(c.Products))
	}
	for _, tg := range targets {
		var path string
		switch {
		case tg.Site == SiteAmazon:
			path = "/dp/" + tg.SKU
		case tg.Site == SiteWalmart && tg.Region == "CA":
			path = "/en/ip/" + tg.SKU
		case tg.Site == SiteWalmart:
			path = "/ip/" + tg.SKU
		case tg.Handle != "":
			path = "/products/" + tg.Handle + ".js"
		default:
			path = "/products.json?limit=250&page=1"
			if len(tg.Keywords) == 0 {
				t.Errorf("store target without handle or keywords: %+v", tg)
			}
		}
		if !strings.HasPrefix(tg.BaseURL, base+"/www.") && !strings.HasPrefix(tg.BaseURL, base+"/kicks-demo") {
			t.Errorf("target BaseURL %q", tg.BaseURL)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tg.BaseURL+path, nil))
		if rec.Code != 200 {
			t.Errorf("%+v: %s → %d", tg, path, rec.Code)
		}
	}
}

func TestParseCatalog(t *testing.T) {
	good := `{"products":[{"site":"amazon","region":"DE","sku":"B0CJKTWTR1","title":"x","price":"1.00","inStock":true}]}`
	c, err := ParseCatalog([]byte(good))
	if err != nil || len(c.Products) != 1 || !c.Products[0].InStock {
		t.Fatalf("%+v %v", c, err)
	}
	for body, want := range map[string]string{
		`{"products":[{"site":"amazon","region":"DE","sku":"B0CJKTWTR1","title":"x","price":"1.00","colour":"red"}]}`: `unknown field "colour"`,
		`{"products":[{"site":"amazon","region":"XX","sku":"B0CJKTWTR1","title":"x","price":"1.00"}]}`:                `products[0]: region: "XX"`,
		`{"products":[{"site":"walmart","region":"USA","sku":"123456","title":"x","price":"1","inStock":"yes"}]}`:     "inStock",
		``: "empty",
	} {
		if _, err := ParseCatalog([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.60s: %v, want %q", body, err, want)
		}
	}
	// The control API's listing reads back as a catalog.
	s := New(Config{Catalog: testCatalog(), Seed: 1})
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/_sim/products", nil))
	back, err := ParseCatalog(rec.Body.Bytes())
	if err != nil || len(back.Products) != len(testCatalog().Products) {
		t.Fatalf("listing does not parse back: %v", err)
	}
}
