package engine

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/stellarfeed/stellarfeed/engine/fetch"
	"github.com/stellarfeed/stellarfeed/monitors"
)

// BenchmarkEngineChecksBrowser is BenchmarkEngineChecks over https:// with
// the browser client (Chrome's ClientHello, HTTP/2, cookies): 1,000
// targets every 20ms against a local net/http TLS server sharing the cores.
//
//	go test -run '^$' -bench EngineChecksBrowser -benchtime 20000x ./engine/
func BenchmarkEngineChecksBrowser(b *testing.B) {
	in := []byte(`<html><title>Widget</title><div id="buybox"><input id="add-to-cart-button"></div></html>`)
	out := []byte(`<html><title>Widget</title><div id="outOfStock">Currently unavailable.</div></html>`)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if strings.HasSuffix(r.URL.Path, "7") {
			w.Write(in)
		} else {
			w.Write(out)
		}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	set := metrics.NewSet()
	e, err := New(Options{Logger: quiet, Metrics: set, TLS: &fetch.TLSOptions{RootCAs: roots}},
		func(string) (monitors.Monitor, error) { return pageMonitor{}, nil }, nil)
	if err != nil {
		b.Fatal(err)
	}
	var ts []Target
	for i := range 1000 {
		ts = append(ts, Target{Target: monitors.Target{Site: "amazon", Region: "DE", SKU: fmt.Sprintf("B%09d", i), BaseURL: srv.URL}, Interval: 20 * time.Millisecond})
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
	b.ReportMetric(float64(total()-n0)/elapsed.Seconds(), "checks/s")
	bad := set.GetOrCreateCounter(`stellarfeed_checks_total{site="amazon",outcome="error"}`).Get()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if bad > 0 {
		b.Errorf("%d checks failed", bad)
	}
}
