package engine

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stellarfeed/stellarfeed/monitors"
)

func TestOffset(t *testing.T) {
	// synctest's clock starts at 2000-01-01 UTC: a whole number of seconds.
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	iv := 5 * time.Second
	f := func(id TargetID, seed uint64, now time.Time, want time.Duration) {
		t.Helper()
		if got := offset(id, seed, iv, now); got != want {
			t.Errorf("offset(%v, %d, %s) = %s, want %s", id, seed, now.Format(time.StampMilli), got, want)
		}
	}
	f(TargetID(1234567), 0, epoch, time.Duration(1234567))
	f(TargetID(1234567), 0, epoch.Add(time.Millisecond), 234567)
	f(TargetID(1234567), 0, epoch.Add(2*time.Millisecond), time.Duration(1234567)+iv-2*time.Millisecond)
	f(TargetID(0), 0, epoch, 0)
	f(TargetID(uint64(iv)+7), 0, epoch, 7)
	f(TargetID(5), 3, epoch, 6) // 5 XOR 3
	// Pinned to the wall clock: wherever "now" is, the tick lands on the
	// same phase of the interval.
	id := TargetID(0xdeadbeefcafe)
	for _, d := range []time.Duration{0, time.Second, 3 * time.Second, 4999 * time.Millisecond, time.Hour} {
		now := epoch.Add(d)
		at := now.Add(offset(id, 0, iv, now))
		if at.Sub(epoch)%iv != time.Duration(uint64(id)%uint64(iv)) {
			t.Errorf("now=+%s: tick at +%s is off phase", d, at.Sub(epoch))
		}
		if o := offset(id, 0, iv, now); o < 0 || o >= iv {
			t.Errorf("offset %s outside [0, %s)", o, iv)
		}
	}
	// Real IDs spread over the interval: every tenth of it gets targets.
	var buckets [10]int
	for i := range 1000 {
		tg := amazonTarget(fmt.Sprintf("B%09d", i), iv)
		buckets[offset(tg.ID(), 0, iv, epoch)*10/iv]++
	}
	for i, n := range buckets {
		if n < 50 || n > 150 {
			t.Errorf("bucket %d has %d of 1000 targets: not spread", i, n)
		}
	}
}

// TestScheduleFirstTickAndInterval: each target first checks at its offset,
// then every interval exactly (no jitter).
func TestScheduleFirstTickAndInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		mon := newFakeMonitor()
		e := newTestEngine(t, Options{}, mon, nil)
		targets := []Target{amazonTarget("B000000001", 2*time.Second), amazonTarget("B000000002", 5*time.Second), amazonTarget("B000000003", 0)}
		if err := e.ApplyTargets(targets); err != nil {
			t.Fatal(err)
		}
		stop := startEngine(t, e)
		time.Sleep(21 * time.Second)
		synctest.Wait()
		stop()
		for _, tg := range targets {
			iv := tg.Interval
			if iv == 0 {
				iv = DefaultInterval
			}
			first := start.Add(time.Duration(uint64(tg.ID()) % uint64(iv)))
			got := mon.times(tg.SKU)
			var want []time.Time
			for at := first; !at.After(start.Add(21 * time.Second)); at = at.Add(iv) {
				want = append(want, at)
			}
			if !slices.EqualFunc(got, want, time.Time.Equal) {
				t.Errorf("%s (interval %s): checks at %v, want %v", tg.SKU, iv, rel(start, got), rel(start, want))
			}
		}
	})
}

func rel(start time.Time, ts []time.Time) []time.Duration {
	out := make([]time.Duration, len(ts))
	for i, x := range ts {
		out[i] = x.Sub(start)
	}
	return out
}

func gaps(ts []time.Time) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(ts); i++ {
		out = append(out, ts[i].Sub(ts[i-1]))
	}
	return out
}

// TestScheduleNoOverlap: a check slower than the interval makes the loop
// skip ticks (counted), never run two checks of one target.
func TestScheduleNoOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mon := newFakeMonitor()
		mon.duration = 2500 * time.Millisecond
		e := newTestEngine(t, Options{}, mon, nil)
		tg := amazonTarget("B000000001", time.Second)
		if err := e.ApplyTargets([]Target{tg}); err != nil {
			t.Fatal(err)
		}
		stop := startEngine(t, e)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		st := e.Status()
		stop()
		if mon.overlaps != 0 {
			t.Errorf("%d overlapping checks of one target", mon.overlaps)
		}
		// A check of 2.5s on a 1s tick: checks start every 3s, two ticks in
		// between are skipped.
		for i, g := range gaps(mon.times(tg.SKU)) {
			if g != 3*time.Second {
				t.Errorf("gap %d = %s, want 3s", i, g)
			}
		}
		if len(st) != 1 || st[0].Skipped < 15 {
			t.Errorf("status %+v: want ~19 skipped ticks", st)
		}
		if got := counterValue(t, e, `stellarfeed_check_skipped_total{site="amazon"}`); got != float64(st[0].Skipped) {
			t.Errorf("skipped metric %v, status %d", got, st[0].Skipped)
		}
	})
}

