package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"
)

// Regimes.
const (
	RegimeSteady   = "steady"
	RegimeOverload = "overload"
)

// Options configure a bench run. The zero value is completed by
// (*Options).defaults: gorilla and nbio at N=1,000, M=50, both regimes.
type Options struct {
	Servers  []string // started by the harness: ours, ours-cluster, gorilla, nbio (nil: gorilla, nbio; empty: none)
	Nodes    int      // processes of an ours-cluster server; default 3
	Targets  []Target // already running servers
	Conns    []int    // connection counts N, one run set each
	Pings    int      // pings M per regime
	PingSize int      // bytes of ping JSON (~600)
	Regimes  []string // steady, overload
	// SteadyInterval 0 means 200 ms + 40 µs × N: longer than a pass.
	SteadyInterval   time.Duration
	OverloadInterval time.Duration // default 20 ms
	Floor            bool          // also measure the raw-write floor
	ConnsPerProc     int           // default 5,000 (20,000 fds per process)
	ReadersPerProc   int           // epoll readers per client process; default 2
	SrcIPs           []string      // default 127.0.0.2 … 127.0.0.9
	Keys             int           // subscriber keys per server; default 1
	OursBin          string        // stellarfeed binary; built from ./cmd/stellarfeed when empty
	BaselinesDir     string        // bench/baselines module; found from the cwd when empty
	WorkDir          string        // logs, data and binaries; a temp dir when empty
	OutDir           string        // JSON per run, summary.md, report.html; none when empty
	ConnectTimeout   time.Duration // whole connect phase; default 2 min
	QuietTimeout     time.Duration // end a drain after this long without a delivery; default 5 s
	DrainTimeout     time.Duration // hard cap on a drain after the last publish; default 60 s
	Settle           time.Duration // idle wait before reading RSS; default 1 s
	ClientCommand    []string      // argv that runs ClientMain; default: this binary, same args
	Progress         io.Writer     // progress bars (only drawn on a terminal); nil: none
	Log              *slog.Logger  // default: text to stderr, above the progress bars

	logSink *switchWriter // set by defaults when it builds Log
}

// MatrixOptions is `make bench`: N ∈ {1,000, 5,000, 10,000, 19,000} × both
// regimes × {ours, gorilla, nbio} plus the floor, M = 50 pings of 600 bytes.
func MatrixOptions() Options {
	return Options{
		Servers: []string{KindOurs, KindGorilla, KindNbio},
		Conns:   []int{1000, 5000, 10000, 19000},
		Pings:   50, PingSize: 600, Floor: true,
		Regimes: []string{RegimeSteady, RegimeOverload},
	}
}

func (o *Options) defaults() {
	if o.Servers == nil && len(o.Targets) == 0 { // non-nil empty: the floor alone
		o.Servers = []string{KindGorilla, KindNbio}
	}
	if len(o.Conns) == 0 {
		o.Conns = []int{1000}
	}
	if o.Pings <= 0 {
		o.Pings = 50
	}
	if o.PingSize <= 0 {
		o.PingSize = 600
	}
	if len(o.Regimes) == 0 {
		o.Regimes = []string{RegimeSteady, RegimeOverload}
	}
	if o.OverloadInterval <= 0 {
		o.OverloadInterval = 20 * time.Millisecond
	}
	if o.ConnsPerProc <= 0 {
		o.ConnsPerProc = 5000
	}
	if o.ReadersPerProc <= 0 {
		o.ReadersPerProc = 2
	}
	if len(o.SrcIPs) == 0 {
		for i := 2; i <= 9; i++ {
			o.SrcIPs = append(o.SrcIPs, fmt.Sprintf("127.0.0.%d", i))
		}
	}
	if o.Keys <= 0 {
		o.Keys = 1
	}
	if o.Nodes <= 0 {
		o.Nodes = DefaultNodes
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 2 * time.Minute
	}
	if o.QuietTimeout <= 0 {
		o.QuietTimeout = 5 * time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 60 * time.Second
	}
	if o.Settle <= 0 {
		o.Settle = time.Second
	}
	if o.Log == nil {
		o.logSink = &switchWriter{def: os.Stderr}
		o.Log = slog.New(slog.NewTextHandler(o.logSink, nil))
	}
}

