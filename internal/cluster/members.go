package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/stellarfeed/stellarfeed/engine"
)

// Members tracks the live nodes: each node puts a heartbeat into the
// nodes bucket every Heartbeat and watches the bucket; a node not heard of
// for NodeTTL (local clock, so no clock skew) is gone. Liveness is judged
// by when this node received an update, not by timestamps in it.
//
// Targets are spread over the live engine nodes by rendezvous hashing of
// the engine.TargetID: every node computes the same owner for a target
// from the same member list, and a node joining or leaving moves only its
// own share.
type Members struct {
	c       *Cluster
	changes chan struct{} // capacity 1: engine membership changed

	mu      sync.Mutex
	nodes   map[string]*member
	engines []string // live engine nodes, sorted: the hashing input
}

type member struct {
	Roles   []Role    `json:"roles"`
	Started time.Time `json:"started"`
	heard   time.Time
}

func newMembers(c *Cluster) *Members {
	return &Members{c: c, changes: make(chan struct{}, 1), nodes: map[string]*member{}}
}

// start announces the node, replays the bucket and starts the heartbeat
// and watch loops.
func (m *Members) start(ctx context.Context) error {
	c := m.c
	self, err := json.Marshal(member{Roles: c.cfg.Roles, Started: time.Now().UTC()})
	if err != nil {
		return err
	}
	if _, err := c.nodesKV.Put(ctx, c.cfg.NodeID, self); err != nil {
		return errors.Join(errors.New("cluster: announce node"), err)
	}
	w, initial, err := c.watch(ctx, c.nodesKV)
	if err != nil {
		return err
	}
	// A replayed entry is as old as the server says it is, so a node
	// that died just before we started (or during an outage) does not
	// count as live.
	replay := func(e jetstream.KeyValueEntry) {
		heard := time.Now()
		if e.Created().Before(heard) {
			heard = e.Created()
		}
		m.apply(e, heard)
	}
	for _, e := range initial {
		replay(e)
	}
	m.recompute(time.Now())
	c.follow("members-watch", c.nodesKV, w, func(e jetstream.KeyValueEntry) {
		m.apply(e, time.Now())
		m.recompute(time.Now())
	}, replay)
	c.goLoop("members-heartbeat", func(ctx context.Context) {
		t := time.NewTicker(c.cfg.Heartbeat)
		defer t.Stop()
		failing := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				pctx, cancel := context.WithTimeout(ctx, c.cfg.Heartbeat)
				_, err := c.nodesKV.Put(pctx, c.cfg.NodeID, self)
				switch {
				case err != nil && ctx.Err() == nil && !failing:
					failing = true
					c.log.Warn("heartbeat failed; retried every heartbeat, logged again once it works", "err", err)
				case err == nil && failing:
					failing = false
					c.log.Info("heartbeat works again")
				}
				cancel()
				m.recompute(time.Now())
			}
		}
	})
	return nil
}

func (m *Members) apply(e jetstream.KeyValueEntry, heard time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(m.nodes, e.Key())
		return
	}
	var mb member
	if err := json.Unmarshal(e.Value(), &mb); err != nil {
		m.c.log.Warn("membership entry ignored", "node", e.Key(), "err", err)
		return
	}
	mb.heard = heard
	m.nodes[e.Key()] = &mb
}

// recompute derives the live engine set and signals a change.
func (m *Members) recompute(now time.Time) {
	m.mu.Lock()
	var engines []string
	for id, mb := range m.nodes {
		if id == m.c.cfg.NodeID {
			continue
		}
		if now.Sub(mb.heard) <= m.c.cfg.NodeTTL && slices.Contains(mb.Roles, RoleEngine) {
			engines = append(engines, id)
		}
	}
	// This node counts itself while it runs: if its heartbeats fail, the
	// others take its targets over and claims catch the overlap.
	if m.c.cfg.Has(RoleEngine) {
		engines = append(engines, m.c.cfg.NodeID)
	}
	slices.Sort(engines)
	changed := !slices.Equal(engines, m.engines)
	old := m.engines
	m.engines = engines
	m.mu.Unlock()
	if changed {
		m.c.log.Info("engine membership changed", "engines", engines, "before", old)
		select {
		case m.changes <- struct{}{}:
		default:
		}
	}
}

// leave deletes the node's entry so the others take over its targets now,
// not after NodeTTL.
func (m *Members) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := m.c.nodesKV.Delete(ctx, m.c.cfg.NodeID); err != nil {
		m.c.log.Warn("leave: membership entry not deleted; others wait for it to expire", "err", err)
	}
}

// Alive reports whether node id is a live member (this node always is).
func (m *Members) Alive(id string) bool {
	if id == m.c.cfg.NodeID {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	mb := m.nodes[id]
	return mb != nil && time.Since(mb.heard) <= m.c.cfg.NodeTTL
}

// Engines lists the live engine nodes, sorted.
func (m *Members) Engines() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.engines)
}

// Changes is signalled (coalesced) when the set of live engine nodes
// changes: re-apply FilterTargets to the full target list then.
func (m *Members) Changes() <-chan struct{} { return m.changes }

// Owner returns the engine node that owns target id ("" if none is live).
func (m *Members) Owner(id engine.TargetID) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return owner(m.engines, id)
}

// FilterTargets returns the targets of all that this node owns. Every
// engine node passes the same full list; each gets a disjoint share, and
// together they cover it.
func (m *Members) FilterTargets(all []engine.Target) []engine.Target {
	m.mu.Lock()
	engines := m.engines
	m.mu.Unlock()
	self := m.c.cfg.NodeID
	var out []engine.Target
	for i := range all {
		if owner(engines, all[i].ID()) == self {
			out = append(out, all[i])
		}
	}
	return out
}

// owner is rendezvous (highest random weight) hashing.
func owner(nodes []string, id engine.TargetID) string {
	best, bestScore := "", uint64(0)
	for _, n := range nodes {
		if s := score(n, id); best == "" || s > bestScore {
			best, bestScore = n, s
		}
	}
	return best
}

func score(node string, id engine.TargetID) uint64 {
	h := fnv.New64a()
	h.Write([]byte(node))
	return mix64(h.Sum64() ^ uint64(id))
}

// mix64 is splitmix64's finalizer: FNV alone leaves related inputs close.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
