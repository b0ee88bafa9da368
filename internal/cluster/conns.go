package cluster

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// connCounts shares per-key connection counts for MaxConns: every
// ConnsInterval a broadcaster node puts "<keyID>.<nodeID>" = its count
// (live + handshaking) for each key with MaxConns whose count changed, and
// refreshes the unchanged ones every Heartbeat×10. Every node watches the
// bucket; keys.Store.Authenticate adds the counts of the other live nodes
// (membership decides who is live, so a crashed node's connections stop
// counting after NodeTTL).
type connCounts struct {
	c *Cluster

	mu    sync.RWMutex
	peers map[string]map[string]int // key ID → node ID → count
}

// PeerConns returns the connections key id holds on other live nodes, as
// last heard. It is what keys.Store.SetPeerConns is given.
func (cc *connCounts) PeerConns(id string) int {
	cc.mu.RLock()
	defer cc.mu.RUnlock()
	n := 0
	for node, k := range cc.peers[id] {
		// Only live members count. Lock order: cc.mu, then the
		// membership lock, never the reverse.
		if cc.c.members.Alive(node) {
			n += k
		}
	}
	return n
}

func (c *Cluster) shareConns(ctx context.Context, st *keys.Store) error {
	cc := &connCounts{c: c, peers: map[string]map[string]int{}}
	w, initial, err := c.watch(ctx, c.connsKV)
	if err != nil {
		return err
	}
	for _, e := range initial {
		cc.apply(e)
	}
	st.SetPeerConns(cc.PeerConns)
	c.conns.Store(cc)
	c.follow("conns-watch", c.connsKV, w, cc.apply, nil)
	c.goLoop("conns-publish", func(ctx context.Context) { cc.publishLoop(ctx, st) })
	return nil
}

func (cc *connCounts) apply(e jetstream.KeyValueEntry) {
	id, node, ok := strings.Cut(e.Key(), ".")
	if !ok || node == cc.c.cfg.NodeID {
		return
	}
	n := 0
	if e.Operation() == jetstream.KeyValuePut {
		v, err := strconv.Atoi(string(e.Value()))
		if err != nil || v < 0 {
			cc.c.log.Warn("connection count ignored", "entry", e.Key(), "value", string(e.Value()))
			return
		}
		n = v
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	nodes := cc.peers[id]
	if n == 0 {
		delete(nodes, node)
		if len(nodes) == 0 {
			delete(cc.peers, id)
		}
		return
	}
	if nodes == nil {
		nodes = map[string]int{}
		cc.peers[id] = nodes
	}
	nodes[node] = n
}

// publishLoop puts this node's counts. On stop it deletes them, so other
// nodes admit the freed slots at once.
func (cc *connCounts) publishLoop(ctx context.Context, st *keys.Store) {
	c := cc.c
	last := map[string]int{}
	refresh := 10 * c.cfg.Heartbeat
	lastPut := map[string]time.Time{}
	t := time.NewTicker(c.cfg.ConnsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			for id, n := range last {
				if n > 0 {
					_ = c.connsKV.Delete(dctx, id+"."+c.cfg.NodeID)
				}
			}
			cancel()
			return
		case now := <-t.C:
			for _, k := range st.List() {
				if k.Kind != keys.KindSubscriber || k.MaxConns == 0 && last[k.ID] == 0 {
					continue
				}
				n := st.LocalConns(k.ID)
				prev, seen := last[k.ID]
				if seen && n == prev && (n == 0 || now.Sub(lastPut[k.ID]) < refresh) {
					continue
				}
				if !seen && n == 0 {
					continue
				}
				pctx, cancel := context.WithTimeout(ctx, c.cfg.ConnsInterval*5)
				_, err := c.connsKV.Put(pctx, k.ID+"."+c.cfg.NodeID, []byte(strconv.Itoa(n)))
				cancel()
				if err != nil {
					if ctx.Err() == nil {
						c.log.Warn("connection count not shared", "key", k.ID, "err", err)
					}
					continue
				}
				last[k.ID], lastPut[k.ID] = n, now
			}
		}
	}
}

// PeerConns returns the connections key id holds on the other live nodes,
// as this node last heard (0 before SyncKeys on a broadcast node).
func (c *Cluster) PeerConns(id string) int {
	if cc := c.conns.Load(); cc != nil {
		return cc.PeerConns(id)
	}
	return 0
}
