package node

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// engineTargets shows the engine's per-target status to the admin API. The
// API starts serving before the engine exists, hence the atomic pointer;
// until it is set the list is empty.
type engineTargets struct{ eng atomic.Pointer[engine.Engine] }

func (et *engineTargets) Targets() []api.Target {
	e := et.eng.Load()
	if e == nil {
		return nil
	}
	st := e.Status()
	out := make([]api.Target, len(st))
	for i, s := range st {
		out[i] = apiTarget(s)
	}
	return out
}

// liveRules returns the engine's current rules once it runs (a reload may
// rename Stellar sites), else start: ingest validates with the same rules
// as the engine's restocks.
func (et *engineTargets) liveRules(start stellar.Rules) func() stellar.Rules {
	return func() stellar.Rules {
		if e := et.eng.Load(); e != nil {
			return e.Rules()
		}
		return start
	}
}

func apiTarget(s engine.TargetStatus) api.Target {
	t := api.Target{
		ID: s.ID.String(), Site: s.Target.Site, Region: s.Target.Region, SKU: s.Target.SKU,
		Store: s.Target.Store, Handle: s.Target.Handle, Keywords: s.Target.Keywords, StellarSite: s.Target.StellarSite,
		Group: s.Target.Group, Tags: slices.Clone(s.Target.Tags),
		Started: s.Started, Outcome: s.LastOutcome, Reason: s.Reason,
		LastCheck: timePtr(s.LastCheck), Since: timePtr(s.Since), LastRestock: timePtr(s.LastRestock),
		Streak: s.Streak, Checks: s.Checks, Skipped: s.Skipped, Proxy: s.Proxy,
		IntervalSeconds: s.Interval.Seconds(), DelaySeconds: s.Delay.Seconds(),
	}
	if s.Interval > 0 {
		t.Backoff = float64(s.Delay) / float64(s.Interval)
	}
	return t
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

var _ api.TargetSource = (*engineTargets)(nil)
