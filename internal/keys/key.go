package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// Kind says what a key opens.
type Kind string

// Key kinds.
const (
	KindSubscriber Kind = "subscriber" // WebSocket clients (Stellar bots)
	KindIngest     Kind = "ingest"     // providers posting pings to /api/pings
	KindAdmin      Kind = "admin"      // /api/admin
)

// Prefix returns the secret prefix of k ("sfk_", "sfi_", "sfa_"), or "" for
// an unknown kind. The prefix lets a leaked secret be recognised by secret
// scanners and a wrong key kind be refused before hashing.
func (k Kind) Prefix() string {
	switch k {
	case KindSubscriber:
		return "sfk_"
	case KindIngest:
		return "sfi_"
	case KindAdmin:
		return "sfa_"
	}
	return ""
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k.Prefix() != "" }

// ParseKind accepts a kind name or a short form (sub, in, adm).
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "subscriber", "sub", "":
		return KindSubscriber, nil
	case "ingest", "in":
		return KindIngest, nil
	case "admin", "adm":
		return KindAdmin, nil
	}
	return "", &InvalidError{Field: "kind", Message: fmt.Sprintf("%q is not one of subscriber, ingest, admin", s)}
}

// Key is the public record of a credential; the secret is never part of it.
// A Key returned by the store shares its Scopes slice with the store's
// snapshot: treat it as read-only.
type Key struct {
	ID       string    `json:"id"` // first 10 hex chars of the first secret's SHA-256; stable across Rotate
	Kind     Kind      `json:"kind"`
	Label    string    `json:"label,omitempty"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"` // zero: never
	Revoked  time.Time `json:"revoked,omitzero"` // zero: live
	Rotated  time.Time `json:"rotated,omitzero"` // last Rotate
	Disabled bool      `json:"disabled,omitempty"`

	// Subscriber limits.
	MaxConns     int      `json:"maxConns,omitempty"`     // live connections; 0 = unlimited
	Scopes       []string `json:"scopes,omitempty"`       // "amazon", "amazon:USA", "walmart"; empty = everything
	MaxIPsPerDay int      `json:"maxIPsPerDay,omitempty"` // distinct client IPs per UTC day; 0 = off

	// Ingest limits.
	MonthlyQuota int64   `json:"monthlyQuota,omitempty"` // accepted pings per UTC month; 0 = unlimited
	RatePerSec   float64 `json:"ratePerSec,omitempty"`   // requests per second; 0 = unlimited
	Slug         string  `json:"slug,omitempty"`         // provider name for webhook ingest

	// Feed is the feed the key belongs to ("" is the default feed): a
	// subscriber receives its events only, an ingest token posts into it,
	// an admin token manages it only (an admin token without a feed
	// manages every feed).
	Feed string `json:"feed,omitempty"`
}

// Active reports whether k opens anything at now.
func (k *Key) Active(now time.Time) bool {
	return k.Revoked.IsZero() && !k.Disabled && (k.Expires.IsZero() || now.Before(k.Expires))
}

// Options are the settings of a new key.
type Options struct {
	Kind         Kind
	Label        string
	Expires      time.Time
	Disabled     bool
	MaxConns     int
	Scopes       []string
	MaxIPsPerDay int
	MonthlyQuota int64
	RatePerSec   float64
	Slug         string
	Feed         string
}

// Patch changes some settings of a key; nil fields stay as they are.
// Expires set to the zero time means "never".
type Patch struct {
	Label        *string
	Expires      *time.Time
	Disabled     *bool
	MaxConns     *int
	Scopes       *[]string
	MaxIPsPerDay *int
	MonthlyQuota *int64
	RatePerSec   *float64
	Slug         *string
}

// apply returns a copy of k with p applied; k is not modified.
func (p *Patch) apply(k Key) Key {
	if p.Label != nil {
		k.Label = *p.Label
	}
	if p.Expires != nil {
		k.Expires = *p.Expires
	}
	if p.Disabled != nil {
		k.Disabled = *p.Disabled
	}
	if p.MaxConns != nil {
		k.MaxConns = *p.MaxConns
	}
	if p.Scopes != nil {
		k.Scopes = slices.Clone(*p.Scopes)
	}
	if p.MaxIPsPerDay != nil {
		k.MaxIPsPerDay = *p.MaxIPsPerDay
	}
	if p.MonthlyQuota != nil {
		k.MonthlyQuota = *p.MonthlyQuota
	}
	if p.RatePerSec != nil {
		k.RatePerSec = *p.RatePerSec
	}
	if p.Slug != nil {
		k.Slug = *p.Slug
	}
	return k
}

const maxLabelLen = 200

