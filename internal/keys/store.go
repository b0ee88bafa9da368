package keys

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketKeys  = []byte("keys")
	bucketUsage = []byte("key_usage")
	// bucketMeta holds "flushed": when usage was last written, so a start
	// after a crash can say how much usage it lost.
	bucketMeta  = []byte("key_meta")
	metaFlushed = []byte("flushed")
)

// anonID names the usage record of secrets that match no key; real IDs are
// hex, so it cannot collide.
const anonID = "_unknown"

// Option configures a Store.
type Option func(*Store)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithClock replaces time.Now for Authenticate, Connected, Disconnected and
// the timestamps of changes (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithWriteObserver calls fn after every write to bbolt (key changes and
// usage flushes) with its result, nil or the error: the node tracks from it
// whether the data directory is writable. fn must be quick and must not
// call the store.
func WithWriteObserver(fn func(error)) Option { return func(s *Store) { s.observe = fn } }

// Store holds keys in bbolt and serves authentication from memory. All
// methods are safe for concurrent use.
type Store struct {
	db      *bolt.DB
	log     *slog.Logger
	now     func() time.Time
	observe func(error)

	lastFlush atomic.Int64 // Unix ns of the last successful usage flush, 0 = never

	// snap is the immutable view Check reads without a lock; writers build
	// a new one under mu and swap it in after the bbolt commit.
	snap     atomic.Pointer[snapshot]
	mu       sync.Mutex // serialises changes and their notifications
	subs     map[int]func(Change)
	feedSubs map[int]func(FeedChange) // see SubscribeFeeds
	next     int

	anon *usage // rejections of secrets that match no key

	// peerConns, when set (cluster mode), counts a key's connections on
	// other nodes for MaxConns; see SetPeerConns.
	peerConns atomic.Pointer[func(keyID string) int]

	// Browser sessions (session.go), by SHA-256 of the session secret.
	sessMu   sync.Mutex
	sessions map[[sha256.Size]byte]session
}

type snapshot struct {
	byHash map[[sha256.Size]byte]*record
	byID   map[string]*record
	feeds  map[string]*feedRec // by name; see feed.go
	// tokenSlugs indexes the live tokens' slugs, built on first use: an
	// unauthenticated webhook request must not cost a scan of every key.
	// It depends on the keys only, so a feed change may share it.
	tokenSlugs *lazySet
}

// record is immutable once in a snapshot, except for the usage it points
// to, which is shared by every version of the key.
type record struct {
	key  Key
	hash [sha256.Size]byte
	use  *usage
}

// stored is a key as written to bbolt: the public record and the hash of
// its current secret, never the secret.
type stored struct {
	Key
	Hash string `json:"hash"`
}

