package node

import (
	"github.com/gobwas/ws"

	"github.com/stellarfeed/stellarfeed/broadcast"
	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/sse"
)

// sseConnBit marks the ids of event streams in the admin connection list:
// the broadcaster and the SSE hub number their connections apart.
const sseConnBit = 1 << 63

// liveConns shows every live client, WebSocket and SSE, to the admin API
// and the console.
type liveConns struct {
	hub    *broadcast.Server
	events *sse.Hub
	keys   *keys.Store
}

func (l liveConns) Conns() []api.Conn {
	conns := l.hub.Conns()
	streams := l.events.Conns()
	out := make([]api.Conn, 0, len(conns)+len(streams))
	for _, c := range conns {
		out = append(out, api.Conn{ID: c.ID, Endpoint: c.Endpoint, KeyID: c.KeyID, Label: c.Label, Remote: c.Remote, Since: c.Since, Delivered: c.Delivered})
	}
	for _, c := range streams {
		var label string
		if k, err := l.keys.Get(c.KeyID); err == nil {
			label = k.Label
		}
		out = append(out, api.Conn{ID: c.ID | sseConnBit, Endpoint: "sse", KeyID: c.KeyID, Label: label, Remote: c.Remote, Since: c.Since, Delivered: c.Delivered})
	}
	return out
}

func (l liveConns) Kick(id uint64) bool {
	if id&sseConnBit != 0 {
		return l.events.Kick(id &^ sseConnBit)
	}
	return l.hub.Kick(id, ws.StatusPolicyViolation, "kicked by the provider")
}
