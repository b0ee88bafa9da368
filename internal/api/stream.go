package api

import (
	"bufio"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/sse"
)

// StreamHub is what the API needs of the SSE hub (*sse.Hub).
type StreamHub interface {
	Subscribe(o sse.SubscribeOptions) (*sse.Subscription, error)
	Stats() sse.Stats
	Close()
}

var _ StreamHub = (*sse.Hub)(nil)

// streamPath serves pings as Server-Sent Events.
const streamPath = "/api/events/stream"

// stream handles GET /api/events/stream?key=K[&site=..][&region=..]
// [&lastEventId=N]: the WebSocket endpoint's key checks and filters, over
// SSE. Errors before the stream starts are JSON like every other endpoint.
func (a *API) stream(ctx *fasthttp.RequestCtx) {
	if a.cors(ctx) {
		return // a preflight, answered
	}
	if !ctx.IsGet() {
		ctx.Response.Header.Set("Allow", "GET")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed: GET the stream")
		return
	}
	hub := a.deps.SSE
	if hub == nil {
		writeError(ctx, fasthttp.StatusNotFound, "not found: event streams are not enabled")
		return
	}
	args := ctx.QueryArgs()
	filter, err := sse.NewFilter(peekAll(args, "site"), peekAll(args, "region"), nil)
	if err != nil {
		body := errorBody{Error: err.Error()}
		if fe := (*sse.FilterError)(nil); errors.As(err, &fe) {
			body.Field = fe.Field
		}
		writeJSON(ctx, fasthttp.StatusBadRequest, body)
		return
	}
	last, resume, err := lastEventID(ctx)
	if err != nil {
		writeJSON(ctx, fasthttp.StatusBadRequest, errorBody{Error: err.Error(), Field: "Last-Event-ID"})
		return
	}
	// EventSource cannot set headers, hence ?key= (or ?token=, as the
	// webhook relay's clients send it) and the /api/login session cookie;
	// other clients may prefer the header, which keeps the key out of URLs
	// and logs.
	secret := bearer(ctx)
	if secret == "" {
		secret = string(args.Peek("key"))
	}
	if secret == "" {
		secret = string(args.Peek("token"))
	}
	remote := a.cfg.TrustedProxies.ClientAddr(ctx)
	var id keys.Identity
	if sess := ctx.Request.Header.Cookie(SessionCookie); secret == "" && len(sess) > 0 {
		id, err = a.deps.Keys.AuthenticateSession(string(sess), remote)
	} else {
		id, err = a.deps.Keys.Authenticate(secret, remote)
	}
	if err != nil {
		a.m.sseRejected.Inc()
		writeAuthError(ctx, err)
		return
	}
	if len(id.Scopes) > 0 {
		// The scopes were validated when the key was saved.
		filter, _ = sse.NewFilter(peekAll(args, "site"), peekAll(args, "region"), id.Scopes)
	}
	sub, err := hub.Subscribe(sse.SubscribeOptions{
		KeyID: id.KeyID, Remote: remote, Filter: filter, Resume: resume, LastEventID: last, Feed: id.Feed, Expires: id.Expires,
	})
	if err != nil {
		// Shutting down. The slot Authenticate holds comes back after
		// its TTL; the process is stopping anyway.
		writeError(ctx, fasthttp.StatusServiceUnavailable, "shutting down")
		return
	}
	a.deps.Keys.Connected(id.KeyID, remote)
	a.m.sseConns.Add(1)
	a.m.sseStreams.Inc()

	ctx.SetContentType("text/event-stream; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	// The server's WriteTimeout would cut the whole stream after a few
	// seconds: lift it here and arm a deadline before each flush instead,
	// so only a client that stops reading for SSEWriteTimeout is cut.
	_ = ctx.SetWriteDeadline(time.Time{})
	conn := ctx.Conn()
	wt := a.cfg.SSEWriteTimeout
	start := time.Now()
	log := a.log
	keysStore := a.deps.Keys
	m := &a.m
	// The writer runs on its own goroutine and must not touch ctx, which
	// fasthttp recycles once the response is done.
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		err := sub.Stream(w, func() {
			if conn != nil {
				_ = conn.SetWriteDeadline(time.Now().Add(wt))
			}
		})
		m.sseConns.Add(-1)
		keysStore.Disconnected(id.KeyID, remote, time.Since(start), sub.Delivered())
		log.Debug("event stream ended", "key", id.KeyID, "remote", remote, "delivered", sub.Delivered(), "reason", err)
	})
}

// peekAll returns every value of a query parameter.
func peekAll(args *fasthttp.Args, name string) []string {
	vals := args.PeekMulti(name)
	if len(vals) == 0 {
		return nil
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = string(v)
	}
	return out
}

// lastEventID reads the Last-Event-ID header (sent by EventSource when it
// reconnects) or, for clients that cannot set it, ?lastEventId=.
func lastEventID(ctx *fasthttp.RequestCtx) (uint64, bool, error) {
	v := ctx.Request.Header.Peek("Last-Event-ID")
	if len(v) == 0 {
		v = ctx.QueryArgs().Peek("lastEventId")
	}
	s := strings.TrimSpace(string(v))
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, errors.New("Last-Event-ID must be an event id (a decimal number)")
	}
	return n, true, nil
}
