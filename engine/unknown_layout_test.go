package engine

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// warnCounter counts the records of one message.
type warnCounter struct {
	mu  sync.Mutex
	msg string
	n   int
}

func (w *warnCounter) Enabled(context.Context, slog.Level) bool { return true }
func (w *warnCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == w.msg {
		w.mu.Lock()
		w.n++
		w.mu.Unlock()
	}
	return nil
}
func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnCounter) WithGroup(string) slog.Handler      { return w }

func (w *warnCounter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// An unknown layout is counted on every check but logged once per target
// until the page reads again; it benches no proxy and makes no transition.
func TestEngineUnknownLayout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		unknown := monitors.Observation{Outcome: monitors.UnknownLayout, Reason: "offers: offer blocks without offer ids"}
		a := offer("B0000000AA", "O1")
		mon := newFakeMonitor()
		// 3 unknown, then out of stock (re-arms the log), unknown again,
		// then in stock: a restock from the last real out of stock.
		mon.outcome = script(unknown, unknown, unknown, oos, unknown, unknown, in(a))
		logs := &warnCounter{msg: "engine: page layout not recognised; the target reports neither stock nor a block until the parser knows it"}
		rec := &recorder{}
		e := newTestEngine(t, Options{Logger: slog.New(logs), Proxies: []string{"127.0.0.1:1"}, ProxyCooldown: time.Hour}, mon, nil, rec)
		tg := amazonTarget("B0000000AA", time.Second)
		runFor(t, e, []Target{tg}, 7*time.Second+500*time.Millisecond)
		if n := len(mon.times(tg.SKU)); n < 7 {
			t.Fatalf("monitor ran %d times, want 7", n)
		}
		if v := counterValue(t, e, `stellarfeed_checks_total{site="amazon",outcome="unknown_layout"}`); v != 5 {
			t.Errorf("unknown_layout checks %v, want 5", v)
		}
		if n := logs.count(); n != 2 {
			t.Errorf("unknown layout logged %d times, want 2 (once per run of unknown checks)", n)
		}
		if v := counterValue(t, e, `stellarfeed_proxy_benched_total{proxy="127.0.0.1:1"}`); v != 0 {
			t.Errorf("proxy benched %v times by unknown layouts", v)
		}
		evs := rec.all()
		if len(evs) != 1 || evs[0].Kind != Restock {
			t.Errorf("events %+v, want one restock (unknown layouts change nothing)", evs)
		}
	})
}
