package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/wire"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// Publisher takes validated, encoded pings: the broadcaster's hub or a bus.
// Publish must not block for long; it runs inside the ingest request.
type Publisher interface {
	Publish(m *wire.Message)
}

// Publishers fans each message out to several publishers in order: the
// WebSocket broadcaster and the SSE hub. Both only queue, so one slow
// subscriber never delays the next publisher. It also satisfies
// engine.Publisher.
type Publishers []Publisher

// Publish hands m to every publisher.
func (ps Publishers) Publish(m *wire.Message) {
	for _, p := range ps {
		p.Publish(m)
	}
}

// KeyStore is what the API needs of the key store (*keys.Store).
type KeyStore interface {
	Check(secret string, kind keys.Kind, now time.Time) (keys.Key, error)
	AllowIngest(keyID string, now time.Time) error
	ChargeIngest(keyID string, pings int, now time.Time) error

	// Subscriber admission for the SSE stream, as for WebSocket.
	Authenticate(secret string, remote netip.Addr) (keys.Identity, error)
	Connected(keyID string, remote netip.Addr)
	Disconnected(keyID string, remote netip.Addr, dur time.Duration, delivered uint64)

	// Administration, served through StoreService.
	Keys
	Get(id string) (keys.Key, error)

	FeedStore
	SessionStore
}

var _ KeyStore = (*keys.Store)(nil)

// Config tunes the server; the zero value is usable.
type Config struct {
	// MaxBodyBytes bounds a request body (default 1 MiB): 413 above.
	MaxBodyBytes int
	// MaxPings bounds the pings in one ingest request (default 1000): 413 above.
	MaxPings int
	// ReadTimeout, WriteTimeout and IdleTimeout of connections
	// (defaults 10 s, 10 s, 60 s).
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// SSEWriteTimeout bounds each flush of an event stream (default
	// WriteTimeout): a client that stops reading is cut after it.
	// WriteTimeout itself does not apply to streams, which last for hours.
	SSEWriteTimeout time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Real-IP headers are believed (see Proxies.ClientIP); empty trusts
	// none, and every client is the TCP peer.
	TrustedProxies Proxies
	// NoProcessMetrics leaves go_* and process_* out of /metrics, for a
	// process that exposes them elsewhere.
	NoProcessMetrics bool
	// CORSOrigins may read the event stream and log in from a browser
	// page of another origin ("https://dash.example.com"; "*" for any).
	// Empty: same origin only.
	CORSOrigins []string
	// SessionTTL is how long a /api/login session lasts (default 24 h,
	// never past the key's expiry).
	SessionTTL time.Duration
}