// TestScheduleBackoff: Blocked/Error double the delay up to 16×, good
// checks halve it back to the interval.
func TestScheduleBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mon := newFakeMonitor()
		seq := []monitors.Outcome{monitors.Blocked, monitors.Error, monitors.Blocked, monitors.Blocked, monitors.Blocked, monitors.Blocked,
			monitors.OutOfStock, monitors.OutOfStock, monitors.OutOfStock, monitors.OutOfStock, monitors.OutOfStock, monitors.OutOfStock}
		mon.outcome = func(_ *monitors.Target, n int) monitors.Observation {
			if n < len(seq) {
				return monitors.Observation{Outcome: seq[n]}
			}
			return monitors.Observation{Outcome: monitors.OutOfStock}
		}
		e := newTestEngine(t, Options{}, mon, nil)
		tg := amazonTarget("B000000001", time.Second)
		if err := e.ApplyTargets([]Target{tg}); err != nil {
			t.Fatal(err)
		}
		stop := startEngine(t, e)
		time.Sleep(120 * time.Second)
		synctest.Wait()
		stop()
		s := time.Second
		want := []time.Duration{2 * s, 4 * s, 8 * s, 16 * s, 16 * s, 16 * s, 8 * s, 4 * s, 2 * s, s, s, s}
		got := gaps(mon.times(tg.SKU))
		if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Errorf("gaps %v, want prefix %v", got, want)
		}
		if v := counterValue(t, e, `stellarfeed_checks_total{site="amazon",outcome="blocked"}`); v != 5 {
			t.Errorf("blocked checks metric = %v, want 5", v)
		}
	})
}

// TestScheduleJitter: ticks stay within ±Jitter of the interval.
func TestScheduleJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mon := newFakeMonitor()
		e := newTestEngine(t, Options{Jitter: 0.2}, mon, nil)
		tg := amazonTarget("B000000001", 10*time.Second)
		if err := e.ApplyTargets([]Target{tg}); err != nil {
			t.Fatal(err)
		}
		stop := startEngine(t, e)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		stop()
		g := gaps(mon.times(tg.SKU))
		distinct := map[time.Duration]bool{}
		for _, d := range g {
			if d < 8*time.Second || d > 12*time.Second {
				t.Errorf("gap %s outside 10s ± 20%%", d)
			}
			distinct[d] = true
		}
		if len(g) < 45 || len(distinct) < 10 {
			t.Errorf("%d gaps, %d distinct: jitter not applied", len(g), len(distinct))
		}
	})
}

