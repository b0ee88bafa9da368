package abuse

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stellarfeed/stellarfeed/broadcast"
	"github.com/stellarfeed/stellarfeed/internal/leaktest"
	"github.com/stellarfeed/stellarfeed/internal/node"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leaktest.Options()...)
}

// knownFailingUntilHandshakeRewrite are the checks the broadcaster still
// fails, in code that belongs to the handshake rewrite of issue #10 (branch
// hs). Before it, slowloris, half-open and header-431 failed too (a
// goroutine per handshake under a 256-slot semaphore; headers of any
// size); hs 201f01c, merged here, fixed them. Its request parser still
// upgrades a request with a bare CR inside a header value (RFC 9112 §2.2
// says reject it): reported to hs. Empty this list when that is fixed;
// `make abuse` runs every check regardless.
var knownFailingUntilHandshakeRewrite = []string{
	"handshake/bare-cr",
}

// TestAbuseReduced runs every check at the reduced scale against a real
// node (broadcaster, API, key store on disk) started in this process.
func TestAbuseReduced(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and thousands of sockets")
	}
	// Shorter server deadlines than the defaults, so the checks that wait
	// for the server to give up take seconds.
	const handshake, write = 2 * time.Second, 2 * time.Second
	dir := t.TempDir()
	n, err := node.Start(context.Background(), node.Config{
		DataDir: dir, WSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", Demo: true,
		Broadcast: broadcast.Config{HandshakeTimeout: handshake, WriteTimeout: write},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	target := Target{WS: n.WSAddr().String(), API: n.APIAddr().String()}
	if err := target.FillFromDataDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, c := range Checks() {
		t.Run(c.Name, func(t *testing.T) {
			if slices.Contains(knownFailingUntilHandshakeRewrite, c.Name) {
				t.Skipf("known to fail until the handshake rewrite (knownFailingUntilHandshakeRewrite): %s", c.About)
			}
			var out strings.Builder
			rep, err := Run(context.Background(), Options{
				Target: target, Scale: Reduced, Only: []string{c.Name},
				HandshakeTimeout: handshake, WriteTimeout: write, Out: &out,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Results) != 1 {
				t.Fatalf("%d results, want 1:\n%s", len(rep.Results), out.String())
			}
			r := rep.Results[0]
			if !r.Passed() {
				t.Fatalf("%s", out.String())
			}
			if r.Canary.Accepted < minPingsPerCheck || r.Canary.Received < r.Canary.Accepted {
				t.Fatalf("canary saw %s: fewer than %d pings went through during the check", r.Canary, minPingsPerCheck)
			}
			t.Log(strings.TrimSpace(out.String()))
		})
	}
}

// Every check is in the table once, in a family, with a description; the
// skip list names only checks that exist.
func TestCheckTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Checks() {
		if c.Name == "" || c.Family == "" || c.About == "" || c.Run == nil {
			t.Errorf("incomplete check %+v", c)
		}
		if seen[c.Name] {
			t.Errorf("check %q twice", c.Name)
		}
		seen[c.Name] = true
	}
	for _, name := range knownFailingUntilHandshakeRewrite {
		if !seen[name] {
			t.Errorf("knownFailingUntilHandshakeRewrite names %q, which is not a check", name)
		}
	}
	for _, fam := range []string{"keys", "handshake", "frames", "ingest", "slow", "storm", "lockout"} {
		if !slices.ContainsFunc(Checks(), func(c Check) bool { return c.Family == fam }) {
			t.Errorf("no check in family %q", fam)
		}
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name               string
		accepted, received []int
		want               Verdict
	}{
		{"all", []int{1, 2, 3}, []int{1, 2, 3}, Verdict{Accepted: 3, Received: 3}},
		{"lost", []int{1, 2, 3}, []int{1, 3}, Verdict{Accepted: 3, Received: 2, Lost: 1, FirstLost: 2}},
		{"reordered", []int{1, 2, 3}, []int{1, 3, 2}, Verdict{Accepted: 3, Received: 3, Reordered: 1}},
		{"duplicate", []int{1, 2}, []int{1, 2, 2}, Verdict{Accepted: 2, Received: 3, Dup: 1}},
		// A POST that failed in transport may still have been published.
		{"extra unknown", []int{1, 3}, []int{1, 2, 3}, Verdict{Accepted: 2, Received: 3}},
		{"none received", []int{4, 5}, nil, Verdict{Accepted: 2, Lost: 2, FirstLost: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compare(tt.accepted, tt.received)
			if got != tt.want {
				t.Fatalf("Compare = %+v, want %+v", got, tt.want)
			}
			if got.OK() != (tt.want.Lost+tt.want.Reordered+tt.want.Dup == 0) {
				t.Fatalf("OK() = %v for %+v", got.OK(), got)
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	m := ParseMetrics([]byte(`# HELP process_open_fds x
process_open_fds 23
stellarfeed_connections{endpoint="stellar"} 4
stellarfeed_connections{endpoint="ws",x="a b"} 1
go_goroutines 4.7e+01
broken_line
bad_value{a="b"} x
`))
	want := map[string]float64{
		"process_open_fds": 23, `stellarfeed_connections{endpoint="stellar"}`: 4,
		`stellarfeed_connections{endpoint="ws",x="a b"}`: 1, "go_goroutines": 47,
	}
	for k, v := range want {
		if got, ok := m.Get(k); !ok || got != v {
			t.Errorf("%s = %v, %v; want %v", k, got, ok, v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("parsed %d series, want %d: %v", len(m), len(want), m)
	}
}

func TestFrame(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"unmasked text", frame(true, 0, 0x1, []byte("hi"), false), []byte{0x81, 2, 'h', 'i'}},
		{"rsv1 no fin", frame(false, 4, 0x1, nil, false), []byte{0x41, 0}},
		{"masked empty ping", frame(true, 0, 0x9, nil, true), []byte{0x89, 0x80, 0x12, 0x34, 0x56, 0x78}},
		{"masked", frame(true, 0, 0x1, []byte{0x12, 0x34}, true), []byte{0x81, 0x82, 0x12, 0x34, 0x56, 0x78, 0, 0}},
		{"close 1000", closeFrame(1000, ""), []byte{0x88, 0x82, 0x12, 0x34, 0x56, 0x78, 0x03 ^ 0x12, 0xe8 ^ 0x34}},
	}
	for _, tt := range tests {
		if string(tt.got) != string(tt.want) {
			t.Errorf("%s: % x, want % x", tt.name, tt.got, tt.want)
		}
	}
	if f := frame(true, 0, 0x2, make([]byte, 200), false); f[1] != 126 || len(f) != 4+200 {
		t.Errorf("200-byte frame header % x", f[:4])
	}
	if f := frame(true, 0, 0x2, make([]byte, 70000), false); f[1] != 127 || len(f) != 10+70000 {
		t.Errorf("70000-byte frame header % x", f[:10])
	}
}

func TestQuantile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3}
	for q, want := range map[float64]time.Duration{0.5: 3, 0.99: 5, 1: 5, 0: 1} {
		if got := quantile(ds, q); got != want {
			t.Errorf("quantile(%v) = %v, want %v", q, got, want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing must be 0")
	}
}

func TestFillFromDataDir(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		adminTokenFile: "sfa_admin\n",
		demoKeysFile:   `{"subscriber":"sfk_sub","ingest":"sfi_in"}`,
		apiAddrFile:    "127.0.0.1:8081\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tg := Target{Key: "sfk_mine"}
	if err := tg.FillFromDataDir(dir); err != nil {
		t.Fatal(err)
	}
	want := Target{API: "127.0.0.1:8081", Key: "sfk_mine", IngestToken: "sfi_in", AdminToken: "sfa_admin"}
	if tg != want {
		t.Fatalf("got %+v, want %+v", tg, want)
	}
	if err := (&Target{}).FillFromDataDir(t.TempDir()); err == nil {
		t.Fatal("empty directory: want an error")
	}
}
