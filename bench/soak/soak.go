package soak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/stellarfeed/stellarfeed/bench/abuse"
)

// Options configures a soak run.
type Options struct {
	Bin      string        // the stellarfeed binary
	Duration time.Duration // how long the load runs
	Every    time.Duration // sampling period; default 10 s
	Out      string        // directory for soak.csv, soak.png, server.log and the data directory

	Churners    int           // concurrent churning clients; default 40
	PingEvery   time.Duration // canary ping period; default 200 ms
	Canaries    int           // default 2
	RotateEvery time.Duration // key rotation round period; default 30 s
	// Prefill pings are published before the first sample (default
	// 16,384, the broadcaster's message log): the log keeps that many
	// recent pings, so until it is full the heap grows with every ping by
	// design, which would read as a leak. Negative: none.
	Prefill int
	// SimFaults is the body posted to the simulator's /_sim/faults.
	SimFaults string
	Limits    []Limit // default DefaultLimits

	Stdout io.Writer // progress lines; default io.Discard
	Logger *slog.Logger
}

// DefaultSimFaults turns on every fault the simulator knows, at rates a
// bad day at a retailer might show.
const DefaultSimFaults = `{"rate429":0.05,"rate503":0.03,"rateCaptcha":0.02,"rateBlocked":0.01,"rateSlow":0.02,"slowDelay":"2s","rateTruncated":0.02}`

func (o *Options) defaults() error {
	if o.Bin == "" || o.Out == "" || o.Duration <= 0 {
		return errors.New("soak: Bin, Out and a positive Duration are required")
	}
	if o.Every <= 0 {
		o.Every = 10 * time.Second
	}
	if o.Churners <= 0 {
		o.Churners = 60
	}
	if o.PingEvery <= 0 {
		o.PingEvery = 200 * time.Millisecond
	}
	if o.Canaries <= 0 {
		o.Canaries = 2
	}
	if o.RotateEvery <= 0 {
		o.RotateEvery = 30 * time.Second
	}
	if o.Prefill == 0 {
		o.Prefill = 16384
	}
	if o.SimFaults == "" {
		o.SimFaults = DefaultSimFaults
	}
	if o.Limits == nil {
		o.Limits = DefaultLimits
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Result is a finished soak.
type Result struct {
	Samples  []Sample // taken under load
	After    *Sample  // taken 3 s after the load stopped
	Growth   []Growth
	Canaries []abuse.Verdict // final verdict per canary
	Took     time.Duration
	Failures []string // why it failed; empty = passed
}

// Passed is true when nothing grew and nothing was lost.
func (r Result) Passed() bool { return len(r.Failures) == 0 }

// keyPool holds the churners' subscriber keys; the rotator replaces
// secrets under them.
type keyPool struct {
	mu      sync.Mutex
	ids     []string
	secrets []string
}

func (p *keyPool) pick(r *rand.Rand) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.secrets[r.IntN(len(p.secrets))]
}

func (p *keyPool) set(i int, secret string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.secrets[i] = secret
}

type counters struct {
	connects, pings, errs, refused atomic.Int64
	rotations, revocations, faults atomic.Int64
}

type run struct {
	opts   Options
	proc   *abuse.Process
	admin  *abuse.Admin
	pool   keyPool
	cnt    counters
	srcIPs []string
}

// Run soaks a server started from opts.Bin and writes its outputs into
// opts.Out. The error is for a run that could not be made; a run that
// found a leak or a loss returns a Result whose Failures say so.
func Run(ctx context.Context, opts Options) (Result, error) {
	if err := opts.defaults(); err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return Result{}, err
	}
	dataDir := filepath.Join(opts.Out, "data")
	_ = os.RemoveAll(dataDir)
	logf, err := os.Create(filepath.Join(opts.Out, "server.log"))
	if err != nil {
		return Result{}, err
	}
	defer logf.Close()
	proc, err := abuse.StartServer(ctx, opts.Bin, dataDir, logf)
	if err != nil {
		return Result{}, err
	}
	defer func() {
		if err := proc.Stop(); err != nil {
			opts.Logger.Warn("server stop", "err", err)
		}
	}()
	r := &run{opts: opts, proc: proc, admin: abuse.NewAdmin(proc.Target.API, proc.Target.AdminToken)}
	for i := 2; i <= 9; i++ {
		r.srcIPs = append(r.srcIPs, "127.0.0."+strconv.Itoa(i))
	}
	return r.soak(ctx)
}

