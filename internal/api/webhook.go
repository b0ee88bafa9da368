package api

import (
	"bytes"
	"mime"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// webhookPrefix is the path of webhook ingest: POST /api/in/{slug}.
const webhookPrefix = "/api/in/"

func (a *API) webhook(ctx *fasthttp.RequestCtx, slug []byte) {
	start := time.Now()
	code := a.webhookStatus(ctx, slug)
	a.m.webhookDone(code, start)
}

// webhookStatus handles POST /api/in/{slug}, for providers whose tools can
// only be given a URL. The ingest token comes as "Authorization: Bearer"
// or, for tools that cannot set headers, as ?token=. Authentication comes
// first, so an unauthenticated caller learns nothing about which slugs
// exist (401 whatever the slug). A valid token gets 404 for any slug
// other than its own: a slug is only known to its own token. Then the
// same rate, quota and body rules as /api/pings apply, except that a
// missing or text/plain Content-Type is accepted too (webhook tools vary).
func (a *API) webhookStatus(ctx *fasthttp.RequestCtx, slug []byte) int {
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed: POST pings here")
		return fasthttp.StatusMethodNotAllowed
	}
	now := a.now()
	token := bearer(ctx)
	if token == "" {
		token = string(ctx.QueryArgs().Peek("token"))
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
	return a.acceptPings(ctx, &key, now)
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
