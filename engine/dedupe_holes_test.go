package engine

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// TestDedupeHoles pins the restocks the dedupe stage used to lose (#12).
func TestDedupeHoles(t *testing.T) {
	a, b, c := offer("B0000000AA", "A"), offer("B0000000AA", "B"), offer("B0000000AA", "C")
	const restockA = "restock amazon/DE/B0000000AA:A"
	tests := []struct {
		name  string
		cfg   DedupeOptions
		steps []step
	}{
		{"out of stock, a long block streak, then in stock pings", DedupeOptions{}, []step{
			{1, oos, 0, nil},
			{1, blocked, time.Minute, nil},
			{1, blocked, time.Minute, nil},
			{1, failed, time.Minute, nil},
			{1, blocked, time.Hour, nil},
			{1, in(a), time.Minute, []string{restockA}},
		}},
		{"a target edited into a new identity pings a product last seen out of stock", DedupeOptions{}, []step{
			{1, oos, 0, nil},
			// Target 1's filter changed: it is target 2 now, blocked at first.
			{2, blocked, time.Minute, nil},
			{2, in(a), time.Minute, []string{restockA}},
		}},
		{"brand-new target blocked at start: first success records by default", DedupeOptions{}, []step{
			{1, blocked, 0, nil},
			{1, failed, time.Minute, nil},
			{1, in(a), time.Minute, nil},
			{1, oos, time.Minute, []string{"sold_out amazon/DE/B0000000AA:A"}},
		}},
		{"brand-new target blocked at start pings with PingAfterBlockedStart", DedupeOptions{PingAfterBlockedStart: true}, []step{
			{1, blocked, 0, nil},
			{1, failed, time.Minute, nil},
			{1, in(a), time.Minute, []string{restockA}},
		}},
		{"PingAfterBlockedStart leaves a clean first run suppressed", DedupeOptions{PingAfterBlockedStart: true}, []step{
			{1, in(a), 0, nil},
		}},
		{"buy-box rotation A,B,A,C,B on an item in stock: only never-seen offers ping", DedupeOptions{}, []step{
			{1, in(a), 0, nil}, // first run
			{1, in(b), time.Minute, []string{"restock amazon/DE/B0000000AA:B"}},
			{1, in(a), time.Minute, nil}, // seen 1m ago: not new
			{1, in(c), time.Minute, []string{"restock amazon/DE/B0000000AA:C"}},
			{1, in(b), time.Minute, nil},
		}},
		{"an offer unseen for longer than the cooldown is new again", DedupeOptions{Cooldown: 10 * time.Minute}, []step{
			{1, in(a), 0, nil},
			{1, in(b), time.Minute, []string{"restock amazon/DE/B0000000AA:B"}},
			{1, in(a), 11 * time.Minute, []string{restockA}},
		}},
		{"a restock of a seen offer still pings after it sold out", DedupeOptions{Cooldown: 10 * time.Minute}, []step{
			{1, oos, 0, nil},
			{1, in(a), time.Minute, []string{restockA}},
			{1, oos, time.Minute, []string{"sold_out amazon/DE/B0000000AA:A"}},
			{1, in(b), time.Minute, []string{"restock amazon/DE/B0000000AA:B"}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDedupe(tc.cfg.resolve(), nil, quiet, metrics.NewSet())
			now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
			for i, s := range tc.steps {
				now = now.Add(s.after)
				// As the engine calls it: single-product targets name their sku.
				got := fmtTransitions(d.observeSKU(s.target, "amazon", "B0000000AA", &s.obs, now))
				if !slices.Equal(got, s.want) {
					t.Errorf("step %d (target %d, %s): got %q, want %q", i, s.target, s.obs.Outcome, got, s.want)
				}
			}
		})
	}
}

// TestDedupeHolesAcrossRestart: the last known state survives a restart,
// including the offers seen (rotation) and a product's out-of-stock state
// after its target was edited away.
func TestDedupeHolesAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	a, b := offer("B0000000AA", "A"), offer("B0000000AA", "B")
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	obs := func(d *dedupe, id TargetID, o monitors.Observation, after time.Duration) []string {
		now = now.Add(after)
		return fmtTransitions(d.observeSKU(id, "amazon", "B0000000AA", &o, now))
	}
	db, st := openBolt(t, path)
	d := newDedupe(DedupeOptions{}.resolve(), st, quiet, metrics.NewSet())
	if err := d.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	obs(d, 1, in(a), 0)
	obs(d, 1, in(b), time.Minute)
	obs(d, 2, oos, 0) // same product, another filter
	d.retain(map[TargetID]struct{}{1: {}})
	db.Close()

	db, st = openBolt(t, path)
	d = newDedupe(DedupeOptions{}.resolve(), st, quiet, metrics.NewSet())
	if err := d.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := obs(d, 1, in(a), time.Minute); got != nil {
		t.Errorf("offer A seen 1m before the restart pinged as new: %q", got)
	}
	if got := obs(d, 1, oos, time.Minute); len(got) != 1 {
		t.Fatalf("sold out: %q", got)
	}
	d.retain(map[TargetID]struct{}{3: {}})
	db.Close()
	db, st = openBolt(t, path)
	defer db.Close()
	d = newDedupe(DedupeOptions{}.resolve(), st, quiet, metrics.NewSet())
	if err := d.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Target 3 is new, blocked at first; the product's persisted last
	// state is out of stock: its restock pings.
	obs(d, 3, blocked, time.Minute)
	if got := obs(d, 3, in(a), 20*time.Minute); len(got) != 1 {
		t.Errorf("restock after restart on a product last seen out of stock: %q", got)
	}
	if got := d.lastPinged(3); !got.Equal(now) {
		t.Errorf("lastPinged = %v, want %v", got, now)
	}
	if got := d.lastPinged(99); !got.IsZero() {
		t.Errorf("lastPinged of an unknown target = %v", got)
	}
}
