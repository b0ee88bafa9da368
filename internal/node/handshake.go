package node

import (
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
