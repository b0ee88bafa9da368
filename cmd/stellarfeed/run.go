package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/cluster"
	"github.com/stellarfeed/stellarfeed/internal/config"
	"github.com/stellarfeed/stellarfeed/internal/node"
	_ "github.com/stellarfeed/stellarfeed/monitors/all" // the built-in monitors register themselves
)

// shutdownGrace bounds a graceful stop: clients get 1001, usage is flushed.
const shutdownGrace = 15 * time.Second

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "", stderr)
	cfgPath := fs.String("config", "", "YAML config file; without one, the embedded demo runs (env STELLARFEED_CONFIG)")
	dataDir := fs.String("data", "", "data directory for keys, usage and dedupe state; overrides server.data (env STELLARFEED_DATA)")
	wsAddr := fs.String("ws-addr", "", "listen address for Stellar WebSocket clients; overrides server.ws (env STELLARFEED_WS_ADDR)")
	apiAddr := fs.String("api-addr", "", "listen address for the HTTP API; overrides server.api (env STELLARFEED_API_ADDR)")
	demo := fs.Bool("demo", true, "without --config: run the retailer simulator with demo SKUs and print demo keys (env STELLARFEED_DEMO)")
	simOn := fs.Bool("sim", false, "also serve the retailer simulator with a config (env STELLARFEED_SIM)")
	simAddr := fs.String("sim-addr", "127.0.0.1:0", "listen address of the simulator (env STELLARFEED_SIM_ADDR)")
	monitorsOn := fs.Bool("monitors", true, "run the monitor engine over the configured targets (env STELLARFEED_MONITORS)")
	logFormat := fs.String("log-format", "", "text or json; overrides server.logFormat (env STELLARFEED_LOG_FORMAT)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error; overrides server.logLevel (env STELLARFEED_LOG_LEVEL)")
	clusterNATS := fs.String("cluster", "", `join a cluster: NATS URL(s) "nats://host:4222" or "embedded"; empty runs alone (env STELLARFEED_CLUSTER)`)
	natsListen := fs.String("nats-listen", "", "with --cluster embedded: where the embedded NATS listens (default 127.0.0.1:4222) (env STELLARFEED_NATS_LISTEN)")
	nodeID := fs.String("node-id", "", "unique name of this process in the cluster (default host-pid) (env STELLARFEED_NODE_ID)")
	roles := fs.String("roles", "", "comma-separated roles in the cluster: broadcast,engine,ingest (default all) (env STELLARFEED_ROLES)")
	reusePort := fs.Bool("reuseport", false, "SO_REUSEPORT on the WebSocket port, for several processes on one port (env STELLARFEED_REUSEPORT)")
	usageFlush := fs.Duration("usage-flush", 0, "how often key usage is written to the data directory; a crash loses at most this much (default 30s) (env STELLARFEED_USAGE_FLUSH)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}

	file := config.Default()
	if *cfgPath != "" {
		var err error
		if file, err = config.Load(*cfgPath); err != nil {
			return err
		}
	}
	override(&file.Server.Data, *dataDir)
	override(&file.Server.WS, *wsAddr)
	override(&file.Server.API, *apiAddr)
	override(&file.Server.LogFormat, *logFormat)
	override(&file.Server.LogLevel, *logLevel)
	log, err := newLogger(stderr, file.Server)
	if err != nil {
		return err
	}

	cfg := node.FromConfig(file)
	cfg.Logger = log
	override(&cfg.Cluster.NATS, *clusterNATS)
	override(&cfg.Cluster.EmbeddedListen, *natsListen)
	override(&cfg.Cluster.NodeID, *nodeID)
	if *roles != "" {
		if cfg.Cluster.Roles, err = cluster.ParseRoles(*roles); err != nil {
			return err
		}
	}
	if flagSet(fs, "reuseport") {
		cfg.ReusePort = *reusePort
	}
	cfg.UsageFlush = *usageFlush
	useDemo := *demo && (*cfgPath == "" || flagSet(fs, "demo"))
	cfg.Demo = useDemo
	cfg.Sim = (useDemo && *cfgPath == "") || *simOn
	cfg.SimAddr = *simAddr
	cfg.RunEngine = *monitorsOn && (len(cfg.Targets) > 0 || cfg.Sim)

	n, err := node.Start(ctx, cfg)
	if err != nil {
		return err
	}
	if useDemo {
		printDemo(stdout, n)
	} else {
		printRunning(stdout, n, file, len(cfg.Targets), cfg.RunEngine)
	}
	printConsole(stdout, n, cfg.DataDir)
	if *cfgPath != "" && cfg.RunEngine {
		go watchConfig(ctx, *cfgPath, n, log)
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down", "grace", shutdownGrace)
	case err = <-n.Err():
		log.Error("shutting down after a server failed", "err", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if serr := n.Shutdown(sctx); serr != nil {
		return errors.Join(err, fmt.Errorf("shutdown: %w", serr))
	}
	return err
}

func override(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func newLogger(w io.Writer, s config.Server) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: s.SlogLevel()}
	switch s.LogFormat {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", s.LogFormat)
}

// watchConfig reloads the config when the file changes or on SIGHUP. A
// broken file keeps the running config and logs the exact error. Targets,
// Stellar site names and dedupe apply live; every other changed key is
// named in a warning: it takes a restart.
func watchConfig(ctx context.Context, path string, n *node.Node, log *slog.Logger) {
	// What the file said at start, before flags: what a restart-only
	// change is measured against.
	started, _ := config.Load(path)
	var mu sync.Mutex // the file watch and SIGHUP may reload at once
	apply := func(c *config.Config, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			log.Error("config not reloaded; the previous one keeps running", "file", path, "err", err)
			return
		}
		if err := n.ApplyConfig(c); err != nil {
			log.Error("config not reloaded; the previous one keeps running", "file", path, "err", err)
			return
		}
		log.Info("config reloaded", "file", path, "targets", len(c.Targets()))
		if started != nil {
			if keys := config.RestartNeeded(started, c); len(keys) > 0 {
				log.Warn("config: these changes take effect after a restart", "file", path, "keys", strings.Join(keys, ", "))
			}
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				apply(config.Load(path))
			}
		}
	}()
	if err := config.Watch(ctx, path, 500*time.Millisecond, apply); err != nil {
		log.Error("config watch stopped; SIGHUP still reloads", "err", err)
		<-ctx.Done()
	}
}

