package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is one node's membership in a stellarfeed cluster: its NATS
// connection (and, with NATS "embedded", possibly the server itself), the
// KV buckets, the membership heartbeat and the background loops started by
// Subscribe and SyncKeys. Close stops all of them.
type Cluster struct {
	cfg Config
	log *slog.Logger
	srv *server.Server // nil when this node is a client of another's server
	nc  *nats.Conn
	js  jetstream.JetStream

	keysKV, connsKV, nodesKV, claimsKV jetstream.KeyValue

	members *Members
	feeds   atomic.Pointer[Feeds]      // names feeds on the bus; see SetFeeds
	conns   atomic.Pointer[connCounts] // set by SyncKeys on broadcast nodes
	bus     *busMetrics
	claims  *claimMetrics
	// local is the hub Subscribe feeds: Publish delivers to it directly,
	// so this node's own pings reach its clients while NATS is down, and
	// the bus copy of them is skipped.
	local atomic.Pointer[Hub]
	// outage is set while NATS is unreachable, so failed publishes and
	// heartbeats are logged once per outage, not per ping.
	outage atomic.Bool
	// reconnected is closed (and replaced) on every NATS reconnect.
	reconnected atomic.Pointer[chan struct{}]

	ctx    context.Context // ends at Close: the background loops' lifetime
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeOnce sync.Once
}

// Start joins the cluster: it starts the embedded server when configured
// and this process wins its port, connects, creates the KV buckets, and
// announces the node. It returns once the node knows the current members.
// On error nothing is left running.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (_ *Cluster, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "cluster", "node", cfg.NodeID)
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c := &Cluster{cfg: cfg, log: log, ctx: bg, cancel: cancel}
	c.reconnected.Store(new(make(chan struct{})))
	c.bus = newBusMetrics(cfg.Metrics)
	c.claims = newClaimMetrics(cfg.Metrics)
	defer func() {
		if err != nil {
			c.Close()
		}
	}()

	url := cfg.NATS
	if cfg.NATS == Embedded {
		if url, err = c.startEmbedded(); err != nil {
			return nil, err
		}
	}
	if err := c.connect(ctx, url); err != nil {
		return nil, err
	}
	if c.js, err = jetstream.New(c.nc); err != nil {
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	if err := c.createBuckets(ctx); err != nil {
		return nil, err
	}
	c.members = newMembers(c)
	if err := c.members.start(ctx); err != nil {
		return nil, err
	}
	log.Info("joined cluster", "nats", c.nc.ConnectedUrlRedacted(), "roles", cfg.Roles, "embeddedServer", c.srv != nil)
	return c, nil
}

// startEmbedded runs nats-server with JetStream on EmbeddedListen, unless
// another process on the box already listens there: then this node is a
// client of that one. It returns the URL to connect to.
func (c *Cluster) startEmbedded() (string, error) {
	host, portS, _ := net.SplitHostPort(c.cfg.EmbeddedListen)
	port, err := strconv.Atoi(portS)
	if err != nil {
		return "", fmt.Errorf("cluster.embeddedListen: port %q: %w", portS, err)
	}
	if port != 0 {
		// Probe: the server reports a busy port only through its logger.
		ln, err := net.Listen("tcp", c.cfg.EmbeddedListen)
		if err != nil {
			c.log.Info("embedded NATS port in use: joining the server already running there", "addr", c.cfg.EmbeddedListen)
			return "nats://" + c.cfg.EmbeddedListen, nil
		}
		ln.Close()
	} else {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "stellarfeed-" + c.cfg.NodeID,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   filepath.Join(c.cfg.DataDir, "nats"),
		NoSigs:     true,
		// Pings are small; this bounds a bad publisher.
		MaxPayload: 1 << 20,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return "", fmt.Errorf("cluster: embedded NATS server: %w", err)
	}
	srv.SetLogger(natsLogger{c.log.With("component", "nats-server")}, false, false)
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		if c.cfg.EmbeddedListen != "" && port != server.RANDOM_PORT {
			// Lost the race for the port to another process: join it.
			c.log.Info("embedded NATS did not start (port taken?): joining the server on its port", "addr", c.cfg.EmbeddedListen)
			return "nats://" + c.cfg.EmbeddedListen, nil
		}
		return "", fmt.Errorf("cluster: embedded NATS server on %s not ready after 10s", c.cfg.EmbeddedListen)
	}
	c.srv = srv
	return srv.ClientURL(), nil
}

