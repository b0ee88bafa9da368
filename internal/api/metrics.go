package api

import (
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

type apiMetrics struct {
	set       *metrics.Set
	byCode    map[int]*metrics.Counter // stellarfeed_ingest_requests_total{code}
	webhook   map[int]*metrics.Counter // stellarfeed_webhook_requests_total{code}
	accepted  *metrics.Counter
	rejected  *metrics.Counter
	published *metrics.Counter
	duration  *metrics.PrometheusHistogram
	admin     *metrics.Counter

	sseConns    *atomic.Int64    // live event streams
	sseStreams  *metrics.Counter // streams started
	sseRejected *metrics.Counter // stream requests refused by the key store
}

// ingestCodes are every status the ingest endpoints answer with,
// registered up front so the hot path does no map insert or formatting.
var ingestCodes = []int{202, 400, 401, 402, 403, 404, 405, 413, 415, 429, 500}

func newMetrics(set *metrics.Set) apiMetrics {
	m := apiMetrics{set: set, byCode: make(map[int]*metrics.Counter, len(ingestCodes)), webhook: make(map[int]*metrics.Counter, len(ingestCodes))}
	for _, c := range ingestCodes {
		m.byCode[c] = set.GetOrCreateCounter(fmt.Sprintf(`stellarfeed_ingest_requests_total{code="%d"}`, c))
		m.webhook[c] = set.GetOrCreateCounter(fmt.Sprintf(`stellarfeed_webhook_requests_total{code="%d"}`, c))
	}
	m.accepted = set.GetOrCreateCounter("stellarfeed_ingest_pings_accepted_total")
	m.rejected = set.GetOrCreateCounter("stellarfeed_ingest_pings_rejected_total")
	m.published = set.GetOrCreateCounter("stellarfeed_ingest_messages_published_total")
	m.duration = set.GetOrCreatePrometheusHistogram("stellarfeed_ingest_request_duration_seconds")
	m.admin = set.GetOrCreateCounter("stellarfeed_admin_requests_total")
	m.sseConns = new(atomic.Int64)
	m.sseStreams = set.GetOrCreateCounter("stellarfeed_sse_streams_total")
	m.sseRejected = set.GetOrCreateCounter("stellarfeed_sse_rejected_total")
	return m
}

func (m *apiMetrics) ingestDone(code int, start time.Time) {
	m.done(m.byCode, "stellarfeed_ingest_requests_total", code, start)
}

func (m *apiMetrics) webhookDone(code int, start time.Time) {
	m.done(m.webhook, "stellarfeed_webhook_requests_total", code, start)
}

func (m *apiMetrics) done(byCode map[int]*metrics.Counter, name string, code int, start time.Time) {
	c := byCode[code]
	if c == nil {
		c = m.set.GetOrCreateCounter(name + `{code="` + strconv.Itoa(code) + `"}`)
	}
	c.Inc()
	m.duration.UpdateDuration(start)
}

// registerScrapeMetrics adds the metrics read at scrape time: event
// streams and key rejections. Reading them from their owners' counters
// costs the hot paths nothing.
func (a *API) registerScrapeMetrics() {
	if a.deps.SSE != nil {
		a.m.set.NewGauge(`stellarfeed_connections{endpoint="sse"}`, func() float64 {
			return float64(a.m.sseConns.Load())
		})
	}
	a.m.set.RegisterMetricsWriter(a.writeScrapeMetrics)
}

// unknownRejections is implemented by *keys.Store: refusals of secrets
// that matched no key.
type unknownRejections interface {
	UnknownRejections() map[string]uint64
}

// perKeyReasons are the refusals counted on a key; the others (missing,
// unknown) match no key and are counted with kind="none".
var perKeyReasons = []string{"revoked", "expired", "disabled", "max_conns", "ip_limit", "rate", "quota"}

func (a *API) writeScrapeMetrics(w io.Writer) {
	if a.deps.SSE != nil {
		st := a.deps.SSE.Stats()
		metrics.WriteCounterUint64(w, "stellarfeed_sse_events_published_total", st.Published)
		metrics.WriteCounterUint64(w, "stellarfeed_sse_events_delivered_total", st.Delivered)
		metrics.WriteCounterUint64(w, "stellarfeed_sse_events_replayed_total", st.Replayed)
		metrics.WriteCounterUint64(w, "stellarfeed_sse_resumes_missed_total", st.Missed)
		metrics.WriteCounterUint64(w, "stellarfeed_sse_slow_consumer_disconnects_total", st.Dropped)
		metrics.WriteCounterUint64(w, "stellarfeed_sse_heartbeats_total", st.Heartbeats)
		metrics.WriteGaugeUint64(w, "stellarfeed_sse_subscribers", uint64(st.Subscribers))
	}

	// Rejections by key kind and reason: kind="subscriber" are WebSocket
	// and SSE handshakes. One pass over the keys per scrape.
	byKind := map[keys.Kind]map[string]uint64{}
	for _, k := range a.deps.Keys.List() {
		u, err := a.deps.Keys.Usage(k.ID)
		if err != nil || len(u.Rejected) == 0 {
			continue
		}
		if byKind[k.Kind] == nil {
			byKind[k.Kind] = map[string]uint64{}
		}
		for code, n := range u.Rejected {
			byKind[k.Kind][code] += n
		}
	}
	for _, kind := range []keys.Kind{keys.KindSubscriber, keys.KindIngest, keys.KindAdmin} {
		for _, reason := range perKeyReasons {
			metrics.WriteCounterUint64(w, `stellarfeed_key_rejections_total{kind="`+string(kind)+`",reason="`+reason+`"}`, byKind[kind][reason])
		}
	}
	if ur, ok := a.deps.Keys.(unknownRejections); ok {
		anon := ur.UnknownRejections()
		for _, reason := range []string{"missing", "unknown"} {
			metrics.WriteCounterUint64(w, `stellarfeed_key_rejections_total{kind="none",reason="`+reason+`"}`, anon[reason])
		}
	}
}

// writeMetrics is the body of /metrics: the API's set (with whatever the
// node registered in it), the Go runtime and process metrics, and open
// file descriptors against their limit: a broadcaster of tens of
// thousands of sockets runs out of those first.
func (a *API) writeMetrics(w io.Writer) {
	a.m.set.WritePrometheus(w)
	if !a.cfg.NoProcessMetrics {
		metrics.WriteProcessMetrics(w)
		metrics.WriteFDMetrics(w)
	}
}
