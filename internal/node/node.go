package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gobwas/ws"
	bolt "go.etcd.io/bbolt"

	"github.com/stellarfeed/stellarfeed/broadcast"
	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/cluster"
	"github.com/stellarfeed/stellarfeed/internal/discord"
	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/sim"
	"github.com/stellarfeed/stellarfeed/internal/sse"
	"github.com/stellarfeed/stellarfeed/internal/stellar"
)

// Config is one process's setup. The zero value plus a DataDir is usable:
// it listens on the default ports with default limits.
type Config struct {
	DataDir string
	// WSAddr serves Stellar clients, APIAddr the HTTP API (ingest, admin,
	// health, metrics). Defaults ":8080" and ":8081".
	WSAddr, APIAddr string

	Broadcast broadcast.Config
	API       api.Config
	SSE       sse.Config
	Rules     stellar.Rules
	// UsageFlush is how often key usage is written to the store (default
	// 30 s): at most that much is lost on a crash, nothing on shutdown.
	UsageFlush time.Duration
	// Demo creates (or reuses) a demo subscriber key and ingest token.
	Demo bool

	// Engine runs the monitor engine over Targets when RunEngine is set.
	RunEngine bool
	Engine    engine.Options
	Targets   []engine.Target
	// Discord posts restocks (and sold-outs, if asked) to webhooks.
	Discord discord.Config
	// Sim starts the built-in retailer simulator on SimAddr (default
	// 127.0.0.1:0) and, when Targets is empty, watches its demo catalog.
	Sim       bool
	SimAddr   string
	SimConfig sim.Config

	// Cluster joins a NATS cluster when Cluster.NATS is set (see
	// internal/cluster); empty runs one process alone.
	Cluster cluster.Config
	// ReusePort sets SO_REUSEPORT on the WebSocket listener, so several
	// processes on one machine share the port.
	ReusePort bool

	Logger *slog.Logger
}

// Node is a running process. Start returns it; Shutdown stops it.
type Node struct {
	cfg     Config
	log     *slog.Logger
	db      *bolt.DB
	keys    *keys.Store
	hub     *broadcast.Server
	events  *sse.Hub // Server-Sent Events, fed the same pings as hub
	api     *api.API
	metrics *metrics.Set

	wsLn, apiLn net.Listener
	demo        DemoKeys

	engine  *engine.Engine // nil unless RunEngine
	discord *discord.Output
	sim     *sim.Server
	simLn   net.Listener
	cluster *cluster.Cluster // nil in single-process mode

	targetsMu sync.Mutex // guards cfg.Targets: Reload vs membership changes

	cancel context.CancelFunc // stops background loops
	wg     sync.WaitGroup

	cancelEngine context.CancelFunc // stops the engine and its outputs
	engineWG     sync.WaitGroup
	errc         chan error // first fatal error of a server loop
	unsub        func()
}

