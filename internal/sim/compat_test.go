package sim_test

// Compatibility with the real monitor modules: every page kind the
// simulator serves is fed to monitors/amazon, monitors/walmart and
// monitors/shopify's exported parsers, and their Check runs end to end
// against a live simulator. If these disagree, the simulator (or a parser)
// does not follow /work/shared/retailer-facts.md.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/sim"
	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/monitors/amazon"
	"github.com/stellarfeed/stellarfeed/monitors/shopify"
	"github.com/stellarfeed/stellarfeed/monitors/walmart"
)

// render serves one request through the handler, without a network.
func render(t *testing.T, h http.Handler, target string) (int, http.Header, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://sim.local"+target, nil))
	return rec.Code, rec.Header(), rec.Body.Bytes()
}

func plainPrice(p sim.Product) string {
	whole, frac, _ := strings.Cut(p.Price, ".")
	if p.Region == "JP" && p.Site == sim.SiteAmazon {
		return whole
	}
	frac += "00"
	return whole + "." + frac[:2]
}

func TestCompatAmazonParsers(t *testing.T) {
	s := sim.New(sim.Config{Catalog: sim.TestCatalog(), Seed: 21})
	h := s.Handler()
	for _, p := range s.Products() {
		if p.Site != sim.SiteAmazon {
			continue
		}
		name := p.Region + "/" + p.SKU
		r, ok := amazon.Region(p.Region)
		if !ok {
			t.Fatalf("%s: amazon has no region", name)
		}
		dom, _ := sim.AmazonDomain(p.Region)
		status, _, body := render(t, h, "/"+dom+"/dp/"+p.SKU)
		if status != 200 {
			t.Fatalf("%s: %d", name, status)
		}
		if blocked, why := amazon.DetectBlock(status, body); blocked {
			t.Errorf("%s: product page detected as blocked: %s", name, why)
		}
		pg, err := amazon.ParseProduct(body, r, p.SKU)
		if err != nil {
			t.Errorf("%s: ParseProduct: %v", name, err)
			continue
		}
		if pg.ASIN != p.SKU || pg.Title != p.Title || !strings.HasPrefix(pg.Image, "https://m.media-amazon.com/images/I/") {
			t.Errorf("%s: asin %q title %q image %q", name, pg.ASIN, pg.Title, pg.Image)
		}
		if p.InStock {
			if pg.Stock != amazon.InStock || pg.OfferID != p.OfferID || pg.Price != plainPrice(p) {
				t.Errorf("%s: stock %s offer %.12q… price %q (want %q) evidence %q", name, pg.Stock, pg.OfferID, pg.Price, plainPrice(p), pg.Evidence)
			}
			if pg.SoldByAmazon != (p.SoldBy == sim.SoldByAmazon) || (pg.SoldByAmazon && pg.Merchant != r.SellerID) {
				t.Errorf("%s: soldBy %s, parser says merchant %q soldByAmazon=%v", name, p.SoldBy, pg.Merchant, pg.SoldByAmazon)
			}
		} else if pg.Stock != amazon.OutOfStock {
			t.Errorf("%s: out of stock parsed as %s (%s)", name, pg.Stock, pg.Evidence)
		}

		// The All Offers Display fragment, both URL forms.
		for _, path := range []string{"/gp/product/ajax/ref=dp_aod_ALL_mbc?asin=" + p.SKU + "&pc=dp&experienceId=aodAjaxMain", "/gp/aod/ajax?asin=" + p.SKU} {
			status, _, body := render(t, h, "/"+dom+path)
			offers, err := amazon.ParseAOD(body, r, p.SKU)
			if status != 200 || err != nil {
				t.Errorf("%s AOD: %d %v", name, status, err)
				continue
			}
			switch {
			case !p.InStock:
				if len(offers) != 0 {
					t.Errorf("%s AOD: %d offers out of stock", name, len(offers))
				}
			case len(offers) == 0:
				t.Errorf("%s AOD: no offers", name)
			default:
				o := offers[0]
				if !o.Pinned || o.OfferID != p.OfferID || o.Price != plainPrice(p) || o.SoldByAmazon != (p.SoldBy == sim.SoldByAmazon) {
					t.Errorf("%s AOD: first offer %+v", name, o)
				}
				if p.SoldBy == sim.SoldByAmazon && (len(offers) != 2 || offers[1].SoldByAmazon || offers[1].OfferID == p.OfferID) {
					t.Errorf("%s AOD: want a second, third-party offer: %+v", name, offers)
				}
			}
		}
	}
}

