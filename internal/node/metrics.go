package node

import (
	"github.com/VictoriaMetrics/metrics"

	"github.com/stellarfeed/stellarfeed/broadcast"
)

// registerHubMetrics exposes the broadcaster's counters. They are read
// from Stats at scrape time, so fan-out pays nothing for them.
func registerHubMetrics(set *metrics.Set, hub *broadcast.Server) {
	stat := func(f func(broadcast.Stats) float64) func() float64 {
		return func() float64 { return f(hub.Stats()) }
	}
	set.NewGauge(`stellarfeed_connections{endpoint="stellar"}`, stat(func(s broadcast.Stats) float64 { return float64(s.StellarConns) }))
	set.NewGauge(`stellarfeed_connections{endpoint="ws"}`, stat(func(s broadcast.Stats) float64 { return float64(s.WSConns) }))
	counters := map[string]func(broadcast.Stats) uint64{
		`stellarfeed_ws_accepted_total`:                     func(s broadcast.Stats) uint64 { return s.Accepted },
		`stellarfeed_ws_upgraded_total`:                     func(s broadcast.Stats) uint64 { return s.Upgraded },
		`stellarfeed_ws_rejected_total{reason="auth"}`:      func(s broadcast.Stats) uint64 { return s.Rejected.Auth },
		`stellarfeed_ws_rejected_total{reason="full"}`:      func(s broadcast.Stats) uint64 { return s.Rejected.Full },
		`stellarfeed_ws_rejected_total{reason="bad"}`:       func(s broadcast.Stats) uint64 { return s.Rejected.BadRequest },
		`stellarfeed_ws_rejected_total{reason="timeout"}`:   func(s broadcast.Stats) uint64 { return s.Rejected.Timeout },
		`stellarfeed_ws_rejected_total{reason="rate"}`:      func(s broadcast.Stats) uint64 { return s.Rejected.Rate },
		`stellarfeed_ws_rejected_total{reason="per_ip"}`:    func(s broadcast.Stats) uint64 { return s.Rejected.PerIP },
		`stellarfeed_ws_rejected_total{reason="shed"}`:      func(s broadcast.Stats) uint64 { return s.Rejected.Shed },
		`stellarfeed_ws_rejected_total{reason="too_large"}`: func(s broadcast.Stats) uint64 { return s.Rejected.TooLarge },
		`stellarfeed_ws_rejected_total{reason="proxy"}`:     func(s broadcast.Stats) uint64 { return s.Rejected.Proxy },
		`stellarfeed_ws_accept_errors_total`:                func(s broadcast.Stats) uint64 { return s.AcceptErrors },
		`stellarfeed_pings_published_total`:                 func(s broadcast.Stats) uint64 { return s.Published },
		`stellarfeed_deliveries_total`:                      func(s broadcast.Stats) uint64 { return s.Delivered },
		`stellarfeed_ws_writes_total`:                       func(s broadcast.Stats) uint64 { return s.Writes },
		`stellarfeed_slow_consumer_disconnects_total`:       func(s broadcast.Stats) uint64 { return s.SlowConsumers },
		`stellarfeed_fanout_passes_total`:                   func(s broadcast.Stats) uint64 { return s.Passes },
	}
	for name, f := range counters {
		set.NewGauge(name, stat(func(s broadcast.Stats) float64 { return float64(f(s)) }))
	}
	set.NewGauge(`stellarfeed_fanout_last_pass_seconds`, stat(func(s broadcast.Stats) float64 { return s.LastPassDuration.Seconds() }))
	// Unfinished handshakes the broadcaster holds (read on the poller).
	set.NewGauge(`stellarfeed_ws_handshakes`, stat(func(s broadcast.Stats) float64 { return float64(s.Handshakes) }))
}
