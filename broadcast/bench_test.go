package broadcast

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

// benchServer starts a server with n client conns living in a child
// process (this process could not hold both ends of 10,000 conns).
func benchServer(b *testing.B, n int) *Server {
	return benchServerAt(b, "/?key=k", "", Config{}, n)
}

// benchServerAt is benchServer for any endpoint; /ws conns subscribe to
// channel before the benchmark starts.
func benchServerAt(b *testing.B, target, channel string, cfg Config, n int) *Server {
	b.Helper()
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(b, cfg, auth)
	stop := startChildSub(b, addr, target, channel, n)
	b.Cleanup(stop)
	testutil.Eventually(b, 60*time.Second, 10*time.Millisecond, func() error {
		if got := s.Stats().Conns; got != int64(n) {
			return fmt.Errorf("%d conns", got)
		}
		return nil
	})
	return s
}

// waitFor sleeps in small steps (not spinning: the server needs the CPU)
// until target deliveries happened.
func waitDeliveredSleep(b *testing.B, s *Server, target uint64) {
	deadline := time.Now().Add(60 * time.Second)
	for s.stats.delivered.Load() < target || !s.idle() {
		if time.Now().After(deadline) {
			b.Fatal(errors.New("deliveries stalled"))
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// BenchmarkFanOut publishes one ~600-byte ping at a time to N conns and
// waits until every conn got it: ns/delivery is server time per conn.
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			s := benchServer(b, n)
			msg := testMessage(b, "amazon", "USA", 1)
			b.ReportAllocs()
			st0 := s.Stats()
			b.ResetTimer()
			for b.Loop() {
				target := s.stats.delivered.Load() + uint64(n)
				s.Publish(msg)
				waitDeliveredSleep(b, s, target)
			}
			b.StopTimer()
			st := s.Stats()
			d := float64(st.Delivered - st0.Delivered)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/d, "ns/delivery")
			b.ReportMetric(float64(st.Writes-st0.Writes)/d, "writes/delivery")
		})
	}
}

// BenchmarkCoalesce publishes 50 pings back to back: passes coalesce, so
// a conn gets several frames per writev.
func BenchmarkCoalesce(b *testing.B) {
	const burst = 50
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			s := benchServer(b, n)
			msg := testMessage(b, "amazon", "USA", 1)
			b.ReportAllocs()
			st0 := s.Stats()
			b.ResetTimer()
			for b.Loop() {
				target := s.stats.delivered.Load() + uint64(burst*n)
				for range burst {
					s.Publish(msg)
				}
				waitDeliveredSleep(b, s, target)
			}
			b.StopTimer()
			st := s.Stats()
			d := float64(st.Delivered - st0.Delivered)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/d, "ns/delivery")
			b.ReportMetric(float64(st.Writes-st0.Writes)/d, "writes/delivery")
		})
	}
}

// BenchmarkFanOutRealtime is BenchmarkFanOut for /ws conns subscribed to
// "amazon": every delivery is the shared envelope frame, built once per
// message. fanout-µs is the mean age OnFanout reported (Publish to the
// end of the pass that wrote the message), fanout-max-µs the largest.
func BenchmarkFanOutRealtime(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			var sum, count, worst atomic.Int64
			cfg := Config{OnFanout: func(age time.Duration, _ int) {
				sum.Add(int64(age))
				count.Add(1)
				for w := worst.Load(); int64(age) > w && !worst.CompareAndSwap(w, int64(age)); w = worst.Load() {
				}
			}}
			s := benchServerAt(b, "/ws?key=k", "amazon", cfg, n)
			msg := testMessage(b, "amazon", "USA", 1)
			b.ReportAllocs()
			st0 := s.Stats()
			sum.Store(0)
			count.Store(0)
			worst.Store(0)
			b.ResetTimer()
			for b.Loop() {
				target := s.stats.delivered.Load() + uint64(n)
				s.Publish(msg)
				waitDeliveredSleep(b, s, target)
			}
			b.StopTimer()
			st := s.Stats()
			d := float64(st.Delivered - st0.Delivered)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/d, "ns/delivery")
			b.ReportMetric(float64(st.Envelopes-st0.Envelopes)/float64(b.N), "envelopes/op")
			if c := count.Load(); c > 0 {
				b.ReportMetric(float64(sum.Load())/float64(c)/1e3, "fanout-µs")
				b.ReportMetric(float64(worst.Load())/1e3, "fanout-max-µs")
			}
		})
	}
}