// Start opens the data directory and starts serving. On error nothing is
// left running.
func Start(ctx context.Context, cfg Config) (_ *Node, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("node: DataDir is required")
	}
	if cfg.WSAddr == "" {
		cfg.WSAddr = ":8080"
	}
	if cfg.APIAddr == "" {
		cfg.APIAddr = ":8081"
	}
	if cfg.UsageFlush <= 0 {
		cfg.UsageFlush = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Node{cfg: cfg, log: cfg.Logger, metrics: metrics.NewSet(), errc: make(chan error, 4), cancelEngine: func() {}}
	var cleanup []func()
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()

	if n.db, err = OpenDB(cfg.DataDir, false); err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { n.db.Close() })
	if n.keys, err = keys.Open(n.db, keys.WithLogger(n.log)); err != nil {
		return nil, fmt.Errorf("open key store: %w", err)
	}
	// The local CLI reads the admin token from the data directory.
	if _, err := adminToken(cfg.DataDir, n.keys); err != nil {
		return nil, err
	}
	if cfg.Demo {
		if n.demo, err = demoKeys(cfg.DataDir, n.keys); err != nil {
			return nil, err
		}
	}
	if cfg.Cluster.NATS != "" {
		if err := n.startCluster(ctx); err != nil {
			return nil, err
		}
		cleanup = append(cleanup, n.cluster.Close)
	}

	bcfg := cfg.Broadcast
	bcfg.Logger = n.log.With("component", "broadcast")
	fanout := n.metrics.NewPrometheusHistogram(`stellarfeed_fanout_latency_seconds`)
	bcfg.OnFanout = func(age time.Duration, _ int) { fanout.Update(age.Seconds()) }
	auth := &keyAuth{st: n.keys}
	if n.hub, err = broadcast.New(bcfg, auth); err != nil {
		return nil, fmt.Errorf("broadcaster: %w", err)
	}
	auth.hub = n.hub
	scfg := cfg.SSE
	scfg.Logger = n.log.With("component", "sse")
	n.events = sse.New(scfg)
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
	cleanup = append(cleanup, n.unsub)
	if n.cluster != nil && n.role(cluster.RoleBroadcast) {
		// Every ping accepted anywhere in the cluster reaches this node's
		// clients through the bus, its own included.
		if err := n.cluster.Subscribe(n.local()); err != nil {
			return nil, err
		}
	}

	n.api = api.New(cfg.API, api.Deps{
		Publisher: n.publisher(),
		SSE:       n.events,
		Conns:     hubConns{n.hub},
		Keys:      n.keys,
		Metrics:   n.metrics,
		Logger:    n.log.With("component", "api"),
		Rules:     cfg.Rules,
		Ready:     n.ready,
	})
	registerHubMetrics(n.metrics, n.hub)

	if n.wsLn, err = cluster.Listen(ctx, cfg.WSAddr, cfg.ReusePort); err != nil {
		return nil, fmt.Errorf("listen for WebSocket clients on %s: %w", cfg.WSAddr, err)
	}
	cleanup = append(cleanup, func() { n.wsLn.Close() })
	if n.apiLn, err = net.Listen("tcp", cfg.APIAddr); err != nil {
		return nil, fmt.Errorf("listen for the HTTP API on %s: %w", cfg.APIAddr, err)
	}
	cleanup = append(cleanup, func() { n.apiLn.Close() })
	if err := writeSecretFile(filepath.Join(cfg.DataDir, apiAddrFile), loopbackAddr(n.apiLn.Addr())); err != nil {
		return nil, fmt.Errorf("record API address: %w", err)
	}

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	n.goServe("broadcast", func() error { return ignoreClosed(n.hub.Serve(n.wsLn), broadcast.ErrServerClosed) })
	n.goServe("api", func() error { return ignoreClosed(n.api.Serve(n.apiLn), api.ErrServerClosed) })
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.keys.RunFlusher(bg, cfg.UsageFlush); err != nil && !errors.Is(err, context.Canceled) {
			n.log.Error("usage flusher stopped", "err", err)
		}
	}()
	cleanup = append(cleanup, func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = n.api.Shutdown(sctx)
		_ = n.hub.Shutdown(sctx)
		cancel()
		n.wg.Wait()
	})
	if cfg.Sim {
		if err := n.startSim(bg); err != nil {
			return nil, err
		}
		cleanup = append(cleanup, func() { n.sim.Shutdown(context.Background()) })
	}
	if cfg.RunEngine && n.role(cluster.RoleEngine) {
		if err := n.startEngine(bg); err != nil {
			return nil, err
		}
	}
	n.log.Info("serving", "ws", n.wsLn.Addr().String(), "api", n.apiLn.Addr().String(), "data", cfg.DataDir)
	return n, nil
}

func (n *Node) goServe(name string, serve func() error) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := serve(); err != nil {
			n.log.Error("server stopped", "server", name, "err", err)
			select {
			case n.errc <- fmt.Errorf("%s: %w", name, err):
			default:
			}
		}
	}()
}

func ignoreClosed(err, closed error) error {
	if errors.Is(err, closed) {
		return nil
	}
	return err
}

// Err reports a server loop that stopped by itself: the process should
// shut down.
func (n *Node) Err() <-chan error { return n.errc }

