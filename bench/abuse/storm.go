package abuse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

func stormChecks() []Check {
	return []Check{
		{Name: "storm/reconnect", Family: "storm",
			About: "rounds of many clients connecting at once and leaving (close frame, FIN, RST): fds, goroutines, connections and memory return to baseline",
			Run:   func(ctx context.Context, e *Env) (string, error) { return e.reconnectStorm(ctx) }},
		{Name: "storm/half-close", Family: "storm",
			About: "upgraded clients that half-close (FIN, still reading) are released: connections and fds return to baseline",
			Run:   func(ctx context.Context, e *Env) (string, error) { return e.halfClose(ctx) }},
	}
}

// baseline is the server's resources before an attack.
type baseline struct{ fds, rss, goroutines, conns float64 }

func (e *Env) baseline(ctx context.Context) (baseline, error) {
	m, err := e.metrics(ctx)
	if err != nil {
		return baseline{}, err
	}
	var b baseline
	var ok [4]bool
	b.fds, ok[0] = m.Get(MetricFDs)
	b.rss, ok[1] = m.Get(MetricRSS)
	b.goroutines, ok[2] = m.Get(MetricGoroutines)
	c1, _ := m.Get(MetricConns)
	c2, _ := m.Get(MetricWSConns)
	b.conns, ok[3] = c1+c2, true
	for i, name := range []string{MetricFDs, MetricRSS, MetricGoroutines} {
		if !ok[i] {
			return b, fmt.Errorf("/metrics has no %s", name)
		}
	}
	return b, nil
}

// Slack allowed when resources return to baseline. The canary, the API's
// keep-alive connections and the runtime's own goroutines move a little;
// RSS is allowed what the Go runtime may keep of a burst (it returns
// memory to the OS lazily), not what a leak per connection would cost.
const (
	fdSlack        = 8
	goroutineSlack = 8
	rssSlack       = 24 << 20
)

// returned waits until the server is back to b (within the slacks) or the
// settle time passes, and describes the way there from b through peak.
func (e *Env) returned(ctx context.Context, b baseline, peak baseline) (string, error) {
	var fig string
	var bad []string
	err := e.poll(ctx, func() (bool, error) {
		now, err := e.baseline(ctx)
		if err != nil {
			return false, err
		}
		fig = fmt.Sprintf("fds %.0f→%.0f→%.0f, goroutines %.0f→%.0f→%.0f, conns %.0f→%.0f→%.0f, RSS %.1f→%.1f→%.1f MiB",
			b.fds, peak.fds, now.fds, b.goroutines, peak.goroutines, now.goroutines, b.conns, peak.conns, now.conns,
			b.rss/(1<<20), peak.rss/(1<<20), now.rss/(1<<20))
		bad = bad[:0]
		if now.fds > b.fds+fdSlack {
			bad = append(bad, "fds")
		}
		if now.goroutines > b.goroutines+goroutineSlack {
			bad = append(bad, "goroutines")
		}
		if now.conns > b.conns {
			bad = append(bad, "connections")
		}
		if now.rss > b.rss+rssSlack {
			bad = append(bad, "RSS")
		}
		return len(bad) == 0, nil
	})
	if errors.Is(err, errSettle) {
		err = fmt.Errorf("%w: %v", err, bad)
	}
	return fig, err
}

// errSettle is a condition still false after Scale.Settle.
var errSettle = errors.New("not back to baseline within the settle time")

// poll calls done every 100 ms until it reports true, fails, or
// Scale.Settle passes (errSettle).
func (e *Env) poll(ctx context.Context, done func() (bool, error)) error {
	deadline := time.Now().Add(e.Scale.Settle)
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (%s)", errSettle, e.Scale.Settle)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// closeAll closes every connection of conns that is open and forgets it.
func closeAll(conns []net.Conn) {
	for i, c := range conns {
		if c != nil {
			c.Close()
			conns[i] = nil
		}
	}
}

func maxBase(a, b baseline) baseline {
	return baseline{max(a.fds, b.fds), max(a.rss, b.rss), max(a.goroutines, b.goroutines), max(a.conns, b.conns)}
}

// parallel runs f(i) for i in [0, n) on at most 64 goroutines.
func parallel(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, 64) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		})
	}
	wg.Wait()
}

func (e *Env) reconnectStorm(ctx context.Context) (string, error) {
	b, err := e.baseline(ctx)
	if err != nil {
		return "", err
	}
	peak := b
	var ok, failed atomic.Int64
	start := time.Now()
	for range e.Scale.StormRounds {
		conns := make([]net.Conn, e.Scale.StormConns)
		parallel(len(conns), func(i int) {
			c, _, err := DialWS(ctx, e.srcIP(), e.Target.WS, e.Target.Key)
			if err != nil {
				failed.Add(1)
				return
			}
			ok.Add(1)
			conns[i] = c
		})
		if m, err := e.baseline(ctx); err == nil {
			peak = maxBase(peak, m)
		}
		parallel(len(conns), func(i int) {
			c := conns[i]
			if c == nil {
				return
			}
			switch i % 3 {
			case 0:
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = c.Write(closeFrame(uint16(ws.StatusNormalClosure), ""))
			case 1:
				_ = c.(*net.TCPConn).SetLinger(0) // RST
			}
			_ = c.Close()
		})
	}
	took := time.Since(start)
	fig, err := e.returned(ctx, b, peak)
	fig = fmt.Sprintf("%d×%d connects in %s (%d failed); %s", e.Scale.StormRounds, e.Scale.StormConns, took.Round(time.Millisecond), failed.Load(), fig)
	if err != nil {
		return fig, err
	}
	if n := failed.Load(); n > 0 {
		return fig, fmt.Errorf("%d of %d storm connections failed", n, ok.Load()+n)
	}
	return fig, nil
}

func (e *Env) halfClose(ctx context.Context) (string, error) {
	b, err := e.baseline(ctx)
	if err != nil {
		return "", err
	}
	n := e.Scale.StormConns
	conns := make([]net.Conn, n)
	var failed atomic.Int64
	parallel(n, func(i int) {
		c, _, err := DialWS(ctx, e.srcIP(), e.Target.WS, e.Target.Key)
		if err != nil {
			failed.Add(1)
			return
		}
		conns[i] = c
	})
	defer closeAll(conns)
	peak, _ := e.baseline(ctx)
	for _, c := range conns {
		if c != nil {
			_ = c.(*net.TCPConn).CloseWrite()
		}
	}
	// Our sockets stay open: only the server's reaction to the FIN can
	// bring its connection count back. Then ours are closed and its fds
	// and goroutines must follow (when the server runs in this process,
	// its fd count includes ours).
	released := e.connsBack(ctx, b.conns)
	closeAll(conns)
	if released != nil {
		return fmt.Sprintf("%d half-closed", n), released
	}
	fig, err := e.returned(ctx, b, maxBase(b, peak))
	fig = fmt.Sprintf("%d half-closed; %s", n, fig)
	if err != nil {
		return fig, err
	}
	if f := failed.Load(); f > 0 {
		return fig, fmt.Errorf("%d of %d connections failed to upgrade", f, n)
	}
	return fig, nil
}

// connsBack waits until the server's connection count is back to conns.
func (e *Env) connsBack(ctx context.Context, conns float64) error {
	var now baseline
	err := e.poll(ctx, func() (bool, error) {
		var err error
		now, err = e.baseline(ctx)
		return err == nil && now.conns <= conns, err
	})
	if errors.Is(err, errSettle) {
		return fmt.Errorf("server still holds %.0f connections (%.0f before) after the clients half-closed: %w", now.conns, conns, err)
	}
	return err
}
