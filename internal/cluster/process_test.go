package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/sim"
	"github.com/stellarfeed/stellarfeed/internal/testutil"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// wsClient is a Stellar bot: it reads text frames until the connection
// ends.
type wsClient struct {
	node string
	conn net.Conn
	done chan struct{}

	mu  sync.Mutex
	got []string
	err error
}

func dialClient(node, addr, secret string) (*wsClient, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, "ws://"+addr+"/?key="+secret)
	if err != nil {
		return nil, err
	}
	var r io.Reader = conn
	if br != nil {
		r = io.MultiReader(br, conn)
	}
	rw := struct {
		io.Reader
		io.Writer
	}{r, conn}
	c := &wsClient{node: node, conn: conn, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			data, op, err := wsutil.ReadServerData(rw)
			if err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				return
			}
			if op == ws.OpText {
				c.mu.Lock()
				c.got = append(c.got, string(data))
				c.mu.Unlock()
			}
		}
	}()
	return c, nil
}

// dialRetry dials until the node admits the key (it may not have
// replicated yet, or a slot may still be counted on a dead node).
func dialRetry(t *testing.T, node, addr, secret string, within time.Duration) *wsClient {
	t.Helper()
	var c *wsClient
	var err error
	checkFor(t, within, 20*time.Millisecond, func() bool {
		c, err = dialClient(node, addr, secret)
		return err == nil
	})
	t.Cleanup(func() { c.conn.Close(); <-c.done })
	return c
}

func (c *wsClient) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

func (c *wsClient) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// publishPings publishes n distinct pings through the bus and returns
// their payloads.
func publishPings(t *testing.T, pub *BusPublisher, from, n int) []string {
	t.Helper()
	var out []string
	for i := from; i < from+n; i++ {
		m := testPing(t, i)
		pub.Publish(m)
		out = append(out, string(m.Payload))
	}
	return out
}

// expectExactly waits until c received want (after what it had), in
// order, with nothing repeated.
func expectExactly(t *testing.T, c *wsClient, before int, want []string) {
	t.Helper()
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() bool { return len(c.received()) >= before+len(want) })
	got := c.received()[before:]
	if !slices.Equal(got, want) {
		t.Fatalf("client on %s got %d pings %v, want %d", c.node, len(got), got, len(want))
	}
}

// warmUp publishes probe pings until every client received one: a
// client whose upgrade just completed may not be in its node's fan-out
// set yet. It returns each client's count afterwards.
func warmUp(t *testing.T, pub *BusPublisher, cs []*wsClient) []int {
	t.Helper()
	start := make([]int, len(cs))
	for i, c := range cs {
		start[i] = len(c.received())
	}
	probe := 10000
	checkFor(t, 5*time.Second, 50*time.Millisecond, func() bool {
		publishPings(t, pub, probe, 1)
		probe++
		for i, c := range cs {
			if len(c.received()) == start[i] {
				return false
			}
		}
		return true
	})
	// A probe still in flight would be read as part of the next batch: one
	// more probe, now that every client is in its fan-out set, arrives
	// after all of them (one publisher, delivered in order).
	last := publishPings(t, pub, probe, 1)[0]
	out := make([]int, len(cs))
	for i, c := range cs {
		checkFor(t, 5*time.Second, 10*time.Millisecond, func() bool {
			got := c.received()
			out[i] = len(got)
			return len(got) > 0 && got[len(got)-1] == last
		})
	}
	return out
}

func requireProcesses(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts node processes; skipped with -short")
	}
}