func (o *Options) validate() error {
	for _, s := range o.Servers {
		switch s {
		case KindOurs, KindGorilla, KindNbio:
		case KindCluster:
			for _, n := range o.Conns {
				if per := (n + o.Nodes - 1) / o.Nodes; per > 19000 {
					return fmt.Errorf("conns: %d over %d nodes is %d per node, more than 20,000 fds per process allow (raise -nodes)", n, o.Nodes, per)
				}
			}
		default:
			return fmt.Errorf("servers: unknown server %q (ours, ours-cluster, gorilla, nbio)", s)
		}
	}
	for _, r := range o.Regimes {
		if r != RegimeSteady && r != RegimeOverload {
			return fmt.Errorf("regimes: unknown regime %q (steady, overload)", r)
		}
	}
	for _, n := range o.Conns {
		if n <= 0 || n > 200000 {
			return fmt.Errorf("conns: %d is out of range 1..200000", n)
		}
	}
	if o.Pings > 100000 {
		return fmt.Errorf("pings: %d is more than 100000", o.Pings)
	}
	if o.PingSize > 1500 {
		return fmt.Errorf("size: %d bytes does not fit Stellar's field limits (at most ~1,500)", o.PingSize)
	}
	if o.Nodes > 9 {
		return fmt.Errorf("nodes: %d is more than 9", o.Nodes)
	}
	if o.ConnsPerProc > 19000 {
		return fmt.Errorf("conns-per-proc: %d exceeds what 20,000 fds per process allow", o.ConnsPerProc)
	}
	return nil
}

// steadyInterval is longer than one pass at N, so pings never queue.
func (o *Options) steadyInterval(n int) time.Duration {
	if o.SteadyInterval > 0 {
		return o.SteadyInterval
	}
	return 200*time.Millisecond + time.Duration(n)*40*time.Microsecond
}

