package config

import (
	"cmp"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stellarfeed/stellarfeed/engine/fetch"
	"github.com/stellarfeed/stellarfeed/internal/textutil"
	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// minInterval keeps a typo ("5ms" for "5s") from hammering a retailer.
const minInterval = 100 * time.Millisecond

// validator applies the semantic rules after decoding, reporting each
// problem at the line and column of the value at fault.
type validator struct {
	cfg    *Config
	d      *decoder
	is     *issues
	dir    string
	lookup func(site string) (monitors.Monitor, error)
	names  func() []string
	sites  map[string]siteResult
	// reported counts calls to errf, including ones dropped as repeats.
	reported int
}

type siteResult struct {
	m   monitors.Monitor
	err error
}

// at finds where path (or its nearest configured parent) sits.
func (v *validator) at(path string) Pos {
	for p := path; ; p = parentPath(p) {
		if pos, ok := v.d.pos[p]; ok {
			return pos
		}
		if p == "" {
			return Pos{1, 1}
		}
	}
}

func (v *validator) keyAt(path string) Pos {
	if pos, ok := v.d.keyPos[path]; ok {
		return pos
	}
	return v.at(path)
}

func parentPath(p string) string {
	switch {
	case strings.HasSuffix(p, `"]`):
		if i := strings.LastIndex(p, `["`); i >= 0 {
			return p[:i]
		}
	case strings.HasSuffix(p, "]"):
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// skip reports whether path or a parent failed to decode.
func (v *validator) skip(path string) bool {
	for p := path; ; p = parentPath(p) {
		if v.is.bad[p] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

func (v *validator) errf(path, format string, args ...any) {
	v.errAt(v.at(path), path, format, args...)
}

func (v *validator) keyErrf(path, format string, args ...any) {
	v.errAt(v.keyAt(path), path, format, args...)
}

func (v *validator) errAt(p Pos, path, format string, args ...any) {
	if v.skip(path) {
		return
	}
	v.reported++
	v.is.add(v.d.file, p, path, format, args...)
}

// written reports whether the file set this map key (defaults are not
// checked against the monitor registry: a build without a site must still
// load a file that never mentions it).
func (v *validator) written(path string) bool {
	_, ok := v.d.keyPos[path]
	return ok
}

func (v *validator) site(name string) siteResult {
	if r, ok := v.sites[name]; ok {
		return r
	}
	m, err := v.lookup(name)
	if err == nil && m == nil {
		err = fmt.Errorf("unknown site %q", name)
	}
	r := siteResult{m: m, err: err}
	v.sites[name] = r
	return r
}

func (v *validator) run() {
	c := v.cfg
	v.server(&c.Server)
	v.broadcast(&c.Broadcast)
	v.engine(&c.Engine)
	v.dropShadowedDefaults(c.Stellar.Sites, "stellar.sites")
	for key, name := range c.Stellar.Sites {
		p := mapPath("stellar.sites", key)
		v.siteKey(p, key)
		if err := monitors.CheckStellarSite(name); err != nil {
			v.errf(p, "%s", err.Msg)
		}
	}
	v.amazon(&c.Amazon)
	for key, raw := range c.BaseURLs {
		p := mapPath("baseURLs", key)
		v.siteKey(p, key)
		if o, err := normalizeBaseURL(raw); err != nil {
			v.errf(p, "%v", err)
		} else {
			c.BaseURLs[key] = o
		}
	}
	for i, r := range c.Cluster.Roles {
		if r != "broadcast" && r != "engine" && r != "ingest" {
			v.errf(fmt.Sprintf("cluster.roles[%d]", i), "%q is not one of broadcast, engine, ingest", r)
		}
	}
	if len(c.Cluster.Roles) > 0 && c.Cluster.NATS == "" {
		v.errf("cluster.roles", "needs cluster.nats")
	}
	v.notNegative("cluster.claimWindow", c.Cluster.ClaimWindow)
	v.groups()
	v.targets()
	for i := range c.Outputs.Discord {
		v.discord(fmt.Sprintf("outputs.discord[%d]", i), &c.Outputs.Discord[i])
	}
}

func (v *validator) server(s *Server) {
	if s.WS == "" {
		v.errf("server.ws", "required: the WebSocket listen address, e.g. \":8080\"")
	} else if msg := listenProblem(s.WS); msg != "" {
		v.errf("server.ws", "%s", msg)
	}
	if s.API != "" {
		if msg := listenProblem(s.API); msg != "" {
			v.errf("server.api", "%s", msg)
		}
	}
	if strings.TrimSpace(s.Data) == "" {
		v.errf("server.data", "required: the data directory")
	}
	if s.LogFormat != "text" && s.LogFormat != "json" {
		v.errf("server.logFormat", "%q is not one of text, json", textutil.Short(s.LogFormat))
	}
	switch s.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		v.errf("server.logLevel", "%q is not one of debug, info, warn, error", textutil.Short(s.LogLevel))
	}
	v.trustedProxies(s)
}

func listenProblem(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n < 0 || n > 65535 || strings.ContainsAny(host, " /") {
		return fmt.Sprintf("%q is not a listen address such as \":8080\" or \"127.0.0.1:8080\"", textutil.Short(addr))
	}
	return ""
}

func (v *validator) broadcast(b *Broadcast) {
	if b.MaxConns < 1 {
		v.errf("broadcast.maxConns", "must be at least 1, got %d", b.MaxConns)
	}
	if b.MaxBacklog < 1*KiB {
		v.errf("broadcast.maxBacklog", "must be at least 1KiB, got %s", b.MaxBacklog)
	}
	v.positive("broadcast.writeTimeout", b.WriteTimeout)
	v.positive("broadcast.handshakeTimeout", b.HandshakeTimeout)
	v.notNegative("broadcast.pingInterval", b.PingInterval)
	if b.ConnRatePerIP < 0 {
		v.errf("broadcast.connRatePerIP", "must not be negative, got %v", b.ConnRatePerIP)
	}
	if b.ConnBurstPerIP < 0 {
		v.errf("broadcast.connBurstPerIP", "must not be negative, got %d", b.ConnBurstPerIP)
	}
	if b.MaxHandshakes < 1 {
		v.errf("broadcast.maxHandshakes", "must be at least 1, got %d", b.MaxHandshakes)
	}
	if b.MaxHandshakesPerIP < 0 {
		v.errf("broadcast.maxHandshakesPerIP", "must not be negative (0 turns it off), got %d", b.MaxHandshakesPerIP)
	}
	if b.ProxyProtocol && len(v.cfg.Server.TrustedProxies) == 0 {
		v.errf("broadcast.proxyProtocol", "needs server.trustedProxies: the load balancers allowed to send PROXY headers")
	}
}

func (v *validator) positive(path string, d time.Duration) {
	if d <= 0 {
		v.errf(path, "must be positive, got %s", d)
	}
}

func (v *validator) notNegative(path string, d time.Duration) {
	if d < 0 {
		v.errf(path, "must not be negative, got %s", d)
	}
}

func (v *validator) interval(path string, d time.Duration) {
	if d < minInterval {
		v.errf(path, "must be at least %s, got %s", minInterval, d)
	}
}

func (v *validator) engine(e *Engine) {
	if e.Workers < 1 || e.Workers > 10000 {
		v.errf("engine.workers", "must be 1-10000, got %d", e.Workers)
	}
	v.interval("engine.interval", e.Interval)
	if e.Jitter < 0 || e.Jitter >= 1 {
		v.errf("engine.jitter", "must be a fraction in [0, 1) such as 0.1 or 10%%, got %g", float64(e.Jitter))
	}
	v.positive("engine.timeout", e.Timeout)
	if e.MaxBackoff < 1 {
		v.errf("engine.maxBackoff", "must be at least 1, got %d", e.MaxBackoff)
	}
	if e.MaxBody < 64*KiB {
		v.errf("engine.maxBody", "must be at least 64KiB, got %s", e.MaxBody)
	}
	if e.Seed < 0 {
		v.errf("engine.seed", "must not be negative, got %d", e.Seed)
	}
	v.notNegative("engine.proxyCooldown", e.ProxyCooldown)
	v.rate("engine.proxyLimit", e.ProxyLimit.Rate, e.ProxyLimit.Burst)
	for i, ua := range e.UserAgents {
		if strings.TrimSpace(ua) == "" || textutil.HasControl(ua) {
			v.errf(fmt.Sprintf("engine.userAgents[%d]", i), "must be a non-empty single line")
		}
	}
	if _, err := fetch.ParseClient(e.Client); err != nil {
		v.errf("engine.client", "%v", err)
	}
	var proxies []string
	for i, raw := range e.Proxies {
		p, err := ParseProxy(raw)
		if err != nil {
			v.errf(fmt.Sprintf("engine.proxies[%d]", i), "%v", err)
			continue
		}
		proxies = append(proxies, p)
	}
	if e.ProxyFile != "" {
		proxies = append(proxies, v.proxyFile(e.ProxyFile)...)
	}
	e.Proxies = proxies
	for name, l := range e.Sites {
		p := mapPath("engine.sites", name)
		if r := v.site(name); r.err != nil && v.written(p) {
			v.keyErrf(p, "%v", r.err)
			continue // its limits are all zero: no point listing them
		}
		if l.Concurrency < 0 {
			v.errf(p+".concurrency", "must not be negative (0 = unlimited), got %d", l.Concurrency)
		}
		v.rate(p, l.Rate, l.Burst)
	}
	v.notNegative("engine.dedupe.cooldown", e.Dedupe.Cooldown)
	v.notNegative("engine.blockReport", e.BlockReport)
	if e.BlockedShareWarn <= 0 || e.BlockedShareWarn > 1 {
		v.errf("engine.blockedShareWarn", "must be a fraction in (0, 1] such as 0.5 or 50%%, got %g", float64(e.BlockedShareWarn))
	}
}

func (v *validator) rate(path string, rate float64, burst int) {
	if rate < 0 {
		v.errf(path+".rate", "must not be negative (requests per second; 0 = unlimited), got %g", rate)
	}
	if burst < 0 {
		v.errf(path+".burst", "must not be negative, got %d", burst)
	}
}

func (v *validator) proxyFile(name string) []string {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(v.dir, path)
	}
	data, err := readSmallFile(path, maxProxyFile)
	if err != nil {
		v.errf("engine.proxyFile", "%v", err)
		return nil
	}
	proxies, lineErrs := parseProxyFile(data)
	lines := make([]int, 0, len(lineErrs))
	for l := range lineErrs {
		lines = append(lines, l)
	}
	slices.Sort(lines)
	for _, l := range lines {
		// Reported in the proxy file itself, where the fix goes.
		v.reported++
		v.is.add(path, Pos{l, 1}, "engine.proxyFile", "%v", lineErrs[l])
	}
	if len(proxies) == 0 && len(lineErrs) == 0 {
		v.errf("engine.proxyFile", "%s lists no proxies", name)
	}
	return proxies
}

// maxProxyFile is far more than any proxy list (100k proxies ≈ 5 MB).
const maxProxyFile = 16 << 20

// readSmallFile reads a regular file of at most limit bytes: a config
// naming /dev/zero or a huge log must fail, not hang or exhaust memory.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is larger than %d MiB", path, limit>>20)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d MiB", path, limit>>20)
	}
	return data, nil
}

// siteKey checks a "site" or "site.REGION" map key against the registry:
// the site must exist and the region be one its monitor names.
func (v *validator) siteKey(path, key string) {
	if !v.written(path) {
		return // a built-in default, not the file's doing
	}
	site, region, hasRegion := strings.Cut(key, ".")
	r := v.site(site)
	if r.err != nil {
		v.keyErrf(path, "%v", r.err)
		return
	}
	if !hasRegion {
		return
	}
	regions := regionsOf(r.m)
	switch {
	case len(regions) == 0:
		v.keyErrf(path, "site %s has no regions", site)
	case !slices.Contains(regions, region):
		v.keyErrf(path, "%q is not one of %s", textutil.Short(region), strings.Join(regions, ", "))
	}
}

func regionsOf(m monitors.Monitor) []string {
	if r, ok := m.(monitors.Regioner); ok {
		return r.Regions()
	}
	return nil
}

// dropShadowedDefaults removes the built-in "site.REGION" entries of m that
// a less specific key written in the file ("site") covers: the file's
// `walmart: X` must win over the default `walmart.USA: walmart`.
func (v *validator) dropShadowedDefaults(m map[string]string, path string) {
	for key := range m {
		site, _, hasRegion := strings.Cut(key, ".")
		if hasRegion && !v.written(mapPath(path, key)) && v.written(mapPath(path, site)) {
			delete(m, key)
		}
	}
}

// sellerIDsSetter is the Amazon monitor's hook for seller-id overrides.
type sellerIDsSetter interface {
	WithSellerIDs(ids map[string][]string) (monitors.Monitor, error)
}

// amazon checks the seller-id overrides with the Amazon monitor itself.
func (v *validator) amazon(a *Amazon) {
	if len(a.SellerIDs) == 0 {
		return
	}
	r := v.site("amazon")
	if r.err != nil {
		v.keyErrf("amazon", "%v", r.err)
		return
	}
	set, ok := r.m.(sellerIDsSetter)
	if !ok {
		v.keyErrf("amazon.sellerIds", "the amazon monitor of this build takes no seller ids")
		return
	}
	for code, ids := range a.SellerIDs {
		p := mapPath("amazon.sellerIds", code)
		if _, err := set.WithSellerIDs(map[string][]string{code: ids}); err != nil {
			v.errf(p, "%v", err)
		}
	}
}

func (v *validator) groups() {
	seen := map[string]string{}
	for i, g := range v.cfg.Groups {
		p := fmt.Sprintf("groups[%d]", i)
		switch name := strings.TrimSpace(g.Name); {
		case name == "":
			v.errf(p+".name", "required")
		case seen[name] != "":
			v.errf(p+".name", "%q is also the name of %s (line %d)", textutil.Short(name), seen[name], v.at(seen[name]+".name").Line)
		default:
			seen[name] = p
		}
		v.tags(p+".tags", g.Tags)
		v.feedName(p+".feed", g.Feed)
	}
	v.feedName("engine.feed", v.cfg.Engine.Feed)
	for i, o := range v.cfg.Server.CORSOrigins {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") || strings.HasSuffix(o, "/") {
			v.errf(fmt.Sprintf("server.corsOrigins[%d]", i), "%q must be \"*\" or an origin such as https://dash.example.com (no path)", textutil.Short(o))
		}
	}
}

