package console

import (
	"fmt"
	"io"
	"testing"
	"time"
)

// TestSamplerWindows: per-minute counts are what came in the last minute
// of readings, per-second rates cover the last 5 s, and fan-out
// quantiles only the observations of the window.
func TestSamplerWindows(t *testing.T) {
	e := newEnv(t, Config{})
	var accepted, published, delivered float64
	e.c.deps.Metrics = func(w io.Writer) {
		fmt.Fprintf(w, "stellarfeed_ingest_pings_accepted_total %v\n", accepted)
		fmt.Fprintf(w, "stellarfeed_pings_total{site=\"amazon\"} 1\n")
		fmt.Fprintf(w, "stellarfeed_pings_published_total %v\n", published)
		fmt.Fprintf(w, "stellarfeed_deliveries_total %v\nstellarfeed_sse_events_delivered_total 0\n", delivered)
		fmt.Fprintf(w, "stellarfeed_fanout_latency_seconds_bucket{le=\"0.001\"} 0\n")
		fmt.Fprintf(w, "stellarfeed_fanout_latency_seconds_bucket{le=\"0.1\"} 10\n")
		fmt.Fprintf(w, "stellarfeed_fanout_latency_seconds_bucket{le=\"+Inf\"} 10\n")
	}
	s := e.c.newSampler()
	first, err := s.next()
	if err != nil {
		t.Fatal(err)
	}
	if first.PingsIn != 1 || first.PingsInPerMin != 0 || first.DeliveriesPerS != 0 {
		t.Fatalf("first sample %+v", first)
	}
	// The 10 slow fan-outs before the page opened count in the first
	// sample only (nothing to subtract yet).
	if first.FanoutP50Ms < 1 {
		t.Fatalf("first p50 %v ms, want the slow bucket", first.FanoutP50Ms)
	}
	var last Sample
	for i := 1; i <= 70; i++ { // a ping a second, 10 deliveries each
		e.now = t0.Add(time.Duration(i) * time.Second)
		accepted++
		published++
		delivered += 10
		if last, err = s.next(); err != nil {
			t.Fatal(err)
		}
		if i == 30 && last.PingsInPerMin != 30 {
			t.Fatalf("after 30 s: %v pings in the window, want 30", last.PingsInPerMin)
		}
	}
	if last.PingsInPerMin != 60 || last.PingsOutPerMin != 60 || last.PingsIn != 71 || last.PingsOut != 70 {
		t.Fatalf("after 70 s: %+v", last)
	}
	if last.DeliveriesPerS != 10 || last.Deliveries != 700 {
		t.Fatalf("deliveries: %v/s, %v total; want 10/s, 700", last.DeliveriesPerS, last.Deliveries)
	}
	if last.FanoutP50Ms != -1 {
		t.Fatalf("no fan-out in the window, p50 = %v, want -1", last.FanoutP50Ms)
	}
	// Five fan-outs under 1 ms: the window sees them alone.
	e.now = e.now.Add(time.Second)
	e.c.deps.Metrics = func(w io.Writer) {
		fmt.Fprintf(w, "stellarfeed_fanout_latency_seconds_bucket{le=\"0.001\"} 5\n")
		fmt.Fprintf(w, "stellarfeed_fanout_latency_seconds_bucket{le=\"0.1\"} 15\n")
		fmt.Fprintf(w, "stellarfeed_fanout_latency_seconds_bucket{le=\"+Inf\"} 15\n")
	}
	got, err := s.next()
	if err != nil {
		t.Fatal(err)
	}
	if got.FanoutP99Ms <= 0 || got.FanoutP99Ms > 1 {
		t.Fatalf("5 fast fan-outs in the window: p99 = %v ms, want ≤ 1 ms", got.FanoutP99Ms)
	}
	if len(s.history) > 62 {
		t.Fatalf("%d readings kept, want at most a minute's", len(s.history))
	}
}
