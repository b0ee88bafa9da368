package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stellarfeed/stellarfeed/engine/fetch"
	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// loop schedules one target: a goroutine and a timer, as in Prometheus'
// scrape loop. Thousands of parked goroutines cost a few KiB each and the
// runtime's timer heap already is a timer wheel; in exchange each target
// stops on its own (cancel, then wait on stopped) and keeps its own delay.
// A loop is not reused after its stop.
type loop struct {
	e        *Engine
	t        Target
	id       TargetID
	site     *siteState
	interval time.Duration
	started  time.Time

	ctx     context.Context
	cancel  context.CancelFunc
	stopped chan struct{} // closed when run has returned
	done    chan struct{} // capacity 1: a check finished (delay may have changed)
	task    func()        // built once: submitting it allocates nothing

	running  atomic.Bool // a check is in flight: never two at once
	inflight sync.WaitGroup
	sess     session // used only by the running check

	delay       atomic.Int64 // current delay (ns), interval after backoff
	checks      atomic.Uint64
	skipped     atomic.Uint64
	lastOutcome atomic.Int32 // -1 before the first check
	lastCheck   atomic.Int64 // unix nanos
	state       checkState   // reason, proxy, streak: for Status
	// unknownLogged: this target's unknown layout was logged; re-armed by
	// a check that reads the page again.
	unknownLogged atomic.Bool
}

func (e *Engine) newLoop(parent context.Context, t Target, id TargetID, s *siteState) *loop {
	iv := t.Interval
	if iv <= 0 {
		iv = e.opts.DefaultInterval
	}
	ctx, cancel := context.WithCancel(parent)
	l := &loop{
		e: e, t: t, id: id, site: s, interval: iv, started: time.Now(),
		ctx: ctx, cancel: cancel,
		stopped: make(chan struct{}),
		done:    make(chan struct{}, 1),
		sess:    session{site: s},
	}
	l.delay.Store(int64(iv))
	l.lastOutcome.Store(-1)
	l.task = l.runCheck
	return l
}

// run ticks until the loop is cancelled, then waits for its check.
func (l *loop) run() {
	defer close(l.stopped)
	defer l.inflight.Wait()
	l.registerMetrics(l.e.opts.Metrics)
	defer l.unregisterMetrics(l.e.opts.Metrics)
	timer := time.NewTimer(offset(l.id, l.e.opts.Seed, l.interval, time.Now()))
	defer timer.Stop()
	var tickAt time.Time
	jit := 1.0
	var armed time.Duration
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-timer.C:
			tickAt = time.Now()
			jit = l.e.jitterFactor()
			if l.running.CompareAndSwap(false, true) {
				l.inflight.Add(1)
				// Blocks while every worker is busy: the pool is the
				// engine's back-pressure.
				if err := l.e.pool.Submit(l.task); err != nil {
					l.running.Store(false)
					l.inflight.Done()
					if l.ctx.Err() != nil {
						return
					}
					l.e.log.Warn("engine: submit check", "target", l.id, "err", err)
				}
			} else {
				l.skipped.Add(1)
				l.site.m.skipped.Inc()
			}
			armed = time.Duration(l.delay.Load())
			timer.Reset(scale(armed, jit))
		case <-l.done:
			// The check changed the delay (backoff): move the next tick so
			// that it is one new delay after the last tick.
			if d := time.Duration(l.delay.Load()); d != armed && !tickAt.IsZero() {
				armed = d
				timer.Reset(max(0, time.Until(tickAt.Add(scale(d, jit)))))
			}
		}
	}
}

func scale(d time.Duration, f float64) time.Duration {
	if f == 1 {
		return d
	}
	return time.Duration(float64(d) * f)
}

// runCheck is the pool task.
func (l *loop) runCheck() {
	l.e.inflight.Add(1)
	defer func() {
		l.e.inflight.Add(-1)
		l.running.Store(false)
		select {
		case l.done <- struct{}{}:
		default:
		}
		l.inflight.Done()
	}()
	l.check()
}

// check runs one check (and its optional re-check), then backoff, dedupe
// and outputs.
func (l *loop) check() {
	if l.ctx.Err() != nil {
		return
	}
	e, m := l.e, l.site.m
	// A check may make several requests (Amazon offers, Shopify pages).
	ctx, cancel := context.WithTimeout(l.ctx, 3*e.opts.Timeout)
	defer cancel()
	if sem := l.site.sem; sem != nil {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
		case <-ctx.Done():
			return
		}
	}
	start := time.Now()
	obs := l.observe(ctx)
	if l.ctx.Err() != nil {
		return // stopped mid-check: the result says nothing
	}
	m.check(obs.Outcome).Inc()
	if obs.Outcome == monitors.InStock && e.dedupe.recheck() && e.dedupe.wouldRestock(l.id, l.t.Site, &obs, time.Now()) {
		m.rechecks.Inc()
		obs = l.observe(ctx)
		if l.ctx.Err() != nil {
			return
		}
		m.check(obs.Outcome).Inc()
	}
	now := time.Now()
	m.duration.Update(now.Sub(start).Seconds())
	l.backoff(obs.Outcome)
	proxy := l.sess.fs.Proxy()
	l.record(obs.Outcome, obs.Reason, proxy, now)
	e.blocks.add(l.t.Site, proxy, obs.Outcome)
	switch obs.Outcome {
	case monitors.Blocked, monitors.Error:
		e.log.Debug("engine: check failed", "target", l.id, "site", l.t.Site, "outcome", obs.Outcome, "reason", obs.Reason,
			"next", time.Duration(l.delay.Load()))
	case monitors.UnknownLayout:
		if !l.unknownLogged.Swap(true) {
			e.log.Warn("engine: page layout not recognised; the target reports neither stock nor a block until the parser knows it",
				"target", l.id, "site", l.t.Site, "reason", obs.Reason)
		}
	case monitors.InStock, monitors.OutOfStock:
		l.unknownLogged.Store(false)
	}
	for _, tr := range e.dedupe.observeSKU(l.id, l.t.Site, l.t.SKU, &obs, now) {
		e.emit(l, tr, now)
	}
}

