package engine

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stellarfeed/stellarfeed/internal/leaktest"
	"github.com/stellarfeed/stellarfeed/monitors"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leaktest.Options()...)
}

var quiet = slog.New(slog.DiscardHandler)

// fakeMonitor records every check. outcome decides each result from the
// target and the check's number for that target (0-based).
type fakeMonitor struct {
	mu       sync.Mutex
	calls    map[string][]time.Time // by SKU
	active   map[string]int
	overlaps int
	running  int // checks in flight, all targets
	peak     int
	fetch    bool          // make one request per check
	fetched  []time.Time   // when each request returned
	duration time.Duration // how long a check takes (fake time in synctest)
	outcome  func(t *monitors.Target, n int) monitors.Observation
}

func newFakeMonitor() *fakeMonitor {
	return &fakeMonitor{calls: map[string][]time.Time{}, active: map[string]int{}}
}

func (f *fakeMonitor) Check(ctx context.Context, t *monitors.Target, fetcher monitors.Fetcher) monitors.Observation {
	f.mu.Lock()
	n := len(f.calls[t.SKU])
	f.calls[t.SKU] = append(f.calls[t.SKU], time.Now())
	f.active[t.SKU]++
	if f.active[t.SKU] > 1 {
		f.overlaps++
	}
	f.running++
	f.peak = max(f.peak, f.running)
	d, outcome, fetch := f.duration, f.outcome, f.fetch
	f.mu.Unlock()
	if fetch {
		if _, err := fetcher.Fetch(ctx, &monitors.Request{URL: "http://shop.invalid/" + t.SKU}); err == nil {
			f.mu.Lock()
			f.fetched = append(f.fetched, time.Now())
			f.mu.Unlock()
		}
	}
	if d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	f.mu.Lock()
	f.active[t.SKU]--
	f.running--
	f.mu.Unlock()
	if ctx.Err() != nil {
		return monitors.Observation{Outcome: monitors.Error, Reason: ctx.Err().Error()}
	}
	if outcome == nil {
		return monitors.Observation{Outcome: monitors.OutOfStock}
	}
	return outcome(t, n)
}

func (f *fakeMonitor) times(sku string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.calls[sku]...)
}

// recorder is an Output that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Emit(ev Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

func newTestEngine(t testing.TB, opts Options, mon monitors.Monitor, store StateStore, outs ...Output) *Engine {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	e, err := New(opts, func(name string) (monitors.Monitor, error) { return mon, nil }, store, outs...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// startEngine runs e and returns a stop function that cancels and waits.
func startEngine(t testing.TB, e *Engine) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func amazonTarget(sku string, iv time.Duration) Target {
	return Target{Target: monitors.Target{Site: "amazon", Region: "DE", SKU: sku}, Interval: iv}
}

func counterValue(t testing.TB, e *Engine, name string) float64 {
	t.Helper()
	return float64(e.Metrics().GetOrCreateCounter(name).Get())
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
