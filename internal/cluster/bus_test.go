package cluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/stellarfeed/stellarfeed/internal/wire"
	"github.com/stellarfeed/stellarfeed/stellar"
)

func testPing(t testing.TB, i int) *wire.Message {
	t.Helper()
	p := &stellar.Ping{Site: stellar.SiteAmazon, Region: "USA", SKU: fmt.Sprintf("B0CHX%05d", i), OfferID: "p7h8Hu2+Bb5u"}
	if i%2 == 1 {
		p = &stellar.Ping{Site: "walmart", SKU: strconv.Itoa(100000 + i), OfferID: "A1B2C3D4E5F6"}
	}
	m, err := wire.New(stellar.Rules{}, p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBusDeliversOnceToEveryHub: pings published on two nodes reach the
// hubs of all three nodes exactly once each, framed like a local ping.
func TestBusDeliversOnceToEveryHub(t *testing.T) {
	n0 := startEmbedded(t, fastConfig("n0"))
	n1 := join(t, n0, fastConfig("n1"))
	n2 := join(t, n0, fastConfig("n2", RoleBroadcast))
	nodes := []*Cluster{n0, n1, n2}
	hubs := make([]*recordingHub, len(nodes))
	for i, n := range nodes {
		hubs[i] = &recordingHub{}
		if err := n.Subscribe(hubs[i]); err != nil {
			t.Fatal(err)
		}
	}

	const perNode = 200
	want := map[string]*wire.Message{}
	for i := range 2 * perNode {
		m := testPing(t, i)
		want[string(m.Payload)] = m
		nodes[i%2].Publisher().Publish(m)
	}
	for _, h := range hubs {
		checkFor(t, 5*time.Second, 10*time.Millisecond, func() bool { return h.len() >= 2*perNode })
	}
	// Every hub has every ping, so the NATS server has passed them all on.
	// A marker from each publishing node now reaches every other node
	// behind them on the same subscription: a duplicate of any ping would
	// have come first.
	const total = 2*perNode + 2
	for i := range 2 {
		m := testPing(t, 2*perNode+i)
		want[string(m.Payload)] = m
		nodes[i].Publisher().Publish(m)
	}
	for i, h := range hubs {
		checkFor(t, 5*time.Second, 10*time.Millisecond, func() bool { return h.len() >= total })
		got := h.all()
		if len(got) != total {
			t.Fatalf("hub %d got %d pings, want %d", i, len(got), total)
		}
		seen := map[string]bool{}
		for _, m := range got {
			orig := want[string(m.Payload)]
			if orig == nil || seen[string(m.Payload)] {
				t.Fatalf("hub %d: unexpected or repeated ping %s", i, m.Payload)
			}
			seen[string(m.Payload)] = true
			if m.Site != orig.Site || m.Region != orig.Region || !bytes.Equal(m.Frame, orig.Frame) {
				t.Fatalf("hub %d: ping %s arrived as site %q region %q frame %q, want %q %q %q", i, m.Payload, m.Site, m.Region, m.Frame, orig.Site, orig.Region, orig.Frame)
			}
			h, err := ws.ReadHeader(bytes.NewReader(m.Frame))
			if err != nil || h.OpCode != ws.OpText || !h.Fin || h.Masked || int(h.Length) != len(m.Payload) {
				t.Fatalf("hub %d: bad frame header %+v: %v", i, h, err)
			}
		}
	}
	for i, n := range nodes {
		s := n.BusStats()
		// n0 and n1 delivered their own pings directly: the bus brought
		// them only the other's.
		want := uint64(total)
		if i < 2 {
			want = perNode + 1
		}
		if s.Received != want || s.LatencyCount != want || s.LatencyMax <= 0 || s.LatencyMean > s.LatencyMax {
			t.Errorf("node %d stats %+v", i, s)
		}
		t.Logf("node %d bus latency mean %v max %v", i, s.LatencyMean, s.LatencyMax)
	}
	if s := n0.BusStats(); s.Published != perNode+1 {
		t.Errorf("n0 published %d, want %d", s.Published, perNode+1)
	}
}

// TestBusDropsMalformed: a message without a site or a JSON object body
// (another publisher on the subject) never reaches the hub.
func TestBusDropsMalformed(t *testing.T) {
	n0 := startEmbedded(t, fastConfig("n0"))
	hub := &recordingHub{}
	if err := n0.Subscribe(hub); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"", "not json", `{"site":"amazon"}`} {
		if err := n0.nc.Publish(n0.pingSubject(), []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	n0.Publisher().Publish(testPing(t, 0))
	checkFor(t, 2*time.Second, 10*time.Millisecond, func() bool { return n0.BusStats().Dropped == 3 && hub.len() == 1 })
}

func TestEmbeddedSecondProcessJoins(t *testing.T) {
	// A free port the test knows, as a fixed EmbeddedListen would be.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	start := func(id string) *Cluster {
		cfg := fastConfig(id)
		cfg.NATS, cfg.EmbeddedListen, cfg.DataDir = Embedded, addr, t.TempDir()
		c, err := Start(context.Background(), cfg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	a := start("a")
	b := start("b")
	if a.srv == nil || b.srv != nil {
		t.Fatalf("want a to run the server and b to join it: a %v b %v", a.srv != nil, b.srv != nil)
	}
	hub := &recordingHub{}
	if err := a.Subscribe(hub); err != nil {
		t.Fatal(err)
	}
	b.Publisher().Publish(testPing(t, 1))
	checkFor(t, 2*time.Second, 10*time.Millisecond, func() bool { return hub.len() == 1 })
}

func BenchmarkBusPublishToHub(b *testing.B) {
	n0 := startEmbedded(b, fastConfig("n0"))
	hub := &countingHub{}
	if err := n0.Subscribe(hub); err != nil {
		b.Fatal(err)
	}
	m := testPing(b, 0)
	pub := n0.Publisher()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		pub.Publish(m)
	}
	checkFor(b, 30*time.Second, time.Millisecond, func() bool { return hub.n.Load() >= int64(b.N) })
	b.StopTimer()
	s := n0.BusStats()
	b.ReportMetric(float64(s.LatencyMean.Nanoseconds())/1e3, "us-mean-latency")
}

// countingHub counts without keeping messages, for benchmarks.
type countingHub struct{ n atomic.Int64 }

func (h *countingHub) Publish(*wire.Message) { h.n.Add(1) }

// chanHub signals each delivery.
type chanHub chan *wire.Message

func (h chanHub) Publish(m *wire.Message) { h <- m }

// BenchmarkBusOnePing: publish one ping and wait until the local hub has
// it: the bus latency of an isolated ping, without queueing behind others.
func BenchmarkBusOnePing(b *testing.B) {
	n0 := startEmbedded(b, fastConfig("n0"))
	n1 := join(b, n0, fastConfig("n1"))
	hub := make(chanHub, 1)
	if err := n1.Subscribe(hub); err != nil {
		b.Fatal(err)
	}
	m := testPing(b, 0)
	pub := n0.Publisher()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		pub.Publish(m)
		<-hub
	}
	b.StopTimer()
	s := n1.BusStats()
	b.ReportMetric(float64(s.LatencyMean.Nanoseconds())/1e3, "us-mean-latency")
	b.ReportMetric(float64(s.LatencyMax.Nanoseconds())/1e3, "us-max-latency")
}

// mapFeeds is a node's feed table: names to its own routing numbers.
type mapFeeds map[string]uint32

func (m mapFeeds) FeedNum(name string) (uint32, bool) { n, ok := m[name]; return n, ok }
func (m mapFeeds) FeedName(num uint32) (string, bool) {
	for name, n := range m {
		if n == num {
			return name, true
		}
	}
	return "", false
}

// TestBusCarriesFeeds: feeds cross the bus by name and arrive under the
// receiving node's own routing number; a feed the receiver does not have
// is dropped there, never delivered as the default feed's.
func TestBusCarriesFeeds(t *testing.T) {
	n0 := startEmbedded(t, fastConfig("n0"))
	n1 := join(t, n0, fastConfig("n1", RoleBroadcast))
	n0.SetFeeds(mapFeeds{"default": 0, "eu": 1, "relay": 2, "private": 3})
	n1.SetFeeds(mapFeeds{"default": 0, "relay": 5, "eu": 7})
	h1 := &recordingHub{}
	if err := n1.Subscribe(h1); err != nil {
		t.Fatal(err)
	}
	eu := testPing(t, 0)
	eu.Feed = 1
	private := testPing(t, 2)
	private.Feed = 3
	wh := wire.FromPayload("", "", []byte(`{"type":"webhook","id":"1","payload":[1],"receivedAt":"2026-12-04T14:00:00.000Z"}`))
	wh.Feed, wh.Webhook = 2, true
	marker := testPing(t, 4) // default feed, published last
	for _, m := range []*wire.Message{eu, private, wh, marker} {
		n0.Publisher().Publish(m)
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() bool { return h1.len() >= 3 })
	got := h1.all()
	if len(got) != 3 {
		t.Fatalf("n1 got %d messages, want 3 (the private feed's dropped)", len(got))
	}
	if got[0].Feed != 7 || got[0].Webhook || !bytes.Equal(got[0].Payload, eu.Payload) {
		t.Errorf("eu ping arrived as feed %d: %s", got[0].Feed, got[0].Payload)
	}
	if got[1].Feed != 5 || !got[1].Webhook || got[1].Site != "" || !bytes.Equal(got[1].Payload, wh.Payload) {
		t.Errorf("webhook event arrived as feed %d webhook %v: %s", got[1].Feed, got[1].Webhook, got[1].Payload)
	}
	if got[2].Feed != 0 || !bytes.Equal(got[2].Payload, marker.Payload) {
		t.Errorf("default ping arrived as feed %d", got[2].Feed)
	}
	if s := n1.BusStats(); s.Dropped != 1 {
		t.Errorf("n1 dropped %d, want 1", s.Dropped)
	}
}
