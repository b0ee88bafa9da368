package bench

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func smallOptions(t *testing.T) Options {
	return Options{
		Conns: []int{200}, Pings: 10, PingSize: 600,
		SteadyInterval: 50 * time.Millisecond, OverloadInterval: 5 * time.Millisecond,
		ConnsPerProc: 100, Settle: 100 * time.Millisecond, QuietTimeout: time.Second, DrainTimeout: 20 * time.Second,
		ConnectTimeout: 30 * time.Second, WorkDir: t.TempDir(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func TestRunBaselines(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and client processes")
	}
	o := smallOptions(t)
	o.Servers = []string{KindGorilla, KindNbio}
	o.Floor = true
	o.OutDir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 5 { // floor steady + 2 servers × 2 regimes
		t.Fatalf("got %d runs, want 5", len(rep.Runs))
	}
	for _, r := range rep.Runs {
		t.Logf("%s %s: %d/%d lost %d dup %d last p50 %dµs errors %v", r.Server, r.Regime, r.Delivered, r.Expected, r.Lost, r.Duplicates, r.LastClient.P50, r.Errors)
		if !r.OK() || r.Delivered != 200*10 || r.Connected != 200 {
			t.Errorf("%s %s: not every delivery counted exactly once: %+v", r.Server, r.Regime, r)
		}
	}
	b, err := os.ReadFile(filepath.Join(o.OutDir, "runs", "gorilla-n200-steady.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"server", "regime", "n", "connected", "connect_ms", "connect_per_sec", "expected", "delivered",
		"lost", "duplicates", "latency_us", "last_client_us", "per_ping", "mem_per_conn_bytes", "server_cpu_per_delivery_us",
		"client_cpu_per_delivery_us", "server_goroutines", "floor_ratio", "errors"} {
		if _, ok := m[k]; !ok {
			t.Errorf("run JSON lacks %q", k)
		}
	}
	for _, f := range []string{"summary.md", "report.html", "report.json"} {
		if st, err := os.Stat(filepath.Join(o.OutDir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
}
