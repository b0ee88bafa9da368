package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/panjf2000/ants/v2"
	"golang.org/x/time/rate"

	"github.com/stellarfeed/stellarfeed/engine/fetch"
	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// Engine schedules checks, dedupes what they see and emits events. It is
// single-use: New, ApplyTargets (any time, any number of times), Run once.
type Engine struct {
	opts    Options
	lookup  func(string) (monitors.Monitor, error)
	fetcher *fetch.Fetcher
	dedupe  *dedupe
	blocks  *blockStats
	outputs []Output
	log     *slog.Logger

	started  atomic.Bool
	inflight atomic.Int64
	reloads  *metrics.Counter
	reload   chan struct{} // capacity 1: "a new target set is pending"
	rules    atomic.Pointer[stellar.Rules]
	pool     *ants.Pool // set by Run before any loop starts

	mu         sync.Mutex
	pending    []Target
	hasPending bool
	sites      map[string]*siteState
	loops      map[TargetID]*loop
}

// siteState is shared by every target of one site (monitor name).
type siteState struct {
	name    string
	mon     monitors.Monitor
	sem     chan struct{} // nil: no per-site concurrency bound
	limiter *rate.Limiter // nil: no per-site rate
	m       *siteMetrics
}

// New checks opts, builds the fetcher and the dedupe stage. It starts
// nothing: Run does. monitorsByName resolves a target's site to its monitor
// (nil means monitors.New); each site gets one monitor shared by its
// targets. store may be nil (state kept in memory only).
func New(opts Options, monitorsByName func(string) (monitors.Monitor, error), store StateStore, outputs ...Output) (*Engine, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("engine options: %w", err)
	}
	if monitorsByName == nil {
		monitorsByName = monitors.New
	}
	f, err := fetch.New(fetch.Options{
		Client:        o.Client,
		Timeout:       o.Timeout,
		UserAgents:    o.UserAgents,
		Proxies:       o.Proxies,
		ProxyCooldown: o.ProxyCooldown,
		ProxyLimit:    o.ProxyLimit,
		MaxBodyBytes:  o.MaxBodyBytes,
		Metrics:       o.Metrics,
		TLS:           o.TLS,
	})
	if err != nil {
		return nil, fmt.Errorf("engine options: %w", err)
	}
	for i, out := range outputs {
		if out == nil {
			return nil, fmt.Errorf("engine: outputs[%d] is nil", i)
		}
	}
	e := &Engine{
		opts:    o,
		lookup:  monitorsByName,
		fetcher: f,
		dedupe:  newDedupe(o.Dedupe.resolve(), store, o.Logger, o.Metrics),
		blocks:  newBlockStats(o.Metrics),
		outputs: outputs,
		log:     o.Logger,
		reload:  make(chan struct{}, 1),
		sites:   map[string]*siteState{},
		loops:   map[TargetID]*loop{},
		reloads: o.Metrics.GetOrCreateCounter("stellarfeed_target_reloads_total"),
	}
	e.rules.Store(&o.Rules)
	o.Metrics.GetOrCreateGauge("stellarfeed_targets", func() float64 {
		e.mu.Lock()
		defer e.mu.Unlock()
		return float64(len(e.loops))
	})
	o.Metrics.GetOrCreateGauge("stellarfeed_checks_inflight", func() float64 {
		return float64(e.inflight.Load())
	})
	return e, nil
}

// Rules returns the rules restocks are validated with.
func (e *Engine) Rules() stellar.Rules { return *e.rules.Load() }

// SetRules replaces the rules restocks are validated with, for a config
// reload that renames Stellar sites; checks in flight use either.
func (e *Engine) SetRules(r stellar.Rules) { e.rules.Store(&r) }

// SetDedupe replaces the dedupe options (cooldown, first-run suppression,
// new offers, re-check) for a config reload; the dedupe state is kept.
func (e *Engine) SetDedupe(o DedupeOptions) { e.dedupe.setConfig(o.resolve()) }

// Fetcher returns the engine's fetcher.
func (e *Engine) Fetcher() *fetch.Fetcher { return e.fetcher }

