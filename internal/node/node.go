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
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	bolt "go.etcd.io/bbolt"

	"github.com/stellarfeed/stellarfeed/broadcast"
	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/cluster"
	"github.com/stellarfeed/stellarfeed/internal/console"
	"github.com/stellarfeed/stellarfeed/internal/discord"
	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/sim"
	"github.com/stellarfeed/stellarfeed/internal/sse"
	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
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
	// StoreProbe is how often a data directory that failed a write is
	// probed for recovery (default 2 s); see storeHealth.
	StoreProbe time.Duration
	// Demo creates (or reuses) a demo subscriber key and ingest token.
	Demo bool

	// Engine runs the monitor engine over Targets when RunEngine is set.
	RunEngine bool
	Engine    engine.Options
	Targets   []engine.Target
	// EngineFeed is the feed restocks go to ("" = default); GroupFeeds
	// routes a target group's restocks to another feed (see feeds.go).
	EngineFeed string
	GroupFeeds map[string]string
	// Monitors resolves a target's site to its monitor (nil: monitors.New);
	// FromConfig sets it when the config has per-site options.
	Monitors func(site string) (monitors.Monitor, error)
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
	// Console tunes the dashboard under /admin/ on the API port.
	Console console.Config
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
	console *console.Console

	wsLn, apiLn net.Listener
	targets     engineTargets // the engine's status, for the admin API
	routes      atomic.Pointer[feedRoutes]
	demo        DemoKeys
	health      *storeHealth
	clock       *steadyClock // key expiry, quotas, usage times: see steadyClock
	recovered   Recovered

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
	cfg.setDefaults()
	n := &Node{cfg: cfg, log: cfg.Logger, metrics: metrics.NewSet(), errc: make(chan error, 4), cancelEngine: func() {},
		clock: newSteadyClock(cfg.Logger)}
	var undo undoStack
	defer func() {
		if err != nil {
			undo.run()
		}
	}()

	if err := n.openStore(&undo); err != nil {
		return nil, err
	}
	if err := n.provision(); err != nil {
		return nil, err
	}
	if cfg.Cluster.NATS != "" {
		if err := n.startCluster(ctx); err != nil {
			return nil, err
		}
		undo.push(n.cluster.Close)
	}
	if err := n.newHubs(&undo); err != nil {
		return nil, err
	}
	n.newAPI()
	if err := n.listen(ctx, &undo); err != nil {
		return nil, err
	}
	bg := n.serve(ctx, &undo)
	if err := n.startProducers(bg, &undo); err != nil {
		return nil, err
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
	if n.db.IsReadOnly() {
		n.log.Warn("usage counted since the start is not saved: the data directory was read-only at start")
	} else {
		if err := n.keys.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("flush usage: %w", err))
		}
		if err := markStopped(n.db, n.events.Stats().LastID+1); err != nil {
			errs = append(errs, fmt.Errorf("record clean shutdown: %w", err))
		}
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

// Recovered is what Start found in the data directory.
func (n *Node) Recovered() Recovered { return n.recovered }

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
	// Expiry is enforced by the node's sweep on its steady clock, not by
	// the broadcaster's, which reads the system clock (see runExpiry).
	id.Expires = time.Time{}
	return broadcast.Identity(id), nil
}

// AuthenticateSession admits a /ws handshake by its /api/login cookie.
func (a *keyAuth) AuthenticateSession(token string, remote netip.Addr) (broadcast.Identity, error) {
	id, err := a.st.AuthenticateSession(token, remote)
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

var (
	_ api.ConnAdmin           = liveConns{}
	_ broadcast.Authenticator = (*keyAuth)(nil)
	_ broadcast.ConnObserver  = (*keyAuth)(nil)
)
