package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/stellar"
)

// Publisher takes validated, encoded pings: the broadcaster's hub or a bus.
// Publish must not block for long; it runs inside the ingest request.
type Publisher interface {
	Publish(m *stellar.Message)
}

// KeyStore is what the API needs of the key store (*keys.Store).
type KeyStore interface {
	Check(secret string, kind keys.Kind, now time.Time) (keys.Key, error)
	AllowIngest(keyID string, now time.Time) error
	ChargeIngest(keyID string, pings int, now time.Time) error

	Create(o keys.Options) (string, keys.Key, error)
	List() []keys.Key
	Get(id string) (keys.Key, error)
	Usage(id string) (keys.Usage, error)
	Update(id string, p keys.Patch) (keys.Key, error)
	Rotate(id string) (string, keys.Key, error)
	Revoke(idOrSecret string) (keys.Key, error)
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
}

// Deps are the API's collaborators. Publisher and Keys are required.
type Deps struct {
	Publisher Publisher
	Keys      KeyStore
	// Metrics receives the API's metrics; nil gives the API a private set.
	Metrics *metrics.Set
	Logger  *slog.Logger
	Rules   stellar.Rules
	// Ready backs /readyz: nil error = ready. Nil func = always ready.
	Ready func() error
	// Now replaces time.Now (tests).
	Now func() time.Time
}

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

type apiMetrics struct {
	set       *metrics.Set
	byCode    map[int]*metrics.Counter // stellarfeed_ingest_requests_total{code}
	accepted  *metrics.Counter
	rejected  *metrics.Counter
	published *metrics.Counter
	duration  *metrics.PrometheusHistogram
	admin     *metrics.Counter
}

// ingestCodes are every status the ingest endpoint answers with,
// registered up front so the hot path does no map insert or formatting.
var ingestCodes = []int{202, 400, 401, 403, 405, 413, 415, 429, 500}

func newMetrics(set *metrics.Set) apiMetrics {
	m := apiMetrics{set: set, byCode: make(map[int]*metrics.Counter, len(ingestCodes))}
	for _, c := range ingestCodes {
		m.byCode[c] = set.GetOrCreateCounter(fmt.Sprintf(`stellarfeed_ingest_requests_total{code="%d"}`, c))
	}
	m.accepted = set.GetOrCreateCounter("stellarfeed_ingest_pings_accepted_total")
	m.rejected = set.GetOrCreateCounter("stellarfeed_ingest_pings_rejected_total")
	m.published = set.GetOrCreateCounter("stellarfeed_ingest_messages_published_total")
	m.duration = set.GetOrCreatePrometheusHistogram("stellarfeed_ingest_request_duration_seconds")
	m.admin = set.GetOrCreateCounter("stellarfeed_admin_requests_total")
	return m
}

func (m *apiMetrics) ingestDone(code int, start time.Time) {
	c := m.byCode[code]
	if c == nil {
		c = m.set.GetOrCreateCounter(`stellarfeed_ingest_requests_total{code="` + strconv.Itoa(code) + `"}`)
	}
	c.Inc()
	m.duration.UpdateDuration(start)
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
	return a
}

// Handler routes every endpoint; usable with any fasthttp.Server.
func (a *API) Handler() fasthttp.RequestHandler { return a.route }

func (a *API) route(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	switch string(path) {
	case "/api/pings":
		a.ingest(ctx)
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
			a.m.set.WritePrometheus(ctx)
		}
	default:
		if rest, ok := bytes.CutPrefix(path, []byte("/api/admin/")); ok {
			a.admin(ctx, rest)
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
	if string(ctx.Path()) == "/api/pings" {
		a.m.ingestDone(ctx.Response.StatusCode(), time.Now())
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

// Shutdown stops accepting, closes idle connections and waits for active
// requests until ctx ends (then it returns ctx.Err()). The API cannot be
// served again.
func (a *API) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	a.closed = true
	lns := a.lns
	a.mu.Unlock()
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
