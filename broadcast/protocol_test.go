package broadcast

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

func TestPingPong(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	_, addr := startServer(t, Config{}, auth)
	c := mustDial(t, addr, "/?key=k")

	if err := c.send(ws.OpPing, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	h, p, err := c.readFrame(5 * time.Second)
	if err != nil || h.OpCode != ws.OpPong || string(p) != "hello" {
		t.Fatalf("control ping: got %v %q %v, want pong hello", h.OpCode, p, err)
	}

	if err := c.send(ws.OpText, []byte(`{ "type": "ping" }`)); err != nil {
		t.Fatal(err)
	}
	h, p, err = c.readFrame(5 * time.Second)
	if err != nil || h.OpCode != ws.OpText || string(p) != `{"type":"pong"}` {
		t.Fatalf("json ping: got %v %q %v", h.OpCode, p, err)
	}

	// Other data is ignored; a pong, binary and unknown JSON get no answer.
	for _, f := range []struct {
		op ws.OpCode
		p  string
	}{{ws.OpPong, ""}, {ws.OpBinary, "xx"}, {ws.OpText, `{"type":"hello"}`}} {
		if err := c.send(f.op, []byte(f.p)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := c.readFrame(100 * time.Millisecond); err == nil {
		t.Fatal("server answered ignored data")
	}
}

func TestCloseHandshake(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{}, auth)
	c := mustDial(t, addr, "/?key=k")
	body := []byte{0x03, 0xe8, 'b', 'y', 'e'} // 1000 "bye"
	if err := c.send(ws.OpClose, body); err != nil {
		t.Fatal(err)
	}
	code, _, err := c.expectClose(5 * time.Second)
	if err != nil || code != ws.StatusNormalClosure {
		t.Fatalf("close echo: code %d err %v", code, err)
	}
	if _, err := c.br.ReadByte(); err != io.EOF {
		t.Fatalf("after close: %v, want EOF", err)
	}
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if n := s.Stats().Conns; n != 0 {
			return fmt.Errorf("%d conns", n)
		}
		if auth.gone.Load() != 1 {
			return errors.New("observer not told")
		}
		return nil
	})
}

func TestMalformedTraffic(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{HandshakeTimeout: 300 * time.Millisecond}, auth)
	good := mustDial(t, addr, "/?key=k")

	t.Run("garbage before upgrade", func(t *testing.T) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_, _ = nc.Write([]byte("\x16\x03\x01\x02\x00garbage\r\n\r\n"))
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, _ := io.ReadAll(nc)
		if !bytes.HasPrefix(resp, []byte("HTTP/1.1 4")) && !bytes.HasPrefix(resp, []byte("HTTP/1.1 5")) && len(resp) != 0 {
			t.Errorf("garbage got %q", resp)
		}
	})
	t.Run("unmasked frame", func(t *testing.T) {
		c := mustDial(t, addr, "/?key=k")
		_ = ws.WriteFrame(c.nc, ws.NewTextFrame([]byte("hi"))) // not masked
		code, _, err := c.expectClose(5 * time.Second)
		if err != nil || code != ws.StatusProtocolError {
			t.Fatalf("code %d err %v, want 1002", code, err)
		}
	})
	t.Run("1 MB frame", func(t *testing.T) {
		c := mustDial(t, addr, "/?key=k")
		hdr := ws.Header{Fin: true, OpCode: ws.OpBinary, Masked: true, Length: 1 << 20, Mask: ws.NewMask()}
		go func() { // the server closes after the header: writes may fail
			_ = ws.WriteHeader(c.nc, hdr)
			_, _ = c.nc.Write(make([]byte, 1<<20))
		}()
		code, _, err := c.expectClose(5 * time.Second)
		if err != nil || code != ws.StatusMessageTooBig {
			t.Fatalf("code %d err %v, want 1009", code, err)
		}
	})
	t.Run("half-open handshake", func(t *testing.T) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_, _ = nc.Write([]byte("GET /?key=k HTTP/1.1\r\nHost: x\r\n")) // never finishes
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		_, err = io.ReadAll(nc)
		if err != nil {
			t.Fatalf("server did not drop the slow handshake: %v", err)
		}
		if time.Since(start) > 4*time.Second {
			t.Fatal("handshake deadline not applied")
		}
	})
	// The well-behaved client still gets pings.
	s.Publish(testMessage(t, "amazon", "USA", 7))
	_, p, err := good.readFrame(5 * time.Second)
	if err != nil || skuIndex(p) != 7 {
		t.Fatalf("good client: %q %v", p, err)
	}
	if st := s.Stats(); st.Rejected.Timeout == 0 || st.Rejected.BadRequest == 0 {
		t.Errorf("rejections not counted: %+v", st.Rejected)
	}
}

