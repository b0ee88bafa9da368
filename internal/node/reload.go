package node

import (
	"errors"
	"log/slog"

	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/internal/config"
)

// ApplyConfig applies the live sections of a reloaded config file: the
// targets (with the Stellar site names and base URLs they carry), the
// feeds restocks go to, the rules restocks are validated with, and
// engine.dedupe. Other keys need a
// restart (config.RestartNeeded names the changed ones). When the targets
// are refused nothing changes. The ingest API validates with the engine's
// rules, so providers' pings under a renamed site are accepted at once.
func (n *Node) ApplyConfig(c *config.Config) error {
	if n.engine == nil {
		return errors.New("the monitor engine is not running")
	}
	fc := FromConfig(c)
	routes, err := n.checkFeedRoutes(fc.EngineFeed, fc.GroupFeeds)
	if err != nil {
		return err
	}
	if err := n.Reload(fc.Targets); err != nil {
		return err
	}
	n.routes.Store(routes)
	n.engine.SetRules(fc.Rules)
	n.engine.SetDedupe(fc.Engine.Dedupe)
	return nil
}

// liveHub is the engine's output to Stellar clients, with the rules the
// engine validates with now (they change on reload).
type liveHub struct {
	pub  engine.Publisher
	eng  *engineTargets
	log  *slog.Logger
	feed func(ev *engine.Event) (uint32, bool) // see engine.HubOutput.Feed
}

func (h liveHub) Emit(ev engine.Event) {
	e := h.eng.eng.Load()
	if e == nil {
		return // no restock before the engine runs
	}
	engine.HubOutput{Publisher: h.pub, Rules: e.Rules(), Logger: h.log, Feed: h.feed}.Emit(ev)
}
