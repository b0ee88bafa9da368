package broadcast

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

// upgradeRequest is a complete, valid upgrade request for target.
func upgradeRequest(target string, extra ...string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		strings.Join(extra, "") + "\r\n"
}

// readStatus reads one HTTP response from nc and returns its status and body.
func readStatus(nc net.Conn) (int, string, http.Header, error) {
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(body), resp.Header, nil
}

// waitClosed reads nc until EOF (or an error other than a timeout) and
// fails after d.
func waitClosed(t *testing.T, nc net.Conn, d time.Duration) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", d)
	}
}

// waitStats waits until ok holds for the server's Stats: a worker counts
// an upgrade just after it wrote the 101 the client saw.
func waitStats(t *testing.T, s *Server, ok func(Stats) bool) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, time.Millisecond, func() error {
		if st := s.Stats(); !ok(st) {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
}

// waitHandshakes waits until the server holds n unfinished handshakes.
func waitHandshakes(t *testing.T, s *Server, n int64) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, 2*time.Millisecond, func() error {
		if got := s.Stats().Handshakes; got != n {
			return fmt.Errorf("%d unfinished handshakes, want %d", got, n)
		}
		return nil
	})
}

func TestHasBareCR(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"GET / HTTP/1.1\nHost: a\n\n", false},
		{"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nX: a\r", true},
		{"", false},
	} {
		if got := hasBareCR([]byte(tt.in)); got != tt.want {
			t.Errorf("hasBareCR(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestEndOfRequest(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"", -1},
		{"GET / HTTP/1.1\r\n", -1},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r", -1},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\nextra", 27},
		{"GET / HTTP/1.1\nHost: x\n\n", 24},
		{"GET / HTTP/1.1\nHost: x\n\r\n", 25},
		{"\r\n\r\n", 4},
		{"a\r\nb\rc\r\n\r\n", 10},
	} {
		if got := endOfRequest([]byte(tt.in), 0); got != tt.want {
			t.Errorf("endOfRequest(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// proxyV2 builds a PROXY v2 header: cmd 0 LOCAL / 1 PROXY, fam the
// family/transport byte, addrs the address block, tlv appended after it.
func proxyV2(cmd, fam byte, addrs []byte, tlv []byte) []byte {
	b := append([]byte(nil), proxyV2Sig...)
	b = append(b, 0x20|cmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(addrs)+len(tlv)))
	b = append(b, addrs...)
	return append(b, tlv...)
}

func v4Block(src, dst string) []byte {
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	b := append(s[:], d[:]...)
	return append(b, 0x15, 0xb3, 0x01, 0xbb) // ports 5555, 443
}

func v6Block(src, dst string) []byte {
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	b := append(s[:], d[:]...)
	return append(b, 0x15, 0xb3, 0x01, 0xbb)
}

func TestParseProxy(t *testing.T) {
	v4 := proxyV2(1, 0x11, v4Block("203.0.113.7", "10.0.0.1"), nil)
	v6 := proxyV2(1, 0x21, v6Block("2001:db8::7", "2001:db8::1"), []byte{0x04, 0x00, 0x02, 'o', 'k'}) // a NOOP TLV
	tests := []struct {
		name string
		in   []byte
		n    int    // header length; -1: errProxyMore
		src  string // "" = none (keep the peer)
		err  string // substring of a refusal
	}{
		{name: "no header", in: []byte("GET / HTTP/1.1\r\n"), n: 0},
		{name: "empty", in: nil, n: -1},
		{name: "v1 prefix", in: []byte("PROX"), n: -1},
		{name: "v2 prefix", in: proxyV2Sig[:7], n: -1},
		{name: "v1 tcp4", in: []byte("PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\nGET"), n: 42, src: "203.0.113.7"},
		{name: "v1 tcp6", in: []byte("PROXY TCP6 2001:db8::7 2001:db8::1 5555 443\r\n"), n: 45, src: "2001:db8::7"},
		{name: "v1 unknown", in: []byte("PROXY UNKNOWN ffff 1\r\n"), n: 22},
		{name: "v1 cut", in: []byte("PROXY TCP4 203.0.113.7 10.0"), n: -1},
		{name: "v1 too long", in: []byte("PROXY TCP4 " + strings.Repeat("1", 120)), err: "107 bytes"},
		{name: "v1 bad proto", in: []byte("PROXY UDP4 1.2.3.4 1.2.3.5 1 2\r\n"), err: "protocol"},
		{name: "v1 family mismatch", in: []byte("PROXY TCP4 2001:db8::7 10.0.0.1 1 2\r\n"), err: "address"},
		{name: "v1 bad port", in: []byte("PROXY TCP4 1.2.3.4 1.2.3.5 99999 2\r\n"), err: "port"},
		{name: "v1 leading zero port", in: []byte("PROXY TCP4 1.2.3.4 1.2.3.5 01 2\r\n"), err: "port"},
		{name: "v1 fields", in: []byte("PROXY TCP4 1.2.3.4 1.2.3.5 1\r\n"), err: "PROTO"},
		{name: "v2 tcp4", in: append(append([]byte(nil), v4...), "GET"...), n: 28, src: "203.0.113.7"},
		{name: "v2 tcp6 tlv", in: v6, n: 16 + 36 + 5, src: "2001:db8::7"},
		{name: "v2 local", in: proxyV2(0, 0x00, nil, nil), n: 16},
		{name: "v2 unspec", in: proxyV2(1, 0x00, nil, nil), n: 16},
		{name: "v2 unix", in: proxyV2(1, 0x31, make([]byte, 216), nil), n: 16 + 216},
		{name: "v2 cut", in: v4[:20], n: -1},
		{name: "v2 header cut", in: v4[:14], n: -1},
		{name: "v2 version", in: append(append([]byte(nil), proxyV2Sig...), 0x11, 0x11, 0, 0), err: "version"},
		{name: "v2 command", in: proxyV2(2, 0x11, v4Block("1.2.3.4", "1.2.3.5"), nil), err: "command"},
		{name: "v2 family", in: proxyV2(1, 0x41, nil, nil), err: "family"},
		{name: "v2 dgram", in: proxyV2(1, 0x12, v4Block("1.2.3.4", "1.2.3.5"), nil), err: "DGRAM"},
		{name: "v2 short v4", in: proxyV2(1, 0x11, make([]byte, 8), nil), err: "shorter"},
		{name: "v2 short v6", in: proxyV2(1, 0x21, make([]byte, 20), nil), err: "shorter"},
		{name: "v2 too long", in: proxyV2(1, 0x11, v4Block("1.2.3.4", "1.2.3.5"), make([]byte, 2000)), err: "1 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, src, err := parseProxy(tt.in)
			switch {
			case tt.err != "":
				if err == nil || err == errProxyMore || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one containing %q", err, tt.err)
				}
			case tt.n < 0:
				if err != errProxyMore {
					t.Fatalf("n %d err %v, want errProxyMore", n, err)
				}
			default:
				if err != nil || n != tt.n {
					t.Fatalf("n %d err %v, want %d", n, err, tt.n)
				}
				if got := src.String(); tt.src == "" && src.IsValid() || tt.src != "" && got != tt.src {
					t.Fatalf("src %s, want %q", got, tt.src)
				}
			}
		})
	}
}

// FuzzParseProxy: no input crashes the parser; a header's length stays
// within the input and the limits; and a parse is stable under
// truncation: every strict prefix of a header is "more" (never another
// answer), as the poller sees the bytes arrive one by one.
func FuzzParseProxy(f *testing.F) {
	f.Add([]byte("PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\nGET"))
	f.Add([]byte("PROXY TCP6 2001:db8::7 2001:db8::1 5555 443\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(proxyV2(1, 0x11, v4Block("203.0.113.7", "10.0.0.1"), nil))
	f.Add(proxyV2(1, 0x21, v6Block("2001:db8::7", "2001:db8::1"), []byte{1, 0, 2, 'h', '2'}))
	f.Add(proxyV2(0, 0, nil, nil))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, src, err := parseProxy(b)
		if err != nil {
			if n != 0 || src.IsValid() {
				t.Fatalf("error %v with n %d src %v", err, n, src)
			}
			return
		}
		if n < 0 || n > len(b) || n > maxProxyHeader {
			t.Fatalf("n %d for %d bytes", n, len(b))
		}
		if n == 0 {
			return
		}
		for k := range n {
			if _, _, err := parseProxy(b[:k]); err != errProxyMore {
				t.Fatalf("prefix %d of a %d-byte header: %v, want errProxyMore", k, n, err)
			}
		}
		if n2, src2, err2 := parseProxy(b[:n]); n2 != n || src2 != src || err2 != nil {
			t.Fatalf("header alone: %d %v %v, want %d %v", n2, src2, err2, n, src)
		}
	})
}

// FuzzEndOfRequest: the end found by scanning the bytes as they arrive,
// in chunks, with the poller's resume offset, is the end found in one go.
func FuzzEndOfRequest(f *testing.F) {
	f.Add([]byte(upgradeRequest("/?key=k")), uint8(1))
	f.Add([]byte("GET / HTTP/1.1\nHost: x\n\r\n"), uint8(3))
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n"), uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8) {
		step := int(chunk%16) + 1
		want := endOfRequest(b, 0)
		got, scanned := -1, 0
		for n := min(step, len(b)); ; n = min(n+step, len(b)) {
			if got = endOfRequest(b[:n], max(0, scanned-2)); got >= 0 {
				break
			}
			scanned = n
			if n == len(b) {
				break
			}
		}
		if got != want {
			t.Fatalf("chunked end %d, whole %d", got, want)
		}
		if want > len(b) || want == 0 {
			t.Fatalf("end %d of %d bytes", want, len(b))
		}
	})
}