// CheckNow checks t once, at once, through the engine's proxies and limits,
// without touching the schedule, the dedupe state or the outputs: for
// "stellarfeed check" and for testing a target by hand. It works whether
// or not Run is running.
func (e *Engine) CheckNow(ctx context.Context, t Target) (monitors.Observation, error) {
	if t.Site == "" {
		return monitors.Observation{}, errors.New("site: required")
	}
	e.mu.Lock()
	s, err := e.site(t.Site)
	e.mu.Unlock()
	if err != nil {
		return monitors.Observation{}, fmt.Errorf("site: %w", err)
	}
	if err := monitors.Validate(s.mon, &t.Target); err != nil {
		return monitors.Observation{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*e.opts.Timeout)
	defer cancel()
	l := e.newLoop(ctx, t, t.ID(), s)
	defer l.cancel()
	return l.observe(ctx), nil
}

// site returns the shared state of a site, creating it on first use.
// e.mu must be held.
func (e *Engine) site(name string) (*siteState, error) {
	if s := e.sites[name]; s != nil {
		return s, nil
	}
	mon, err := e.lookup(name)
	if err != nil {
		return nil, err
	}
	if mon == nil {
		return nil, fmt.Errorf("no monitor for site %q", name)
	}
	s := &siteState{name: name, mon: mon, m: newSiteMetrics(e.opts.Metrics, name)}
	if l, ok := e.opts.SiteLimits[name]; ok {
		if l.Concurrency > 0 {
			s.sem = make(chan struct{}, l.Concurrency)
		}
		if l.RatePerSec > 0 {
			s.limiter = rate.NewLimiter(rate.Limit(l.RatePerSec), max(l.Burst, 1))
		}
	}
	e.sites[name] = s
	return s, nil
}

// ApplyTargets replaces the target set. It validates the whole set first
// (unknown site, a monitor's TargetValidator, negative interval, the same
// target twice) and on error changes nothing, returning every problem with
// the target's index. A valid set is applied by Run as a diff: new targets
// start, vanished ones stop (awaited), unchanged ones keep running and
// their phase, changed ones (same identity, new interval, group or tags)
// restart. Bursts coalesce: Run applies the latest set at most once per
// Options.ReloadInterval.
func (e *Engine) ApplyTargets(ts []Target) error {
	var errs []error
	seen := make(map[TargetID]int, len(ts))
	e.mu.Lock()
	for i := range ts {
		t := &ts[i]
		if t.Site == "" {
			errs = append(errs, fmt.Errorf("targets[%d].site: required", i))
			continue
		}
		s, err := e.site(t.Site)
		if err != nil {
			errs = append(errs, fmt.Errorf("targets[%d].site: %w", i, err))
			continue
		}
		if t.Interval < 0 {
			errs = append(errs, fmt.Errorf("targets[%d].interval: must not be negative, got %s", i, t.Interval))
		}
		if err := monitors.Validate(s.mon, &t.Target); err != nil {
			errs = append(errs, fmt.Errorf("targets[%d]: %w", i, err))
		}
		id := t.ID()
		if j, dup := seen[id]; dup {
			errs = append(errs, fmt.Errorf("targets[%d]: same target as targets[%d]", i, j))
			continue
		}
		seen[id] = i
	}
	if len(errs) > 0 {
		e.mu.Unlock()
		return errors.Join(errs...)
	}
	// Deep copy: the caller may reuse its slices.
	e.pending = make([]Target, len(ts))
	for i, t := range ts {
		t.Tags = slices.Clone(t.Tags)
		t.Keywords = slices.Clone(t.Keywords)
		for j := range t.Keywords {
			t.Keywords[j] = slices.Clone(t.Keywords[j])
		}
		e.pending[i] = t
	}
	e.hasPending = true
	e.mu.Unlock()
	select {
	case e.reload <- struct{}{}:
	default: // already signalled: Run takes the latest set
	}
	return nil
}

// Run loads the dedupe state, applies the targets and runs until ctx ends.
// It then stops every loop, waits for in-flight checks (a request on the
// wire ends within Options.Timeout), releases the pool and returns nil. An
// error is returned only if the state cannot be loaded or the pool cannot
// start.
func (e *Engine) Run(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("engine: Run called twice")
	}
	if err := e.dedupe.load(ctx); err != nil {
		return err
	}
	pool, err := ants.NewPool(e.opts.Workers, ants.WithLogger(antsLogger{e.log}))
	if err != nil {
		return fmt.Errorf("engine: worker pool: %w", err)
	}
	e.pool = pool
	defer func() {
		if err := pool.ReleaseTimeout(5 * time.Second); err != nil {
			e.log.Warn("engine: worker pool release", "err", err)
		}
		e.fetcher.CloseIdleConnections()
	}()

	e.applyPending(ctx)
	var throttle *time.Timer
	var throttleC <-chan time.Time
	again := false
	var reportC <-chan time.Time
	if every := e.opts.BlockReportInterval; every > 0 {
		report := time.NewTicker(every)
		defer report.Stop()
		reportC = report.C
	}
	for {
		select {
		case <-reportC:
			e.blocks.report(e.log, e.opts.BlockReportInterval, e.opts.BlockedShareWarn)
		case <-ctx.Done():
			if throttle != nil {
				throttle.Stop()
			}
			e.stopAll()
			return nil
		case <-e.reload:
			if throttleC != nil {
				again = true
				continue
			}
			e.applyPending(ctx)
			throttle = time.NewTimer(e.opts.ReloadInterval)
			throttleC = throttle.C
		case <-throttleC:
			if again {
				again = false
				e.applyPending(ctx)
				throttle.Reset(e.opts.ReloadInterval)
			} else {
				throttleC = nil
			}
		}
	}
}