func TestCompatAmazonBlockPages(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    sim.Faults
	}{
		{"captcha", sim.Faults{RateCaptcha: 1}},
		{"503", sim.Faults{Rate503: 1}},
		{"429", sim.Faults{Rate429: 1}},
		{"403", sim.Faults{RateBlocked: 1}},
	} {
		s := sim.New(sim.Config{Catalog: sim.TestCatalog(), Faults: tc.f})
		for _, code := range sim.AmazonRegions() {
			dom, _ := sim.AmazonDomain(code)
			r, _ := amazon.Region(code)
			var sku string
			for _, p := range s.Products() {
				if p.Site == sim.SiteAmazon && p.Region == code {
					sku = p.SKU
					break
				}
			}
			status, _, body := render(t, s.Handler(), "/"+dom+"/dp/"+sku)
			if blocked, _ := amazon.DetectBlock(status, body); !blocked {
				t.Errorf("%s %s: DetectBlock(%d) = false", tc.name, code, status)
			}
			if status == 200 {
				if _, err := amazon.ParseProduct(body, r, sku); !errors.Is(err, amazon.ErrBlocked) {
					t.Errorf("%s %s: ParseProduct err %v, want ErrBlocked", tc.name, code, err)
				}
			}
		}
	}
	// A truncated page is an error, never out of stock.
	s := sim.New(sim.Config{Catalog: sim.TestCatalog(), Seed: 2, Faults: sim.Faults{RateTruncated: 1}})
	r, _ := amazon.Region("DE")
	for range 20 {
		_, _, body := render(t, s.Handler(), "/www.amazon.de/dp/B0TESTING1")
		if pg, err := amazon.ParseProduct(body, r, "B0TESTING1"); err == nil {
			t.Errorf("truncated page parsed without error: stock %s", pg.Stock)
		}
	}
}

func TestCompatWalmartParsers(t *testing.T) {
	s := sim.New(sim.Config{Catalog: sim.TestCatalog(), Seed: 21})
	h := s.Handler()
	for _, p := range s.Products() {
		if p.Site != sim.SiteWalmart {
			continue
		}
		path := "/www.walmart.com/ip/some-slug/" + p.SKU
		if p.Region == "CA" {
			path = "/www.walmart.ca/en/ip/some-slug/" + p.SKU
		}
		name := p.Region + "/" + p.SKU
		status, _, body := render(t, h, path)
		final := "http://sim.local" + path
		if reason, blocked := walmart.DetectBlock(status, final, body); blocked {
			t.Errorf("%s: product page detected as blocked: %s", name, reason)
		}
		got, err := walmart.ParseProduct(body, final)
		if err != nil {
			t.Errorf("%s: ParseProduct: %v", name, err)
			continue
		}
		if got.ItemID != p.SKU || got.Name != p.Title || got.OfferID != p.OfferID || got.InStock != p.InStock || got.Price != plainPrice(p) {
			t.Errorf("%s: parsed %+v", name, got)
		}
		if !strings.HasPrefix(got.Image, "https://i5.walmartimages.com/") {
			t.Errorf("%s: image %q", name, got.Image)
		}
		if sold := walmart.SoldByWalmart(p.Region, &got); sold != (p.SoldBy == sim.SoldByWalmart) {
			t.Errorf("%s: SoldByWalmart=%v for soldBy %s", name, sold, p.SoldBy)
		}
	}
	// Bot walls.
	for _, tc := range []struct {
		name string
		f    sim.Faults
	}{{"captcha", sim.Faults{RateCaptcha: 1}}, {"429", sim.Faults{Rate429: 1}}, {"blocked", sim.Faults{RateBlocked: 1}}} {
		s := sim.New(sim.Config{Catalog: sim.TestCatalog(), Faults: tc.f})
		status, hdr, body := render(t, s.Handler(), "/www.walmart.com/ip/5113183757")
		final := "http://sim.local/www.walmart.com/ip/5113183757"
		if loc := hdr.Get("Location"); loc != "" {
			final = "http://sim.local" + loc
			status, _, body = render(t, s.Handler(), loc)
		}
		if reason, blocked := walmart.DetectBlock(status, final, body); !blocked {
			t.Errorf("%s: DetectBlock(%d, %s) = false (%s)", tc.name, status, final, reason)
		}
	}
	// Truncated: an error, never a product.
	s = sim.New(sim.Config{Catalog: sim.TestCatalog(), Seed: 2, Faults: sim.Faults{RateTruncated: 1}})
	for range 20 {
		_, _, body := render(t, s.Handler(), "/www.walmart.com/ip/5113183757")
		if got, err := walmart.ParseProduct(body, "http://sim.local/www.walmart.com/ip/5113183757"); err == nil {
			t.Errorf("truncated page parsed: %+v", got)
		}
	}
}