func TestHandshakeByteByByte(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{}, auth)
	for _, req := range []string{
		upgradeRequest("/?key=k"),
		strings.ReplaceAll(upgradeRequest("/?key=k"), "\r\n", "\n"), // bare LF line ends
	} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		for i := range len(req) {
			if _, err := nc.Write([]byte{req[i]}); err != nil {
				t.Fatalf("byte %d: %v", i, err)
			}
		}
		status, body, _, err := readStatus(nc)
		if status != http.StatusSwitchingProtocols {
			t.Fatalf("status %d %q %v", status, body, err)
		}
	}
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if n := s.Stats().Conns; n != 2 {
			return fmt.Errorf("%d conns", n)
		}
		return nil
	})
	s.Publish(testMessage(t, "amazon", "USA", 3))
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if d := s.Stats().Delivered; d != 2 {
			return fmt.Errorf("%d delivered", d)
		}
		return nil
	})
	waitHandshakes(t, s, 0)
}

func TestHandshakeSizeLimit(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{}, auth)
	base := len(upgradeRequest("/?key=k", "X-Pad: \r\n"))
	tests := []struct {
		name   string
		pad    int
		status int
	}{
		{"exactly 8 KiB", maxRequestBytes - base, http.StatusSwitchingProtocols},
		{"one byte over", maxRequestBytes - base + 1, http.StatusRequestHeaderFieldsTooLarge},
		{"100 KB header line", 100 << 10, http.StatusRequestHeaderFieldsTooLarge},
		{"1 MB header line", 1 << 20, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			req := upgradeRequest("/?key=k", "X-Pad: "+strings.Repeat("a", tt.pad)+"\r\n")
			// The server stops reading at the limit: write from the side.
			go func() { _, _ = io.WriteString(nc, req) }()
			status, body, _, err := readStatus(nc)
			if err != nil || status != tt.status {
				t.Fatalf("status %d %q %v, want %d", status, body, err, tt.status)
			}
			if status != http.StatusSwitchingProtocols {
				if !strings.Contains(body, "8192") {
					t.Errorf("body %q does not name the limit", body)
				}
				waitClosed(t, nc, 5*time.Second)
			}
		})
	}
	waitStats(t, s, func(st Stats) bool { return st.Rejected.TooLarge == 3 && st.Upgraded == 1 })
}

