package config

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/stellarfeed/stellarfeed/stellar"
)

// Config is one parsed configuration file. Field comments give the YAML
// key; docs/example-config.yaml documents every option with its default.
// The engine, broadcaster and outputs have their own option types: cmd/
// maps these plain values onto them, so this package imports none of them.
type Config struct {
	// File is the name the config was parsed under (for log lines).
	File string `yaml:"-"`

	Server    Server    `yaml:"server"`
	Broadcast Broadcast `yaml:"broadcast"`
	Engine    Engine    `yaml:"engine"`
	Stellar   Stellar   `yaml:"stellar"`
	// Amazon adjusts the Amazon monitor.
	Amazon Amazon `yaml:"amazon"`
	// BaseURLs replaces a retailer's origin, keyed by "site" or
	// "site.REGION" ("amazon.DE", "walmart.USA", "shopify"); the more
	// specific key wins. Used to point monitors at the simulator.
	BaseURLs map[string]string `yaml:"baseURLs"`
	// Groups bundle targets with shared defaults and tags.
	Groups []Group `yaml:"groups"`
	// Ungrouped are the top-level `targets:`; use Targets() for the
	// flattened list of everything to watch.
	Ungrouped []Target `yaml:"targets"`
	Outputs   Outputs  `yaml:"outputs"`
	// Cluster joins several processes or machines over NATS; empty NATS
	// runs alone (the default).
	Cluster Cluster `yaml:"cluster"`

	// pos maps field paths to where Parse found them, so Targets can say
	// where each target was configured.
	pos map[string]Pos
	// offerIDSites are the Stellar sites whose pings carry an offerId,
	// custom stellarSite names of Walmart and Amazon targets included;
	// set by Parse (see Rules).
	offerIDSites []string
}

// Amazon holds the Amazon monitor's options.
type Amazon struct {
	// SellerIDs maps a region code to the merchant ids that count as
	// Amazon itself there ("sold by Amazon" for merchant: amazon): the
	// first replaces the built-in id, the rest are extra.
	SellerIDs map[string][]string `yaml:"sellerIds,omitempty"`
}

// Rules returns the ping rules for this config: the sites allowed (and
// required) an offerId are Walmart USA/CA as named in stellar.sites plus
// every custom stellarSite of a target whose pings carry one.
func (c *Config) Rules() stellar.Rules {
	if c.offerIDSites != nil {
		return stellar.Rules{OfferIDSites: slices.Clone(c.offerIDSites)}
	}
	return c.Stellar.Rules()
}

// Server holds listen addresses, storage and logging.
type Server struct {
	// WS is the WebSocket listen address for Stellar clients.
	WS string `yaml:"ws"`
	// API is the HTTP API listen address (ingest, keys, metrics); "" turns
	// it off.
	API string `yaml:"api"`
	// Data is the directory for the embedded store.
	Data string `yaml:"data"`
	// LogFormat is "text" or "json"; LogLevel one of debug, info, warn,
	// error.
	LogFormat string `yaml:"logFormat"`
	LogLevel  string `yaml:"logLevel"`
	// TrustedProxies are the reverse proxies and load balancers (CIDR
	// prefixes or addresses) allowed to name the real client: by
	// X-Forwarded-For / X-Real-IP on the HTTP endpoints, and by a PROXY
	// header on the WebSocket port when broadcast.proxyProtocol is on.
	// Empty trusts none.
	TrustedProxies []string `yaml:"trustedProxies"`
	// CORSOrigins may use the event stream and /api/login from browser
	// pages of other origins ("https://dash.example.com", or "*").
	CORSOrigins []string `yaml:"corsOrigins,omitempty"`
}

