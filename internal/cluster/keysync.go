package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// keySync mirrors a node's keys.Store and the keys bucket both ways. The
// store stays each node's in-memory, disk-backed auth path; the bucket
// is the cluster's copy. Local changes (Subscribe, Remote false) are put
// into the bucket by one pusher goroutine; the bucket's watch applies
// other nodes' changes with keys.Store.Apply, which notifies the store's
// subscribers (the node's DisconnectKey hook) like a local change.
type keySync struct {
	c  *Cluster
	st *keys.Store

	// mu orders pushes against the watch: a put's revision is recorded
	// before the watcher may see the put come back.
	mu      sync.Mutex
	lastOwn map[string]uint64 // key ID → revision of this node's latest put

	// qmu guards the queue alone: enqueue runs in the store's Subscribe
	// callback, under the store's lock, and must not wait for a put.
	qmu   sync.Mutex
	queue map[string]struct{} // key IDs to push
	wake  chan struct{}       // capacity 1
}

// SyncKeys replicates st through the keys bucket: it replays the bucket
// into st (the bucket wins, except that revocation is final), pushes keys
// only st knows, then keeps both in step until Close. A change on any
// node reaches every node's store, and its Subscribe callbacks, typically
// within milliseconds (a watch, not a poll).
//
// On broadcast nodes it also shares per-key connection counts, so that
// MaxConns holds across the cluster (see doc.go for the window).
func (c *Cluster) SyncKeys(ctx context.Context, st *keys.Store) error {
	ks := &keySync{c: c, st: st, lastOwn: map[string]uint64{}, queue: map[string]struct{}{}, wake: make(chan struct{}, 1)}
	// Subscribe first: a local change made during the replay is queued.
	unsub := st.Subscribe(func(ch keys.Change) {
		if !ch.Remote {
			ks.enqueue(ch.Key.ID)
		}
	})
	w, initial, err := c.watch(ctx, c.keysKV)
	if err != nil {
		unsub()
		return err
	}
	inBucket := map[string]bool{}
	for _, e := range initial {
		inBucket[e.Key()] = true
		ks.applyEntry(e)
	}
	for _, r := range st.Records() {
		if !inBucket[r.ID] {
			ks.enqueue(r.ID)
		}
	}
	c.follow("keys-watch", c.keysKV, w, ks.applyEntry, nil)
	c.goLoop("keys-unsubscribe", func(ctx context.Context) { <-ctx.Done(); unsub() })
	c.goLoop("keys-push", ks.pushLoop)
	if c.cfg.Has(RoleBroadcast) {
		if err := c.shareConns(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

func (ks *keySync) enqueue(id string) {
	ks.qmu.Lock()
	ks.queue[id] = struct{}{}
	ks.qmu.Unlock()
	select {
	case ks.wake <- struct{}{}:
	default:
	}
}

// applyEntry applies one bucket entry to the store.
func (ks *keySync) applyEntry(e jetstream.KeyValueEntry) {
	ks.mu.Lock()
	stale := ks.lastOwn[e.Key()] > e.Revision()
	ks.mu.Unlock()
	if stale || e.Operation() != jetstream.KeyValuePut {
		// Stale: an older state this node has since replaced with a put
		// of its own, which comes back later; applying it would flap the
		// key (and could cut connections). Every other entry is applied
		// in bucket order, so each store ends on the bucket's last value.
		// Deletes: keys are revoked, never deleted.
		return
	}
	var r keys.Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		ks.c.log.Warn("keys bucket: entry ignored", "key", e.Key(), "revision", e.Revision(), "err", err)
		return
	}
	ch, ok, err := ks.st.Apply(r)
	switch {
	case errors.Is(err, keys.ErrConflict):
		// The bucket would bring a revoked key back (a change raced the
		// revocation): revoked wins, re-assert it.
		ks.c.log.Warn("keys bucket: stale change to a revoked key; re-asserting the revocation", "key", r.ID)
		ks.enqueue(r.ID)
	case err != nil:
		ks.c.log.Warn("keys bucket: entry not applied", "key", e.Key(), "err", err)
	case ok:
		ks.c.log.Info("key changed on another node", "key", r.ID, "op", ch.Op.String())
	}
}

// pushLoop puts queued local keys into the bucket, retrying failures.
func (ks *keySync) pushLoop(ctx context.Context) {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ks.wake:
		case <-retry.C:
		}
		ks.qmu.Lock()
		ids := make([]string, 0, len(ks.queue))
		for id := range ks.queue {
			ids = append(ids, id)
		}
		clear(ks.queue)
		ks.qmu.Unlock()
		var failed []string
		for _, id := range ids {
			if err := ks.push(ctx, id); err != nil {
				if ctx.Err() != nil {
					return
				}
				ks.c.log.Warn("key change not replicated yet; retrying", "key", id, "err", err)
				failed = append(failed, id)
			}
		}
		if len(failed) > 0 {
			ks.qmu.Lock()
			for _, id := range failed {
				ks.queue[id] = struct{}{}
			}
			ks.qmu.Unlock()
			retry.Reset(time.Second)
		}
	}
}

func (ks *keySync) push(ctx context.Context, id string) error {
	r, err := ks.st.Record(id)
	if err != nil {
		return err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// Held across the put: the watcher must not see the echo before its
	// revision is recorded as ours.
	ks.mu.Lock()
	defer ks.mu.Unlock()
	rev, err := ks.c.keysKV.Put(pctx, id, data)
	if err != nil {
		return err
	}
	ks.lastOwn[id] = rev
	return nil
}
