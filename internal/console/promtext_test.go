package console

import (
	"math"
	"strings"
	"testing"
)

func TestParseProm(t *testing.T) {
	r, err := parseProm([]byte(`# HELP x
stellarfeed_connections{endpoint="stellar"} 3
stellarfeed_connections{endpoint="sse"} 2
stellarfeed_checks_total{site="amazon",outcome="blocked"} 4
stellarfeed_checks_total{site="amazon",outcome="in_stock"} 6
stellarfeed_checks_total{site="we\"ird",outcome="blocked"} 1
stellarfeed_deliveries_total 1.5e3
process_start 12 1700000000
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.sum("stellarfeed_connections", nil); got != 5 {
		t.Fatalf("sum connections = %v", got)
	}
	if got := r.sum("stellarfeed_deliveries_total", nil); got != 1500 {
		t.Fatalf("deliveries = %v", got)
	}
	by := r.by2("stellarfeed_checks_total", "site", "outcome")
	if by[[2]string{"amazon", "blocked"}] != 4 || by[[2]string{`we"ird`, "blocked"}] != 1 {
		t.Fatalf("by2 = %v", by)
	}
	if got := r.by("stellarfeed_checks_total", "outcome")["blocked"]; got != 5 {
		t.Fatalf("blocked = %v", got)
	}
}

func TestParsePromErrors(t *testing.T) {
	for in, want := range map[string]string{
		"a{b=\"c\" 1":      "line 1: unclosed label set",
		"ok 1\nbad":        "line 2: no value",
		"a{b=c} 1":         "malformed label",
		"a{b=\"c} 1":       "unterminated label value",
		"a x":              `value "x" is not a number`,
		"a{b=\"c\"} 1 2 3": "want name, labels, value",
	} {
		_, err := parseProm([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseProm(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestQuantile(t *testing.T) {
	r, err := parseProm([]byte(`h_bucket{le="0.001"} 50
h_bucket{le="0.01"} 90
h_bucket{le="0.1"} 100
h_bucket{le="+Inf"} 100
`))
	if err != nil {
		t.Fatal(err)
	}
	b := r.buckets("h")
	if got := quantile(0.5, b, nil); got != 0.001 {
		t.Fatalf("p50 = %v, want 0.001", got)
	}
	if got := quantile(0.99, b, nil); math.Abs(got-0.091) > 1e-9 {
		t.Fatalf("p99 = %v, want 0.091", got)
	}
	// Between two readings only the new observations count.
	prev := []bucket{{0.001, 50}, {0.01, 50}, {0.1, 50}, {math.Inf(1), 50}}
	if got := quantile(0.5, b, prev); math.Abs(got-0.006625) > 1e-9 {
		t.Fatalf("windowed p50 = %v, want 0.006625 (0.001 + 0.009·25/40)", got)
	}
	if got := quantile(0.5, b, b); !math.IsNaN(got) {
		t.Fatalf("no new observations: %v, want NaN", got)
	}
}

func FuzzParseProm(f *testing.F) {
	f.Add("a{b=\"c\",d=\"e\\\"f\"} 1\n# c\nx 2 3\n")
	f.Add("h_bucket{le=\"+Inf\"} 3")
	f.Fuzz(func(t *testing.T, in string) {
		r, err := parseProm([]byte(in))
		if err != nil {
			return
		}
		for _, s := range r {
			if s.name == "" {
				t.Fatalf("series without a name from %q", in)
			}
		}
		quantile(0.99, r.buckets("h"), nil)
	})
}
