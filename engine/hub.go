package engine

import (
	"log/slog"

	"github.com/stellarfeed/stellarfeed/internal/stellar"
)

// Publisher takes a validated, encoded ping: the broadcaster, or a bus.
type Publisher interface {
	Publish(m *stellar.Message)
}

// HubOutput is the Output that feeds Stellar clients: each Restock is
// validated and encoded once (Rules.NewMessage) and published; SoldOut
// events are not for Stellar and are ignored.
type HubOutput struct {
	Publisher Publisher
	Rules     stellar.Rules
	Logger    *slog.Logger // nil: slog.Default()
}

// Emit implements Output. Publish must not block (the broadcaster queues).
func (h HubOutput) Emit(ev Event) {
	if ev.Kind != Restock || h.Publisher == nil {
		return
	}
	msg, err := h.Rules.NewMessage(&ev.Ping)
	if err != nil {
		log := h.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Warn("hub output: ping not published", "site", ev.Ping.Site, "sku", ev.Ping.SKU, "errors", stellar.FieldErrors(err), "err", err)
		return
	}
	h.Publisher.Publish(msg)
}

var _ Output = HubOutput{}