func (c *Config) setDefaults() {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxPings <= 0 {
		c.MaxPings = 1000
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.SSEWriteTimeout <= 0 {
		c.SSEWriteTimeout = c.WriteTimeout
	}
}

// Deps are the API's collaborators. Publisher and Keys are required.
type Deps struct {
	Publisher Publisher
	Keys      KeyStore
	// SSE serves GET /api/events/stream; nil answers 404 there. The node
	// publishes every ping to it as well as to the broadcaster. Shutdown
	// closes it, ending the streams.
	SSE StreamHub
	// Conns backs /api/admin/connections; nil answers 404 there.
	Conns ConnAdmin
	// Console serves /admin and everything under /admin/ (the operator's
	// dashboard, internal/console); nil answers 404 there. Shutdown
	// closes it, ending its live streams.
	Console Console
	// Targets backs /api/admin/targets; nil answers 404 there.
	Targets TargetSource
	// Metrics receives the API's metrics; nil gives the API a private set.
	Metrics *metrics.Set
	Logger  *slog.Logger
	Rules   stellar.Rules
	// LiveRules, when set, replaces Rules with the rules of the moment (a
	// config reload renames Stellar sites); it must be cheap.
	LiveRules func() stellar.Rules
	// Ready backs /readyz: nil error = ready. Nil func = always ready.
	Ready func() error
	// Degraded, when set, names faults that leave the server ready but
	// impaired (e.g. "store: degraded (disk full)"), one per line in the
	// /readyz body after "ok". Empty = none.
	Degraded func() []string
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// Console is the dashboard (*console.Console).
type Console interface {
	Serve(ctx *fasthttp.RequestCtx)
	Close()
}

// consolePath is where Deps.Console is served.
const consolePath = "/admin"

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("api: server closed")

// API serves the HTTP endpoints. Create it with New.
type API struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	now  func() time.Time
	srv  *fasthttp.Server
	m    apiMetrics

	mu     sync.Mutex
	closed bool
	lns    []net.Listener
}

// New builds the API. It panics if deps lack a Publisher or Keys: that is
// a wiring bug, found at start-up.
func New(cfg Config, deps Deps) *API {
	if deps.Publisher == nil || deps.Keys == nil {
		panic("api.New: Deps.Publisher and Deps.Keys are required")
	}
	cfg.setDefaults()
	if deps.Metrics == nil {
		deps.Metrics = metrics.NewSet()
	}
	a := &API{cfg: cfg, deps: deps, log: deps.Logger, now: deps.Now, m: newMetrics(deps.Metrics)}
	a.registerScrapeMetrics()
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.srv = &fasthttp.Server{
		Handler:            a.Handler(),
		ErrorHandler:       a.readError,
		Name:               "stellarfeed",
		ReadTimeout:        cfg.ReadTimeout,
		WriteTimeout:       cfg.WriteTimeout,
		IdleTimeout:        cfg.IdleTimeout,
		MaxRequestBodySize: cfg.MaxBodyBytes,
		CloseOnShutdown:    true,
		Logger:             printfLogger{a.log},
	}
	// No endpoint takes forms: without this, fasthttp parses every
	// multipart body, before any token is checked, and answers 400
	// instead of our 415.
	a.srv.DisablePreParseMultipartForm = true
	return a
}

// Handler routes every endpoint; usable with any fasthttp.Server.
func (a *API) Handler() fasthttp.RequestHandler { return a.route }

func (a *API) route(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	switch string(path) {
	case "/api/pings":
		a.ingest(ctx)
	case "/api/login":
		a.login(ctx)
	case "/api/logout":
		a.logout(ctx)
	case streamPath:
		a.stream(ctx)
	case "/healthz":
		if a.getOnly(ctx) {
			ctx.SetContentType("text/plain; charset=utf-8")
			ctx.SetBodyString("ok\n")
		}
	case "/readyz":
		if a.getOnly(ctx) {
			a.ready(ctx)
		}
	case "/metrics":
		if a.getOnly(ctx) {
			ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
			a.writeMetrics(ctx)
		}
	default:
		if rest, ok := bytes.CutPrefix(path, []byte("/api/admin/")); ok {
			a.admin(ctx, rest)
			return
		}
		if a.deps.Console != nil && (string(path) == consolePath || bytes.HasPrefix(path, []byte(consolePath+"/"))) {
			a.deps.Console.Serve(ctx)
			return
		}
		if slug, ok := bytes.CutPrefix(path, []byte(webhookPrefix)); ok {
			a.webhook(ctx, slug)
			return
		}
		writeError(ctx, fasthttp.StatusNotFound, "not found")
	}
}

func (a *API) getOnly(ctx *fasthttp.RequestCtx) bool {
	if ctx.IsGet() || ctx.IsHead() {
		return true
	}
	ctx.Response.Header.Set("Allow", "GET, HEAD")
	writeError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed")
	return false
}

func (a *API) ready(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain; charset=utf-8")
	if a.deps.Ready != nil {
		if err := a.deps.Ready(); err != nil {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString("not ready: " + err.Error() + "\n")
			return
		}
	}
	ctx.SetBodyString("ok\n")
	if a.deps.Degraded != nil {
		for _, d := range a.deps.Degraded() {
			ctx.Response.AppendBodyString(d + "\n")
		}
	}
}

// readError answers requests fasthttp could not read; the one that matters
// is a body over MaxRequestBodySize, refused before it is buffered.
func (a *API) readError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge, a.tooLarge())
	case errors.As(err, &small):
		writeError(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge, "request headers too large")
	case errors.As(err, &ne) && ne.Timeout():
		writeError(ctx, fasthttp.StatusRequestTimeout, "request timeout")
	default:
		writeError(ctx, fasthttp.StatusBadRequest, "malformed HTTP request")
	}
	switch path := ctx.Path(); {
	case string(path) == "/api/pings":
		a.m.ingestDone(ctx.Response.StatusCode(), time.Now())
	case bytes.HasPrefix(path, []byte(webhookPrefix)):
		a.m.webhookDone(ctx.Response.StatusCode(), time.Now())
	}
}

func (a *API) tooLarge() string {
	return "body larger than " + strconv.Itoa(a.cfg.MaxBodyBytes) + " bytes"
}

// Serve answers requests on ln until Shutdown, then returns ErrServerClosed.
func (a *API) Serve(ln net.Listener) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrServerClosed
	}
	a.lns = append(a.lns, ln)
	a.mu.Unlock()
	err := a.srv.Serve(ln)
	a.mu.Lock()
	closed := a.closed
	a.mu.Unlock()
	if closed {
		return ErrServerClosed
	}
	if err != nil {
		return fmt.Errorf("api: serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting, ends the event streams (closing Deps.SSE),
// closes idle connections and waits for active requests until ctx ends
// (then it returns ctx.Err()). The API cannot be served again.
func (a *API) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	a.closed = true
	lns := a.lns
	a.mu.Unlock()
	// A stream is a request that never ends by itself: fasthttp would
	// wait for it until ctx ran out.
	if a.deps.SSE != nil {
		a.deps.SSE.Close()
	}
	if a.deps.Console != nil {
		a.deps.Console.Close()
	}
	err := a.srv.ShutdownWithContext(ctx)
	// A Serve that registered its listener after fasthttp looked at its
	// list would otherwise accept forever.
	for _, ln := range lns {
		ln.Close()
	}
	return err
}

// printfLogger feeds fasthttp's log lines to slog.
type printfLogger struct{ l *slog.Logger }

// Per-connection errors are the clients' (oversized bodies, resets) and
// would let any client flood the log at Warn; accept errors are ours.
func (p printfLogger) Printf(format string, args ...any) {
	level := slog.LevelDebug
	if strings.Contains(format, "accepting") {
		level = slog.LevelWarn
	}
	p.l.Log(context.Background(), level, fmt.Sprintf(format, args...), "component", "fasthttp")
}
