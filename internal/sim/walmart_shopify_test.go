package sim

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var nextDataRe = regexp.MustCompile(`(?s)<script id="__NEXT_DATA__" type="application/json">(.*?)</script>`)

type walmartNext struct {
	Props struct {
		PageProps struct {
			InitialData struct {
				Data struct {
					Product struct {
						UsItemID           string `json:"usItemId"`
						Name               string `json:"name"`
						OfferID            string `json:"offerId"`
						AvailabilityStatus string `json:"availabilityStatus"`
						SellerID           string `json:"sellerId"`
						SellerName         string `json:"sellerName"`
						SellerType         string `json:"sellerType"`
						PriceInfo          struct {
							CurrentPrice struct {
								Price        float64 `json:"price"`
								PriceString  string  `json:"priceString"`
								CurrencyUnit string  `json:"currencyUnit"`
							} `json:"currentPrice"`
						} `json:"priceInfo"`
						ImageInfo struct {
							ThumbnailURL string `json:"thumbnailUrl"`
							AllImages    []struct {
								URL string `json:"url"`
							} `json:"allImages"`
						} `json:"imageInfo"`
						ShippingOption struct {
							AvailabilityStatus string `json:"availabilityStatus"`
						} `json:"shippingOption"`
						FulfillmentOptions []struct {
							Type               string `json:"type"`
							AvailabilityStatus string `json:"availabilityStatus"`
						} `json:"fulfillmentOptions"`
						Offers struct {
							Primary struct {
								OfferID string `json:"offerId"`
							} `json:"primary"`
						} `json:"offers"`
					} `json:"product"`
				} `json:"data"`
			} `json:"initialData"`
		} `json:"pageProps"`
	} `json:"props"`
}

func TestWalmartPages(t *testing.T) {
	s := New(Config{Catalog: testCatalog(), Seed: 3})
	base, c := testServer(t, s)
	hex32 := regexp.MustCompile(`^[0-9A-F]{32}$`)
	for _, p := range s.Products() {
		if p.Site != SiteWalmart {
			continue
		}
		dom, ip := "/www.walmart.com", "/ip/"
		if p.Region == "CA" {
			dom, ip = "/www.walmart.ca", "/en/ip/"
		}
		for _, path := range []string{ip + p.SKU, ip + slugify(p.Title) + "/" + p.SKU, ip + "any-slug/" + p.SKU + "?classType=REGULAR"} {
			name := p.Region + " " + path
			res := get(t, c, base+dom+path)
			if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
				t.Fatalf("%s: %d %s", name, res.status, res.header.Get("Content-Type"))
			}
			m := nextDataRe.FindStringSubmatch(res.body)
			if m == nil {
				t.Fatalf("%s: no __NEXT_DATA__", name)
			}
			var nd walmartNext
			if err := json.Unmarshal([]byte(m[1]), &nd); err != nil {
				t.Fatalf("%s: __NEXT_DATA__: %v", name, err)
			}
			got := nd.Props.PageProps.InitialData.Data.Product
			if got.UsItemID != p.SKU || got.Name != p.Title || got.OfferID != p.OfferID || !hex32.MatchString(got.OfferID) {
				t.Errorf("%s: product %+v", name, got)
			}
			if got.Offers.Primary.OfferID != p.OfferID {
				t.Errorf("%s: offers.primary.offerId %q", name, got.Offers.Primary.OfferID)
			}
			wantAvail, wantShip := "OUT_OF_STOCK", "UNAVAILABLE"
			if p.InStock {
				wantAvail, wantShip = "IN_STOCK", "AVAILABLE"
			}
			if got.AvailabilityStatus != wantAvail || got.ShippingOption.AvailabilityStatus != wantShip {
				t.Errorf("%s: availability %q/%q, want %q/%q", name, got.AvailabilityStatus, got.ShippingOption.AvailabilityStatus, wantAvail, wantShip)
			}
			if cp := got.PriceInfo.CurrentPrice; cp.PriceString != "$"+decimalOf(centsOf(p.Price)) || decimalOf(int64(cp.Price*100+0.5)) != decimalOf(centsOf(p.Price)) {
				t.Errorf("%s: price %+v, want %s", name, cp, p.Price)
			}
			if u, err := url.Parse(got.ImageInfo.ThumbnailURL); err != nil || u.Host != "i5.walmartimages.com" || len(got.ImageInfo.AllImages) == 0 {
				t.Errorf("%s: image %q", name, got.ImageInfo.ThumbnailURL)
			}
			switch {
			case p.SoldBy == SoldByThirdParty:
				if got.SellerID == walmartUSSeller || got.SellerType != "EXTERNAL" {
					t.Errorf("%s: third-party seller %q %q", name, got.SellerID, got.SellerType)
				}
			case p.Region == "USA":
				if got.SellerID != walmartUSSeller || got.SellerName != "Walmart.com" {
					t.Errorf("%s: seller %q %q", name, got.SellerID, got.SellerName)
				}
			default:
				if got.SellerName != "Walmart" || len(got.FulfillmentOptions) == 0 || got.FulfillmentOptions[0].AvailabilityStatus != wantShip {
					t.Errorf("%s: CA seller %q fulfillment %+v", name, got.SellerName, got.FulfillmentOptions)
				}
			}
			// Decoy prices from carousels are in the same JSON.
			if strings.Count(m[1], `"priceString"`) < 4 {
				t.Errorf("%s: no decoy prices in __NEXT_DATA__", name)
			}
		}
	}
}

