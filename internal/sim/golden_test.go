package sim

import (
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

// TestGoldenPages pins the rendered pages byte for byte (a fixed seed makes
// them reproducible), so a change to a page structure the monitors depend
// on shows up in review. Run with -update after an intended change.
func TestGoldenPages(t *testing.T) {
	for _, tc := range []struct {
		file, path string
		f          Faults
	}{
		{"amazon-de-in-stock.html", "/www.amazon.de/dp/B0TESTING1", Faults{}},
		{"amazon-jp-out-of-stock.html", "/www.amazon.co.jp/dp/B0TESTOUH2", Faults{}},
		{"amazon-us-third-party.html", "/www.amazon.com/dp/B0TEST3PA3", Faults{}},
		{"amazon-de-aod.html", "/www.amazon.de/gp/product/ajax/ref=dp_aod_ALL_mbc?asin=B0TESTING1&pc=dp&experienceId=aodAjaxMain", Faults{}},
		{"amazon-fr-captcha.html", "/www.amazon.fr/dp/B0TESTINE1", Faults{RateCaptcha: 1}},
		{"amazon-us-503.html", "/www.amazon.com/dp/B0TESTINA1", Faults{Rate503: 1}},
		{"amazon-us-404.html", "/www.amazon.com/dp/B000000000", Faults{}},
		{"walmart-us-in-stock.html", "/www.walmart.com/ip/5113183757", Faults{}},
		{"walmart-ca-out-of-stock.html", "/www.walmart.ca/en/ip/6000207312545", Faults{}},
		{"walmart-robot.html", "/www.walmart.com/blocked?url=L2lwLzUxMTMxODM3NTc=", Faults{}},
		{"shopify-product.js", "/shop.example.com/products/nike-dunk-low.js", Faults{}},
		{"shopify-products.json", "/shop.example.com/products.json?limit=250&page=1", Faults{}},
		{"shopify-throttle.html", "/shop.example.com/products.json", Faults{Rate429: 1}},
	} {
		s := New(Config{Catalog: testCatalog(), Seed: 1, Faults: tc.f})
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		got := rec.Body.Bytes()
		golden := filepath.Join("testdata", tc.file+".golden")
		testutil.Golden(t, golden, got)
	}
}