func (n *Node) ready() error {
	if n.hub == nil {
		return errors.New("starting")
	}
	return nil
}

// Shutdown stops producing pings, closes clients with 1001, flushes usage
// and closes the store. It returns ctx.Err() if that took too long.
func (n *Node) Shutdown(ctx context.Context) error {
	var errs []error
	// Producers first: the engine's Run returns once in-flight checks end,
	// and the Discord output flushes its queue when its context ends.
	n.cancelEngine()
	n.engineWG.Wait()
	if n.sim != nil {
		if err := n.sim.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("simulator: %w", err))
		}
	}
	if err := n.api.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("api: %w", err))
	}
	if err := n.hub.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("broadcast: %w", err))
	}
	if n.cluster != nil {
		n.cluster.Close() // leaves the membership: engine targets move now
	}
	n.unsub()
	n.cancel()
	n.wg.Wait()
	if err := n.keys.Flush(); err != nil {
		errs = append(errs, fmt.Errorf("flush usage: %w", err))
	}
	_ = os.Remove(filepath.Join(n.cfg.DataDir, apiAddrFile))
	if err := n.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	return errors.Join(errs...)
}

// publisher is where pings go: every local client endpoint.
// In a cluster that is the bus, which brings every ping back to the local
// endpoints of every broadcaster node.
func (n *Node) publisher() api.Publisher {
	if n.cluster != nil {
		return n.cluster.Publisher()
	}
	return n.local()
}

// Accessors for cmd/ and tests.
func (n *Node) WSAddr() net.Addr       { return n.wsLn.Addr() }
func (n *Node) APIAddr() net.Addr      { return n.apiLn.Addr() }
func (n *Node) Keys() *keys.Store      { return n.keys }
func (n *Node) Hub() *broadcast.Server { return n.hub }
func (n *Node) Demo() DemoKeys         { return n.demo }
func (n *Node) Metrics() *metrics.Set  { return n.metrics }

// loopbackAddr turns a wildcard listen address into one the local CLI can
// dial.
func loopbackAddr(a net.Addr) string {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return a.String()
	}
	if ap.Addr().IsUnspecified() {
		return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port()).String()
	}
	return ap.String()
}

// keyAuth adapts the key store to the broadcaster's Authenticator and
// ConnObserver.
type keyAuth struct {
	st  *keys.Store
	hub keyDisconnector // set once the hub exists, before it serves
}

func (a *keyAuth) Authenticate(key string, remote netip.Addr) (broadcast.Identity, error) {
	id, err := a.st.Authenticate(key, remote)
	if err != nil {
		var ae *keys.AuthError
		if errors.As(err, &ae) {
			return broadcast.Identity{}, &broadcast.AuthError{Status: ae.Status, Reason: ae.Reason}
		}
		return broadcast.Identity{}, err
	}
	return broadcast.Identity(id), nil
}

func (a keyAuth) Connected(id broadcast.Identity, remote netip.Addr) {
	a.st.Connected(id.KeyID, remote)
	a.recheck(id)
}

func (a *keyAuth) Disconnected(id broadcast.Identity, remote netip.Addr, dur time.Duration, delivered uint64) {
	a.st.Disconnected(id.KeyID, remote, dur, delivered)
}

// hubConns shows the broadcaster's connections to the admin API.
type hubConns struct{ hub *broadcast.Server }

func (h hubConns) Conns() []api.Conn {
	conns := h.hub.Conns()
	out := make([]api.Conn, len(conns))
	for i, c := range conns {
		out[i] = api.Conn{ID: c.ID, Endpoint: c.Endpoint, KeyID: c.KeyID, Label: c.Label, Remote: c.Remote, Since: c.Since, Delivered: c.Delivered}
	}
	return out
}

func (h hubConns) Kick(id uint64) bool {
	return h.hub.Kick(id, ws.StatusPolicyViolation, "kicked by the provider")
}

var (
	_ api.ConnAdmin           = hubConns{}
	_ broadcast.Authenticator = (*keyAuth)(nil)
	_ broadcast.ConnObserver  = (*keyAuth)(nil)
)
