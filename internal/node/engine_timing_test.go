package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/internal/sim"
	"github.com/stellarfeed/stellarfeed/monitors"
)

// benchCatalog is n products across every retailer the simulator serves:
// 60% Amazon (all twelve regions, a tenth sold by third parties), 25%
// Walmart (USA and CA), 15% Shopify (five stores). Every other product is
// in stock, so both page shapes (buy box; out of stock) are parsed.
func benchCatalog(n int) sim.Catalog {
	regions := sim.AmazonRegions()
	ps := make([]sim.Product, 0, n)
	for i := range n {
		in := i%2 == 0
		title := "Stellar bench product " + strconv.Itoa(i)
		switch k := i % 20; {
		case k < 12:
			region := regions[(i/20*12+k)%len(regions)]
			price := fmt.Sprintf("%d.99", 20+i%400)
			if region == "JP" {
				price = strconv.Itoa(2000 + 10*(i%4000))
			}
			p := sim.Product{Site: sim.SiteAmazon, Region: region, SKU: fmt.Sprintf("B0%08X", 0x1000000+i), Title: title, Price: price,
				Image: "https://m.media-amazon.com/images/I/61bench" + strconv.Itoa(i) + "L._AC_SL1500_.jpg", InStock: in}
			if i%10 == 3 {
				p.SoldBy = sim.SoldByThirdParty
			}
			ps = append(ps, p)
		case k < 17:
			p := sim.Product{Site: sim.SiteWalmart, Region: "USA", SKU: strconv.Itoa(5_100_000_000 + i), Title: title,
				Price: fmt.Sprintf("%d.97", 10+i%300), Image: "https://i5.walmartimages.com/seo/bench-" + strconv.Itoa(i) + ".jpeg", InStock: in}
			if k >= 15 {
				p.Region, p.SKU = "CA", strconv.Itoa(6_000_200_000_000+i)
			}
			ps = append(ps, p)
		default:
			ps = append(ps, sim.Product{Site: sim.SiteShopify, Store: fmt.Sprintf("bench-%d.myshopify.com", i%5),
				Handle: "stellar-bench-" + strconv.Itoa(i), Title: title, Vendor: "Bench", Price: fmt.Sprintf("%d.00", 50+i%200),
				Image: "https://cdn.shopify.com/s/files/1/0612/4481/7254/files/bench-" + strconv.Itoa(i) + ".jpg", InStock: in})
		}
	}
	return sim.Catalog{Products: ps}
}

// BenchmarkEngineChecksAgainstSimulator: a whole node (engine, bolt
// dedupe state, broadcaster) runs 1,000 targets of mixed sites against the
// real simulator on 127.0.0.1, each every 100ms: 10,000 checks/s asked,
// more than 2 cores serve, so the figure is the engine's ceiling with the
// real monitors parsing simulator pages. One op is one finished check
// (from the engine's status counters); checks/s is over the timed window,
// whose length -benchtime sets. The simulator renders its pages in the
// same process and shares the cores, as it does in `make run`; allocations
// are both sides'.
//
//	go test -run '^$' -bench EngineChecksAgainstSimulator -benchtime 5s ./internal/node/
func BenchmarkEngineChecksAgainstSimulator(b *testing.B) {
	const targets = 1000
	catalog := benchCatalog(targets)
	scfg := sim.Config{Catalog: catalog, Seed: 1}
	if err := scfg.Validate(); err != nil {
		b.Fatal(err)
	}
	srv := sim.New(scfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			b.Errorf("simulator shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			b.Errorf("simulator Serve: %v", err)
		}
	}()

	var ts []engine.Target
	for _, t := range sim.CatalogTargets(catalog, "http://"+ln.Addr().String()) {
		ts = append(ts, engine.Target{Target: t, Interval: 100 * time.Millisecond})
	}
	if len(ts) != targets {
		b.Fatalf("%d targets, want %d", len(ts), targets)
	}
	n, err := Start(context.Background(), Config{
		DataDir: b.TempDir(), WSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0",
		RunEngine: true, Targets: ts,
		// The engine's defaults (64 workers, no site limits), as an
		// unconfigured `stellarfeed run` would have.
		Engine: engine.Options{Timeout: 5 * time.Second},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			b.Errorf("node shutdown: %v", err)
		}
	}()

	// checks sums the status counters; all is false until every target
	// has finished a check.
	checks := func() (total uint64, all bool, sts []engine.TargetStatus) {
		sts = n.Engine().Status()
		all = len(sts) == targets
		for _, st := range sts {
			total += st.Checks
			all = all && st.Checks > 0
		}
		return total, all, sts
	}
	// Warm-up: every target checked once (connections dialled, first-run
	// state written).
	deadline := time.Now().Add(2 * time.Minute)
	for _, all, _ := checks(); !all; _, all, _ = checks() {
		if time.Now().After(deadline) {
			b.Fatal("warm-up: not every target checked within 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	n0, _, _ := checks()
	var done uint64
	for done < uint64(b.N) {
		time.Sleep(20 * time.Millisecond)
		total, _, _ := checks()
		done = total - n0
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(done)/elapsed.Seconds(), "checks/s")

	// The figure counts only real checks: the simulator injects no
	// faults, so every outcome must be in or out of stock.
	_, _, sts := checks()
	bad := map[string]int{}
	for _, st := range sts {
		if st.LastOutcome != monitors.InStock.String() && st.LastOutcome != monitors.OutOfStock.String() {
			bad[st.Target.Site+" "+st.LastOutcome]++
		}
	}
	if len(bad) > 0 {
		b.Errorf("targets whose last check failed, by site and outcome: %v", bad)
	}
}
