package broadcast

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

// BenchmarkHandshakeUnderAttack measures what a well-behaved client sees
// while the server holds a slowloris attack (issue #10's target): 3,000
// sockets trickling an upgrade request one byte per second and 1,000
// idle half-open sockets, all from 127.0.0.2-.9 in child processes, each
// reopened as soon as the server closes it (the 5 s handshake deadline).
// In the "attached" variant the server runs with MaxHandshakes 8,192 and
// the per-IP cap off, so the whole attack stays attached: this measures
// the poller design itself, not the caps. The "default-caps" variant runs
// the defaults (4,096 unfinished in all, 256 per IP): the per-IP cap
// holds 2,048 attack sockets (256 for each of the 8 IPs), the others are
// refused with 429 at accept and come back a second later, a steady
// flood of refused connections.
//
// Each iteration connects 16 clients at once (from 127.0.0.1 and
// 127.0.0.10-.16), each timing TCP connect to the 101 response, then
// closes them. Metrics: conn/s (clients upgraded per second of wall time),
// p50-ms and p99-ms (connect to 101), attached (unfinished handshakes the
// server held, sampled at the end), proc-µs/conn (CPU of this process,
// server and good clients, per good client) and attacker-cpu-% (CPU the
// attack children burnt, in % of one core: on a shared machine the attack
// also takes CPU from the server). The parent logs attacked ÷ unattacked
// conn/s. Run it alone, e.g.
//
//	go test -run '^$' -bench HandshakeUnderAttack -benchtime 300x ./broadcast/
func BenchmarkHandshakeUnderAttack(b *testing.B) {
	const (
		slowloris = 3000
		halfOpen  = 1000
		batch     = 16
	)
	rates := map[string]float64{}
	attached := Config{MaxHandshakes: 8192, MaxHandshakesPerIP: -1}
	for _, v := range []struct {
		name   string
		attack bool
		cfg    Config
	}{
		{"attack=none", false, attached},
		{fmt.Sprintf("attack=slowloris%d+halfopen%d/attached", slowloris, halfOpen), true, attached},
		{fmt.Sprintf("attack=slowloris%d+halfopen%d/default-caps", slowloris, halfOpen), true, Config{}},
	} {
		name, attack := v.name, v.attack
		b.Run(name, func(b *testing.B) {
			auth := newFakeAuth()
			auth.add("k", Identity{KeyID: "k"})
			s, addr := startServer(b, v.cfg, auth)
			attackCPU := func() time.Duration { return 0 }
			if attack {
				stop1, cpu1 := startAttack(b, addr, "slowloris", slowloris)
				b.Cleanup(stop1)
				stop2, cpu2 := startAttack(b, addr, "halfopen", halfOpen)
				b.Cleanup(stop2)
				attackCPU = func() time.Duration { return cpu1() + cpu2() }
				hold := min(slowloris+halfOpen, s.cfg.MaxHandshakes)
				if perIP := s.cfg.MaxHandshakesPerIP; perIP > 0 {
					hold = min(hold, perIP*len(attackSources))
				}
				want := int64(hold) * 9 / 10
				testutil.Eventually(b, 60*time.Second, 10*time.Millisecond, func() error {
					if n := s.Stats().Handshakes; n < want {
						return fmt.Errorf("%d unfinished handshakes attached", n)
					}
					return nil
				})
			}
			sources := []string{"127.0.0.1", "127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14", "127.0.0.15", "127.0.0.16"}
			var (
				mu    sync.Mutex
				lat   []time.Duration
				fails int
				next  int
			)
			connect := func(src string) {
				start := time.Now()
				d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
				nc, err := d.Dial("tcp", addr)
				if err == nil {
					// Close with RST: tens of thousands of client
					// TIME_WAITs on 8 source IPs would make the kernel's
					// port search, charged to this process, the bottleneck.
					_ = nc.(*net.TCPConn).SetLinger(0)
					var c *client
					var status int
					c, status, _, err = handshakeOn(nc, "/?key=k")
					if err == nil && status != http.StatusSwitchingProtocols {
						err = fmt.Errorf("status %d", status)
					}
					if c != nil {
						c.nc.Close()
					}
				}
				el := time.Since(start)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					fails++
					return
				}
				lat = append(lat, el)
			}
			st0 := s.Stats()
			self0, att0 := selfCPU(), attackCPU()
			var wg sync.WaitGroup
			b.ResetTimer()
			for b.Loop() {
				for range batch {
					src := sources[next%len(sources)]
					next++
					wg.Go(func() { connect(src) })
				}
				wg.Wait()
			}
			b.StopTimer()
			self, att := selfCPU()-self0, attackCPU()-att0
			st := s.Stats()
			if fails > 0 {
				b.Errorf("%d of %d clients failed to connect", fails, fails+len(lat))
			}
			if len(lat) == 0 {
				return
			}
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
			rate := float64(len(lat)) / b.Elapsed().Seconds()
			rates[name] = rate
			b.ReportMetric(rate, "conn/s")
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			b.ReportMetric(float64(st.Handshakes), "attached")
			// This process is the server and the well-behaved clients;
			// the attackers are children on the same 2 cores.
			b.ReportMetric(float64(self.Microseconds())/float64(len(lat)), "proc-µs/conn")
			b.ReportMetric(100*att.Seconds()/b.Elapsed().Seconds(), "attacker-cpu-%")
			b.ReportMetric(0, "ns/op")
			b.Logf("%d clients: p50 %.2f ms, p99 %.2f ms, max %.2f ms, %.0f conn/s; server: %d unfinished handshakes at the end; during the run %d timed out, %d shed, %d refused per IP",
				len(lat), q(0.5), q(0.99), q(1), rate, st.Handshakes, st.Rejected.Timeout-st0.Rejected.Timeout,
				st.Rejected.Shed-st0.Rejected.Shed, st.Rejected.PerIP-st0.Rejected.PerIP)
		})
	}
	for name, hit := range rates {
		if base := rates["attack=none"]; base > 0 && name != "attack=none" {
			b.Logf("%s: connect throughput %.0f%% of the unattacked %.0f conn/s", name, 100*hit/base, base)
		}
	}
}
