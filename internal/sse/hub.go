package sse

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/wire"
)

// Why a stream ended, as returned by Subscription.Stream (a write error is
// returned wrapped instead).
var (
	// ErrClosed: the Hub was closed (shutdown); Subscribe also returns it.
	ErrClosed = errors.New("sse: hub closed")
	// ErrSlowConsumer: the subscriber's queue was full when a ping came.
	ErrSlowConsumer = errors.New("sse: slow consumer: queue full")
	// ErrKeyDisconnected: DisconnectKey ended the key's streams (revoked,
	// rotated, disabled).
	ErrKeyDisconnected = errors.New("sse: key disconnected")
	// ErrKicked: Kick ended the stream (an operator's decision).
	ErrKicked = errors.New("sse: kicked by the provider")
	// ErrKeyExpired: the key's expiry passed while streaming.
	ErrKeyExpired = errors.New("sse: key expired")
	// errUnsubscribed: the subscription's own Close.
	errUnsubscribed = errors.New("sse: unsubscribed")
)

// Config tunes a Hub; the zero value is usable.
type Config struct {
	// RingSize is how many recent events are kept for Last-Event-ID
	// resume (default 1024).
	RingSize int
	// Buffer is each subscriber's queue, in events (default 1024, the
	// largest batch a provider may post at once with the API's default
	// MaxPings, so a healthy client survives a full batch).
	Buffer int
	// Heartbeat is how often a stream sends a comment when idle, so
	// proxies keep it open and a vanished client is noticed (default 15 s).
	Heartbeat time.Duration
	// Retry, when positive, is sent first as the "retry:" field: how long
	// EventSource waits before reconnecting.
	Retry time.Duration
	// FirstID is the id of the first event; 0 means the clock in Unix
	// microseconds, so ids keep increasing across restarts.
	FirstID uint64
	Logger  *slog.Logger
}

