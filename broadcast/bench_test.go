package broadcast

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// benchServer starts a server with n client conns living in a child
// process (this process could not hold both ends of 10,000 conns).
func benchServer(b *testing.B, n int) *Server {
	b.Helper()
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(b, Config{}, auth)
	stop := startChild(b, addr, "/?key=k", n)
	b.Cleanup(stop)
	checkFor(b, 60*time.Second, 10*time.Millisecond, func() error {
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
