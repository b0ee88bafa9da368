package node

// End to end against the simulator: a YAML config (testdata/e2e-config.yaml)
// watching every product of testdata/e2e-catalog.json (all twelve Amazon
// regions, Walmart USA and CA, one Shopify store) is loaded through
// internal/config, mapped with FromConfig and run by a real node whose
// monitors poll a real simulator over 127.0.0.1. Stock is flipped through
// the simulator; a WebSocket client with the demo key must get exactly one
// valid Stellar ping per out→in flip and nothing else: not for products
// that stay out of stock, are sold only by a third party under
// `merchant: amazon`, cost more than `maxPrice`, or sit behind captcha and
// block pages; and a restart on the same data directory re-pings nothing.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/config"
	"github.com/stellarfeed/stellarfeed/internal/sim"
	"github.com/stellarfeed/stellarfeed/internal/testutil"
	_ "github.com/stellarfeed/stellarfeed/monitors/all" // the config is validated against the real monitors
	"github.com/stellarfeed/stellarfeed/stellar"
)

// e2eRef names what SetStock changes: for Shopify, region is the store
// host and sku a variant id.
type e2eRef struct{ site, region, sku string }

func (r e2eRef) String() string { return r.site + "/" + r.region + "/" + r.sku }

const e2eStore = "e2e-kicks.myshopify.com"

// e2eRestocks start out of stock and ping once per out→in flip: one per
// Amazon region, Walmart USA and CA, and one variant of the Shopify product.
var e2eRestocks = []e2eRef{
	{sim.SiteAmazon, "USA", "B0CHX1W1XY"},
	{sim.SiteAmazon, "CA", "B0CL5KNB9M"},
	{sim.SiteAmazon, "UK", "B0D3J6L2ZQ"},
	{sim.SiteAmazon, "NL", "B0CKZGY5B6"},
	{sim.SiteAmazon, "FR", "B0BSHF7WHW"},
	{sim.SiteAmazon, "IT", "B0CSTJ2Y7N"},
	{sim.SiteAmazon, "DE", "B0CJKTWTR1"},
	{sim.SiteAmazon, "JP", "B0D6TH8K4M"},
	{sim.SiteAmazon, "ES", "B0C8V88KXK"},
	{sim.SiteAmazon, "BE", "B0CHWRXH8B"},
	{sim.SiteAmazon, "PL", "B0BDJ6ZMCC"},
	{sim.SiteAmazon, "AU", "B0BN942894"},
	{sim.SiteWalmart, "USA", "5113183757"},
	{sim.SiteWalmart, "CA", "6000207312545"},
	{sim.SiteShopify, e2eStore, "44012345678901"},
}

// e2eFiltered restock in the simulator but never pass their target's
// filters.
var e2eFiltered = []e2eRef{
	{sim.SiteAmazon, "USA", "B0DR8G4PQ2"}, // third party only, target merchant amazon
	{sim.SiteAmazon, "DE", "B0CHWV5HTM"},  // 1449.00, target maxPrice 1000
}

// The catalog's other products are never touched: Amazon UK B0BDHWDR12,
// Walmart USA 1736740710 and Shopify variant 44012345678902 stay out of
// stock, Amazon ES B0CGRX3H1W is in stock from the start (first-run
// suppression: no ping).

// e2eSites are the Stellar site names, as configured in e2e-config.yaml.
var e2eSites = map[string]string{"amazon": "amazon", "walmart.USA": "walmart", "walmart.CA": "walmartca", "shopify": "shopify"}

func TestEndToEndEngineAgainstSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts a simulator and a node")
	}
	logs := &e2eLogs{}
	log := slog.New(logs)
	t.Cleanup(func() {
		if s := logs.String(); t.Failed() && s != "" {
			t.Logf("warnings and errors logged:\n%s", s)
		}
	})

	// The simulator outlives node restarts, like a real retailer.
	catalog := e2eCatalog(t)
	scfg := sim.Config{Catalog: catalog, Seed: 42, NewOfferOnRestock: true, Logger: log}
	if err := scfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := sim.New(scfg)
	simAddr := e2eServeSim(t, srv)

	dataDir := t.TempDir()
	file := e2eLoadConfig(t, simAddr, dataDir)
	cfg := FromConfig(file)
	if cfg.DataDir != dataDir {
		t.Fatalf("FromConfig: DataDir %q, want server.data %q", cfg.DataDir, dataDir)
	}
	e2eCheckTargets(t, cfg.Targets, catalog, simAddr)
	cfg.Demo, cfg.RunEngine, cfg.Logger = true, true, log
	rules := cfg.Rules

	// --- First run: nothing pings at start, every flip pings once.
	n, stop := e2eStart(t, cfg)
	col := e2eCollect(t, dial(t, n, "key="+n.Demo().Subscriber), rules)
	e2eWaitGoodChecks(t, n, e2eChecks(n), 1)
	if got := col.pings(); len(got) != 0 {
		t.Fatalf("pings before any flip (first-run suppression): %v", got)
	}

	flipRound := func(round string) {
		t.Helper()
		want := make([]stellar.Ping, 0, len(e2eRestocks))
		before := col.count()
		for _, r := range append(slices.Clone(e2eRestocks), e2eFiltered...) {
			e2eSetStock(t, srv, r, true)
		}
		for _, r := range e2eRestocks {
			want = append(want, e2eExpected(t, srv, r))
		}
		col.waitFor(t, before+len(want), round)
		// Two more good checks of every target after the last ping:
		// anything else the flips caused has arrived by then.
		e2eWaitGoodChecks(t, n, e2eChecks(n), 2)
		e2eSamePings(t, round, col.pings()[before:], want)
	}
	flipOut := func(round string, refs []e2eRef) {
		t.Helper()
		since := e2eChecks(n)
		for _, r := range refs {
			e2eSetStock(t, srv, r, false)
		}
		before := col.count()
		e2eWaitGoodChecks(t, n, since, 2)
		e2eWaitOutcome(t, n, refs, "out_of_stock")
		if got := col.pings()[before:]; len(got) != 0 {
			t.Fatalf("%s: sold-outs pinged: %v", round, got)
		}
	}

	flipRound("first restock")
	flipOut("sell out", append(slices.Clone(e2eRestocks), e2eFiltered...))
	// A second restock of the same products pings again (cooldown is off
	// in the config), with Amazon's new offer ids.
	flipRound("second restock")

	// --- Faults: captcha and block pages on every request. Nothing pings,
	// nothing reads as sold out, and nothing re-pings once they stop.
	soldOut := e2eMetricSum(t, n.Metrics(), "stellarfeed_sold_out_total{")
	blocked := e2eMetricSum(t, n.Metrics(), `stellarfeed_checks_total{`, `outcome="blocked"`)
	before := col.count()
	if err := srv.SetFaults(sim.Faults{RateCaptcha: 0.5, RateBlocked: 0.5}); err != nil {
		t.Fatal(err)
	}
	since := e2eChecks(n)
	testutil.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		for _, st := range n.Engine().Status() {
			if st.Checks < since[st.ID]+2 || st.LastOutcome != "blocked" {
				return fmt.Errorf("%s: %d checks since faults, last %q", e2eDescribe(st), st.Checks-since[st.ID], st.LastOutcome)
			}
		}
		return nil
	})
	for _, site := range []string{"amazon", "walmart", "shopify"} {
		if v := e2eMetric(t, n.Metrics(), `stellarfeed_checks_total{site="`+site+`",outcome="blocked"}`); v == 0 {
			t.Errorf("no blocked %s check under faults", site)
		}
	}
	// The operator sees the blocks: every target blocked, with the
	// monitor's reason, in the admin API.
	if url, tok, err := LocalAPI(dataDir); err != nil {
		t.Error(err)
	} else if list, err := api.NewClient(url, tok, nil).Targets(context.Background()); err != nil {
		t.Error(err)
	} else {
		for _, tg := range list.Targets {
			if tg.Outcome != "blocked" || tg.Reason == "" || tg.Since == nil || tg.Proxy != "direct" {
				t.Errorf("admin API under faults: %+v", tg)
			}
		}
		if list.Total != len(cfg.Targets) || list.BySite["amazon"].ByOutcome["blocked"] == 0 {
			t.Errorf("admin API: total %d, want %d; by site %v", list.Total, len(cfg.Targets), list.BySite)
		}
	}
	if err := srv.SetFaults(sim.Faults{}); err != nil {
		t.Fatal(err)
	}
	e2eWaitGoodChecks(t, n, e2eChecks(n), 2)
	e2eWaitOutcome(t, n, e2eRestocks, "in_stock")
	if got := col.pings()[before:]; len(got) != 0 {
		t.Fatalf("pings during or after faults: %v", got)
	}
	if v := e2eMetricSum(t, n.Metrics(), "stellarfeed_sold_out_total{"); v != soldOut {
		t.Fatalf("faults read as sold out: sold-out events %v, want %v", v, soldOut)
	}
	if v := e2eMetricSum(t, n.Metrics(), `stellarfeed_checks_total{`, `outcome="blocked"`); v <= blocked {
		t.Fatalf("blocked checks %v before and after faults: the faults were not seen", v)
	}

	// --- Restart in the middle. The Walmart product sells out before the
	// stop and restocks while the node is down (a restock nobody was told
	// about: it pings once after the restart); the Amazon IT one sells out
	// while it is down; everything else stays in stock and must not ping.
	wm, it := e2eRestocks[12], e2eRestocks[5]
	flipOut("before restart", []e2eRef{wm})
	total := col.count()
	e2eNoInvalidPings(t, n) // the node's metrics go with it
	stop()
	col.wait(t)
	e2eSetStock(t, srv, wm, true)
	e2eSetStock(t, srv, it, false)
	wantWM := e2eExpected(t, srv, wm)

	n, _ = e2eStart(t, cfg)
	col2 := e2eCollect(t, dial(t, n, "key="+n.Demo().Subscriber), rules)
	e2eWaitGoodChecks(t, n, nil, 2)
	// The client may connect after the engine's first checks, so the
	// broadcaster's counter is the authority on what was published since
	// the restart; the client must not see more.
	if pub := n.Hub().Stats().Published; pub != 1 {
		t.Fatalf("after restart: %d pings published, want 1 (the product restocked while down); client saw %v", pub, col2.pings())
	}
	if got := col2.pings(); len(got) > 1 || len(got) == 1 && !e2eSamePing(got[0], wantWM) {
		t.Fatalf("after restart the client got %v, want at most %v", got, wantWM)
	}
	e2eWaitOutcome(t, n, []e2eRef{it}, "out_of_stock")

	// A new flip after the restart pings once.
	before = col2.count()
	e2eSetStock(t, srv, it, true)
	wantIT := e2eExpected(t, srv, it)
	col2.waitFor(t, before+1, "flip after restart")
	e2eWaitGoodChecks(t, n, e2eChecks(n), 2)
	e2eSamePings(t, "flip after restart", col2.pings()[before:], []stellar.Ping{wantIT})
	if pub := n.Hub().Stats().Published; pub != 2 {
		t.Fatalf("after restart: %d pings published, want 2", pub)
	}
	e2eNoInvalidPings(t, n)
	if bad := append(col.invalid(), col2.invalid()...); len(bad) > 0 {
		t.Fatalf("clients got pings that break Stellar's rules: %q", bad)
	}
	if want := 2 * len(e2eRestocks); total != want {
		t.Fatalf("before the restart the client got %d pings, want %d", total, want)
	}
}

