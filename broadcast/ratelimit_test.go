package broadcast

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

func TestIPLimiter(t *testing.T) {
	const sec = int64(time.Second)
	ip := netip.MustParseAddr
	l := newIPLimiter(2, 3, 100) // 2/s, burst 3

	steps := []struct {
		name string
		addr string
		at   int64
		want bool
	}{
		{"burst 1", "10.0.0.1", 0, true},
		{"burst 2", "10.0.0.1", 0, true},
		{"burst 3", "10.0.0.1", 0, true},
		{"over", "10.0.0.1", 0, false},
		{"still over", "10.0.0.1", sec / 4, false},  // half a token
		{"refilled one", "10.0.0.1", sec / 2, true}, // one token
		{"other ip", "10.0.0.2", sec / 2, true},     // its own bucket
		{"v4-mapped is v4", "::ffff:10.0.0.1", sec / 2, false},
		{"v6 a", "2001:db8:1:2::1", 0, true},
		{"v6 same /64", "2001:db8:1:2:ffff::9", 0, true},
		{"v6 same /64 again", "2001:db8:1:2::abcd", 0, true},
		{"v6 /64 over", "2001:db8:1:2::1", 0, false},
		{"v6 next /64", "2001:db8:1:3::1", 0, true},
		{"full again later", "10.0.0.1", 10 * sec, true},
		{"burst caps refill", "10.0.0.1", 10 * sec, true},
		{"burst caps refill 2", "10.0.0.1", 10 * sec, true},
		{"burst caps refill 3", "10.0.0.1", 10 * sec, false},
	}
	for _, st := range steps {
		if got := l.allow(ip(st.addr), st.at); got != st.want {
			t.Fatalf("%s: allow(%s, %d) = %v", st.name, st.addr, st.at, got)
		}
	}
	if !l.allow(netip.Addr{}, 0) {
		t.Error("invalid address (unix socket) refused")
	}
	if n := l.size(); n != 4 {
		t.Fatalf("%d entries, want 4", n)
	}

	// Pruning forgets only idle, refilled entries.
	l.prune(int64(rateIdle) - 1)
	if n := l.size(); n != 4 {
		t.Fatalf("pruned too early: %d entries", n)
	}
	l.prune(10*sec + int64(rateIdle) - 1)
	if n := l.size(); n != 1 { // 10.0.0.1 was used at 10 s
		t.Fatalf("after prune: %d entries, want 1", n)
	}

	// A slow rate keeps an idle IP until its bucket is full again.
	slow := newIPLimiter(0.01, 2, 100) // one token per 100 s
	slow.allow(ip("10.1.1.1"), 0)
	slow.allow(ip("10.1.1.1"), 0)
	slow.prune(int64(rateIdle) + sec)
	if slow.size() != 1 {
		t.Fatal("dropped an IP whose bucket was still empty")
	}
	slow.prune(201 * sec)
	if slow.size() != 0 {
		t.Fatal("kept a refilled idle IP")
	}
}

func TestIPLimiterCap(t *testing.T) {
	l := newIPLimiter(1, 1, 3)
	for i := range 3 {
		l.allow(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 0)
	}
	// Full of recent IPs: a newcomer passes untracked, every time.
	newcomer := netip.MustParseAddr("10.9.9.9")
	for range 3 {
		if !l.allow(newcomer, int64(time.Second)) {
			t.Fatal("newcomer refused while the table is full")
		}
	}
	if l.size() != 3 {
		t.Fatalf("table grew to %d", l.size())
	}
	// Tracked IPs are still limited.
	if l.allow(netip.AddrFrom4([4]byte{10, 0, 0, 1}), 0) {
		t.Fatal("tracked IP over its rate allowed")
	}
	// Once the old entries are idle, a full table prunes in line.
	later := int64(rateIdle) + int64(2*time.Second)
	l.allow(newcomer, later)
	if l.size() != 1 {
		t.Fatalf("in-line prune left %d entries", l.size())
	}
}

// dialFrom connects to addr from the loopback address local.
func dialFrom(local, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return d.Dial("tcp", addr)
}

