package broadcast

import (
	"net/netip"
	"sync"
	"time"
)

// Limits of the per-IP connection-rate table.
const (
	// maxRateIPs caps the table: 65,536 entries of ~40 bytes plus map
	// overhead, a few MB at most.
	maxRateIPs = 1 << 16
	// rateIdle is how long an IP stays in the table after its last
	// connection, once its bucket is full again.
	rateIdle = time.Minute
)

// ipLimiter is a token bucket per source IP for new connections, checked
// on the accept loop before any handshake work. Entries are dropped by the
// sweeper once idle; the table never exceeds max entries. When it is full
// of IPs seen within the last minute (tens of thousands of distinct
// addresses: a botnet, not a bot), a new IP is let through untracked
// rather than refused: MaxConns and the handshake caps still bound
// the damage, and legitimate newcomers are not locked out.
type ipLimiter struct {
	rate  float64 // tokens per second
	burst float64
	max   int

	mu        sync.Mutex
	m         map[netip.Addr]bucket
	lastPrune int64 // clock of the last prune, to bound in-line prunes
}

// bucket is one IP's tokens as of last (a clock in nanoseconds).
type bucket struct {
	tokens float64
	last   int64
}

func newIPLimiter(rate float64, burst, max int) *ipLimiter {
	return &ipLimiter{rate: rate, burst: float64(burst), max: max, m: make(map[netip.Addr]bucket)}
}

// rateKey is the unit limited: an IPv4 address, or an IPv6 /64 (one
// subscriber's allocation: a host can change its address within it at
// will).
func rateKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return ip
}

// allow takes a token for one connection from ip at clock now (ns) and
// reports whether the connection may proceed. An invalid address (a
// non-TCP listener) is not limited.
func (l *ipLimiter) allow(ip netip.Addr, now int64) bool {
	if !ip.IsValid() {
		return true
	}
	key := rateKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[key]
	if !ok {
		if len(l.m) >= l.max {
			if now-l.lastPrune >= int64(time.Second) {
				l.pruneLocked(now)
			}
			if len(l.m) >= l.max {
				return true // untracked: see the type's comment
			}
		}
		b = bucket{tokens: l.burst, last: now}
	} else {
		b.tokens = l.refill(b, now)
		b.last = now
	}
	allowed := b.tokens >= 1
	if allowed {
		b.tokens--
	}
	l.m[key] = b
	return allowed
}

// refill returns b's tokens at clock now.
func (l *ipLimiter) refill(b bucket, now int64) float64 {
	if now <= b.last {
		return b.tokens
	}
	return min(l.burst, b.tokens+float64(now-b.last)/float64(time.Second)*l.rate)
}

// prune drops IPs idle for rateIdle whose bucket has refilled: forgetting
// them changes nothing, as a new entry starts full.
func (l *ipLimiter) prune(now int64) {
	l.mu.Lock()
	l.pruneLocked(now)
	l.mu.Unlock()
}

func (l *ipLimiter) pruneLocked(now int64) {
	l.lastPrune = now
	for k, b := range l.m {
		if now-b.last >= int64(rateIdle) && l.refill(b, now) >= l.burst {
			delete(l.m, k)
		}
	}
}

// size returns the number of tracked IPs.
func (l *ipLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
