package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/wire"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// Rejected is one refused ping of a batch, by its index in the request.
type Rejected struct {
	Index  int                  `json:"index"`
	Errors []stellar.FieldError `json:"errors"`
}

// IngestResult is the body of a 202 (all accepted) or of a 400 that
// rejected some pings: the accepted ones were published.
type IngestResult struct {
	Accepted int        `json:"accepted"`
	Rejected []Rejected `json:"rejected,omitempty"`
}

func (a *API) ingest(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	code := a.ingestStatus(ctx)
	a.m.ingestDone(code, start)
}

// ingestStatus handles POST /api/pings and returns the status it answered.
// Checks run cheapest and least revealing first: method, token, rate,
// content type, size, then the pings.
func (a *API) ingestStatus(ctx *fasthttp.RequestCtx) int {
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed: POST pings here")
		return fasthttp.StatusMethodNotAllowed
	}
	now := a.now()
	key, err := a.deps.Keys.Check(bearer(ctx), keys.KindIngest, now)
	if err != nil {
		return writeAuthError(ctx, err)
	}
	if err := a.deps.Keys.AllowIngest(key.ID, now); err != nil {
		return a.writeLimitError(ctx, &key, err, now)
	}
	if !isJSON(ctx) {
		writeError(ctx, fasthttp.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return fasthttp.StatusUnsupportedMediaType
	}
	// A webhook feed's token posts one event per request here too.
	return a.acceptForToken(ctx, &key, now)
}

// acceptForToken takes the body into the token's feed, by the feed's kind.
func (a *API) acceptForToken(ctx *fasthttp.RequestCtx, key *keys.Key, now time.Time) int {
	f, err := a.deps.Keys.Feed(key.Feed)
	if err != nil {
		return a.feedGone(ctx, err)
	}
	if f.Webhook() {
		return a.acceptWebhook(ctx, key, &f, now)
	}
	return a.acceptPings(ctx, key, &f, now)
}

// acceptPings reads the pings of an admitted request into Stellar feed f,
// charges the accepted ones to the feed's quota and the token's (key nil:
// a feed slug without a token), publishes them and answers.
func (a *API) acceptPings(ctx *fasthttp.RequestCtx, key *keys.Key, f *keys.Feed, now time.Time) int {
	body := ctx.PostBody()
	if len(body) > a.cfg.MaxBodyBytes {
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge, a.tooLarge())
		return fasthttp.StatusRequestEntityTooLarge
	}
	raws, status, msg := a.split(body)
	if status != 0 {
		writeError(ctx, status, msg)
		return status
	}

	msgs := make([]*wire.Message, 0, len(raws))
	var rejected []Rejected
	for i, raw := range raws {
		m, errs := a.encode(raw)
		if errs != nil {
			rejected = append(rejected, Rejected{Index: i, Errors: errs})
			continue
		}
		m.Feed = f.Num
		msgs = append(msgs, m)
	}
	if len(msgs) > 0 {
		// Quota counts accepted pings only, and all or none of them.
		if status := a.charge(ctx, key, f, len(msgs), len(body), now); status != 0 {
			return status
		}
		for _, m := range msgs {
			a.deps.Publisher.Publish(m)
		}
	}
	a.m.accepted.Add(len(msgs))
	a.m.rejected.Add(len(rejected))
	a.m.published.Add(len(msgs))
	if len(rejected) > 0 {
		a.log.Debug("ingest rejected pings", "feed", f.Name, "accepted", len(msgs), "rejected", len(rejected))
		writeJSON(ctx, fasthttp.StatusBadRequest, IngestResult{Accepted: len(msgs), Rejected: rejected})
		return fasthttp.StatusBadRequest
	}
	// The common answer, built without encoding/json.
	var buf [32]byte
	b := append(buf[:0], `{"accepted":`...)
	b = strconv.AppendInt(b, int64(len(msgs)), 10)
	b = append(b, "}\n"...)
	ctx.SetStatusCode(fasthttp.StatusAccepted)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	return fasthttp.StatusAccepted
}

// QuotaExceeded is the body of a 402: the token's monthly quota, the
// pings accepted this month and when the count starts again (the first
// instant of next month, UTC).
type QuotaExceeded struct {
	Error string `json:"error"`
	Quota int64  `json:"quota"`
	Used  int64  `json:"used"`
	// Reset is when the count starts again, under the webhook relay's
	// name; ResetsAt repeats it for the clients of /api/pings.
	Reset    time.Time `json:"reset,omitzero"`
	ResetsAt time.Time `json:"resetsAt"`
}

