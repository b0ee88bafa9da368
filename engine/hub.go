package engine

import (
	"log/slog"

	"github.com/stellarfeed/stellarfeed/internal/wire"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// Publisher takes a validated, encoded ping: the broadcaster, or a bus.
type Publisher interface {
	Publish(m *wire.Message)
}

// HubOutput is the Output that feeds Stellar clients: each Restock is
// validated and encoded once (Rules.NewMessage) and published; SoldOut
// events are not for Stellar and are ignored.
type HubOutput struct {
	Publisher Publisher
	Rules     stellar.Rules
	Logger    *slog.Logger // nil: slog.Default()
	// Feed, when set, names the feed routing number of an event's ping
	// (by its group); false drops the ping (a feed that does not exist
	// must not fall back to another feed's subscribers). Nil: the default
	// feed.
	Feed func(ev *Event) (uint32, bool)
}

// Emit implements Output. Publish must not block (the broadcaster queues).
func (h HubOutput) Emit(ev Event) {
	if ev.Kind != Restock || h.Publisher == nil {
		return
	}
	msg, err := wire.New(h.Rules, &ev.Ping)
	if err != nil {
		log := h.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Warn("hub output: ping not published", "site", ev.Ping.Site, "sku", ev.Ping.SKU, "errors", stellar.FieldErrors(err), "err", err)
		return
	}
	if h.Feed != nil {
		feed, ok := h.Feed(&ev)
		if !ok {
			return // the router logged it
		}
		msg.Feed = feed
	}
	h.Publisher.Publish(msg)
}

var _ Output = HubOutput{}
