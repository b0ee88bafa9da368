package broadcast

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

func TestSlowConsumer(t *testing.T) {
	const (
		others = 1000
		pings  = 200 // ~600 B each: 120 KB per conn, far above the 32 KB cap
		batch  = 5
	)
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	auth.add("slow", Identity{KeyID: "slow"})
	s, addr := startServer(t, Config{MaxBacklogBytes: 32 << 10}, auth)

	// The slow client: tiny receive buffer, and it never reads.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 2048)
		})
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	slow, status, _, err := handshakeOn(nc, "/?key=slow")
	if err != nil || status != http.StatusSwitchingProtocols {
		t.Fatalf("slow dial: %d %v", status, err)
	}
	defer slow.nc.Close()

	cs := make([]*client, others)
	for i := range cs {
		cs[i] = mustDial(t, addr, "/?key=k")
	}
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if s.Stats().Conns != others+1 {
			return errors.New("not registered")
		}
		return nil
	})
	// Shrink the server's send buffer for the slow conn so it stalls after
	// a few KB rather than after the kernel's autotuned megabytes.
	for _, in := range s.Conns() {
		if in.KeyID == "slow" {
			s.mu.Lock()
			c := s.conns[in.ID]
			s.mu.Unlock()
			c.mu.Lock()
			_ = unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
			c.mu.Unlock()
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, others)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for want := range pings {
				_, p, err := c.readFrame(30 * time.Second)
				if err != nil || skuIndex(p) != want {
					errs <- fmt.Errorf("client %d: got %d (%v), want %d", i, skuIndex(p), err, want)
					return
				}
			}
		}()
	}
	for i := 0; i < pings; i += batch {
		for j := i; j < i+batch; j++ {
			s.Publish(testMessage(t, "amazon", "USA", j))
		}
		// Pace the publisher like real traffic: well-behaved clients
		// never hold 32 KB of backlog.
		want := uint64(others * (i + batch))
		testutil.Eventually(t, 30*time.Second, time.Millisecond, func() error {
			if s.Stats().Delivered < want {
				return errors.New("others behind")
			}
			return nil
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, 10*time.Millisecond, func() error {
		if n := s.Stats().SlowConsumers; n != 1 {
			return fmt.Errorf("SlowConsumers = %d", n)
		}
		if n := s.Stats().Conns; n != others {
			return fmt.Errorf("%d conns open", n)
		}
		return nil
	})
	// The slow client's socket was closed by the server.
	_ = slow.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64<<10)
	for {
		if _, err := slow.br.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("slow client still connected")
			}
			break
		}
	}
}

// TestShortWritesResume: a client with tiny socket buffers that reads
// slowly forces EAGAIN and cut frames; every ping must still arrive whole
// and in order, and control replies must land between frames, never
// inside one.
func TestShortWritesResume(t *testing.T) {
	const pings = 300
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{}, auth)
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 2048)
		})
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, status, _, err := handshakeOn(nc, "/?key=k")
	if err != nil || status != http.StatusSwitchingProtocols {
		t.Fatalf("dial: %d %v", status, err)
	}
	defer c.nc.Close()
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if s.Stats().Conns != 1 {
			return errors.New("not registered")
		}
		return nil
	})
	for _, in := range s.Conns() {
		s.mu.Lock()
		sc := s.conns[in.ID]
		s.mu.Unlock()
		sc.mu.Lock()
		_ = unix.SetsockoptInt(sc.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
		sc.mu.Unlock()
	}
	for i := range pings {
		s.Publish(testMessage(t, "amazon", "USA", i))
	}
	pongs, want := 0, 0
	for want < pings {
		if want%50 == 10 && pongs == want/50 {
			if err := c.send(ws.OpPing, []byte("p")); err != nil {
				t.Fatal(err)
			}
		}
		h, p, err := c.readFrame(10 * time.Second)
		if err != nil {
			t.Fatalf("after %d pings: %v", want, err)
		}
		switch h.OpCode {
		case ws.OpPong:
			pongs++
		case ws.OpText:
			if got := skuIndex(p); got != want {
				t.Fatalf("got ping %d, want %d", got, want)
			}
			want++
		default:
			t.Fatalf("unexpected opcode %v", h.OpCode)
		}
		time.Sleep(100 * time.Microsecond) // a slow, but not too slow, reader
	}
	if pongs == 0 {
		t.Error("no pong while data was cut")
	}
	t.Logf("%d pings in %d writev calls, %d pongs", pings, s.Stats().Writes, pongs)
	if st := s.Stats(); st.Writes < 2 || st.SlowConsumers != 0 {
		t.Errorf("stats %+v: expected several writes and no slow consumer", st)
	}
}