// validate checks the settings of k, naming the first offending field.
func validate(k *Key) error {
	bad := func(field, format string, args ...any) error {
		return &InvalidError{Field: field, Message: fmt.Sprintf(format, args...)}
	}
	if !k.Kind.Valid() {
		return bad("kind", "%q is not one of subscriber, ingest, admin", k.Kind)
	}
	if len(k.Label) > maxLabelLen {
		return bad("label", "longer than %d bytes", maxLabelLen)
	}
	if textutil.HasControl(k.Label) {
		return bad("label", "contains control characters")
	}
	if k.MaxConns < 0 {
		return bad("maxConns", "must be 0 (unlimited) or more, got %d", k.MaxConns)
	}
	if k.MaxIPsPerDay < 0 {
		return bad("maxIPsPerDay", "must be 0 (off) or more, got %d", k.MaxIPsPerDay)
	}
	if k.MonthlyQuota < 0 {
		return bad("monthlyQuota", "must be 0 (unlimited) or more, got %d", k.MonthlyQuota)
	}
	if k.RatePerSec < 0 || k.RatePerSec != k.RatePerSec || k.RatePerSec > 1e6 {
		return bad("ratePerSec", "must be between 0 (unlimited) and 1e6, got %v", k.RatePerSec)
	}
	seen := make(map[string]bool, len(k.Scopes))
	for i, s := range k.Scopes {
		if msg := checkScope(s); msg != "" {
			return bad(fmt.Sprintf("scopes[%d]", i), "%s", msg)
		}
		if seen[s] {
			return bad(fmt.Sprintf("scopes[%d]", i), "%q listed twice", s)
		}
		seen[s] = true
	}
	if k.Feed != "" && !isName(k.Feed) {
		return bad("feed", "%q must be 1-64 lower-case letters, digits, '-' or '_'", k.Feed)
	}
	if k.Slug != "" && !isSlug(k.Slug) {
		return bad("slug", "%q must be 3-64 lower-case letters, digits or '-'", k.Slug)
	}
	if k.Kind != KindSubscriber {
		switch {
		case k.MaxConns != 0:
			return bad("maxConns", "only for subscriber keys")
		case len(k.Scopes) != 0:
			return bad("scopes", "only for subscriber keys")
		case k.MaxIPsPerDay != 0:
			return bad("maxIPsPerDay", "only for subscriber keys")
		}
	}
	if k.Kind != KindIngest {
		switch {
		case k.MonthlyQuota != 0:
			return bad("monthlyQuota", "only for ingest tokens")
		case k.RatePerSec != 0:
			return bad("ratePerSec", "only for ingest tokens")
		case k.Slug != "":
			return bad("slug", "only for ingest tokens")
		}
	}
	return nil
}

// checkScope accepts "site" or "amazon:REGION", with site names as Stellar
// spells them, so a typo fails at creation, not as a silent subscriber.
func checkScope(s string) string {
	site, region, hasRegion := strings.Cut(s, ":")
	if site == "" || len(site) > 64 {
		return fmt.Sprintf("%q: site name required (as in \"amazon\", \"amazon:USA\", \"walmart\")", s)
	}
	for i := 0; i < len(site); i++ {
		c := site[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Sprintf("%q: site must be lower-case letters, digits, '.', '_' or '-'", s)
		}
	}
	if hasRegion {
		if site != stellar.SiteAmazon {
			return fmt.Sprintf("%q: only amazon scopes take a region", s)
		}
		if !stellar.IsRegion(region) {
			return fmt.Sprintf("%q: region is not one of %s", s, strings.Join(stellar.Regions(), ", "))
		}
	}
	return ""
}

func isSlug(s string) bool {
	if len(s) < 3 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

const (
	secretBytes  = 24 // 192 bits
	base62Len    = 33 // 62^33 > 2^192
	secretLen    = 4 + base62Len
	idHexLen     = 10
	base62Digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// newSecret returns a fresh secret of kind k. Encoding happens once per key
// created, so big.Int's allocations do not matter.
func newSecret(k Kind) (string, error) {
	var b [secretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	n := new(big.Int).SetBytes(b[:])
	var out [base62Len]byte
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := base62Len - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = base62Digits[mod.Int64()]
	}
	return k.Prefix() + string(out[:]), nil
}

// wellFormed reports whether s looks like a secret of kind k; anything else
// is refused without hashing.
func wellFormed(s string, k Kind) bool {
	p := k.Prefix()
	if len(s) != secretLen || p == "" || s[:4] != p {
		return false
	}
	for i := 4; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// kindOf returns the kind whose prefix s carries.
func kindOf(s string) (Kind, bool) {
	for _, k := range [...]Kind{KindSubscriber, KindIngest, KindAdmin} {
		if wellFormed(s, k) {
			return k, true
		}
	}
	return "", false
}

// hashSecret hashes s without allocating: s fits a stack buffer because
// callers pass only well-formed secrets.
func hashSecret(s string) [sha256.Size]byte {
	var buf [secretLen]byte
	n := copy(buf[:], s)
	return sha256.Sum256(buf[:n])
}

func idOf(h [sha256.Size]byte) string {
	return hex.EncodeToString(h[:idHexLen/2])
}