func TestHandshakeGarbage(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{}, auth)
	for _, tt := range []struct {
		name, in string
	}{
		{"tls client hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"},
		{"http/1.0", "GET /?key=k HTTP/1.0\r\nHost: x\r\n\r\n"},
		{"post", "POST /?key=k HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"no upgrade headers", "GET /?key=k HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"nul bytes", "\x00\x00\x00\x00\r\n\r\n"},
		// (A lone "\r\n\r\n" is the start of a PROXY v2 signature: it
		// waits for more, up to the deadline.)
		{"blank lines only", "\r\n\r\n\r\n\r\n"},
		{"header without colon", "GET /?key=k HTTP/1.1\r\nHost x\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := io.WriteString(nc, tt.in); err != nil {
				t.Fatal(err)
			}
			status, body, _, err := readStatus(nc)
			if err != nil || status < 400 || status > 505 {
				t.Fatalf("status %d %q %v, want 4xx (505 for HTTP/1.0)", status, body, err)
			}
			waitClosed(t, nc, 5*time.Second)
		})
	}
	if st := s.Stats(); st.Rejected.BadRequest != 7 || st.Upgraded != 0 {
		t.Errorf("BadRequest %d Upgraded %d (%+v)", st.Rejected.BadRequest, st.Upgraded, st.Rejected)
	}
	waitHandshakes(t, s, 0)
}

