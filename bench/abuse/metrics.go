package abuse

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Metrics is one scrape of /metrics: series (name with labels, as
// written) to value.
type Metrics map[string]float64

// Get returns the value of series, and whether it was exposed.
func (m Metrics) Get(series string) (float64, bool) {
	v, ok := m[series]
	return v, ok
}

// Well-known series the suite and the soak read.
const (
	MetricFDs         = "process_open_fds"
	MetricRSS         = "process_resident_memory_bytes"
	MetricGoroutines  = "go_goroutines"
	MetricConns       = `stellarfeed_connections{endpoint="stellar"}`
	MetricWSConns     = `stellarfeed_connections{endpoint="ws"}`
	MetricDeliveries  = "stellarfeed_deliveries_total"
	MetricPublished   = "stellarfeed_pings_published_total"
	MetricSlowCut     = "stellarfeed_slow_consumer_disconnects_total"
	MetricRejTimeout  = `stellarfeed_ws_rejected_total{reason="timeout"}`
	MetricRejBad      = `stellarfeed_ws_rejected_total{reason="bad"}`
	MetricRejAuth     = `stellarfeed_ws_rejected_total{reason="auth"}`
	MetricUpgraded    = "stellarfeed_ws_upgraded_total"
	MetricAccepted    = "stellarfeed_ws_accepted_total"
	MetricEnginePings = "stellarfeed_engine_pings_total"
)

// Scrape reads the target's /metrics.
func (a *api) Scrape(ctx context.Context) (Metrics, error) {
	code, body, err := a.do(ctx, http.MethodGet, "/metrics", "", "", nil)
	if err != nil {
		return nil, fmt.Errorf("scrape /metrics: %w", err)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("scrape /metrics: status %d", code)
	}
	return ParseMetrics(body), nil
}

// ParseMetrics reads Prometheus text format; comments and malformed lines
// are skipped.
func ParseMetrics(b []byte) Metrics {
	m := Metrics{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// The value follows the last space outside the labels.
		end := strings.LastIndexByte(line, '}')
		sp := strings.IndexByte(line[max(end, 0):], ' ')
		if sp < 0 {
			continue
		}
		sp += max(end, 0)
		name, rest := line[:sp], strings.Fields(line[sp:])
		if len(rest) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(rest[0], 64)
		if err != nil {
			continue
		}
		m[name] = v
	}
	return m
}