// feedName checks a feed name as the key store spells them; whether the
// feed exists is checked by the server, which holds the feeds.
func (v *validator) feedName(path, name string) {
	if name == "" {
		return
	}
	ok := len(name) <= 64
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok = ok && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_')
	}
	if !ok {
		v.errf(path, "%q must be 1-64 lower-case letters, digits, '-' or '_' (a feed name)", textutil.Short(name))
	}
}

func (v *validator) tags(path string, tags []string) {
	for i, t := range tags {
		if strings.TrimSpace(t) == "" || textutil.HasControl(t) {
			v.errf(fmt.Sprintf("%s[%d]", path, i), "must be a non-empty single line")
		}
	}
}

func (v *validator) targets() {
	first := map[string]string{}
	var valid []flatTarget
	for _, f := range v.cfg.flatten() {
		before := v.reported
		v.target(&f)
		if v.reported != before {
			continue
		}
		s := &f.spec
		if prev, dup := first[s.Key()]; dup {
			v.errf(s.Path, "same target as %s on line %d (%s)", prev, v.at(prev).Line, s.Describe())
			continue
		}
		first[s.Key()] = s.Path
		valid = append(valid, f)
	}
	v.pingShapes(valid)
}

// target applies the rules every target shares, then asks its site's
// monitor (monitors.Validate) and places each problem at its field.
func (v *validator) target(f *flatTarget) {
	s, o := &f.spec, f.origin
	v.tags(s.Path+".tags", s.Tags)
	if s.Site == "" {
		v.errf(s.Path+".site", "required (a monitor name such as amazon, walmart, shopify)")
		return
	}
	r := v.site(s.Site)
	if r.err != nil {
		v.errf(o["site"], "%v", r.err)
		return
	}
	if s.Interval < minInterval {
		v.errf(o["interval"], "must be at least %s, got %s", minInterval, s.Interval)
	}
	t := s.Target
	for _, fe := range monitors.FieldErrors(monitors.Validate(r.m, &t)) {
		path, msg := v.fieldPath(f, fe.Path), fe.Msg
		if path == s.Path && fe.Path != "" {
			msg = fe.Path + ": " + msg // a field this config has no key for
		}
		v.errf(path, "%s", msg)
	}
}

