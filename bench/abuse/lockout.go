package abuse

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// lockoutChecks attack the handshake path itself and measure what a new,
// well-behaved client sees meanwhile. They run last: the server may need
// its whole handshake deadline to shed them.
func lockoutChecks() []Check {
	return []Check{
		{Name: "handshake/slowloris", Family: "lockout",
			About: "many connections trickle their upgrade request a byte at a time: new clients still connect quickly (p99 under the limit)",
			Run:   func(ctx context.Context, e *Env) (string, error) { return e.slowloris(ctx) }},
		{Name: "handshake/half-open", Family: "lockout",
			About: "many connected sockets that never send a byte: new clients still connect quickly, the server closes the idle ones by its deadline",
			Run:   func(ctx context.Context, e *Env) (string, error) { return e.halfOpen(ctx) }},
	}
}

// probeDuring starts Probes new clients spread over hold while an attack
// runs (each on its own, so one that hangs does not delay the next) and
// returns their latencies and failures.
func (e *Env) probeDuring(ctx context.Context, hold time.Duration) ([]time.Duration, []error) {
	n := max(e.Scale.Probes, 1)
	limit := max(5*e.Scale.ProbeP99, 3*time.Second)
	gap := hold / time.Duration(n)
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		if i > 0 {
			time.Sleep(gap)
		}
		wg.Go(func() { lat[i], errs[i] = probe(ctx, e.Target.WS, e.Target.Key, limit) })
	}
	wg.Wait()
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	return lat, failed
}

func (e *Env) judgeProbes(lat []time.Duration, errs []error) (string, error) {
	p50, p99, worst := quantile(lat, 0.5), quantile(lat, 0.99), quantile(lat, 1)
	fig := fmt.Sprintf("new clients: %d/%d connected, p50 %s p99 %s max %s",
		len(lat)-len(errs), len(lat), p50.Round(time.Millisecond), p99.Round(time.Millisecond), worst.Round(time.Millisecond))
	if len(errs) > 0 {
		return fig, fmt.Errorf("%d of %d new clients could not connect (first: %v)", len(errs), len(lat), errs[0])
	}
	if p99 > e.Scale.ProbeP99 {
		return fig, fmt.Errorf("new clients' p99 %s over %s", p99.Round(time.Millisecond), e.Scale.ProbeP99)
	}
	return fig, nil
}

// slowloris keeps SlowlorisConns connections each sending its request one
// byte at a time (a byte per connection every 500 ms, never finishing),
// reconnecting any the server closes, for SlowlorisHold.
func (e *Env) slowloris(ctx context.Context) (string, error) {
	b, err := e.baseline(ctx)
	if err != nil {
		return "", err
	}
	n := e.Scale.SlowlorisConns
	req := upgradeRequest(e.Target.WS, "/?key="+e.Target.Key)
	req = req[:len(req)-2] // never send the final CRLF
	type slow struct {
		c   net.Conn
		off int
	}
	conns := make([]*slow, n)
	var redials, dialFails atomic.Int64
	dial := func(i int) {
		c, err := dialFrom(ctx, e.srcIP(), e.Target.WS, 0)
		if err != nil {
			dialFails.Add(1)
			conns[i] = nil
			return
		}
		conns[i] = &slow{c: c}
	}
	parallel(n, dial)
	actx, stop := context.WithTimeout(ctx, e.Scale.SlowlorisHold)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-actx.Done():
				return
			case <-t.C:
			}
			parallel(n, func(i int) {
				s := conns[i]
				if s == nil || s.off >= len(req) {
					if actx.Err() == nil && s == nil {
						redials.Add(1)
						dial(i)
					}
					return
				}
				_ = s.c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
				if _, err := s.c.Write(req[s.off : s.off+1]); err != nil {
					s.c.Close()
					conns[i] = nil // closed by the server: come back
					return
				}
				s.off++
			})
		}
	})
	time.Sleep(min(time.Second, e.Scale.SlowlorisHold/4)) // let the attack take hold
	lat, errs := e.probeDuring(ctx, e.Scale.SlowlorisHold*3/4)
	stop()
	wg.Wait()
	for _, s := range conns {
		if s != nil {
			s.c.Close()
		}
	}
	fig, err := e.judgeProbes(lat, errs)
	fig = fmt.Sprintf("%d trickling conns (%d re-dialled, %d dials failed) for %s; %s",
		n, redials.Load(), dialFails.Load(), e.Scale.SlowlorisHold, fig)
	back, berr := e.returned(ctx, b, b)
	if err == nil && berr != nil {
		err = fmt.Errorf("after the attack: %w", berr)
	}
	return fig + "; " + back, err
}

// halfOpen connects HalfOpen sockets that never send a byte and keeps
// them while new clients are probed; the server must close them by its
// handshake deadline.
func (e *Env) halfOpen(ctx context.Context) (string, error) {
	b, err := e.baseline(ctx)
	if err != nil {
		return "", err
	}
	n := e.Scale.HalfOpen
	conns := make([]net.Conn, n)
	var dialFails atomic.Int64
	start := time.Now()
	parallel(n, func(i int) {
		c, err := dialFrom(ctx, e.srcIP(), e.Target.WS, 0)
		if err != nil {
			dialFails.Add(1)
			return
		}
		conns[i] = c
	})
	defer closeAll(conns)
	// Each idle socket learns when the server gives up on it.
	wait := e.Opts.HandshakeTimeout + e.Scale.SlowlorisHold + 2*time.Second
	var closedInTime atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		if c == nil {
			continue
		}
		wg.Go(func() {
			_ = c.SetReadDeadline(start.Add(wait))
			var one [1]byte
			if _, err := c.Read(one[:]); isClosed(err) {
				closedInTime.Add(1)
			}
		})
	}
	lat, errs := e.probeDuring(ctx, e.Scale.SlowlorisHold)
	wg.Wait()
	closeAll(conns) // ours too, before counting the server's fds
	fig, err := e.judgeProbes(lat, errs)
	alive := int64(n) - dialFails.Load()
	fig = fmt.Sprintf("%d idle sockets (%d dials failed), %d closed by the server within %s; %s",
		n, dialFails.Load(), closedInTime.Load(), wait.Round(time.Second), fig)
	if err == nil && closedInTime.Load() < alive {
		err = fmt.Errorf("%d idle sockets still open after %s", alive-closedInTime.Load(), wait.Round(time.Second))
	}
	back, berr := e.returned(ctx, b, b)
	if err == nil && berr != nil {
		err = fmt.Errorf("after the attack: %w", berr)
	}
	return fig + "; " + back, err
}