func TestCompatShopifyParsers(t *testing.T) {
	s := sim.New(sim.Config{Catalog: sim.TestCatalog(), Seed: 21})
	h := s.Handler()
	var want []sim.Product
	for _, p := range s.Products() {
		if p.Site != sim.SiteShopify {
			continue
		}
		want = append(want, p)
		status, _, body := render(t, h, "/"+p.Store+"/products/"+p.Handle+".js")
		if _, throttled := shopify.DetectThrottle(status, body); throttled {
			t.Errorf("%s: product detected as throttled", p.Handle)
		}
		got, err := shopify.ParseProductJS(body)
		if err != nil {
			t.Errorf("%s: ParseProductJS: %v", p.Handle, err)
			continue
		}
		checkShopify(t, "js "+p.Handle, got, p)
	}
	status, _, body := render(t, h, "/shop.example.com/products.json?limit=250&page=1")
	list, err := shopify.ParseProductsJSON(body)
	if status != 200 || err != nil || len(list) != len(want) {
		t.Fatalf("products.json: %d %v, %d products", status, err, len(list))
	}
	for i := range list {
		checkShopify(t, "json "+want[i].Handle, list[i], want[i])
	}
	_, _, body = render(t, h, "/shop.example.com/products.json?limit=250&page=2")
	if list, err := shopify.ParseProductsJSON(body); err != nil || len(list) != 0 {
		t.Errorf("past the last page: %d products, %v", len(list), err)
	}
	for _, f := range []sim.Faults{{Rate429: 1}, {RateCaptcha: 1}, {RateBlocked: 1}} {
		s := sim.New(sim.Config{Catalog: sim.TestCatalog(), Faults: f})
		status, _, body := render(t, s.Handler(), "/shop.example.com/products.json")
		if _, throttled := shopify.DetectThrottle(status, body); !throttled {
			t.Errorf("%+v: DetectThrottle(%d) = false", f, status)
		}
	}
}

func checkShopify(t *testing.T, name string, got shopify.Product, p sim.Product) {
	t.Helper()
	id := fmt.Sprint(got.ID)
	if id != p.SKU || got.Handle != p.Handle || got.Title != p.Title || got.Available != p.InStock || !strings.HasPrefix(got.Image, "https://cdn.shopify.com/") {
		t.Errorf("%s: parsed %+v", name, got)
	}
	if len(got.Variants) != len(p.Variants) {
		t.Fatalf("%s: %d variants, want %d", name, len(got.Variants), len(p.Variants))
	}
	for i, v := range got.Variants {
		w := p.Variants[i]
		if v.ID != w.ID || v.Available != w.InStock || v.Price != fmt.Sprintf("%d.%02d", w.PriceCents/100, w.PriceCents%100) {
			t.Errorf("%s: variant %+v, want %+v", name, v, w)
		}
	}
}

// httpFetcher is a minimal monitors.Fetcher over net/http.
type httpFetcher struct{ c *http.Client }