// fieldPath maps a monitor's field path ("sku", "keywords[1]", "baseURL")
// to the config path it came from: the target's own key, its group's
// default, or the baseURLs entry; else the target itself.
func (v *validator) fieldPath(f *flatTarget, field string) string {
	if field == "" {
		return f.spec.Path
	}
	name, rest := field, ""
	if i := strings.IndexByte(field, '['); i > 0 {
		name, rest = field[:i], field[i:]
	}
	if name == "baseURL" {
		key := f.spec.Site
		if _, ok := v.cfg.BaseURLs[f.spec.Site+"."+f.spec.Region]; ok && f.spec.Region != "" {
			key += "." + f.spec.Region
		}
		return mapPath("baseURLs", key)
	}
	if o, ok := f.origin[name]; ok {
		return o + rest
	}
	return f.spec.Path
}

// pingShapes makes sure every target can produce a ping Stellar accepts:
// the sites whose pings carry an offerId (Walmart's, Amazon's, and any
// custom stellarSite on their targets) are allowed one, and a site name
// used both with and without offerIds, or one whose pings would break
// Stellar's rules, fails here rather than as dropped pings at run time.
func (v *validator) pingShapes(ts []flatTarget) {
	type shape struct {
		site    string
		offerID bool
	}
	shapes := make([]shape, len(ts))
	base := v.cfg.Stellar.Rules().OfferIDSites
	sites := slices.Clone(base)
	for i := range ts {
		ps, ok := v.site(ts[i].spec.Site).m.(monitors.PingShaper)
		if !ok {
			shapes[i] = shape{site: ts[i].spec.StellarSite, offerID: false}
			continue
		}
		site, offerID := ps.PingShape(&ts[i].spec.Target)
		shapes[i] = shape{site, offerID}
		if offerID && site != stellar.SiteAmazon && !slices.Contains(sites, site) {
			sites = append(sites, site)
		}
	}
	rules := stellar.Rules{OfferIDSites: sites}
	for i := range ts {
		s := &ts[i].spec
		if shapes[i].site == "" {
			continue // the monitor decides at check time
		}
		p := stellar.Ping{Site: shapes[i].site, SKU: cmp.Or(s.SKU, "1")}
		if p.Site == stellar.SiteAmazon {
			p.Region = s.Region
		}
		if shapes[i].offerID {
			p.OfferID = "1"
		}
		for _, fe := range stellar.FieldErrors(rules.Validate(&p)) {
			why := fe.Field + ": " + fe.Message
			if fe.Field == "offerId" && !shapes[i].offerID {
				why = "needs an offerId, which " + s.Site + " pings do not carry (another target's pings under this name do)"
			}
			v.errf(ts[i].origin["stellarSite"], "pings as %q would be rejected by Stellar: %s", p.Site, why)
		}
	}
	if len(sites) > len(base) {
		v.cfg.offerIDSites = sites
	}
}

