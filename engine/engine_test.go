package engine

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/wire"
	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

type fakePublisher struct {
	mu   sync.Mutex
	msgs []*wire.Message
}

func (p *fakePublisher) Publish(m *wire.Message) {
	p.mu.Lock()
	p.msgs = append(p.msgs, m)
	p.mu.Unlock()
}

// script returns outcomes by check number; past the end, the last one.
func script(obs ...monitors.Observation) func(*monitors.Target, int) monitors.Observation {
	return func(_ *monitors.Target, n int) monitors.Observation {
		return obs[min(n, len(obs)-1)]
	}
}

func runFor(t *testing.T, e *Engine, targets []Target, d time.Duration) {
	t.Helper()
	if err := e.ApplyTargets(targets); err != nil {
		t.Fatal(err)
	}
	stop := startEngine(t, e)
	time.Sleep(d)
	synctest.Wait()
	stop()
}

func TestEngineRestockToOutputs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := monitors.Offer{SKU: "B0CHX1W1XY", OfferID: "p7h8Hu2+Bb5u", Title: "Widget", Image: "https://m.media-amazon.com/images/I/a.jpg", Price: "199.99"}
		mon := newFakeMonitor()
		mon.outcome = script(oos, in(a), in(a), blocked, in(a), oos)
		rec, pub := &recorder{}, &fakePublisher{}
		e := newTestEngine(t, Options{}, mon, nil, rec, HubOutput{Publisher: pub})
		tg := amazonTarget("B0CHX1W1XY", time.Second)
		tg.Group, tg.Tags = "cook-a", []string{"gpu"}
		runFor(t, e, []Target{tg}, 20*time.Second)

		evs := rec.all()
		if len(evs) != 2 || evs[0].Kind != Restock || evs[1].Kind != SoldOut {
			t.Fatalf("events %+v, want restock then sold out", evs)
		}
		ev := evs[0]
		want := stellar.Ping{Site: "amazon", Region: "DE", SKU: a.SKU, OfferID: a.OfferID,
			Details: &stellar.Details{ProductTitle: "Widget", ProductImage: a.Image, ProductPrice: "199.99"}}
		if ev.Ping.Site != want.Site || ev.Ping.Region != want.Region || ev.Ping.SKU != want.SKU || ev.Ping.OfferID != want.OfferID || *ev.Ping.Details != *want.Details {
			t.Errorf("ping %+v %+v, want %+v %+v", ev.Ping, ev.Ping.Details, want, want.Details)
		}
		if ev.Group != "cook-a" || len(ev.Tags) != 1 || ev.Target.SKU != tg.SKU || ev.Offer != a || ev.At.IsZero() {
			t.Errorf("event fields: %+v", ev)
		}
		if len(pub.msgs) != 1 {
			t.Fatalf("hub got %d messages, want 1 (restocks only)", len(pub.msgs))
		}
		var got stellar.Ping
		if err := json.Unmarshal(pub.msgs[0].Payload, &got); err != nil || got.SKU != a.SKU || got.Region != "DE" {
			t.Errorf("published payload %s: %v", pub.msgs[0].Payload, err)
		}
		if v := counterValue(t, e, `stellarfeed_pings_total{site="amazon"}`); v != 1 {
			t.Errorf("pings metric %v", v)
		}
	})
}

