package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
	"github.com/stellarfeed/stellarfeed/monitors"
)

// TargetSpec is one thing to watch with everything the engine needs: the
// monitor's Target (group defaults, Stellar site name and base URL
// applied), the poll interval, and the group and tags for output filters.
type TargetSpec struct {
	monitors.Target
	// Interval is the target's, else its group's, else engine.interval.
	Interval time.Duration
	Group    string
	Tags     []string
	// Path and Source say where it was configured: "groups[0].targets[2]"
	// and "monitors.yaml:14:7" (Source is empty for hand-built configs).
	Path   string
	Source string
}

// Key identifies what a target watches, for duplicate detection and for
// the engine's reload diff: filters (merchant, maxPrice) and the interval
// are not part of it.
func (t *TargetSpec) Key() string {
	kw := make([]string, len(t.Keywords))
	for i, g := range t.Keywords {
		kw[i] = strings.Join(g, "+")
	}
	return strings.Join([]string{t.Site, t.Region, t.SKU, t.Store, t.Handle, strings.Join(kw, "|")}, "\x00")
}

// Describe names the target for messages: "amazon DE B0CHX1W1XY".
func (t *TargetSpec) Describe() string {
	parts := []string{t.Site}
	for _, p := range []string{t.Region, t.SKU, t.Store, t.Handle} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(t.Keywords) > 0 {
		kw := make([]string, len(t.Keywords))
		for i, g := range t.Keywords {
			kw[i] = strings.Join(g, " ")
		}
		parts = append(parts, "keywords "+strings.Join(kw, " | "))
	}
	return strings.Join(parts, " ")
}

// Targets flattens groups and top-level targets, in file order (groups
// first), with group defaults applied.
func (c *Config) Targets() []TargetSpec {
	flat := c.flatten()
	out := make([]TargetSpec, len(flat))
	for i, f := range flat {
		out[i] = f.spec
	}
	return out
}

// flatTarget is a spec plus, for each field, the path it came from (the
// target's own key or its group's default), so problems point there.
type flatTarget struct {
	spec   TargetSpec
	origin map[string]string
}

func (c *Config) flatten() []flatTarget {
	var out []flatTarget
	for gi := range c.Groups {
		g := &c.Groups[gi]
		for ti := range g.Targets {
			out = append(out, c.flat(&g.Targets[ti], g, fmt.Sprintf("groups[%d].targets[%d]", gi, ti), fmt.Sprintf("groups[%d]", gi)))
		}
	}
	for ti := range c.Ungrouped {
		out = append(out, c.flat(&c.Ungrouped[ti], nil, fmt.Sprintf("targets[%d]", ti), ""))
	}
	return out
}

func (c *Config) flat(t *Target, g *Group, path, gpath string) flatTarget {
	origin := map[string]string{}
	pick := func(field, own, def string) string {
		if own != "" || g == nil || def == "" {
			origin[field] = path + "." + field
			return own
		}
		origin[field] = gpath + "." + field
		return def
	}
	s := TargetSpec{Path: path}
	s.Site = pick("site", t.Site, groupField(g, func(g *Group) string { return g.Site }))
	s.Region = pick("region", t.Region, groupField(g, func(g *Group) string { return g.Region }))
	s.SKU = t.SKU
	origin["sku"] = path + ".sku"
	s.Store = pick("store", t.Store, groupField(g, func(g *Group) string { return g.Store }))
	if o, err := normalizeOrigin(s.Store); err == nil {
		s.Store = o
	}
	s.Handle = t.Handle
	origin["handle"] = path + ".handle"
	s.Keywords = slices.Clone(t.Keywords)
	origin["keywords"] = path + ".keywords"
	s.Merchant = pick("merchant", t.Merchant, groupField(g, func(g *Group) string { return g.Merchant }))
	s.Conditions, origin["condition"] = slices.Clone(t.Condition), path+".condition"
	s.Fulfillment, origin["fulfillment"] = t.Fulfillment, path+".fulfillment"
	s.StellarSite = pick("stellarSite", t.StellarSite, groupField(g, func(g *Group) string { return g.StellarSite }))

	s.MaxPrice, origin["maxPrice"] = t.MaxPrice, path+".maxPrice"
	if t.MaxPrice == 0 && g != nil && g.MaxPrice != 0 {
		s.MaxPrice, origin["maxPrice"] = g.MaxPrice, gpath+".maxPrice"
	}
	s.Interval, origin["interval"] = t.Interval, path+".interval"
	if t.Interval == 0 && g != nil && g.Interval != 0 {
		s.Interval, origin["interval"] = g.Interval, gpath+".interval"
	}
	if s.Interval == 0 {
		s.Interval, origin["interval"] = c.Engine.Interval, "engine.interval"
	}

	if s.StellarSite == "" {
		s.StellarSite = lookupSiteKey(c.Stellar.Sites, s.Site, s.Region)
	}
	s.BaseURL = lookupSiteKey(c.BaseURLs, s.Site, s.Region)
	if g != nil {
		s.Group = g.Name
		s.Tags = append(s.Tags, g.Tags...)
	}
	for _, tag := range t.Tags {
		if !slices.Contains(s.Tags, tag) {
			s.Tags = append(s.Tags, tag)
		}
	}
	if p, ok := c.pos[path]; ok {
		s.Source = fmt.Sprintf("%s:%d:%d", c.File, p.Line, p.Col)
	}
	return flatTarget{spec: s, origin: origin}
}

func groupField(g *Group, f func(*Group) string) string {
	if g == nil {
		return ""
	}
	return f(g)
}

// lookupSiteKey finds "site.REGION", else "site".
func lookupSiteKey(m map[string]string, site, region string) string {
	if region != "" {
		if v, ok := m[site+"."+region]; ok {
			return v
		}
	}
	return m[site]
}

// normalizeOrigin checks an http(s) origin and returns it as
// scheme://host[:port], lower-cased, without a trailing slash.
func normalizeOrigin(s string) (string, error) {
	return normalizeURL(s, false)
}

// normalizeBaseURL is normalizeOrigin that also keeps a path prefix: the
// simulator serves each retailer under one ("http://127.0.0.1:8089/www.amazon.de").
func normalizeBaseURL(s string) (string, error) {
	return normalizeURL(s, true)
}

func normalizeURL(s string, allowPath bool) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(s, " \t\r\n") {
		return "", fmt.Errorf("%q is not an absolute http(s) URL such as https://shop.example.com", textutil.Short(s))
	}
	if allowPath {
		if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return "", fmt.Errorf("%q must be scheme://host[:port][/path] without query, fragment or credentials", textutil.Short(s))
		}
		return strings.ToLower(u.Scheme+"://"+u.Host) + strings.TrimRight(u.EscapedPath(), "/"), nil
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q must be an origin (scheme://host[:port]) without path, query or credentials", textutil.Short(s))
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}
