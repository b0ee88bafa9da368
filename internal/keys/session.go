package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"time"
)

// Sessions let a browser log in once with a subscriber key (POST
// /api/login) and then open /ws with a cookie instead of ?key=. They live
// in memory only: a restart logs everyone out, which costs a browser one
// more login and keeps session secrets off the disk.

// DefaultSessionTTL is how long a session lasts unless the key ends first.
const DefaultSessionTTL = 24 * time.Hour

// maxSessions bounds the session table; past it the oldest-expiring
// session is dropped, so logins cannot grow memory without end.
const maxSessions = 100_000

// sessionPrefix marks session secrets, as sfk_ marks keys.
const sessionPrefix = "sfs_"

type session struct {
	keyID   string
	expires time.Time
}

// Login checks secret as a subscriber key and opens a session for it,
// ending at ttl from now or at the key's expiry, whichever comes first.
// It returns the session secret (for the cookie) and its expiry.
func (s *Store) Login(secret string, ttl time.Duration) (string, time.Time, error) {
	now := s.now()
	k, err := s.Check(secret, KindSubscriber, now)
	if err != nil {
		return "", time.Time{}, err
	}
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	exp := now.Add(ttl)
	if !k.Expires.IsZero() && k.Expires.Before(exp) {
		exp = k.Expires
	}
	var b [secretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("login: read random bytes: %w", err)
	}
	token := sessionPrefix + fmt.Sprintf("%x", b[:])
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if s.sessions == nil {
		s.sessions = map[[sha256.Size]byte]session{}
	}
	if len(s.sessions) >= maxSessions {
		s.pruneSessionsLocked(now)
	}
	s.sessions[sha256.Sum256([]byte(token))] = session{keyID: k.ID, expires: exp}
	return token, exp, nil
}

// pruneSessionsLocked drops expired sessions, and if none were, the one
// that expires first.
func (s *Store) pruneSessionsLocked(now time.Time) {
	var first [sha256.Size]byte
	var firstExp time.Time
	n := len(s.sessions)
	for h, ss := range s.sessions {
		if !now.Before(ss.expires) {
			delete(s.sessions, h)
			continue
		}
		if firstExp.IsZero() || ss.expires.Before(firstExp) {
			first, firstExp = h, ss.expires
		}
	}
	if len(s.sessions) == n && !firstExp.IsZero() {
		delete(s.sessions, first)
	}
}

// Logout ends a session; unknown sessions are ignored.
func (s *Store) Logout(token string) {
	s.sessMu.Lock()
	delete(s.sessions, sha256.Sum256([]byte(token)))
	s.sessMu.Unlock()
}

// SessionKey returns the key ID of a live session.
func (s *Store) SessionKey(token string) (string, error) {
	if len(token) <= len(sessionPrefix) || token[:len(sessionPrefix)] != sessionPrefix {
		s.anon.reject(reasonUnknown)
		return "", ErrUnknown
	}
	h := sha256.Sum256([]byte(token))
	s.sessMu.Lock()
	ss, ok := s.sessions[h]
	if ok && !s.now().Before(ss.expires) {
		delete(s.sessions, h)
		ok = false
	}
	s.sessMu.Unlock()
	if !ok {
		s.anon.reject(reasonUnknown)
		return "", ErrUnknown
	}
	return ss.keyID, nil
}

// AuthenticateSession admits a /ws handshake that carries a session cookie
// instead of a key: the session's key must still be active, and its
// connection limits apply as for Authenticate.
func (s *Store) AuthenticateSession(token string, remote netip.Addr) (Identity, error) {
	id, err := s.SessionKey(token)
	if err != nil {
		return Identity{}, err
	}
	now := s.now()
	rec := s.snap.Load().byID[id]
	if rec == nil {
		return Identity{}, ErrUnknown
	}
	switch k := &rec.key; {
	case !k.Revoked.IsZero():
		return Identity{}, ErrRevoked
	case k.Disabled:
		return Identity{}, ErrDisabled
	case !k.Expires.IsZero() && !now.Before(k.Expires):
		return Identity{}, ErrExpired
	}
	return s.admit(rec, remote, now)
}

// dropSessions ends every session of a key that lost access.
func (s *Store) dropSessions(keyID string) int {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	n := 0
	for h, ss := range s.sessions {
		if ss.keyID == keyID {
			delete(s.sessions, h)
			n++
		}
	}
	return n
}

// Sessions counts the live sessions of a key.
func (s *Store) Sessions(keyID string) int {
	now := s.now()
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	n := 0
	for _, ss := range s.sessions {
		if ss.keyID == keyID && now.Before(ss.expires) {
			n++
		}
	}
	return n
}
