package broadcast

import (
	"context"
	"time"

	"github.com/gobwas/ws"
)

// Shutdown stops accepting, lets pending pings finish their pass, sends
// close 1001 "going away" to every connection, removes every fd from
// epoll, closes it and stops the pool. If ctx ends first, the remaining
// connections are closed at once and ctx.Err() is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.closing = true
	close(s.done)
	for ln := range s.listeners {
		_ = ln.Close()
	}
	s.mu.Unlock()

	// 1. No new conns: wait for the Serve loops, close the unfinished
	// handshakes, let the workers finish the ones they hold.
	err := s.waitFor(ctx, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.serving == 0
	})
	s.hs.closeAll()
	if err == nil {
		err = s.waitFor(ctx, func() bool { return s.hs.size() == 0 })
	}
	// 2. Drain: passes for what was published before Shutdown.
	if err == nil {
		for _, sh := range s.shards {
			sh.schedule()
		}
		err = s.waitFor(ctx, s.idle)
	}
	// 3. Going away, to everyone.
	if err == nil {
		s.mu.Lock()
		list := make([]*conn, 0, len(s.conns))
		for _, c := range s.conns {
			list = append(list, c)
		}
		s.mu.Unlock()
		for _, c := range list {
			c.close(ws.StatusGoingAway, "going away", reasonShutdown)
		}
		err = s.waitFor(ctx, func() bool {
			s.mu.Lock()
			n := len(s.conns)
			s.mu.Unlock()
			if n > 0 {
				for _, sh := range s.shards {
					sh.schedule() // enforces the close deadline of stuck conns
				}
			}
			return n == 0 && s.idle()
		})
	}
	// 4. Whatever is left goes now; then the poller, readers and pool.
	s.waitFor(context.Background(), s.idle)
	for _, sh := range s.shards {
		sh.mu.Lock()
		for i := len(sh.conns) - 1; i >= 0; i-- {
			c := sh.conns[i]
			c.mu.Lock()
			c.why = reasonShutdown
			sh.finalize(c)
			c.mu.Unlock()
		}
		gone := sh.gone
		sh.gone = nil
		sh.mu.Unlock()
		s.forget(gone)
	}
	close(s.stop)
	s.bg.Wait()
	s.hs.drainQueue() // handshakes left queued when ctx ended
	if cerr := s.ep.Close(); cerr != nil {
		s.log.Warn("broadcast: close epoll", "err", cerr)
	}
	if perr := s.pool.ReleaseTimeout(5 * time.Second); perr != nil {
		s.log.Warn("broadcast: release pool", "err", perr)
	}
	return err
}

// idle reports whether no shard pass is queued or running.
func (s *Server) idle() bool {
	for _, sh := range s.shards {
		if sh.state.Load() != passIdle {
			return false
		}
	}
	return true
}

// waitFor polls cond with a growing interval until it holds or ctx ends.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	d := time.Millisecond
	for !cond() {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		d = min(2*d, 50*time.Millisecond)
	}
	return nil
}
