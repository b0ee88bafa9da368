package engine

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// Defaults of the block report (Options.BlockReportInterval,
// Options.BlockedShareWarn).
const (
	DefaultBlockReportInterval = time.Minute
	DefaultBlockedShareWarn    = 0.5
	// minChecksForWarn keeps one blocked check out of two from raising
	// the site warning on a quiet site.
	minChecksForWarn = 10
)

// checkState is what a loop remembers of its last check, for Status. It is
// written once per check, by the check's goroutine.
type checkState struct {
	mu          sync.Mutex
	reason      string
	proxy       string
	since       time.Time // when the current outcome's streak began
	streak      uint64
	lastRestock time.Time
}

// record notes one finished check.
func (l *loop) record(o monitors.Outcome, reason, proxy string, now time.Time) {
	s := &l.state
	s.mu.Lock()
	if prev := l.lastOutcome.Load(); prev != int32(o) || s.since.IsZero() {
		s.since, s.streak = now, 0
	}
	s.streak++
	s.reason, s.proxy = reason, proxy
	s.mu.Unlock()
	l.checks.Add(1)
	l.lastOutcome.Store(int32(o))
	l.lastCheck.Store(now.UnixNano())
}

func (l *loop) restocked(now time.Time) {
	l.state.mu.Lock()
	l.state.lastRestock = now
	l.state.mu.Unlock()
}

// targetMetricNames are one target's gauges; registered while its loop
// runs, so /metrics lists running targets only.
func (l *loop) targetMetricNames() []string {
	lbl := `{site="` + labelValue(l.t.Site) + `",target="` + l.id.String() + `"}`
	return []string{
		"stellarfeed_target_last_check_timestamp_seconds" + lbl,
		"stellarfeed_target_outcome" + lbl,
		"stellarfeed_target_delay_seconds" + lbl,
		"stellarfeed_target_outcome_streak" + lbl,
	}
}

// registerMetrics exposes the loop's status as gauges: the last check's
// time, its outcome (-1 none yet, 0 error, 1 blocked, 2 out of stock, 3 in
// stock, 4 unknown layout), the current delay after backoff, and how many checks in a row
// had that outcome.
func (l *loop) registerMetrics(set *metrics.Set) {
	names := l.targetMetricNames()
	set.GetOrCreateGauge(names[0], func() float64 {
		if ns := l.lastCheck.Load(); ns != 0 {
			return float64(ns) / 1e9
		}
		return 0
	})
	set.GetOrCreateGauge(names[1], func() float64 { return float64(l.lastOutcome.Load()) })
	set.GetOrCreateGauge(names[2], func() float64 { return time.Duration(l.delay.Load()).Seconds() })
	set.GetOrCreateGauge(names[3], func() float64 {
		l.state.mu.Lock()
		defer l.state.mu.Unlock()
		return float64(l.state.streak)
	})
}

func (l *loop) unregisterMetrics(set *metrics.Set) {
	for _, n := range l.targetMetricNames() {
		set.UnregisterMetric(n)
	}
}

// blockKey is one site through one proxy.
type blockKey struct{ site, proxy string }

type blockCounts struct {
	checks, blocked uint64
	byOutcome       [monitors.NumOutcomes]*metrics.Counter
}

// blockStats counts checks per site and proxy for the block report: a
// captcha storm must show at info level, not only at debug. Counts are
// per report window; the counters behind /metrics are cumulative.
type blockStats struct {
	set *metrics.Set

	mu    sync.Mutex
	pairs map[blockKey]*blockCounts
	share map[string]float64 // blocked share of each site's last window
}

func newBlockStats(set *metrics.Set) *blockStats {
	return &blockStats{set: set, pairs: map[blockKey]*blockCounts{}, share: map[string]float64{}}
}

// add counts one check.
func (b *blockStats) add(site, proxy string, o monitors.Outcome) {
	if o < 0 || int(o) >= monitors.NumOutcomes {
		o = monitors.Error
	}
	k := blockKey{site, proxy}
	b.mu.Lock()
	c := b.pairs[k]
	if c == nil {
		c = &blockCounts{}
		for i := range c.byOutcome {
			c.byOutcome[i] = b.set.GetOrCreateCounter(fmt.Sprintf(`stellarfeed_proxy_checks_total{site="%s",proxy="%s",outcome="%s"}`,
				labelValue(site), labelValue(proxy), monitors.Outcome(i)))
		}
		b.pairs[k] = c
		if _, ok := b.share[site]; !ok {
			b.share[site] = 0
			b.set.GetOrCreateGauge(`stellarfeed_site_blocked_ratio{site="`+labelValue(site)+`"}`, func() float64 {
				b.mu.Lock()
				defer b.mu.Unlock()
				return b.share[site]
			})
		}
	}
	c.checks++
	if o == monitors.Blocked {
		c.blocked++
	}
	c.byOutcome[o].Inc()
	b.mu.Unlock()
}

// siteWindow is one site's counts over a report window.
type siteWindow struct {
	site            string
	checks, blocked uint64
	proxies         []proxyWindow
}

type proxyWindow struct {
	proxy           string
	checks, blocked uint64
}

// window returns the counts since the last call and starts a new window.
func (b *blockStats) window() []siteWindow {
	b.mu.Lock()
	defer b.mu.Unlock()
	bySite := map[string]*siteWindow{}
	for k, c := range b.pairs {
		if c.checks == 0 {
			continue
		}
		w := bySite[k.site]
		if w == nil {
			w = &siteWindow{site: k.site}
			bySite[k.site] = w
		}
		w.checks += c.checks
		w.blocked += c.blocked
		w.proxies = append(w.proxies, proxyWindow{k.proxy, c.checks, c.blocked})
		c.checks, c.blocked = 0, 0
	}
	out := make([]siteWindow, 0, len(bySite))
	for site, w := range bySite {
		b.share[site] = float64(w.blocked) / float64(w.checks)
		slices.SortFunc(w.proxies, func(a, b proxyWindow) int { return strings.Compare(a.proxy, b.proxy) })
		out = append(out, *w)
	}
	for site := range b.share {
		if bySite[site] == nil {
			b.share[site] = 0 // no checks this window: nothing blocked
		}
	}
	slices.SortFunc(out, func(a, b siteWindow) int { return strings.Compare(a.site, b.site) })
	return out
}

// report logs one window: an info line per site and proxy that had blocked
// checks, and a warning per site whose blocked share reached warnAt.
func (b *blockStats) report(log *slog.Logger, every time.Duration, warnAt float64) {
	for _, w := range b.window() {
		for _, p := range w.proxies {
			if p.blocked == 0 {
				continue
			}
			log.Info("engine: blocked checks", "site", w.site, "proxy", p.proxy, "blocked", p.blocked, "checks", p.checks,
				"share", share(p.blocked, p.checks), "window", every)
		}
		if s := float64(w.blocked) / float64(w.checks); w.checks >= minChecksForWarn && s >= warnAt {
			log.Warn("engine: site mostly blocked: restocks there go unseen", "site", w.site, "blocked", w.blocked, "checks", w.checks,
				"share", share(w.blocked, w.checks), "threshold", warnAt, "window", every)
		}
	}
}

// share formats a ratio as a percentage with one decimal: "93.5%".
func share(n, of uint64) string {
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}