// RateLimited is the body of a 429 for an ingest token over its rate;
// RetryAfter repeats the Retry-After header, in seconds.
type RateLimited struct {
	Error      string `json:"error"`
	RetryAfter int    `json:"retryAfter"`
}

// writeLimitError answers a refusal of AllowIngest or ChargeIngest. The
// key store reports both limits as 429; the API answers a spent monthly
// quota with 402 Payment Required instead, as providers' tools expect:
// retrying will not help before resetsAt, paying for a bigger plan will.
func (a *API) writeLimitError(ctx *fasthttp.RequestCtx, key *keys.Key, err error, now time.Time) int {
	switch {
	case errors.Is(err, keys.ErrQuota):
		body := QuotaExceeded{Error: keys.ErrQuota.Reason, Quota: key.MonthlyQuota, Reset: nextMonth(now), ResetsAt: nextMonth(now)}
		if u, uerr := a.deps.Keys.Usage(key.ID); uerr == nil && u.Month == yearMonth(now) {
			body.Used = u.MonthPings
		}
		writeJSON(ctx, fasthttp.StatusPaymentRequired, body)
		return fasthttp.StatusPaymentRequired
	case errors.Is(err, keys.ErrRateLimited):
		secs := retryAfter(key.RatePerSec)
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(secs))
		writeJSON(ctx, fasthttp.StatusTooManyRequests, RateLimited{Error: keys.ErrRateLimited.Reason, RetryAfter: secs})
		return fasthttp.StatusTooManyRequests
	}
	var ae *keys.AuthError
	if errors.As(err, &ae) {
		return writeAuthError(ctx, err)
	}
	// The token vanished between Check and here (deleted from the store).
	a.log.Error("ingest limit check failed", "key", key.ID, "err", err)
	writeError(ctx, fasthttp.StatusInternalServerError, "internal error")
	return fasthttp.StatusInternalServerError
}

// retryAfter is how long a token at rate per second waits for its next
// request, in whole seconds (at least 1, as Retry-After has no fractions):
// the limiter refills one request every 1/rate seconds.
func retryAfter(rate float64) int {
	if rate <= 0 || rate >= 1 {
		return 1
	}
	return int(math.Ceil(1 / rate))
}

// yearMonth is the key store's month number (yyyymm, UTC).
func yearMonth(t time.Time) int {
	y, m, _ := t.UTC().Date()
	return y*100 + int(m)
}

// nextMonth is the first instant of the month after t's, UTC: when a
// monthly quota starts again.
func nextMonth(t time.Time) time.Time {
	y, m, _ := t.UTC().Date()
	return time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
}

// split returns the raw pings of body, or the status and message refusing
// the whole request.
func (a *API) split(body []byte) ([][]byte, int, string) {
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return nil, fasthttp.StatusBadRequest, "empty body: send one ping object or an array of them"
	case trimmed[0] != '{' && trimmed[0] != '[':
		return nil, fasthttp.StatusBadRequest, "body must be a JSON ping object or an array of them"
	case !json.Valid(trimmed):
		return nil, fasthttp.StatusBadRequest, "malformed JSON: " + syntaxError(trimmed)
	}
	raws, err := stellar.SplitBatch(trimmed)
	switch {
	case err != nil:
		return nil, fasthttp.StatusBadRequest, err.Error()
	case len(raws) == 0:
		return nil, fasthttp.StatusBadRequest, "empty batch: send at least one ping"
	case len(raws) > a.cfg.MaxPings:
		return nil, fasthttp.StatusRequestEntityTooLarge, fmt.Sprintf("batch of %d pings, the limit is %d", len(raws), a.cfg.MaxPings)
	}
	return raws, 0, ""
}

// syntaxError describes why data is not JSON, with the byte offset; only
// called for bodies already known to be broken.
func syntaxError(data []byte) string {
	var v any
	err := json.Unmarshal(data, &v)
	if se, ok := err.(*json.SyntaxError); ok {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	if err != nil {
		return err.Error()
	}
	return "invalid JSON"
}

// encode parses, validates and frames one ping, or lists what is wrong.
func (a *API) encode(raw []byte) (*wire.Message, []stellar.FieldError) {
	rules := a.deps.Rules
	if a.deps.LiveRules != nil {
		rules = a.deps.LiveRules()
	}
	m, err := wire.Parse(rules, raw)
	if err == nil {
		return m, nil
	}
	if fe := stellar.FieldErrors(err); len(fe) > 0 {
		return nil, fe
	}
	return nil, []stellar.FieldError{{Field: "ping", Message: err.Error()}}
}