// Run executes every (server, N, regime) combination and returns the
// report; it writes the output directory when Options.OutDir is set.
// Failures of one server are recorded in the report (RunResult.Errors,
// Report.Skipped) and do not stop the others; Run returns an error only for
// bad options, baselines that do not build, an unwritable OutDir or a
// cancelled ctx (then with the partial report).
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	rep := &Report{StartedAt: time.Now().UTC(), CPUs: runtime.NumCPU(), GoVersion: runtime.Version(),
		Pings: o.Pings, PingSize: o.PingSize, Regimes: o.Regimes}
	work := o.WorkDir
	if work != "" {
		if err := os.MkdirAll(work, 0o755); err != nil {
			return nil, fmt.Errorf("work dir: %w", err)
		}
	} else {
		d, err := os.MkdirTemp("", "stellarfeed-bench-")
		if err != nil {
			return nil, fmt.Errorf("work dir: %w", err)
		}
		defer os.RemoveAll(d)
		work = d
	}
	bins := map[string]string{}
	for _, s := range o.Servers {
		switch s {
		case KindGorilla, KindNbio:
			if bins[KindGorilla] != "" {
				continue
			}
			g, nb, err := buildBaselines(ctx, o.BaselinesDir, work)
			if err != nil {
				return nil, err
			}
			bins[KindGorilla], bins[KindNbio] = g, nb
		case KindOurs, KindCluster:
			if bins[KindOurs] != "" {
				bins[s] = bins[KindOurs]
				continue
			}
			bin := o.OursBin
			if bin == "" {
				b, err := buildOurs(ctx, work)
				if err != nil {
					rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: %v", s, err))
					continue
				}
				bin = b
			}
			bins[KindOurs], bins[KindCluster] = bin, bin
		}
	}
	h := &harness{o: o, work: work, rep: rep}
	for _, n := range o.Conns {
		var floor *RunResult
		if o.Floor {
			rs := h.runServer(ctx, n, KindFloor, func() (*server, *floorServer, error) { return startFloor() }, []string{RegimeSteady})
			if len(rs) > 0 {
				floor = rs[0]
			}
		}
		var runs []*RunResult
		for _, kind := range o.Servers {
			bin, ok := bins[kind]
			if !ok {
				continue
			}
			start := func() (*server, *floorServer, error) {
				switch kind {
				case KindOurs:
					s, err := startOurs(ctx, bin, work, o.Keys)
					return s, nil, err
				case KindCluster:
					s, err := startCluster(ctx, bin, work, o.Keys, o.Nodes)
					return s, nil, err
				}
				s, err := startBaseline(ctx, kind, bin, work, o.Keys)
				return s, nil, err
			}
			runs = append(runs, h.runServer(ctx, n, kind, start, o.Regimes)...)
		}
		for _, t := range o.Targets {
			start := func() (*server, *floorServer, error) { s, err := fromTarget(t); return s, nil, err }
			runs = append(runs, h.runServer(ctx, n, t.Name, start, o.Regimes)...)
		}
		if floor != nil && floor.LastClient.P50 > 0 {
			for _, r := range runs {
				if r.Regime == RegimeSteady && r.LastClient.P50 > 0 {
					ratio := float64(r.LastClient.P50) / float64(floor.LastClient.P50)
					r.FloorRatio = &ratio
				}
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	rep.DurationMS = msSince(rep.StartedAt)
	if o.OutDir != "" {
		if err := rep.WriteDir(o.OutDir); err != nil {
			return rep, err
		}
	}
	return rep, ctx.Err()
}

type harness struct {
	o    Options
	work string
	rep  *Report
	mu   sync.Mutex
}

// runServer starts one server, connects N clients, runs each regime on the
// same connections and stops everything it started.
func (h *harness) runServer(ctx context.Context, n int, name string, start func() (*server, *floorServer, error), regimes []string) []*RunResult {
	if ctx.Err() != nil {
		return nil
	}
	o := h.o
	log := o.Log.With("server", name, "n", n)
	results := h.newResults(name, n, regimes)
	fail := func(err error) []*RunResult {
		log.Error("bench run failed", "err", err)
		for _, r := range results {
			r.Errors = append(r.Errors, err.Error())
		}
		return results
	}
	srv, floor, err := start()
	if err != nil {
		return fail(err)
	}
	defer func() {
		srv.client.CloseIdleConnections()
		if err := srv.stop(); err != nil {
			log.Warn("stop server", "err", err)
		}
	}()
	for _, r := range results {
		r.Kind = srv.kind
	}
	rssIdle, _ := srv.rss()

	prog := newProgress(o.Progress)
	defer prog.wait()
	if o.logSink != nil && prog != nil {
		o.logSink.set(prog)
		defer o.logSink.set(nil) // before wait: the container stops taking lines
	}
	procs, conn, err := h.connectClients(ctx, srv, name, n, o.Pings*len(regimes), prog)
	defer stopClients(procs)
	if err != nil {
		return fail(err)
	}
	log.Info("clients connected", "ok", conn.ok, "failed", conn.failed, "in", conn.wall.Round(time.Millisecond))
	conn.record(results, len(srv.nodes))
	if conn.ok == 0 {
		return fail(fmt.Errorf("%w: %s", errNoClients, conn.firstErr))
	}
	if err := h.measureIdle(ctx, srv, results, rssIdle, conn.ok); err != nil {
		return fail(err)
	}
	h.runRegimes(ctx, srv, floor, procs, prog, results, log)
	if err := h.collectPings(ctx, procs, results, log); err != nil {
		return fail(err)
	}
	return results
}

// newResults makes one result per regime, already listed in the report so
// a run that fails still shows up with its error.
func (h *harness) newResults(name string, n int, regimes []string) []*RunResult {
	o := h.o
	results := make([]*RunResult, len(regimes))
	for i, rg := range regimes {
		results[i] = &RunResult{Server: name, Regime: rg, N: n, Pings: o.Pings, PingBytes: o.PingSize}
		if rg == RegimeSteady {
			results[i].IntervalMS = float64(o.steadyInterval(n)) / float64(time.Millisecond)
		} else {
			results[i].IntervalMS = float64(o.OverloadInterval) / float64(time.Millisecond)
		}
	}
	h.mu.Lock()
	h.rep.Runs = append(h.rep.Runs, results...)
	h.mu.Unlock()
	return results
}

// connected is what the client processes reported after connecting.
type connected struct {
	procs, ok, failed int
	firstErr          string
	connectUS         int64
	nodeConns         []int // per node of a cluster, else nil
	wall              time.Duration
}

// record copies the connection figures into every result.
func (c *connected) record(results []*RunResult, nodes int) {
	for _, r := range results {
		r.ClientProcs = c.procs
		r.Connected, r.ConnectFailed, r.ConnectError = c.ok, c.failed, c.firstErr
		r.Nodes, r.NodeConns = nodes, c.nodeConns
		r.ConnectMS = float64(c.connectUS) / 1000
		if c.connectUS > 0 {
			r.ConnectPerSec = float64(c.ok) / (float64(c.connectUS) / 1e6)
		}
	}
}

// connectClients starts one client process per ConnsPerProc connections
// and waits until each has connected its share. The processes it started
// are returned even with an error: the caller stops them.
func (h *harness) connectClients(ctx context.Context, srv *server, name string, n, totalPings int, prog *progress) ([]*clientProc, *connected, error) {
	o := h.o
	cbar := prog.bar(fmt.Sprintf("%s N=%d connect", name, n), int64(n))
	defer cbar.done()
	nprocs := srv.clientProcs(n, o.ConnsPerProc)
	c := &connected{procs: nprocs}
	if len(srv.nodes) > 0 {
		c.nodeConns = make([]int, len(srv.nodes))
	}
	procs := make([]*clientProc, 0, nprocs)
	connStart := time.Now()
	for i := 0; i < nprocs; i++ {
		share := n / nprocs
		if i < n%nprocs {
			share++
		}
		ws := srv.wsFor(i)
		cfg := clientConfig{Addr: ws.Host, Path: ws.Path, Keys: srv.keys, Conns: share, First: i * o.ConnsPerProc,
			SrcIPs: o.SrcIPs, Pings: totalPings, Readers: o.ReadersPerProc, Handshake: 10 * time.Second, MaxFrame: DefaultMaxFrame}
		p, err := startClient(ctx, o.ClientCommand, cfg)
		if err != nil {
			return procs, nil, err
		}
		procs = append(procs, p)
	}
	for i, p := range procs {
		ev, err := p.wait(ctx, "connected", o.ConnectTimeout)
		if err != nil {
			return procs, nil, err
		}
		if c.nodeConns != nil {
			c.nodeConns[i%len(c.nodeConns)] += ev.OK
		}
		c.ok += ev.OK
		c.failed += ev.Failed
		c.connectUS = max(c.connectUS, ev.ConnectUS)
		if c.firstErr == "" {
			c.firstErr = ev.FirstErr
		}
		cbar.set(int64(c.ok + c.failed))
	}
	c.wall = time.Since(connStart)
	return procs, c, nil
}

func stopClients(procs []*clientProc) {
	for _, p := range procs {
		p.stop()
	}
}

// measureIdle records memory per connection and goroutines once the
// server has settled with every client connected and idle.
func (h *harness) measureIdle(ctx context.Context, srv *server, results []*RunResult, rssIdle int64, connected int) error {
	if err := sleepCtx(ctx, h.o.Settle); err != nil {
		return err
	}
	if rss, ok := srv.rss(); ok { // summed over the nodes of a cluster
		for _, r := range results {
			r.ServerRSSIdleBytes, r.ServerRSSConnectedBytes = rssIdle, rss
			r.MemPerConnBytes = float64(rss-rssIdle) / float64(connected)
		}
	}
	if g, ok := srv.goroutines(ctx); ok {
		for _, r := range results {
			r.ServerGoroutines = &g
		}
	}
	return nil
}

// runRegimes runs the regimes in order on the same connections; a failed
// regime is recorded in its result and the next one still runs.
func (h *harness) runRegimes(ctx context.Context, srv *server, floor *floorServer, procs []*clientProc, prog *progress, results []*RunResult, log *slog.Logger) {
	tmpl := newPingTemplate(h.o.PingSize)
	for i, r := range results {
		r.PingBytes = len(tmpl.body)
		if err := h.regime(ctx, srv, floor, procs, prog, r, i*h.o.Pings, tmpl); err != nil {
			r.Errors = append(r.Errors, err.Error())
			log.Error("regime failed", "regime", r.Regime, "err", err)
		}
		if ctx.Err() != nil {
			break
		}
	}
}

// collectPings merges the per-ping results of every client process and
// splits them by regime.
func (h *harness) collectPings(ctx context.Context, procs []*clientProc, results []*RunResult, log *slog.Logger) error {
	o := h.o
	pings := make([]pingCount, o.Pings*len(results))
	for _, p := range procs {
		ev, err := p.request(ctx, "result", "result", 30*time.Second)
		if err != nil {
			return err
		}
		for i := range min(len(ev.Pings), len(pings)) {
			pings[i].Deliveries += ev.Pings[i].Deliveries
			pings[i].Duplicates += ev.Pings[i].Duplicates
			pings[i].Hist.Merge(&ev.Pings[i].Hist)
		}
	}
	for i, r := range results {
		r.fill(pings[i*o.Pings : (i+1)*o.Pings])
		log.Info("regime done", "regime", r.Regime, "delivered", r.Delivered, "expected", r.Expected,
			"lost", r.Lost, "dups", r.Duplicates, "last_p50_ms", float64(r.LastClient.P50)/1000)
	}
	return nil
}

// regime publishes o.Pings pings with sequence numbers from seqBase and
// waits until every connected client has them, or deliveries stop.
func (h *harness) regime(ctx context.Context, srv *server, floor *floorServer, procs []*clientProc, prog *progress,
	r *RunResult, seqBase int, tmpl pingTemplate) error {
	marks, err := markClients(ctx, procs)
	if err != nil {
		return err
	}
	before := h.snapshot(ctx, srv, floor)
	dbar := prog.bar(fmt.Sprintf("%s N=%d %s deliveries", r.Server, r.N, r.Regime), int64(uint64(r.Connected)*uint64(h.o.Pings)))
	defer dbar.done()

	start := time.Now()
	pub := h.publish(ctx, srv, r, seqBase, tmpl, start)
	if err := h.drain(ctx, procs, r, pub, sumRecv(marks), dbar); err != nil {
		return err
	}
	r.DurationMS = msSince(start)
	h.recordServer(ctx, srv, r, before)
	return recordClients(ctx, procs, floor, r, marks)
}

// serverCounters are the server and host counters a regime reports as
// differences from its start.
type serverCounters struct {
	cpu   time.Duration
	bus   []busHist
	busOK bool
	net   netCounters
	netOK bool
}

// snapshot reads the counters at a regime's start and resets the floor
// server's pass statistics.
func (h *harness) snapshot(ctx context.Context, srv *server, floor *floorServer) serverCounters {
	var c serverCounters
	c.cpu, _ = srv.cpu()
	c.bus, c.busOK = srv.scrapeBus(ctx)
	c.net, c.netOK = readNetCounters()
	if floor != nil {
		floor.passStats() // reset
	}
	return c
}

// publisher tracks the pings a regime publishes; mu guards r's publish
// fields while posts are in flight.
type publisher struct {
	mu   sync.Mutex
	done chan struct{} // closed when every post has returned
}

// publish posts the regime's pings on a fixed schedule from start; each
// POST runs on its own goroutine so a slow ingest shows as latency, not as
// a slower publish rate.
func (h *harness) publish(ctx context.Context, srv *server, r *RunResult, seqBase int, tmpl pingTemplate, start time.Time) *publisher {
	o := h.o
	interval := time.Duration(r.IntervalMS * float64(time.Millisecond))
	pub := &publisher{done: make(chan struct{})}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	go func() {
		defer close(pub.done)
		for i := 0; i < o.Pings; i++ {
			if err := sleepUntil(ctx, start.Add(time.Duration(i)*interval)); err != nil {
				break
			}
			sem <- struct{}{}
			wg.Add(1)
			go func(seq int) {
				defer func() { <-sem; wg.Done() }()
				err := postPing(ctx, srv, tmpl, seq)
				pub.mu.Lock()
				defer pub.mu.Unlock()
				if err != nil {
					r.PublishErrors++
					if r.PublishError == "" {
						r.PublishError = err.Error()
					}
					// A refused ping (an HTTP status) is known unsent; after a
					// transport error or timeout the server may still have
					// accepted it, and its deliveries decide (see fill).
					if !errors.Is(err, errRefused) {
						r.pubUnknown = append(r.pubUnknown, seq-seqBase)
					}
				} else {
					r.Published++
				}
			}(seqBase + i)
		}
		wg.Wait()
	}()
	return pub
}

// postPing stamps a copy of the template with seq and the time, and posts it.
func postPing(ctx context.Context, srv *server, tmpl pingTemplate, seq int) error {
	body := append([]byte(nil), tmpl.body...)
	t := pingTemplate{body: body, offset: tmpl.offset}
	t.stamp(seq, time.Now().UnixNano())
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return srv.publish(pctx, body)
}

// drain waits for deliveries: it stops when every expected delivery
// arrived, when deliveries stop for QuietTimeout after the last publish,
// or at DrainTimeout; the last two are recorded as errors in r.
func (h *harness) drain(ctx context.Context, procs []*clientProc, r *RunResult, pub *publisher, recv0 uint64, dbar *bar) error {
	o := h.o
	target := uint64(r.Connected) * uint64(o.Pings)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	published := pub.done
	var pubDone time.Time
	lastRecv, lastChange := uint64(0), time.Now()
	for {
		select {
		case <-ctx.Done():
			<-pub.done
			return ctx.Err()
		case <-published:
			published = nil
			pubDone = time.Now()
			pub.mu.Lock()
			target = uint64(r.Connected) * uint64(r.Published+len(r.pubUnknown))
			pub.mu.Unlock()
		case <-tick.C:
		}
		var recv uint64
		for _, p := range procs {
			recv += p.counters().Recv
		}
		recv -= recv0
		dbar.set(int64(recv))
		if recv != lastRecv {
			lastRecv, lastChange = recv, time.Now()
		}
		if pubDone.IsZero() {
			continue
		}
		if recv >= target {
			// Let a duplicate sent right behind the last ping arrive.
			_ = sleepCtx(ctx, 100*time.Millisecond)
			return nil
		}
		if time.Since(lastChange) > o.QuietTimeout && time.Since(pubDone) > o.QuietTimeout {
			r.Errors = append(r.Errors, fmt.Sprintf("drain: no delivery for %s, %d of %d delivered", o.QuietTimeout, recv, target))
			return nil
		}
		if time.Since(pubDone) > o.DrainTimeout {
			r.Errors = append(r.Errors, fmt.Sprintf("drain: timeout %s, %d of %d delivered", o.DrainTimeout, recv, target))
			return nil
		}
	}
}

// recordServer stores what the server and the host spent during the
// regime: CPU, softnet drops and retransmits, bus latency.
func (h *harness) recordServer(ctx context.Context, srv *server, r *RunResult, before serverCounters) {
	if cpu1, ok := srv.cpu(); ok {
		r.ServerCPUMS = float64(cpu1-before.cpu) / float64(time.Millisecond)
	}
	if net1, ok := readNetCounters(); ok && before.netOK {
		r.SoftnetDrops, r.TCPRetrans = net1.Drops-before.net.Drops, net1.Retrans-before.net.Retrans
	}
	if before.busOK {
		if bus1, ok := srv.scrapeBus(ctx); ok {
			r.Bus = busDelta(before.bus, bus1)
		}
	}
}

// recordClients stores what the clients saw and spent since marks, and
// the floor server's pass times.
func recordClients(ctx context.Context, procs []*clientProc, floor *floorServer, r *RunResult, marks []clientEvent) error {
	_, closed0, proto0, unparsed0 := sumMarks(marks)
	var clientCPU int64
	for i, p := range procs {
		ev, err := p.request(ctx, "mark", "mark", 10*time.Second)
		if err != nil {
			return err
		}
		clientCPU += ev.CPUUS - marks[i].CPUUS
		marks[i] = ev
	}
	_, closed1, proto1, unparsed1 := sumMarks(marks)
	r.ClosedByServer = closed1 - closed0
	r.ProtocolErrors = proto1 - proto0
	r.Unparsed = unparsed1 - unparsed0
	r.ClientCPUMS = float64(clientCPU) / 1000
	if floor != nil {
		p50, mx, _ := floor.passStats()
		r.FloorPassUS = &PassStats{P50: p50.Microseconds(), Max: mx.Microseconds()}
	}
	return nil
}

// markClients asks every client process for its counters.
func markClients(ctx context.Context, procs []*clientProc) ([]clientEvent, error) {
	marks := make([]clientEvent, len(procs))
	for i, p := range procs {
		ev, err := p.request(ctx, "mark", "mark", 10*time.Second)
		if err != nil {
			return nil, err
		}
		marks[i] = ev
	}
	return marks, nil
}

func sumRecv(marks []clientEvent) uint64 {
	recv, _, _, _ := sumMarks(marks)
	return recv
}

func sumMarks(evs []clientEvent) (recv uint64, closed, proto int64, unparsed uint64) {
	for _, ev := range evs {
		recv += ev.Recv
		closed += ev.Closed
		proto += ev.ProtoErrors
		unparsed += ev.Unparsed
	}
	return
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func sleepUntil(ctx context.Context, at time.Time) error {
	if d := time.Until(at); d > 0 {
		return sleepCtx(ctx, d)
	}
	return ctx.Err()
}

func msSince(t time.Time) float64 { return float64(time.Since(t)) / float64(time.Millisecond) }
