package node

import (
	"log/slog"
	"sync"
	"time"
)

// jumpThreshold is how far the system clock may drift from the steady
// clock before it counts as a step: NTP slews far less than this.
const jumpThreshold = 2 * time.Second

// steadyClock is wall time that advances with the monotonic clock from
// the moment the node started. Key expiry, quotas and usage timestamps
// read it, so a step of the system clock after start (a bad NTP server, a
// VM resumed, an operator's date command) neither expires keys early
// (step forward) nor brings expired keys back (step back). NTP slewing
// still applies: Linux slews the monotonic clock too.
//
// The price: after a legitimate step the node keeps the old time until it
// restarts; jumps logs each step with the offset, once.
type steadyClock struct {
	start time.Time
	since func() time.Duration // monotonic time since start
	wall  func() time.Time     // the system clock, only for step detection
	log   *slog.Logger

	mu     sync.Mutex
	offset time.Duration // system clock minus steady clock, last logged
}

func newSteadyClock(log *slog.Logger) *steadyClock {
	start := time.Now()
	return &steadyClock{start: start, since: func() time.Duration { return time.Since(start) }, wall: time.Now, log: log}
}

// Now is the steady wall time, with a monotonic reading.
func (c *steadyClock) Now() time.Time { return c.start.Add(c.since()) }

// check compares the system clock with the steady one and logs a step
// once, when it appears (and again if it changes by another step).
func (c *steadyClock) check() {
	now := c.Now()
	off := c.wall().Round(0).Sub(now.Round(0)) // wall readings, not monotonic
	c.mu.Lock()
	delta := off - c.offset
	if delta < 0 {
		delta = -delta
	}
	if delta < jumpThreshold {
		c.mu.Unlock()
		return
	}
	c.offset = off
	c.mu.Unlock()
	c.log.Warn("system clock stepped; key expiry, quotas and timestamps keep the clock the node started with (restart to adopt the new time)",
		"systemMinusNode", off.Round(time.Millisecond), "nodeTime", now.UTC().Format(time.RFC3339))
}
