package console

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/internal/api"
)

// Sample is what the live pages show at one instant. Per-minute counts
// cover the last minute of readings the stream has taken (less right
// after it opens), per-second rates the last 5 s; totals are since the
// node started.
type Sample struct {
	At int64 `json:"at"` // Unix ms

	Conns      map[string]int `json:"conns"` // by endpoint: stellar, ws, sse
	ConnsTotal int            `json:"connsTotal"`
	ByKey      []KeyConns     `json:"byKey"`

	PingsIn        float64 `json:"pingsIn"`        // accepted (ingest, webhooks, engine), total
	PingsOut       float64 `json:"pingsOut"`       // handed to the broadcaster, total
	PingsInPerMin  float64 `json:"pingsInPerMin"`  // in the last minute (since the stream opened, if less)
	PingsOutPerMin float64 `json:"pingsOutPerMin"` // in the last minute
	Deliveries     float64 `json:"deliveries"`     // frames and events written to clients, total
	DeliveriesPerS float64 `json:"deliveriesPerSec"`
	FanoutP50Ms    float64 `json:"fanoutP50Ms"` // -1: nothing fanned out in the window
	FanoutP99Ms    float64 `json:"fanoutP99Ms"`
	SlowCloses     float64 `json:"slowCloses"` // slow-consumer disconnects, WS and SSE, total

	Ingest map[string]float64 `json:"ingest"` // answers by status code, total
	Checks map[string]float64 `json:"checks"` // monitor checks by outcome, total

	Connections []api.Conn   `json:"connections"` // at most maxListed, oldest first
	Pings       []recentPing `json:"pings"`       // newest first
	// Targets are sent to the Monitors page only (?targets=1).
	Targets []targetRow `json:"targets,omitempty"`
}

// targetRow is one monitor target as the Monitors page shows it.
type targetRow struct {
	ID        string    `json:"id"`
	Site      string    `json:"site"`
	Region    string    `json:"region,omitempty"`
	What      string    `json:"what"` // SKU, or the Shopify store
	Group     string    `json:"group,omitempty"`
	LastCheck time.Time `json:"lastCheck"`
	Outcome   string    `json:"outcome,omitempty"`
	Checks    uint64    `json:"checks"`
	Delay     string    `json:"delay"` // current delay, after backoff
	Skipped   uint64    `json:"skipped"`
	// Evidence is the monitor's reason for the outcome ("captcha page",
	// "out of stock: Currently unavailable.").
	Evidence    string    `json:"evidence,omitempty"`
	Since       time.Time `json:"since"` // the outcome's streak began
	Streak      uint64    `json:"streak"`
	Proxy       string    `json:"proxy,omitempty"`
	LastRestock time.Time `json:"lastRestock"`
}

// targets lists the engine's targets, or nil without an engine.
func (c *Console) targets() []targetRow {
	if c.deps.Monitors == nil {
		return nil
	}
	st := c.deps.Monitors.Status()
	out := make([]targetRow, len(st))
	for i, t := range st {
		what := t.Target.SKU
		if what == "" {
			what = t.Target.Store
		}
		out[i] = targetRow{ID: fmt.Sprint(t.ID), Site: t.Target.Site, Region: t.Target.Region, What: what, Group: t.Target.Group,
			LastCheck: t.LastCheck, Outcome: t.LastOutcome, Checks: t.Checks, Delay: t.Delay.String(), Skipped: t.Skipped,
			Evidence: t.Reason, Since: t.Since, Streak: t.Streak, Proxy: t.Proxy, LastRestock: t.LastRestock}
	}
	return out
}

// KeyConns is one key's live connections.
type KeyConns struct {
	KeyID string `json:"keyId"`
	Label string `json:"label,omitempty"`
	N     int    `json:"n"`
}

// maxListed bounds the connections a sample lists: the page is for a
// person, the admin API has them all.
const maxListed = 200

// window is how much history the per-minute counts cover, rateWindow
// the per-second rates.
const (
	window     = time.Minute
	rateWindow = 5 * time.Second
)

// sampler turns successive metric readings into samples; one per stream.
type sampler struct {
	c       *Console
	history []timedReading // oldest first, within window
	targets bool           // include the monitor targets
}

// timedReading keeps of a reading only what rates need: a minute of
// whole readings would cost megabytes per open page.
type timedReading struct {
	at                           time.Time
	pingsIn, pingsOut, delivered float64
	fanout                       []bucket
}

func (c *Console) newSampler() *sampler { return &sampler{c: c} }

func (s *sampler) read() (reading, error) {
	var buf bytes.Buffer
	s.c.deps.Metrics(&buf)
	return parseProm(buf.Bytes())
}

// since returns the oldest reading at most d before now (the newest if
// none is that recent).
func (s *sampler) since(now time.Time, d time.Duration) timedReading {
	for _, tr := range s.history {
		if now.Sub(tr.at) <= d {
			return tr
		}
	}
	return s.history[len(s.history)-1]
}

