package sse

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
)

// BenchmarkPublish: one ping to n subscribers whose queues are drained
// by their own goroutines, as streams do.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{0, 1, 100, 1000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			h := New(Config{FirstID: 1, Logger: discardLog})
			var wg sync.WaitGroup
			for range n {
				s, err := h.Subscribe(SubscribeOptions{})
				if err != nil {
					b.Fatal(err)
				}
				wg.Go(func() {
					for range s.ch {
					}
				})
			}
			m := msg("amazon", "USA", 1)
			b.ReportAllocs()
			for b.Loop() {
				h.Publish(m)
			}
			b.StopTimer()
			h.Close()
			wg.Wait()
			// A drainer that falls behind a tight Publish loop is dropped,
			// as designed; report how often rather than fail.
			b.ReportMetric(float64(h.Stats().Dropped), "dropped")
		})
	}
}

func BenchmarkSubscribeResume(b *testing.B) {
	h := New(Config{FirstID: 1})
	defer h.Close()
	for i := range 1024 {
		h.Publish(msg("amazon", "USA", i))
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := h.Subscribe(SubscribeOptions{Resume: true, LastEventID: 512})
		if err != nil || len(s.replay) != 512 {
			b.Fatal(err, len(s.replay))
		}
		s.Close()
	}
}

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))