// e2eNoInvalidPings: the engine dropped no restock for breaking
// Stellar's rules.
func e2eNoInvalidPings(t *testing.T, n *Node) {
	t.Helper()
	for _, site := range []string{"amazon", "walmart", "shopify"} {
		if v := e2eMetric(t, n.Metrics(), `stellarfeed_pings_invalid_total{site="`+site+`"}`); v != 0 {
			t.Errorf("%v invalid %s pings dropped by the engine", v, site)
		}
	}
}

// e2eCatalog reads testdata/e2e-catalog.json and checks it covers what the
// issue asks for.
func e2eCatalog(t *testing.T) sim.Catalog {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "e2e-catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := sim.ParseCatalog(data)
	if err != nil {
		t.Fatal(err)
	}
	regions := map[string]bool{}
	for _, r := range e2eRestocks {
		if r.site == sim.SiteAmazon {
			regions[r.region] = true
		}
		if r.site == sim.SiteWalmart {
			regions["walmart."+r.region] = true
		}
	}
	for _, want := range append(stellar.Regions(), "walmart.USA", "walmart.CA") {
		if !regions[want] {
			t.Fatalf("e2eRestocks: nothing restocks in %s", want)
		}
	}
	return c
}

// e2eServeSim serves srv on 127.0.0.1:0 until the test ends.
func e2eServeSim(t *testing.T, srv *sim.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("simulator shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("simulator Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// e2eLoadConfig fills in the simulator address and data directory and
// loads the file through internal/config, as `stellarfeed run --config`
// does.
func e2eLoadConfig(t *testing.T, simAddr, dataDir string) *config.Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "e2e-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte("@SIM@"), []byte(simAddr))
	data = bytes.ReplaceAll(data, []byte("@DATA@"), []byte(dataDir))
	path := filepath.Join(t.TempDir(), "stellarfeed.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func e2eTargetKey(site, region, sku, store, handle string) string {
	if site == sim.SiteShopify {
		return site + "|" + strings.TrimPrefix(store, "https://") + "|" + handle
	}
	return site + "|" + region + "|" + sku
}

// e2eSimPrefixes maps each catalog product to the simulator URL that
// serves it (sim.CatalogTargets knows each retailer's path prefix).
func e2eSimPrefixes(c sim.Catalog, base string) map[string]string {
	m := map[string]string{}
	for _, tg := range sim.CatalogTargets(c, base) {
		m[e2eTargetKey(tg.Site, tg.Region, tg.SKU, tg.Store, tg.Handle)] = tg.BaseURL
	}
	return m
}

// e2eCheckTargets: the config watches every catalog product exactly once,
// through the simulator, with the filters the test relies on.
func e2eCheckTargets(t *testing.T, ts []engine.Target, c sim.Catalog, simAddr string) {
	t.Helper()
	prefixes := e2eSimPrefixes(c, "http://"+simAddr)
	seen := map[string]bool{}
	for _, tg := range ts {
		k := e2eTargetKey(tg.Site, tg.Region, tg.SKU, tg.Store, tg.Handle)
		if _, ok := prefixes[k]; !ok || seen[k] {
			t.Fatalf("target %s: not in the catalog, or watched twice", k)
		}
		seen[k] = true
		if tg.BaseURL != prefixes[k] {
			t.Errorf("target %s: baseURL %q, want the simulator's %q from baseURLs", k, tg.BaseURL, prefixes[k])
		}
		if tg.Interval != 150*time.Millisecond || tg.Group == "" || !slices.Contains(tg.Tags, "e2e") {
			t.Errorf("target %s: interval %v group %q tags %v", k, tg.Interval, tg.Group, tg.Tags)
		}
		switch k {
		case "amazon|USA|B0DR8G4PQ2":
			if tg.Merchant != "amazon" {
				t.Errorf("target %s: merchant %q, want amazon", k, tg.Merchant)
			}
		case "amazon|DE|B0CHWV5HTM":
			if tg.MaxPrice != 1000 {
				t.Errorf("target %s: maxPrice %v, want 1000", k, tg.MaxPrice)
			}
		}
	}
	if len(seen) != len(prefixes) {
		t.Fatalf("%d targets for %d catalog products", len(seen), len(prefixes))
	}
}

// e2eStart starts a node; stop shuts it down once (also at cleanup).
func e2eStart(t *testing.T, cfg Config) (*Node, func()) {
	t.Helper()
	cfg.WSAddr, cfg.APIAddr = "127.0.0.1:0", "127.0.0.1:0"
	n, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := n.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return n, stop
}

func e2eSetStock(t *testing.T, srv *sim.Server, r e2eRef, in bool) {
	t.Helper()
	if err := srv.SetStock(r.site, r.region, r.sku, in); err != nil {
		t.Fatal(err)
	}
}

// e2eExpected is the ping the catalog says a restock of r must produce.
func e2eExpected(t *testing.T, srv *sim.Server, r e2eRef) stellar.Ping {
	t.Helper()
	switch r.site {
	case sim.SiteShopify:
		return stellar.Ping{Site: e2eSites["shopify"], SKU: r.sku}
	case sim.SiteWalmart:
		p, ok := srv.Product(r.site, r.region, r.sku)
		if !ok {
			t.Fatalf("%s: not in the simulator", r)
		}
		return stellar.Ping{Site: e2eSites["walmart."+r.region], SKU: r.sku, OfferID: p.OfferID}
	default:
		p, ok := srv.Product(r.site, r.region, r.sku)
		if !ok {
			t.Fatalf("%s: not in the simulator", r)
		}
		return stellar.Ping{Site: e2eSites["amazon"], Region: r.region, SKU: r.sku, OfferID: p.OfferID}
	}
}

// e2eSamePing compares the identity fields; details are checked apart.
func e2eSamePing(a, b stellar.Ping) bool {
	return a.Site == b.Site && a.Region == b.Region && a.SKU == b.SKU && a.OfferID == b.OfferID
}

// e2eSamePings: got and want hold the same pings, each exactly once, in
// any order, every one with the product's details.
func e2eSamePings(t *testing.T, round string, got, want []stellar.Ping) {
	t.Helper()
	left := slices.Clone(want)
	for _, p := range got {
		i := slices.IndexFunc(left, func(w stellar.Ping) bool { return e2eSamePing(p, w) })
		if i < 0 {
			t.Errorf("%s: unexpected or repeated ping %s", round, e2eFormat(p))
			continue
		}
		left = slices.Delete(left, i, i+1)
		if d := p.Details; d == nil || d.ProductTitle == "" || d.ProductPrice == "" || !strings.HasPrefix(d.ProductImage, "https://") {
			t.Errorf("%s: ping %s lacks product details", round, e2eFormat(p))
		}
	}
	for _, w := range left {
		t.Errorf("%s: no ping for %s", round, e2eFormat(w))
	}
	if t.Failed() {
		t.FailNow()
	}
}

func e2eFormat(p stellar.Ping) string {
	s := fmt.Sprintf("%s/%s/%s offer %q", p.Site, p.Region, p.SKU, p.OfferID)
	if p.Details != nil {
		s += fmt.Sprintf(" %+v", *p.Details)
	}
	return s
}

// e2eChecks snapshots every target's check count.
func e2eChecks(n *Node) map[engine.TargetID]uint64 {
	m := map[engine.TargetID]uint64{}
	for _, st := range n.Engine().Status() {
		m[st.ID] = st.Checks
	}
	return m
}

func e2eDescribe(st engine.TargetStatus) string {
	tg := st.Target
	return e2eTargetKey(tg.Site, tg.Region, tg.SKU, tg.Store, tg.Handle)
}

// e2eWaitGoodChecks waits until every target has finished k checks since
// the snapshot and its last one read the page (in or out of stock): a
// check that started before a flip has ended and one after it has run.
func e2eWaitGoodChecks(t *testing.T, n *Node, since map[engine.TargetID]uint64, k uint64) {
	t.Helper()
	testutil.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		sts := n.Engine().Status()
		if len(sts) == 0 {
			return errors.New("no targets running yet")
		}
		for _, st := range sts {
			if st.Checks < since[st.ID]+k {
				return fmt.Errorf("%s: %d of %d checks", e2eDescribe(st), st.Checks-since[st.ID], k)
			}
			if st.LastOutcome != "in_stock" && st.LastOutcome != "out_of_stock" {
				return fmt.Errorf("%s: last check %q", e2eDescribe(st), st.LastOutcome)
			}
		}
		return nil
	})
}

