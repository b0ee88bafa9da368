package engine

import (
	"bytes"
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

// ErrNoProxy is returned (wrapped) when every proxy is benched.
var ErrNoProxy = errors.New("every proxy is benched")

// ErrTooManyRedirects is returned (wrapped) past FetcherOptions.MaxRedirects.
var ErrTooManyRedirects = errors.New("too many redirects")

// FetcherOptions configure a Fetcher; zero fields take the Options defaults.
type FetcherOptions struct {
	Timeout       time.Duration // per request, redirects included; default 10s
	UserAgents    []string      // rotated; default DefaultUserAgents
	Proxies       []string      // see ParseProxy; empty = direct
	ProxyCooldown time.Duration // bench after a Blocked outcome; default 2m
	ProxyLimit    Limit         // per proxy; zero = unlimited
	MaxBodyBytes  int           // raw and decoded; default 8 MiB
	MaxRedirects  int           // default 5
	Metrics       *metrics.Set  // nil = private set
}

// Fetcher implements monitors.Fetcher on fasthttp: one pooled
// fasthttp.Client per proxy (or one direct), rotating user agents, region
// Accept-Language, transparent gzip/deflate/br/zstd decoding, manual
// redirects (the final URL is reported, so block-page redirects are
// visible), a body cap, and proxies benched after a block.
//
// fasthttp has no context support: a request already on the wire ends at
// its deadline (at most Timeout), not at ctx cancellation; ctx is checked
// before each request and redirect, and its deadline bounds the request.
type Fetcher struct {
	timeout      time.Duration
	cooldown     time.Duration
	maxBody      int
	maxRedirects int
	userAgents   []string
	proxies      []*proxy // empty: direct only
	direct       *proxy
	byLabel      map[string]*proxy
	nextProxy    atomic.Uint64
	nextUA       atomic.Uint64
	// doFn replaces do in tests of what lies in front of it (rate limits).
	doFn func(ctx context.Context, r *monitors.Request, p *proxy, ua string, siteRequests *metrics.Counter) (*monitors.Response, error)
}

// proxy is one way out: a proxy, or the direct connection.
type proxy struct {
	label        string // host:port, never credentials; "direct"
	client       *fasthttp.Client
	limiter      *rate.Limiter // nil: unlimited
	benchedUntil atomic.Int64  // unix nanos
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

// NewFetcher builds the clients. Bad proxies are reported by index.
func NewFetcher(o FetcherOptions) (*Fetcher, error) {
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
	if err := o.ProxyLimit.check(); err != nil {
		return nil, fmt.Errorf("proxyLimit: %w", err)
	}
	f := &Fetcher{
		timeout:      o.Timeout,
		cooldown:     o.ProxyCooldown,
		maxBody:      o.MaxBodyBytes,
		maxRedirects: o.MaxRedirects,
		userAgents:   o.UserAgents,
		byLabel:      map[string]*proxy{},
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
		p := f.newProxy(o, label, fasthttpproxy.FasthttpHTTPDialerTimeout(pu, o.Timeout))
		f.proxies = append(f.proxies, p)
		f.byLabel[label] = p
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(f.proxies) == 0 {
		f.direct = f.newProxy(o, "direct", nil)
		f.byLabel["direct"] = f.direct
	}
	return f, nil
}

func (f *Fetcher) newProxy(o FetcherOptions, label string, dial fasthttp.DialFunc) *proxy {
	l := `{proxy="` + labelValue(label) + `"}`
	p := &proxy{
		label: label,
		client: &fasthttp.Client{
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
	if o.ProxyLimit.RatePerSec > 0 {
		p.limiter = rate.NewLimiter(rate.Limit(o.ProxyLimit.RatePerSec), max(o.ProxyLimit.Burst, 1))
	}
	return p
}

// CloseIdleConnections closes pooled connections (at shutdown).
func (f *Fetcher) CloseIdleConnections() {
	for _, p := range f.byLabel {
		p.client.CloseIdleConnections()
	}
}

// Fetch makes one request through the next usable proxy with the next
// user agent. The engine uses sessions instead, which keep one proxy and
// user agent for a whole check.
func (f *Fetcher) Fetch(ctx context.Context, req *monitors.Request) (*monitors.Response, error) {
	p, err := f.pick(time.Now())
	if err != nil {
		return nil, err
	}
	return f.do(ctx, req, p, f.userAgent(), nil)
}

// Report tells the fetcher how a check through proxy (its label, host:port)
// ended: Blocked benches it for ProxyCooldown.
func (f *Fetcher) Report(proxyLabel string, o monitors.Outcome) {
	if p := f.byLabel[proxyLabel]; p != nil {
		f.report(p, o)
	}
}

func (f *Fetcher) report(p *proxy, o monitors.Outcome) {
	if o != monitors.Blocked || p == f.direct {
		return
	}
	p.benchedUntil.Store(time.Now().Add(f.cooldown).UnixNano())
	p.benched.Inc()
}

// pick returns the next proxy not benched at now, round robin.
func (f *Fetcher) pick(now time.Time) (*proxy, error) {
	n := uint64(len(f.proxies))
	if n == 0 {
		return f.direct, nil
	}
	start := f.nextProxy.Add(1)
	ns := now.UnixNano()
	soonest := int64(0)
	for i := range n {
		p := f.proxies[(start+i)%n]
		until := p.benchedUntil.Load()
		if until <= ns {
			return p, nil
		}
		if soonest == 0 || until < soonest {
			soonest = until
		}
	}
	return nil, fmt.Errorf("%w: %d proxies, the first returns in %s", ErrNoProxy, n, time.Duration(soonest-ns).Round(time.Second))
}

func (f *Fetcher) userAgent() string {
	return f.userAgents[(f.nextUA.Add(1)-1)%uint64(len(f.userAgents))]
}

// acceptLanguage maps a region to what a local browser sends.
var acceptLanguage = map[string]string{
	"USA": "en-US,en;q=0.9",
	"US":  "en-US,en;q=0.9",
	"UK":  "en-GB,en;q=0.9",
	"DE":  "de-DE,de;q=0.9,en;q=0.8",
	"FR":  "fr-FR,fr;q=0.9,en;q=0.8",
	"IT":  "it-IT,it;q=0.9,en;q=0.8",
	"ES":  "es-ES,es;q=0.9,en;q=0.8",
	"NL":  "nl-NL,nl;q=0.9,en;q=0.8",
	"BE":  "fr-BE,nl-BE;q=0.9,fr;q=0.8,nl;q=0.7,en;q=0.6",
	"PL":  "pl-PL,pl;q=0.9,en;q=0.8",
	"JP":  "ja-JP,ja;q=0.9,en;q=0.8",
	"CA":  "en-CA,en;q=0.9,fr-CA;q=0.8",
	"AU":  "en-AU,en;q=0.9",
}

// AcceptLanguage returns the Accept-Language sent for a region ("en-US"
// for unknown or empty regions).
func AcceptLanguage(region string) string {
	if v, ok := acceptLanguage[region]; ok {
		return v
	}
	return acceptLanguage["USA"]
}

const (
	defaultAccept   = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	acceptEncodings = "gzip, deflate, br, zstd"
)

// do performs req through p, following redirects. siteRequests may be nil.
func (f *Fetcher) do(ctx context.Context, r *monitors.Request, p *proxy, ua string, siteRequests *metrics.Counter) (*monitors.Response, error) {
	deadline := time.Now().Add(f.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)

	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	target := r.URL
	for hop := 0; ; hop++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("fetch %s: %w", target, err)
		}
		req.Reset()
		resp.Reset()
		req.SetRequestURI(target)
		req.Header.SetMethod(method)
		setHeaders(&req.Header, r, ua)
		p.requests.Inc()
		if siteRequests != nil {
			siteRequests.Inc()
		}
		if err := p.client.DoDeadline(req, resp, deadline); err != nil {
			p.errors.Inc()
			return nil, fmt.Errorf("fetch %s via %s: %w", target, p.label, err)
		}
		status := resp.StatusCode()
		if loc := resp.Header.Peek("Location"); isRedirect(status) && len(loc) > 0 {
			if hop >= f.maxRedirects {
				return nil, fmt.Errorf("fetch %s: %w (more than %d)", r.URL, ErrTooManyRedirects, f.maxRedirects)
			}
			next, err := resolveURL(target, string(loc))
			if err != nil {
				return nil, fmt.Errorf("fetch %s: bad redirect Location %q: %w", target, loc, err)
			}
			target = next
			if status == http.StatusSeeOther || (status == http.StatusMovedPermanently || status == http.StatusFound) && method == http.MethodPost {
				method = http.MethodGet
			}
			continue
		}
		body, err := resp.BodyUncompressedWithLimit(f.maxBody)
		if err != nil {
			if errors.Is(err, fasthttp.ErrBodyTooLarge) {
				return nil, fmt.Errorf("fetch %s: body larger than %d bytes: %w", target, f.maxBody, err)
			}
			return nil, fmt.Errorf("fetch %s: decode %q body: %w", target, resp.Header.ContentEncoding(), err)
		}
		out := &monitors.Response{
			Status: status,
			Header: make(http.Header, 8),
			Body:   bytes.Clone(body),
			URL:    target,
		}
		if out.Body == nil {
			out.Body = []byte{}
		}
		for k, v := range resp.Header.All() {
			out.Header.Add(string(k), string(v))
		}
		return out, nil
	}
}

func setHeaders(h *fasthttp.RequestHeader, r *monitors.Request, ua string) {
	for k, vs := range r.Header {
		for i, v := range vs {
			if i == 0 {
				h.Set(k, v)
			} else {
				h.Add(k, v)
			}
		}
	}
	setDefault := func(k, v string) {
		if len(h.Peek(k)) == 0 {
			h.Set(k, v)
		}
	}
	setDefault("User-Agent", ua)
	setDefault("Accept", defaultAccept)
	setDefault("Accept-Language", AcceptLanguage(r.Region))
	setDefault("Accept-Encoding", acceptEncodings)
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

var _ monitors.Fetcher = (*Fetcher)(nil)