func TestHandshakePerIPCap(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{MaxHandshakesPerIP: 3}, auth)
	var held []net.Conn
	for range 3 {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_, _ = io.WriteString(nc, "GET /?key=k HTTP/1.1\r\n") // and no more
		held = append(held, nc)
	}
	waitHandshakes(t, s, 3)

	// The fourth from the same IP is refused at accept.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	status, _, hdr, err := readStatus(nc)
	if err != nil || status != http.StatusTooManyRequests || hdr.Get("Retry-After") != "1" {
		t.Fatalf("4th: status %d Retry-After %q %v, want 429 and 1", status, hdr.Get("Retry-After"), err)
	}

	upgradeFrom(t, "127.0.0.2", addr) // another IP has its own budget

	// A finished handshake gives its slot back.
	held[0].Close()
	waitHandshakes(t, s, 2)
	mustDial(t, addr, "/?key=k")
	waitStats(t, s, func(st Stats) bool { return st.Rejected.PerIP == 1 && st.Upgraded == 2 })
}

func TestHandshakeShedsOldest(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{MaxHandshakes: 3, MaxHandshakesPerIP: -1}, auth)
	var held []net.Conn
	for i := range 3 {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		held = append(held, nc)
		waitHandshakes(t, s, int64(i+1)) // so the order of arrival is known
	}
	// A new client gets in; the oldest unfinished handshake pays for it.
	mustDial(t, addr, "/?key=k")
	waitClosed(t, held[0], 5*time.Second)
	waitHandshakes(t, s, 2)
	// The two younger ones are still attached: each can still finish.
	for _, nc := range held[1:] {
		if c, status, _, err := handshakeOn(nc, "/?key=k"); err != nil || status != http.StatusSwitchingProtocols {
			t.Fatalf("younger handshake: %d %v", status, err)
		} else {
			c.nc.Close()
		}
	}
	waitStats(t, s, func(st Stats) bool { return st.Rejected.Shed == 1 && st.Upgraded == 3 })
}

// TestHandshakeCapWithinMaxConns: open connections shrink the handshake
// cap, so client sockets never exceed MaxConns.
func TestHandshakeCapWithinMaxConns(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{MaxConns: 3, MaxHandshakesPerIP: -1}, auth)
	mustDial(t, addr, "/?key=k")
	mustDial(t, addr, "/?key=k")
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	waitHandshakes(t, s, 1)
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	waitClosed(t, first, 5*time.Second) // room for one: the older goes
	waitStats(t, s, func(st Stats) bool { return st.Rejected.Shed == 1 && st.Handshakes == 1 })
	if c, status, _, err := handshakeOn(second, "/?key=k"); err != nil || status != http.StatusSwitchingProtocols {
		t.Fatalf("third connection: %d %v", status, err)
	} else {
		c.nc.Close()
	}
}