func (r *run) soak(ctx context.Context) (Result, error) {
	t, o := r.proc.Target, r.opts
	if err := postFaults(ctx, r.proc.SimAddr, o.SimFaults); err != nil {
		return Result{}, err
	}
	for i := range 4 {
		k, err := r.admin.Create(ctx, "subscriber", "soak churn "+strconv.Itoa(i))
		if err != nil {
			return Result{}, err
		}
		r.pool.ids, r.pool.secrets = append(r.pool.ids, k.Key.ID), append(r.pool.secrets, k.Secret)
	}
	prefix := fmt.Sprintf("soak%d", time.Now().UnixNano())
	canaries := make([]*abuse.Canary, o.Canaries)
	for i := range canaries {
		k, err := r.admin.Create(ctx, "subscriber", "soak canary "+strconv.Itoa(i))
		if err != nil {
			return Result{}, err
		}
		if canaries[i], err = abuse.DialCanary(ctx, t.WS, k.Secret, prefix); err != nil {
			return Result{}, err
		}
		defer canaries[i].Close()
	}
	if err := prefill(ctx, t, o.Prefill); err != nil {
		return Result{}, err
	}
	pinger := abuse.NewPinger(t.API, t.IngestToken, prefix)
	from := make([]int, len(canaries)) // first ping each canary is owed
	for i, c := range canaries {
		var err error
		if from[i], err = abuse.WarmUp(ctx, pinger, c, 10*time.Second); err != nil {
			return Result{}, err
		}
	}

	start := time.Now()
	lctx, stop := context.WithTimeout(ctx, o.Duration)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() { pinger.Run(lctx, o.PingEvery) })
	for i := range o.Churners {
		wg.Go(func() { r.churn(lctx, i) })
	}
	wg.Go(func() { r.rotate(lctx) })

	csvf, err := os.Create(filepath.Join(o.Out, "soak.csv"))
	if err != nil {
		stop()
		wg.Wait()
		return Result{}, err
	}
	defer csvf.Close()
	fmt.Fprintln(csvf, csvHeader)
	var res Result
	var prevAccepted []int
	tick := time.NewTicker(o.Every)
	defer tick.Stop()
	sample := func() {
		s := r.sample(ctx, time.Since(start))
		s.Accepted = len(pinger.Accepted())
		for i, c := range canaries {
			v := abuse.Compare(since(prevAccepted, from[i]), c.Seqs())
			s.Received += v.Received
			s.Lost += v.Lost + v.Reordered + v.Dup
			if c.Err() != nil {
				s.Lost++ // a canary cut is a loss of everything after it
			}
		}
		prevAccepted = pinger.Accepted()
		res.Samples = append(res.Samples, s)
		fmt.Fprintln(csvf, s.csv())
		fmt.Fprintf(o.Stdout, "%s\n", s)
	}
	sample()