// e2eWaitOutcome waits until the targets of refs report outcome.
func e2eWaitOutcome(t *testing.T, n *Node, refs []e2eRef, outcome string) {
	t.Helper()
	want := map[string]bool{}
	for _, r := range refs {
		switch r.site {
		case sim.SiteShopify:
			want[e2eTargetKey(r.site, "", "", r.region, "nike-dunk-low-retro-panda")] = true
		default:
			want[e2eTargetKey(r.site, r.region, r.sku, "", "")] = true
		}
	}
	testutil.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		for _, st := range n.Engine().Status() {
			if k := e2eDescribe(st); want[k] && st.LastOutcome != outcome {
				return fmt.Errorf("%s: last check %q, want %q", k, st.LastOutcome, outcome)
			}
		}
		return nil
	})
}

// e2eCollector reads every frame a WebSocket client receives.
type e2eCollector struct {
	done chan struct{}

	mu  sync.Mutex
	got []stellar.Ping
	bad []string
}

// e2eCollect reads c until it closes (node shutdown or test cleanup).
func e2eCollect(t *testing.T, c net.Conn, rules stellar.Rules) *e2eCollector {
	col := &e2eCollector{done: make(chan struct{})}
	go func() {
		defer close(col.done)
		for {
			data, op, err := wsutil.ReadServerData(c)
			if err != nil {
				return
			}
			if op != ws.OpText {
				continue
			}
			p, err := rules.Parse(data)
			col.mu.Lock()
			if err != nil {
				col.bad = append(col.bad, fmt.Sprintf("%s: %v", data, err))
			} else {
				col.got = append(col.got, p)
			}
			col.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		c.Close()
		<-col.done
	})
	return col
}