func TestFiltersAndScopes(t *testing.T) {
	auth := newFakeAuth()
	auth.add("all", Identity{KeyID: "all"})
	auth.add("amz", Identity{KeyID: "amz", Scopes: []string{"amazon"}})
	auth.add("amzusa", Identity{KeyID: "amzusa", Scopes: []string{"amazon:USA", "walmart"}})
	s, addr := startServer(t, Config{}, auth)

	tests := []struct {
		name   string
		target string
		want   []int // indexes of msgs received, in order
	}{
		{name: "everything", target: "/?key=all", want: []int{0, 1, 2, 3, 4}},
		{name: "site", target: "/?key=all&site=walmart,walmartca", want: []int{2, 3}},
		{name: "region", target: "/?key=all&site=amazon&region=usa,ca", want: []int{0, 1}},
		{name: "region lets region-less pass", target: "/?key=all&region=UK", want: []int{2, 3, 4}},
		{name: "scope site", target: "/stellar?key=amz", want: []int{0, 1, 4}},
		{name: "scope region", target: "/?key=amzusa", want: []int{0, 2}},
		{name: "scope and filter", target: "/?key=amzusa&site=walmart", want: []int{2}},
	}
	clients := make([]*client, len(tests))
	for i, tt := range tests {
		clients[i] = mustDial(t, addr, tt.target)
	}
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if s.Stats().Conns != int64(len(tests)) {
			return errors.New("not all registered")
		}
		return nil
	})
	msgs := [][2]string{{"amazon", "USA"}, {"amazon", "CA"}, {"walmart", ""}, {"walmartca", ""}, {"amazon", "UK"}}
	for i, m := range msgs {
		s.Publish(testMessage(t, m[0], m[1], i))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clients[i]
			for _, want := range tt.want {
				_, p, err := c.readFrame(5 * time.Second)
				if err != nil || skuIndex(p) != want {
					t.Fatalf("got %d (%v), want %d", skuIndex(p), err, want)
				}
			}
			if _, p, err := c.readFrame(50 * time.Millisecond); err == nil {
				t.Fatalf("unexpected ping %d", skuIndex(p))
			}
		})
	}
}

// DisconnectIssued cuts the connections of one secret version of a key
// and leaves the key's others open.
func TestDisconnectIssued(t *testing.T) {
	auth := newFakeAuth()
	auth.add("old", Identity{KeyID: "A", Issued: 1})
	auth.add("new", Identity{KeyID: "A", Issued: 2})
	s, addr := startServer(t, Config{}, auth)
	oldC, newC := mustDial(t, addr, "/?key=old"), mustDial(t, addr, "/?key=new")
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if s.Stats().Conns != 2 {
			return errors.New("not registered")
		}
		return nil
	})
	if n := s.DisconnectIssued("A", 1, ws.StatusPolicyViolation, "key rotated"); n != 1 {
		t.Fatalf("DisconnectIssued closed %d, want 1", n)
	}
	if code, reason, err := oldC.expectClose(time.Second); err != nil || code != ws.StatusPolicyViolation || reason != "key rotated" {
		t.Fatalf("old secret: %d %q %v", code, reason, err)
	}
	// The new secret's connection still gets pings.
	s.Publish(testMessage(t, "amazon", "USA", 1))
	if _, p, err := newC.readFrame(5 * time.Second); err != nil || skuIndex(p) != 1 {
		t.Fatalf("new secret: %v", err)
	}
}