loop:
	for {
		select {
		case <-lctx.Done():
			break loop
		case <-r.proc.Exited():
			res.Failures = append(res.Failures, "the server exited during the soak")
			break loop
		case <-tick.C:
			sample()
		}
	}
	stop()
	wg.Wait()
	res.Took = time.Since(start)
	// An interrupted soak still reports what it saw.
	ctx = context.WithoutCancel(ctx)
	// Once the load has stopped, the server should be back near its idle
	// start: reported and drawn, but not part of the growth verdict.
	sleep(ctx, 3*time.Second)
	after := r.sample(ctx, time.Since(start))
	after.Accepted, after.Received = len(pinger.Accepted()), res.Samples[len(res.Samples)-1].Received
	res.After = &after
	fmt.Fprintln(csvf, after.csv())
	fmt.Fprintf(o.Stdout, "after the load: %s\n", after)

	// Final marker: every accepted ping must be at every canary.
	mctx, mcancel := context.WithTimeout(ctx, 30*time.Second)
	defer mcancel()
	last := 0
	for last == 0 && mctx.Err() == nil {
		if seq, code, err := pinger.Post(mctx); err == nil && code/100 == 2 {
			last = seq
		}
	}
	for i, c := range canaries {
		if err := c.WaitFor(mctx, last); err != nil {
			res.Failures = append(res.Failures, fmt.Sprintf("canary %d: %v", i, err))
		}
		v := abuse.Compare(pinger.AcceptedFrom(from[i]), c.Seqs())
		res.Canaries = append(res.Canaries, v)
		if !v.OK() {
			res.Failures = append(res.Failures, fmt.Sprintf("canary %d: %s", i, v))
		}
	}
	if n := r.cnt.faults.Load(); n > 0 {
		res.Failures = append(res.Failures, fmt.Sprintf("%d key rotations or revocations did not cut the old secret's connections", n))
	}
	g, err := JudgeGrowth(res.Samples, Warmup(o.Duration), o.Limits)
	if err != nil {
		res.Failures = append(res.Failures, err.Error())
	}
	res.Growth = g
	for _, x := range g {
		if !x.OK {
			res.Failures = append(res.Failures, x.String())
		}
	}
	if err := WriteChart(filepath.Join(o.Out, "soak.png"), append(slices.Clone(res.Samples), after), res.Took); err != nil {
		return res, err
	}
	return res, nil
}

// churn connects, receives for 1-8 s and disconnects, until ctx ends.
func (r *run) churn(ctx context.Context, i int) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))
	src := r.srcIPs[i%len(r.srcIPs)]
	for ctx.Err() == nil {
		key := r.pool.pick(rng)
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, br, err := abuse.DialWS(dctx, src, r.proc.Target.WS, key)
		cancel()
		if err != nil {
			var se ws.StatusError
			switch {
			case ctx.Err() != nil:
			case errors.As(err, &se) && int(se) == http.StatusUnauthorized:
				r.cnt.refused.Add(1) // its key was rotated a moment ago
			default:
				r.cnt.errs.Add(1)
				r.opts.Logger.Warn("churn dial", "err", err)
			}
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		r.cnt.connects.Add(1)
		hold := time.Second + time.Duration(rng.Int64N(int64(7*time.Second)))
		n, _ := abuse.DrainFor(c, br, hold)
		r.cnt.pings.Add(int64(n))
		switch rng.IntN(3) {
		case 0: // polite: close frame
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write(ws.CompiledCloseNormalClosure)
		case 1: // abrupt: RST
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
		}
		_ = c.Close()
		sleep(ctx, time.Duration(rng.Int64N(int64(300*time.Millisecond))))
	}
}

// rotate runs key rounds: create, connect, rotate (the old secret's
// connection must be cut), connect with the new secret, revoke (cut
// again); every other round it also rotates one of the churners' keys.
func (r *run) rotate(ctx context.Context) {
	t := time.NewTicker(r.opts.RotateEvery)
	defer t.Stop()
	for round := 0; ; round++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.keyRound(ctx); err != nil && ctx.Err() == nil {
			r.cnt.faults.Add(1)
			r.opts.Logger.Error("key round", "err", err)
			fmt.Fprintf(r.opts.Stdout, "key round failed: %v\n", err)
		}
		if round%2 == 1 {
			i := round / 2 % len(r.pool.ids)
			k, err := r.admin.Rotate(ctx, r.pool.ids[i])
			if err == nil {
				r.pool.set(i, k.Secret)
				r.cnt.rotations.Add(1)
			}
		}
	}
}

