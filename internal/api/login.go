package api

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// SessionCookie is the cookie POST /api/login sets. The WebSocket port
// reads it too: cookies are per host, not per port.
const SessionCookie = "sf_session"

// SessionStore is what login needs of the key store.
type SessionStore interface {
	Login(secret string, ttl time.Duration) (string, time.Time, error)
	Logout(token string)
	AuthenticateSession(token string, remote netip.Addr) (keys.Identity, error)
}

// LoginRequest is the body of POST /api/login.
type LoginRequest struct {
	Key string `json:"key"`
}

// LoginResult answers a successful login; the session itself is only in
// the HttpOnly cookie, out of reach of page scripts.
type LoginResult struct {
	OK      bool      `json:"ok"`
	Expires time.Time `json:"expires"`
}

// login handles POST /api/login {"key":"sfk_…"}: a browser trades its key
// for a session cookie once, then opens /ws (and the event stream) without
// putting the key in a URL.
func (a *API) login(ctx *fasthttp.RequestCtx) {
	if !a.corsPost(ctx, "method not allowed: POST {\"key\":\"…\"}") {
		return
	}
	var req LoginRequest
	if !decodeBody(ctx, &req) {
		return
	}
	token, exp, err := a.deps.Keys.Login(strings.TrimSpace(req.Key), a.cfg.SessionTTL)
	if err != nil {
		writeAuthError(ctx, err)
		return
	}
	c := sessionCookie(ctx, token, exp)
	ctx.Response.Header.SetCookie(c)
	fasthttp.ReleaseCookie(c)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	writeJSON(ctx, fasthttp.StatusOK, LoginResult{OK: true, Expires: exp.UTC().Truncate(time.Second)})
}

// logout handles POST /api/logout: the session ends and the cookie is
// cleared. Without a session it still answers 200: the client's goal, not
// being logged in, holds.
func (a *API) logout(ctx *fasthttp.RequestCtx) {
	if !a.corsPost(ctx, "method not allowed: POST") {
		return
	}
	if tok := ctx.Request.Header.Cookie(SessionCookie); len(tok) > 0 {
		a.deps.Keys.Logout(string(tok))
	}
	c := sessionCookie(ctx, "", time.Time{})
	c.SetExpire(fasthttp.CookieExpireDelete)
	c.SetMaxAge(-1)
	ctx.Response.Header.SetCookie(c)
	fasthttp.ReleaseCookie(c)
	writeJSON(ctx, fasthttp.StatusOK, map[string]bool{"ok": true})
}

// corsPost answers a preflight or a method other than POST (with msg)
// itself, and reports whether the handler should go on.
func (a *API) corsPost(ctx *fasthttp.RequestCtx, msg string) bool {
	if a.cors(ctx) {
		return false
	}
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		writeError(ctx, fasthttp.StatusMethodNotAllowed, msg)
		return false
	}
	return true
}

// sessionCookie builds the session cookie: HttpOnly (no script reads it),
// SameSite=Lax (sent with a same-site WebSocket handshake, not with
// cross-site form posts), Secure when the request came over TLS, directly
// or through a proxy that says so, and expiring with the session.
func sessionCookie(ctx *fasthttp.RequestCtx, token string, exp time.Time) *fasthttp.Cookie {
	c := fasthttp.AcquireCookie()
	c.SetKey(SessionCookie)
	c.SetValue(token)
	c.SetPath("/")
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	c.SetSecure(ctx.IsTLS() || bytes.EqualFold(ctx.Request.Header.Peek("X-Forwarded-Proto"), []byte("https")))
	if !exp.IsZero() {
		c.SetExpire(exp)
		c.SetMaxAge(max(1, int(time.Until(exp).Seconds())))
	}
	return c
}

// cors sets the CORS headers for an allowed Origin and answers a
// preflight (OPTIONS) itself, reporting true then. Credentials are allowed
// for listed origins, so a page may use the session cookie; "*" allows any
// origin without credentials, as browsers require.
func (a *API) cors(ctx *fasthttp.RequestCtx) bool {
	origin := string(ctx.Request.Header.Peek("Origin"))
	allowed := a.cfg.CORSOrigins
	h := &ctx.Response.Header
	if origin != "" && len(allowed) > 0 {
		switch {
		case slices.Contains(allowed, origin):
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Add("Vary", "Origin")
		case slices.Contains(allowed, "*"):
			h.Set("Access-Control-Allow-Origin", "*")
		}
	}
	if !ctx.IsOptions() {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID")
	h.Set("Access-Control-Max-Age", "600")
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return true
}
