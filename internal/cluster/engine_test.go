package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/monitors"
)

// world is the stock of a fake retailer shared by every engine.
type world struct{ inStock sync.Map } // sku → bool

func (w *world) set(sku string, in bool) { w.inStock.Store(sku, in) }

// Check implements monitors.Monitor over the world.
func (w *world) Check(_ context.Context, t *monitors.Target, _ monitors.Fetcher) monitors.Observation {
	if v, _ := w.inStock.Load(t.SKU); v == true {
		return monitors.Observation{Outcome: monitors.InStock, StellarSite: "walmart",
			Offers: []monitors.Offer{{SKU: t.SKU, OfferID: "A1B2C3D4E5F6", Title: "Widget " + t.SKU}}}
	}
	return monitors.Observation{Outcome: monitors.OutOfStock, StellarSite: "walmart"}
}

type eventLog struct {
	mu  sync.Mutex
	evs []engine.Event
}

func (l *eventLog) Emit(ev engine.Event) {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
}

func (l *eventLog) restocks() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, ev := range l.evs {
		if ev.Kind == engine.Restock {
			out = append(out, ev.Ping.SKU)
		}
	}
	return out
}

func targets(n int) []engine.Target {
	out := make([]engine.Target, n)
	for i := range out {
		out[i] = engine.Target{Target: monitors.Target{Site: "fake", SKU: fmt.Sprintf("%09d", 100000000+i)}, Interval: 20 * time.Millisecond}
	}
	return out
}

// runEngine starts an engine until the test ends.
func runEngine(t *testing.T, opts engine.Options, w *world, out engine.Output) *engine.Engine {
	t.Helper()
	opts.Logger = testLogger(t)
	opts.ReloadInterval = 20 * time.Millisecond
	e, err := engine.New(opts, func(string) (monitors.Monitor, error) { return w, nil }, nil, out)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := e.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// TestClaimOnceUnderRace: many goroutines on two nodes claim one restock;
// exactly one wins, and a different offer is a different claim.
func TestClaimOnceUnderRace(t *testing.T) {
	n0 := startEmbedded(t, fastConfig("n0", RoleEngine))
	n1 := join(t, n0, fastConfig("n1", RoleEngine))
	ev := &engine.Event{Kind: engine.Restock, At: time.Now()}
	ev.Ping.Site, ev.Ping.SKU, ev.Ping.OfferID = "walmart", "123456789", "A1B2C3D4E5F6"
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			if []*Cluster{n0, n1}[i%2].Claim(ev) {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d claims won, want 1", won.Load())
	}
	other := *ev
	other.Ping.OfferID = "FFFFFFFFFFFF"
	if !n1.Claim(&other) {
		t.Fatal("another offer of the product could not be claimed")
	}
	if ClaimKey("a", "b", "c", "d") == ClaimKey("a", "bc", "", "d") {
		t.Fatal("claim keys of different restocks collide")
	}
}

// TestEnginesRacingEmitEachRestockOnce: two engine nodes polling the same
// targets both see every restock; thanks to the claims, each is emitted
// once in total.
func TestEnginesRacingEmitEachRestockOnce(t *testing.T) {
	n0 := startEmbedded(t, fastConfig("n0", RoleEngine))
	n1 := join(t, n0, fastConfig("n1", RoleEngine))
	w := &world{}
	all := targets(20)
	for _, tg := range all {
		w.set(tg.SKU, false)
	}
	var asked atomic.Int32
	logs := []*eventLog{{}, {}}
	var engines []*engine.Engine
	for i, n := range []*Cluster{n0, n1} {
		claim := func(ev *engine.Event) bool { asked.Add(1); return n.Claim(ev) }
		e := runEngine(t, engine.Options{Claim: claim}, w, logs[i])
		engines = append(engines, e)
		if err := e.ApplyTargets(all); err != nil {
			t.Fatal(err)
		}
		// Past the first checks (first-run suppression records them).
		checkFor(t, 5*time.Second, 10*time.Millisecond, func() bool {
			st := e.Status()
			return len(st) == len(all) && !slices.ContainsFunc(st, func(s engine.TargetStatus) bool { return s.Checks < 2 })
		})
	}
	for _, tg := range all {
		w.set(tg.SKU, true)
	}
	// Each engine asks once per restock.
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() bool { return asked.Load() == int32(2*len(all)) })
	// Both engines checked every target in stock once more after the
	// restock, and a loop emits before its next check: a repeat would be
	// in the logs by now.
	for _, e := range engines {
		checkFor(t, 5*time.Second, 10*time.Millisecond, func() bool {
			return !slices.ContainsFunc(e.Status(), func(s engine.TargetStatus) bool {
				return s.LastOutcome != monitors.InStock.String() || s.Streak < 2
			})
		})
	}
	if n := asked.Load(); n != int32(2*len(all)) {
		t.Errorf("engines asked %d claims, want %d (one per engine and restock)", n, 2*len(all))
	}
	got := append(logs[0].restocks(), logs[1].restocks()...)
	slices.Sort(got)
	if len(got) != len(all) || len(slices.Compact(slices.Clone(got))) != len(all) {
		t.Fatalf("restocks emitted: %v (%d), want each of %d once", got, len(got), len(all))
	}
	t.Logf("node 0 emitted %d, node 1 emitted %d", len(logs[0].restocks()), len(logs[1].restocks()))
}