// TestReloadDiff: unchanged targets keep running (same loop, same phase),
// removed ones stop, changed ones restart, new ones start.
func TestReloadDiff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		mon := newFakeMonitor()
		e := newTestEngine(t, Options{ReloadInterval: time.Second}, mon, nil)
		keep, change, drop := amazonTarget("B00000KEEP", time.Second), amazonTarget("B0000CHANG", time.Second), amazonTarget("B00000DROP", time.Second)
		if err := e.ApplyTargets([]Target{keep, change, drop}); err != nil {
			t.Fatal(err)
		}
		stop := startEngine(t, e)
		defer stop()
		time.Sleep(10*time.Second + 500*time.Millisecond)
		synctest.Wait()
		before := statusBySKU(e.Status())

		changed := change
		changed.Interval = 2 * time.Second
		changed.Group = "cook-group-b"
		added := amazonTarget("B0000ADDED", time.Second)
		reloadAt := time.Now()
		if err := e.ApplyTargets([]Target{keep, changed, added}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		after := statusBySKU(e.Status())
		if len(after) != 3 {
			t.Fatalf("after reload: %d targets, want 3", len(after))
		}
		if _, ok := after[drop.SKU]; ok {
			t.Error("dropped target still running")
		}
		if !after[keep.SKU].Started.Equal(before[keep.SKU].Started) || after[keep.SKU].Checks != before[keep.SKU].Checks {
			t.Errorf("unchanged target restarted: before %+v after %+v", before[keep.SKU], after[keep.SKU])
		}
		if !after[change.SKU].Started.Equal(reloadAt) || after[change.SKU].Target.Group != "cook-group-b" {
			t.Errorf("changed target not restarted: %+v", after[change.SKU])
		}
		if !after[added.SKU].Started.Equal(reloadAt) {
			t.Errorf("added target: %+v", after[added.SKU])
		}
		dropChecks := len(mon.times(drop.SKU))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := len(mon.times(drop.SKU)); n != dropChecks {
			t.Errorf("dropped target checked %d more times", n-dropChecks)
		}
		// The kept target never missed a beat: one check a second, in phase.
		kt := mon.times(keep.SKU)
		for i, g := range gaps(kt) {
			if g != time.Second {
				t.Errorf("kept target gap %d = %s", i, g)
			}
		}
		if off := kt[0].Sub(start); off != time.Duration(uint64(keep.ID())%uint64(time.Second)) {
			t.Errorf("kept target phase %s", off)
		}
		// The changed target now runs every 2s, in its phase for 2s.
		ct := mon.times(change.SKU)
		var after2 []time.Time
		for _, x := range ct {
			if x.After(reloadAt) {
				after2 = append(after2, x)
			}
		}
		if len(after2) < 4 {
			t.Fatalf("changed target: %d checks after reload", len(after2))
		}
		for i, g := range gaps(after2) {
			if g != 2*time.Second {
				t.Errorf("changed target gap %d = %s, want 2s", i, g)
			}
		}
		if ph := after2[0].Sub(start) % (2 * time.Second); ph != time.Duration(uint64(change.ID())%uint64(2*time.Second)) {
			t.Errorf("changed target phase %s", ph)
		}
	})
}

func statusBySKU(st []TargetStatus) map[string]TargetStatus {
	m := map[string]TargetStatus{}
	for _, s := range st {
		m[s.Target.SKU] = s
	}
	return m
}

// TestReloadCoalesce: a burst of reloads is applied at most once per
// ReloadInterval, and the last set wins.
func TestReloadCoalesce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mon := newFakeMonitor()
		e := newTestEngine(t, Options{ReloadInterval: 5 * time.Second}, mon, nil)
		stop := startEngine(t, e)
		defer stop()
		synctest.Wait()
		applies := func() float64 { return counterValue(t, e, "stellarfeed_target_reloads_total") }
		for i := range 20 {
			if err := e.ApplyTargets([]Target{amazonTarget(fmt.Sprintf("B%09d", i), time.Second)}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
		}
		// The first applied at once, the other 19 (2s of burst) wait for
		// the end of the 5s period and are applied once.
		if got := applies(); got != 1 {
			t.Errorf("%v applies during the burst, want 1", got)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := applies(); got != 2 {
			t.Errorf("%v applies after the period, want 2", got)
		}
		st := e.Status()
		if len(st) != 1 || st[0].Target.SKU != "B000000019" {
			t.Errorf("running %+v, want the last set", st)
		}
	})
}

// TestCancelStopsEverything: Run returns once in-flight checks end, and
// nothing is left running (synctest fails on a leftover goroutine).
func TestCancelStopsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mon := newFakeMonitor()
		mon.duration = time.Hour // cut short by ctx
		e := newTestEngine(t, Options{}, mon, nil)
		var ts []Target
		for i := range 100 {
			ts = append(ts, amazonTarget(fmt.Sprintf("B%09d", i), time.Second))
		}
		if err := e.ApplyTargets(ts); err != nil {
			t.Fatal(err)
		}
		stop := startEngine(t, e)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if n := e.inflight.Load(); n != 64 {
			t.Errorf("%d checks in flight, want the pool size 64", n)
		}
		before := time.Now()
		stop()
		if d := time.Since(before); d != 0 {
			t.Errorf("Run took %s (fake time) to return", d)
		}
		if n := e.inflight.Load(); n != 0 {
			t.Errorf("%d checks still in flight", n)
		}
		if len(e.Status()) != 0 {
			t.Error("loops left after Run returned")
		}
	})
}

