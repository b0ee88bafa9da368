package broadcast

import (
	"fmt"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

// drainClients opens n WebSockets and drains them with a fixed buffer
// (no allocation on the client side either). They close at cleanup.
func drainClients(t testing.TB, s *Server, addr string, n int) {
	t.Helper()
	base := s.Stats().Conns
	for range n {
		c, status, _, err := dialWS(addr, "/?key=k")
		if err != nil || status != http.StatusSwitchingProtocols {
			t.Fatalf("dial: %d %v", status, err)
		}
		t.Cleanup(func() { c.nc.Close() })
		go func(nc net.Conn) {
			buf := make([]byte, 64<<10)
			for {
				if _, err := nc.Read(buf); err != nil {
					return
				}
			}
		}(c.nc)
	}
	testutil.Eventually(t, 30*time.Second, 5*time.Millisecond, func() error {
		if got := s.Stats().Conns; got != base+int64(n) {
			return fmt.Errorf("%d conns", got)
		}
		return nil
	})
}

// waitDelivered spins (without allocating) until target frames went out.
func waitDelivered(s *Server, target uint64) {
	deadline := time.Now().Add(30 * time.Second)
	for s.stats.delivered.Load() < target || !s.idle() {
		if time.Now().After(deadline) {
			panic("broadcast test: deliveries stalled")
		}
		runtime.Gosched()
	}
}

func TestFanOutAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{}, auth)
	msg := testMessage(t, "amazon", "USA", 1)

	measure := func(n int) float64 {
		drainClients(t, s, addr, n-int(s.Stats().Conns))
		for range 3 { // warm up: pool workers, slices
			s.Publish(msg)
		}
		waitDelivered(s, s.stats.delivered.Load()+uint64(3*n))
		return testing.AllocsPerRun(50, func() {
			target := s.stats.delivered.Load() + uint64(n)
			s.Publish(msg)
			waitDelivered(s, target)
		})
	}
	one := measure(1)
	many := measure(500)
	t.Logf("allocs per Publish+pass: %.2f with 1 conn, %.2f with 500 conns", one, many)
	if many > one || many > 0 {
		t.Fatalf("fan-out allocates: %.2f allocs for 500 conns (1 conn: %.2f)", many, one)
	}
}

func TestNoLagBeyondLog(t *testing.T) {
	// A log smaller than the burst: a conn that cannot keep up is a slow
	// consumer, never silently skipped ahead.
	l := newMsgLog(4)
	msg := testMessage(t, "amazon", "USA", 0)
	for range 6 {
		l.append(msg, 0)
	}
	if m, _ := l.get(1); m != nil {
		t.Fatal("overwritten sequence still readable")
	}
	if m, _ := l.get(6); m != msg {
		t.Fatal("latest sequence missing")
	}
	if _, ok := l.backlog(2, l.head.Load()); ok {
		t.Fatal("backlog of a lost sequence reported")
	}
	if b, ok := l.backlog(5, l.head.Load()); !ok || b != uint64(2*len(msg.Frame)) {
		t.Fatalf("backlog = %d %v", b, ok)
	}
}