func TestShopifyProductJS(t *testing.T) {
	s := New(Config{Catalog: testCatalog(), Seed: 3})
	base, c := testServer(t, s)
	res := get(t, c, base+"/shop.example.com/products/nike-dunk-low.js")
	if res.status != 200 || !strings.Contains(res.header.Get("Content-Type"), "javascript") {
		t.Fatalf("status %d %s", res.status, res.header.Get("Content-Type"))
	}
	var js struct {
		ID            int64  `json:"id"`
		Title         string `json:"title"`
		Handle        string `json:"handle"`
		Available     bool   `json:"available"`
		Price         int64  `json:"price"`
		FeaturedImage string `json:"featured_image"`
		Images        []string
		Variants      []struct {
			ID        int64  `json:"id"`
			Title     string `json:"title"`
			SKU       string `json:"sku"`
			Price     int64  `json:"price"`
			Available bool   `json:"available"`
		} `json:"variants"`
	}
	if err := json.Unmarshal([]byte(res.body), &js); err != nil {
		t.Fatal(err)
	}
	if js.ID != 7012345678901 || js.Handle != "nike-dunk-low" || !js.Available || js.Price != 11500 {
		t.Errorf("product %+v", js)
	}
	if !strings.HasPrefix(js.FeaturedImage, "//cdn.shopify.com/") || len(js.Images) != 1 || !strings.HasPrefix(js.Images[0], "//cdn.shopify.com/") {
		t.Errorf("images %q %q, want protocol-relative", js.FeaturedImage, js.Images)
	}
	if len(js.Variants) != 2 || js.Variants[0].ID != 41000000000001 || js.Variants[0].Available || js.Variants[0].Price != 11500 ||
		!js.Variants[1].Available || js.Variants[1].Price != 12000 || js.Variants[1].SKU != "DD1391-10" {
		t.Errorf("variants %+v", js.Variants)
	}
	// A product without variants gets a default one from its price.
	res = get(t, c, base+"/shop.example.com/products/cap.js")
	mustContain(t, "cap.js", res.body, `"price":1500`, `"title":"Default Title"`, `"available":true`)
}

func TestShopifyProductsJSONPaging(t *testing.T) {
	s := New(Config{Catalog: testCatalog(), Seed: 3})
	base, c := testServer(t, s)
	type page struct {
		Products []struct {
			ID       int64    `json:"id"`
			Handle   string   `json:"handle"`
			Tags     []string `json:"tags"`
			Images   []struct{ Src string }
			Variants []struct {
				ID        int64  `json:"id"`
				Price     string `json:"price"`
				Available bool   `json:"available"`
			} `json:"variants"`
		} `json:"products"`
	}
	fetch := func(q string) page {
		t.Helper()
		res := get(t, c, base+"/shop.example.com/products.json"+q)
		if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: %d %s", q, res.status, res.header.Get("Content-Type"))
		}
		var p page
		if err := json.Unmarshal([]byte(res.body), &p); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if p.Products == nil {
			t.Fatalf("%s: products is not an array: %s", q, res.body)
		}
		return p
	}
	var handles []string
	for _, q := range []string{"?limit=2&page=1", "?limit=2&page=2", "?limit=2&page=3"} {
		for _, p := range fetch(q).Products {
			handles = append(handles, p.Handle)
		}
	}
	if strings.Join(handles, ",") != "nike-dunk-low,plain-tee,cap" {
		t.Errorf("paged handles %v", handles)
	}
	all := fetch("?limit=250")
	if len(all.Products) != 3 {
		t.Fatalf("limit=250: %d products", len(all.Products))
	}
	dunk := all.Products[0]
	if dunk.Variants[0].Price != "115.00" || dunk.Variants[1].Price != "120.00" || dunk.Variants[0].Available || !dunk.Variants[1].Available {
		t.Errorf("dunk variants %+v", dunk.Variants)
	}
	if len(dunk.Images) != 1 || !strings.HasPrefix(dunk.Images[0].Src, "https://cdn.shopify.com/") || strings.Join(dunk.Tags, ",") != "nike,dunk" {
		t.Errorf("dunk images %+v tags %v", dunk.Images, dunk.Tags)
	}
	if got := fetch("?limit=250&page=2"); len(got.Products) != 0 {
		t.Errorf("past the end: %d products", len(got.Products))
	}
	if got := fetch("?limit=abc&page=-1"); len(got.Products) != 3 {
		t.Errorf("bad paging falls back to defaults: %d products", len(got.Products))
	}
}

