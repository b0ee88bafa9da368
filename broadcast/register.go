package broadcast

import (
	"net/netip"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// reserve takes a connection slot, or reports MaxConns reached.
func (s *Server) reserve() bool {
	for {
		n := s.active.Load()
		if n >= int64(s.cfg.MaxConns) {
			return false
		}
		if s.active.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// register hands an upgraded connection to a shard and the poller. On
// error (the server is closing) the fd is closed.
func (s *Server) register(fd int, id Identity, req request, remote netip.Addr) error {
	c := &conn{
		fd:     fd,
		srv:    s,
		ident:  id,
		filt:   newFilter(id, req),
		remote: remote,
		since:  time.Now(),
	}
	c.onEv = c.onEvent
	if req.realtime {
		// First frame on the wire: the shard writes the control queue
		// before any data, and no data matches before a subscribe.
		c.ctrl = appendTextFrame(nil, replyConnected(id.KeyID))
	}

	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		// Too late to join: say goodbye the way everyone else hears it.
		// The socket is fresh and non-blocking: the tiny write fits.
		_, _ = unix.Write(fd, appendClose(nil, ws.StatusGoingAway, "going away"))
		_ = unix.Close(fd)
		return ErrServerClosed
	}
	s.nextID++
	c.id = s.nextID
	// The shard is set before the conn is visible in s.conns: DisconnectKey
	// and Kick read it from other goroutines.
	c.sh = s.shards[c.id%uint64(len(s.shards))]
	s.conns[c.id] = c
	s.open.Add(1)
	if req.realtime {
		s.wsOpen.Add(1)
	}
	s.mu.Unlock()

	c.sh.add(c)
	if req.realtime {
		c.sh.schedule() // send the connected message now
	}
	if s.obs != nil {
		s.obs.Connected(id, remote)
	}
	if err := s.ep.Add(fd, evRead, c.onEv); err != nil {
		c.mu.Lock()
		c.state, c.why = stateDrop, reasonWriteError
		c.mu.Unlock()
		c.sh.schedule()
		return nil // the pass finalizes it and reports Disconnected
	}
	return nil
}

// forget drops finalized conns from the registry and tells the observer.
// Called after the shard lock is released.
func (s *Server) forget(gone []*conn) {
	s.mu.Lock()
	for _, c := range gone {
		delete(s.conns, c.id)
	}
	s.open.Add(-int64(len(gone)))
	var rt int64
	for _, c := range gone {
		if c.filt.realtime {
			rt++
		}
	}
	s.wsOpen.Add(-rt)
	s.mu.Unlock()
	s.active.Add(-int64(len(gone)))
	now := time.Now()
	for _, c := range gone {
		// c is dead: no one writes its fields any more.
		s.log.Debug("broadcast: connection closed", "conn", c.id, "key", c.ident.KeyID,
			"remote", c.remote, "reason", c.why, "delivered", c.delivered)
		if s.obs != nil {
			s.obs.Disconnected(c.ident, c.remote, now.Sub(c.since), c.delivered)
		}
	}
}