// connect dials NATS, retrying until ConnectTimeout: in docker-compose the
// server may start after the node.
func (c *Cluster) connect(ctx context.Context, url string) error {
	opts := []nats.Option{
		nats.Name("stellarfeed-" + c.cfg.NodeID),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.PingInterval(5 * time.Second),
		// Pings published while disconnected fail at once instead of
		// waiting in a buffer: replayed after the outage they would reach
		// the other nodes' clients late, and twice for restocks their own
		// engines pinged meanwhile. This node's clients got them directly.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			c.outage.Store(true)
			c.log.Warn("NATS disconnected; serving local clients and local pings only, reconnecting with backoff", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			c.outage.Store(false)
			close(*c.reconnected.Swap(new(make(chan struct{}))))
			c.log.Info("NATS reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				c.bus.slow.Inc()
			}
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			c.log.Warn("NATS async error", "subject", subj, "err", err)
		}),
	}
	deadline := time.Now().Add(c.cfg.ConnectTimeout)
	for {
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			c.nc = nc
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: connect to NATS %s: %w", url, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: connect to NATS %s: %w", url, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// reconnectDelay backs off from 250 ms to 4 s, with up to 25% jitter so
// nodes that lost one server do not reconnect in lockstep.
func reconnectDelay(attempts int) time.Duration {
	d := 4 * time.Second
	if attempts < 5 {
		d = 250 * time.Millisecond << attempts
	}
	return d + time.Duration(rand.Int64N(int64(d/4)))
}

// Bucket names, after the prefix.
const (
	bucketKeys   = "_keys"
	bucketConns  = "_conns"
	bucketNodes  = "_nodes"
	bucketClaims = "_claims"
)

func (c *Cluster) createBuckets(ctx context.Context) error {
	p := c.cfg.Prefix
	specs := []struct {
		dst *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		// Keys are durable: file storage, a little history for audits.
		{&c.keysKV, jetstream.KeyValueConfig{Bucket: p + bucketKeys, Description: "stellarfeed keys (hash, never secrets)", History: 5, Storage: jetstream.FileStorage}},
		// Counts and heartbeats are small and rewritten all the time, but
		// file storage keeps the buckets across a NATS restart (memory
		// streams vanish, and every put would fail until the nodes
		// restarted). MaxAge sweeps the entries of dead nodes.
		{&c.connsKV, jetstream.KeyValueConfig{Bucket: p + bucketConns, Description: "live connections per key and node", Storage: jetstream.FileStorage, TTL: time.Hour}},
		{&c.nodesKV, jetstream.KeyValueConfig{Bucket: p + bucketNodes, Description: "node heartbeats", Storage: jetstream.FileStorage, TTL: time.Hour}},
		// A claim lives exactly ClaimWindow: once it expired, the next
		// restock of the offer can be claimed again.
		{&c.claimsKV, jetstream.KeyValueConfig{Bucket: p + bucketClaims, Description: "restock claims", Storage: jetstream.FileStorage, TTL: c.cfg.ClaimWindow}},
	}
	for _, s := range specs {
		s.cfg.Replicas = c.cfg.Replicas
		var kv jetstream.KeyValue
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			// Several nodes start at once: the loser of a creation race
			// finds the bucket on the next attempt.
			if kv, err = c.js.CreateOrUpdateKeyValue(ctx, s.cfg); err == nil {
				break
			}
			if kv, err = c.js.KeyValue(ctx, s.cfg.Bucket); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("cluster: KV bucket %s: %w", s.cfg.Bucket, err)
		}
		*s.dst = kv
	}
	return nil
}

// goLoop runs fn until the cluster closes; the loop owns its own retries.
func (c *Cluster) goLoop(name string, fn func(ctx context.Context)) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn(c.ctx)
		c.log.Debug("loop stopped", "loop", name)
	}()
}

