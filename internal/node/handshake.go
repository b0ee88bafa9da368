package node

import (
	"github.com/VictoriaMetrics/metrics"

	"github.com/stellarfeed/stellarfeed/broadcast"
	"github.com/stellarfeed/stellarfeed/internal/config"
)

// handshakeConfig maps the handshake caps and the PROXY protocol settings
// of a config file onto the broadcaster's options.
func handshakeConfig(c *config.Config, b *broadcast.Config) {
	f := c.Broadcast
	b.MaxHandshakes = f.MaxHandshakes
	// The file's 0 means "no per-IP cap"; the broadcaster reads 0 as its
	// default and a negative value as off.
	b.MaxHandshakesPerIP = f.MaxHandshakesPerIP
	if b.MaxHandshakesPerIP == 0 {
		b.MaxHandshakesPerIP = -1
	}
	b.ProxyProtocol = f.ProxyProtocol
	b.TrustedProxies = trustedProxies(c.Server)
}

// registerHandshakeMetrics exposes the handshake refusals and the
// unfinished handshakes the broadcaster holds.
func registerHandshakeMetrics(set *metrics.Set, hub *broadcast.Server) {
	counters := map[string]func(broadcast.Rejections) uint64{
		`stellarfeed_ws_rejected_total{reason="per_ip"}`:    func(r broadcast.Rejections) uint64 { return r.PerIP },
		`stellarfeed_ws_rejected_total{reason="shed"}`:      func(r broadcast.Rejections) uint64 { return r.Shed },
		`stellarfeed_ws_rejected_total{reason="too_large"}`: func(r broadcast.Rejections) uint64 { return r.TooLarge },
		`stellarfeed_ws_rejected_total{reason="proxy"}`:     func(r broadcast.Rejections) uint64 { return r.Proxy },
	}
	for name, f := range counters {
		set.NewGauge(name, func() float64 { return float64(f(hub.Stats().Rejected)) })
	}
	set.NewGauge(`stellarfeed_ws_handshakes`, func() float64 { return float64(hub.Stats().Handshakes) })
}