func TestNotFound(t *testing.T) {
	s := New(Config{Catalog: testCatalog(), Seed: 3})
	base, c := testServer(t, s)
	for _, tc := range []struct {
		path, marker string
	}{
		{"/www.amazon.com/dp/B000000000", "Dogs of Amazon"},
		{"/www.amazon.de/dp/B0TESTINA1", "Dogs of Amazon"}, // a USA ASIN is not on .de
		{"/www.amazon.co.jp/gp/aod/ajax?asin=NOPE", "Dogs of Amazon"},
		{"/www.amazon.fr/some/other/page", "Dogs of Amazon"},
		{"/www.walmart.com/ip/999999999", "This page could not be found"},
		{"/www.walmart.com/ip/a/b/5113183757", "This page could not be found"},
		{"/www.walmart.com/en/ip/5113183757", "This page could not be found"},
		{"/www.walmart.ca/en/ip/5113183757", "This page could not be found"}, // a US id on .ca
		{"/shop.example.com/products/missing.js", "Page not found"},
		{"/shop.example.com/products/7012345678901.js", "Page not found"}, // ids are not handles
		{"/shop.example.com/collections/all", "Page not found"},
		{"/unknown.example.org/products.json", "no simulated retailer"},
		{"/", "no simulated retailer"},
	} {
		res := get(t, c, base+tc.path)
		if res.status != 404 {
			t.Errorf("%s: status %d, want 404", tc.path, res.status)
		}
		mustContain(t, tc.path, res.body, tc.marker)
	}
	if res := do(t, c, "POST", base+"/www.amazon.com/dp/B0TESTINA1", "", ""); res.status != 405 {
		t.Errorf("POST product page: %d, want 405", res.status)
	}
}

func TestHostRouting(t *testing.T) {
	s := New(Config{Catalog: testCatalog(), Seed: 3})
	base, c := testServer(t, s)
	res := do(t, c, "GET", base+"/dp/B0TESTING1", "www.amazon.de:443", "")
	mustContain(t, "amazon.de by host", res.body, `lang="de-de"`, "Auf Lager")
	res = do(t, c, "GET", base+"/en/ip/4G2KXV9Q7T1M", "www.walmart.ca", "")
	mustContain(t, "walmart.ca by host", res.body, `"usItemId":"4G2KXV9Q7T1M"`)
	res = do(t, c, "GET", base+"/products/nike-dunk-low.js", "shop.example.com", "")
	mustContain(t, "shopify by host", res.body, `"handle":"nike-dunk-low"`)
	// A path prefix wins over the Host header.
	res = do(t, c, "GET", base+"/www.amazon.fr/dp/B0TESTINE1", "www.amazon.de", "")
	mustContain(t, "prefix over host", res.body, `lang="fr-fr"`)

	// Walmart's blocked redirect stays on the routing style in use.
	if err := s.SetFaults(Faults{RateBlocked: 1}); err != nil {
		t.Fatal(err)
	}
	res = do(t, c, "GET", base+"/ip/5113183757", "www.walmart.com", "")
	loc := res.header.Get("Location")
	if res.status != 302 || !strings.HasPrefix(loc, "/blocked?url=") {
		t.Fatalf("host-routed blocked: %d %q", res.status, loc)
	}
	res = get(t, c, base+"/www.walmart.com/ip/slug/5113183757?x=1")
	loc = res.header.Get("Location")
	if res.status != 302 || !strings.HasPrefix(loc, "/www.walmart.com/blocked?url=") {
		t.Fatalf("prefix-routed blocked: %d %q", res.status, loc)
	}
	u, _ := url.Parse(loc)
	orig, err := base64.StdEncoding.DecodeString(u.Query().Get("url"))
	if err != nil || string(orig) != "/ip/slug/5113183757?x=1" {
		t.Errorf("blocked url= %q (%v)", orig, err)
	}
	robot := get(t, c, base+loc)
	if robot.status != 200 {
		t.Errorf("blocked page status %d", robot.status)
	}
	mustContain(t, "blocked page", robot.body, "<title>Robot or human?</title>", "Press and hold", `id="px-captcha"`)
	mustNotContain(t, "blocked page", robot.body, "__NEXT_DATA__")
}
