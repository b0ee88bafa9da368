package keys

import (
	"errors"
	"net/http"
)

// AuthError is a refused credential: the HTTP status to answer with
// (401, 403, 429), a short machine code (also the usage and metrics
// label) and a short reason safe to show the client. The sentinels below
// are the only values; compare with errors.Is.
type AuthError struct {
	Status int
	Code   string
	Reason string
	reason reason
}

func (e *AuthError) Error() string { return e.Reason }

// HTTPStatus is the status a server answers the refused request with.
func (e *AuthError) HTTPStatus() int { return e.Status }

// reason indexes per-key rejection counters without a map on the hot path.
type reason uint8

const (
	reasonMissing reason = iota
	reasonUnknown
	reasonRevoked
	reasonExpired
	reasonDisabled
	reasonMaxConns
	reasonIPLimit
	reasonRate
	reasonQuota
	numReasons
)

// Refusals. Unknown covers a malformed secret, a secret of another kind and
// one not in the store alike, so a caller learns nothing by probing.
var (
	ErrMissing      = &AuthError{http.StatusUnauthorized, "missing", "missing key", reasonMissing}
	ErrUnknown      = &AuthError{http.StatusUnauthorized, "unknown", "unknown key", reasonUnknown}
	ErrRevoked      = &AuthError{http.StatusUnauthorized, "revoked", "key revoked", reasonRevoked}
	ErrExpired      = &AuthError{http.StatusUnauthorized, "expired", "key expired", reasonExpired}
	ErrDisabled     = &AuthError{http.StatusUnauthorized, "disabled", "key disabled", reasonDisabled}
	ErrTooManyConns = &AuthError{http.StatusTooManyRequests, "max_conns", "too many connections for this key", reasonMaxConns}
	ErrIPLimit      = &AuthError{http.StatusForbidden, "ip_limit", "too many IP addresses for this key today", reasonIPLimit}
	ErrRateLimited  = &AuthError{http.StatusTooManyRequests, "rate", "rate limit exceeded", reasonRate}
	ErrQuota        = &AuthError{http.StatusTooManyRequests, "quota", "monthly quota exceeded", reasonQuota}
)

var authErrors = [numReasons]*AuthError{ErrMissing, ErrUnknown, ErrRevoked, ErrExpired, ErrDisabled, ErrTooManyConns, ErrIPLimit, ErrRateLimited, ErrQuota}

// Codes lists every AuthError code, for pre-registering metrics.
func Codes() []string {
	out := make([]string, len(authErrors))
	for i, e := range authErrors {
		out[i] = e.Code
	}
	return out
}

// Errors of the management methods.
var (
	// ErrNotFound: no key has that ID (or secret).
	ErrNotFound = errors.New("key not found")
	// ErrConflict: the change contradicts the key's state (revoked) or
	// another key (slug taken).
	ErrConflict = errors.New("conflict")
	// ErrUnwritable: the change could not be written to the data directory
	// (disk full, read-only file system, I/O error) and was not made. The
	// underlying error is wrapped too. Authentication is unaffected: it
	// reads memory.
	ErrUnwritable = errors.New("data directory not writable")
)

// InvalidError is a setting that breaks a rule, named by its JSON field.
type InvalidError struct {
	Field   string
	Message string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Message }
