package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/stellarfeed/stellarfeed/engine/fetch"
	"github.com/stellarfeed/stellarfeed/internal/textutil"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// Defaults applied by New to zero fields of Options.
const (
	DefaultWorkers        = 64
	DefaultInterval       = 5 * time.Second
	DefaultTimeout        = 10 * time.Second
	DefaultProxyCooldown  = 2 * time.Minute
	DefaultCooldown       = 10 * time.Minute
	DefaultMaxBackoff     = 16
	DefaultMaxBodyBytes   = 8 << 20
	DefaultMaxRedirects   = 5
	DefaultReloadInterval = time.Second
)

// Options configure an Engine. The zero value is usable: every zero field
// takes the default named in its comment.
type Options struct {
	// Workers bounds the checks running at once (the ants pool size).
	// Default 64.
	Workers int
	// DefaultInterval is the check interval of targets without one.
	// Default 5s.
	DefaultInterval time.Duration
	// Jitter spreads each tick by ±Jitter×delay, uniformly (0.1 = ±10%).
	// 0 (the default) means none: ticks are already spread by the
	// deterministic per-target offset. Must be in [0, 1).
	Jitter float64
	// Timeout bounds one HTTP request, redirects included. A whole check
	// (a monitor may make several requests) is bounded by 3×Timeout.
	// Default 10s.
	Timeout time.Duration
	// MaxBackoff caps the delay of a target that keeps failing (Blocked or
	// Error) at MaxBackoff×interval. Default 16.
	MaxBackoff int
	// Seed is XORed into every target's offset, so that several instances
	// polling the same targets do not tick in step (Prometheus uses the
	// host name). Default 0.
	Seed uint64
	// UserAgents rotate across checks. Default: a few current desktop
	// browsers (DefaultUserAgents).
	UserAgents []string
	// Proxies are HTTP proxies ("http://user:pass@host:port",
	// "user:pass@host:port" or "host:port"), rotated across checks. Empty
	// means direct connections.
	Proxies []string
	// Client picks what sends the checks: fetch.ClientBrowser (the
	// default: Chrome's TLS, HTTP/2 and headers for https://, fasthttp for
	// plain http://) or fetch.ClientFastHTTP (fasthttp for everything).
	Client fetch.Client
	// TLS adjusts the browser client's TLS (trusted roots); nil: system.
	TLS *fetch.TLSOptions
	// ProxyCooldown benches a proxy that got a Blocked outcome. Default 2m.
	ProxyCooldown time.Duration
	// ProxyLimit rate-limits each proxy across all sites. Zero: unlimited.
	ProxyLimit Limit
	// SiteLimits bounds each site (keyed by monitor name: "amazon",
	// "walmart", "shopify"). Sites not listed are unlimited.
	SiteLimits map[string]SiteLimit
	// MaxBodyBytes caps a response body, before and after decompression.
	// Default 8 MiB (Amazon product pages are 1–3 MB).
	MaxBodyBytes int
	// ReloadInterval coalesces bursts of ApplyTargets: the first is applied
	// at once, later ones at most once per ReloadInterval. Default 1s.
	ReloadInterval time.Duration
	// BlockReportInterval is how often blocked checks are summarised at
	// info level, per site and proxy, and a site's blocked share is
	// compared with BlockedShareWarn. Default 1m; negative turns it off.
	BlockReportInterval time.Duration
	// BlockedShareWarn: a site with at least this share of blocked checks
	// in a report window (and 10 checks or more) gets a warning. In (0, 1];
	// default 0.5.
	BlockedShareWarn float64
	// Dedupe tunes when a check becomes a ping.
	Dedupe DedupeOptions
	// Rules validate pings before they are emitted.
	Rules stellar.Rules
	// Claim, when set, is asked before a Restock goes to the outputs and
	// drops it on false: several engine processes sharing targets
	// (internal/cluster) claim each restock in a shared store with
	// compare-and-set so that only one of them pings it. It runs on the
	// check's goroutine and may do network I/O; it must return within a
	// bounded time. nil (the default) emits every Restock.
	Claim func(ev *Event) bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics receives the engine's metrics; nil means a private set.
	Metrics *metrics.Set
}

// SiteLimit bounds the load on one site.
type SiteLimit struct {
	// Concurrency bounds the checks of this site running at once; 0 means
	// only Workers bounds them.
	Concurrency int
	// RatePerSec and Burst bound its requests (all proxies together); a
	// zero RatePerSec means unlimited, a zero Burst means 1.
	RatePerSec float64
	Burst      int
}

// Limit is a token-bucket rate: RatePerSec 0 means unlimited, Burst 0
// means 1.
type Limit = fetch.Limit