const cutWithin = 5 * time.Second

func (r *run) keyRound(ctx context.Context) error {
	ws := r.proc.Target.WS
	k, err := r.admin.Create(ctx, "subscriber", "soak rotation")
	if err != nil {
		return err
	}
	c1, br1, err := abuse.DialWS(ctx, "127.0.0.1", ws, k.Secret)
	if err != nil {
		return fmt.Errorf("connect with a new key: %w", err)
	}
	defer c1.Close()
	rot, err := r.admin.Rotate(ctx, k.Key.ID)
	if err != nil {
		return err
	}
	r.cnt.rotations.Add(1)
	if err := abuse.WaitClosed(c1, br1, cutWithin); err != nil {
		return fmt.Errorf("rotation did not cut the old secret's connection: %w", err)
	}
	if c, _, err := abuse.DialWS(ctx, "127.0.0.1", ws, k.Secret); err == nil {
		c.Close()
		return errors.New("the old secret still connects after a rotation")
	}
	c2, br2, err := abuse.DialWS(ctx, "127.0.0.1", ws, rot.Secret)
	if err != nil {
		return fmt.Errorf("connect with the rotated secret: %w", err)
	}
	defer c2.Close()
	if err := r.admin.Revoke(ctx, k.Key.ID); err != nil {
		return err
	}
	r.cnt.revocations.Add(1)
	if err := abuse.WaitClosed(c2, br2, cutWithin); err != nil {
		return fmt.Errorf("revocation did not cut the connection: %w", err)
	}
	if c, _, err := abuse.DialWS(ctx, "127.0.0.1", ws, rot.Secret); err == nil {
		c.Close()
		return errors.New("a revoked key still connects")
	}
	return nil
}

// sample reads the server's resources and the load's counters.
func (r *run) sample(ctx context.Context, at time.Duration) Sample {
	s := Sample{At: at}
	s.RSS, _ = procRSS(r.proc.PID)
	s.FDs, _ = procFDs(r.proc.PID)
	if m, err := r.admin.Metrics(ctx); err == nil {
		g, _ := m.Get(abuse.MetricGoroutines)
		c1, _ := m.Get(abuse.MetricConns)
		c2, _ := m.Get(abuse.MetricWSConns)
		d, _ := m.Get(abuse.MetricDeliveries)
		p, _ := m.Get(abuse.MetricPublished)
		s.Goroutines, s.Conns, s.Deliveries, s.Published = int(g), int(c1+c2), uint64(d), uint64(p)
	}
	s.ChurnConnects = int(r.cnt.connects.Load())
	s.ChurnPings = int(r.cnt.pings.Load())
	s.ChurnErrors = int(r.cnt.errs.Load())
	s.Rotations = int(r.cnt.rotations.Load())
	s.Revocations = int(r.cnt.revocations.Load())
	s.KeyFaults = int(r.cnt.faults.Load())
	return s
}

// prefill publishes n pings in batches of 1,000 through the ingest API.
func prefill(ctx context.Context, t abuse.Target, n int) error {
	for sent := 0; sent < n; {
		k := min(n-sent, 1000)
		var b bytes.Buffer
		b.WriteByte('[')
		for i := range k {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"site":"amazon","region":"USA","sku":"B0PREFILL1","offerId":"prefill-%d","details":{"productTitle":"prefill %d","productPrice":"1.00"}}`, sent+i, sent+i)
		}
		b.WriteByte(']')
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+t.API+"/api/pings", &b)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+t.IngestToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("prefill: %w", err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("prefill: status %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
		}
		sent += k
	}
	return nil
}

func postFaults(ctx context.Context, simAddr, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+simAddr+"/_sim/faults", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("turn on simulator faults: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("turn on simulator faults: status %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}

// since returns the seqs of accepted (increasing) from seq on.
func since(accepted []int, seq int) []int {
	i, _ := slices.BinarySearch(accepted, seq)
	return accepted[i:]
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