// next takes a reading and builds the sample.
func (s *sampler) next() (Sample, error) {
	now := s.c.cfg.Now()
	r, err := s.read()
	if err != nil {
		return Sample{}, err
	}
	cur := timedReading{
		at: now, pingsIn: pingsIn(r), pingsOut: r.sum("stellarfeed_pings_published_total", nil),
		delivered: deliveries(r), fanout: r.buckets("stellarfeed_fanout_latency_seconds"),
	}
	s.history = append(s.history, cur)
	for len(s.history) > 2 && now.Sub(s.history[0].at) > window {
		s.history = s.history[1:]
	}
	first := s.history[0]
	// Per minute: what came in the readings of the last minute, not an
	// extrapolation of the first seconds after the page opened.
	inWindow := func(cur, old float64) float64 { return math.Max(0, cur-old) }
	recent := s.since(now, rateWindow)
	perSecond := func(cur, old float64) float64 {
		// At least a second: one delivery 100 ms after the page opened
		// is not "10 per second".
		el := math.Max(now.Sub(recent.at).Seconds(), 1)
		return math.Max(0, cur-old) / el
	}

	smp := Sample{
		At:     now.UnixMilli(),
		Conns:  map[string]int{},
		Ingest: map[string]float64{},
		Checks: map[string]float64{},
	}
	for ep, n := range r.by("stellarfeed_connections", "endpoint") {
		smp.Conns[ep] = int(n)
		smp.ConnsTotal += int(n)
	}
	smp.PingsIn, smp.PingsOut, smp.Deliveries = cur.pingsIn, cur.pingsOut, cur.delivered
	smp.PingsInPerMin = inWindow(cur.pingsIn, first.pingsIn)
	smp.PingsOutPerMin = inWindow(cur.pingsOut, first.pingsOut)
	smp.DeliveriesPerS = perSecond(cur.delivered, recent.delivered)
	var prev []bucket
	if len(s.history) > 1 {
		prev = first.fanout
	}
	smp.FanoutP50Ms = ms(quantile(0.5, cur.fanout, prev))
	smp.FanoutP99Ms = ms(quantile(0.99, cur.fanout, prev))
	smp.SlowCloses = r.sum("stellarfeed_slow_consumer_disconnects_total", nil) + r.sum("stellarfeed_sse_slow_consumer_disconnects_total", nil)
	for code, n := range r.by("stellarfeed_ingest_requests_total", "code") {
		if n > 0 {
			smp.Ingest[code] += n
		}
	}
	for code, n := range r.by("stellarfeed_webhook_requests_total", "code") {
		if n > 0 {
			smp.Ingest[code] += n
		}
	}
	for outcome, n := range r.by("stellarfeed_checks_total", "outcome") {
		if n > 0 {
			smp.Checks[outcome] = n
		}
	}

	conns := s.c.deps.Conns.Conns()
	sort.Slice(conns, func(i, j int) bool { return conns[i].Since.Before(conns[j].Since) })
	byKey := map[string]*KeyConns{}
	for _, cn := range conns {
		kc := byKey[cn.KeyID]
		if kc == nil {
			kc = &KeyConns{KeyID: cn.KeyID, Label: cn.Label}
			byKey[cn.KeyID] = kc
		}
		kc.N++
	}
	for _, kc := range byKey {
		smp.ByKey = append(smp.ByKey, *kc)
	}
	sort.Slice(smp.ByKey, func(i, j int) bool {
		if smp.ByKey[i].N != smp.ByKey[j].N {
			return smp.ByKey[i].N > smp.ByKey[j].N
		}
		return smp.ByKey[i].KeyID < smp.ByKey[j].KeyID
	})
	if len(conns) > maxListed {
		conns = conns[:maxListed]
	}
	smp.Connections = conns
	if s.targets {
		smp.Targets = s.c.targets()
	}
	smp.Pings = s.c.recent()
	if len(smp.Pings) > 10 {
		smp.Pings = smp.Pings[:10]
	}
	return smp, nil
}

func pingsIn(r reading) float64 {
	return r.sum("stellarfeed_ingest_pings_accepted_total", nil) + r.sum("stellarfeed_pings_total", nil)
}

func deliveries(r reading) float64 {
	return r.sum("stellarfeed_deliveries_total", nil) + r.sum("stellarfeed_sse_events_delivered_total", nil)
}

func ms(seconds float64) float64 {
	if math.IsNaN(seconds) {
		return -1
	}
	return math.Round(seconds*1e6) / 1e3
}

// events streams one Sample per Config.Interval as Server-Sent Events
// ("event: sample"), until the client goes or the console closes.
func (c *Console) events(ctx *fasthttp.RequestCtx) {
	smp := c.newSampler()
	smp.targets = len(ctx.QueryArgs().Peek("targets")) > 0
	first, err := smp.next()
	if err != nil {
		c.log.Error("console: read metrics", "err", err)
		ctx.Error("metrics unreadable: "+err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetContentType("text/event-stream; charset=utf-8")
	ctx.Response.Header.Set("X-Accel-Buffering", "no")
	_ = ctx.SetWriteDeadline(time.Time{}) // a stream outlives WriteTimeout
	conn := ctx.Conn()
	interval, done, log := c.cfg.Interval, c.done, c.log
	// The writer runs after the handler returns and must not touch ctx.
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		t := time.NewTicker(interval)
		defer t.Stop()
		s := first
		for {
			if conn != nil { // a browser that stops reading is cut
				_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			}
			if err := writeSample(w, s); err != nil {
				return // the browser went away
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
			if s, err = smp.next(); err != nil {
				log.Error("console: read metrics", "err", err)
				return
			}
		}
	})
}

func writeSample(w *bufio.Writer, s Sample) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	w.WriteString("event: sample\ndata: ")
	w.Write(data)
	w.WriteString("\n\n")
	return w.Flush()
}

// fmtCount prints a counter for people: 1234 → "1,234".
func fmtCount(v float64) string {
	s := strconv.FormatInt(int64(v), 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