// applyPending diffs the pending set against the running loops.
func (e *Engine) applyPending(ctx context.Context) {
	e.mu.Lock()
	if !e.hasPending {
		e.mu.Unlock()
		return
	}
	want := make(map[TargetID]*Target, len(e.pending))
	for i := range e.pending {
		t := &e.pending[i]
		want[t.ID()] = t
	}
	e.pending, e.hasPending = nil, false
	e.reloads.Inc()
	var stop []*loop
	restarted := 0
	for id, l := range e.loops {
		t, keep := want[id]
		if keep && sameSchedule(&l.t, t) {
			continue
		}
		if keep {
			restarted++
		}
		stop = append(stop, l)
		delete(e.loops, id)
	}
	e.mu.Unlock()

	// Stop in parallel, then await: one slow check does not serialize the rest.
	for _, l := range stop {
		l.cancel()
	}
	for _, l := range stop {
		<-l.stopped
	}
	// Only now, with no check of a vanished target left, forget its views.
	keep := make(map[TargetID]struct{}, len(want))
	for id := range want {
		keep[id] = struct{}{}
	}
	e.dedupe.retain(keep)

	e.mu.Lock()
	added := 0
	for id, t := range want {
		if _, running := e.loops[id]; running {
			continue
		}
		s, err := e.site(t.Site)
		if err != nil { // validated in ApplyTargets; cannot happen
			e.log.Error("engine: target dropped", "target", id, "err", err)
			continue
		}
		l := e.newLoop(ctx, *t, id, s)
		e.loops[id] = l
		added++
		go l.run()
	}
	total := len(e.loops)
	e.mu.Unlock()
	e.log.Info("engine: targets applied", "total", total, "started", added-restarted,
		"stopped", len(stop)-restarted, "restarted", restarted)
}

// stopAll cancels every loop and waits for them (and their checks).
func (e *Engine) stopAll() {
	e.mu.Lock()
	loops := slices.Collect(maps.Values(e.loops))
	clear(e.loops)
	e.mu.Unlock()
	for _, l := range loops {
		l.cancel()
	}
	for _, l := range loops {
		<-l.stopped
	}
}

// jitterFactor returns a multiplier in [1-Jitter, 1+Jitter].
func (e *Engine) jitterFactor() float64 {
	if e.opts.Jitter == 0 {
		return 1
	}
	return 1 + e.opts.Jitter*(2*rand.Float64()-1)
}

// TargetStatus is one running target, for status pages and tests.
type TargetStatus struct {
	ID          TargetID
	Target      Target
	Started     time.Time     // when its loop (re)started
	Delay       time.Duration // current delay, after backoff
	LastOutcome string        // "" before the first check
	LastCheck   time.Time
	Checks      uint64
	Skipped     uint64 // ticks skipped because the previous check still ran
	// Interval is the configured one: Delay/Interval is the backoff factor.
	Interval time.Duration
	// Reason is the monitor's reason or evidence for LastOutcome ("captcha
	// page", "out of stock: Currently unavailable."); empty for in stock.
	Reason string
	// Since is when LastOutcome's streak began; Streak counts its checks.
	Since  time.Time
	Streak uint64
	// Proxy is how the last check went out: host:port, "direct", or ""
	// when every proxy was benched.
	Proxy string
	// LastRestock is the last restock this target pinged; before its
	// first one since the loop started, the last ping the dedupe state
	// remembers for its products (so it survives restarts). Zero if none.
	LastRestock time.Time
}

// Status lists the running targets, sorted by ID.
func (e *Engine) Status() []TargetStatus {
	e.mu.Lock()
	out := make([]TargetStatus, 0, len(e.loops))
	for _, l := range e.loops {
		out = append(out, l.status())
	}
	e.mu.Unlock()
	for i := range out {
		if out[i].LastRestock.IsZero() {
			out[i].LastRestock = e.dedupe.lastPinged(out[i].ID) // from before a restart
		}
	}
	slices.SortFunc(out, func(a, b TargetStatus) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// antsLogger routes the pool's messages to slog.
type antsLogger struct{ l *slog.Logger }

func (a antsLogger) Printf(format string, args ...any) {
	a.l.Warn("ants: " + fmt.Sprintf(format, args...))
}

// Metrics returns the set the engine's metrics live in (Options.Metrics or
// its private set), for a /metrics handler.
func (e *Engine) Metrics() *metrics.Set { return e.opts.Metrics }
