package broadcast

import (
	"time"

	"github.com/gobwas/ws"
)

// sweeper runs once a second: closes conns whose key expired, queues the
// periodic WebSocket ping, and starts passes so stalled conns meet their
// write timeout even when nothing is published.
func (s *Server) sweeper() {
	defer s.bg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	lastPing := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			ping := s.cfg.PingInterval > 0 && now.Sub(lastPing) >= s.cfg.PingInterval
			if ping {
				lastPing = now
			}
			s.sweep(now, ping)
		}
	}
}

func (s *Server) sweep(now time.Time, ping bool) {
	nano := s.mlog.now()
	if s.rate != nil {
		s.rate.prune(s.mlog.now())
	}
	for _, sh := range s.shards {
		sh.mu.Lock()
		for _, c := range sh.conns {
			c.mu.Lock()
			if !c.ident.Expires.IsZero() && now.After(c.ident.Expires) {
				c.closeLocked(ws.StatusPolicyViolation, "key expired", reasonExpired, nano)
			} else if ping && c.state == stateOpen {
				c.queueCtrl(len(framePing), false, func(b []byte) []byte { return append(b, framePing...) })
			}
			c.mu.Unlock()
		}
		sh.mu.Unlock()
		sh.schedule()
	}
}