// count includes invalid frames: every frame is a ping the engine sent.
func (c *e2eCollector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got) + len(c.bad)
}

func (c *e2eCollector) pings() []stellar.Ping {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

func (c *e2eCollector) invalid() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.bad)
}

func (c *e2eCollector) waitFor(t *testing.T, n int, what string) {
	t.Helper()
	testutil.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		if got := c.count(); got < n {
			return fmt.Errorf("%s: %d of %d pings: %v (invalid: %q)", what, got, n, c.pings(), c.invalid())
		}
		return nil
	})
}

// wait returns once the server has closed the connection.
func (c *e2eCollector) wait(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("client still connected 10s after the node shut down")
	}
}

// e2eMetric reads one series of set; a missing series fails the test
// (a renamed metric must not make a check vacuous).
func e2eMetric(t *testing.T, set *metrics.Set, series string) float64 {
	t.Helper()
	return e2eMetricSum(t, set, series+" ")
}

// e2eMetricSum adds every series starting with prefix and containing all
// of parts; it fails the test when there is none.
func e2eMetricSum(t *testing.T, set *metrics.Set, prefix string, parts ...string) float64 {
	t.Helper()
	var b bytes.Buffer
	set.WritePrometheus(&b)
	sum, found := 0.0, 0
	for line := range strings.Lines(b.String()) {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(strings.TrimSpace(line[i+1:]), 64); ok && err == nil {
			sum += v
			found++
		}
	}
	if found == 0 {
		t.Fatalf("no metric series %s %v", strings.TrimSpace(prefix), parts)
	}
	return sum
}