// TestHandshakeDeadline: unfinished handshakes are closed at their
// deadline by the table's sweeper, with no goroutine per connection.
func TestHandshakeDeadline(t *testing.T) {
	const n = 200
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{HandshakeTimeout: 500 * time.Millisecond, MaxHandshakesPerIP: -1}, auth)
	before := runtime.NumGoroutine()
	fds0 := openFDs(t)
	conns := make([]net.Conn, n)
	for i := range conns {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if i%2 == 0 {
			_, _ = io.WriteString(nc, "GET /?key=k HTTP/1.1\r\nHo") // half a request; the rest never comes
		}
		conns[i] = nc
	}
	// All attached at once (a positive marker), and not one goroutine each.
	testutil.Eventually(t, 10*time.Second, time.Millisecond, func() error {
		st := s.Stats()
		if st.Handshakes+int64(st.Rejected.Timeout) != n {
			return fmt.Errorf("%d unfinished, %d timed out", st.Handshakes, st.Rejected.Timeout)
		}
		return nil
	})
	if g := runtime.NumGoroutine(); g > before+20 {
		t.Errorf("%d goroutines with %d unfinished handshakes (%d before)", g, n, before)
	}
	// One fd per connection on each side: the client's and the server's.
	if fds := openFDs(t); fds > fds0+2*n+10 {
		t.Errorf("%d open fds with %d unfinished handshakes (%d before)", fds, n, fds0)
	}
	var wg sync.WaitGroup
	for _, nc := range conns {
		wg.Go(func() { waitClosed(t, nc, 10*time.Second) })
	}
	wg.Wait()
	waitHandshakes(t, s, 0) // the count drops just after the close the clients saw
	if st := s.Stats(); st.Rejected.Timeout != n {
		t.Errorf("Timeout %d, want %d", st.Rejected.Timeout, n)
	}
	// The server still upgrades.
	mustDial(t, addr, "/?key=k")
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	return len(ents)
}

// remoteAuth records the address each Authenticate call was given.
type remoteAuth struct {
	*fakeAuth
	mu      sync.Mutex
	remotes []netip.Addr
}

func (a *remoteAuth) Authenticate(key string, remote netip.Addr) (Identity, error) {
	a.mu.Lock()
	a.remotes = append(a.remotes, remote)
	a.mu.Unlock()
	return a.fakeAuth.Authenticate(key, remote)
}

func (a *remoteAuth) last() netip.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.remotes) == 0 {
		return netip.Addr{}
	}
	return a.remotes[len(a.remotes)-1]
}

func TestProxyProtocol(t *testing.T) {
	auth := &remoteAuth{fakeAuth: newFakeAuth()}
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{
		ProxyProtocol:      true,
		TrustedProxies:     []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		MaxHandshakesPerIP: 1,
	}, auth)

	tests := []struct {
		name   string
		from   string // local address to dial from
		header []byte
		status int
		remote string // what the Authenticator and Conns see
		body   string
	}{
		{name: "v1 trusted", from: "127.0.0.1", header: []byte("PROXY TCP4 203.0.113.7 127.0.0.1 5555 8080\r\n"), status: 101, remote: "203.0.113.7"},
		{name: "v2 trusted ipv4", from: "127.0.0.1", header: proxyV2(1, 0x11, v4Block("198.51.100.9", "127.0.0.1"), nil), status: 101, remote: "198.51.100.9"},
		{name: "v2 trusted ipv6 tlv", from: "127.0.0.1", header: proxyV2(1, 0x21, v6Block("2001:db8::7", "::1"), []byte{4, 0, 1, 0}), status: 101, remote: "2001:db8::7"},
		{name: "v2 local", from: "127.0.0.1", header: proxyV2(0, 0, nil, nil), status: 101, remote: "127.0.0.1"},
		{name: "v1 unknown", from: "127.0.0.1", header: []byte("PROXY UNKNOWN\r\n"), status: 101, remote: "127.0.0.1"},
		{name: "trusted without header", from: "127.0.0.1", status: 101, remote: "127.0.0.1"},
		{name: "malformed from trusted", from: "127.0.0.1", header: []byte("PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n"), status: 400, body: "bad PROXY header"},
		{name: "v1 untrusted", from: "127.0.0.2", header: []byte("PROXY TCP4 203.0.113.7 127.0.0.1 5555 8080\r\n"), status: 400, body: "not a trusted proxy"},
		{name: "v2 untrusted", from: "127.0.0.2", header: proxyV2(1, 0x11, v4Block("203.0.113.7", "127.0.0.1"), nil), status: 400, body: "not a trusted proxy"},
		{name: "untrusted without header", from: "127.0.0.2", status: 101, remote: "127.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := dialFrom(tt.from, addr)
			if err != nil {
				t.Skipf("cannot bind %s: %v", tt.from, err)
			}
			defer nc.Close()
			// Header and request arrive apart, the header byte by byte.
			for _, b := range tt.header {
				if _, err := nc.Write([]byte{b}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.status != 101 {
				_, _ = io.WriteString(nc, upgradeRequest("/?key=k"))
				status, body, _, err := readStatus(nc)
				if err != nil || status != tt.status || !strings.Contains(body, tt.body) {
					t.Fatalf("status %d %q %v, want %d %q", status, body, err, tt.status, tt.body)
				}
				waitClosed(t, nc, 5*time.Second)
				return
			}
			c, status, body, err := handshakeOn(nc, "/?key=k")
			if err != nil || status != 101 {
				t.Fatalf("status %d %q %v", status, body, err)
			}
			defer c.nc.Close()
			if got := auth.last().String(); got != tt.remote {
				t.Errorf("Authenticate saw %s, want %s", got, tt.remote)
			}
			testutil.Eventually(t, 5*time.Second, 2*time.Millisecond, func() error {
				for _, ci := range s.Conns() {
					if ci.Remote.String() == tt.remote {
						return nil
					}
				}
				return fmt.Errorf("no connection from %s in %v", tt.remote, s.Conns())
			})
		})
	}

	// The per-IP cap counts the client behind the proxy, not the proxy:
	// one unfinished handshake for 192.0.2.1 is its limit, another client
	// through the same proxy is not affected.
	hold := func(src string) net.Conn {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		_, _ = io.WriteString(nc, "PROXY TCP4 "+src+" 127.0.0.1 1 2\r\nGET /?key=k HTTP/1.1\r\n")
		return nc
	}
	waitHandshakes(t, s, 0) // refused subtests done lingering
	hold("192.0.2.1")
	waitHandshakes(t, s, 1)
	second := hold("192.0.2.1")
	status, _, _, err := readStatus(second)
	if err != nil || status != http.StatusTooManyRequests {
		t.Fatalf("second unfinished handshake of one client: %d %v, want 429", status, err)
	}
	other := hold("192.0.2.2")
	_, _ = io.WriteString(other, "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if status, _, _, err := readStatus(other); err != nil || status != 101 {
		t.Fatalf("other client through the proxy: %d %v", status, err)
	}
	if st := s.Stats(); st.Rejected.Proxy != 3 || st.Rejected.PerIP != 1 {
		t.Errorf("Proxy %d PerIP %d, want 3 and 1", st.Rejected.Proxy, st.Rejected.PerIP)
	}
}

