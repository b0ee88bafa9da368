package soak

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func series(rss []int64, fds []int) []Sample {
	out := make([]Sample, len(rss))
	for i := range rss {
		out[i] = Sample{At: time.Duration(i) * 10 * time.Second, RSS: rss[i], FDs: fds[i], Goroutines: 50}
	}
	return out
}

func TestJudgeGrowth(t *testing.T) {
	const mib = 1 << 20
	flat := []int64{40 * mib, 41 * mib, 40 * mib, 42 * mib, 41 * mib, 40 * mib, 41 * mib, 42 * mib}
	fds := []int{60, 64, 62, 60, 66, 61, 63, 62}
	tests := []struct {
		name    string
		rss     []int64
		fds     []int
		warmup  time.Duration
		growing []string // names expected to fail
		err     string
	}{
		{name: "flat", rss: flat, fds: fds},
		{
			name: "rss leak",
			rss:  []int64{40 * mib, 41 * mib, 48 * mib, 52 * mib, 56 * mib, 60 * mib, 64 * mib, 70 * mib},
			fds:  fds, growing: []string{"rss"},
		},
		{
			name: "fd leak", rss: flat,
			fds: []int{60, 62, 70, 80, 90, 100, 110, 120}, growing: []string{"fds"},
		},
		{
			// A spike in the middle is not growth: only the quarters count.
			name: "spike in the middle", rss: []int64{40 * mib, 40 * mib, 40 * mib, 200 * mib, 200 * mib, 40 * mib, 41 * mib, 40 * mib},
			fds: fds,
		},
		{
			// The warm-up ramp is left out: the first two samples are low.
			name: "warm-up ignored", warmup: 20 * time.Second,
			rss: []int64{1 * mib, 2 * mib, 40 * mib, 41 * mib, 40 * mib, 42 * mib, 41 * mib, 40 * mib, 41 * mib, 42 * mib},
			fds: []int{1, 2, 60, 64, 62, 60, 66, 61, 63, 62},
		},
		{name: "too short", rss: flat[:7], fds: fds[:7], err: "need 8"},
		{name: "warm-up leaves too few", warmup: 30 * time.Second, rss: flat, fds: fds, err: "need 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := JudgeGrowth(series(tt.rss, tt.fds), tt.warmup, DefaultLimits)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(g) != len(DefaultLimits) {
				t.Fatalf("%d verdicts, want %d", len(g), len(DefaultLimits))
			}
			for _, x := range g {
				want := !strings.Contains(strings.Join(tt.growing, ","), x.Name)
				if x.OK != want {
					t.Errorf("%s OK = %v, want %v (%s)", x.Name, x.OK, want, x)
				}
			}
		})
	}
}

func TestMedianAndWarmup(t *testing.T) {
	s := series([]int64{5, 1, 3, 2}, []int{0, 0, 0, 0})
	if m := median(s, func(x Sample) float64 { return float64(x.RSS) }); m != 2.5 {
		t.Errorf("median of 5,1,3,2 = %v, want 2.5", m)
	}
	if m := median(s[:3], func(x Sample) float64 { return float64(x.RSS) }); m != 3 {
		t.Errorf("median of 5,1,3 = %v, want 3", m)
	}
	for d, want := range map[time.Duration]time.Duration{time.Hour: time.Minute, 2 * time.Minute: 12 * time.Second} {
		if got := Warmup(d); got != want {
			t.Errorf("Warmup(%s) = %s, want %s", d, got, want)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	got, err := parseVmRSS([]byte("Name:\tstellarfeed\nVmPeak:\t  99 kB\nVmRSS:\t   43008 kB\nThreads: 9\n"))
	if err != nil || got != 43008*1024 {
		t.Fatalf("parseVmRSS = %d, %v; want %d", got, err, 43008*1024)
	}
	if _, err := parseVmRSS([]byte("Name: x\n")); err == nil {
		t.Fatal("no VmRSS line: want an error")
	}
}

func TestSampleCSVMatchesHeader(t *testing.T) {
	line := Sample{At: 10 * time.Second, RSS: 1, FDs: 2}.csv()
	if got, want := strings.Count(line, ","), strings.Count(csvHeader, ","); got != want {
		t.Fatalf("csv line has %d commas, header %d", got, want)
	}
}

func TestWriteChart(t *testing.T) {
	path := t.TempDir() + "/soak.png"
	s := series([]int64{40 << 20, 41 << 20, 40 << 20}, []int{60, 61, 62})
	if err := WriteChart(path, s, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s is not a PNG (%d bytes)", path, len(b))
	}
}
