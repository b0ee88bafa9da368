package engine

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// TestClaimGatesRestocks: a Restock reaches the outputs only when Claim
// says so; SoldOut events never ask.
func TestClaimGatesRestocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := monitors.Offer{SKU: "B0CHX1W1XY", OfferID: "p7h8Hu2+Bb5u", Title: "Widget"}
		mon := newFakeMonitor()
		// restock, sold out, restock, sold out: two claims asked.
		mon.outcome = script(oos, in(a), oos, in(a), oos)
		var mu sync.Mutex
		var asked []Event
		claim := func(ev *Event) bool {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, *ev)
			return len(asked) == 2 // the first restock was "pinged elsewhere"
		}
		rec := &recorder{}
		e := newTestEngine(t, Options{Claim: claim, Dedupe: DedupeOptions{Cooldown: -1}}, mon, nil, rec)
		runFor(t, e, []Target{amazonTarget("B0CHX1W1XY", time.Second)}, 5500*time.Millisecond)

		if len(asked) != 2 || asked[0].Kind != Restock || asked[0].Ping.SKU != a.SKU || asked[0].Ping.OfferID != a.OfferID || asked[0].At.IsZero() {
			t.Fatalf("claims asked: %+v", asked)
		}
		var restocks, soldOut int
		for _, ev := range rec.all() {
			switch ev.Kind {
			case Restock:
				restocks++
			case SoldOut:
				soldOut++
			}
		}
		if restocks != 1 || soldOut != 2 {
			t.Fatalf("emitted %d restocks and %d sold-outs, want 1 and 2", restocks, soldOut)
		}
		if v := counterValue(t, e, `stellarfeed_restocks_claimed_elsewhere_total{site="amazon"}`); v != 1 {
			t.Errorf("claimed-elsewhere metric %v", v)
		}
		if v := counterValue(t, e, `stellarfeed_pings_total{site="amazon"}`); v != 1 {
			t.Errorf("pings metric %v", v)
		}
	})
}
