package sse

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"
)

// Subscription is one subscriber: its filter, its bounded queue and the
// events to replay first. Stream writes it out; Close ends it.
type Subscription struct {
	hub     *Hub
	id      uint64
	keyID   string
	remote  netip.Addr
	since   time.Time
	filter  Filter
	feed    uint32
	expires time.Time
	ch      chan *Event
	replay  []*Event // set by Subscribe, consumed by Stream
	notice  string   // comment sent before the replay (events missed)
	err     error    // why the hub ended it; written before close(ch)

	delivered atomic.Uint64
}

// Writer is where a stream goes: a buffered writer whose Flush pushes the
// bytes to the client (fasthttp's *bufio.Writer of SetBodyStreamWriter).
type Writer interface {
	io.Writer
	Flush() error
}

var (
	heartbeat = []byte(": heartbeat\n\n")
	hello     = []byte(": stellarfeed ping stream\n\n")
)

// Stream writes the subscription to w until it ends, and returns why:
// ErrClosed, ErrSlowConsumer or ErrKeyDisconnected when the Hub ended it,
// or the write error when the client went away (noticed at the next event
// or heartbeat). beforeFlush, if not nil, runs before every flush: the
// caller arms a write deadline there, so a client that stops reading
// ends the stream instead of holding it forever.
//
// It sends an opening comment (and retry: when configured), the
// missed-events notice if any, the replay, then live events and a
// heartbeat comment whenever Config.Heartbeat passes. It unsubscribes on
// return. Call it once.
func (s *Subscription) Stream(w Writer, beforeFlush func()) error {
	defer s.Close()
	var werr error
	pending := uint64(0) // events written since the last flush
	write := func(b []byte) {
		if werr == nil {
			_, werr = w.Write(b)
		}
	}
	flush := func() error {
		if werr == nil {
			if beforeFlush != nil {
				beforeFlush()
			}
			werr = w.Flush()
		}
		if werr != nil {
			return fmt.Errorf("sse: write stream: %w", werr)
		}
		s.delivered.Add(pending)
		s.hub.delivered.Add(pending)
		pending = 0
		return nil
	}

	cfg := &s.hub.cfg
	write(hello)
	if cfg.Retry > 0 {
		write(strconv.AppendInt([]byte("retry: "), cfg.Retry.Milliseconds(), 10))
		write([]byte("\n\n"))
	}
	if s.notice != "" {
		write(appendComment(nil, s.notice))
	}
	for _, ev := range s.replay {
		write(ev.Data)
		pending++
	}
	s.hub.replayed.Add(uint64(len(s.replay)))
	s.replay = nil
	if err := flush(); err != nil {
		return err
	}

	tick := time.NewTicker(cfg.Heartbeat)
	defer tick.Stop()
	var expired <-chan time.Time
	if !s.expires.IsZero() {
		t := time.NewTimer(time.Until(s.expires))
		defer t.Stop()
		expired = t.C
	}
	for {
		select {
		case <-expired:
			write(appendComment(nil, "stream closed: "+ErrKeyExpired.Error()))
			if err := flush(); err != nil {
				return err
			}
			return ErrKeyExpired
		case ev, ok := <-s.ch:
			// Drain what is already queued, so a burst costs one flush.
			for n := len(s.ch); ok; n-- {
				write(ev.Data)
				pending++
				if n <= 0 {
					break
				}
				ev, ok = <-s.ch
			}
			if !ok {
				// The hub ended us: say why, best effort, and stop.
				write(appendComment(nil, "stream closed: "+s.err.Error()))
				if err := flush(); err != nil {
					return err
				}
				return s.err
			}
			if err := flush(); err != nil {
				return err
			}
		case <-tick.C:
			write(heartbeat)
			if err := flush(); err != nil {
				return err
			}
			s.hub.heartbeats.Add(1)
		}
	}
}

// match reports whether ev is for this subscriber: its feed, and for a
// ping its filter (site and region filters do not apply to webhook events).
func (s *Subscription) match(ev *Event) bool {
	return ev.Feed == s.feed && (ev.Webhook || s.filter.Match(ev.Site, ev.Region))
}

// Delivered is how many events were flushed to the client so far.
func (s *Subscription) Delivered() uint64 { return s.delivered.Load() }

// KeyID is the key the subscription belongs to.
func (s *Subscription) KeyID() string { return s.keyID }

// Close unsubscribes; the queue is closed and Publish forgets s. It is
// idempotent and safe to call while Stream runs (Stream then returns).
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	s.hub.endLocked(s, errUnsubscribed)
	s.hub.mu.Unlock()
}
