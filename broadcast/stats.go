package broadcast

import (
	"sync/atomic"
	"time"
)

// Stats is a snapshot of the broadcaster's counters, for /metrics and logs.
type Stats struct {
	Conns            int64         // connections registered (upgraded, not yet closed), both endpoints
	StellarConns     int64         // of which on the Stellar endpoint (/ and /stellar)
	WSConns          int64         // of which on the realtime endpoint (/ws)
	Accepted         uint64        // TCP connections accepted
	Upgraded         uint64        // successful WebSocket upgrades
	Rejected         Rejections    // handshakes refused, by reason
	AcceptErrors     uint64        // temporary accept errors (EMFILE...) survived
	Published        uint64        // messages given to Publish
	Delivered        uint64        // frames fully written to a connection
	Writes           uint64        // writev syscalls made by passes
	SlowConsumers    uint64        // connections closed for backlog or write timeout
	Passes           uint64        // shard passes run
	LastPassDuration time.Duration // longest of each shard's latest pass
	// LastFanout is the largest of each shard's latest fan-out age (see
	// Config.OnFanout): Publish to the end of the pass that wrote it.
	LastFanout time.Duration
	Envelopes  uint64 // /ws event frames built: one per message a /ws conn received
	RateIPs    int    // source IPs tracked by the connection-rate limiter
	// Handshakes is the number of unfinished handshakes now: accepted
	// and not yet upgraded or closed (reading, queued, upgrading, or
	// refused and draining).
	Handshakes int64
}

// Rejections counts refused handshakes by reason.
type Rejections struct {
	Auth       uint64 // the Authenticator refused (401/403/429...)
	Full       uint64 // MaxConns reached (503)
	BadRequest uint64 // bad path, query, or HTTP/WebSocket headers
	Timeout    uint64 // handshake deadline passed or the peer vanished
	Rate       uint64 // over ConnRatePerIP: 429 at accept, before reading the request
	PerIP      uint64 // over MaxHandshakesPerIP: 429 at accept
	Shed       uint64 // oldest unfinished handshake closed for a newer one (MaxHandshakes, or out of fds)
	TooLarge   uint64 // request line and headers over 8 KiB: 431
	Proxy      uint64 // PROXY header malformed, or from an untrusted address: 400
}

type counters struct {
	accepted, upgraded, acceptErrors     atomic.Uint64
	rejAuth, rejFull, rejBad, rejTimeout atomic.Uint64
	published, delivered, writes, passes atomic.Uint64
	slow, envelopes, rejRate             atomic.Uint64
	rejIP, rejShed, rejLarge, rejProxy   atomic.Uint64
}

// Stats returns a snapshot of the counters. It takes no lock but the
// rate limiter's (for RateIPs).
func (s *Server) Stats() Stats {
	ws := s.wsOpen.Load()
	st := Stats{
		Conns:         s.open.Load(),
		WSConns:       ws,
		Accepted:      s.stats.accepted.Load(),
		Upgraded:      s.stats.upgraded.Load(),
		AcceptErrors:  s.stats.acceptErrors.Load(),
		Published:     s.stats.published.Load(),
		Delivered:     s.stats.delivered.Load(),
		Writes:        s.stats.writes.Load(),
		SlowConsumers: s.stats.slow.Load(),
		Passes:        s.stats.passes.Load(),
		Envelopes:     s.stats.envelopes.Load(),
		Rejected: Rejections{
			Auth:       s.stats.rejAuth.Load(),
			Full:       s.stats.rejFull.Load(),
			BadRequest: s.stats.rejBad.Load(),
			Timeout:    s.stats.rejTimeout.Load(),
			Rate:       s.stats.rejRate.Load(),
			PerIP:      s.stats.rejIP.Load(),
			Shed:       s.stats.rejShed.Load(),
			TooLarge:   s.stats.rejLarge.Load(),
			Proxy:      s.stats.rejProxy.Load(),
		},
		Handshakes: s.hs.size(),
	}
	// The two gauges are read apart: clamp a transient mismatch.
	st.StellarConns = max(0, st.Conns-ws)
	if s.rate != nil {
		st.RateIPs = s.rate.size()
	}
	for _, sh := range s.shards {
		st.LastPassDuration = max(st.LastPassDuration, time.Duration(sh.lastPass.Load()))
		st.LastFanout = max(st.LastFanout, time.Duration(sh.lastFanout.Load()))
	}
	return st
}
