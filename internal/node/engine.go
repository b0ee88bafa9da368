package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/internal/discord"
	"github.com/stellarfeed/stellarfeed/internal/sim"
	"github.com/stellarfeed/stellarfeed/monitors"
)

// demoInterval is how often `make run` checks each demo product: quick
// enough that restocks show within seconds, easy on a laptop.
const demoInterval = 2 * time.Second

// startSim serves the built-in retailer simulator. With no configured
// targets the engine watches the simulator's demo catalog.
func (n *Node) startSim(ctx context.Context) error {
	sc := n.cfg.SimConfig
	if len(sc.Catalog.Products) == 0 {
		sc.Catalog = sim.DemoCatalog()
	}
	if sc.FlipEvery == 0 {
		sc.FlipEvery = 3 * time.Second
	}
	if sc.Logger == nil {
		sc.Logger = n.log // the simulator names itself in its records
	}
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	addr := n.cfg.SimAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for the simulator on %s: %w", addr, err)
	}
	n.sim, n.simLn = sim.New(sc), ln
	n.goServe("sim", func() error { return ignoreClosed(n.sim.Serve(ln), http.ErrServerClosed) })
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.sim.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			n.log.Error("simulator flipper stopped", "err", err)
		}
	}()
	if len(n.cfg.Targets) == 0 {
		for _, t := range sim.CatalogTargets(sc.Catalog, "http://"+ln.Addr().String()) {
			n.cfg.Targets = append(n.cfg.Targets, engine.Target{Target: t, Interval: demoInterval, Group: "demo"})
		}
	}
	n.log.Info("retailer simulator serving", "addr", ln.Addr().String(), "products", len(sc.Catalog.Products))
	return nil
}

// startEngine runs the monitor engine with its dedupe state in the node's
// store, publishing restocks to the broadcaster and to Discord.
func (n *Node) startEngine(parent context.Context) error {
	state, err := engine.NewBoltState(n.db)
	if err != nil {
		return fmt.Errorf("dedupe state: %w", err)
	}
	opts := n.cfg.Engine
	opts.Logger = n.log.With("component", "engine")
	opts.Metrics = n.metrics
	if len(opts.Rules.OfferIDSites) == 0 {
		opts.Rules = n.cfg.Rules
	}
	outputs := []engine.Output{liveHub{pub: n.publisher(), eng: &n.targets, log: opts.Logger, feed: n.engineFeed}}
	if len(n.cfg.Discord.Webhooks) > 0 {
		dc := n.cfg.Discord
		dc.Logger = n.log.With("component", "discord")
		n.discord = discord.New(dc, &http.Client{Timeout: 15 * time.Second})
		outputs = append(outputs, n.discord)
	}
	if n.cluster != nil {
		// Two engine nodes owning one target for a moment (membership
		// change) ping each restock once.
		opts.Claim = n.cluster.Claim
	}
	lookup := n.cfg.Monitors
	if lookup == nil {
		lookup = monitors.New
	}
	eng, err := engine.New(opts, lookup, observedState{state, n.health.report}, outputs...)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	n.targetsMu.Lock()
	err = eng.ApplyTargets(n.share(n.cfg.Targets))
	n.targetsMu.Unlock()
	if err != nil {
		return fmt.Errorf("targets: %w", err)
	}
	n.engine = eng
	n.targets.eng.Store(eng)
	ctx, cancel := context.WithCancel(parent)
	n.cancelEngine = cancel
	n.engineWG.Add(1)
	go func() {
		defer n.engineWG.Done()
		if err := eng.Run(ctx); err != nil {
			n.log.Error("engine stopped", "err", err)
		}
	}()
	if n.cluster != nil {
		// Engine nodes joined or left: take this node's new share.
		n.engineWG.Add(1)
		go func() {
			defer n.engineWG.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case <-n.cluster.Members().Changes():
					n.targetsMu.Lock()
					err := eng.ApplyTargets(n.share(n.cfg.Targets))
					n.targetsMu.Unlock()
					if err != nil {
						n.log.Error("targets not re-sharded", "err", err)
					}
				}
			}
		}()
	}
	if n.discord != nil {
		n.engineWG.Add(1)
		go func() {
			defer n.engineWG.Done()
			if err := n.discord.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				n.log.Error("discord output stopped", "err", err)
			}
		}()
	}
	n.log.Info("monitor engine running", "targets", len(n.cfg.Targets))
	return nil
}

// Reload applies a changed target list: only changed targets restart, and
// WebSocket clients are untouched. ApplyConfig applies a whole reloaded
// config (targets, Stellar site names, dedupe).
func (n *Node) Reload(targets []engine.Target) error {
	if n.engine == nil {
		return errors.New("the monitor engine is not running")
	}
	n.targetsMu.Lock()
	defer n.targetsMu.Unlock()
	if err := n.engine.ApplyTargets(n.share(targets)); err != nil {
		return err
	}
	n.cfg.Targets = targets
	return nil
}

// Engine returns the monitor engine, or nil.
func (n *Node) Engine() *engine.Engine { return n.engine }

// Sim returns the simulator, or nil.
func (n *Node) Sim() *sim.Server { return n.sim }

// SimAddr returns the simulator's address, or nil.
func (n *Node) SimAddr() net.Addr {
	if n.simLn == nil {
		return nil
	}
	return n.simLn.Addr()
}