// TestProxyHeaderRefusedWhenOff: with ProxyProtocol off, a PROXY header
// is refused from everyone, loopback included.
func TestProxyHeaderRefusedWhenOff(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{}, auth)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, _ = io.WriteString(nc, "PROXY TCP4 203.0.113.7 127.0.0.1 5555 8080\r\n"+upgradeRequest("/?key=k"))
	if status, _, _, err := readStatus(nc); err != nil || status != http.StatusBadRequest {
		t.Fatalf("status %d %v, want 400", status, err)
	}
	if got := s.Stats().Rejected.Proxy; got != 1 {
		t.Errorf("Rejected.Proxy = %d", got)
	}
}

func TestHandshakeConfigErrors(t *testing.T) {
	auth := newFakeAuth()
	if _, err := New(Config{ProxyProtocol: true}, auth); err == nil || !strings.Contains(err.Error(), "TrustedProxies") {
		t.Errorf("ProxyProtocol without TrustedProxies: %v", err)
	}
	if _, err := New(Config{MaxHandshakes: -1}, auth); err == nil || !strings.Contains(err.Error(), "MaxHandshakes") {
		t.Errorf("MaxHandshakes -1: %v", err)
	}
}

// TestHandshakeShutdown: Shutdown with handshakes in every state (reading,
// lingering) returns, closes them, and leaks nothing (goleak, TestMain).
func TestHandshakeShutdown(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr, served := serveOwned(t, Config{MaxHandshakesPerIP: -1}, auth)
	var conns []net.Conn
	for i := range 20 {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if i%2 == 0 {
			_, _ = io.WriteString(nc, "GET /?key=k HTTP/1.1\r\n")
		}
		conns = append(conns, nc)
	}
	waitHandshakes(t, s, 20)
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	for _, nc := range conns {
		waitClosed(t, nc, 5*time.Second)
	}
	if n := s.Stats().Handshakes; n != 0 {
		t.Fatalf("%d handshakes after Shutdown", n)
	}
}
