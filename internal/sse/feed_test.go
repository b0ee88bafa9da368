package sse

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/wire"
)

func feedMsg(feed uint32, webhook bool, n int) *wire.Message {
	m := msg("amazon", "USA", n)
	m.Feed, m.Webhook = feed, webhook
	return m
}

// TestFeedsAndResume: a subscriber gets its feed's events only, live and
// replayed, whatever Last-Event-ID it brings, and a busy feed does not
// push a quiet feed's events out of its ring.
func TestFeedsAndResume(t *testing.T) {
	h := New(Config{FirstID: 1, RingSize: 3})
	// ids 1..8: feed 1 gets 1 and 5; feed 0 the rest (6 events, ring of 3).
	for i := 1; i <= 8; i++ {
		feed := uint32(0)
		if i == 1 || i == 5 {
			feed = 1
		}
		h.Publish(feedMsg(feed, feed == 1, i))
	}
	for _, tt := range []struct {
		name   string
		last   uint64
		want   []uint64
		notice string
	}{
		{"before both", 0, []uint64{1, 5}, ""},
		{"another feed's id in between", 3, []uint64{5}, ""},
		{"another feed's newest id", 8, nil, ""},
	} {
		sub, err := h.Subscribe(SubscribeOptions{Feed: 1, Resume: true, LastEventID: tt.last})
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, ev := range sub.replay {
			got = append(got, ev.ID)
		}
		if !slices.Equal(got, tt.want) || sub.notice != tt.notice {
			t.Errorf("%s: replay %v notice %q, want %v %q", tt.name, got, sub.notice, tt.want, tt.notice)
		}
		sub.Close()
	}
	// Feed 0 lost 2, 3 and 4 to its ring of 3; feed 1 lost nothing.
	sub, _ := h.Subscribe(SubscribeOptions{Feed: 0, Resume: true, LastEventID: 0})
	if sub.notice == "" || len(sub.replay) != 3 || sub.replay[0].ID != 6 {
		t.Errorf("feed 0: notice %q, replay %d from %d", sub.notice, len(sub.replay), sub.replay[0].ID)
	}
	sub.Close()

	live, _ := h.Subscribe(SubscribeOptions{Feed: 1})
	h.Publish(feedMsg(0, false, 9))
	h.Publish(feedMsg(1, true, 10))
	h.Close()
	w := &bufWriter{}
	if err := live.Stream(w, nil); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	out := string(w.flushed)
	if !strings.Contains(out, "id: 10\ndata: {") || strings.Contains(out, "id: 9") || strings.Contains(out, "event: ") {
		t.Fatalf("webhook stream:\n%s", out)
	}
}

func TestStreamEndsAtExpiry(t *testing.T) {
	h := New(Config{FirstID: 1})
	defer h.Close()
	sub, _ := h.Subscribe(SubscribeOptions{KeyID: "k", Expires: time.Now().Add(50 * time.Millisecond)})
	w := &bufWriter{}
	if err := sub.Stream(w, nil); !errors.Is(err, ErrKeyExpired) {
		t.Fatalf("Stream = %v, want ErrKeyExpired", err)
	}
	if !strings.Contains(string(w.flushed), ": stream closed: sse: key expired\n\n") {
		t.Fatalf("stream %q", w.flushed)
	}
	if h.Stats().Subscribers != 0 {
		t.Fatal("expired subscriber still registered")
	}
}
