package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpproxy"
	"golang.org/x/time/rate"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// Defaults applied by New to zero fields of Options.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultProxyCooldown = 2 * time.Minute
	DefaultMaxBodyBytes  = 8 << 20
	DefaultMaxRedirects  = 5
)

// ErrNoProxy is returned (wrapped) when every proxy is benched.
var ErrNoProxy = errors.New("every proxy is benched")

// ErrTooManyRedirects is returned (wrapped) past Options.MaxRedirects.
var ErrTooManyRedirects = errors.New("too many redirects")

// ErrBodyTooLarge is returned (wrapped) for a body, raw or decoded, over
// Options.MaxBodyBytes.
var ErrBodyTooLarge = fasthttp.ErrBodyTooLarge

// Client selects what sends the requests.
type Client string

const (
	// ClientBrowser (the default) sends https:// requests the way Chrome
	// does (see Profile): its TLS ClientHello, HTTP/2 when the site offers
	// it, its header order, and a cookie jar per proxy. Plain http:// (the
	// simulator, tests) goes over fasthttp: there is no TLS to fingerprint.
	ClientBrowser Client = "browser"
	// ClientFastHTTP sends everything over fasthttp: HTTP/1.1, Go's TLS
	// ClientHello, no cookies. The cheapest per check; retailers' bot walls
	// recognise it.
	ClientFastHTTP Client = "fasthttp"
)

// ParseClient accepts "", "browser" and "fasthttp" ("" means browser).
func ParseClient(s string) (Client, error) {
	switch Client(s) {
	case "", ClientBrowser:
		return ClientBrowser, nil
	case ClientFastHTTP:
		return ClientFastHTTP, nil
	}
	return "", fmt.Errorf("%q is not one of browser, fasthttp", s)
}

// Limit is a token-bucket rate: RatePerSec 0 means unlimited, Burst 0
// means 1.
type Limit struct {
	RatePerSec float64
	Burst      int
}

// Check reports a negative rate or burst.
func (l Limit) Check() error {
	if l.RatePerSec < 0 {
		return fmt.Errorf("rate must not be negative, got %g", l.RatePerSec)
	}
	if l.Burst < 0 {
		return fmt.Errorf("burst must not be negative, got %d", l.Burst)
	}
	return nil
}

// Options configure a Fetcher; zero fields take the defaults.
type Options struct {
	Client        Client        // default ClientBrowser
	Timeout       time.Duration // per request, redirects included; default 10s
	UserAgents    []string      // default DefaultUserAgents
	Proxies       []string      // see ParseProxy; empty = direct
	ProxyCooldown time.Duration // bench after a Blocked outcome; default 2m
	ProxyLimit    Limit         // per proxy; zero = unlimited
	MaxBodyBytes  int           // raw and decoded; default 8 MiB
	MaxRedirects  int           // default 5
	Metrics       *metrics.Set  // nil = private set
	// TLS adjusts the browser client's TLS: trusted roots (a test server's
	// certificate, a corporate CA). Nil means the system roots.
	TLS *TLSOptions
}

// Fetcher implements monitors.Fetcher: one way out per proxy (or one
// direct), each with a browser identity (user agent and cookie jar) that
// a block drops; region Accept-Language; transparent gzip/deflate/br/zstd
// decoding; manual redirects (the final URL is reported, so block-page
// redirects are visible); a body cap; and proxies benched after a block.
//
// The fasthttp path has no context support: a request already on the wire
// ends at its deadline (at most Timeout), not at ctx cancellation; ctx is
// checked before each request and redirect, and its deadline bounds the
// request. The browser path honours ctx throughout.
type Fetcher struct {
	client       Client
	timeout      time.Duration
	cooldown     time.Duration
	maxBody      int
	maxRedirects int
	userAgents   []string
	tls          TLSOptions
	exits        []*exit // proxies; empty: direct only
	direct       *exit
	byLabel      map[string]*exit
	fastIDs      []*identity // ClientFastHTTP: one per user agent, rotated per session
	nextProxy    atomic.Uint64
	nextUA       atomic.Uint64
	// roundTrip, when set, replaces the network (SetRoundTrip).
	roundTrip func(ctx context.Context, r *monitors.Request) (*monitors.Response, error)
}