func TestApplyTargetsValidation(t *testing.T) {
	e, err := New(Options{Logger: quiet}, func(name string) (monitors.Monitor, error) {
		if name == "amazon" {
			return validatingMonitor{newFakeMonitor()}, nil
		}
		return nil, fmt.Errorf("unknown site %q", name)
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := amazonTarget("B000000001", time.Second)
	if err := e.ApplyTargets([]Target{good}); err != nil {
		t.Fatal(err)
	}
	neg := amazonTarget("B000000002", -time.Second)
	bad := amazonTarget("B000000003", 0)
	bad.Region = "US"
	err = e.ApplyTargets([]Target{good, {Target: monitors.Target{Site: "ebay", SKU: "1"}}, good, neg, bad, {}})
	want := `targets[1].site: unknown site "ebay"
targets[2]: same target as targets[0]
targets[3].interval: must not be negative, got -1s
targets[4]: region: "US" is not one of USA, CA, UK, NL, FR, IT, DE, JP, ES, BE, PL, AU
targets[5].site: required`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	e.mu.Lock()
	n := len(e.pending)
	e.mu.Unlock()
	if n != 1 {
		t.Errorf("a rejected set replaced the pending one (%d targets)", n)
	}
}

type validatingMonitor struct{ *fakeMonitor }

func (validatingMonitor) ValidateTarget(t *monitors.Target) error {
	switch t.Region {
	case "USA", "CA", "UK", "NL", "FR", "IT", "DE", "JP", "ES", "BE", "PL", "AU":
		return nil
	}
	return fmt.Errorf("region: %q is not one of USA, CA, UK, NL, FR, IT, DE, JP, ES, BE, PL, AU", t.Region)
}

func TestOptionsErrors(t *testing.T) {
	_, err := New(Options{Workers: -1, Jitter: 1.5, Proxies: []string{"socks5://h:1", "user:secret@nohost"},
		SiteLimits: map[string]SiteLimit{"amazon": {Concurrency: -2}}}, nil, nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"workers: must not be negative", "jitter: must be a fraction", "sites.amazon.concurrency"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	_, err = New(Options{Proxies: []string{"socks5://h:1", "user:secret@nohost"}}, nil, nil)
	if err == nil || !contains(err.Error(), "proxies[0]: scheme \"socks5\"") || !contains(err.Error(), "proxies[1]:") || contains(err.Error(), "secret") {
		t.Errorf("proxy errors: %v", err)
	}
}

// fakeTransport answers every request at once, without a network.
func fakeTransport(e *Engine) {
	e.fetcher.SetRoundTrip(func(ctx context.Context, r *monitors.Request) (*monitors.Response, error) {
		return &monitors.Response{Status: 200, URL: r.URL, Body: []byte("ok")}, nil
	})
}

// TestSiteLimits: per-site concurrency and per-site and per-proxy rates.
func TestSiteLimits(t *testing.T) {
	var ts []Target
	for i := range 20 {
		ts = append(ts, amazonTarget(fmt.Sprintf("B%09d", i), time.Second))
	}
	t.Run("concurrency", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			mon := newFakeMonitor()
			mon.duration = 400 * time.Millisecond
			e := newTestEngine(t, Options{SiteLimits: map[string]SiteLimit{"amazon": {Concurrency: 3}}}, mon, nil)
			runFor(t, e, ts, 10*time.Second)
			if mon.peak != 3 {
				t.Errorf("peak %d checks of one site at once, want 3", mon.peak)
			}
		})
	})
	t.Run("site rate", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			mon := newFakeMonitor()
			mon.fetch = true
			e := newTestEngine(t, Options{SiteLimits: map[string]SiteLimit{"amazon": {RatePerSec: 4, Burst: 2}}}, mon, nil)
			fakeTransport(e)
			runFor(t, e, ts, 10*time.Second)
			// 20 targets want 20 requests/s; the site allows 4/s plus a
			// burst of 2: at most 2 + 4×10 in 10s, and the limiter is busy.
			if n := len(mon.fetched); n < 38 || n > 42 {
				t.Errorf("%d requests in 10s at 4/s", n)
			}
			if v := counterValue(t, e, `stellarfeed_requests_total{site="amazon"}`); int(v) < len(mon.fetched) {
				t.Errorf("site requests metric %v < %d", v, len(mon.fetched))
			}
		})
	})
	t.Run("proxy rate", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			mon := newFakeMonitor()
			mon.fetch = true
			e := newTestEngine(t, Options{Proxies: []string{"127.0.0.1:1", "127.0.0.1:2"}, ProxyLimit: Limit{RatePerSec: 1}}, mon, nil)
			fakeTransport(e)
			runFor(t, e, ts, 10*time.Second)
			for _, label := range []string{"127.0.0.1:1", "127.0.0.1:2"} {
				if v := counterValue(t, e, `stellarfeed_proxy_requests_total{proxy="`+label+`"}`); v < 9 || v > 11 {
					t.Errorf("proxy %s: %v requests in 10s at 1/s", label, v)
				}
			}
		})
	})
}