// Close leaves the cluster: it withdraws the node's membership and
// connection counts (so its targets move at once), stops the loops,
// drains the connection and stops the embedded server. Clients of an
// embedded server lose NATS when its process closes; see doc.go.
func (c *Cluster) Close() {
	c.closeOnce.Do(func() {
		// Stop the heartbeat before withdrawing, or a late beat would
		// bring the node back for NodeTTL.
		c.cancel()
		c.wg.Wait()
		if c.members != nil {
			c.members.leave()
		}
		if c.nc != nil {
			if err := c.nc.Drain(); err != nil {
				c.nc.Close()
			}
			// Drain is asynchronous: wait for it so no NATS goroutine outlives Close.
			for i := 0; i < 200 && !c.nc.IsClosed(); i++ {
				time.Sleep(10 * time.Millisecond)
			}
			c.nc.Close()
		}
		if c.srv != nil {
			c.srv.Shutdown()
			c.srv.WaitForShutdown()
		}
	})
}

// NodeID is this node's ID.
func (c *Cluster) NodeID() string { return c.cfg.NodeID }

// Config returns the configuration with defaults applied.
func (c *Cluster) Config() Config { return c.cfg }

// URL is the NATS server this node is connected to, for other processes
// (tests start the first node embedded on a random port).
func (c *Cluster) URL() string {
	if c.srv != nil {
		return c.srv.ClientURL()
	}
	return c.nc.ConnectedUrl()
}

// Members is the node's view of the cluster membership.
func (c *Cluster) Members() *Members { return c.members }

// natsLogger routes nats-server's log to slog. Fatalf only logs: the
// server must never exit the process (a busy port is reported that way).
type natsLogger struct{ l *slog.Logger }

func (n natsLogger) Noticef(f string, v ...any) { n.l.Debug(fmt.Sprintf(f, v...)) }
func (n natsLogger) Warnf(f string, v ...any)   { n.l.Warn(fmt.Sprintf(f, v...)) }
func (n natsLogger) Fatalf(f string, v ...any)  { n.l.Error(fmt.Sprintf(f, v...)) }
func (n natsLogger) Errorf(f string, v ...any)  { n.l.Error(fmt.Sprintf(f, v...)) }
func (n natsLogger) Debugf(f string, v ...any)  {}
func (n natsLogger) Tracef(f string, v ...any)  {}

var _ server.Logger = natsLogger{}

// watch starts watching kv for the cluster's lifetime (the watcher's
// goroutines end at Close) and returns the entries present now; the
// replay is bounded by ctx.
func (c *Cluster) watch(ctx context.Context, kv jetstream.KeyValue) (jetstream.KeyWatcher, []jetstream.KeyValueEntry, error) {
	w, err := kv.WatchAll(c.ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: watch %s: %w", kv.Bucket(), err)
	}
	var initial []jetstream.KeyValueEntry
	for {
		select {
		case <-ctx.Done():
			w.Stop()
			return nil, nil, fmt.Errorf("cluster: watch %s: %w", kv.Bucket(), ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, nil, fmt.Errorf("cluster: watch %s: closed during replay", kv.Bucket())
			}
			if e == nil { // end of the replay
				return w, initial, nil
			}
			initial = append(initial, e)
		}
	}
}

// follow applies w's updates until Close. The watcher's channel closes
// only when the watch is stopped; if it closes earlier, replication of
// that bucket has stopped and the node needs a restart: said loudly.
//
// After every NATS reconnect it watches kv again and hands the replay to
// replay (apply when nil): the server may have restarted, and a watch's
// ordered consumer notices that only after missed heartbeats (measured:
// ~19 s), during which key changes would not replicate.
func (c *Cluster) follow(name string, kv jetstream.KeyValue, w jetstream.KeyWatcher, apply, replay func(jetstream.KeyValueEntry)) {
	if replay == nil {
		replay = apply
	}
	c.goLoop(name, func(ctx context.Context) {
		defer func() { w.Stop() }()
		for {
			reconnected := *c.reconnected.Load()
			select {
			case <-ctx.Done():
				return
			case <-reconnected:
				wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				nw, initial, err := c.watch(wctx, kv)
				cancel()
				if err != nil {
					if ctx.Err() == nil {
						c.log.Warn("KV watch not renewed after reconnecting; the old one resumes by itself", "loop", name, "err", err)
					}
					continue
				}
				w.Stop()
				w = nw
				for _, e := range initial {
					replay(e)
				}
			case e, ok := <-w.Updates():
				if !ok {
					if ctx.Err() == nil {
						c.log.Error("KV watch ended unexpectedly; restart the node", "loop", name)
					}
					return
				}
				if e != nil {
					apply(e)
				}
			}
		}
	})
}