// printDemo tells a new user the three things to copy.
func printDemo(w io.Writer, n *node.Node) {
	ws, api := dialable(n.WSAddr()), dialable(n.APIAddr())
	d := n.Demo()
	fmt.Fprintf(w, `
stellarfeed is running on the embedded demo.

Stellar WebSocket URL (paste into Stellar's WebSocket settings):
  ws://%[1]s/?key=%[3]s

Watch the feed like a Stellar bot:
  bin/stellarfeed watch 'ws://%[1]s/?key=%[3]s'

Push a ping from your own monitor:
  curl -i -X POST http://%[2]s/api/pings \
    -H 'Authorization: Bearer %[4]s' -H 'Content-Type: application/json' \
    -d '{"site":"amazon","region":"USA","sku":"B09MQ5L5N9","offerId":"OID","details":{"productTitle":"Amazon Test","productImage":"https://www.image.com/","productPrice":"199.99"}}'

`, ws, api, d.Subscriber, d.Ingest)
	printDemoWebhook(w, ws, api, d)
	if sa := n.SimAddr(); sa != nil {
		fmt.Fprintf(w, "Retailer simulator: http://%s/_sim/products (restocks every few seconds)\nMetrics: http://%s/metrics\n\n", sa, api)
	}
}

// printConsole says where the dashboard is and how to log in to it.
func printConsole(w io.Writer, n *node.Node, dataDir string) {
	fmt.Fprintf(w, "Dashboard: %s\n  log in with the admin token: cat %s\n  (or, where there is no shell: stellarfeed admin-token --data %s)\n\n", n.ConsoleURL(), filepath.Join(dataDir, "admin.token"), dataDir)
}

// dialable turns a wildcard listen address into one a local client can use.
func dialable(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if host == "" || host == "::" || host == "0.0.0.0" || strings.HasPrefix(host, "[") {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
