package config

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stellarfeed/stellarfeed/internal/stellar"
	"github.com/stellarfeed/stellarfeed/monitors"
)

// minInterval keeps a typo ("5ms" for "5s") from hammering a retailer.
const minInterval = 100 * time.Millisecond

var walmartRegions = []string{"USA", "CA"}

// validator applies the semantic rules after decoding, reporting each
// problem at the line and column of the value at fault.
type validator struct {
	cfg    *Config
	d      *decoder
	is     *issues
	dir    string
	lookup func(site string) (monitors.Monitor, error)
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
	for key, name := range c.Stellar.Sites {
		p := mapPath("stellar.sites", key)
		v.siteKey(p, key)
		if msg := stellarSiteProblem(name); msg != "" {
			v.errf(p, "%s", msg)
		}
	}
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
		v.errf("server.logFormat", "%q is not one of text, json", short(s.LogFormat))
	}
	switch s.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		v.errf("server.logLevel", "%q is not one of debug, info, warn, error", short(s.LogLevel))
	}
	v.trustedProxies(s.TrustedProxies)
}

// trustedProxies checks each entry is a CIDR or a single address.
func (v *validator) trustedProxies(list []string) {
	for i, p := range list {
		if _, err := ParsePrefix(p); err != nil {
			v.errf(fmt.Sprintf("server.trustedProxies[%d]", i), "%v", err)
		}
	}
}

