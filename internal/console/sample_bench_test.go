package console

import (
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/api"
)

// BenchmarkSample is one live-page sample of a busy node: ~400 metric
// lines (12 sites × 4 outcomes, histograms, the runtime) and 10,000
// connections over 500 keys.
func BenchmarkSample(b *testing.B) {
	e := newEnv(b, Config{})
	var text []byte
	for i := range 12 {
		for _, o := range []string{"error", "blocked", "out_of_stock", "in_stock"} {
			text = fmt.Appendf(text, "stellarfeed_checks_total{site=\"site%d\",outcome=\"%s\"} %d\n", i, o, i*100)
		}
	}
	for _, le := range []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"} {
		text = fmt.Appendf(text, "stellarfeed_fanout_latency_seconds_bucket{le=\"%s\"} 42\n", le)
	}
	for i := range 300 {
		text = fmt.Appendf(text, "go_something_%d %d\n", i, i)
	}
	e.c.deps.Metrics = func(w io.Writer) { w.Write(text) }
	for i := range 10000 {
		e.conns.conns = append(e.conns.conns, api.Conn{ID: uint64(i), Endpoint: "stellar", KeyID: fmt.Sprintf("%010x", i%500), Remote: netip.MustParseAddr("198.51.100.1"), Since: t0.Add(time.Duration(i))})
	}
	s := e.c.newSampler()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.next(); err != nil {
			b.Fatal(err)
		}
	}
}
