package soak

import (
	"fmt"
	"slices"
	"time"
)

// Sample is one observation of the server and the load.
type Sample struct {
	At         time.Duration // since the start
	RSS        int64         // bytes, /proc/PID/status VmRSS
	FDs        int           // entries of /proc/PID/fd
	Goroutines int           // go_goroutines
	Conns      int           // stellarfeed_connections (both endpoints)
	Deliveries uint64        // stellarfeed_deliveries_total
	Published  uint64        // stellarfeed_pings_published_total (ingest and monitors)

	Accepted int // canary pings the ingest API accepted
	Received int // canary pings received, summed over canaries
	Lost     int // accepted pings a canary had not received by the next sample

	ChurnConnects int // churner connections made
	ChurnPings    int // pings churners received
	ChurnErrors   int // churner dials refused or failed (other than a rotated key)
	Rotations     int // keys rotated
	Revocations   int // keys revoked
	KeyFaults     int // a rotation or revocation that did not cut the old secret
}

// Limit is the growth allowed for one series: the last quarter's median may
// exceed the first quarter's by max(Rel × first, Abs).
type Limit struct {
	Name  string
	Rel   float64
	Abs   float64
	Value func(Sample) float64
}

// DefaultLimits are the growth thresholds of `make soak`.
//
//   - RSS: 20% or 16 MiB. The Go heap grows to a steady state after a few
//     GC cycles; a leak of one connection struct per churn (~2 KB × tens
//     of thousands of churns per hour) exceeds it.
//   - fds: 10% or 32. The number of churners connected at a sampling
//     instant varies; a leak of one fd per churn exceeds it within minutes.
//   - goroutines: 10% or 32, for the same reason.
var DefaultLimits = []Limit{
	{Name: "rss", Rel: 0.20, Abs: 16 << 20, Value: func(s Sample) float64 { return float64(s.RSS) }},
	{Name: "fds", Rel: 0.10, Abs: 32, Value: func(s Sample) float64 { return float64(s.FDs) }},
	{Name: "goroutines", Rel: 0.10, Abs: 32, Value: func(s Sample) float64 { return float64(s.Goroutines) }},
}

// Growth is one series' verdict.
type Growth struct {
	Name        string
	First, Last float64 // medians of the first and last quarter
	Allowed     float64 // most Last may exceed First by
	OK          bool
}

func (g Growth) String() string {
	verdict := "flat"
	if !g.OK {
		verdict = "GROWING"
	}
	return fmt.Sprintf("%s: first-quarter median %.0f, last-quarter median %.0f (%+.0f, allowed +%.0f): %s",
		g.Name, g.First, g.Last, g.Last-g.First, g.Allowed, verdict)
}

// minSamples is the fewest samples after warm-up worth judging: two per
// quarter.
const minSamples = 8

// Warmup is how much of a run's start is left out of the growth verdict:
// a tenth of the run, at most a minute.
func Warmup(d time.Duration) time.Duration { return min(d/10, time.Minute) }

// JudgeGrowth compares the last quarter with the first for each limit,
// ignoring samples taken before warmup. It fails when there are too few
// samples to judge.
func JudgeGrowth(samples []Sample, warmup time.Duration, limits []Limit) ([]Growth, error) {
	var s []Sample
	for _, x := range samples {
		if x.At >= warmup {
			s = append(s, x)
		}
	}
	if len(s) < minSamples {
		return nil, fmt.Errorf("soak: %d samples after the %s warm-up, need %d to judge growth: run longer", len(s), warmup, minSamples)
	}
	q := len(s) / 4
	out := make([]Growth, 0, len(limits))
	for _, l := range limits {
		first, last := median(s[:q], l.Value), median(s[len(s)-q:], l.Value)
		g := Growth{Name: l.Name, First: first, Last: last, Allowed: max(l.Rel*first, l.Abs)}
		g.OK = last-first <= g.Allowed
		out = append(out, g)
	}
	return out, nil
}

func median(s []Sample, f func(Sample) float64) float64 {
	v := make([]float64, len(s))
	for i, x := range s {
		v[i] = f(x)
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
