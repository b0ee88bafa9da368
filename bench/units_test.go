package bench

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/stellar"
)

func TestPingTemplateIsAValidStellarPing(t *testing.T) {
	for _, size := range []int{100, 600, 1000} {
		tmpl := newPingTemplate(size)
		body := tmpl.stamp(12345678, 1764053700123456789)
		if size >= 300 && len(body) != size {
			t.Errorf("size %d: body is %d bytes", size, len(body))
		}
		p, err := stellar.Rules{}.Parse(body)
		if err != nil {
			t.Fatalf("size %d: Stellar rejects the bench ping: %v\n%s", size, err, body)
		}
		if p.OfferID != markerString(12345678, 1764053700123456789) {
			t.Errorf("offerId = %q", p.OfferID)
		}
		seq, sent, ok := parseMarker(body)
		if !ok || seq != 12345678 || sent != 1764053700123456789 {
			t.Errorf("parseMarker = %d, %d, %v", seq, sent, ok)
		}
		// Re-stamping keeps the size: every ping of a run is alike.
		if n := len(tmpl.stamp(1, 2)); n != len(body) {
			t.Errorf("restamped size %d, want %d", n, len(body))
		}
	}
}

func TestParseMarker(t *testing.T) {
	tests := []struct {
		in   string
		seq  int
		sent int64
		ok   bool
	}{
		{`{"offerId":"bench-00000007-0000000000000000042"}`, 7, 42, true},
		{`bench-1-2`, 1, 2, true},
		{`no marker here`, 0, 0, false},
		{`bench--5`, 0, 0, false},
		{`bench-12`, 0, 0, false},
		{`bench-1-`, 0, 0, false},
		{`bench-1234567890-5`, 0, 0, false}, // seq wider than 9 digits
	}
	for _, tt := range tests {
		seq, sent, ok := parseMarker([]byte(tt.in))
		if seq != tt.seq || sent != tt.sent || ok != tt.ok {
			t.Errorf("parseMarker(%q) = %d, %d, %v; want %d, %d, %v", tt.in, seq, sent, ok, tt.seq, tt.sent, tt.ok)
		}
	}
}

func TestHist(t *testing.T) {
	var h Hist
	for i := 1; i <= 1000; i++ {
		h.Add(time.Duration(i) * time.Millisecond)
	}
	check := func(q float64, want int64) {
		t.Helper()
		got := h.Quantile(q)
		if got < want || float64(got) > float64(want)*1.04 {
			t.Errorf("q%.2f = %dµs, want %dµs within +4%%", q, got, want)
		}
	}
	check(0.5, 500_000)
	check(0.99, 990_000)
	if h.Quantile(1) != 1_000_000 || h.MaxUS != 1_000_000 {
		t.Errorf("max = %d", h.Quantile(1))
	}
	var a, b Hist
	a.Add(10 * time.Microsecond)
	b.Add(20 * time.Microsecond)
	b.Add(30 * time.Microsecond)
	a.Merge(&b)
	if a.N != 3 || a.MaxUS != 30 || a.Quantile(0.5) != 20 {
		t.Errorf("merged: n %d max %d p50 %d", a.N, a.MaxUS, a.Quantile(0.5))
	}
	for v := int64(0); v < 1<<20; v = v*3/2 + 1 { // bucket bounds are monotonic and contain v
		i := histIndex(v)
		if histUpper(i) < v || (i > 0 && histUpper(i-1) >= v) {
			t.Fatalf("value %d in bucket %d with bounds (%d, %d]", v, i, histUpper(i-1), histUpper(i))
		}
	}
}

func TestProcParsers(t *testing.T) {
	stat := "1234 (my (odd) prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 12345 100000 500 18446744073709551615"
	cpu, err := parseStatCPU([]byte(stat))
	if err != nil || cpu != 3250*time.Millisecond {
		t.Errorf("parseStatCPU = %v, %v; want 3.25s", cpu, err)
	}
	if _, err := parseStatCPU([]byte("garbage")); err == nil {
		t.Error("parseStatCPU accepted garbage")
	}
	rss, err := parseRSS([]byte("Name:\tx\nVmPeak:\t  9999 kB\nVmRSS:\t   2048 kB\n"))
	if err != nil || rss != 2048*1024 {
		t.Errorf("parseRSS = %d, %v", rss, err)
	}
	if _, err := parseRSS([]byte("Name:\tx\n")); err == nil {
		t.Error("parseRSS without VmRSS succeeded")
	}
	g, ok := parseGoroutines([]byte("# HELP go_goroutines x\ngo_goroutines_total 3\ngo_goroutines 42\n"))
	if !ok || g != 42 {
		t.Errorf("parseGoroutines = %d, %v", g, ok)
	}
	if _, ok := parseGoroutines([]byte("other 1\n")); ok {
		t.Error("parseGoroutines found a missing metric")
	}
}

func TestParseTarget(t *testing.T) {
	good, err := ParseTarget("ws://127.0.0.1:9000/,ingest=http://127.0.0.1:9001,key=a,key=b,token=t,pid=42,name=x")
	if err != nil || good.Name != "x" || len(good.Keys) != 2 || good.PID != 42 || good.Token != "t" {
		t.Fatalf("ParseTarget = %+v, %v", good, err)
	}
	for _, tt := range []struct{ spec, wantInErr string }{
		{"http://x/,ingest=http://y,key=k", "ws://"},
		{"ws://127.0.0.1:1/,key=k", "ingest"},
		{"ws://127.0.0.1:1/,ingest=http://127.0.0.1:2", "key="},
		{"ws://127.0.0.1:1/,ingest=http://127.0.0.1:2,key=k,colour=red", `"colour"`},
		{"ws://127.0.0.1:1/,ingest=http://127.0.0.1:2,key=k,pid=abc", "pid"},
		{"ws://127.0.0.1:1/,nonsense", "key=value"},
	} {
		if _, err := ParseTarget(tt.spec); err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
			t.Errorf("ParseTarget(%q) error %v, want one naming %s", tt.spec, err, tt.wantInErr)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := ParseFlags([]string{"-matrix", "-m", "5", "-no-progress"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Conns) != 4 || o.Conns[3] != 19000 || len(o.Servers) != 3 || o.Pings != 5 || !o.Floor {
		t.Errorf("matrix options: %+v", o)
	}
	o, err = ParseFlags([]string{"-target", "ws://127.0.0.1:1/,ingest=http://127.0.0.1:2,key=k", "-n", "1_000,200"}, io.Discard)
	if err != nil || len(o.Servers) != 0 || len(o.Targets) != 1 || o.Conns[0] != 1000 || o.Conns[1] != 200 {
		t.Errorf("target options: %+v, %v", o, err)
	}
	for _, bad := range [][]string{{"-n", "lots"}, {"-target", "nope"}, {"extra"}} {
		if _, err := ParseFlags(bad, io.Discard); err == nil {
			t.Errorf("ParseFlags(%q) succeeded", bad)
		}
	}
	bad := Options{Servers: []string{"apache"}}
	bad.defaults()
	if err := bad.validate(); err == nil || !strings.Contains(err.Error(), "apache") {
		t.Errorf("validate: %v", err)
	}
}
