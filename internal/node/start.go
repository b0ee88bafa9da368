package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gobwas/ws"

	"github.com/stellarfeed/stellarfeed/broadcast"
	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/cluster"
	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/listen"
	"github.com/stellarfeed/stellarfeed/internal/sse"
)

// The steps of Start, in the order it runs them. Each step that leaves
// something open or running pushes its undo, so a failed Start leaves
// nothing behind.

// undoStack holds what a failed Start must close, run last first.
type undoStack []func()

func (u *undoStack) push(f func()) { *u = append(*u, f) }

func (u undoStack) run() {
	for i := len(u) - 1; i >= 0; i-- {
		u[i]()
	}
}

func (cfg *Config) setDefaults() {
	if cfg.WSAddr == "" {
		cfg.WSAddr = ":8080"
	}
	if cfg.APIAddr == "" {
		cfg.APIAddr = ":8081"
	}
	if cfg.UsageFlush <= 0 {
		cfg.UsageFlush = 30 * time.Second
	}
	if cfg.StoreProbe <= 0 {
		cfg.StoreProbe = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
}

// openStore opens the data directory's database (read-only when it cannot
// be written), its health probe and the key store, and recovers what a
// crash left behind.
func (n *Node) openStore(undo *undoStack) error {
	roErr := error(nil)
	var err error
	if n.db, err = OpenDB(n.cfg.DataDir, false); err != nil {
		if n.db, roErr = openReadOnly(n.cfg.DataDir, err); roErr == nil {
			return err
		}
	}
	undo.push(func() { n.db.Close() })
	n.health = newStoreHealth(n.log.With("component", "store"), n.db, n.cfg.DataDir, n.cfg.StoreProbe, n.metrics)
	n.health.report(roErr)
	if n.keys, err = keys.Open(n.db, keys.WithLogger(n.log), keys.WithWriteObserver(n.health.report), keys.WithClock(n.clock.Now)); err != nil {
		return fmt.Errorf("open key store: %w", err)
	}
	if n.recovered, err = recoverDataDir(n.db, n.keys, n.health, n.log); err != nil {
		return err
	}
	return nil
}

// provision writes the admin token for the local CLI, the demo keys when
// asked for, and checks the engine's feed routes.
func (n *Node) provision() error {
	// The local CLI reads the admin token from the data directory.
	if _, err := adminToken(n.cfg.DataDir, n.keys); err != nil {
		return err
	}
	if n.cfg.Demo {
		var err error
		if n.demo, err = demoKeys(n.cfg.DataDir, n.keys); err != nil {
			return err
		}
	}
	if n.cfg.RunEngine {
		routes, err := n.checkFeedRoutes(n.cfg.EngineFeed, n.cfg.GroupFeeds)
		if err != nil {
			return err
		}
		n.routes.Store(routes)
	}
	return nil
}

// newHubs builds the WebSocket broadcaster, the SSE hub and the console,
// cuts a key's connections when the key loses access, and, in a cluster,
// feeds the hubs from the bus.
func (n *Node) newHubs(undo *undoStack) error {
	bcfg := n.cfg.Broadcast
	bcfg.Logger = n.log.With("component", "broadcast")
	// Fan-out takes microseconds to milliseconds: the default buckets
	// start at 5 ms and would put every pass in the first one.
	fanout := n.metrics.NewPrometheusHistogramExt(`stellarfeed_fanout_latency_seconds`, metrics.ExponentialBuckets(25e-6, 2, 16))
	bcfg.OnFanout = func(age time.Duration, _ int) { fanout.Update(age.Seconds()) }
	auth := &keyAuth{st: n.keys}
	var err error
	if n.hub, err = broadcast.New(bcfg, auth); err != nil {
		return fmt.Errorf("broadcaster: %w", err)
	}
	auth.hub = n.hub
	scfg := n.cfg.SSE
	if scfg.FirstID == 0 {
		scfg.FirstID = firstSSEID(time.Now(), n.recovered.SSENext)
	}
	scfg.Logger = n.log.With("component", "sse")
	n.events = sse.New(scfg)
	n.console = n.newConsole()
	// Revoking, disabling or expiring a key cuts its live connections
	// everywhere at once. The callback runs under the store's lock, so the
	// disconnect is handed to a goroutine.
	n.unsub = n.keys.Subscribe(func(c keys.Change) {
		if c.CutsAccess() && c.Key.Kind == keys.KindSubscriber {
			id, reason := c.Key.ID, "key "+c.Op.String()
			go n.hub.DisconnectKey(id, ws.StatusPolicyViolation, reason)
			n.events.DisconnectKey(id) // only closes queues: safe under the store's lock
		}
	})
	undo.push(n.unsub)
	if n.cluster != nil && n.role(cluster.RoleBroadcast) {
		// Every ping accepted anywhere in the cluster reaches this node's
		// clients through the bus, its own included.
		if err := n.cluster.Subscribe(n.local()); err != nil {
			return err
		}
	}
	return nil
}

// newAPI builds the HTTP API over the hubs and the key store.
func (n *Node) newAPI() {
	n.api = api.New(n.cfg.API, api.Deps{
		Console:   n.console,
		Publisher: n.publisher(),
		SSE:       n.events,
		Conns:     liveConns{hub: n.hub, events: n.events, keys: n.keys},
		Targets:   &n.targets,
		Keys:      n.keys,
		Metrics:   n.metrics,
		Logger:    n.log.With("component", "api"),
		Rules:     n.cfg.Rules,
		LiveRules: n.targets.liveRules(n.cfg.Rules),
		Ready:     n.ready,
		Degraded:  n.health.degraded,
		Now:       n.clock.Now,
	})
	registerHubMetrics(n.metrics, n.hub)
}

// listen opens the WebSocket and API listeners and records the API's
// address for the local CLI.
func (n *Node) listen(ctx context.Context, undo *undoStack) error {
	var err error
	if n.wsLn, err = listen.TCP(ctx, n.cfg.WSAddr, n.cfg.ReusePort); err != nil {
		return fmt.Errorf("listen for WebSocket clients on %s: %w", n.cfg.WSAddr, err)
	}
	undo.push(func() { n.wsLn.Close() })
	if n.apiLn, err = net.Listen("tcp", n.cfg.APIAddr); err != nil {
		return fmt.Errorf("listen for the HTTP API on %s: %w", n.cfg.APIAddr, err)
	}
	undo.push(func() { n.apiLn.Close() })
	if err := writeSecretFile(filepath.Join(n.cfg.DataDir, apiAddrFile), loopbackAddr(n.apiLn.Addr())); err != nil {
		// Serving matters more than the CLI finding us (disk full): the
		// CLI can still be given --api.
		n.health.report(err)
		n.log.Warn("API address not recorded for the local CLI", "err", err)
	}
	return nil
}

// serve starts the servers and the background loops (store probe, key
// expiry, usage flusher). It returns the context those loops live in,
// which outlives ctx and ends at Shutdown.
func (n *Node) serve(ctx context.Context, undo *undoStack) context.Context {
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	n.goServe("broadcast", func() error { return ignoreClosed(n.hub.Serve(n.wsLn), broadcast.ErrServerClosed) })
	n.goServe("api", func() error { return ignoreClosed(n.api.Serve(n.apiLn), api.ErrServerClosed) })
	n.wg.Go(func() { n.health.run(bg) })
	n.wg.Go(func() { n.runExpiry(bg, expirySweep) })
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.keys.RunFlusher(bg, n.cfg.UsageFlush); err != nil && !errors.Is(err, context.Canceled) {
			n.log.Error("usage flusher stopped", "err", err)
		}
	}()
	undo.push(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = n.api.Shutdown(sctx)
		_ = n.hub.Shutdown(sctx)
		cancel()
		n.wg.Wait()
	})
	return bg
}

// startProducers starts what makes pings: the simulator, then the engine
// when this node has the engine role.
func (n *Node) startProducers(bg context.Context, undo *undoStack) error {
	if n.cfg.Sim {
		if err := n.startSim(bg); err != nil {
			return err
		}
		undo.push(func() { n.sim.Shutdown(context.Background()) })
	}
	if n.cfg.RunEngine && n.role(cluster.RoleEngine) {
		if err := n.startEngine(bg); err != nil {
			return err
		}
	}
	return nil
}
