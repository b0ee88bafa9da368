package sse

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

func TestLiveInOrder(t *testing.T) {
	h := New(Config{FirstID: 100})
	sub, err := h.Subscribe(SubscribeOptions{KeyID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	w := &bufWriter{}
	done := streamAsync(sub, w)
	for i := range 5 {
		h.Publish(msg("amazon", "USA", i))
	}
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if n := len(pings(w.events(t))); n != 5 {
			return fmt.Errorf("%d events", n)
		}
		return nil
	})
	h.Close()
	if err := wait(t, done); !errors.Is(err, ErrClosed) {
		t.Fatalf("Stream = %v, want ErrClosed", err)
	}
	evs := w.events(t)
	if got := ids(evs); !slices.Equal(got, []uint64{100, 101, 102, 103, 104}) {
		t.Fatalf("ids %v", got)
	}
	for i, ev := range pings(evs) {
		if ev.Type != "ping" || ev.Data != fmt.Sprintf(`{"site":"amazon","region":"USA","n":%d}`, i) {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
	cs := comments(evs)
	if cs[0] != "stellarfeed ping stream" || cs[len(cs)-1] != "stream closed: sse: hub closed" {
		t.Fatalf("comments %q", cs)
	}
	if sub.Delivered() != 5 {
		t.Fatalf("delivered %d", sub.Delivered())
	}
	st := h.Stats()
	if st.Published != 5 || st.Delivered != 5 || st.Subscribers != 0 || st.Subscribed != 1 || st.LastID != 104 || st.Kept != 5 {
		t.Fatalf("stats %+v", st)
	}
	// Closed: no more subscribers, Publish is a no-op.
	if _, err := h.Subscribe(SubscribeOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close = %v", err)
	}
	h.Publish(msg("amazon", "USA", 9))
	if st := h.Stats(); st.Published != 5 {
		t.Fatalf("published after Close: %+v", st)
	}
	h.Close() // idempotent
}

func TestFilteredSubscribers(t *testing.T) {
	h := New(Config{FirstID: 1})
	defer h.Close()
	amazonOnly, _ := NewFilter([]string{"amazon"}, nil, nil)
	jpScope, _ := NewFilter(nil, nil, []string{"amazon:JP"})
	subs := map[string]*Subscription{}
	for name, f := range map[string]Filter{"all": {}, "amazon": amazonOnly, "jp": jpScope} {
		s, err := h.Subscribe(SubscribeOptions{KeyID: name, Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		subs[name] = s
	}
	h.Publish(msg("amazon", "USA", 1)) // id 1
	h.Publish(msg("walmart", "", 2))   // id 2
	h.Publish(msg("amazon", "JP", 3))  // id 3
	h.Publish(msg("shopify", "", 4))   // id 4
	want := map[string][]uint64{"all": {1, 2, 3, 4}, "amazon": {1, 3}, "jp": {3}}
	for name, s := range subs {
		var got []uint64
		for len(s.ch) > 0 {
			got = append(got, (<-s.ch).ID)
		}
		if !slices.Equal(got, want[name]) {
			t.Errorf("%s got %v, want %v", name, got, want[name])
		}
	}
}

func TestResume(t *testing.T) {
	amazon, _ := NewFilter([]string{"amazon"}, nil, nil)
	tests := []struct {
		name    string
		last    uint64
		filter  Filter
		want    []uint64
		comment string
	}{
		// Ring of 4 after ids 10..19: 16..19 kept. Even ids are amazon.
		{"within ring", 17, Filter{}, []uint64{18, 19}, ""},
		{"oldest-1 is exact", 15, Filter{}, []uint64{16, 17, 18, 19}, ""},
		{"newest", 19, Filter{}, nil, ""},
		{"filtered replay", 15, amazon, []uint64{16, 18}, ""},
		{"older than ring", 12, Filter{}, []uint64{16, 17, 18, 19}, "events missed: Last-Event-ID 12 is older than the oldest kept event 16, up to 3 events were lost"},
		{"zero", 0, Filter{}, []uint64{16, 17, 18, 19}, "events missed: Last-Event-ID 0 is older than the oldest kept event 16, up to 15 events were lost"},
		{"from the future", 25, Filter{}, nil, "Last-Event-ID 25 is newer than this server's newest event 19: nothing replayed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Config{FirstID: 10, RingSize: 4})
			for i := range 10 {
				site := "amazon"
				if i%2 == 1 {
					site = "walmart"
				}
				h.Publish(msg(site, "", i))
			}
			sub, err := h.Subscribe(SubscribeOptions{Filter: tt.filter, Resume: true, LastEventID: tt.last})
			if err != nil {
				t.Fatal(err)
			}
			// A live event after the resume follows the replay, once.
			h.Publish(msg("amazon", "", 10)) // id 20
			h.Close()
			w := &bufWriter{}
			if err := sub.Stream(w, nil); !errors.Is(err, ErrClosed) {
				t.Fatalf("Stream = %v", err)
			}
			evs := w.events(t)
			if got, want := ids(evs), append(slices.Clone(tt.want), 20); !slices.Equal(got, want) {
				t.Fatalf("ids %v, want %v", got, want)
			}
			cs := comments(evs)
			hasNotice := len(cs) == 3 // hello, notice, closed
			if tt.comment == "" && hasNotice || tt.comment != "" && (!hasNotice || cs[1] != tt.comment) {
				t.Fatalf("comments %q, want notice %q", cs, tt.comment)
			}
			if st := h.Stats(); st.Replayed != uint64(len(tt.want)) || st.Delivered != uint64(len(tt.want)+1) {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestResumeEmptyRing(t *testing.T) {
	h := New(Config{FirstID: 1000})
	defer h.Close()
	// An id from before a restart: the new ids started above it.
	sub, _ := h.Subscribe(SubscribeOptions{Resume: true, LastEventID: 990})
	if sub.notice != "events missed: Last-Event-ID 990 is older than the oldest kept event 1000, up to 9 events were lost" || len(sub.replay) != 0 {
		t.Fatalf("notice %q, replay %d", sub.notice, len(sub.replay))
	}
	if st := h.Stats(); st.Missed != 1 {
		t.Fatalf("stats %+v", st)
	}
	sub, _ = h.Subscribe(SubscribeOptions{Resume: true, LastEventID: 999})
	if sub.notice != "" || len(sub.replay) != 0 {
		t.Fatalf("notice %q, replay %d", sub.notice, len(sub.replay))
	}
}

func TestDefaultFirstIDFromClock(t *testing.T) {
	before := uint64(time.Now().UnixMicro())
	h := New(Config{})
	defer h.Close()
	h.Publish(msg("amazon", "USA", 0))
	if id := h.Stats().LastID; id < before || id > uint64(time.Now().UnixMicro()) {
		t.Fatalf("first id %d not from the clock (%d)", id, before)
	}
}

// TestSlowConsumerDropped: a subscriber that does not drain is dropped
// when its queue is full; Publish goes on for everyone else.
func TestSlowConsumerDropped(t *testing.T) {
	h := New(Config{FirstID: 1, Buffer: 4})
	defer h.Close()
	slow, _ := h.Subscribe(SubscribeOptions{KeyID: "slow"})
	fast, _ := h.Subscribe(SubscribeOptions{KeyID: "fast"})
	w := &bufWriter{}
	done := streamAsync(fast, w)
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := range 100 {
			h.Publish(msg("amazon", "USA", i))
			// Let the fast reader keep up; the slow one never reads.
			for len(fast.ch) > 2 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	select {
	case <-published:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish blocked on a slow subscriber")
	}
	if st := h.Stats(); st.Dropped != 1 || st.Subscribers != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The slow one gets what was queued, then the reason.
	sw := &bufWriter{}
	if err := slow.Stream(sw, nil); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("slow Stream = %v", err)
	}
	if got := ids(sw.events(t)); !slices.Equal(got, []uint64{1, 2, 3, 4}) {
		t.Fatalf("slow got %v", got)
	}
	h.Close()
	wait(t, done)
	if got := ids(w.events(t)); len(got) != 100 || got[99] != 100 {
		t.Fatalf("fast got %d events", len(got))
	}
}

func TestDisconnectKey(t *testing.T) {
	h := New(Config{FirstID: 1})
	defer h.Close()
	a1, _ := h.Subscribe(SubscribeOptions{KeyID: "a"})
	a2, _ := h.Subscribe(SubscribeOptions{KeyID: "a"})
	b, _ := h.Subscribe(SubscribeOptions{KeyID: "b"})
	if n := h.DisconnectKey("a"); n != 2 {
		t.Fatalf("disconnected %d", n)
	}
	for _, s := range []*Subscription{a1, a2} {
		if err := s.Stream(&bufWriter{}, nil); !errors.Is(err, ErrKeyDisconnected) {
			t.Fatalf("Stream = %v", err)
		}
	}
	if st := h.Stats(); st.Subscribers != 1 || b.KeyID() != "b" {
		t.Fatalf("stats %+v", st)
	}
}

func TestHeartbeatAndRetry(t *testing.T) {
	h := New(Config{FirstID: 1, Heartbeat: 5 * time.Millisecond, Retry: 2500 * time.Millisecond})
	sub, _ := h.Subscribe(SubscribeOptions{})
	w := &bufWriter{}
	armed := 0
	done := make(chan error, 1)
	go func() { done <- sub.Stream(w, func() { armed++ }) }()
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if n := h.Stats().Heartbeats; n < 3 {
			return fmt.Errorf("%d heartbeats", n)
		}
		return nil
	})
	h.Close()
	wait(t, done)
	evs := w.events(t)
	if evs[1].Retry != "2500" {
		t.Fatalf("no retry field first: %+v", evs[:2])
	}
	if cs := comments(evs); !slices.Contains(cs, "heartbeat") {
		t.Fatalf("comments %q", cs)
	}
	if armed != w.flushes {
		t.Fatalf("beforeFlush ran %d times for %d flushes", armed, w.flushes)
	}
}

func TestWriteErrorEndsStream(t *testing.T) {
	h := New(Config{FirstID: 1, Heartbeat: time.Millisecond})
	defer h.Close()
	sub, _ := h.Subscribe(SubscribeOptions{})
	gone := errors.New("connection reset by peer")
	w := &bufWriter{fail: gone}
	err := sub.Stream(w, nil)
	if !errors.Is(err, gone) || !strings.HasPrefix(err.Error(), "sse: write stream: ") {
		t.Fatalf("Stream = %v", err)
	}
	if st := h.Stats(); st.Subscribers != 0 {
		t.Fatalf("still subscribed: %+v", st)
	}
	// A client that goes away later, at a heartbeat.
	sub, _ = h.Subscribe(SubscribeOptions{})
	w = &bufWriter{}
	done := streamAsync(sub, w)
	testutil.Eventually(t, 5*time.Second, time.Millisecond, func() error {
		if h.Stats().Heartbeats == 0 {
			return errors.New("no heartbeat yet")
		}
		return nil
	})
	w.mu.Lock()
	w.fail = gone
	w.mu.Unlock()
	if err := wait(t, done); !errors.Is(err, gone) {
		t.Fatalf("Stream = %v", err)
	}
	if st := h.Stats(); st.Subscribers != 0 {
		t.Fatalf("still subscribed: %+v", st)
	}
}

func TestSubscriptionCloseEndsStream(t *testing.T) {
	h := New(Config{FirstID: 1})
	defer h.Close()
	sub, _ := h.Subscribe(SubscribeOptions{})
	done := streamAsync(sub, &bufWriter{})
	sub.Close()
	sub.Close()
	if err := wait(t, done); !errors.Is(err, errUnsubscribed) {
		t.Fatalf("Stream = %v", err)
	}
}

// TestPublishAllocs: one event (struct + bytes) per ping, however many
// subscribers.
func TestPublishAllocs(t *testing.T) {
	h := New(Config{FirstID: 1, Buffer: 2048})
	defer h.Close()
	for range 50 {
		if _, err := h.Subscribe(SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	m := msg("amazon", "USA", 1)
	if n := testing.AllocsPerRun(500, func() { h.Publish(m) }); n > 2 {
		t.Fatalf("Publish allocates %v per ping", n)
	}
}
