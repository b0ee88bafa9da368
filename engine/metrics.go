package engine

import (
	"strings"

	"github.com/VictoriaMetrics/metrics"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// labelValue escapes a Prometheus label value; VictoriaMetrics panics on a
// malformed metric name, and proxy hosts or site names come from config.
func labelValue(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return r.Replace(s)
}

// siteMetrics are one site's metrics, created once per site so that the
// check path only increments pointers (no name formatting, no map lookup).
type siteMetrics struct {
	checks   [monitors.NumOutcomes]*metrics.Counter // by Outcome
	duration *metrics.PrometheusHistogram
	pings    *metrics.Counter
	invalid  *metrics.Counter
	soldOut  *metrics.Counter
	skipped  *metrics.Counter
	rechecks *metrics.Counter
	// claimLost counts restocks another node claimed first (Options.Claim).
	claimLost *metrics.Counter
	panics    *metrics.Counter
	requests  *metrics.Counter
}

func newSiteMetrics(set *metrics.Set, site string) *siteMetrics {
	l := `{site="` + labelValue(site) + `"}`
	m := &siteMetrics{
		duration:  set.GetOrCreatePrometheusHistogram("stellarfeed_check_duration_seconds" + l),
		pings:     set.GetOrCreateCounter("stellarfeed_pings_total" + l),
		invalid:   set.GetOrCreateCounter("stellarfeed_pings_invalid_total" + l),
		soldOut:   set.GetOrCreateCounter("stellarfeed_sold_out_total" + l),
		skipped:   set.GetOrCreateCounter("stellarfeed_check_skipped_total" + l),
		rechecks:  set.GetOrCreateCounter("stellarfeed_rechecks_total" + l),
		claimLost: set.GetOrCreateCounter("stellarfeed_restocks_claimed_elsewhere_total" + l),
		panics:    set.GetOrCreateCounter("stellarfeed_check_panics_total" + l),
		requests:  set.GetOrCreateCounter("stellarfeed_requests_total" + l),
	}
	for o := range m.checks {
		name := `stellarfeed_checks_total{site="` + labelValue(site) + `",outcome="` + monitors.Outcome(o).String() + `"}`
		m.checks[o] = set.GetOrCreateCounter(name)
	}
	return m
}

func (m *siteMetrics) check(o monitors.Outcome) *metrics.Counter {
	if o < 0 || int(o) >= len(m.checks) {
		return m.checks[monitors.Error]
	}
	return m.checks[o]
}
