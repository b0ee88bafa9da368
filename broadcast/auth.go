package broadcast

import (
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/wire"
)

// Identity is what an Authenticator knows about a key. The broadcaster
// keeps one per connection and never changes it.
type Identity struct {
	KeyID   string    // stable key identifier (never the secret), used by DisconnectKey
	Label   string    // human label for logs
	Expires time.Time // zero = never; checked by a 1 s sweeper
	// Scopes, when non-empty, limit what the connection receives:
	// "amazon" allows every amazon region, "amazon:USA" one region.
	Scopes []string
	// Feed is the routing number of the key's feed: the connection
	// receives only messages whose wire.Message.Feed equals it (0, the
	// default feed, for keys that predate feeds). Webhook says the feed
	// carries webhook events, whose /ws channels are free-form names.
	Feed    uint32
	Webhook bool
	// Issued is the Authenticator's stamp of the secret version that
	// authenticated; opaque here, it selects connections for
	// DisconnectIssued.
	Issued int64
}

// Authenticator checks a key before the WebSocket upgrade. It runs on one
// of a few handshake workers, so it may take a lock but should not do
// slow I/O: every handshake waits behind it. remote is the client's
// address (from a trusted PROXY header when there is one).
//
// Return an *AuthError to choose the HTTP status (401, 403, 429...); any
// other error rejects with 401 and the error text as the reason.
type Authenticator interface {
	Authenticate(key string, remote netip.Addr) (Identity, error)
}

// ConnObserver is optional: when the Authenticator also implements it, it
// is told when an authenticated connection starts and ends (usage, per-key
// connection counts). Calls are made outside the broadcaster's locks but
// on its goroutines: keep them quick.
type ConnObserver interface {
	Connected(id Identity, remote netip.Addr)
	Disconnected(id Identity, remote netip.Addr, dur time.Duration, delivered uint64)
}

// AuthError rejects a handshake with a given HTTP status and a short
// reason, sent as the response body.
type AuthError struct {
	Status int
	Reason string
}

func (e *AuthError) Error() string {
	return http.StatusText(e.Status) + ": " + e.Reason
}

// ErrMissingKey is returned (as a 401) when the request has no key.
var ErrMissingKey = &AuthError{Status: http.StatusUnauthorized, Reason: "missing key"}

// rejection maps an authentication error to the status and reason sent to
// the client.
func rejection(err error) (int, string) {
	var ae *AuthError
	if errors.As(err, &ae) {
		status := ae.Status
		if status < 400 || status > 599 {
			status = http.StatusUnauthorized
		}
		reason := ae.Reason
		if reason == "" {
			reason = http.StatusText(status)
		}
		return status, reason
	}
	return http.StatusUnauthorized, err.Error()
}

// filter decides which messages a connection receives. It is built once
// per connection; match compares a few short strings and never allocates.
type filter struct {
	wire.Filter // query filters and key scopes, as on every endpoint

	// feed is the connection's feed (Identity.Feed): messages of any
	// other feed never match, on every endpoint. An integer compare, so
	// isolation costs nothing on the fan-out path.
	feed    uint32
	webhook bool // the feed carries webhook events (Identity.Webhook)

	// Realtime (/ws) connections receive only what they subscribed to,
	// within the scopes and query filters above; nothing until then.
	realtime bool
	unixMs   bool         // envelope timestamps in unix ms (?timestamp=unix)
	subAll   bool         // subscribed to "*"
	subs     []wire.Scope // subscribed channels; Region "" = every region
}

// newFilter is the filter of a connection admitted as id with req.
func newFilter(id Identity, req request) filter {
	return filter{
		Filter:   wire.Filter{Sites: req.sites, Regions: req.regions, Scopes: wire.ParseScopes(id.Scopes)},
		feed:     id.Feed,
		webhook:  id.Webhook,
		realtime: req.realtime,
		unixMs:   req.unixMs,
	}
}

func (f *filter) match(m *wire.Message) bool {
	if m.Feed != f.feed {
		return false
	}
	if m.Webhook {
		// Site is the event's channel; site and region filters are
		// Stellar's and do not apply.
		return !f.realtime || f.subAll || wire.MatchesAny(f.subs, m.Site, "")
	}
	if !f.Match(m.Site, m.Region) {
		return false
	}
	if f.realtime {
		return f.subAll || wire.MatchesAny(f.subs, m.Site, m.Region)
	}
	return true
}
