package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/netip"
	"sync"
	"time"
)

// session is one logged-in browser.
type session struct {
	id      string // the cookie value
	csrf    string // put in every form, compared on every POST
	token   string // the admin token it logged in with, checked again per request
	expires time.Time
}

// sessions are held in memory: a restart logs everyone out, which is the
// right default for an admin console.
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	max int
}

func newSessions(max int) *sessions { return &sessions{m: map[string]*session{}, max: max} }

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// open starts a session for token, dropping expired ones, and the oldest
// if there are max already.
func (s *sessions) open(token string, now time.Time, ttl time.Duration) *session {
	sess := &session{id: randomToken(), csrf: randomToken(), token: token, expires: now.Add(ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest *session
	for id, o := range s.m {
		if !now.Before(o.expires) {
			delete(s.m, id)
			continue
		}
		if oldest == nil || o.expires.Before(oldest.expires) {
			oldest = o
		}
	}
	if len(s.m) >= s.max && oldest != nil {
		delete(s.m, oldest.id)
	}
	s.m[sess.id] = sess
	return sess
}

// get returns the live session with that cookie value.
func (s *sessions) get(id string, now time.Time) *session {
	if id == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.m[id]
	if sess == nil {
		return nil
	}
	if !now.Before(sess.expires) {
		delete(s.m, id)
		return nil
	}
	return sess
}

func (s *sessions) close(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

func (sess *session) csrfOK(v []byte) bool {
	return subtle.ConstantTimeCompare([]byte(sess.csrf), v) == 1
}

// limiter counts failed logins per client address in fixed windows: past
// max failures in a window, logins from that address are refused until it
// ends. It holds at most size addresses; when full, it refuses addresses
// it does not know yet rather than forgetting the ones it does.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	size   int
	m      map[netip.Addr]*attempts
}

type attempts struct {
	failures int
	reset    time.Time
}

func newLimiter(max int, window time.Duration, size int) *limiter {
	return &limiter{max: max, window: window, size: size, m: map[netip.Addr]*attempts{}}
}

// wait returns how long a until it may try again; 0 means now.
func (l *limiter) wait(a netip.Addr, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := l.m[a]
	if at == nil {
		if len(l.m) >= l.size {
			l.pruneLocked(now)
			if len(l.m) >= l.size {
				return l.window
			}
		}
		return 0
	}
	if !now.Before(at.reset) {
		delete(l.m, a)
		return 0
	}
	if at.failures >= l.max {
		return at.reset.Sub(now)
	}
	return 0
}

func (l *limiter) fail(a netip.Addr, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := l.m[a]
	if at == nil || !now.Before(at.reset) {
		if at == nil && len(l.m) >= l.size {
			return
		}
		at = &attempts{reset: now.Add(l.window)}
		l.m[a] = at
	}
	at.failures++
}

func (l *limiter) pruneLocked(now time.Time) {
	for a, at := range l.m {
		if !now.Before(at.reset) {
			delete(l.m, a)
		}
	}
}
