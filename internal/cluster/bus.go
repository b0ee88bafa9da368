package cluster

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/nats-io/nats.go"

	"github.com/stellarfeed/stellarfeed/internal/wire"
)

// Header names of a ping on the bus. The body is the ping's JSON as the
// accepting node encoded it; headers carry what the broadcaster filters
// on, so no node decodes the JSON again.
const (
	hdrSite   = "Sf-Site"
	hdrRegion = "Sf-Region"
	hdrNode   = "Sf-Node"
	hdrSent   = "Sf-Sent" // publisher's clock, Unix ns: bus latency
	// hdrFeed names the message's feed (absent: the default feed). Feeds
	// travel by name: routing numbers are local to each node's store.
	hdrFeed = "Sf-Feed"
	// hdrKind is "webhook" for a webhook feed's event; its channel is in
	// hdrSite and may be empty.
	hdrKind = "Sf-Kind"
)

// Feeds maps feed names to this node's routing numbers and back
// (*keys.Store).
type Feeds interface {
	FeedName(num uint32) (string, bool)
	FeedNum(name string) (uint32, bool)
}

// SetFeeds makes the bus carry each message's feed by name. Without it
// every message is taken as the default feed's (a node without feeds).
func (c *Cluster) SetFeeds(f Feeds) { c.feeds.Store(&f) }

func (c *Cluster) pingSubject() string { return c.cfg.Prefix + ".pings" }

// Hub is what a broadcaster node feeds: *broadcast.Server.
type Hub interface {
	Publish(m *wire.Message)
}

// BusPublisher publishes pings to every broadcaster node, this one
// included. It implements the Publish(*wire.Message) interface of the
// ingest API (api.Publisher) and of engine.HubOutput, so in cluster mode it
// replaces the local hub there.
//
// Delivery is core NATS, at most once: Publish only queues the bytes in
// the client's buffer (also while reconnecting, up to 8 MiB) and never
// blocks. A broadcaster that is down or reconnecting misses the pings of
// that moment; so do its clients, who are disconnected anyway. See doc.go
// for why not JetStream.
type BusPublisher struct{ c *Cluster }

// Publisher returns the node's bus publisher.
func (c *Cluster) Publisher() *BusPublisher { return &BusPublisher{c} }

// Publish sends m's payload (not its frame) with site and region in
// headers, after handing m to this node's own hub (if it subscribed one),
// which skips the bus copy. Errors (NATS down, payload over the server's
// limit) are counted and logged, once per outage: Publish has no error
// result in the interface.
func (p *BusPublisher) Publish(m *wire.Message) {
	c := p.c
	if hub := c.local.Load(); hub != nil {
		(*hub).Publish(m)
	}
	msg := &nats.Msg{
		Subject: c.pingSubject(),
		Data:    m.Payload,
		Header: nats.Header{
			hdrSite:   []string{m.Site},
			hdrRegion: []string{m.Region},
			hdrNode:   []string{c.cfg.NodeID},
			hdrSent:   []string{strconv.FormatInt(time.Now().UnixNano(), 10)},
		},
	}
	if m.Feed != 0 {
		f := c.feeds.Load()
		name, ok := "", false
		if f != nil {
			name, ok = (*f).FeedName(m.Feed)
		}
		if !ok {
			// Never let it fall back to the default feed's subscribers.
			c.bus.publishErrors.Inc()
			c.log.Warn("bus: message of an unknown feed not published", "feed", m.Feed)
			return
		}
		msg.Header[hdrFeed] = []string{name}
	}
	if m.Webhook {
		msg.Header[hdrKind] = []string{"webhook"}
	}
	if err := c.nc.PublishMsg(msg); err != nil {
		c.bus.publishErrors.Inc()
		if !errors.Is(err, nats.ErrReconnectBufExceeded) || !c.outage.Swap(true) {
			c.log.Warn("bus: ping not published to the other nodes", "site", m.Site, "err", err)
		}
		return
	}
	c.bus.published.Inc()
}