// exit is one way out: a proxy, or the direct connection.
type exit struct {
	label        string // host:port, never credentials; "direct"
	proxyURL     *url.URL
	fast         *fasthttp.Client
	browser      *browserClient           // nil unless Client is browser
	identity     atomic.Pointer[identity] // ClientBrowser only
	limiter      *rate.Limiter            // nil: unlimited
	benchedUntil atomic.Int64             // unix nanos
	requests     *metrics.Counter
	errors       *metrics.Counter
	benched      *metrics.Counter
}

// ParseProxy accepts "http://user:pass@host:port", "user:pass@host:port"
// and "host:port". It returns the URL for the dialer and a label without
// credentials for logs and metrics. Errors never include the password.
func ParseProxy(s string) (proxyURL, label string, err error) {
	raw := strings.TrimSpace(s)
	if raw == "" {
		return "", "", errors.New("empty proxy")
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse errors quote the input, password included.
		return "", "", errors.New("not a proxy URL (want http://user:pass@host:port or user:pass@host:port)")
	}
	if u.Scheme != "http" {
		return "", "", fmt.Errorf("scheme %q not supported (only http proxies)", u.Scheme)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return "", "", fmt.Errorf("%q needs host:port", u.Redacted())
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("%q must not have a path or query", u.Redacted())
	}
	u.Path = ""
	return u.String(), u.Host, nil
}

// New builds the clients. Bad proxies are reported by index.
func New(o Options) (*Fetcher, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if len(o.UserAgents) == 0 {
		o.UserAgents = DefaultUserAgents
	}
	if o.ProxyCooldown <= 0 {
		o.ProxyCooldown = DefaultProxyCooldown
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewSet()
	}
	client, err := ParseClient(string(o.Client))
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if err := o.ProxyLimit.Check(); err != nil {
		return nil, fmt.Errorf("proxyLimit: %w", err)
	}
	f := &Fetcher{
		client:       client,
		timeout:      o.Timeout,
		cooldown:     o.ProxyCooldown,
		maxBody:      o.MaxBodyBytes,
		maxRedirects: o.MaxRedirects,
		userAgents:   o.UserAgents,
		byLabel:      map[string]*exit{},
	}
	if o.TLS != nil {
		f.tls = *o.TLS
	}
	if client == ClientFastHTTP {
		for range o.UserAgents {
			f.fastIDs = append(f.fastIDs, f.newIdentity())
		}
	}
	var errs []error
	for i, s := range o.Proxies {
		pu, label, err := ParseProxy(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("proxies[%d]: %w", i, err))
			continue
		}
		if _, dup := f.byLabel[label]; dup {
			errs = append(errs, fmt.Errorf("proxies[%d]: %s listed twice", i, label))
			continue
		}
		u, _ := url.Parse(pu) // ParseProxy checked it
		x := f.newExit(o, label, u, fasthttpproxy.FasthttpHTTPDialerTimeout(pu, o.Timeout))
		f.exits = append(f.exits, x)
		f.byLabel[label] = x
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(f.exits) == 0 {
		f.direct = f.newExit(o, "direct", nil, nil)
		f.byLabel["direct"] = f.direct
	}
	return f, nil
}