func (v *validator) discord(p string, d *Discord) {
	if d.URL == "" {
		v.errf(p+".url", "required: the webhook URL from Discord's channel settings")
	} else if msg := urlProblem(d.URL); msg != "" {
		v.errf(p+".url", "%s", msg)
	}
	for i, s := range d.Sites {
		if r := v.site(s); r.err != nil {
			v.errf(fmt.Sprintf("%s.sites[%d]", p, i), "%v", r.err)
		}
	}
	all := v.allRegions()
	for i, r := range d.Regions {
		if !slices.Contains(all, r) {
			v.errf(fmt.Sprintf("%s.regions[%d]", p, i), "%q is not one of %s", textutil.Short(r), strings.Join(all, ", "))
		}
	}
	for i, g := range d.Groups {
		if !slices.ContainsFunc(v.cfg.Groups, func(x Group) bool { return x.Name == g }) {
			v.errf(fmt.Sprintf("%s.groups[%d]", p, i), "no group is named %q", textutil.Short(g))
		}
	}
	v.tags(p+".tags", d.Tags)
	if len(d.Name) > 64 || textutil.HasControl(d.Name) {
		v.errf(p+".name", "must be a single line of at most 64 bytes")
	}
	// Discord answers 400 to these: better to hear it at load time.
	switch lower := strings.ToLower(d.Username); {
	case utf8.RuneCountInString(d.Username) > 80:
		v.errf(p+".username", "longer than 80 characters")
	case strings.Contains(lower, "discord") || strings.Contains(lower, "clyde"):
		v.errf(p+".username", "Discord rejects usernames containing \"discord\" or \"clyde\"")
	}
	if d.AvatarURL != "" {
		if msg := urlProblem(d.AvatarURL); msg != "" {
			v.errf(p+".avatarURL", "%s", msg)
		}
	}
	if utf8.RuneCountInString(d.Content) > 2000 {
		v.errf(p+".content", "longer than 2000 characters")
	}
}

