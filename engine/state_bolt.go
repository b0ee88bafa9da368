package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// BoltBucket is the bucket BoltState keeps its entries in.
const BoltBucket = "dedupe"

// BoltState is a StateStore in a bbolt database: one JSON value per key in
// bucket "dedupe". The caller owns db (opens and closes it).
type BoltState struct {
	db *bolt.DB
}

// NewBoltState creates the bucket if needed (unless db is read-only).
func NewBoltState(db *bolt.DB) (*BoltState, error) {
	if db == nil {
		return nil, errors.New("bolt state: nil db")
	}
	if db.IsReadOnly() {
		// A node serving a read-only data directory: state is loaded, and
		// saves fail (kept in memory, counted, logged once).
		return &BoltState{db: db}, nil
	}
	err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte(BoltBucket))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt state: create bucket %q: %w", BoltBucket, err)
	}
	return &BoltState{db: db}, nil
}

// Load returns every entry. Entries that do not decode are skipped and
// named in the returned error, alongside the readable ones.
func (s *BoltState) Load(ctx context.Context) (map[string]State, error) {
	out := map[string]State{}
	var bad []error
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(BoltBucket))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var st State
			if err := json.Unmarshal(v, &st); err != nil {
				bad = append(bad, fmt.Errorf("entry %q: %w", k, err))
				return nil
			}
			out[string(k)] = st
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt state: load: %w", err)
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("bolt state: %d unreadable entries: %w", len(bad), errors.Join(bad...))
	}
	return out, nil
}

// Save writes one entry.
func (s *BoltState) Save(key string, st State) error {
	return s.SaveAll(map[string]State{key: st})
}

// SaveAll writes a batch in one transaction (one fsync).
func (s *BoltState) SaveAll(batch map[string]State) error {
	vals := make(map[string][]byte, len(batch))
	for k, st := range batch {
		v, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("bolt state: encode %q: %w", k, err)
		}
		vals[k] = v
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(BoltBucket))
		if err != nil {
			return err
		}
		for k, v := range vals {
			if err := b.Put([]byte(k), v); err != nil {
				return fmt.Errorf("put %q: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt state: save: %w", err)
	}
	return nil
}

// Delete removes one entry; a missing key is not an error.
func (s *BoltState) Delete(key string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(BoltBucket))
		if b == nil {
			return nil
		}
		return b.Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("bolt state: delete %q: %w", key, err)
	}
	return nil
}

var (
	_ StateStore      = (*BoltState)(nil)
	_ stateBatchSaver = (*BoltState)(nil)
	_ stateDeleter    = (*BoltState)(nil)
)
