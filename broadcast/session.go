package broadcast

import (
	"bytes"
	"net/netip"
)

// SessionAuthenticator is optional: when the Authenticator also implements
// it, a /ws handshake without ?key= is admitted by the session cookie a
// browser got from the API's POST /api/login (cookies are per host, not
// per port, so the WebSocket port receives it). The Stellar endpoint keeps
// requiring ?key=.
type SessionAuthenticator interface {
	AuthenticateSession(token string, remote netip.Addr) (Identity, error)
}

// SessionCookie is the cookie /ws reads; the API sets it.
const SessionCookie = "sf_session"

// sessionAuth collects the session cookie of one /ws handshake.
type sessionAuth struct {
	auth  SessionAuthenticator
	token string
}

// sessionFor returns a sessionAuth when a /ws request came without a key
// and the server can admit sessions; authentication then waits for the
// headers.
func (s *Server) sessionFor(r request, err error) *sessionAuth {
	sa, ok := s.auth.(SessionAuthenticator)
	if !ok || !r.realtime || err != ErrMissingKey {
		return nil
	}
	return &sessionAuth{auth: sa}
}

// header takes the session cookie from a Cookie header.
func (a *sessionAuth) header(key, value []byte) {
	if !bytes.EqualFold(key, []byte("Cookie")) {
		return
	}
	for len(value) > 0 {
		var pair []byte
		pair, value, _ = bytes.Cut(value, []byte{';'})
		name, v, ok := bytes.Cut(bytes.TrimSpace(pair), []byte{'='})
		if ok && string(name) == SessionCookie {
			a.token = string(v)
		}
	}
}

// authenticate admits the handshake by its cookie; no cookie is a missing
// key, as before sessions existed.
func (a *sessionAuth) authenticate(remote netip.Addr) (Identity, error) {
	if a.token == "" {
		return Identity{}, ErrMissingKey
	}
	return a.auth.AuthenticateSession(a.token, remote)
}
