package engine

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// pageMonitor is a trivial monitor over real HTTP: "add-to-cart" in the
// page means in stock.
type pageMonitor struct{}

func (pageMonitor) Check(ctx context.Context, t *monitors.Target, f monitors.Fetcher) monitors.Observation {
	resp, err := f.Fetch(ctx, &monitors.Request{URL: t.BaseURL + "/dp/" + t.SKU, Region: t.Region})
	if err != nil {
		return monitors.Observation{Outcome: monitors.Error, Reason: err.Error()}
	}
	if resp.Status != 200 {
		return monitors.Observation{Outcome: monitors.Blocked, Reason: fmt.Sprint(resp.Status)}
	}
	obs := monitors.Observation{Outcome: monitors.OutOfStock, StellarSite: "amazon", Region: t.Region}
	if bytes.Contains(resp.Body, []byte("add-to-cart")) {
		obs.Outcome = monitors.InStock
		obs.Offers = []monitors.Offer{{SKU: t.SKU, OfferID: "OID" + t.SKU, Price: "19.99"}}
	}
	return obs
}

func startPageServer(b *testing.B) string {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	in := []byte(`<html><title>Widget</title><div id="buybox"><input id="add-to-cart-button"></div></html>`)
	out := []byte(`<html><title>Widget</title><div id="outOfStock">Currently unavailable.</div></html>`)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/html")
		if bytes.HasSuffix(ctx.Path(), []byte("7")) {
			ctx.SetBody(in)
		} else {
			ctx.SetBody(out)
		}
	}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	b.Cleanup(func() {
		srv.Shutdown()
		<-done
	})
	return "http://" + ln.Addr().String()
}

// BenchmarkEngineChecks: 1,000 targets polling a local server every 20ms
// (50,000 checks/s asked, above what 2 cores serve); reports the checks/s
// the engine sustains. The server shares the cores.
func BenchmarkEngineChecks(b *testing.B) {
	benchChecks(b, startPageServer(b), Options{})
}

// benchChecks runs 1,000 targets against base with opts and reports the
// checks/s sustained once every target has been checked once.
func benchChecks(b *testing.B, base string, opts Options) {
	set := metrics.NewSet()
	opts.Logger, opts.Metrics = quiet, set
	e, err := New(opts, func(string) (monitors.Monitor, error) { return pageMonitor{}, nil }, nil)
	if err != nil {
		b.Fatal(err)
	}
	var ts []Target
	for i := range 1000 {
		ts = append(ts, Target{Target: monitors.Target{Site: "amazon", Region: "DE", SKU: fmt.Sprintf("B%09d", i), BaseURL: base}, Interval: 20 * time.Millisecond})
	}
	if err := e.ApplyTargets(ts); err != nil {
		b.Fatal(err)
	}
	total := func() uint64 {
		var n uint64
		for _, o := range []string{"in_stock", "out_of_stock", "error", "blocked"} {
			n += set.GetOrCreateCounter(`stellarfeed_checks_total{site="amazon",outcome="` + o + `"}`).Get()
		}
		return n
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	// Warm up: every target checked once (connections dialled).
	for total() < 1000 {
		time.Sleep(10 * time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, n0 := time.Now(), total()
	for total()-n0 < uint64(b.N) {
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	n := total() - n0
	b.ReportMetric(float64(n)/elapsed.Seconds(), "checks/s")
	bad := set.GetOrCreateCounter(`stellarfeed_checks_total{site="amazon",outcome="error"}`).Get()
	skipped := set.GetOrCreateCounter(`stellarfeed_check_skipped_total{site="amazon"}`).Get()
	b.ReportMetric(float64(skipped)/float64(n), "skipped/check")
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if bad > 0 {
		b.Errorf("%d checks failed", bad)
	}
}

// BenchmarkDedupeObserve: the steady state (nothing changes), one product.
func BenchmarkDedupeObserve(b *testing.B) {
	d := newDedupe(DedupeOptions{}.resolve(), nil, quiet, metrics.NewSet())
	obs := in(offer("B0000000AA", "O1"))
	now := time.Now()
	d.observe(1, "amazon", &obs, now)
	b.ReportAllocs()
	for b.Loop() {
		d.observe(1, "amazon", &obs, now)
	}
}

func TestDedupeObserveAllocs(t *testing.T) {
	d := newDedupe(DedupeOptions{}.resolve(), nil, quiet, metrics.NewSet())
	obs := in(offer("B0000000AA", "O1"))
	now := time.Now()
	d.observe(1, "amazon", &obs, now)
	// The key string, the group slice and the offer-id slice.
	if n := testing.AllocsPerRun(100, func() { d.observe(1, "amazon", &obs, now) }); n > 4 {
		t.Errorf("%v allocs per steady-state observe, budget 4", n)
	}
}
