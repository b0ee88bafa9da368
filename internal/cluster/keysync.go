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

	queue *pushQueue[struct{}] // key IDs to push
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
	ks := &keySync{c: c, st: st, lastOwn: map[string]uint64{}, queue: newPushQueue[struct{}]()}
	// Subscribe first: a local change made during the replay is queued.
	unsub := st.Subscribe(func(ch keys.Change) {
		if !ch.Remote {
			ks.queue.add(ch.Key.ID, struct{}{})
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
			ks.queue.add(r.ID, struct{}{})
		}
	}
	c.follow("keys-watch", c.keysKV, w, ks.applyEntry, nil)
	c.goLoop("keys-unsubscribe", func(ctx context.Context) { <-ctx.Done(); unsub() })
	c.goLoop("keys-push", func(ctx context.Context) {
		ks.queue.run(ctx, func(ctx context.Context, id string, _ struct{}) error { return ks.push(ctx, id) },
			func(id string, err error) {
				ks.c.log.Warn("key change not replicated yet; retrying", "key", id, "err", err)
			})
	})
	if c.cfg.Has(RoleBroadcast) {
		if err := c.shareConns(ctx, st); err != nil {
			return err
		}
	}
	return nil
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
		ks.queue.add(r.ID, struct{}{})
	case err != nil:
		ks.c.log.Warn("keys bucket: entry not applied", "key", e.Key(), "err", err)
	case ok:
		ks.c.log.Info("key changed on another node", "key", r.ID, "op", ch.Op.String())
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
