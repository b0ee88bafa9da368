package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

func TestStockViaHTTP(t *testing.T) {
	s := New(Config{Catalog: testCatalog(), Seed: 5, NewOfferOnRestock: true})
	base, c := testServer(t, s)
	page := base + "/www.amazon.co.uk/dp/B0TESTOUC2"
	mustContain(t, "before", get(t, c, page).body, `id="outOfStock"`)
	before, _ := s.Product(SiteAmazon, "UK", "B0TESTOUC2")

	res := do(t, c, "POST", base+"/_sim/products/amazon/UK/B0TESTOUC2/stock", "", `{"inStock":true}`)
	if res.status != 200 {
		t.Fatalf("set stock: %d %s", res.status, res.body)
	}
	var p Product
	if err := json.Unmarshal([]byte(res.body), &p); err != nil || !p.InStock {
		t.Fatalf("answer %s (%v)", res.body, err)
	}
	if p.OfferID == before.OfferID {
		t.Errorf("restock kept offer id %q with NewOfferOnRestock", p.OfferID)
	}
	after := get(t, c, page).body
	mustContain(t, "after", after, `id="add-to-cart-button"`, "In stock")
	mustNotContain(t, "after", after, `id="outOfStock"`)

	// Listing reflects it.
	var cat Catalog
	if err := json.Unmarshal([]byte(get(t, c, base+"/_sim/products").body), &cat); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, q := range cat.Products {
		if q.Site == SiteAmazon && q.SKU == "B0TESTOUC2" {
			found = q.InStock && q.OfferID == p.OfferID
		}
	}
	if !found || len(cat.Products) != len(testCatalog().Products) {
		t.Errorf("listing: found=%v, %d products", found, len(cat.Products))
	}

	// Walmart and back out of stock.
	do(t, c, "POST", base+"/_sim/products/walmart/CA/6000207312545/stock", "", `{"inStock":true}`)
	mustContain(t, "walmart ca", get(t, c, base+"/www.walmart.ca/en/ip/6000207312545").body, `"availabilityStatus":"IN_STOCK"`)
	do(t, c, "POST", base+"/_sim/products/walmart/CA/6000207312545/stock", "", `{"inStock":false}`)
	mustContain(t, "walmart ca", get(t, c, base+"/www.walmart.ca/en/ip/6000207312545").body, `"availabilityStatus":"OUT_OF_STOCK"`)

	// Shopify: one variant, then the whole product, then by variant id as sku.
	js := base + "/shop.example.com/products/nike-dunk-low.js"
	res = do(t, c, "POST", base+"/_sim/products/shopify/shop.example.com/nike-dunk-low/stock", "", `{"inStock":false,"variant":41000000000002}`)
	if res.status != 200 {
		t.Fatalf("variant stock: %d %s", res.status, res.body)
	}
	mustContain(t, "all variants out", get(t, c, js).body, `"available":false,"compare_at_price"`)
	mustNotContain(t, "all variants out", get(t, c, js).body, `"available":true`)
	do(t, c, "POST", base+"/_sim/products/shopify/shop.example.com/41000000000001/stock", "", `{"inStock":true}`)
	if p, _ := s.Product(SiteShopify, "shop.example.com", "nike-dunk-low"); !p.InStock || !p.Variants[0].InStock || p.Variants[1].InStock {
		t.Errorf("after variant-id sku: %+v", p.Variants)
	}
	do(t, c, "POST", base+"/_sim/products/shopify/shop.example.com/7012345678901/stock", "", `{"inStock":true}`)
	if p, _ := s.Product(SiteShopify, "shop.example.com", "nike-dunk-low"); !p.Variants[1].InStock {
		t.Errorf("after product-id sku: %+v", p.Variants)
	}
}