func (c *Config) setDefaults() {
	if c.RingSize <= 0 {
		c.RingSize = 1024
	}
	if c.Buffer <= 0 {
		c.Buffer = 1024
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.FirstID == 0 {
		c.FirstID = uint64(time.Now().UnixMicro())
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Stats are the Hub's counters since New.
type Stats struct {
	Subscribers int    // subscribed now
	Subscribed  uint64 // subscriptions ever
	Published   uint64 // events built (one per ping)
	Delivered   uint64 // events flushed to clients, replays included
	Replayed    uint64 // events sent from the ring on resume
	Missed      uint64 // resumes whose Last-Event-ID was older than the ring
	Dropped     uint64 // subscribers dropped as slow consumers
	Heartbeats  uint64 // heartbeat comments sent
	LastID      uint64 // id of the newest event (FirstID-1 before any)
	Kept        int    // events in the ring
}

// Hub fans pings out to SSE subscribers. Create it with New; all methods
// are safe for concurrent use.
type Hub struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	rings  map[uint32]*ring // by feed: a busy feed never evicts a quiet one's history
	lastID uint64
	subs   map[*Subscription]struct{}
	closed bool
	nextID uint64 // id of the last subscription

	subscribed, published, delivered, replayed, missed, dropped, heartbeats atomic.Uint64
}

// New returns a Hub with no subscribers.
func New(cfg Config) *Hub {
	cfg.setDefaults()
	return &Hub{
		cfg:    cfg,
		log:    cfg.Logger,
		rings:  map[uint32]*ring{},
		lastID: cfg.FirstID - 1,
		subs:   make(map[*Subscription]struct{}),
	}
}

// Publish turns m into an event (once), keeps it in the ring and queues it
// to every subscriber whose filter it passes. It never blocks on a
// subscriber: one whose queue is full is dropped. After Close it does
// nothing.
func (h *Hub) Publish(m *wire.Message) {
	var slow []string
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.lastID++
	ev := newEvent(h.lastID, m)
	r := h.rings[ev.Feed]
	if r == nil {
		r = &ring{evs: make([]*Event, 0, h.cfg.RingSize)}
		h.rings[ev.Feed] = r
	}
	r.add(ev)
	for s := range h.subs {
		if !s.match(ev) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			h.endLocked(s, ErrSlowConsumer)
			slow = append(slow, s.keyID)
		}
	}
	h.mu.Unlock()
	h.published.Add(1)
	if len(slow) > 0 {
		h.dropped.Add(uint64(len(slow)))
		// Once per dropped subscriber: it is gone after this.
		for _, id := range slow {
			h.log.Info("SSE subscriber dropped: queue full", "key", id, "queue", h.cfg.Buffer)
		}
	}
}

// endLocked removes s and closes its queue with reason err; h.mu is held.
func (h *Hub) endLocked(s *Subscription, err error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.err = err // read by Stream after the close, which orders it
	close(s.ch)
}

// SubscribeOptions describe a new subscriber.
type SubscribeOptions struct {
	// KeyID is the subscriber key's ID, for DisconnectKey and logs.
	KeyID  string
	Filter Filter
	// Remote is the client's address, shown by Conns.
	Remote netip.Addr
	// Feed is the key's feed (keys.Identity.Feed): only its events are
	// sent or replayed, whatever Last-Event-ID says.
	Feed uint32
	// Expires, when set, ends the stream with ErrKeyExpired at that time,
	// as the WebSocket endpoints close at a key's expiry.
	Expires time.Time
	// Resume replays the kept events after LastEventID (that match the
	// filter) before the live ones.
	Resume      bool
	LastEventID uint64
}

// Subscribe registers a subscriber. Replay and registration happen under
// one lock, so no event falls between the replayed ones and the live
// ones, and none comes twice.
func (h *Hub) Subscribe(o SubscribeOptions) (*Subscription, error) {
	s := &Subscription{hub: h, keyID: o.KeyID, filter: o.Filter, remote: o.Remote, since: time.Now(), feed: o.Feed, expires: o.Expires, ch: make(chan *Event, h.cfg.Buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	h.nextID++
	s.id = h.nextID
	if o.Resume {
		h.replayLocked(s, o.LastEventID)
	}
	h.subs[s] = struct{}{}
	h.subscribed.Add(1)
	return s, nil
}

// replayLocked fills s.replay with the kept events after last and sets
// s.notice when that cannot be exact; h.mu is held.
//
// Ids are global to the hub and each feed keeps its own ring, so an id
// from another feed's stream is only a position in time here: what is
// replayed is this subscriber's feed's events after it, never the other's.
func (h *Hub) replayLocked(s *Subscription, last uint64) {
	r := h.rings[s.feed]
	if r == nil {
		r = &ring{}
	}
	from := last + 1
	// floor is the lowest id that, were it this feed's, would still be
	// kept: above the newest evicted event, and not before this hub began.
	floor := h.cfg.FirstID
	if r.evicted > 0 {
		floor = r.evicted + 1
	}
	switch {
	case last > h.lastID:
		// Another node's id, or a clock that went back between restarts:
		// replaying everything would duplicate pings, so replay nothing.
		s.notice = fmt.Sprintf("Last-Event-ID %d is newer than this server's newest event %d: nothing replayed", last, h.lastID)
		return
	case from < floor:
		oldest := h.lastID + 1
		if len(r.evs) > 0 {
			oldest = r.at(0).ID
		}
		s.notice = fmt.Sprintf("events missed: Last-Event-ID %d is older than the oldest kept event %d, up to %d events were lost", last, oldest, oldest-from)
		h.missed.Add(1)
	}
	for i := range len(r.evs) {
		if ev := r.at(i); ev.ID >= from && s.match(ev) {
			s.replay = append(s.replay, ev)
		}
	}
}

// ring keeps the newest events of one feed, oldest first from head.
type ring struct {
	evs     []*Event // circular, len cap once full
	head    int      // index of the oldest event when full
	evicted uint64   // id of the newest event pushed out, 0 if none
}

func (r *ring) add(ev *Event) {
	if len(r.evs) < cap(r.evs) {
		r.evs = append(r.evs, ev)
		return
	}
	r.evicted = r.evs[r.head].ID
	r.evs[r.head] = ev
	r.head = (r.head + 1) % len(r.evs)
}

// at returns the i-th oldest kept event.
func (r *ring) at(i int) *Event { return r.evs[(r.head+i)%len(r.evs)] }

// DisconnectKey ends every stream of that key with ErrKeyDisconnected
// (the key was revoked, rotated or lost rights) and returns how many.
func (h *Hub) DisconnectKey(keyID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for s := range h.subs {
		if s.keyID == keyID {
			h.endLocked(s, ErrKeyDisconnected)
			n++
		}
	}
	return n
}

// Conn is one live stream, for an operator's connection list.
type Conn struct {
	ID        uint64 // unique within the Hub, from 1
	KeyID     string
	Remote    netip.Addr
	Since     time.Time
	Delivered uint64
}

// Conns lists the live streams (for an admin view; it allocates).
func (h *Hub) Conns() []Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Conn, 0, len(h.subs))
	for s := range h.subs {
		out = append(out, Conn{ID: s.id, KeyID: s.keyID, Remote: s.remote, Since: s.since, Delivered: s.delivered.Load()})
	}
	return out
}

// Kick ends the stream with that id with ErrKicked; false if there is
// none.
func (h *Hub) Kick(id uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.id == id {
			h.endLocked(s, ErrKicked)
			return true
		}
	}
	return false
}

// Close ends every stream with ErrClosed and refuses new subscribers;
// Publish becomes a no-op. It is idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.endLocked(s, ErrClosed)
	}
}

// Stats returns the counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	st := Stats{Subscribers: len(h.subs), LastID: h.lastID}
	for _, r := range h.rings {
		st.Kept += len(r.evs)
	}
	h.mu.Unlock()
	st.Subscribed = h.subscribed.Load()
	st.Published = h.published.Load()
	st.Delivered = h.delivered.Load()
	st.Replayed = h.replayed.Load()
	st.Missed = h.missed.Load()
	st.Dropped = h.dropped.Load()
	st.Heartbeats = h.heartbeats.Load()
	return st
}
