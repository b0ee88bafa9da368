package node

import (
	"context"
	"time"

	"github.com/gobwas/ws"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// expirySweep is how often expired keys' connections are cut and the
// system clock is compared with the node's. Each expiry is acted on for
// expiryGrace (longer than a handshake), so a connection whose handshake
// was admitted just before the expiry and registered just after is cut too.
const (
	expirySweep = time.Second
	expiryGrace = 10 * time.Second
)

// runExpiry closes the WebSocket and SSE connections of subscriber keys
// whose expiry passed, by the node's steady clock (the broadcaster is not
// given expiries: its sweep would read the system clock, and a step
// forward would cut connections that the key store then admits again, in
// a loop). It also watches the system clock for steps.
func (n *Node) runExpiry(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := n.clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n.clock.check()
		now := n.clock.Now()
		for _, k := range n.keys.List() {
			// An expiry that a key change moved into the past is cut by
			// the change itself.
			if k.Kind == keys.KindSubscriber && !k.Expires.IsZero() && k.Expires.After(last.Add(-expiryGrace)) && !k.Expires.After(now) {
				n.hub.DisconnectKey(k.ID, ws.StatusPolicyViolation, "key expired")
				n.events.DisconnectKey(k.ID)
			}
		}
		last = now
	}
}