// e2eLogs keeps warnings and errors for the failure report, without
// writing through t from node goroutines.
type e2eLogs struct {
	mu    sync.Mutex
	lines []string
}

func (l *e2eLogs) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }

func (l *e2eLogs) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}

func (l *e2eLogs) WithAttrs(as []slog.Attr) slog.Handler {
	return &e2eLogsView{root: l, attrs: as}
}

func (l *e2eLogs) WithGroup(string) slog.Handler { return l }

func (l *e2eLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) > 200 {
		return strings.Join(l.lines[:200], "\n") + fmt.Sprintf("\n... %d more", len(l.lines)-200)
	}
	return strings.Join(l.lines, "\n")
}

// e2eLogsView is a child logger's handler: its attrs, the root's lines.
type e2eLogsView struct {
	root  *e2eLogs
	attrs []slog.Attr
}

func (v *e2eLogsView) Enabled(ctx context.Context, lv slog.Level) bool {
	return v.root.Enabled(ctx, lv)
}

func (v *e2eLogsView) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(v.attrs...)
	return v.root.Handle(ctx, r)
}

func (v *e2eLogsView) WithAttrs(as []slog.Attr) slog.Handler {
	return &e2eLogsView{root: v.root, attrs: append(slices.Clone(v.attrs), as...)}
}

func (v *e2eLogsView) WithGroup(string) slog.Handler { return v }
