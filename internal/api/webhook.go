package api

import (
	"bytes"
	"cmp"
	"errors"
	"math"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/webhook"
)

// webhookPrefix is the path of webhook ingest: POST /api/in/{slug}.
const webhookPrefix = "/api/in/"

func (a *API) webhook(ctx *fasthttp.RequestCtx, slug []byte) {
	start := time.Now()
	code := a.webhookStatus(ctx, slug)
	a.m.webhookDone(code, start)
}

// webhookStatus handles POST /api/in/{slug}. A feed's slug (see
// feedIngest) authorizes by itself unless the feed requires a token, as
// the webhook relay service documents. The per-token slugs that predate
// feeds keep their rules: the ingest token comes as "Authorization:
// Bearer" or ?token=, a valid token gets 404 for any slug other than its
// own, and the same rate, quota and body rules as /api/pings apply, except
// that a missing or text/plain Content-Type is accepted too (webhook
// tools vary). A slug that is neither answers 404.
func (a *API) webhookStatus(ctx *fasthttp.RequestCtx, slug []byte) int {
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed: POST pings here")
		return fasthttp.StatusMethodNotAllowed
	}
	now := a.now()
	if f, ok := a.deps.Keys.FeedBySlug(string(slug)); ok {
		return a.feedIngest(ctx, &f, now)
	}
	token := bearer(ctx)
	if token == "" {
		token = string(ctx.QueryArgs().Peek("token"))
	}
	if token == "" && !a.deps.Keys.TokenSlug(string(slug)) {
		writeError(ctx, fasthttp.StatusNotFound, "unknown slug")
		return fasthttp.StatusNotFound
	}
	key, err := a.deps.Keys.Check(token, keys.KindIngest, now)
	if err != nil {
		return writeAuthError(ctx, err)
	}
	if key.Slug == "" || string(slug) != key.Slug {
		writeError(ctx, fasthttp.StatusNotFound, "unknown slug")
		return fasthttp.StatusNotFound
	}
	if err := a.deps.Keys.AllowIngest(key.ID, now); err != nil {
		return a.writeLimitError(ctx, &key, err, now)
	}
	if !isWebhookType(ctx) {
		writeError(ctx, fasthttp.StatusUnsupportedMediaType, "Content-Type must be application/json or text/plain (or absent)")
		return fasthttp.StatusUnsupportedMediaType
	}
	return a.acceptForToken(ctx, &key, now)
}

// feedIngest posts into feed f through one of its slugs. The checks run
// cheapest first: token (when the feed requires one), the feed's per-IP
// and per-feed rates, content type, size, body, quota.
func (a *API) feedIngest(ctx *fasthttp.RequestCtx, f *keys.Feed, now time.Time) int {
	var key *keys.Key
	if f.RequireToken {
		token := bearer(ctx)
		if token == "" {
			token = string(ctx.QueryArgs().Peek("token"))
		}
		k, err := a.deps.Keys.Check(token, keys.KindIngest, now)
		if err != nil {
			return writeAuthError(ctx, err)
		}
		if cmp.Or(k.Feed, keys.DefaultFeed) != f.Name {
			// Another feed's token opens nothing here, and says nothing
			// about this feed.
			return writeAuthError(ctx, keys.ErrUnknown)
		}
		if err := a.deps.Keys.AllowIngest(k.ID, now); err != nil {
			return a.writeLimitError(ctx, &k, err, now)
		}
		key = &k
	}
	if err := a.deps.Keys.AllowFeed(f.Name, a.cfg.TrustedProxies.ClientAddr(ctx), now); err != nil {
		if errors.Is(err, keys.ErrRateLimited) {
			secs := retryAfter(min(nonZero(f.RatePerSec), nonZero(f.IPRatePerSec)))
			ctx.Response.Header.Set("Retry-After", strconv.Itoa(secs))
			writeJSON(ctx, fasthttp.StatusTooManyRequests, RateLimited{Error: keys.ErrRateLimited.Reason, RetryAfter: secs})
			return fasthttp.StatusTooManyRequests
		}
		return a.feedGone(ctx, err)
	}
	if !isWebhookType(ctx) {
		writeError(ctx, fasthttp.StatusUnsupportedMediaType, "Content-Type must be application/json or text/plain (or absent)")
		return fasthttp.StatusUnsupportedMediaType
	}
	if f.Webhook() {
		return a.acceptWebhook(ctx, key, f, now)
	}
	return a.acceptPings(ctx, key, f, now)
}