// TestMembershipShardsAndTakesOver: live engine nodes split the targets
// disjointly; when one crashes the other owns everything within NodeTTL
// and its engine runs them; a node that closes hands over at once.
func TestMembershipShardsAndTakesOver(t *testing.T) {
	n0 := startEmbedded(t, fastConfig("n0", RoleEngine))
	n1 := join(t, n0, fastConfig("n1", RoleEngine))
	n2 := join(t, n0, fastConfig("n2", RoleEngine))
	nb := join(t, n0, fastConfig("nb", RoleBroadcast)) // not an engine: owns nothing
	all := targets(300)
	nodes := []*Cluster{n0, n1, n2}
	for _, n := range append(nodes, nb) {
		checkFor(t, 2*time.Second, 10*time.Millisecond, func() bool { return len(n.Members().Engines()) == 3 })
	}
	if got := nb.Members().FilterTargets(all); len(got) != 0 {
		t.Fatalf("broadcast-only node owns %d targets", len(got))
	}
	owned := map[engine.TargetID]string{}
	for _, n := range nodes {
		mine := n.Members().FilterTargets(all)
		if len(mine) < len(all)/6 {
			t.Errorf("node %s owns %d of %d targets: badly balanced", n.NodeID(), len(mine), len(all))
		}
		for _, tg := range mine {
			if prev, dup := owned[tg.ID()]; dup {
				t.Fatalf("target %s owned by %s and %s", tg.ID(), prev, n.NodeID())
			}
			owned[tg.ID()] = n.NodeID()
			if o := nb.Members().Owner(tg.ID()); o != n.NodeID() {
				t.Fatalf("nodes disagree on the owner of %s: %s vs %s", tg.ID(), o, n.NodeID())
			}
		}
	}
	if len(owned) != len(all) {
		t.Fatalf("%d of %d targets owned", len(owned), len(all))
	}

	// n0 runs an engine over its share and re-applies on membership changes.
	w := &world{}
	e0 := runEngine(t, engine.Options{Claim: n0.Claim}, w, &eventLog{})
	if err := e0.ApplyTargets(n0.Members().FilterTargets(all)); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-n0.Members().Changes():
				if err := e0.ApplyTargets(n0.Members().FilterTargets(all)); err != nil {
					t.Error(err)
				}
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()

	// n1 leaves cleanly: at once (well under NodeTTL).
	left := time.Now()
	n1.Close()
	checkFor(t, time.Second, 5*time.Millisecond, func() bool { return len(n0.Members().Engines()) == 2 })
	t.Logf("clean leave seen after %v", time.Since(left))

	// n2 crashes: after NodeTTL n0 owns and runs every target.
	crashed := time.Now()
	crash(n2)
	checkFor(t, 3*time.Second, 10*time.Millisecond, func() bool { return len(e0.Status()) == len(all) })
	t.Logf("crashed node's targets running on n0 after %v (NodeTTL %v)", time.Since(crashed), n0.cfg.NodeTTL)
}