// TestProcessesBroadcast: 3 broadcaster processes and this test process as
// the ingest node. Every ping reaches the clients of every node exactly
// once; killing one broadcaster loses nothing for the others, its clients
// reconnect to the rest (once its slots stop counting against MaxConns);
// a revocation here closes the key's connections on every node.
func TestProcessesBroadcast(t *testing.T) {
	requireProcesses(t)
	ctl := startEmbedded(t, fastConfig("ctl", RoleIngest))
	st := openStore(t)
	if err := ctl.SyncKeys(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	nodes := make([]*child, 3)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { nodes[i] = startChild(t, ctl.URL(), fmt.Sprintf("b%d", i), "broadcast") })
	}
	wg.Wait()

	const perNode = 4
	secret, k, err := st.Create(keys.Options{Kind: keys.KindSubscriber, Label: "bot", MaxConns: 3 * perNode})
	if err != nil {
		t.Fatal(err)
	}
	var clients []*wsClient
	for _, n := range nodes {
		for range perNode {
			clients = append(clients, dialRetry(t, n.id, n.ws, secret, 5*time.Second))
		}
	}
	// A 13th connection is over MaxConns wherever it lands (after the
	// counts propagated: ConnsInterval 50 ms in the children).
	checkFor(t, 2*time.Second, 20*time.Millisecond, func() bool {
		c, err := dialClient("b0", nodes[0].ws, secret)
		if err == nil {
			c.conn.Close()
			<-c.done
			return false
		}
		var se ws.StatusError
		return errors.As(err, &se) && int(se) == http.StatusTooManyRequests
	})

	pub := ctl.Publisher()
	start := warmUp(t, pub, clients)
	want := publishPings(t, pub, 0, 30)
	for i, c := range clients {
		expectExactly(t, c, start[i], want)
	}

	// b2 crashes. The others' clients miss nothing.
	nodes[2].kill()
	want2 := publishPings(t, pub, 30, 30)
	for i, c := range clients[:2*perNode] {
		expectExactly(t, c, start[i]+len(want), want2)
	}
	for _, c := range clients[2*perNode:] {
		checkFor(t, 2*time.Second, 10*time.Millisecond, c.closed)
	}
	// Its clients come back on b0 and b1 once b2's connections stop
	// counting (NodeTTL 1 s).
	reconnected := time.Now()
	var moved []*wsClient
	for i := range perNode {
		n := nodes[i%2]
		moved = append(moved, dialRetry(t, n.id, n.ws, secret, 5*time.Second))
	}
	t.Logf("clients of the killed node reconnected after %v", time.Since(reconnected))
	live := append(slices.Clone(clients[:2*perNode]), moved...)
	before := warmUp(t, pub, live)
	want3 := publishPings(t, pub, 60, 10)
	for i, c := range live {
		expectExactly(t, c, before[i], want3)
	}

	// Revocation here closes every connection of the key on every node.
	revoked := time.Now()
	if _, err := st.Revoke(k.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range live {
		checkFor(t, time.Second, 5*time.Millisecond, c.closed)
		c.mu.Lock()
		var ce wsutil.ClosedError
		if !errors.As(c.err, &ce) || ce.Code != ws.StatusPolicyViolation {
			t.Errorf("client on %s ended with %v, want close 1008", c.node, c.err)
		}
		c.mu.Unlock()
	}
	t.Logf("revocation closed %d connections on 2 nodes within %v", len(live), time.Since(revoked))
}

// startSim serves processCatalog on loopback.
func startSim(t *testing.T) (*sim.Server, string) {
	t.Helper()
	srv := sim.New(sim.Config{Catalog: processCatalog(), Seed: 7, Logger: testLogger(t)})
	return srv, testutil.Serve(t, srv)
}

// pingSKUs decodes the SKUs of the pings a hub got.
func pingSKUs(t *testing.T, h *recordingHub) []string {
	t.Helper()
	var out []string
	for _, m := range h.all() {
		var p stellar.Ping
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p.SKU)
	}
	return out
}

