package cluster

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// bucketFeeds holds every feed by name (keys.Feed as JSON; its Num is
// local to each node and ignored by the receivers).
const bucketFeeds = "_feeds"

// feedSync mirrors a node's feeds and the feeds bucket both ways, as
// keySync does for keys: local changes are put (or deleted) by one pusher
// goroutine, the watch applies other nodes' with ApplyFeed and
// ApplyFeedDelete. Each node numbers feeds for itself; the bus names them.
type feedSync struct {
	c  *Cluster
	st *keys.Store
	kv jetstream.KeyValue

	mu      sync.Mutex
	lastOwn map[string]uint64 // feed name → revision of this node's latest write

	queue *pushQueue[bool] // feed name → deleted
}

// SyncFeeds replicates st's feeds through the feeds bucket: the bucket's
// feeds are applied first (so keys that name them authenticate), feeds
// only st has are pushed, and both stay in step until Close. Call it
// before SyncKeys.
func (c *Cluster) SyncFeeds(ctx context.Context, st *keys.Store) error {
	kv, err := c.feedsBucket(ctx)
	if err != nil {
		return err
	}
	fs := &feedSync{c: c, st: st, kv: kv, lastOwn: map[string]uint64{}, queue: newPushQueue[bool]()}
	unsub := st.SubscribeFeeds(func(ch keys.FeedChange) {
		if !ch.Remote {
			fs.queue.add(ch.Feed.Name, ch.Deleted)
		}
	})
	w, initial, err := c.watch(ctx, kv)
	if err != nil {
		unsub()
		return err
	}
	inBucket := map[string]bool{}
	for _, e := range initial {
		inBucket[e.Key()] = true
		fs.applyEntry(e)
	}
	for _, f := range st.Feeds() {
		if !inBucket[f.Name] {
			fs.queue.add(f.Name, false)
		}
	}
	c.follow("feeds-watch", kv, w, fs.applyEntry, nil)
	c.goLoop("feeds-unsubscribe", func(ctx context.Context) { <-ctx.Done(); unsub() })
	c.goLoop("feeds-push", func(ctx context.Context) {
		fs.queue.run(ctx, fs.push, func(name string, err error) {
			fs.c.log.Warn("feed change not replicated yet; retrying", "feed", name, "err", err)
		})
	})
	return nil
}

func (c *Cluster) feedsBucket(ctx context.Context) (jetstream.KeyValue, error) {
	cfg := jetstream.KeyValueConfig{
		Bucket: c.cfg.Prefix + bucketFeeds, Description: "stellarfeed feeds",
		History: 5, Storage: jetstream.FileStorage, Replicas: c.cfg.Replicas,
	}
	var kv jetstream.KeyValue
	var err error
	for range 3 {
		// Several nodes start at once: the loser of a creation race finds
		// the bucket on the next attempt.
		if kv, err = c.js.CreateOrUpdateKeyValue(ctx, cfg); err == nil {
			return kv, nil
		}
		if kv, err = c.js.KeyValue(ctx, cfg.Bucket); err == nil {
			return kv, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, err
}

func (fs *feedSync) applyEntry(e jetstream.KeyValueEntry) {
	fs.mu.Lock()
	stale := fs.lastOwn[e.Key()] > e.Revision()
	fs.mu.Unlock()
	if stale {
		return // an older state this node has replaced; its own write follows
	}
	log := fs.c.log
	switch e.Operation() {
	case jetstream.KeyValuePut:
		var f keys.Feed
		if err := json.Unmarshal(e.Value(), &f); err != nil || f.Name != e.Key() {
			log.Warn("feeds bucket: entry ignored", "feed", e.Key(), "revision", e.Revision(), "err", err)
			return
		}
		if ok, err := fs.st.ApplyFeed(f); err != nil {
			log.Warn("feeds bucket: feed not applied", "feed", f.Name, "err", err)
		} else if ok {
			log.Info("feed changed on another node", "feed", f.Name)
		}
	default: // delete or purge
		if ok, err := fs.st.ApplyFeedDelete(e.Key()); err != nil {
			log.Warn("feeds bucket: feed not deleted here", "feed", e.Key(), "err", err)
		} else if ok {
			log.Info("feed deleted on another node", "feed", e.Key())
		}
	}
}

func (fs *feedSync) push(ctx context.Context, name string, deleted bool) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if deleted {
		if err := fs.kv.Delete(pctx, name); err != nil {
			return err
		}
		// A delete's revision is not returned; the watch applies it as a
		// no-op here (the feed is gone already).
		delete(fs.lastOwn, name)
		return nil
	}
	f, err := fs.st.Feed(name)
	if err != nil {
		return nil // deleted since; its delete is queued
	}
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	rev, err := fs.kv.Put(pctx, name, data)
	if err != nil {
		return err
	}
	fs.lastOwn[name] = rev
	return nil
}
