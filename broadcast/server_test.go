package broadcast

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

func TestEndToEndFanOut(t *testing.T) {
	const (
		clients = 2000
		pings   = 100
		bad     = 20
	)
	auth := newFakeAuth()
	for i := range clients {
		auth.add(fmt.Sprintf("key%d", i), Identity{KeyID: fmt.Sprintf("id%d", i)})
	}
	s, addr := startServer(t, Config{}, auth)

	conns := make([]*client, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients+bad)
	sem := make(chan struct{}, 64)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, status, body, err := dialWS(addr, fmt.Sprintf("/?key=key%d", i))
			if err != nil || status != http.StatusSwitchingProtocols {
				errs <- fmt.Errorf("client %d: status %d %q err %v", i, status, body, err)
				return
			}
			conns[i] = c
		}()
	}
	// Bad keys: 401 with a reason, never upgraded.
	for i := range bad {
		wg.Add(1)
		go func() {
			defer wg.Done()
			target := fmt.Sprintf("/stellar?key=nope%d", i)
			if i%2 == 0 {
				target = "/?site=amazon" // no key at all
			}
			_, status, body, err := dialWS(addr, target)
			if err != nil || status != http.StatusUnauthorized || body == "" {
				errs <- fmt.Errorf("bad client %d: status %d body %q err %v", i, status, body, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range conns {
			c.nc.Close()
		}
	}()
	testutil.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if n := s.Stats().Conns; n != clients {
			return fmt.Errorf("%d conns registered", n)
		}
		return nil
	})

	for i := range pings {
		s.Publish(testMessage(t, "amazon", "USA", i))
	}

	results := make(chan error, clients)
	for i, c := range conns {
		go func() {
			for want := range pings {
				h, p, err := c.readFrame(30 * time.Second)
				if err != nil {
					results <- fmt.Errorf("client %d frame %d: %w", i, want, err)
					return
				}
				if h.OpCode != ws.OpText || !h.Fin {
					results <- fmt.Errorf("client %d: frame %d opcode %v fin %v", i, want, h.OpCode, h.Fin)
					return
				}
				if got := skuIndex(p); got != want {
					results <- fmt.Errorf("client %d: got ping %d, want %d", i, got, want)
					return
				}
			}
			// Exactly once: nothing else follows.
			if _, _, err := c.readFrame(50 * time.Millisecond); err == nil {
				results <- fmt.Errorf("client %d: extra frame", i)
				return
			}
			results <- nil
		}()
	}
	for range clients {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Delivered != clients*pings {
		t.Errorf("Delivered = %d, want %d", st.Delivered, clients*pings)
	}
	if st.Rejected.Auth != bad {
		t.Errorf("Rejected.Auth = %d, want %d", st.Rejected.Auth, bad)
	}
	if st.Writes >= st.Delivered {
		t.Errorf("Writes = %d for %d deliveries: bursts did not coalesce", st.Writes, st.Delivered)
	}
	t.Logf("deliveries %d, writev calls %d (%.1f frames per write), passes %d",
		st.Delivered, st.Writes, float64(st.Delivered)/float64(st.Writes), st.Passes)
}

func TestAuthRejections(t *testing.T) {
	auth := newFakeAuth()
	auth.add("good", Identity{KeyID: "g"})
	auth.errs["locked"] = &AuthError{Status: http.StatusForbidden, Reason: "ip locked"}
	auth.errs["busy"] = &AuthError{Status: http.StatusTooManyRequests, Reason: "too many connections"}
	auth.errs["revoked"] = errors.New("key revoked")
	_, addr := startServer(t, Config{}, auth)

	tests := []struct {
		name   string
		target string
		status int
		body   string
	}{
		{name: "missing", target: "/", status: 401, body: "missing key"},
		{name: "unknown", target: "/?key=zzz", status: 401, body: "unknown key"},
		{name: "revoked", target: "/?key=revoked", status: 401, body: "key revoked"},
		{name: "ip lock", target: "/?key=locked", status: 403, body: "ip locked"},
		{name: "too many", target: "/?key=busy", status: 429, body: "too many connections"},
		{name: "bad path", target: "/admin?key=good", status: 404, body: "unknown path"},
		{name: "bad region", target: "/?key=good&region=MARS", status: 400, body: "region"},
		{name: "ok", target: "/stellar?key=good&site=amazon", status: 101},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, status, body, err := dialWS(addr, tt.target)
			if err != nil {
				t.Fatal(err)
			}
			if c != nil {
				c.nc.Close()
			}
			if status != tt.status || !strings.Contains(body, tt.body) {
				t.Errorf("status %d body %q, want %d containing %q", status, body, tt.status, tt.body)
			}
		})
	}
}

func TestMaxConns(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{MaxConns: 3}, auth)
	for range 3 {
		mustDial(t, addr, "/?key=k")
	}
	_, status, _, err := dialWS(addr, "/?key=k")
	if err != nil || status != http.StatusServiceUnavailable {
		t.Fatalf("4th conn: status %d err %v, want 503", status, err)
	}
	if got := s.Stats().Rejected.Full; got != 1 {
		t.Errorf("Rejected.Full = %d", got)
	}
}

func TestConfigErrors(t *testing.T) {
	auth := newFakeAuth()
	for _, tt := range []struct {
		cfg   Config
		field string
	}{
		{Config{Workers: -1}, "Workers"},
		{Config{MaxBacklogBytes: -5}, "MaxBacklogBytes"},
		{Config{WriteTimeout: -time.Second}, "WriteTimeout"},
		{Config{ReadLimit: 1 << 30}, "ReadLimit"},
	} {
		if _, err := New(tt.cfg, auth); err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("New(%+v) = %v, want error naming %s", tt.cfg, err, tt.field)
		}
	}
	if _, err := New(Config{}, nil); err == nil {
		t.Error("nil Authenticator accepted")
	}
}