// Subscribe feeds every ping on the bus to hub, framed once per ping
// (wire.FromPayload: header in front of the bytes as received,
// no re-encoding). Each node subscribes once, not in a queue group, so
// every broadcaster gets every ping exactly once while connected. The
// subscription lasts until Close.
func (c *Cluster) Subscribe(hub Hub) error {
	c.local.Store(&hub)
	sub, err := c.nc.Subscribe(c.pingSubject(), func(m *nats.Msg) { c.deliver(hub, m) })
	if err != nil {
		return fmt.Errorf("cluster: subscribe to %s: %w", c.pingSubject(), err)
	}
	// hub.Publish only queues, so the NATS client buffer rarely holds much;
	// this bounds it against a stalled hub rather than limiting bursts.
	if err := sub.SetPendingLimits(1<<16, 256<<20); err != nil {
		return fmt.Errorf("cluster: subscription limits: %w", err)
	}
	// Make sure the server knows the subscription before the caller
	// considers this node ready.
	if err := c.nc.FlushTimeout(5 * time.Second); err != nil {
		return fmt.Errorf("cluster: subscribe to %s: %w", c.pingSubject(), err)
	}
	return nil
}

func (c *Cluster) deliver(hub Hub, m *nats.Msg) {
	site := m.Header.Get(hdrSite)
	webhook := m.Header.Get(hdrKind) == "webhook"
	if site == "" && !webhook || len(m.Data) == 0 || m.Data[0] != '{' {
		c.bus.dropped.Inc()
		c.log.Warn("bus: malformed ping dropped", "from", m.Header.Get(hdrNode), "bytes", len(m.Data))
		return
	}
	if c.local.Load() != nil && m.Header.Get(hdrNode) == c.cfg.NodeID {
		return // delivered by Publish already
	}
	var feed uint32
	if name := m.Header.Get(hdrFeed); name != "" {
		f := c.feeds.Load()
		ok := false
		if f != nil {
			feed, ok = (*f).FeedNum(name)
		}
		if !ok {
			// The feed is not on this node (not created here yet): its
			// events reach no one here rather than the wrong people.
			c.bus.dropped.Inc()
			c.log.Warn("bus: message of a feed unknown here dropped", "feed", name, "from", m.Header.Get(hdrNode))
			return
		}
	}
	msg := wire.FromPayload(site, m.Header.Get(hdrRegion), m.Data)
	msg.Feed, msg.Webhook = feed, webhook
	hub.Publish(msg)
	c.bus.received.Inc()
	if sent, err := strconv.ParseInt(m.Header.Get(hdrSent), 10, 64); err == nil {
		c.bus.observe(time.Duration(time.Now().UnixNano() - sent))
	}
}

// BusStats counts the bus traffic of one node, for the bench report.
// Latency runs from BusPublisher.Publish on the sending node to the local
// hub's Publish here; across machines it includes their clock offset.
type BusStats struct {
	Published     uint64
	PublishErrors uint64
	Received      uint64
	Dropped       uint64 // malformed messages
	SlowConsumer  uint64 // NATS slow-consumer events (pings lost here)
	LatencyCount  uint64
	LatencyMean   time.Duration
	LatencyMax    time.Duration
}

// BusStats returns the counters so far.
func (c *Cluster) BusStats() BusStats {
	b := c.bus
	s := BusStats{
		Published:     b.published.Get(),
		PublishErrors: b.publishErrors.Get(),
		Received:      b.received.Get(),
		Dropped:       b.dropped.Get(),
		SlowConsumer:  b.slow.Get(),
		LatencyCount:  b.latN.Load(),
		LatencyMax:    time.Duration(b.latMax.Load()),
	}
	if s.LatencyCount > 0 {
		s.LatencyMean = time.Duration(b.latSum.Load() / s.LatencyCount)
	}
	return s
}

type busMetrics struct {
	published, publishErrors, received, dropped, slow *metrics.Counter
	latency                                           *metrics.Histogram
	latN, latSum, latMax                              atomic.Uint64
}

func newBusMetrics(set *metrics.Set) *busMetrics {
	return &busMetrics{
		published:     set.GetOrCreateCounter("stellarfeed_bus_published_total"),
		publishErrors: set.GetOrCreateCounter("stellarfeed_bus_publish_errors_total"),
		received:      set.GetOrCreateCounter("stellarfeed_bus_received_total"),
		dropped:       set.GetOrCreateCounter("stellarfeed_bus_dropped_total"),
		slow:          set.GetOrCreateCounter("stellarfeed_bus_slow_consumer_total"),
		latency:       set.GetOrCreateHistogram("stellarfeed_bus_latency_seconds"),
	}
}

func (b *busMetrics) observe(d time.Duration) {
	if d < 0 {
		d = 0 // clocks of two machines
	}
	b.latency.Update(d.Seconds())
	b.latN.Add(1)
	b.latSum.Add(uint64(d))
	for {
		cur := b.latMax.Load()
		if uint64(d) <= cur || b.latMax.CompareAndSwap(cur, uint64(d)) {
			return
		}
	}
}
