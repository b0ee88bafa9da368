package broadcast

import (
	"net/netip"
	"time"

	"github.com/gobwas/ws"
)

// The admin side of the server: listing connections and closing them by
// id or by key, for the API and the console. None of it is on the hot path.

// DisconnectKey closes every connection of keyID with a close frame
// (code and reason), as on revocation; it returns how many were closed.
// The frames go out on the shards' next pass, started at once.
func (s *Server) DisconnectKey(keyID string, code ws.StatusCode, reason string) int {
	return s.disconnect(func(id *Identity) bool { return id.KeyID == keyID }, code, reason)
}

// DisconnectIssued closes the connections of keyID that authenticated
// with the secret version issued (Identity.Issued) and leaves the others
// open: a handshake that raced a rotation registers after the rotation's
// DisconnectKey, and only it, not the new secret's connections, must go.
func (s *Server) DisconnectIssued(keyID string, issued int64, code ws.StatusCode, reason string) int {
	return s.disconnect(func(id *Identity) bool { return id.KeyID == keyID && id.Issued == issued }, code, reason)
}

func (s *Server) disconnect(match func(*Identity) bool, code ws.StatusCode, reason string) int {
	var list []*conn
	s.mu.Lock()
	for _, c := range s.conns {
		if match(&c.ident) {
			list = append(list, c)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, c := range list {
		if c.close(code, reason, reasonKicked) {
			n++
		}
	}
	return n
}

// Kick closes one connection (ids come from Conns) with a close frame.
func (s *Server) Kick(connID uint64, code ws.StatusCode, reason string) bool {
	s.mu.Lock()
	c := s.conns[connID]
	s.mu.Unlock()
	return c != nil && c.close(code, reason, reasonKicked)
}

// ConnInfo describes one open connection.
type ConnInfo struct {
	ID        uint64
	Endpoint  string // "stellar" (/ and /stellar) or "ws" (/ws)
	KeyID     string
	Label     string
	Remote    netip.Addr
	Since     time.Time
	Delivered uint64
}

// Conns lists the open connections (for an admin view; it allocates).
func (s *Server) Conns() []ConnInfo {
	s.mu.Lock()
	list := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		list = append(list, c)
	}
	s.mu.Unlock()
	out := make([]ConnInfo, 0, len(list))
	for _, c := range list {
		c.mu.Lock()
		ep := "stellar"
		if c.filt.realtime {
			ep = "ws"
		}
		out = append(out, ConnInfo{ID: c.id, Endpoint: ep, KeyID: c.ident.KeyID, Label: c.ident.Label,
			Remote: c.remote, Since: c.since, Delivered: c.delivered})
		c.mu.Unlock()
	}
	return out
}