// DedupeOptions tune the dedupe stage. The zero value means the defaults:
// the two switches that default to true are pointers so that "unset" and
// "false" differ (set them with Bool).
type DedupeOptions struct {
	// Cooldown is the least time between two pings of the same offer
	// (site, region, sku, offerId). Default 10m; negative disables it.
	Cooldown time.Duration
	// FirstRunSuppression: a target's first successful check only records
	// what it saw, so adding targets (or starting on a fresh state file)
	// does not burst pings for products that were already in stock.
	// nil means true.
	FirstRunSuppression *bool
	// PingAfterBlockedStart decides for a brand-new target whose checks
	// were all blocked or failing until its first successful one: false
	// (the default) treats that check as its first run (it records, no
	// ping); true pings what it finds in stock, since a restock may have
	// happened behind the block. A target (or product) whose last known
	// state is out of stock pings its restock either way.
	PingAfterBlockedStart bool
	// PingOnNewOffer pings a new offerId for a product already in stock.
	// nil means true.
	PingOnNewOffer *bool
	// Recheck checks a target once more, at once, before a would-be
	// restock, and pings only if it is still in stock. Default false.
	Recheck bool
}

// Bool returns a pointer to v, for DedupeOptions.
func Bool(v bool) *bool { return &v }

// dedupeConfig is DedupeOptions resolved.
type dedupeConfig struct {
	cooldown time.Duration // <= 0: none
	firstRun bool
	newOffer bool
	recheck  bool
	// afterBlockedStart: PingAfterBlockedStart.
	afterBlockedStart bool
}

func (d DedupeOptions) resolve() dedupeConfig {
	c := dedupeConfig{cooldown: d.Cooldown, firstRun: true, newOffer: true, recheck: d.Recheck, afterBlockedStart: d.PingAfterBlockedStart}
	if c.cooldown == 0 {
		c.cooldown = DefaultCooldown
	}
	if d.FirstRunSuppression != nil {
		c.firstRun = *d.FirstRunSuppression
	}
	if d.PingOnNewOffer != nil {
		c.newOffer = *d.PingOnNewOffer
	}
	return c
}

// DefaultUserAgents are used when Options.UserAgents is empty: Chrome's,
// matching the browser client's TLS and HTTP/2 profile (fetch.Profile*).
var DefaultUserAgents = fetch.DefaultUserAgents

// withDefaults validates o and fills zero fields. Errors name the field.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if o.Workers < 0 {
		bad("workers", "must not be negative, got %d", o.Workers)
	} else if o.Workers == 0 {
		o.Workers = DefaultWorkers
	}
	if o.DefaultInterval < 0 {
		bad("interval", "must not be negative, got %s", o.DefaultInterval)
	} else if o.DefaultInterval == 0 {
		o.DefaultInterval = DefaultInterval
	}
	if o.Jitter < 0 || o.Jitter >= 1 {
		bad("jitter", "must be a fraction in [0, 1), got %g", o.Jitter)
	}
	if o.Timeout < 0 {
		bad("timeout", "must not be negative, got %s", o.Timeout)
	} else if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBackoff < 0 {
		bad("maxBackoff", "must not be negative, got %d", o.MaxBackoff)
	} else if o.MaxBackoff == 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if len(o.UserAgents) == 0 {
		o.UserAgents = DefaultUserAgents
	}
	for i, ua := range o.UserAgents {
		if ua == "" || textutil.HasControl(ua) {
			bad(fmt.Sprintf("userAgents[%d]", i), "must be non-empty without control characters")
		}
	}
	if o.ProxyCooldown < 0 {
		bad("proxyCooldown", "must not be negative, got %s", o.ProxyCooldown)
	} else if o.ProxyCooldown == 0 {
		o.ProxyCooldown = DefaultProxyCooldown
	}
	if err := o.ProxyLimit.Check(); err != nil {
		bad("proxyLimit", "%v", err)
	}
	for _, site := range slices.Sorted(maps.Keys(o.SiteLimits)) {
		l := o.SiteLimits[site]
		if l.Concurrency < 0 {
			bad("sites."+site+".concurrency", "must not be negative, got %d", l.Concurrency)
		}
		if err := (Limit{RatePerSec: l.RatePerSec, Burst: l.Burst}).Check(); err != nil {
			bad("sites."+site, "%v", err)
		}
	}
	if o.MaxBodyBytes < 0 {
		bad("maxBodyBytes", "must not be negative, got %d", o.MaxBodyBytes)
	} else if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.ReloadInterval < 0 {
		bad("reloadInterval", "must not be negative, got %s", o.ReloadInterval)
	} else if o.ReloadInterval == 0 {
		o.ReloadInterval = DefaultReloadInterval
	}
	if o.BlockReportInterval == 0 {
		o.BlockReportInterval = DefaultBlockReportInterval
	}
	switch {
	case o.BlockedShareWarn == 0:
		o.BlockedShareWarn = DefaultBlockedShareWarn
	case o.BlockedShareWarn < 0 || o.BlockedShareWarn > 1:
		bad("blockedShareWarn", "must be a fraction in (0, 1], got %g", o.BlockedShareWarn)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewSet()
	}
	return o, errors.Join(errs...)
}
