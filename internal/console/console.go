package console

import (
	"bytes"
	"embed"
	"html/template"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/wire"
)

// Prefix is where the console is served.
const Prefix = "/admin"

const cookieName = "stellarfeed_session"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config tunes the console; the zero value is usable.
type Config struct {
	// StellarURL returns the WebSocket URL customers paste into Stellar,
	// without the key ("wss://feed.example.com/"); the console appends
	// ?key=. Nil shows ws://localhost:8080/.
	StellarURL func() string
	// SessionTTL is how long a login lasts (default 12 h).
	SessionTTL time.Duration
	// MaxSessions bounds the sessions kept (default 1000).
	MaxSessions int
	// LoginFailures failed logins per LoginWindow from one address lock
	// it out until the window ends (defaults 5 per minute).
	LoginFailures int
	LoginWindow   time.Duration
	// Interval is how often the live pages get a sample (default 1 s).
	Interval time.Duration
	// RecentPings is how many pings the Monitors page shows (default 50).
	RecentPings int
	// Proxies names the trusted reverse proxies, for the client address
	// of the login limiter.
	Proxies api.Proxies
	Logger  *slog.Logger
	// Now replaces time.Now (tests).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.SessionTTL <= 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 1000
	}
	if c.LoginFailures <= 0 {
		c.LoginFailures = 5
	}
	if c.LoginWindow <= 0 {
		c.LoginWindow = time.Minute
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.RecentPings <= 0 {
		c.RecentPings = 50
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// AdminAuth checks an admin token (*keys.Store).
type AdminAuth interface {
	Check(secret string, kind keys.Kind, now time.Time) (keys.Key, error)
}

// Monitors shows the engine's targets (*engine.Engine). If it also has a
// Running() bool method, false says no engine runs on this node.
type Monitors interface {
	Status() []engine.TargetStatus
}

// Deps are the console's collaborators. Auth, Keys, Feeds, Conns and
// Metrics are required; Monitors may be nil (no engine on this node).
type Deps struct {
	Auth  AdminAuth
	Keys  api.KeyService
	Feeds api.FeedService
	Conns api.ConnAdmin
	// Metrics writes the node's metrics in the Prometheus text format.
	Metrics  func(w io.Writer)
	Monitors Monitors
}

// Console serves the dashboard. Create it with New.
type Console struct {
	cfg      Config
	deps     Deps
	log      *slog.Logger
	pages    map[string]*template.Template
	sessions *sessions
	limit    *limiter
	done     chan struct{}
	stop     sync.Once

	pingsMu   sync.Mutex
	pings     []sentPing // a ring of cfg.RecentPings
	pingsNext int        // where the next one goes, mod len(pings)
}

// New builds the console. It panics when a required dependency is
// missing: that is a wiring bug, found at start-up.
func New(cfg Config, deps Deps) *Console {
	if deps.Auth == nil || deps.Keys == nil || deps.Feeds == nil || deps.Conns == nil || deps.Metrics == nil {
		panic("console.New: Deps.Auth, Keys, Feeds, Conns and Metrics are required")
	}
	cfg.setDefaults()
	c := &Console{
		cfg: cfg, deps: deps, log: cfg.Logger,
		sessions: newSessions(cfg.MaxSessions),
		limit:    newLimiter(cfg.LoginFailures, cfg.LoginWindow, 10000),
		done:     make(chan struct{}),
		pings:    make([]sentPing, cfg.RecentPings),
	}
	c.pages = parsePages()
	return c
}

// Close ends the live event streams; the API's shutdown calls it so that
// it does not wait for them.
func (c *Console) Close() { c.stop.Do(func() { close(c.done) }) }

// Serve answers every request under Prefix.
func (c *Console) Serve(ctx *fasthttp.RequestCtx) {
	setSecurityHeaders(ctx)
	path := strings.TrimPrefix(string(ctx.Path()), Prefix)
	switch {
	case path == "":
		redirect(ctx, Prefix+"/")
		return
	case strings.HasPrefix(path, "/static/"):
		c.static(ctx, strings.TrimPrefix(path, "/static/"))
		return
	case path == "/login":
		c.login(ctx)
		return
	}
	sess := c.session(ctx)
	if sess == nil {
		if ctx.IsGet() && path != "/events" {
			redirect(ctx, Prefix+"/login")
			return
		}
		ctx.Error("not logged in (or the session expired): open "+Prefix+"/login", fasthttp.StatusUnauthorized)
		return
	}
	if ctx.IsPost() && !c.postAllowed(ctx, sess) {
		return
	}
	switch {
	case path == "/" && ctx.IsGet():
		c.overview(ctx, sess)
	case path == "/events" && ctx.IsGet():
		c.events(ctx)
	case path == "/keys" && ctx.IsGet():
		c.keysPage(ctx, sess, nil, "")
	case path == "/keys" && ctx.IsPost():
		c.createKey(ctx, sess)
	case strings.HasPrefix(path, "/keys/") && ctx.IsPost():
		c.keyAction(ctx, sess, strings.TrimPrefix(path, "/keys/"))
	case path == "/feeds" && ctx.IsGet():
		c.feedsPage(ctx, sess, nil, "", "")
	case path == "/feeds" && ctx.IsPost():
		c.createFeed(ctx, sess)
	case strings.HasPrefix(path, "/feeds/") && ctx.IsPost():
		c.feedAction(ctx, sess, strings.TrimPrefix(path, "/feeds/"))
	case strings.HasPrefix(path, "/conns/") && ctx.IsPost():
		c.kick(ctx, strings.TrimPrefix(path, "/conns/"))
	case path == "/monitors" && ctx.IsGet():
		c.monitorsPage(ctx, sess)
	case path == "/logout" && ctx.IsPost():
		c.sessions.close(sess.id)
		clearCookie(ctx)
		redirect(ctx, Prefix+"/login")
	default:
		ctx.Error("not found", fasthttp.StatusNotFound)
	}
}

// redirect answers 303 with a relative Location: behind a proxy that
// terminates TLS, an absolute one built from this hop would say http://.
func redirect(ctx *fasthttp.RequestCtx, to string) {
	ctx.Response.Header.Set("Location", to)
	ctx.SetStatusCode(fasthttp.StatusSeeOther)
}

func setSecurityHeaders(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: with no-referrer browsers send
	// "Origin: null" on the console's own forms, which postAllowed refuses.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// session returns the request's live session whose admin token still
// works, or nil.
func (c *Console) session(ctx *fasthttp.RequestCtx) *session {
	now := c.cfg.Now()
	sess := c.sessions.get(string(ctx.Request.Header.Cookie(cookieName)), now)
	if sess == nil {
		return nil
	}
	if k, err := c.deps.Auth.Check(sess.token, keys.KindAdmin, now); err != nil || k.Feed != "" {
		c.sessions.close(sess.id) // the token was revoked, disabled or expired
		return nil
	}
	return sess
}

// postAllowed refuses a POST that comes from another origin or lacks the
// session's CSRF token.
func (c *Console) postAllowed(ctx *fasthttp.RequestCtx, sess *session) bool {
	if o := ctx.Request.Header.Peek("Origin"); len(o) > 0 && !sameOrigin(o, ctx) {
		ctx.Error("forbidden: the form was sent from another site", fasthttp.StatusForbidden)
		return false
	}
	if !sess.csrfOK(ctx.PostArgs().Peek("csrf")) {
		ctx.Error("forbidden: the form is stale or forged (missing CSRF token): reload the page", fasthttp.StatusForbidden)
		return false
	}
	return true
}

// sameOrigin compares an Origin header with the request's Host: browsers
// send Origin on every POST, and a proxy in front keeps Host.
func sameOrigin(origin []byte, ctx *fasthttp.RequestCtx) bool {
	o := string(origin)
	for _, scheme := range []string{"http://", "https://"} {
		if rest, ok := strings.CutPrefix(o, scheme); ok {
			return rest == string(ctx.Host())
		}
	}
	return false
}

func (c *Console) setCookie(ctx *fasthttp.RequestCtx, sess *session) {
	var ck fasthttp.Cookie
	ck.SetKey(cookieName)
	ck.SetValue(sess.id)
	ck.SetPath(Prefix)
	ck.SetHTTPOnly(true)
	ck.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	ck.SetExpire(sess.expires)
	ck.SetMaxAge(int(c.cfg.SessionTTL.Seconds()))
	ck.SetSecure(isHTTPS(ctx))
	ctx.Response.Header.SetCookie(&ck)
}

func clearCookie(ctx *fasthttp.RequestCtx) {
	var ck fasthttp.Cookie
	ck.SetKey(cookieName)
	ck.SetPath(Prefix)
	ck.SetHTTPOnly(true)
	ck.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	ck.SetExpire(fasthttp.CookieExpireDelete)
	ctx.Response.Header.SetCookie(&ck)
}

// isHTTPS: TLS here, or terminated by the proxy in front, which says so.
func isHTTPS(ctx *fasthttp.RequestCtx) bool {
	return ctx.IsTLS() || bytes.EqualFold(ctx.Request.Header.Peek("X-Forwarded-Proto"), []byte("https"))
}

// login serves the login form and checks the token posted to it.
func (c *Console) login(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		if c.session(ctx) != nil {
			redirect(ctx, Prefix+"/")
			return
		}
		c.render(ctx, fasthttp.StatusOK, "login", page{Title: "Log in"})
		return
	}
	now := c.cfg.Now()
	client := c.cfg.Proxies.ClientAddr(ctx)
	if wait := c.limit.wait(client, now); wait > 0 {
		c.render(ctx, fasthttp.StatusTooManyRequests, "login", page{Title: "Log in", Error: "Too many failed logins from " + addrString(client) + ". Try again in " + wait.Round(time.Second).String() + "."})
		return
	}
	token := strings.TrimSpace(string(ctx.PostArgs().Peek("token")))
	k, err := c.deps.Auth.Check(token, keys.KindAdmin, now)
	if err == nil && k.Feed != "" {
		// The console manages every feed; a feed's own admin token
		// may manage only its feed, through /api/admin/.
		c.render(ctx, fasthttp.StatusForbidden, "login", page{Title: "Log in", Error: "This admin token manages feed " + k.Feed + " only; the console needs the server's admin token (admin.token in its data directory)."})
		return
	}
	if err != nil {
		c.limit.fail(client, now)
		c.log.Warn("console login refused", "remote", client, "reason", err)
		msg := "That is not a valid admin token. It starts with sfa_ and is in the file admin.token of the server's data directory."
		if token == "" {
			msg = "Paste the admin token: the file admin.token in the server's data directory."
		}
		c.render(ctx, fasthttp.StatusUnauthorized, "login", page{Title: "Log in", Error: msg})
		return
	}
	sess := c.sessions.open(token, now, c.cfg.SessionTTL)
	c.setCookie(ctx, sess)
	c.log.Info("console login", "remote", client)
	redirect(ctx, Prefix+"/")
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "your address"
	}
	return a.String()
}

// Publish keeps m for the Monitors page's list of recent pings. It is one
// of the node's publishers, so it is quick and does not allocate: it keeps
// the shared, immutable message in a ring.
func (c *Console) Publish(m *wire.Message) {
	c.pingsMu.Lock()
	c.pings[c.pingsNext%len(c.pings)] = sentPing{at: c.cfg.Now(), m: m}
	c.pingsNext++
	c.pingsMu.Unlock()
}

type sentPing struct {
	at time.Time
	m  *wire.Message
}

// recentPing is a ping as it went out, for the pages.
type recentPing struct {
	At      time.Time `json:"at"`
	Site    string    `json:"site"`
	Region  string    `json:"region,omitempty"`
	Payload string    `json:"payload"`
}

// recent returns the kept pings, newest first.
func (c *Console) recent() []recentPing {
	c.pingsMu.Lock()
	defer c.pingsMu.Unlock()
	n := min(c.pingsNext, len(c.pings))
	out := make([]recentPing, n)
	for i := range n {
		p := c.pings[(c.pingsNext-1-i)%len(c.pings)]
		out[i] = recentPing{At: p.at, Site: p.m.Site, Region: p.m.Region, Payload: string(p.m.Payload)}
	}
	return out
}

func (c *Console) static(ctx *fasthttp.RequestCtx, name string) {
	data, err := staticFS.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "/") {
		ctx.Error("not found", fasthttp.StatusNotFound)
		return
	}
	switch {
	case strings.HasSuffix(name, ".js"):
		ctx.SetContentType("text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".css"):
		ctx.SetContentType("text/css; charset=utf-8")
	}
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetBody(data)
}