func TestControlErrors(t *testing.T) {
	s := New(Config{Catalog: testCatalog(), Seed: 5})
	h := s.Handler()
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/_sim/products/amazon/UK/B0TESTOUC2/stock", ``, 400, "body: empty"},
		{"POST", "/_sim/products/amazon/UK/B0TESTOUC2/stock", `{}`, 400, "inStock: missing"},
		{"POST", "/_sim/products/amazon/UK/B0TESTOUC2/stock", `{"inStock":"yes"}`, 400, "inStock"},
		{"POST", "/_sim/products/amazon/UK/B0TESTOUC2/stock", `{"inStok":true}`, 400, "unknown field"},
		{"POST", "/_sim/products/amazon/UK/B0TESTOUC2/stock", `{"inStock":true} {}`, 400, "data after"},
		{"POST", "/_sim/products/amazon/UK/B0TESTOUC2/stock", `{"inStock":true,"variant":5}`, 400, "variant: only Shopify"},
		{"POST", "/_sim/products/shopify/shop.example.com/nike-dunk-low/stock", `{"inStock":true,"variant":-1}`, 400, "variant: -1"},
		{"POST", "/_sim/products/shopify/shop.example.com/nike-dunk-low/stock", `{"inStock":true,"variant":99}`, 404, "no such product"},
		{"POST", "/_sim/products/amazon/UK/B000000000/stock", `{"inStock":true}`, 404, "no such product"},
		{"POST", "/_sim/products/amazon/XX/B0TESTOUC2/stock", `{"inStock":true}`, 404, "no such product"},
		{"GET", "/_sim/products/amazon/XX/B0TESTOUC2", ``, 404, "no such product"},
		{"GET", "/_sim/nothing", ``, 404, "no control route"},
		{"POST", "/_sim/faults", `{"rate429":1.5}`, 400, "rate429: 1.5 is not between 0 and 1"},
		{"POST", "/_sim/faults", `{"rate429":0.6,"rate503":0.6}`, 400, "add up to 1.2"},
		{"POST", "/_sim/faults", `{"slowDelay":"soon"}`, 400, `slowDelay: "soon"`},
		{"POST", "/_sim/faults", `{"slowDelay":"2h"}`, 400, "slowDelay: 2h0m0s"},
		{"POST", "/_sim/faults", `{"rate_429":0.1}`, 400, "unknown field"},
		{"POST", "/_sim/faults", `[1]`, 400, "body: want a JSON object"},
		{"POST", "/_sim/faults", `{"rate503":"high"}`, 400, "rate503: string is not a number"},
		{"POST", "/_sim/faults", strings.Repeat(" ", maxControlBody+1) + "{}", 400, "too large"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
		var e struct{ Error string }
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Errorf("%s %s %.40s: body %q is not JSON", tc.method, tc.path, tc.body, rec.Body.String())
		}
		if rec.Code != tc.status || !strings.Contains(e.Error, tc.want) {
			t.Errorf("%s %s %.40s: %d %q, want %d containing %q", tc.method, tc.path, tc.body, rec.Code, e.Error, tc.status, tc.want)
		}
	}
	if f := s.Faults(); f != (Faults{}) {
		t.Errorf("rejected bodies changed faults: %+v", f)
	}
}