// allRegions is every region a registered monitor names, in registry
// order, without repeats.
func (v *validator) allRegions() []string {
	var all []string
	for _, name := range v.names() {
		if r := v.site(name); r.err == nil {
			for _, reg := range regionsOf(r.m) {
				if !slices.Contains(all, reg) {
					all = append(all, reg)
				}
			}
		}
	}
	return all
}

func urlProblem(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(s, " \t\r\n") {
		return fmt.Sprintf("%q is not an absolute http(s) URL", textutil.Short(s))
	}
	return ""
}

// Monitors wraps lookup so that the monitors it returns carry this
// config's per-site options (amazon.sellerIds); nil lookup means
// monitors.New. The engine resolves its sites through it.
func (c *Config) Monitors(lookup func(site string) (monitors.Monitor, error)) func(site string) (monitors.Monitor, error) {
	if lookup == nil {
		lookup = monitors.New
	}
	ids := c.Amazon.SellerIDs
	if len(ids) == 0 {
		return lookup
	}
	return func(site string) (monitors.Monitor, error) {
		m, err := lookup(site)
		if err != nil || site != "amazon" {
			return m, err
		}
		if set, ok := m.(sellerIDsSetter); ok {
			return set.WithSellerIDs(ids)
		}
		return m, nil
	}
}
