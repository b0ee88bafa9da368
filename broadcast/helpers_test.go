package broadcast

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/stellarfeed/stellarfeed/internal/wire"
)

// fakeAuth accepts the keys it holds; it also observes connections.
type fakeAuth struct {
	mu        sync.Mutex
	keys      map[string]Identity
	errs      map[string]error
	connected atomic.Int64
	gone      atomic.Int64
	delivered atomic.Uint64
}

func newFakeAuth() *fakeAuth {
	return &fakeAuth{keys: map[string]Identity{}, errs: map[string]error{}}
}

func (a *fakeAuth) add(key string, id Identity) {
	a.mu.Lock()
	a.keys[key] = id
	a.mu.Unlock()
}

func (a *fakeAuth) Authenticate(key string, _ netip.Addr) (Identity, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err, ok := a.errs[key]; ok {
		return Identity{}, err
	}
	id, ok := a.keys[key]
	if !ok {
		return Identity{}, errors.New("unknown key")
	}
	return id, nil
}

func (a *fakeAuth) Connected(Identity, netip.Addr) { a.connected.Add(1) }
func (a *fakeAuth) Disconnected(_ Identity, _ netip.Addr, _ time.Duration, delivered uint64) {
	a.gone.Add(1)
	a.delivered.Add(delivered)
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startServer runs a Server on 127.0.0.1:0 and shuts it down at cleanup.
func startServer(t testing.TB, cfg Config, auth Authenticator) (*Server, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	s, err := New(cfg, auth)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil && !errors.Is(err, ErrServerClosed) {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return s, ln.Addr().String()
}

// serveOwned runs a Server on 127.0.0.1:0 whose Shutdown is the test's
// own business; served receives Serve's result.
func serveOwned(t testing.TB, cfg Config, auth Authenticator) (s *Server, addr string, served <-chan error) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	s, err := New(cfg, auth)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	go func() { ch <- s.Serve(ln) }()
	return s, ln.Addr().String(), ch
}

// client is a lean raw-socket WebSocket client.
type client struct {
	nc net.Conn
	br *bufio.Reader
}

// dialWS opens a WebSocket with the given request target ("/?key=k").
// It returns the HTTP status; on a non-101 status, body is the response body.
func dialWS(addr, target string) (*client, int, string, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, 0, "", err
	}
	return handshakeOn(nc, target)
}

// handshakeOn runs the client handshake on an open connection.
func handshakeOn(nc net.Conn, target string) (*client, int, string, error) {
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + target + " HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, 0, "", err
	}
	br := bufio.NewReaderSize(nc, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, 0, "", fmt.Errorf("read handshake response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		nc.Close()
		return nil, resp.StatusCode, string(body), nil
	}
	_ = nc.SetDeadline(time.Time{})
	return &client{nc: nc, br: br}, resp.StatusCode, "", nil
}

func mustDial(t testing.TB, addr, target string) *client {
	t.Helper()
	c, status, body, err := dialWS(addr, target)
	if err != nil {
		t.Fatalf("dial %s: %v", target, err)
	}
	if status != http.StatusSwitchingProtocols {
		t.Fatalf("dial %s: status %d %q", target, status, body)
	}
	t.Cleanup(func() { c.nc.Close() })
	return c
}

// readFrame reads one server frame within d.
func (c *client) readFrame(d time.Duration) (ws.Header, []byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	h, err := ws.ReadHeader(c.br)
	if err != nil {
		return h, nil, err
	}
	if h.Masked {
		return h, nil, errors.New("server frame is masked")
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.br, p); err != nil {
		return h, nil, err
	}
	return h, p, nil
}

// expectClose reads frames until a close frame and returns its code.
func (c *client) expectClose(d time.Duration) (ws.StatusCode, string, error) {
	deadline := time.Now().Add(d)
	for {
		h, p, err := c.readFrame(time.Until(deadline))
		if err != nil {
			return 0, "", err
		}
		if h.OpCode == ws.OpClose {
			if len(p) < 2 {
				return 0, "", nil
			}
			return ws.StatusCode(binary.BigEndian.Uint16(p)), string(p[2:]), nil
		}
	}
}

// send writes a masked client frame.
func (c *client) send(op ws.OpCode, payload []byte) error {
	f := ws.NewFrame(op, true, append([]byte(nil), payload...))
	f = ws.MaskFrameInPlace(f)
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return ws.WriteFrame(c.nc, f)
}

// testMessage builds a ping message whose SKU carries i.
func testMessage(t testing.TB, site, region string, i int) *wire.Message {
	t.Helper()
	payload := fmt.Sprintf(`{"site":%q,"region":%q,"sku":"B0TEST%05d","offerId":"%s"}`, site, region, i, strings.Repeat("x", 500))
	return wire.FromPayload(site, region, []byte(payload))
}

// skuIndex extracts i from a testMessage payload.
func skuIndex(p []byte) int {
	s := string(p)
	k := strings.Index(s, `"sku":"B0TEST`)
	if k < 0 {
		return -1
	}
	var i int
	if _, err := fmt.Sscanf(s[k+len(`"sku":"B0TEST`):], "%05d", &i); err != nil {
		return -1
	}
	return i
}
