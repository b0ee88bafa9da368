package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

func TestParseVMHistogram(t *testing.T) {
	// Written by the same library as internal/cluster's histogram.
	set := metrics.NewSet()
	h := set.NewHistogram(busLatencyMetric)
	for _, d := range []float64{0.0001, 0.0001, 0.0001, 0.002, 0.05} {
		h.Update(d)
	}
	set.NewCounter("stellarfeed_bus_received_total").Add(5)
	var buf bytes.Buffer
	set.WritePrometheus(&buf)

	got, ok := parseVMHistogram(buf.Bytes(), busLatencyMetric)
	if !ok {
		t.Fatalf("histogram not found in:\n%s", buf.String())
	}
	if got.count != 5 || len(got.buckets) != 3 {
		t.Fatalf("count %v, buckets %v; want 5 samples in 3 buckets", got.count, got.buckets)
	}
	st := got.stats()
	if st == nil || st.Count != 5 {
		t.Fatalf("stats: %+v", st)
	}
	if st.Mean != 10460 { // (3×0.1 + 2 + 50) ms / 5
		t.Errorf("mean = %d µs, want 10460", st.Mean)
	}
	within := func(name string, gotUS, lo, hi int64) {
		if gotUS < lo || gotUS > hi {
			t.Errorf("%s = %d µs, want in [%d, %d] (a bucket upper bound)", name, gotUS, lo, hi)
		}
	}
	within("p50", st.P50, 100, 115)
	within("p99", st.P99, 50000, 57000)
	within("max", st.Max, 50000, 57000)

	if _, ok := parseVMHistogram([]byte("go_goroutines 12\n"), busLatencyMetric); ok {
		t.Error("found a histogram in text without one")
	}
	if st := (busHist{}).stats(); st != nil {
		t.Errorf("empty histogram gave %+v", st)
	}
}

func TestBusDelta(t *testing.T) {
	scrape := func(set *metrics.Set) busHist {
		var buf bytes.Buffer
		set.WritePrometheus(&buf)
		h, _ := parseVMHistogram(buf.Bytes(), busLatencyMetric) // none yet: empty
		return h
	}
	a, b := metrics.NewSet(), metrics.NewSet()
	ha, hb := a.NewHistogram(busLatencyMetric), b.NewHistogram(busLatencyMetric)
	ha.Update(1) // before the regime: must not count; b has no sample yet
	before := []busHist{scrape(a), scrape(b)}
	for range 3 {
		ha.Update(0.001)
		hb.Update(0.003)
	}
	st := busDelta(before, []busHist{scrape(a), scrape(b)})
	if st == nil || st.Count != 6 || st.Mean != 2000 {
		t.Fatalf("delta over two nodes: %+v, want 6 samples, mean 2000 µs", st)
	}
	if st.Max > 3500 || st.P50 < 1000 || st.P50 > 1200 {
		t.Errorf("delta quantiles %+v: the 1 s sample from before leaked in, or buckets were merged wrongly", st)
	}
}

func TestClientProcsPerNode(t *testing.T) {
	single := &server{}
	cluster := &server{nodes: make([]clusterNode, 3)}
	for _, c := range []struct {
		s             *server
		n, per, procs int
	}{
		{single, 1000, 5000, 1},
		{single, 19000, 5000, 4},
		{cluster, 210, 70, 3},
		{cluster, 51000, 5000, 12}, // 17,000 per node: 4 processes of 4,250 each
		{cluster, 2, 5000, 3},
	} {
		if got := c.s.clientProcs(c.n, c.per); got != c.procs {
			t.Errorf("nodes=%d n=%d per=%d: %d client processes, want %d", len(c.s.nodes), c.n, c.per, got, c.procs)
		}
	}
}

func TestClusterOptions(t *testing.T) {
	o, err := ParseFlags([]string{"-servers", "ours-cluster", "-nodes", "3", "-n", "51000", "-no-progress"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	o.defaults()
	if err := o.validate(); err != nil {
		t.Fatalf("51,000 over 3 nodes: %v", err)
	}
	o.Nodes = 2
	if err := o.validate(); err == nil || !strings.Contains(err.Error(), "per node") {
		t.Errorf("51,000 over 2 nodes (25,500 fds each) passed validation: %v", err)
	}
}

// TestRunCluster runs 3 real stellarfeed nodes on an embedded NATS, 70
// clients on each, and publishes through the first node only: every
// client on every node must get every ping exactly once, and the bus's
// share of the latency must be reported.
func TestRunCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds stellarfeed and starts 3 nodes and client processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, err := buildOurs(ctx, t.TempDir())
	if err != nil {
		t.Skipf("stellarfeed does not build, no cluster to test: %v", firstLine(err.Error()))
	}
	o := smallOptions(t)
	o.Servers, o.OursBin, o.Nodes = []string{KindCluster}, bin, 3
	o.Conns, o.Pings, o.ConnsPerProc = []int{210}, 5, 70
	o.OutDir = t.TempDir()
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 2 {
		t.Fatalf("got %d runs, want 2 (steady, overload)", len(rep.Runs))
	}
	for _, r := range rep.Runs {
		if !r.OK() || r.Delivered != 210*5 || r.Duplicates != 0 {
			t.Errorf("%s: delivered %d/%d lost %d dup %d publish errors %d (%s) errors %v",
				r.Regime, r.Delivered, r.Expected, r.Lost, r.Duplicates, r.PublishErrors, r.PublishError, r.Errors)
		}
		if r.Kind != KindCluster || r.Nodes != 3 || len(r.NodeConns) != 3 {
			t.Fatalf("%s: kind %q, %d nodes, conns per node %v", r.Regime, r.Kind, r.Nodes, r.NodeConns)
		}
		for i, c := range r.NodeConns {
			if c != 70 {
				t.Errorf("%s: node b%d has %d clients, want 70", r.Regime, i+1, c)
			}
		}
		// Each other node takes each ping off the bus once; the publishing
		// node hands its own pings to its hub directly (cluster bus).
		if r.Bus == nil || r.Bus.Count != 2*5 || r.Bus.Mean <= 0 || r.Bus.P50 > r.Bus.P99 {
			t.Errorf("%s: bus latency %+v, want 10 samples (2 receiving nodes × 5 pings)", r.Regime, r.Bus)
		}
		if r.MemPerConnBytes == 0 || r.ServerCPUMS < 0 {
			t.Errorf("%s: memory %v B/conn, CPU %v ms: not measured over the nodes", r.Regime, r.MemPerConnBytes, r.ServerCPUMS)
		}
	}
	var out strings.Builder
	rep.WriteMarkdown(&out)
	if !strings.Contains(out.String(), "## Cluster runs") || !strings.Contains(out.String(), "bus p50 ÷ last p50") {
		t.Errorf("summary.md lacks the cluster table:\n%s", out.String())
	}
}