func (f *Fetcher) newExit(o Options, label string, proxyURL *url.URL, dial fasthttp.DialFunc) *exit {
	l := `{proxy="` + labelValue(label) + `"}`
	x := &exit{
		label:    label,
		proxyURL: proxyURL,
		fast: &fasthttp.Client{
			Dial:                     dial,
			NoDefaultUserAgentHeader: true,
			MaxConnsPerHost:          1024,
			MaxIdleConnDuration:      30 * time.Second,
			MaxConnWaitTimeout:       o.Timeout,
			ReadTimeout:              o.Timeout,
			WriteTimeout:             o.Timeout,
			MaxResponseBodySize:      o.MaxBodyBytes,
			// Retail pages carry large cookie headers.
			ReadBufferSize: 32 << 10,
			// Monitors build exact URLs (Amazon's encoded offer ids).
			DisablePathNormalizing: true,
		},
		requests: o.Metrics.GetOrCreateCounter("stellarfeed_proxy_requests_total" + l),
		errors:   o.Metrics.GetOrCreateCounter("stellarfeed_proxy_errors_total" + l),
		benched:  o.Metrics.GetOrCreateCounter("stellarfeed_proxy_benched_total" + l),
	}
	if f.client == ClientBrowser {
		x.browser = newBrowserClient(proxyURL, o.Timeout, f.tls)
		x.identity.Store(f.newIdentity())
	}
	if o.ProxyLimit.RatePerSec > 0 {
		x.limiter = rate.NewLimiter(rate.Limit(o.ProxyLimit.RatePerSec), max(o.ProxyLimit.Burst, 1))
	}
	return x
}

// SetRoundTrip replaces the network with fn for every exit: proxy
// selection, benching, rate limits and request metrics work as usual. For
// tests of what lies in front of the fetcher; call it before any request.
func (f *Fetcher) SetRoundTrip(fn func(ctx context.Context, r *monitors.Request) (*monitors.Response, error)) {
	f.roundTrip = fn
}

// CloseIdleConnections closes pooled connections (at shutdown).
func (f *Fetcher) CloseIdleConnections() {
	for _, x := range f.byLabel {
		x.fast.CloseIdleConnections()
		if x.browser != nil {
			x.browser.closeIdle()
		}
	}
}

// Fetch makes one request through the next usable proxy. The engine uses
// sessions instead, which keep one proxy for a whole check.
func (f *Fetcher) Fetch(ctx context.Context, req *monitors.Request) (*monitors.Response, error) {
	s, err := f.Session(time.Now())
	if err != nil {
		return nil, err
	}
	return s.Do(ctx, req, nil)
}

// Report tells the fetcher how a check through proxy (its label, host:port,
// or "direct") ended: Blocked drops the exit's identity (cookies, and the
// user agent that went with them) and benches a proxy for ProxyCooldown.
func (f *Fetcher) Report(proxyLabel string, o monitors.Outcome) {
	if x := f.byLabel[proxyLabel]; x != nil {
		f.report(x, o)
	}
}

func (f *Fetcher) report(x *exit, o monitors.Outcome) {
	if o != monitors.Blocked {
		return
	}
	if f.fastIDs == nil {
		x.identity.Store(f.newIdentity())
	}
	if x == f.direct {
		return
	}
	x.benchedUntil.Store(time.Now().Add(f.cooldown).UnixNano())
	x.benched.Inc()
}

// Session is one check's way out: an exit (proxy or direct) and the
// browser identity it had when the check began. It is a small value; the
// zero Session only answers Proxy ("").
type Session struct {
	f  *Fetcher
	x  *exit
	id *identity
}

// Session returns a session on the next proxy not benched at now, round
// robin, or ErrNoProxy.
func (f *Fetcher) Session(now time.Time) (Session, error) {
	x, err := f.pick(now)
	if err != nil {
		return Session{}, err
	}
	if f.fastIDs != nil {
		// No cookies to keep consistent with: rotate per check.
		return Session{f: f, x: x, id: f.fastIDs[(f.nextUA.Add(1)-1)%uint64(len(f.fastIDs))]}, nil
	}
	return Session{f: f, x: x, id: x.identity.Load()}, nil
}