// Open loads the keys and their usage from db, creating the buckets if
// needed (unless db is read-only, as the CLI may open it).
func Open(db *bolt.DB, opts ...Option) (*Store, error) {
	s := &Store{db: db, log: slog.Default(), now: time.Now, observe: func(error) {}, subs: map[int]func(Change){}, anon: newUsage()}
	for _, o := range opts {
		o(s)
	}
	if !db.IsReadOnly() {
		err := db.Update(func(tx *bolt.Tx) error {
			for _, name := range [][]byte{bucketKeys, bucketUsage, bucketFeeds, bucketFeedUsage, bucketMeta} {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return fmt.Errorf("create bucket %q: %w", name, err)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("open key store: %w", err)
		}
	}
	snap := &snapshot{byHash: map[[sha256.Size]byte]*record{}, byID: map[string]*record{}, feeds: map[string]*feedRec{}, tokenSlugs: &lazySet{}}
	err := db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta); b != nil {
			if v := b.Get(metaFlushed); v != nil {
				var t time.Time
				if err := t.UnmarshalText(v); err != nil {
					return fmt.Errorf("bucket key_meta: flushed: %w", err)
				}
				s.lastFlush.Store(t.UnixNano())
			}
		}
		if b := tx.Bucket(bucketKeys); b != nil {
			err := b.ForEach(func(k, v []byte) error {
				rec, err := decodeRecord(v)
				if err != nil {
					return fmt.Errorf("bucket keys: record %q: %w", k, err)
				}
				if rec.key.ID != string(k) {
					return fmt.Errorf("bucket keys: record %q holds id %q", k, rec.key.ID)
				}
				snap.byHash[rec.hash] = rec
				snap.byID[rec.key.ID] = rec
				return nil
			})
			if err != nil {
				return err
			}
		}
		if b := tx.Bucket(bucketUsage); b != nil {
			return b.ForEach(func(k, v []byte) error {
				u := s.anon
				if id := string(k); id != anonID {
					rec := snap.byID[id]
					if rec == nil {
						return nil // usage of a key no longer stored
					}
					u = rec.use
				}
				if err := u.load(v); err != nil {
					return fmt.Errorf("bucket key_usage: record %q: %w", k, err)
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open key store: %w", err)
	}
	if err := s.loadFeeds(snap); err != nil {
		return nil, fmt.Errorf("open key store: %w", err)
	}
	s.snap.Store(snap)
	return s, nil
}

func decodeRecord(v []byte) (*record, error) {
	var st stored
	if err := json.Unmarshal(v, &st); err != nil {
		return nil, err
	}
	h, err := hex.DecodeString(st.Hash)
	if err != nil || len(h) != sha256.Size {
		return nil, fmt.Errorf("hash: not %d hex bytes", sha256.Size)
	}
	if err := validate(&st.Key); err != nil {
		return nil, err
	}
	rec := &record{key: st.Key, use: newUsage()}
	copy(rec.hash[:], h)
	return rec, nil
}

// Check authenticates secret as a key of kind at now. It reads only memory
// and does not allocate. Refusals are *AuthError sentinels (ErrMissing,
// ErrUnknown, ErrRevoked, ErrExpired, ErrDisabled), counted per reason.
func (s *Store) Check(secret string, kind Kind, now time.Time) (Key, error) {
	rec, err := s.check(secret, kind, now)
	if err != nil {
		return Key{}, err
	}
	return rec.key, nil
}

func (s *Store) check(secret string, kind Kind, now time.Time) (*record, error) {
	if secret == "" {
		s.anon.reject(reasonMissing)
		return nil, ErrMissing
	}
	if !wellFormed(secret, kind) {
		s.anon.reject(reasonUnknown)
		return nil, ErrUnknown
	}
	rec := s.snap.Load().byHash[hashSecret(secret)]
	if rec == nil || rec.key.Kind != kind {
		s.anon.reject(reasonUnknown)
		return nil, ErrUnknown
	}
	var err *AuthError
	switch k := &rec.key; {
	case !k.Revoked.IsZero():
		err = ErrRevoked
	case k.Disabled:
		err = ErrDisabled
	case !k.Expires.IsZero() && !now.Before(k.Expires):
		err = ErrExpired
	default:
		return rec, nil
	}
	rec.use.reject(err.reason)
	return nil, err
}

// Get returns the key with that ID.
func (s *Store) Get(id string) (Key, error) {
	rec := s.snap.Load().byID[id]
	if rec == nil {
		return Key{}, fmt.Errorf("get %q: %w", id, ErrNotFound)
	}
	return rec.key, nil
}

// Find returns the key named by its ID or by its secret, whatever its
// state (a disabled key's secret still names it), so that every command
// that takes a key accepts either.
func (s *Store) Find(idOrSecret string) (Key, error) {
	rec := s.snap.Load().find(idOrSecret)
	if rec == nil {
		return Key{}, fmt.Errorf("find %q: %w", redact(idOrSecret), ErrNotFound)
	}
	return rec.key, nil
}

// find returns the record with that ID or secret, or nil.
func (snap *snapshot) find(idOrSecret string) *record {
	if rec := snap.byID[idOrSecret]; rec != nil {
		return rec
	}
	if _, ok := kindOf(idOrSecret); ok {
		return snap.byHash[hashSecret(idOrSecret)]
	}
	return nil
}

// IsSecret reports whether s has the shape of a secret (a kind prefix and
// the right length), as opposed to a key ID.
func IsSecret(s string) bool {
	_, ok := kindOf(s)
	return ok
}

// List returns every key, revoked ones included, oldest first.
func (s *Store) List() []Key {
	snap := s.snap.Load()
	out := make([]Key, 0, len(snap.byID))
	for _, rec := range snap.byID {
		out = append(out, rec.key)
	}
	slices.SortFunc(out, func(a, b Key) int {
		return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
	})
	return out
}

// Create makes a key and returns its secret, which is shown only here.
func (s *Store) Create(o Options) (string, Key, error) {
	now := s.now().UTC().Truncate(time.Second)
	k := Key{
		Kind: o.Kind, Label: o.Label, Created: now, Expires: o.Expires.UTC(), Disabled: o.Disabled,
		MaxConns: o.MaxConns, Scopes: slices.Clone(o.Scopes), MaxIPsPerDay: o.MaxIPsPerDay,
		MonthlyQuota: o.MonthlyQuota, RatePerSec: o.RatePerSec, Slug: o.Slug, Feed: o.Feed,
	}
	if err := validate(&k); err != nil {
		return "", Key{}, fmt.Errorf("create key: %w", err)
	}
	if !k.Expires.IsZero() && !k.Expires.After(now) {
		// Surely a typo (a year, a time zone); Update can still end a key
		// by moving its expiry into the past.
		return "", Key{}, fmt.Errorf("create key: %w", &InvalidError{Field: "expires", Message: "already past"})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.snap.Load()
	if err := snap.checkKeyFeed(&k); err != nil {
		return "", Key{}, fmt.Errorf("create key: %w", err)
	}
	if err := snap.slugFree(k.Slug, ""); err != nil {
		return "", Key{}, fmt.Errorf("create key: %w", err)
	}
	secret, h, err := snap.freshSecret(k.Kind, true)
	if err != nil {
		return "", Key{}, fmt.Errorf("create key: %w", err)
	}
	k.ID = idOf(h)
	rec := &record{key: k, hash: h, use: newUsage()}
	if err := s.commit(snap, rec, nil); err != nil {
		return "", Key{}, fmt.Errorf("create key: %w", err)
	}
	s.notify(Change{Op: OpCreated, Key: k})
	return secret, k, nil
}

// Update applies p to the key with that ID. A revoked key cannot change.
func (s *Store) Update(id string, p Patch) (Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.snap.Load()
	old := snap.byID[id]
	if old == nil {
		return Key{}, fmt.Errorf("update %q: %w", id, ErrNotFound)
	}
	if !old.key.Revoked.IsZero() {
		return Key{}, fmt.Errorf("update %q: key is revoked: %w", id, ErrConflict)
	}
	k := p.apply(old.key)
	k.Expires = k.Expires.UTC()
	if err := validate(&k); err != nil {
		return Key{}, fmt.Errorf("update %q: %w", id, err)
	}
	if err := snap.checkKeyFeed(&k); err != nil {
		return Key{}, fmt.Errorf("update %q: %w", id, err)
	}
	if err := snap.slugFree(k.Slug, id); err != nil {
		return Key{}, fmt.Errorf("update %q: %w", id, err)
	}
	rec := &record{key: k, hash: old.hash, use: old.use}
	if err := s.commit(snap, rec, old); err != nil {
		return Key{}, fmt.Errorf("update %q: %w", id, err)
	}
	s.notify(Change{Op: OpUpdated, Key: k, Prev: old.key})
	return k, nil
}

// Revoke ends a key for good, found by ID or by its secret. Revoking a
// revoked key is a no-op that returns it.
func (s *Store) Revoke(idOrSecret string) (Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.snap.Load()
	old := snap.find(idOrSecret)
	if old == nil {
		return Key{}, fmt.Errorf("revoke %q: %w", redact(idOrSecret), ErrNotFound)
	}
	if !old.key.Revoked.IsZero() {
		return old.key, nil
	}
	k := old.key
	k.Revoked = s.now().UTC()
	rec := &record{key: k, hash: old.hash, use: old.use}
	if err := s.commit(snap, rec, old); err != nil {
		return Key{}, fmt.Errorf("revoke %q: %w", k.ID, err)
	}
	s.notify(Change{Op: OpRevoked, Key: k, Prev: old.key})
	return k, nil
}

// Rotate gives the key a new secret, returned once; the old secret stops
// working at once. ID and settings stay.
func (s *Store) Rotate(id string) (string, Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.snap.Load()
	old := snap.byID[id]
	if old == nil {
		return "", Key{}, fmt.Errorf("rotate %q: %w", id, ErrNotFound)
	}
	if !old.key.Revoked.IsZero() {
		return "", Key{}, fmt.Errorf("rotate %q: key is revoked: %w", id, ErrConflict)
	}
	secret, h, err := snap.freshSecret(old.key.Kind, false)
	if err != nil {
		return "", Key{}, fmt.Errorf("rotate %q: %w", id, err)
	}
	k := old.key
	k.Rotated = s.now().UTC()
	rec := &record{key: k, hash: h, use: old.use}
	if err := s.commit(snap, rec, old); err != nil {
		return "", Key{}, fmt.Errorf("rotate %q: %w", id, err)
	}
	s.notify(Change{Op: OpRotated, Key: k, Prev: old.key})
	return secret, k, nil
}

// redact keeps a secret out of error messages and logs.
func redact(s string) string {
	if _, ok := kindOf(s); ok {
		return s[:4] + "…"
	}
	return s
}

// freshSecret draws a secret whose hash (and, for a new key, ID) is unused.
// A 40-bit ID collides once in ~10^6 keys; the retry makes it harmless.
func (snap *snapshot) freshSecret(k Kind, newID bool) (string, [sha256.Size]byte, error) {
	for range 8 {
		secret, err := newSecret(k)
		if err != nil {
			return "", [sha256.Size]byte{}, err
		}
		h := hashSecret(secret)
		if snap.byHash[h] != nil || newID && snap.byID[idOf(h)] != nil {
			continue
		}
		return secret, h, nil
	}
	return "", [sha256.Size]byte{}, fmt.Errorf("no unused key id after 8 tries")
}

func (snap *snapshot) slugFree(slug, self string) error {
	if slug == "" {
		return nil
	}
	for id, rec := range snap.byID {
		if id != self && rec.key.Slug == slug && rec.key.Revoked.IsZero() {
			return fmt.Errorf("slug %q is used by key %s: %w", slug, id, ErrConflict)
		}
	}
	// A token's slug must not shadow a feed's either.
	for name, fr := range snap.feeds {
		if slices.Contains(fr.feed.Slugs, slug) {
			return fmt.Errorf("slug %q is used by feed %s: %w", slug, name, ErrConflict)
		}
	}
	return nil
}

// commit writes rec to bbolt and, once that succeeded, swaps in a snapshot
// where rec replaces old. Called with s.mu held.
func (s *Store) commit(snap *snapshot, rec, old *record) error {
	data, err := json.Marshal(stored{Key: rec.key, Hash: hex.EncodeToString(rec.hash[:])})
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		if b == nil {
			return fmt.Errorf("bucket %q missing (read-only store?)", bucketKeys)
		}
		return b.Put([]byte(rec.key.ID), data)
	})
	s.observe(err)
	if err != nil {
		// Nothing changed: memory is swapped only after the commit.
		return fmt.Errorf("%w: %w", ErrUnwritable, err)
	}
	next := &snapshot{byHash: maps.Clone(snap.byHash), byID: maps.Clone(snap.byID), feeds: snap.feeds, tokenSlugs: &lazySet{}}
	if old != nil {
		delete(next.byHash, old.hash)
	}
	next.byHash[rec.hash] = rec
	next.byID[rec.key.ID] = rec
	s.snap.Store(next)
	return nil
}

// Op is the kind of a Change.
type Op uint8

// Operations.
const (
	OpCreated Op = iota + 1
	OpUpdated
	OpRevoked
	OpRotated
)

func (o Op) String() string {
	switch o {
	case OpCreated:
		return "created"
	case OpUpdated:
		return "updated"
	case OpRevoked:
		return "revoked"
	case OpRotated:
		return "rotated"
	}
	return "unknown"
}

// Change is one committed change: the key after it and before it (zero
// for OpCreated).
type Change struct {
	Op   Op
	Key  Key
	Prev Key
	// Remote is set on changes made by Apply: they were committed on
	// another node and replicated here, so a replicator must not send them
	// back.
	Remote bool
}

// CutsAccess reports whether connections authenticated before the change
// must be closed: the secret they used no longer works, or the key lost
// rights they were admitted with (disabled, earlier expiry, other scopes).
func (c Change) CutsAccess() bool {
	switch c.Op {
	case OpRevoked, OpRotated:
		return true
	case OpUpdated:
		k, p := &c.Key, &c.Prev
		return k.Disabled && !p.Disabled ||
			!k.Expires.IsZero() && (p.Expires.IsZero() || k.Expires.Before(p.Expires)) ||
			!slices.Equal(k.Scopes, p.Scopes)
	}
	return false
}

// Subscribe calls fn after every committed change, in commit order, before
// the changing method returns. fn runs with the store's write lock held: it
// may call Check, Get, List and Authenticate but must not change the store
// or unsubscribe, and must hand slow work off. The returned func stops
// the calls.
func (s *Store) Subscribe(fn func(Change)) (unsubscribe func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next
	s.next++
	s.subs[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.subs, id)
	}
}

// notify is called with s.mu held.
func (s *Store) notify(c Change) {
	if c.CutsAccess() {
		s.dropSessions(c.Key.ID)
	}
	ids := slices.Sorted(maps.Keys(s.subs))
	for _, id := range ids {
		s.subs[id](c)
	}
}