func TestEngineInvalidPings(t *testing.T) {
	walmart := func(o monitors.Offer) monitors.Observation {
		return monitors.Observation{Outcome: monitors.InStock, StellarSite: "walmart", Region: "USA", Offers: []monitors.Offer{o}}
	}
	wOOS := monitors.Observation{Outcome: monitors.OutOfStock, StellarSite: "walmart", Region: "USA"}
	tests := []struct {
		name      string
		obs       monitors.Observation
		oosObs    monitors.Observation
		wantPing  *stellar.Ping // nil: nothing emitted
		wantValid float64
	}{
		{"amazon sku not an ASIN", in(monitors.Offer{SKU: "not-an-asin", OfferID: "X"}), oos, nil, 0},
		{"amazon without offer id", in(monitors.Offer{SKU: "B0CHX1W1XY"}), oos, nil, 0},
		{"bad price only: details dropped", in(monitors.Offer{SKU: "B0CHX1W1XY", OfferID: "X", Title: "T", Price: "1.234,56 €"}), oos,
			&stellar.Ping{Site: "amazon", Region: "DE", SKU: "B0CHX1W1XY", OfferID: "X", Details: &stellar.Details{ProductTitle: "T"}}, 1},
		{"walmart ping carries no region", walmart(monitors.Offer{SKU: "5113183757", OfferID: "E29410D79B744EA6B99DFF6FF89213B8"}), wOOS,
			&stellar.Ping{Site: "walmart", SKU: "5113183757", OfferID: "E29410D79B744EA6B99DFF6FF89213B8"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mon := newFakeMonitor()
				mon.outcome = script(tc.oosObs, tc.obs)
				rec := &recorder{}
				e := newTestEngine(t, Options{}, mon, nil, rec)
				runFor(t, e, []Target{amazonTarget("B0CHX1W1XY", time.Second)}, 5*time.Second)
				evs := rec.all()
				if tc.wantPing == nil {
					if len(evs) != 0 {
						t.Errorf("emitted %+v", evs)
					}
					if v := counterValue(t, e, `stellarfeed_pings_invalid_total{site="amazon"}`); v != 1 {
						t.Errorf("invalid metric %v, want 1", v)
					}
					return
				}
				if len(evs) != 1 {
					t.Fatalf("events %+v", evs)
				}
				p := evs[0].Ping
				w := tc.wantPing
				if p.Site != w.Site || p.Region != w.Region || p.SKU != w.SKU || p.OfferID != w.OfferID ||
					(p.Details == nil) != (w.Details == nil) || p.Details != nil && *p.Details != *w.Details {
					t.Errorf("ping %+v details %+v, want %+v", p, p.Details, w)
				}
				if err := (stellar.Rules{}).Validate(&p); err != nil {
					t.Errorf("emitted an invalid ping: %v", err)
				}
			})
		})
	}
}

func TestEngineRecheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := offer("B0000000AA", "O1")
		mon := newFakeMonitor()
		// tick 0 oos; tick 1 in, re-check oos (flicker); tick 2 oos;
		// tick 3 in, re-check in → one ping.
		mon.outcome = script(oos, in(a), oos, oos, in(a), in(a), in(a))
		rec := &recorder{}
		e := newTestEngine(t, Options{Dedupe: DedupeOptions{Recheck: true}}, mon, nil, rec)
		tg := amazonTarget("B0000000AA", time.Second)
		runFor(t, e, []Target{tg}, 6*time.Second)
		if evs := rec.all(); len(evs) != 1 || evs[0].Kind != Restock {
			t.Errorf("events %+v, want one restock", evs)
		}
		times := mon.times(tg.SKU)
		if len(times) < 6 || !times[1].Equal(times[2]) || !times[4].Equal(times[5]) {
			t.Errorf("re-checks not immediate: %v", times)
		}
		if v := counterValue(t, e, `stellarfeed_rechecks_total{site="amazon"}`); v != 2 {
			t.Errorf("rechecks metric %v, want 2", v)
		}
	})
}

// TestEngineBlockedBenchesProxy: a Blocked check benches its proxy; with
// every proxy benched the check fails without reaching the monitor.
func TestEngineBlockedBenchesProxy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mon := newFakeMonitor()
		mon.outcome = script(blocked)
		e := newTestEngine(t, Options{Proxies: []string{"u:p@127.0.0.1:1", "127.0.0.1:2"}, ProxyCooldown: time.Hour}, mon, nil)
		tg := amazonTarget("B0000000AA", time.Second)
		runFor(t, e, []Target{tg}, 20*time.Second)
		if n := len(mon.times(tg.SKU)); n != 2 {
			t.Errorf("monitor ran %d times, want 2 (one per proxy)", n)
		}
		for _, label := range []string{"127.0.0.1:1", "127.0.0.1:2"} {
			if v := counterValue(t, e, `stellarfeed_proxy_benched_total{proxy="`+label+`"}`); v != 1 {
				t.Errorf("%s benched %v times", label, v)
			}
		}
		if v := counterValue(t, e, `stellarfeed_checks_total{site="amazon",outcome="error"}`); v < 1 {
			t.Error("checks without a proxy not counted as errors")
		}
	})
}

type panicMonitor struct{}

func (panicMonitor) Check(context.Context, *monitors.Target, monitors.Fetcher) monitors.Observation {
	panic("parser bug")
}

type panicOutput struct{}

func (panicOutput) Emit(Event) { panic("output bug") }

func TestEngineSurvivesPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEngine(t, Options{}, panicMonitor{}, nil)
		runFor(t, e, []Target{amazonTarget("B0000000AA", time.Second)}, 5*time.Second)
		if v := counterValue(t, e, `stellarfeed_check_panics_total{site="amazon"}`); v < 2 {
			t.Errorf("panics counted %v (errors back off: 2 checks in 5s)", v)
		}
		mon := newFakeMonitor()
		mon.outcome = script(oos, in(offer("B0000000AA", "O1")))
		rec := &recorder{}
		e = newTestEngine(t, Options{}, mon, nil, panicOutput{}, rec)
		runFor(t, e, []Target{amazonTarget("B0000000AA", time.Second)}, 3*time.Second)
		if len(rec.all()) != 1 {
			t.Error("a panicking output stopped the next one")
		}
	})
}

func TestEngineRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEngine(t, Options{}, newFakeMonitor(), nil)
		stop := startEngine(t, e)
		synctest.Wait()
		if err := e.Run(context.Background()); err == nil {
			t.Error("second Run accepted")
		}
		stop()
	})
}

func TestHubOutputSkipsInvalid(t *testing.T) {
	pub := &fakePublisher{}
	h := HubOutput{Publisher: pub, Logger: quiet}
	h.Emit(Event{Kind: Restock, Ping: stellar.Ping{Site: "amazon", SKU: "bad"}})
	h.Emit(Event{Kind: SoldOut, Ping: stellar.Ping{Site: "walmart", SKU: "1", OfferID: "E29410D79B744EA6B99DFF6FF89213B8"}})
	h.Emit(Event{Kind: Restock, Ping: stellar.Ping{Site: "walmart", SKU: "1", OfferID: "E29410D79B744EA6B99DFF6FF89213B8"}})
	if len(pub.msgs) != 1 {
		t.Fatalf("published %d, want 1", len(pub.msgs))
	}
	want := `{"site":"walmart","sku":"1","offerId":"E29410D79B744EA6B99DFF6FF89213B8"}`
	if got := string(pub.msgs[0].Payload); got != want {
		t.Errorf("payload %s, want %s", got, want)
	}
	if f := pub.msgs[0].Frame; len(f) != len(want)+2 || f[0] != 0x81 {
		t.Errorf("frame header % x", f[:2])
	}
}

func TestCheckNow(t *testing.T) {
	mon := newFakeMonitor()
	mon.fetch = true
	mon.outcome = script(in(offer("B0000000AA", "O1")))
	rec := &recorder{}
	e := newTestEngine(t, Options{}, mon, nil, rec)
	fakeTransport(e)
	obs, err := e.CheckNow(context.Background(), amazonTarget("B0000000AA", 0))
	if err != nil || obs.Outcome != monitors.InStock || len(mon.fetched) != 1 {
		t.Errorf("CheckNow: %+v, %v, %d requests", obs, err, len(mon.fetched))
	}
	if len(rec.all()) != 0 {
		t.Error("CheckNow emitted events")
	}
	if _, err := e.CheckNow(context.Background(), Target{}); err == nil {
		t.Error("CheckNow accepted a target without a site")
	}
}

// TestEngineRestartRepingsNothing: a second engine on the same state file
// stays quiet about a product the first one already pinged.
func TestEngineRestartRepingsNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	a := offer("B0000000AA", "O1")
	tg := amazonTarget("B0000000AA", time.Second)
	run := func(obs ...monitors.Observation) []Event {
		var evs []Event
		synctest.Test(t, func(t *testing.T) {
			db, st := openBolt(t, path)
			defer db.Close()
			mon := newFakeMonitor()
			mon.outcome = script(obs...)
			rec := &recorder{}
			e := newTestEngine(t, Options{}, mon, st, rec)
			runFor(t, e, []Target{tg}, 5*time.Second)
			evs = rec.all()
		})
		return evs
	}
	if evs := run(oos, in(a)); len(evs) != 1 {
		t.Fatalf("first run: %d events, want 1", len(evs))
	}
	if evs := run(in(a)); len(evs) != 0 {
		t.Errorf("restart re-pinged: %+v", evs)
	}
	if evs := run(oos, in(a)); len(evs) != 1 || evs[0].Kind != SoldOut {
		t.Errorf("after restart: %+v, want a sold out (restock within cooldown)", evs)
	}
}