func TestDisconnectKeyAndKick(t *testing.T) {
	auth := newFakeAuth()
	auth.add("a", Identity{KeyID: "A"})
	auth.add("b", Identity{KeyID: "B"})
	s, addr := startServer(t, Config{}, auth)
	a1, a2, b := mustDial(t, addr, "/?key=a"), mustDial(t, addr, "/?key=a"), mustDial(t, addr, "/?key=b")
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if s.Stats().Conns != 3 {
			return errors.New("not registered")
		}
		return nil
	})
	start := time.Now()
	if n := s.DisconnectKey("A", ws.StatusPolicyViolation, "key revoked"); n != 2 {
		t.Fatalf("DisconnectKey closed %d, want 2", n)
	}
	for _, c := range []*client{a1, a2} {
		code, reason, err := c.expectClose(time.Second)
		if err != nil || code != ws.StatusPolicyViolation || reason != "key revoked" {
			t.Fatalf("got %d %q %v", code, reason, err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("revocation took %v", d)
	}
	s.Publish(testMessage(t, "amazon", "USA", 1))
	if _, p, err := b.readFrame(5 * time.Second); err != nil || skuIndex(p) != 1 {
		t.Fatalf("other key: %v", err)
	}
	infos := s.Conns()
	if len(infos) == 0 {
		t.Fatal("no conns listed")
	}
	var id uint64
	for _, in := range infos {
		if in.KeyID == "B" {
			id = in.ID
		}
	}
	if !s.Kick(id, ws.StatusPolicyViolation, "kicked") {
		t.Fatal("Kick failed")
	}
	if code, _, err := b.expectClose(time.Second); err != nil || code != ws.StatusPolicyViolation {
		t.Fatalf("kick: %d %v", code, err)
	}
}

func TestExpirySweep(t *testing.T) {
	auth := newFakeAuth()
	auth.add("soon", Identity{KeyID: "soon", Expires: time.Now().Add(200 * time.Millisecond)})
	auth.add("later", Identity{KeyID: "later", Expires: time.Now().Add(time.Hour)})
	_, addr := startServer(t, Config{}, auth)
	soon, later := mustDial(t, addr, "/?key=soon"), mustDial(t, addr, "/?key=later")
	code, reason, err := soon.expectClose(3 * time.Second)
	if err != nil || code != ws.StatusPolicyViolation || reason != "key expired" {
		t.Fatalf("expired conn: %d %q %v", code, reason, err)
	}
	if _, _, err := later.readFrame(100 * time.Millisecond); err == nil {
		t.Fatal("valid key got a frame")
	}
}

func TestServerPing(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	_, addr := startServer(t, Config{PingInterval: time.Second}, auth)
	c := mustDial(t, addr, "/?key=k")
	h, _, err := c.readFrame(5 * time.Second)
	if err != nil || h.OpCode != ws.OpPing {
		t.Fatalf("got %v %v, want a server ping", h.OpCode, err)
	}
}

func TestShutdownGoingAway(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr, served := serveOwned(t, Config{}, auth)
	cs := make([]*client, 50)
	for i := range cs {
		cs[i] = mustDial(t, addr, "/?key=k")
	}
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if s.Stats().Conns != int64(len(cs)) {
			return errors.New("not registered")
		}
		return nil
	})
	s.Publish(testMessage(t, "amazon", "USA", 3))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	for i, c := range cs {
		// The ping published before Shutdown is drained first.
		_, p, err := c.readFrame(5 * time.Second)
		if err != nil || skuIndex(p) != 3 {
			t.Fatalf("client %d: drained ping missing: %v", i, err)
		}
		code, _, err := c.expectClose(5 * time.Second)
		if err != nil || code != ws.StatusGoingAway {
			t.Fatalf("client %d: code %d err %v, want 1001", i, code, err)
		}
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("listener still open")
	}
	if auth.gone.Load() != int64(len(cs)) {
		t.Errorf("observer saw %d disconnects", auth.gone.Load())
	}
}

// flakyListener fails Accept with EMFILE a few times, like a process out of fds.
type flakyListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

func TestAcceptSurvivesEMFILE(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, err := New(Config{Logger: quietLogger()}, auth)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &flakyListener{Listener: inner}
	ln.fails.Store(5)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	c := mustDial(t, inner.Addr().String(), "/?key=k")
	if got := s.Stats().AcceptErrors; got != 5 {
		t.Errorf("AcceptErrors = %d, want 5", got)
	}
	c.nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}

func TestSocketsStayNonBlocking(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{}, auth)
	mustDial(t, addr, "/?key=k")
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if s.Stats().Conns != 1 {
			return errors.New("not registered")
		}
		return nil
	})
	for _, in := range s.Conns() {
		s.mu.Lock()
		c := s.conns[in.ID]
		s.mu.Unlock()
		c.mu.Lock()
		flags, err := unix.FcntlInt(uintptr(c.fd), unix.F_GETFL, 0)
		c.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if flags&unix.O_NONBLOCK == 0 {
			t.Fatalf("fd %d is blocking (flags %#x)", c.fd, flags)
		}
	}
}

func TestIdleGoroutines(t *testing.T) {
	const n = 5000
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{}, auth)
	before := runtime.NumGoroutine()
	var ms0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	// The client ends live in a child process: this process holds only
	// the server side, so the heap delta is the server's cost.
	stop := startChild(t, addr, "/?key=k", n)
	defer stop()
	testutil.Eventually(t, 30*time.Second, 10*time.Millisecond, func() error {
		if got := s.Stats().Conns; got != n {
			return fmt.Errorf("%d registered", got)
		}
		return nil
	})
	g := runtime.NumGoroutine()
	var ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	t.Logf("goroutines: %d before, %d with %d idle conns; server heap %+d B per idle conn",
		before, g, n, (int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc))/n)
	if g >= 100 {
		t.Fatalf("%d goroutines with %d idle connections", g, n)
	}
}
