package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleReport() *Report {
	rep := &Report{StartedAt: time.Unix(1764053700, 0).UTC(), CPUs: 2, GoVersion: "go1.26.8", Pings: 2, PingSize: 600,
		Regimes: []string{RegimeSteady, RegimeOverload}}
	for _, n := range []int{1000, 5000} {
		for _, srv := range []string{"gorilla", "nbio"} {
			for _, rg := range rep.Regimes {
				r := &RunResult{Server: srv, Kind: srv, Regime: rg, N: n, Connected: n, Published: 2,
					ServerRSSConnectedBytes: int64(n) * 3000, MemPerConnBytes: 2048, ServerCPUMS: 100}
				pings := make([]pingCount, 2)
				for i := range pings {
					for c := 0; c < n; c++ {
						pings[i].Hist.Add(time.Duration(c) * time.Microsecond * time.Duration(n/1000))
						pings[i].Deliveries++
					}
				}
				r.fill(pings)
				rep.Runs = append(rep.Runs, r)
			}
		}
	}
	return rep
}

func TestReportOutputs(t *testing.T) {
	rep := sampleReport()
	r := rep.Runs[0]
	if r.Expected != 2000 || r.Delivered != 2000 || r.Lost != 0 || !r.OK() {
		t.Fatalf("fill: %+v", r)
	}
	if r.LastClient.Max != r.Latency.Max || r.Latency.P50 > r.Latency.P99 {
		t.Errorf("latency figures inconsistent: %+v %+v", r.Latency, r.LastClient)
	}
	if r.ServerCPUPerDeliveryUS != 50 { // 100 ms over 2,000 deliveries
		t.Errorf("server CPU per delivery = %v, want 50", r.ServerCPUPerDeliveryUS)
	}
	dir := t.TempDir()
	if err := rep.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(html, []byte("data:image/png;base64,")); n != 6 {
		t.Errorf("report.html has %d inline charts, want 6", n)
	}
	if bytes.Contains(html, []byte("http://")) || bytes.Contains(html, []byte("https://")) || bytes.Contains(html, []byte("<script")) {
		t.Error("report.html is not self-contained")
	}
	var back RunResult
	b, err := os.ReadFile(filepath.Join(dir, "runs", "nbio-n5000-overload.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &back); err != nil || back.N != 5000 || back.Regime != RegimeOverload {
		t.Errorf("run JSON: %+v, %v", back, err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	if got := strings.Count(string(md), "\n| gorilla |"); got != 4 {
		t.Errorf("summary.md has %d gorilla rows, want 4", got)
	}
	var tbl bytes.Buffer
	rep.WriteTable(&tbl)
	if strings.Count(tbl.String(), "\n") != 9 {
		t.Errorf("table:\n%s", tbl.String())
	}
}