func nonZero(r float64) float64 {
	if r <= 0 {
		return math.Inf(1)
	}
	return r
}

// feedGone answers a feed that vanished between lookup and use (deleted
// meanwhile): 404, as for a slug that never existed.
func (a *API) feedGone(ctx *fasthttp.RequestCtx, err error) int {
	if errors.Is(err, keys.ErrNotFound) {
		writeError(ctx, fasthttp.StatusNotFound, "unknown slug")
		return fasthttp.StatusNotFound
	}
	a.log.Error("feed ingest failed", "path", string(ctx.Path()), "err", err)
	writeError(ctx, fasthttp.StatusInternalServerError, "internal error")
	return fasthttp.StatusInternalServerError
}

// WebhookAccepted is the body of a 200 from a webhook feed.
type WebhookAccepted struct {
	Accepted bool   `json:"accepted"`
	ID       string `json:"id"`
}

// acceptWebhook takes one JSON object or array into webhook feed f, as
// {"type":"webhook","id":…,"payload":…,"receivedAt":…}, serialized once
// here and shared by every endpoint and connection.
func (a *API) acceptWebhook(ctx *fasthttp.RequestCtx, key *keys.Key, f *keys.Feed, now time.Time) int {
	body := ctx.PostBody()
	if len(body) > f.BodyLimit() {
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge, "body larger than "+strconv.Itoa(f.BodyLimit())+" bytes")
		return fasthttp.StatusRequestEntityTooLarge
	}
	compact, channel, err := webhook.Parse(body)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return fasthttp.StatusBadRequest
	}
	if status := a.charge(ctx, key, f, 1, len(body), now); status != 0 {
		return status
	}
	id := webhook.NewID()
	a.deps.Publisher.Publish(webhook.Message(f.Num, channel, webhook.Event(id, compact, now)))
	a.m.accepted.Add(1)
	a.m.published.Add(1)
	writeJSON(ctx, fasthttp.StatusOK, WebhookAccepted{Accepted: true, ID: id})
	return fasthttp.StatusOK
}

// charge counts accepted events against the token's quota (if any) and
// the feed's, all or nothing per request; it answers a refusal itself and
// returns its status, or 0.
func (a *API) charge(ctx *fasthttp.RequestCtx, key *keys.Key, f *keys.Feed, events, bytes int, now time.Time) int {
	used, err := a.deps.Keys.ChargeFeed(f.Name, events, bytes, now)
	switch {
	case errors.Is(err, keys.ErrQuota):
		reset := nextMonth(now)
		writeJSON(ctx, fasthttp.StatusPaymentRequired, QuotaExceeded{
			Error: "monthly quota exceeded", Quota: f.MonthlyQuota, Used: used, Reset: reset, ResetsAt: reset,
		})
		return fasthttp.StatusPaymentRequired
	case err != nil:
		return a.feedGone(ctx, err)
	}
	if key != nil {
		if err := a.deps.Keys.ChargeIngest(key.ID, events, now); err != nil {
			// The token's own quota refuses them: the feed does not count
			// events that never went out.
			a.deps.Keys.RefundFeed(f.Name, events, bytes, now)
			return a.writeLimitError(ctx, key, err, now)
		}
	}
	return 0
}

// isWebhookType accepts application/json, text/plain (any parameters) or
// no Content-Type at all.
func isWebhookType(ctx *fasthttp.RequestCtx) bool {
	ct := ctx.Request.Header.ContentType()
	if len(bytes.TrimSpace(ct)) == 0 || isJSON(ctx) {
		return true
	}
	t, _, err := mime.ParseMediaType(string(ct))
	return err == nil && strings.EqualFold(t, "text/plain")
}
