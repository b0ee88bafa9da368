package engine

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// TestBlocksVisible: a captcha storm shows in Status, in /metrics and at
// info level (one summary line per site and proxy and window), with a
// warning once the site's blocked share passes the threshold.
func TestBlocksVisible(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		// An *os.File takes concurrent writes; read back once the engine stopped.
		logFile, err := os.Create(filepath.Join(t.TempDir(), "engine.log"))
		if err != nil {
			t.Fatal(err)
		}
		defer logFile.Close()
		log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))
		set := metrics.NewSet()
		mon := newFakeMonitor()
		mon.outcome = func(t *monitors.Target, n int) monitors.Observation {
			switch {
			case t.SKU == "B00000000B":
				return monitors.Observation{Outcome: monitors.Blocked, Reason: "captcha page"}
			case n < 3:
				return monitors.Observation{Outcome: monitors.OutOfStock, Reason: "out of stock: Currently unavailable."}
			}
			return monitors.Observation{Outcome: monitors.InStock, StellarSite: "amazon", Region: "DE",
				Offers: []monitors.Offer{{SKU: t.SKU, OfferID: "O1"}}}
		}
		rec := &recorder{}
		e := newTestEngine(t, Options{Logger: log, Metrics: set, MaxBackoff: 1, BlockReportInterval: 20 * time.Second, BlockedShareWarn: 0.4}, mon, nil, rec)
		blocked, fine := amazonTarget("B00000000B", time.Second), amazonTarget("B00000000F", time.Second)
		if err := e.ApplyTargets([]Target{blocked, fine}); err != nil {
			t.Fatal(err)
		}
		stop := startEngine(t, e)
		time.Sleep(20*time.Second + time.Millisecond)
		synctest.Wait()

		st := map[string]TargetStatus{}
		for _, s := range e.Status() {
			st[s.Target.SKU] = s
		}
		b, f := st[blocked.SKU], st[fine.SKU]
		if b.LastOutcome != "blocked" || b.Reason != "captcha page" || b.Proxy != "direct" || b.Streak != b.Checks || b.Checks < 19 {
			t.Errorf("blocked target status: %+v", b)
		}
		if !b.Since.Equal(start.Add(time.Duration(uint64(blocked.ID()) % uint64(time.Second)))) {
			t.Errorf("blocked since %v, want its first check", b.Since.Sub(start))
		}
		if f.LastOutcome != "in_stock" || f.Streak != f.Checks-3 || f.LastRestock.IsZero() || f.Interval != time.Second {
			t.Errorf("fine target status: %+v", f)
		}
		if len(rec.all()) != 1 {
			t.Errorf("events: %+v", rec.all())
		}

		var out bytes.Buffer
		set.WritePrometheus(&out)
		for _, want := range []string{
			`stellarfeed_target_outcome{site="amazon",target="` + blocked.ID().String() + `"} 1`,
			`stellarfeed_target_outcome{site="amazon",target="` + fine.ID().String() + `"} 3`,
			`stellarfeed_target_outcome_streak{site="amazon",target="` + blocked.ID().String() + `"}`,
			`stellarfeed_proxy_checks_total{site="amazon",proxy="direct",outcome="blocked"} 20`,
			`stellarfeed_site_blocked_ratio{site="amazon"} 0.5`,
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("/metrics lacks %q:\n%s", want, out.String())
			}
		}
		logBytes, err := os.ReadFile(logFile.Name())
		if err != nil {
			t.Fatal(err)
		}
		l := string(logBytes)
		if n := strings.Count(l, `msg="engine: blocked checks" site=amazon proxy=direct blocked=20 checks=40 share=50.0%`); n != 1 {
			t.Errorf("%d info summaries, want 1:\n%s", n, l)
		}
		if n := strings.Count(l, `level=WARN msg="engine: site mostly blocked`); n != 1 {
			t.Errorf("%d warnings, want 1:\n%s", n, l)
		}

		stop()
		// A stopped target's gauges leave /metrics.
		out.Reset()
		set.WritePrometheus(&out)
		if strings.Contains(out.String(), "stellarfeed_target_outcome{") {
			t.Errorf("gauges of stopped targets remain:\n%s", out.String())
		}
	})
}

// TestSetRulesAndDedupeLive: a reload that renames a Stellar site or
// changes dedupe options reaches the running engine.
func TestSetRulesAndDedupeLive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mon := newFakeMonitor()
		var mu sync.Mutex
		inStock := false
		mon.outcome = func(tg *monitors.Target, n int) monitors.Observation {
			mu.Lock()
			defer mu.Unlock()
			if !inStock {
				return monitors.Observation{Outcome: monitors.OutOfStock, StellarSite: "cooksite"}
			}
			return monitors.Observation{Outcome: monitors.InStock, StellarSite: "cooksite",
				Offers: []monitors.Offer{{SKU: tg.SKU, OfferID: "O1"}}}
		}
		set := func(v bool) {
			mu.Lock()
			inStock = v
			mu.Unlock()
			time.Sleep(time.Second)
			synctest.Wait()
		}
		rec := &recorder{}
		e := newTestEngine(t, Options{Dedupe: DedupeOptions{Cooldown: -1}}, mon, nil, rec)
		if err := e.ApplyTargets([]Target{{Target: monitors.Target{Site: "walmart", Region: "USA", SKU: "123", StellarSite: "cooksite"}, Interval: time.Second}}); err != nil {
			t.Fatal(err)
		}
		stop := startEngine(t, e)
		defer stop()
		set(false)
		set(true) // cooksite may not carry an offerId yet: dropped
		if n := len(rec.all()); n != 0 {
			t.Fatalf("invalid ping emitted: %d events", n)
		}
		e.SetRules(stellar.Rules{OfferIDSites: []string{"walmart", "walmartca", "cooksite"}})
		set(false)
		set(true)
		if evs := rec.all(); len(evs) != 2 || evs[1].Kind != Restock || evs[1].Ping.Site != "cooksite" {
			t.Fatalf("after SetRules: %+v", evs)
		}
		// A cooldown set live holds the next restock of the same offer.
		e.SetDedupe(DedupeOptions{Cooldown: time.Hour})
		set(false)
		set(true)
		for _, ev := range rec.all()[2:] {
			if ev.Kind == Restock {
				t.Fatalf("restock inside the live cooldown: %+v", ev)
			}
		}
	})
}
