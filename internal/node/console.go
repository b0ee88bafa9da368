package node

import (
	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/console"
)

// newConsole builds the dashboard served under /admin/ on the API port.
// It is fed every local ping (for its recent-pings list) by local().
func (n *Node) newConsole() *console.Console {
	cfg := n.cfg.Console
	cfg.Logger = n.log.With("component", "console")
	cfg.Proxies = n.cfg.API.TrustedProxies
	if cfg.StellarURL == nil {
		cfg.StellarURL = func() string { return "ws://" + loopbackAddr(n.wsLn.Addr()) + "/" }
	}
	return console.New(cfg, console.Deps{
		Auth:     n.keys,
		Keys:     api.StoreService{Keys: n.keys},
		Feeds:    api.StoreFeeds{Keys: n.keys},
		Conns:    liveConns{hub: n.hub, events: n.events, keys: n.keys},
		Metrics:  n.metrics.WritePrometheus,
		Monitors: &n.targets,
	})
}

// Status and Running show the engine's targets to the console, as
// Targets does to the admin API.
func (et *engineTargets) Status() []engine.TargetStatus {
	if e := et.eng.Load(); e != nil {
		return e.Status()
	}
	return nil
}

func (et *engineTargets) Running() bool { return et.eng.Load() != nil }

// ConsoleURL is where the dashboard is served.
func (n *Node) ConsoleURL() string {
	return "http://" + loopbackAddr(n.apiLn.Addr()) + console.Prefix + "/"
}
