package keys

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Record is a key as replicated between nodes (internal/cluster): the
// public Key and the hex SHA-256 of its current secret, never the secret.
// It is also the form bucket "keys" stores.
type Record struct {
	Key
	Hash string `json:"hash"`
}

// Record returns the replicable form of the key with that ID.
func (s *Store) Record(id string) (Record, error) {
	rec := s.snap.Load().byID[id]
	if rec == nil {
		return Record{}, fmt.Errorf("record %q: %w", id, ErrNotFound)
	}
	return rec.record(), nil
}

// Records returns every key in replicable form, sorted by ID.
func (s *Store) Records() []Record {
	snap := s.snap.Load()
	out := make([]Record, 0, len(snap.byID))
	for _, rec := range snap.byID {
		out = append(out, rec.record())
	}
	slices.SortFunc(out, func(a, b Record) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (rec *record) record() Record {
	return Record{Key: rec.key, Hash: hex.EncodeToString(rec.hash[:])}
}

// Apply stores r, a key committed on another node, as it is: no slug or
// expiry rule is re-checked (the origin did), only the record's shape.
// Subscribers are notified with Change.Remote set; the Op is derived from
// the difference (created, revoked, rotated when the hash changed, else
// updated). A record equal to the stored one changes nothing and returns
// ok false. Revocation is final: a record that would bring a revoked key
// back is refused with ErrConflict, so the replicator can re-assert the
// revocation. Usage counters of an existing key are kept.
func (s *Store) Apply(r Record) (_ Change, ok bool, err error) {
	if len(r.ID) != idHexLen || strings.Trim(r.ID, "0123456789abcdef") != "" {
		return Change{}, false, fmt.Errorf("apply %q: %w", r.ID, &InvalidError{Field: "id", Message: fmt.Sprintf("must be %d lower-case hex digits", idHexLen)})
	}
	h, err := hex.DecodeString(r.Hash)
	if err != nil || len(h) != sha256.Size {
		return Change{}, false, fmt.Errorf("apply %q: %w", r.ID, &InvalidError{Field: "hash", Message: fmt.Sprintf("must be %d hex bytes", sha256.Size)})
	}
	k := r.Key
	k.Scopes = slices.Clone(k.Scopes)
	if err := validate(&k); err != nil {
		return Change{}, false, fmt.Errorf("apply %q: %w", r.ID, err)
	}
	rec := &record{key: k}
	copy(rec.hash[:], h)

	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.snap.Load()
	old := snap.byID[k.ID]
	if other := snap.byHash[rec.hash]; other != nil && other.key.ID != k.ID {
		return Change{}, false, fmt.Errorf("apply %q: secret hash already belongs to key %s: %w", k.ID, other.key.ID, ErrConflict)
	}
	op := OpCreated
	var prev Key
	if old != nil {
		if old.hash == rec.hash && sameKey(&old.key, &k) {
			return Change{}, false, nil
		}
		if !old.key.Revoked.IsZero() && k.Revoked.IsZero() {
			return Change{}, false, fmt.Errorf("apply %q: key is revoked here: %w", k.ID, ErrConflict)
		}
		switch {
		case !k.Revoked.IsZero() && old.key.Revoked.IsZero():
			op = OpRevoked
		case old.hash != rec.hash:
			op = OpRotated
		default:
			op = OpUpdated
		}
		prev, rec.use = old.key, old.use
	} else {
		rec.use = newUsage()
	}
	if err := s.commit(snap, rec, old); err != nil {
		return Change{}, false, fmt.Errorf("apply %q: %w", k.ID, err)
	}
	c := Change{Op: op, Key: k, Prev: prev, Remote: true}
	s.notify(c)
	return c, true, nil
}

// sameKey compares the stored forms: time.Time values that went through
// JSON differ from the originals in monotonic reading and location only.
func sameKey(a, b *Key) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// SetPeerConns makes Authenticate count, for MaxConns, fn(keyID) live
// connections held on other nodes besides this store's own (nil turns it
// off). fn runs inside every handshake of a key with MaxConns, under the
// key's usage lock: it must be a quick, non-blocking lookup.
func (s *Store) SetPeerConns(fn func(keyID string) int) {
	if fn == nil {
		s.peerConns.Store(nil)
		return
	}
	s.peerConns.Store(&fn)
}

func (s *Store) peers(id string) int {
	if fn := s.peerConns.Load(); fn != nil {
		return max(0, (*fn)(id))
	}
	return 0
}

// LocalConns returns the key's connections on this node that count
// against MaxConns: live ones plus handshakes admitted but not yet
// Connected. Unknown IDs have none.
func (s *Store) LocalConns(id string) int {
	rec := s.snap.Load().byID[id]
	if rec == nil {
		return 0
	}
	u := rec.use
	u.mu.Lock()
	defer u.mu.Unlock()
	u.expirePending(s.now())
	return u.u.Conns + len(u.pending)
}
