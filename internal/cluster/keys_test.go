package cluster

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// changeLog records a store's Subscribe callbacks, as the node's
// DisconnectKey hook sees them.
type changeLog struct {
	mu  sync.Mutex
	chs []keys.Change
	at  []time.Time
}

func watchChanges(st *keys.Store) *changeLog {
	l := &changeLog{}
	st.Subscribe(func(c keys.Change) {
		l.mu.Lock()
		l.chs = append(l.chs, c)
		l.at = append(l.at, time.Now())
		l.mu.Unlock()
	})
	return l
}

func (l *changeLog) find(id string, op keys.Op) (keys.Change, time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, c := range l.chs {
		if c.Key.ID == id && c.Op == op {
			return c, l.at[i], true
		}
	}
	return keys.Change{}, time.Time{}, false
}

// TestKeysReplicate: a key created on one node works on all; revoking it
// on another node reaches every node's Subscribe callbacks within a
// second, as a revocation (CutsAccess) marked Remote.
func TestKeysReplicate(t *testing.T) {
	ctx := context.Background()
	n0 := startEmbedded(t, fastConfig("n0"))
	nodes := []*Cluster{n0, join(t, n0, fastConfig("n1")), join(t, n0, fastConfig("n2"))}
	stores := make([]*keys.Store, 3)
	logs := make([]*changeLog, 3)
	for i, n := range nodes {
		stores[i] = openStore(t)
		logs[i] = watchChanges(stores[i])
		if err := n.SyncKeys(ctx, stores[i]); err != nil {
			t.Fatal(err)
		}
	}

	secret, k, err := stores[0].Create(keys.Options{Kind: keys.KindSubscriber, Label: "acme", MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range stores {
		checkFor(t, time.Second, 5*time.Millisecond, func() bool {
			_, err := st.Check(secret, keys.KindSubscriber, time.Now())
			return err == nil
		})
		if i > 0 {
			if c, _, ok := logs[i].find(k.ID, keys.OpCreated); !ok || !c.Remote {
				t.Fatalf("node %d: no remote create seen: %+v", i, c)
			}
		}
	}

	revoked := time.Now()
	if _, err := stores[1].Revoke(k.ID); err != nil {
		t.Fatal(err)
	}
	for i, st := range stores {
		checkFor(t, time.Second, 5*time.Millisecond, func() bool {
			_, err := st.Check(secret, keys.KindSubscriber, time.Now())
			return errors.Is(err, keys.ErrRevoked)
		})
		c, at, ok := logs[i].find(k.ID, keys.OpRevoked)
		if !ok || !c.CutsAccess() || c.Remote != (i != 1) {
			t.Fatalf("node %d: revocation change %+v seen %v", i, c, ok)
		}
		t.Logf("node %d: revocation seen after %v", i, at.Sub(revoked))
	}

	// Every node's store ends with the same record.
	want, _ := stores[1].Record(k.ID)
	for i, st := range stores {
		got, err := st.Record(k.ID)
		if err != nil || got.Hash != want.Hash || got.Revoked.IsZero() || got.Label != "acme" {
			t.Fatalf("node %d record %+v %v", i, got, err)
		}
	}
}

// TestKeysInitialSync: a node that joins with keys of its own pushes them,
// and receives the keys already in the bucket.
func TestKeysInitialSync(t *testing.T) {
	ctx := context.Background()
	n0 := startEmbedded(t, fastConfig("n0"))
	st0 := openStore(t)
	s0, _, err := st0.Create(keys.Options{Kind: keys.KindIngest, Label: "provider"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n0.SyncKeys(ctx, st0); err != nil {
		t.Fatal(err)
	}
	st1 := openStore(t)
	s1, _, err := st1.Create(keys.Options{Kind: keys.KindSubscriber, Label: "late joiner"})
	if err != nil {
		t.Fatal(err)
	}
	n1 := join(t, n0, fastConfig("n1"))
	if err := n1.SyncKeys(ctx, st1); err != nil {
		t.Fatal(err)
	}
	// The bucket's keys are applied before SyncKeys returns.
	if _, err := st1.Check(s0, keys.KindIngest, time.Now()); err != nil {
		t.Fatalf("bucket key missing after SyncKeys: %v", err)
	}
	checkFor(t, time.Second, 5*time.Millisecond, func() bool {
		_, err := st0.Check(s1, keys.KindSubscriber, time.Now())
		return err == nil
	})
}

// TestKeysConcurrentChangesConverge: nodes changing one key at once end
// with the same record on every node.
func TestKeysConcurrentChangesConverge(t *testing.T) {
	ctx := context.Background()
	n0 := startEmbedded(t, fastConfig("n0"))
	n1 := join(t, n0, fastConfig("n1"))
	st0, st1 := openStore(t), openStore(t)
	for _, p := range []struct {
		c  *Cluster
		st *keys.Store
	}{{n0, st0}, {n1, st1}} {
		if err := p.c.SyncKeys(ctx, p.st); err != nil {
			t.Fatal(err)
		}
	}
	_, k, err := st0.Create(keys.Options{Kind: keys.KindSubscriber})
	if err != nil {
		t.Fatal(err)
	}
	checkFor(t, time.Second, 5*time.Millisecond, func() bool { _, err := st1.Get(k.ID); return err == nil })
	var wg sync.WaitGroup
	for i, st := range []*keys.Store{st0, st1} {
		wg.Go(func() {
			for j := range 20 {
				label := string(rune('a'+i)) + string(rune('a'+j))
				if _, err := st.Update(k.ID, keys.Patch{Label: &label}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	checkFor(t, 2*time.Second, 10*time.Millisecond, func() bool {
		a, _ := st0.Get(k.ID)
		b, _ := st1.Get(k.ID)
		return a.Label == b.Label
	})
	a, _ := st0.Get(k.ID)
	entry, err := n0.keysKV.Get(ctx, k.ID)
	if err != nil || !bytes.Contains(entry.Value(), []byte(`"label":"`+a.Label+`"`)) {
		t.Fatalf("stores agree on %q but the bucket holds %s (%v)", a.Label, entry.Value(), err)
	}
}

// TestMaxConnsAcrossNodes: connections on one node count against the key's
// MaxConns on another within the consistency window (ConnsInterval plus a
// KV round trip), and freed slots come back the same way; a crashed
// node's connections stop counting after NodeTTL.
func TestMaxConnsAcrossNodes(t *testing.T) {
	ctx := context.Background()
	n0 := startEmbedded(t, fastConfig("n0", RoleBroadcast))
	n1 := join(t, n0, fastConfig("n1", RoleBroadcast))
	n2 := join(t, n0, fastConfig("n2", RoleBroadcast))
	st0, st1, st2 := openStore(t), openStore(t), openStore(t)
	for i, n := range []*Cluster{n0, n1, n2} {
		if err := n.SyncKeys(ctx, []*keys.Store{st0, st1, st2}[i]); err != nil {
			t.Fatal(err)
		}
	}
	secret, k, err := st0.Create(keys.Options{Kind: keys.KindSubscriber, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("192.0.2.10")
	for _, st := range []*keys.Store{st1, st2} {
		checkFor(t, time.Second, 5*time.Millisecond, func() bool { _, err := st.Get(k.ID); return err == nil })
	}

	// One live connection on n0, one on n1: the key is full everywhere.
	for _, st := range []*keys.Store{st0, st1} {
		id, err := st.Authenticate(secret, ip)
		if err != nil {
			t.Fatal(err)
		}
		st.Connected(id.KeyID, ip)
	}
	start := time.Now()
	checkFor(t, 2*time.Second, time.Millisecond, func() bool { return n2.PeerConns(k.ID) == 2 && n0.PeerConns(k.ID) == 1 })
	t.Logf("cluster-wide MaxConns enforced %v after the connections", time.Since(start))
	for i, st := range []*keys.Store{st0, st2} {
		if _, err := st.Authenticate(secret, ip); !errors.Is(err, keys.ErrTooManyConns) {
			t.Fatalf("store %d admitted a third connection: %v", i, err)
		}
	}

	// n1's connection ends: a slot frees up on n2.
	st1.Disconnected(k.ID, ip, time.Second, 3)
	checkFor(t, 2*time.Second, 5*time.Millisecond, func() bool { return n2.PeerConns(k.ID) == 1 })
	if _, err := st2.Authenticate(secret, ip); err != nil {
		t.Fatalf("freed slot refused: %v", err)
	}
	st2.Connected(k.ID, ip) // now n0 and n2 hold the two slots
	checkFor(t, 2*time.Second, 5*time.Millisecond, func() bool { return n1.PeerConns(k.ID) == 2 })
	if _, err := st1.Authenticate(secret, ip); !errors.Is(err, keys.ErrTooManyConns) {
		t.Fatalf("n1 admitted a third connection: %v", err)
	}

	// n2 crashes: after NodeTTL its connection no longer counts.
	crash(n2)
	checkFor(t, 3*time.Second, 20*time.Millisecond, func() bool { return n1.PeerConns(k.ID) == 1 })
	if _, err := st1.Authenticate(secret, ip); err != nil {
		t.Fatalf("slot of the crashed node still counted: %v", err)
	}
}