// Proxy is the session's proxy label (host:port) or "direct"; "" for the
// zero Session (no proxy was usable).
func (s Session) Proxy() string {
	if s.x == nil {
		return ""
	}
	return s.x.label
}

// UserAgent is the session's user agent.
func (s Session) UserAgent() string { return s.id.userAgent }

// Wait blocks until the proxy's rate limit (Options.ProxyLimit) allows a
// request, or ctx ends.
func (s Session) Wait(ctx context.Context) error {
	if s.x.limiter == nil {
		return nil
	}
	if err := s.x.limiter.Wait(ctx); err != nil {
		return fmt.Errorf("proxy %s rate limit: %w", s.x.label, err)
	}
	return nil
}

// Report is Fetcher.Report for the session's proxy.
func (s Session) Report(o monitors.Outcome) { s.f.report(s.x, o) }

// Do performs req through the session's exit, following redirects.
// siteRequests, when not nil, counts each request made (redirects too).
// Do does not wait for the proxy's rate limit: call Wait first.
func (s Session) Do(ctx context.Context, r *monitors.Request, siteRequests *metrics.Counter) (*monitors.Response, error) {
	f := s.f
	if f.roundTrip != nil {
		s.x.requests.Inc()
		if siteRequests != nil {
			siteRequests.Inc()
		}
		return f.roundTrip(ctx, r)
	}
	deadline := time.Now().Add(f.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	target := r.URL
	for hop := 0; ; hop++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("fetch %s: %w", target, err)
		}
		s.x.requests.Inc()
		if siteRequests != nil {
			siteRequests.Inc()
		}
		var resp *monitors.Response
		var err error
		if s.x.browser != nil && strings.HasPrefix(target, "https://") {
			resp, err = s.x.browser.do(ctx, deadline, method, target, r, s.id, f.maxBody)
		} else {
			resp, err = s.fast(deadline, method, target, r)
		}
		if err != nil {
			s.x.errors.Inc()
			return nil, fmt.Errorf("fetch %s via %s: %w", target, s.x.label, err)
		}
		loc := resp.Header.Get("Location")
		if !isRedirect(resp.Status) || loc == "" {
			resp.URL = target
			return resp, nil
		}
		if hop >= f.maxRedirects {
			return nil, fmt.Errorf("fetch %s: %w (more than %d)", r.URL, ErrTooManyRedirects, f.maxRedirects)
		}
		next, err := resolveURL(target, loc)
		if err != nil {
			return nil, fmt.Errorf("fetch %s: bad redirect Location %q: %w", target, loc, err)
		}
		target = next
		if resp.Status == http.StatusSeeOther || (resp.Status == http.StatusMovedPermanently || resp.Status == http.StatusFound) && method == http.MethodPost {
			method = http.MethodGet
		}
	}
}

// pick returns the next exit not benched at now, round robin.
func (f *Fetcher) pick(now time.Time) (*exit, error) {
	n := uint64(len(f.exits))
	if n == 0 {
		return f.direct, nil
	}
	start := f.nextProxy.Add(1)
	ns := now.UnixNano()
	soonest := int64(0)
	for i := range n {
		x := f.exits[(start+i)%n]
		until := x.benchedUntil.Load()
		if until <= ns {
			return x, nil
		}
		if soonest == 0 || until < soonest {
			soonest = until
		}
	}
	return nil, fmt.Errorf("%w: %d proxies, the first returns in %s", ErrNoProxy, n, time.Duration(soonest-ns).Round(time.Second))
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

func resolveURL(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u, err := b.Parse(ref)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("scheme %q not followed", u.Scheme)
	}
	return u.String(), nil
}

// labelValue escapes a Prometheus label value; VictoriaMetrics panics on a
// malformed metric name, and proxy hosts come from config.
func labelValue(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return r.Replace(s)
}

var _ monitors.Fetcher = (*Fetcher)(nil)
