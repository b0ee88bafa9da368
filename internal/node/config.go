package node

import (
	"time"

	"github.com/stellarfeed/stellarfeed/broadcast"
	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/engine/fetch"
	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/cluster"
	"github.com/stellarfeed/stellarfeed/internal/config"
	"github.com/stellarfeed/stellarfeed/internal/discord"
)

// FromConfig maps a parsed config file onto a node Config. Flags applied
// by cmd/ afterwards override what it sets.
func FromConfig(c *config.Config) Config {
	e := c.Engine
	opts := engine.Options{
		Workers:             e.Workers,
		DefaultInterval:     e.Interval,
		Jitter:              float64(e.Jitter),
		Timeout:             e.Timeout,
		MaxBackoff:          e.MaxBackoff,
		MaxBodyBytes:        int(e.MaxBody),
		Seed:                uint64(e.Seed),
		UserAgents:          e.UserAgents,
		Client:              fetch.Client(e.Client),
		Proxies:             e.Proxies,
		ProxyCooldown:       e.ProxyCooldown,
		ProxyLimit:          engine.Limit{RatePerSec: e.ProxyLimit.Rate, Burst: e.ProxyLimit.Burst},
		BlockReportInterval: e.BlockReport,
		BlockedShareWarn:    float64(e.BlockedShareWarn),
		Dedupe: engine.DedupeOptions{
			Cooldown:              e.Dedupe.Cooldown,
			FirstRunSuppression:   engine.Bool(e.Dedupe.FirstRunSuppression),
			PingOnNewOffer:        engine.Bool(e.Dedupe.PingOnNewOffer),
			Recheck:               e.Dedupe.Recheck,
			PingAfterBlockedStart: e.Dedupe.PingAfterBlockedStart,
		},
		Rules: c.Rules(),
	}
	// The file's 0 means "no cooldown"; the engine reads 0 as its default
	// and a negative value as off.
	if opts.Dedupe.Cooldown == 0 {
		opts.Dedupe.Cooldown = -1
	}
	if opts.BlockReportInterval == 0 {
		opts.BlockReportInterval = -1 // the file's 0 turns the summary off
	}
	if len(e.Sites) > 0 {
		opts.SiteLimits = make(map[string]engine.SiteLimit, len(e.Sites))
		for site, l := range e.Sites {
			opts.SiteLimits[site] = engine.SiteLimit{Concurrency: l.Concurrency, RatePerSec: l.Rate, Burst: l.Burst}
		}
	}
	var hooks []discord.Webhook
	for _, d := range c.Outputs.Discord {
		hooks = append(hooks, discord.Webhook(d))
	}
	b := c.Broadcast
	cc := cluster.Config{
		NATS:           c.Cluster.NATS,
		EmbeddedListen: c.Cluster.EmbeddedListen,
		NodeID:         c.Cluster.NodeID,
		ClaimWindow:    c.Cluster.ClaimWindow,
	}
	for _, r := range c.Cluster.Roles {
		cc.Roles = append(cc.Roles, cluster.Role(r))
	}
	out := Config{
		Cluster:   cc,
		ReusePort: c.Cluster.ReusePort,
		DataDir:   c.Server.Data,
		WSAddr:    c.Server.WS,
		APIAddr:   c.Server.API,
		Broadcast: broadcast.Config{
			MaxConns:         b.MaxConns,
			MaxBacklogBytes:  int(b.MaxBacklog),
			WriteTimeout:     b.WriteTimeout,
			HandshakeTimeout: b.HandshakeTimeout,
			PingInterval:     pingInterval(b.PingInterval),
			ConnRatePerIP:    b.ConnRatePerIP,
			ConnBurstPerIP:   b.ConnBurstPerIP,
		},
		Rules:      opts.Rules,
		Engine:     opts,
		Targets:    Targets(c),
		Monitors:   c.Monitors(nil),
		Discord:    discord.Config{Webhooks: hooks},
		EngineFeed: c.Engine.Feed,
		GroupFeeds: groupFeeds(c),
		API:        api.Config{CORSOrigins: c.Server.CORSOrigins, TrustedProxies: trustedProxies(c.Server)},
	}
	handshakeConfig(c, &out.Broadcast)
	return out
}

// groupFeeds maps group names to the feeds their restocks go to.
func groupFeeds(c *config.Config) map[string]string {
	var m map[string]string
	for _, g := range c.Groups {
		if g.Feed != "" {
			if m == nil {
				m = map[string]string{}
			}
			m[g.Name] = g.Feed
		}
	}
	return m
}

// trustedProxies reads server.trustedProxies, which Load has validated.
func trustedProxies(s config.Server) api.Proxies {
	p, err := config.ParseTrustedProxies(s.TrustedProxies)
	if err != nil {
		panic("node: server.trustedProxies passed validation but does not parse: " + err.Error())
	}
	return p
}

// pingInterval maps the file's "0 disables" onto the broadcaster's
// "negative disables, 0 default".
func pingInterval(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// Targets flattens the config's groups into engine targets.
func Targets(c *config.Config) []engine.Target {
	specs := c.Targets()
	ts := make([]engine.Target, len(specs))
	for i, s := range specs {
		ts[i] = engine.Target{Target: s.Target, Interval: s.Interval, Group: s.Group, Tags: s.Tags}
	}
	return ts
}