func TestFaultsMerge(t *testing.T) {
	s := New(Config{Catalog: testCatalog(), Faults: Faults{Rate429: 0.1}})
	h := s.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/_sim/faults", strings.NewReader(`{"rateSlow":0.2,"slowDelay":"1.5s"}`)))
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	want := Faults{Rate429: 0.1, RateSlow: 0.2, SlowDelay: 1500 * time.Millisecond}
	if got := s.Faults(); got != want {
		t.Errorf("faults %+v, want %+v", got, want)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/_sim/faults", nil))
	mustContain(t, "GET faults", rec.Body.String(), `"rate429": 0.1`, `"slowDelay": "1.5s"`)
}

// countFaults makes n sequential requests and counts X-Sim-Fault values.
func countFaults(t *testing.T, seed uint64, f Faults, path string, n int) (map[string]int, []string) {
	t.Helper()
	s := New(Config{Catalog: testCatalog(), Seed: seed, Faults: f})
	h := s.Handler()
	counts := map[string]int{}
	var seq []string
	for range n {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		k := rec.Header().Get("X-Sim-Fault")
		counts[k]++
		seq = append(seq, k)
	}
	return counts, seq
}

func TestFaultMix(t *testing.T) {
	f := Faults{Rate429: 0.05, Rate503: 0.10, RateCaptcha: 0.15, RateBlocked: 0.05, RateSlow: 0.05, SlowDelay: time.Microsecond, RateTruncated: 0.10}
	const n = 2000
	counts, seq := countFaults(t, 42, f, "/www.amazon.de/dp/B0TESTING1", n)
	for k, rate := range map[string]float64{"429": f.Rate429, "503": f.Rate503, "captcha": f.RateCaptcha, "blocked": f.RateBlocked,
		"slow": f.RateSlow, "truncated": f.RateTruncated, "": 0.5} {
		mean := rate * n
		tol := 4 * math.Sqrt(mean*(1-rate)) // four standard deviations
		if got := float64(counts[k]); math.Abs(got-mean) > tol {
			t.Errorf("fault %q: %v of %d, want %v±%.0f", k, got, n, mean, tol)
		}
	}
	// Same seed, same sequence; another seed, another one.
	_, again := countFaults(t, 42, f, "/www.amazon.de/dp/B0TESTING1", n)
	_, other := countFaults(t, 43, f, "/www.amazon.de/dp/B0TESTING1", n)
	if strings.Join(seq, ",") != strings.Join(again, ",") {
		t.Error("same seed gave a different fault sequence")
	}
	if strings.Join(seq, ",") == strings.Join(other, ",") {
		t.Error("different seeds gave the same fault sequence")
	}
	// Control calls are never faulted.
	if c, _ := countFaults(t, 42, Faults{Rate503: 1}, "/_sim/products", 50); c[""] != 50 {
		t.Errorf("control API faulted: %v", c)
	}
}

func TestFaultPages(t *testing.T) {
	for _, tc := range []struct {
		name   string
		f      Faults
		path   string
		status int
		marks  []string
	}{
		{"amazon 429", Faults{Rate429: 1}, "/www.amazon.com/dp/B0TESTINA1", 429, nil},
		{"amazon 503", Faults{Rate503: 1}, "/www.amazon.fr/dp/B0TESTINE1", 503, []string{"To discuss automated access to Amazon data please contact api-services-support@amazon.com"}},
		{"amazon captcha de", Faults{RateCaptcha: 1}, "/www.amazon.de/dp/B0TESTING1", 200, []string{`action="/errors/validateCaptcha"`, `id="captchacharacters"`, "<title dir=\"ltr\">Robot Check</title>", "Geben Sie die Zeichen unten ein"}},
		{"amazon captcha fr", Faults{RateCaptcha: 1}, "/www.amazon.fr/gp/aod/ajax?asin=B0TESTINE1", 200, []string{"Entrez les caractères que vous voyez ci-dessous"}},
		{"amazon captcha es", Faults{RateCaptcha: 1}, "/www.amazon.es/dp/B0TESTINI1", 200, []string{"Introduzca los caracteres que ve a continuación"}},
		{"amazon captcha it", Faults{RateCaptcha: 1}, "/www.amazon.it/dp/B0TESTINF1", 200, []string{"Inserisci i caratteri visualizzati"}},
		{"amazon captcha nl", Faults{RateCaptcha: 1}, "/www.amazon.nl/dp/B0TESTIND1", 200, []string{"Voer de karakters in"}},
		{"amazon captcha us", Faults{RateCaptcha: 1}, "/www.amazon.com/dp/B0TESTINA1", 200, []string{"Enter the characters you see below"}},
		{"amazon blocked", Faults{RateBlocked: 1}, "/www.amazon.com/dp/B0TESTINA1", 403, nil},
		{"walmart 429", Faults{Rate429: 1}, "/www.walmart.com/ip/5113183757", 429, nil},
		{"walmart 503", Faults{Rate503: 1}, "/www.walmart.com/ip/5113183757", 503, nil},
		{"walmart captcha", Faults{RateCaptcha: 1}, "/www.walmart.ca/en/ip/4G2KXV9Q7T1M", 200, []string{"<title>Robot or human?</title>", "Press and hold", `id="px-captcha"`}},
		{"walmart blocked", Faults{RateBlocked: 1}, "/www.walmart.ca/en/ip/4G2KXV9Q7T1M", 302, nil},
		{"shopify 429", Faults{Rate429: 1}, "/shop.example.com/products/cap.js", 429, []string{"sending large amounts of web requests"}},
		{"shopify captcha", Faults{RateCaptcha: 1}, "/shop.example.com/products.json", 430, []string{"sending large amounts of web requests"}},
		{"shopify blocked", Faults{RateBlocked: 1}, "/shop.example.com/products.json", 430, []string{"sending large amounts of web requests"}},
		{"shopify 503", Faults{Rate503: 1}, "/shop.example.com/products.json", 503, nil},
	} {
		s := New(Config{Catalog: testCatalog(), Faults: tc.f})
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, rec.Code, tc.status)
		}
		body := rec.Body.String()
		mustContain(t, tc.name, body, tc.marks...)
		mustNotContain(t, tc.name, body, `id="add-to-cart-button"`, "__NEXT_DATA__\" type=\"application/json\">{\"props\":{\"pageProps\":{\"initialData", `"variants"`)
	}
}