// ParsePrefix reads a trusted-proxy entry: a CIDR ("10.0.0.0/8",
// "2001:db8::/32") or a single address, taken as a /32 or /128.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("%q is not a CIDR such as \"10.0.0.0/8\" or an address", short(s))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as \"10.0.0.0/8\" or an address", short(s))
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func listenProblem(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n < 0 || n > 65535 || strings.ContainsAny(host, " /") {
		return fmt.Sprintf("%q is not a listen address such as \":8080\" or \"127.0.0.1:8080\"", short(addr))
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
		if strings.TrimSpace(ua) == "" || hasControl(ua) {
			v.errf(fmt.Sprintf("engine.userAgents[%d]", i), "must be a non-empty single line")
		}
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

// siteKey checks a "site" or "site.REGION" map key.
func (v *validator) siteKey(path, key string) {
	if !v.written(path) {
		return // a built-in default, not the file's doing
	}
	site, region, _ := strings.Cut(key, ".")
	if r := v.site(site); r.err != nil {
		v.keyErrf(path, "%v", r.err)
		return
	}
	if region != "" {
		if msg := regionProblem(site, region); msg != "" {
			v.keyErrf(path, "%s", msg)
		}
	}
}

// regionProblem applies the region rules of the built-in sites; other
// sites leave it to their monitor's ValidateTarget.
func regionProblem(site, region string) string {
	switch site {
	case "amazon":
		if region == "" {
			return "required for site amazon (one of " + strings.Join(stellar.Regions(), ", ") + ")"
		}
		if !stellar.IsRegion(region) {
			return fmt.Sprintf("%q is not one of %s", short(region), strings.Join(stellar.Regions(), ", "))
		}
	case "walmart":
		if region == "" {
			return "required for site walmart (USA or CA)"
		}
		if !slices.Contains(walmartRegions, region) {
			return fmt.Sprintf("%q is not one of USA, CA", short(region))
		}
	case "shopify":
		if region != "" {
			return "not used by site shopify"
		}
	}
	return ""
}

func stellarSiteProblem(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if len(s) > 64 {
		return fmt.Sprintf("%q is longer than 64 bytes", short(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Sprintf("%q must be lower-case letters, digits, '.', '_' or '-', as in Stellar's task creator", short(s))
		}
	}
	return ""
}

func (v *validator) groups() {
	seen := map[string]string{}
	for i, g := range v.cfg.Groups {
		p := fmt.Sprintf("groups[%d]", i)
		switch name := strings.TrimSpace(g.Name); {
		case name == "":
			v.errf(p+".name", "required")
		case seen[name] != "":
			v.errf(p+".name", "%q is also the name of %s (line %d)", short(name), seen[name], v.at(seen[name]+".name").Line)
		default:
			seen[name] = p
		}
		v.tags(p+".tags", g.Tags)
	}
}

func (v *validator) tags(path string, tags []string) {
	for i, t := range tags {
		if strings.TrimSpace(t) == "" || hasControl(t) {
			v.errf(fmt.Sprintf("%s[%d]", path, i), "must be a non-empty single line")
		}
	}
}

func (v *validator) targets() {
	first := map[string]string{}
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
		v.monitorCheck(&f)
	}
}

func (v *validator) target(f *flatTarget) {
	s, o := &f.spec, f.origin
	v.tags(s.Path+".tags", s.Tags)
	if s.Site == "" {
		v.errf(s.Path+".site", "required (a monitor name such as amazon, walmart, shopify)")
		return
	}
	if r := v.site(s.Site); r.err != nil {
		v.errf(o["site"], "%v", r.err)
		return
	}
	if msg := regionProblem(s.Site, s.Region); msg != "" {
		v.errf(o["region"], "%s", msg)
	}
	switch s.Site {
	case "amazon", "walmart":
		for field, val := range map[string]string{"store": s.Store, "handle": s.Handle} {
			if val != "" {
				v.errf(o[field], "only for site shopify")
			}
		}
		if len(s.Keywords) > 0 {
			v.errf(o["keywords"], "only for site shopify")
		}
		v.sku(s, o["sku"])
	case "shopify":
		if s.SKU != "" {
			v.errf(o["sku"], "not used by site shopify (use handle or keywords)")
		}
		if s.Store == "" {
			v.errf(s.Path+".store", "required for site shopify (the store's origin, e.g. https://shop.example.com)")
		} else if _, err := normalizeOrigin(s.Store); err != nil {
			v.errf(o["store"], "%v", err)
		}
		switch {
		case s.Handle != "" && len(s.Keywords) > 0:
			v.errf(s.Path, "handle and keywords are exclusive: watch one product (handle) or the catalog (keywords)")
		case s.Handle == "" && len(s.Keywords) == 0:
			v.errf(s.Path, "site shopify needs handle (one product) or keywords (catalog search)")
		case s.Handle != "" && (strings.ContainsAny(s.Handle, " /?#%\t") || hasControl(s.Handle)):
			v.errf(o["handle"], "%q is not a product handle (the part after /products/)", short(s.Handle))
		}
		for i, g := range s.Keywords {
			if len(g) == 0 {
				v.errf(fmt.Sprintf("%s[%d]", o["keywords"], i), "empty keyword group")
			}
		}
	}
	if s.Interval < minInterval {
		v.errf(o["interval"], "must be at least %s, got %s", minInterval, s.Interval)
	}
	if s.MaxPrice < 0 {
		v.errf(o["maxPrice"], "must not be negative (0 means no cap), got %g", s.MaxPrice)
	}
	if len(s.Merchant) > 64 || strings.ContainsAny(s.Merchant, " \t") || hasControl(s.Merchant) {
		v.errf(o["merchant"], "%q is not \"any\", a retailer name or a seller id", short(s.Merchant))
	}
	if s.StellarSite != "" {
		if msg := stellarSiteProblem(s.StellarSite); msg != "" {
			v.errf(o["stellarSite"], "%s", msg)
		}
	}
}

func (v *validator) sku(s *TargetSpec, path string) {
	if s.SKU == "" {
		v.errf(path, "required for site %s", s.Site)
		return
	}
	switch {
	case s.Site == "amazon" && !stellar.IsASIN(s.SKU):
		v.errf(path, "%q is not an ASIN (10 upper-case letters or digits)", short(s.SKU))
	case s.Site == "walmart" && s.Region == "USA" && !allOf(s.SKU, 20, func(c byte) bool { return c >= '0' && c <= '9' }):
		v.errf(path, "%q is not a Walmart USA item id (digits, as in /ip/…/123456789)", short(s.SKU))
	case s.Site == "walmart" && s.Region == "CA" && !allOf(s.SKU, 20, func(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' }):
		v.errf(path, "%q is not a Walmart Canada item id (upper-case letters and digits, e.g. 1SZQHN3LOSE0)", short(s.SKU))
	}
}

func allOf(s string, maxLen int, ok func(byte) bool) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// targetFields maps the lower-cased names a monitor may use in its errors
// ("region: ..." or "Region: ...") to the YAML field.
var targetFields = []string{"site", "region", "sku", "store", "handle", "keywords", "merchant", "maxPrice", "stellarSite", "baseURL"}

// monitorCheck runs the site monitor's own ValidateTarget and places each
// line of its error at the field it names, else at the target.
func (v *validator) monitorCheck(f *flatTarget) {
	tv, ok := v.site(f.spec.Site).m.(monitors.TargetValidator)
	if !ok {
		return
	}
	t := f.spec.Target
	err := tv.ValidateTarget(&t)
	if err == nil {
		return
	}
	for line := range strings.SplitSeq(err.Error(), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		path, msg := f.spec.Path, line
		if name, rest, ok := strings.Cut(line, ": "); ok {
			for _, field := range targetFields {
				if strings.EqualFold(name, field) {
					if o, known := f.origin[field]; known {
						path = o
					} else if field == "baseURL" {
						path = mapPath("baseURLs", f.spec.Site)
					}
					msg = rest
					break
				}
			}
		}
		v.errf(path, "%s", msg)
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
	all := append(stellar.Regions(), walmartRegions...)
	for i, r := range d.Regions {
		if !slices.Contains(all, r) {
			v.errf(fmt.Sprintf("%s.regions[%d]", p, i), "%q is not one of %s", short(r), strings.Join(stellar.Regions(), ", "))
		}
	}
	for i, g := range d.Groups {
		if !slices.ContainsFunc(v.cfg.Groups, func(x Group) bool { return x.Name == g }) {
			v.errf(fmt.Sprintf("%s.groups[%d]", p, i), "no group is named %q", short(g))
		}
	}
	v.tags(p+".tags", d.Tags)
	if len(d.Name) > 64 || hasControl(d.Name) {
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

func urlProblem(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(s, " \t\r\n") {
		return fmt.Sprintf("%q is not an absolute http(s) URL", short(s))
	}
	return ""
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