// SlogLevel returns LogLevel as a slog.Level (info when unset).
func (s Server) SlogLevel() slog.Level {
	switch s.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Cluster is the scale-out setup (see docs/deploy.md).
type Cluster struct {
	// NATS is "embedded" (one box, several processes) or server URLs
	// ("nats://10.0.0.5:4222", comma-separated).
	NATS string `yaml:"nats"`
	// EmbeddedListen is where an embedded NATS listens (127.0.0.1:4222).
	EmbeddedListen string `yaml:"embeddedListen"`
	// NodeID names this process (default host name and process id).
	NodeID string `yaml:"nodeID"`
	// Roles this process plays: broadcast, engine, ingest (default all).
	Roles []string `yaml:"roles"`
	// ClaimWindow: a restock pinged by one engine node is not pinged by
	// another for this long; keep it equal to engine.dedupe.cooldown.
	ClaimWindow time.Duration `yaml:"claimWindow"`
	// ReusePort lets several processes on one box share the WebSocket
	// port (SO_REUSEPORT).
	ReusePort bool `yaml:"reusePort"`
}

// Broadcast tunes the WebSocket broadcaster.
type Broadcast struct {
	// MaxConns caps concurrent clients (each holds a file descriptor).
	MaxConns int `yaml:"maxConns"`
	// MaxBacklog is the most unsent bytes a client may have queued before
	// it is dropped as a slow consumer.
	MaxBacklog Size `yaml:"maxBacklog"`
	// WriteTimeout drops a client whose socket accepts nothing this long.
	WriteTimeout time.Duration `yaml:"writeTimeout"`
	// HandshakeTimeout bounds the HTTP upgrade.
	HandshakeTimeout time.Duration `yaml:"handshakeTimeout"`
	// PingInterval is how often clients get a WebSocket ping; 0 disables.
	PingInterval time.Duration `yaml:"pingInterval"`
	// ConnRatePerIP limits new connections per second from one IP (an
	// IPv6 /64), answered with 429 before any upgrade work; 0 = off.
	// ConnBurstPerIP is the bucket size (0 = the rate, rounded up).
	ConnRatePerIP  float64 `yaml:"connRatePerIP"`
	ConnBurstPerIP int     `yaml:"connBurstPerIP"`
	// MaxHandshakes caps connections whose upgrade is not finished; a
	// new one beyond it closes the oldest unfinished one.
	MaxHandshakes int `yaml:"maxHandshakes"`
	// MaxHandshakesPerIP caps the unfinished upgrades of one client IP
	// (an IPv6 /64), answered with 429 at accept; 0 = off.
	MaxHandshakesPerIP int `yaml:"maxHandshakesPerIP"`
	// ProxyProtocol reads a PROXY v1/v2 header from peers listed in
	// server.trustedProxies: its client address then counts for limits,
	// key IP limits, usage and the connection list.
	ProxyProtocol bool `yaml:"proxyProtocol"`
}

// Engine tunes polling. Fields map one to one onto engine.Options.
type Engine struct {
	// Feed is the feed restock pings are published into (default
	// "default"); a group's feed overrides it for the group's targets.
	Feed string `yaml:"feed,omitempty"`
	// Workers is the number of checks running at once, all sites together.
	Workers int `yaml:"workers"`
	// Interval is the default time between two checks of one target.
	Interval time.Duration `yaml:"interval"`
	// Jitter spreads each wait by ±this fraction (0.1 or "10%"), so polls
	// do not line up; in [0, 1). 0: ticks are already spread by a
	// per-target offset.
	Jitter Fraction `yaml:"jitter"`
	// Timeout bounds one HTTP request (a check may make several).
	Timeout time.Duration `yaml:"timeout"`
	// MaxBackoff caps the delay of a target that keeps failing (blocked or
	// erroring) at MaxBackoff × its interval.
	MaxBackoff int `yaml:"maxBackoff"`
	// MaxBody caps a response body, before and after decompression.
	MaxBody Size `yaml:"maxBody"`
	// Seed shifts every target's poll offset, so several instances polling
	// the same targets do not tick in step.
	Seed int64 `yaml:"seed"`
	// UserAgents rotate per request; empty means the engine's built-ins.
	UserAgents []string `yaml:"userAgents"`
	// Client is what sends the checks: "browser" (the default: Chrome's
	// TLS, HTTP/2, headers and cookies for https://; fasthttp for http://)
	// or "fasthttp" (everything over fasthttp). See engine/fetch.
	Client string `yaml:"client"`
	// Proxies rotate per request. After Parse it holds every proxy from
	// both `proxies:` and ProxyFile, normalised to scheme://[user:pass@]host:port.
	Proxies []string `yaml:"proxies"`
	// ProxyFile names a file with one proxy a line ('#' comments), relative
	// to the config file's directory.
	ProxyFile string `yaml:"proxyFile"`
	// ProxyCooldown benches a proxy that got blocked.
	ProxyCooldown time.Duration `yaml:"proxyCooldown"`
	// ProxyLimit rate-limits each proxy across all sites (zero: unlimited).
	ProxyLimit RateLimit `yaml:"proxyLimit"`
	// Sites limits requests per site name.
	Sites map[string]SiteLimits `yaml:"sites"`
	// BlockReport is how often blocked checks are summarised at info
	// level per site and proxy; 0 turns the summary off.
	BlockReport time.Duration `yaml:"blockReport"`
	// BlockedShareWarn: a site with at least this share of blocked checks
	// in a report window gets a warning; in (0, 1].
	BlockedShareWarn Fraction `yaml:"blockedShareWarn"`
	// Dedupe decides when a stock change becomes a ping.
	Dedupe Dedupe `yaml:"dedupe"`
}

// RateLimit is a token bucket: Rate requests per second (fractions
// allowed; 0 = unlimited), Burst at once (0 = 1).
type RateLimit struct {
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
}

// SiteLimits bounds the load on one retailer. Zero values mean unlimited
// (concurrency then bounded by Workers only).
type SiteLimits struct {
	// Concurrency is the most checks of this site in flight.
	Concurrency int `yaml:"concurrency"`
	// Rate is requests per second (fractional allowed); Burst the bucket.
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
}

// Dedupe turns observations into events.
type Dedupe struct {
	// Cooldown is the least time between two pings for the same offer;
	// 0 turns it off. (engine.DedupeOptions reads 0 as its default and a
	// negative value as off: cmd/ maps 0 to -1.)
	Cooldown time.Duration `yaml:"cooldown"`
	// FirstRunSuppression: what is in stock at a target's first check is
	// remembered, not pinged (no burst after a restart or a new target).
	FirstRunSuppression bool `yaml:"firstRunSuppression"`
	// PingAfterBlockedStart: a new target whose checks were all blocked or
	// failing pings what its first successful check finds in stock.
	PingAfterBlockedStart bool `yaml:"pingAfterBlockedStart"`
	// PingOnNewOffer pings a new offer id for a product already in stock.
	PingOnNewOffer bool `yaml:"pingOnNewOffer"`
	// Recheck checks once more, at once, before pinging a restock, and
	// pings only if still in stock: guards against flickering pages.
	Recheck bool `yaml:"recheck"`
}

// Stellar holds what the Stellar bot expects.
type Stellar struct {
	// Sites maps "site" or "site.REGION" to the site name pings carry, as
	// spelled in Stellar's task creator; defaults: walmart.USA → walmart,
	// walmart.CA → walmartca. A target's stellarSite overrides it.
	Sites map[string]string `yaml:"sites"`
}

// Rules returns the ping rules for the Walmart USA/CA names as mapped here
// (walmart.USA, else walmart; walmart.CA, else walmart). Config.Rules adds
// the targets' custom names.
func (s Stellar) Rules() stellar.Rules {
	usa := cmp.Or(lookupSiteKey(s.Sites, "walmart", "USA"), stellar.SiteWalmartUSA)
	ca := cmp.Or(lookupSiteKey(s.Sites, "walmart", "CA"), stellar.SiteWalmartCA)
	sites := []string{usa}
	if ca != usa {
		sites = append(sites, ca)
	}
	return stellar.Rules{OfferIDSites: sites}
}

// Group bundles targets. Its site/region/store/merchant/maxPrice/interval/
// stellarSite are defaults for its targets; its tags are added to theirs.
type Group struct {
	Name        string        `yaml:"name,omitempty"`
	Tags        []string      `yaml:"tags,omitempty"`
	Site        string        `yaml:"site,omitempty"`
	Region      string        `yaml:"region,omitempty"`
	Store       string        `yaml:"store,omitempty"`
	Merchant    string        `yaml:"merchant,omitempty"`
	MaxPrice    float64       `yaml:"maxPrice,omitempty"`
	Interval    time.Duration `yaml:"interval,omitempty"`
	StellarSite string        `yaml:"stellarSite,omitempty"`
	// Feed routes the group's restocks into that feed instead of
	// engine.feed (a cook group's private feed).
	Feed    string   `yaml:"feed,omitempty"`
	Targets []Target `yaml:"targets,omitempty"`
}

// Target is one configured watch, as written in YAML.
type Target struct {
	// Site is a registered monitor name: amazon, walmart, shopify.
	Site string `yaml:"site,omitempty"`
	// Region: Amazon USA…AU, Walmart USA or CA; none for Shopify.
	Region string `yaml:"region,omitempty"`
	// SKU: the ASIN or the Walmart item id.
	SKU string `yaml:"sku,omitempty"`
	// Store, Handle, Keywords: Shopify only (handle OR keywords).
	Store    string   `yaml:"store,omitempty"`
	Handle   string   `yaml:"handle,omitempty"`
	Keywords Keywords `yaml:"keywords,omitempty"`
	// Merchant: "" / "any", the retailer ("amazon", "walmart") or a seller id.
	Merchant string `yaml:"merchant,omitempty"`
	// MaxPrice drops offers above it; 0 means no cap.
	MaxPrice float64 `yaml:"maxPrice,omitempty"`
	// Interval overrides the group's and engine's interval.
	Interval    time.Duration `yaml:"interval,omitempty"`
	StellarSite string        `yaml:"stellarSite,omitempty"`
	Tags        []string      `yaml:"tags,omitempty"`
	// Condition lists the offer conditions that may ping (new, used,
	// renewed, any); empty means new only. Fulfillment (Walmart): shipping
	// (default), pickup or any. Both are checked by the site's monitor.
	Condition   []string `yaml:"condition,omitempty"`
	Fulfillment string   `yaml:"fulfillment,omitempty"`
}

// Keywords are keyword groups: AND inside a group, OR across groups. In
// YAML each group is a list ([nike, dunk]) or a string split on spaces
// ("nike dunk"). Keywords are lower-cased.
type Keywords [][]string

// Outputs lists where events go besides Stellar clients.
type Outputs struct {
	Discord []Discord `yaml:"discord"`
}

// Discord is one webhook and what it wants to hear about. Its fields match
// discord.Webhook one to one, so cmd/ converts with discord.Webhook(d).
type Discord struct {
	// URL is the webhook URL (https://discord.com/api/webhooks/ID/TOKEN).
	URL string `yaml:"url"`
	// Name labels the webhook in logs (default "webhook ID": the token in
	// the URL is a secret and never logged).
	Name string `yaml:"name,omitempty"`
	// Sites, Regions, Groups, Tags filter events; empty means all. An event
	// passes when it matches every non-empty filter (any tag matches).
	Sites   []string `yaml:"sites,omitempty"`
	Regions []string `yaml:"regions,omitempty"`
	Groups  []string `yaml:"groups,omitempty"`
	Tags    []string `yaml:"tags,omitempty"`
	// SoldOut also posts in-stock → out-of-stock changes.
	SoldOut bool `yaml:"soldOut,omitempty"`
	// Username and AvatarURL override the webhook's own.
	Username  string `yaml:"username,omitempty"`
	AvatarURL string `yaml:"avatarURL,omitempty"`
	// Content is sent as the message text, e.g. a role mention "<@&123>".
	Content string `yaml:"content,omitempty"`
}

// Default returns the configuration used when no file is given: servers on
// :8080/:8081, data in ./data, no targets and no outputs.
func Default() *Config {
	c := &Config{
		File: "(default)",
		Server: Server{
			WS:        ":8080",
			API:       ":8081",
			Data:      "./data",
			LogFormat: "text",
			LogLevel:  "info",
		},
		Broadcast: Broadcast{
			// 20,000 fds per process: leave ~500 for listeners, the store,
			// outbound HTTP and proxies.
			MaxConns:         19500,
			MaxBacklog:       1 * MiB,
			WriteTimeout:     10 * time.Second,
			HandshakeTimeout: 5 * time.Second,
			PingInterval:     30 * time.Second,
			// Unfinished handshakes cost a small buffer each, and share
			// the fd budget with MaxConns.
			MaxHandshakes:      4096,
			MaxHandshakesPerIP: 256,
		},
		Engine: Engine{
			Workers:          64,
			Interval:         5 * time.Second,
			Jitter:           0,
			Timeout:          10 * time.Second,
			MaxBackoff:       16,
			MaxBody:          8 * MiB,
			ProxyCooldown:    2 * time.Minute,
			BlockReport:      time.Minute,
			BlockedShareWarn: 0.5,
			Sites: map[string]SiteLimits{
				"amazon":  {Concurrency: 8, Rate: 4, Burst: 8},
				"walmart": {Concurrency: 4, Rate: 2, Burst: 4},
				"shopify": {Concurrency: 8, Rate: 4, Burst: 8},
			},
			Dedupe: Dedupe{
				Cooldown:            10 * time.Minute,
				FirstRunSuppression: true,
				PingOnNewOffer:      true,
				Recheck:             false,
			},
		},
		Stellar: Stellar{Sites: map[string]string{
			"walmart.USA": stellar.SiteWalmartUSA,
			"walmart.CA":  stellar.SiteWalmartCA,
		}},
	}
	return c
}

// YAML returns the effective configuration (defaults filled in) as YAML,
// for `config check` output. Proxies read from proxyFile are inlined and
// proxyFile is dropped, so the output parses to the same config.
func (c *Config) YAML() ([]byte, error) {
	cp := *c
	cp.Engine.ProxyFile = ""
	out, err := yaml.MarshalWithOptions(&cp, yaml.IndentSequence(true))
	if err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return out, nil
}