func TestTruncated(t *testing.T) {
	for _, path := range []string{"/www.amazon.de/dp/B0TESTING1", "/www.walmart.com/ip/5113183757", "/shop.example.com/products/nike-dunk-low.js", "/shop.example.com/products.json"} {
		full := New(Config{Catalog: testCatalog(), Seed: 9})
		rec := httptest.NewRecorder()
		full.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		whole := rec.Body.String()

		s := New(Config{Catalog: testCatalog(), Seed: 9, Faults: Faults{RateTruncated: 1}})
		base, c := testServer(t, s)
		lengths := map[int]bool{}
		for range 20 {
			res := get(t, c, base+path)
			n := len(res.body)
			lengths[n] = true
			if res.status != 200 || res.header.Get("X-Sim-Fault") != "truncated" {
				t.Fatalf("%s: %d %q", path, res.status, res.header.Get("X-Sim-Fault"))
			}
			if n < len(whole)/4 || n > len(whole)*3/4 || !strings.HasPrefix(whole, res.body) {
				t.Fatalf("%s: truncated body of %d bytes from %d is not a cut prefix", path, n, len(whole))
			}
			if strings.Contains(path, ".js") || strings.Contains(path, ".json") {
				if json.Valid([]byte(res.body)) {
					t.Errorf("%s: truncated JSON still valid", path)
				}
			} else if strings.Contains(res.body, "</html>") {
				t.Errorf("%s: truncated page still ends the document", path)
			}
		}
		if len(lengths) < 5 {
			t.Errorf("%s: cut points barely vary: %v", path, lengths)
		}
	}
}

func TestSlowRespectsClientAndShutdown(t *testing.T) {
	s := New(Config{Catalog: testCatalog(), Faults: Faults{RateSlow: 1, SlowDelay: time.Minute}})
	base, c := testServer(t, s)

	// A client that gives up frees the handler.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/www.amazon.com/dp/B0TESTINA1", nil)
	if r, err := c.Do(req); err == nil {
		r.Body.Close()
		t.Fatal("slow request answered before the client's deadline")
	}

	testutil.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n := s.slowWaiting.Load(); n != 0 {
			return fmt.Errorf("%d handlers still waiting after the client left", n)
		}
		return nil
	})

	// Shutdown cuts the delay short: the request in flight completes.
	done := make(chan resp, 1)
	go func() {
		req, _ := http.NewRequest("GET", base+"/www.amazon.com/dp/B0TESTINA1", nil)
		r, err := c.Do(req)
		if err != nil {
			done <- resp{status: -1, body: err.Error()}
			return
		}
		defer r.Body.Close()
		var b strings.Builder
		_, _ = fmt.Fprint(&b, r.Header.Get("X-Sim-Fault"))
		done <- resp{status: r.StatusCode, body: b.String()}
	}()
	// Wait until the request is inside the handler.
	testutil.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		if s.slowWaiting.Load() == 0 {
			return fmt.Errorf("no request in flight")
		}
		return nil
	})
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case r := <-done:
		if r.status != 200 || r.body != "slow" {
			t.Errorf("slow request after shutdown: %d %q", r.status, r.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("slow request not released by Shutdown")
	}
}

func TestRunFlips(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		states := func(s *Server) string {
			var b strings.Builder
			for _, p := range s.Products() {
				b.WriteByte(bit(p.InStock))
				for _, v := range p.Variants {
					b.WriteByte(bit(v.InStock))
				}
			}
			return b.String()
		}
		run := func(seed uint64) (string, int) {
			s := New(Config{Catalog: testCatalog(), Seed: seed, FlipEvery: 3 * time.Second})
			initial := states(s)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- s.Run(ctx) }()
			time.Sleep(10 * time.Second) // three ticks
			synctest.Wait()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			final := states(s)
			diff := 0
			for i := range initial {
				if initial[i] != final[i] {
					diff++
				}
			}
			return final, diff
		}
		a, diffA := run(11)
		b, _ := run(11)
		if a != b {
			t.Error("same seed flipped different products")
		}
		// Three flips change one, two or three products (a product flipped
		// twice is back where it started).
		if diffA == 0 || diffA > 6 {
			t.Errorf("%d stock bits changed after three flips", diffA)
		}
	})
}

func TestRunWithoutFlipperStopsOnShutdown(t *testing.T) {
	s := New(Config{Catalog: testCatalog()})
	done := make(chan error)
	go func() { done <- s.Run(context.Background()) }()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop on Shutdown")
	}
}

func TestFlipCountsRestocks(t *testing.T) {
	// Over many flips with a fixed seed every product changes at least once.
	s := New(Config{Catalog: DemoCatalog(), Seed: 1})
	seen := map[string]bool{}
	for range 400 {
		p, ok := s.Flip()
		if !ok {
			t.Fatal("flip on a non-empty catalog failed")
		}
		seen[p.key()] = true
	}
	if len(seen) != len(DemoCatalog().Products) {
		t.Errorf("flipped %d of %d products", len(seen), len(DemoCatalog().Products))
	}
	if _, ok := New(Config{}).Flip(); ok {
		t.Error("flip on an empty catalog reported a product")
	}
}

func bit(b bool) byte {
	if b {
		return '1'
	}
	return '0'
}