// upgradeFrom upgrades one connection from the local address src (with
// key k) and closes it; it skips the test when src cannot be bound.
func upgradeFrom(t *testing.T, src, addr string) {
	t.Helper()
	nc, err := dialFrom(src, addr)
	if err != nil {
		t.Skipf("cannot bind %s: %v", src, err)
	}
	c, status, _, err := handshakeOn(nc, "/?key=k")
	if err != nil || status != http.StatusSwitchingProtocols {
		t.Fatalf("from %s: %d %v", src, status, err)
	}
	c.nc.Close()
}

func TestConnRateLimit(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	// 1 per 100 s: no refill during the test, whatever the machine's load.
	s, addr := startServer(t, Config{ConnRatePerIP: 0.01, ConnBurstPerIP: 2}, auth)
	mustDial(t, addr, "/?key=k")
	mustDial(t, addr, "/ws?key=k") // both endpoints draw from the same bucket

	// The third is refused right after accept, before the server reads a
	// byte: this client sends nothing at all and still gets its 429.
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("read 429: %v", err)
	}
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("got %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	if b, err := bufio.NewReader(nc).ReadByte(); err == nil {
		t.Fatalf("conn still open after 429 (read %q)", b)
	}

	// A client that sends its request at once gets the 429 as well.
	c, status, _, err := dialWS(addr, "/?key=k")
	if err != nil || status != http.StatusTooManyRequests || c != nil {
		t.Fatalf("4th: status %d err %v", status, err)
	}

	upgradeFrom(t, "127.0.0.2", addr) // another source IP has its own budget
	st := s.Stats()
	if st.Rejected.Rate != 2 || st.RateIPs != 2 {
		t.Errorf("Rejected.Rate = %d, RateIPs = %d; want 2, 2", st.Rejected.Rate, st.RateIPs)
	}
	// The worker counts an upgrade just after writing the 101.
	testutil.Eventually(t, 5*time.Second, time.Millisecond, func() error {
		if n := s.Stats().Upgraded; n != 3 {
			return fmt.Errorf("Upgraded = %d, want 3", n)
		}
		return nil
	})
}

// TestConnRateLimitStress: a burst of refused connections all get a
// clean 429 (no RST eating the answer) and the server stays healthy.
func TestConnRateLimitStress(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{ConnRatePerIP: 0.01, ConnBurstPerIP: 1}, auth)
	mustDial(t, addr, "/?key=k")
	const n = 200
	for i := range n {
		_, status, _, err := dialWS(addr, "/?key=k")
		if err != nil || status != http.StatusTooManyRequests {
			t.Fatalf("attempt %d: status %d err %v", i, status, err)
		}
	}
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if got := s.Stats().Rejected.Rate; got != n {
			return fmt.Errorf("Rejected.Rate = %d", got)
		}
		return nil
	})
}

func TestRateConfigErrors(t *testing.T) {
	auth := newFakeAuth()
	for _, tt := range []struct {
		cfg   Config
		field string
	}{
		{Config{ConnRatePerIP: -1}, "ConnRatePerIP"},
		{Config{ConnRatePerIP: math.NaN()}, "ConnRatePerIP"},
		{Config{ConnRatePerIP: math.Inf(1)}, "ConnRatePerIP"},
		{Config{ConnRatePerIP: 1, ConnBurstPerIP: -2}, "ConnBurstPerIP"},
	} {
		if _, err := New(tt.cfg, auth); err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("New(%+v) = %v, want error naming %s", tt.cfg, err, tt.field)
		}
	}
	for _, tt := range []struct {
		rate  float64
		burst int
	}{{0.5, 1}, {1, 1}, {2.5, 3}, {100, 100}} {
		cfg, err := Config{ConnRatePerIP: tt.rate}.withDefaults()
		if err != nil || cfg.ConnBurstPerIP != tt.burst {
			t.Errorf("rate %v: burst %d (%v), want %d", tt.rate, cfg.ConnBurstPerIP, err, tt.burst)
		}
	}
	if _, err := New(Config{}, nil); err == nil {
		t.Error(errors.New("nil Authenticator accepted"))
	}
}