// observe calls the monitor once through a fresh session (one proxy and
// user agent for the whole check), turning a panic into an Error.
func (l *loop) observe(ctx context.Context) (obs monitors.Observation) {
	fs, err := l.e.fetcher.Session(time.Now())
	if err != nil {
		l.sess.fs = fetch.Session{} // every proxy benched: none was used
		return monitors.Observation{Outcome: monitors.Error, Reason: err.Error()}
	}
	l.sess.fs = fs
	defer func() {
		if r := recover(); r != nil {
			l.site.m.panics.Inc()
			l.e.log.Error("engine: monitor panicked", "target", l.id, "site", l.t.Site, "panic", r)
			obs = monitors.Observation{Outcome: monitors.Error, Reason: fmt.Sprintf("monitor panic: %v", r)}
		}
	}()
	obs = l.site.mon.Check(ctx, &l.t.Target, &l.sess)
	if obs.Outcome == monitors.Blocked {
		fs.Report(monitors.Blocked)
	}
	return obs
}

// backoff doubles the delay after Blocked or Error (up to MaxBackoff ×
// interval) and halves it back toward the interval after a good check.
func (l *loop) backoff(o monitors.Outcome) {
	d := time.Duration(l.delay.Load())
	switch o {
	case monitors.Blocked, monitors.Error:
		d = min(2*d, time.Duration(l.e.opts.MaxBackoff)*l.interval)
	default:
		d = max(d/2, l.interval)
	}
	l.delay.Store(int64(d))
}

func (l *loop) status() TargetStatus {
	st := TargetStatus{
		ID: l.id, Target: l.t, Started: l.started,
		Delay:   time.Duration(l.delay.Load()),
		Checks:  l.checks.Load(),
		Skipped: l.skipped.Load(),
	}
	if o := l.lastOutcome.Load(); o >= 0 {
		st.LastOutcome = monitors.Outcome(o).String()
		st.LastCheck = time.Unix(0, l.lastCheck.Load())
	}
	st.Interval = l.interval
	l.state.mu.Lock()
	st.Reason, st.Proxy, st.Since, st.Streak, st.LastRestock = l.state.reason, l.state.proxy, l.state.since, l.state.streak, l.state.lastRestock
	l.state.mu.Unlock()
	return st
}

// session is the monitors.Fetcher a check sees: a fetch.Session (one proxy
// and browser identity) behind the site's and the proxy's rate limits. Its
// fields are set before the monitor runs and only read during the check,
// so a monitor may fetch concurrently.
type session struct {
	site *siteState
	fs   fetch.Session
}

func (s *session) Fetch(ctx context.Context, req *monitors.Request) (*monitors.Response, error) {
	if lim := s.site.limiter; lim != nil {
		if err := lim.Wait(ctx); err != nil {
			return nil, fmt.Errorf("site %s rate limit: %w", s.site.name, err)
		}
	}
	if err := s.fs.Wait(ctx); err != nil {
		return nil, err
	}
	return s.fs.Do(ctx, req, s.site.m.requests)
}

// emit turns a transition into an Event for every output. A Restock whose
// ping breaks the rules only in optional details loses those details; any
// other broken ping is logged with its field errors, counted, and dropped.
func (e *Engine) emit(l *loop, tr transition, now time.Time) {
	m := l.site.m
	var ping stellar.Ping
	if tr.kind == Restock {
		var dropped, err error
		ping, dropped, err = PingFor(e.Rules(), tr.site, tr.region, tr.offer)
		if err != nil {
			m.invalid.Inc()
			e.log.Warn("engine: invalid ping not emitted", "target", l.id, "site", l.t.Site, "sku", ping.SKU,
				"errors", stellar.FieldErrors(err))
			return
		}
		if dropped != nil {
			e.log.Warn("engine: ping details dropped", "target", l.id, "sku", ping.SKU, "errors", stellar.FieldErrors(dropped))
		}
	} else {
		ping = pingOf(tr.site, tr.region, tr.offer) // a sold-out event is not broadcast
	}
	ev := Event{Kind: tr.kind, Ping: ping, Offer: tr.offer, Target: l.t.Target, TargetID: l.id, Group: l.t.Group, Tags: l.t.Tags, At: now}
	if tr.kind == Restock {
		if e.opts.Claim != nil && !e.opts.Claim(&ev) {
			m.claimLost.Inc()
			e.log.Info("engine: restock already pinged by another node", "target", l.id, "site", ping.Site, "region", ping.Region, "sku", ping.SKU, "offer", ping.OfferID)
			return
		}
		m.pings.Inc()
		l.restocked(now)
		e.log.Info("engine: restock", "target", l.id, "site", ping.Site, "region", ping.Region, "sku", ping.SKU, "offer", ping.OfferID)
	} else {
		m.soldOut.Inc()
		e.log.Info("engine: sold out", "target", l.id, "site", ping.Site, "region", ping.Region, "sku", ping.SKU)
	}
	for _, out := range e.outputs {
		e.emitTo(out, ev)
	}
}

// emitTo isolates the engine from a panicking output.
func (e *Engine) emitTo(out Output, ev Event) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("engine: output panicked", "output", fmt.Sprintf("%T", out), "panic", r)
		}
	}()
	out.Emit(ev)
}