// TestProcessesEnginesRacing: two engine processes poll the same targets
// (no sharding); each restock reaches the bus once.
func TestProcessesEnginesRacing(t *testing.T) {
	requireProcesses(t)
	srv, simURL := startSim(t)
	ctl := startEmbedded(t, fastConfig("ctl", RoleIngest))
	hub := &recordingHub{}
	if err := ctl.Subscribe(hub); err != nil {
		t.Fatal(err)
	}
	all := processTargets(simURL)
	var es []*child
	for _, id := range []string{"e1", "e2"} {
		es = append(es, startChild(t, ctl.URL(), id, "engine", "CHILD_SIM="+simURL, "CHILD_SHARD=0"))
	}
	for _, e := range es {
		e.await(t, 10*time.Second, fmt.Sprintf("WARM %d", len(all)))
	}
	var want []string
	for _, p := range processCatalog().Products[:4] {
		if err := srv.SetStock(p.Site, p.Region, p.SKU, true); err != nil {
			t.Fatal(err)
		}
		want = append(want, p.SKU)
	}
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() bool { return hub.len() >= len(want) })
	// Every engine has seen the restocks (and checked them once more), so
	// any repeat was published; then a marker restock goes the same way.
	for _, e := range es {
		e.await(t, 10*time.Second, fmt.Sprintf("INSTOCK %d", len(want)))
	}
	marker := processCatalog().Products[len(want)]
	if err := srv.SetStock(marker.Site, marker.Region, marker.SKU, true); err != nil {
		t.Fatal(err)
	}
	want = append(want, marker.SKU)
	for _, e := range es {
		e.await(t, 10*time.Second, fmt.Sprintf("INSTOCK %d", len(want)))
	}
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() bool { return slices.Contains(pingSKUs(t, hub), marker.SKU) })
	got := pingSKUs(t, hub)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("pings for %v, want each of %v once", got, want)
	}
}

// TestProcessesEngineTakeover: two engine processes share the targets;
// after one is killed, the other runs them all and a restock of a target
// the dead one owned is pinged (once).
func TestProcessesEngineTakeover(t *testing.T) {
	requireProcesses(t)
	srv, simURL := startSim(t)
	ctl := startEmbedded(t, fastConfig("ctl", RoleIngest))
	hub := &recordingHub{}
	if err := ctl.Subscribe(hub); err != nil {
		t.Fatal(err)
	}
	all := processTargets(simURL)
	// Target IDs include the simulator's random port: pick a second node
	// name that gets a share.
	var id2 string
	var share1, share2 []string
	for i := 2; i < 40 && (len(share1) == 0 || len(share2) == 0); i++ {
		id2, share1, share2 = fmt.Sprintf("e%d", i), nil, nil
		for _, tg := range all {
			if owner([]string{"e1", id2}, tg.ID()) == "e1" {
				share1 = append(share1, tg.SKU)
			} else {
				share2 = append(share2, tg.SKU)
			}
		}
	}
	if len(share1) == 0 || len(share2) == 0 {
		t.Fatalf("no node pair splits the targets: %v %v", share1, share2)
	}
	e1 := startChild(t, ctl.URL(), "e1", "engine", "CHILD_SIM="+simURL)
	e2 := startChild(t, ctl.URL(), id2, "engine", "CHILD_SIM="+simURL)
	// e1 ran all targets alone before e2 joined: wait for its new share.
	for _, w := range []struct {
		c *child
		n int
	}{{e1, len(share1)}, {e2, len(share2)}} {
		w.c.await(t, 10*time.Second, fmt.Sprintf("TARGETS %d", w.n))
		checkFor(t, 10*time.Second, 10*time.Millisecond, func() bool {
			l, _ := w.c.find("WARM ")
			return l == fmt.Sprintf("WARM %d", w.n)
		})
	}

	killed := time.Now()
	mark := e1.mark()
	e2.kill()
	// e1 takes over e2's targets and checks them past first-run suppression.
	e1.awaitAfter(t, mark, 10*time.Second, fmt.Sprintf("TARGETS %d", len(all)))
	e1.awaitAfter(t, mark, 10*time.Second, fmt.Sprintf("WARM %d", len(all)))
	t.Logf("e2's %d targets running and checked on e1 after %v", len(share2), time.Since(killed))
	p := share2[0]
	if err := srv.SetStock(sim.SiteWalmart, "USA", p, true); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() bool { return hub.len() >= 1 })
	// e1 has checked p in stock again, so a repeat would be published;
	// then a marker restock goes the same way.
	e1.awaitAfter(t, mark, 10*time.Second, "INSTOCK 1")
	marker := share1[0]
	if err := srv.SetStock(sim.SiteWalmart, "USA", marker, true); err != nil {
		t.Fatal(err)
	}
	e1.awaitAfter(t, mark, 10*time.Second, "INSTOCK 2")
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() bool { return hub.len() >= 2 })
	if got := pingSKUs(t, hub); !slices.Equal(got, []string{p, marker}) {
		t.Fatalf("pings %v, want one for %s, then the marker %s", got, p, marker)
	}
}