func (f httpFetcher) Fetch(ctx context.Context, req *monitors.Request) (*monitors.Response, error) {
	method := req.Method
	if method == "" {
		method = "GET"
	}
	hr, err := http.NewRequestWithContext(ctx, method, req.URL, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range req.Header {
		hr.Header[k] = v
	}
	res, err := f.c.Do(hr)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &monitors.Response{Status: res.StatusCode, Header: res.Header, Body: body, URL: res.Request.URL.String()}, nil
}

// TestCompatMonitorsEndToEnd runs every demo target's real monitor against
// a live simulator, flips every product over HTTP and runs them again.
func TestCompatMonitorsEndToEnd(t *testing.T) {
	s := sim.New(sim.Config{Catalog: sim.DemoCatalog(), Seed: 4, NewOfferOnRestock: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	tr := &http.Transport{}
	defer func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-done
	}()
	base := "http://" + ln.Addr().String()
	f := httpFetcher{&http.Client{Transport: tr, Timeout: 10 * time.Second}}
	mons := map[string]monitors.Monitor{"amazon": amazon.New(), "walmart": walmart.New(), "shopify": shopify.New()}

	check := func(round string) {
		for _, tg := range sim.DemoTargets(base) {
			tg := tg
			m := mons[tg.Site]
			if v, ok := m.(monitors.TargetValidator); ok {
				if err := v.ValidateTarget(&tg); err != nil {
					t.Errorf("%s: %+v rejected: %v", round, tg, err)
					continue
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			obs := m.Check(ctx, &tg, f)
			cancel()
			want := expected(t, s, tg)
			if obs.Outcome != want {
				t.Errorf("%s: %s %s %s%s: %s (%s), want %s", round, tg.Site, tg.Region, tg.SKU, tg.Handle, obs.Outcome, obs.Reason, want)
				continue
			}
			if want != monitors.InStock {
				continue
			}
			o := obs.Offers[0]
			if tg.Site != sim.SiteShopify {
				p, _ := s.Product(tg.Site, tg.Region, tg.SKU)
				if o.SKU != p.SKU || o.OfferID != p.OfferID || o.Price != plainPrice(p) {
					t.Errorf("%s: %s %s: offer %+v, want sku %s offer %.12q… price %s", round, tg.Site, tg.SKU, o, p.SKU, p.OfferID, plainPrice(p))
				}
			}
			if u, err := url.Parse(o.Image); err != nil || u.Scheme != "https" {
				t.Errorf("%s: %s %s: image %q", round, tg.Site, tg.SKU, o.Image)
			}
		}
	}
	check("initial")
	for _, p := range s.Products() {
		region, sku := p.Region, p.SKU
		if p.Site == sim.SiteShopify {
			region, sku = p.Store, p.Handle
		}
		if err := s.SetStock(p.Site, region, sku, !p.InStock); err != nil {
			t.Fatal(err)
		}
	}
	check("flipped")
}

// TestCompatFaultsNeverFlipStock runs the real monitors through every
// injected fault: a bot wall, a throttle, a slow or cut-off answer must
// come out as Blocked or Error, never as the opposite stock state (a
// false restock or a false sell-out).
func TestCompatFaultsNeverFlipStock(t *testing.T) {
	faults := sim.Faults{Rate429: 0.1, Rate503: 0.1, RateCaptcha: 0.1, RateBlocked: 0.1, RateSlow: 0.1, SlowDelay: 2 * time.Millisecond, RateTruncated: 0.2}
	for _, in := range []bool{true, false} {
		s := sim.New(sim.Config{Catalog: sim.DemoCatalog(), Seed: 8, Faults: faults})
		for _, p := range s.Products() {
			region, sku := p.Region, p.SKU
			if p.Site == sim.SiteShopify {
				region, sku = p.Store, p.Handle
			}
			if err := s.SetStock(p.Site, region, sku, in); err != nil {
				t.Fatal(err)
			}
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Serve(ln) }()
		tr := &http.Transport{}
		f := httpFetcher{&http.Client{Transport: tr, Timeout: 10 * time.Second}}
		mons := map[string]monitors.Monitor{"amazon": amazon.New(), "walmart": walmart.New(), "shopify": shopify.New()}
		right, wrong := monitors.InStock, monitors.OutOfStock
		if !in {
			right, wrong = wrong, right
		}
		outcomes := map[monitors.Outcome]int{}
		for round := range 6 {
			for _, tg := range sim.DemoTargets("http://" + ln.Addr().String()) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				obs := mons[tg.Site].Check(ctx, &tg, f)
				cancel()
				outcomes[obs.Outcome]++
				if obs.Outcome == wrong {
					t.Errorf("in stock=%v round %d: %s %s %s%s reported %s (%s)", in, round, tg.Site, tg.Region, tg.SKU, tg.Handle, obs.Outcome, obs.Reason)
				}
			}
		}
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Shutdown(ctx)
		cancel()
		<-done
		// The mix must actually have exercised both paths.
		if outcomes[monitors.Blocked] == 0 || outcomes[monitors.Error] == 0 || outcomes[right] == 0 {
			t.Errorf("in stock=%v: outcomes %v do not mix faults and real answers", in, outcomes)
		}
		t.Logf("in stock=%v: outcomes %v", in, outcomes)
	}
}

// demoKeywordHits lists, by hand, the demo products each keyword target of
// sim.DemoTargets matches (keyed by fmt.Sprint of its keyword groups).
var demoKeywordHits = map[string][]string{
	"[[nike dunk]]": {"nike-dunk-low-retro-panda"},
}

// expected is the outcome a monitor should report for tg right now.
func expected(t *testing.T, s *sim.Server, tg monitors.Target) monitors.Outcome {
	t.Helper()
	if tg.Site == sim.SiteShopify && tg.Handle == "" {
		// Keyword target: in stock when a product a person reads as
		// matching has stock. The oracle is the hand-written table, not
		// shopify.MatchKeywords, which is the code under test.
		key := fmt.Sprint(tg.Keywords)
		handles, ok := demoKeywordHits[key]
		if !ok {
			t.Fatalf("keyword target %s has no entry in demoKeywordHits", key)
		}
		store := strings.TrimPrefix(tg.Store, "https://")
		for _, h := range handles {
			if p, ok := s.Product(sim.SiteShopify, store, h); ok && p.InStock {
				return monitors.InStock
			}
		}
		return monitors.OutOfStock
	}
	region, sku := tg.Region, tg.SKU
	if tg.Site == sim.SiteShopify {
		region, sku = strings.TrimPrefix(tg.Store, "https://"), tg.Handle
	}
	p, ok := s.Product(tg.Site, region, sku)
	if !ok {
		t.Fatalf("no product for %+v", tg)
	}
	if p.InStock {
		return monitors.InStock
	}
	return monitors.OutOfStock
}
