package sim

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzControlBodies sends arbitrary bodies to the control API: it must
// never panic, answer 200 or a 400/404 with a JSON error, and never store
// invalid fault rates.
func FuzzControlBodies(f *testing.F) {
	for _, seed := range []string{
		`{"inStock":true}`, `{"inStock":false,"variant":41000000000001}`, `{"inStock":null}`, `{}`, ``, `[]`, `{"inStock":true}x`,
		`{"rate429":0.1,"slowDelay":"250ms"}`, `{"rate503":1,"rateCaptcha":1}`, `{"slowDelay":"-1s"}`, `{"rateSlow":1e400}`,
		`{"rateTruncated":0.5,"rateBlocked":0.5}`, `{"variant":"x","inStock":1}`,
	} {
		f.Add(seed, uint8(0))
		f.Add(seed, uint8(1))
		f.Add(seed, uint8(2))
	}
	s := New(Config{Catalog: testCatalog(), Seed: 1})
	h := s.Handler()
	paths := []string{
		"/_sim/products/amazon/DE/B0TESTING1/stock",
		"/_sim/products/shopify/shop.example.com/nike-dunk-low/stock",
		"/_sim/faults",
	}
	f.Fuzz(func(t *testing.T, body string, which uint8) {
		path := paths[int(which)%len(paths)]
		before := s.Faults()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(body)))
		switch rec.Code {
		case 200:
		case 400, 404:
			var e struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%d without a JSON error: %q", rec.Code, rec.Body.String())
			}
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		if err := s.Faults().Validate(); err != nil {
			t.Fatalf("stored invalid faults after %q: %v", body, err)
		}
		// The pure parsers agree with the handler.
		if which%3 == 2 {
			if _, err := ParseFaults(before, []byte(body)); (err == nil) != (rec.Code == 200) {
				t.Fatalf("ParseFaults err=%v but handler said %d", err, rec.Code)
			}
		}
	})
}

// FuzzRoutes requests arbitrary paths and hosts: never a panic, never a
// 5xx without an injected fault.
func FuzzRoutes(f *testing.F) {
	for _, seed := range []string{
		"/www.amazon.de/dp/B0TESTING1", "/www.amazon.de/gp/aod/ajax?asin=B0TESTING1&pageno=99999999999", "/dp/B0TESTING1",
		"/www.walmart.com/ip/x/5113183757", "/www.walmart.ca/en/ip//", "/shop.example.com/products.json?limit=-5&page=9223372036854775807",
		"/shop.example.com/products/.js", "/www.walmart.com/blocked?url=%%%", "/_sim/products", "//", "/www.amazon.com",
	} {
		f.Add(seed, "www.amazon.de")
	}
	s := New(Config{Catalog: testCatalog(), Seed: 1})
	h := s.Handler()
	f.Fuzz(func(t *testing.T, path, host string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") || strings.ContainsAny(host, " \r\n\t/") {
			return
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return // not a request a client could send
		}
		req := httptest.NewRequest("GET", "http://x"+path, nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s (host %q): status %d", path, host, rec.Code)
		}
	})
}

// FuzzParseCatalog: a catalog file never panics the parser, and whatever
// it accepts the server can serve: every product's page answers 200.
func FuzzParseCatalog(f *testing.F) {
	f.Add(`{"products":[{"site":"amazon","region":"JP","sku":"B0CJKTWTR1","title":"x","price":"12800","inStock":true}]}`)
	f.Add(`{"products":[{"site":"walmart","region":"CA","sku":"4G2KXV9Q7T1M","title":"Lego","price":"1.5","soldBy":"thirdparty"}]}`)
	f.Add(`{"products":[{"site":"shopify","store":"a.example.com","handle":"h","title":"T","variants":[{"id":1,"priceCents":0,"inStock":true}]}]}`)
	f.Add(`{"products":[{"site":"amazon","region":"DE","sku":"B0CJKTWTR1","title":"<b>&amp;","price":"0","image":"http://x.y/z"}]}`)
	f.Add(`{"products":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		c, err := ParseCatalog([]byte(body))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "catalog: ") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted an invalid catalog: %v", err)
		}
		s := New(Config{Catalog: c, Seed: 1})
		if len(s.Products()) != len(c.Products) {
			t.Fatalf("server kept %d of %d products", len(s.Products()), len(c.Products))
		}
		h := s.Handler()
		for _, p := range s.Products() {
			var path string
			switch p.Site {
			case SiteAmazon:
				d, _ := AmazonDomain(p.Region)
				path = "/" + d + "/dp/" + p.SKU
			case SiteWalmart:
				path = "/" + walmartDomain(p.Region) + walmartPath(&p)
			default:
				path = "/" + p.Store + "/products/" + p.Handle + ".js"
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			if rec.Code != 200 {
				t.Fatalf("%s: %d", path, rec.Code)
			}
		}
	})
}
