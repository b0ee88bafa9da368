package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/monitors"
)

const regionList = "USA, CA, UK, NL, FR, IT, DE, JP, ES, BE, PL, AU"

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{
			name: "bad region",
			src: `targets:
  - {site: amazon, region: DE, sku: B0CHX1W1XY}
  - {site: walmart, region: USA, sku: "5113183757"}
  - {site: amazon, region: FR, sku: B0CHX1W1XZ}
  - {site: amazon, region: US, sku: B0CHX1W1XY}
`,
			want: `m.yaml:5:28: targets[3].region: "US" is not one of ` + regionList,
		},
		{
			name: "unknown key with suggestion",
			src: `targets:
  - site: amazon
    region: DE
    skus: B0CHX1W1XY
`,
			want: "m.yaml:2:5: targets[0].sku: required for site amazon (the product's ASIN, e.g. B0DR8G428S)\n" +
				`m.yaml:4:5: targets[0].skus: unknown field (did you mean "sku"?)`,
		},
		{
			name: "unknown key lists known fields",
			src:  "monitors:\n  ws: :8080\n",
			want: "m.yaml:1:1: monitors: unknown field (known: amazon, baseURLs, broadcast, cluster, engine, groups, outputs, server, stellar, targets)",
		},
		{
			name: "bad durations",
			src:  "engine:\n  interval: 3x\n  proxyCooldown: 5\n  timeout: -1s\n  jitter: 150%\n",
			want: `m.yaml:2:13: engine.interval: "3x" is not a duration (e.g. 500ms, 3s, 1m30s)` + "\n" +
				`m.yaml:3:18: engine.proxyCooldown: "5" has no unit: write e.g. "5s"` + "\n" +
				`m.yaml:4:12: engine.timeout: must be positive, got -1s` + "\n" +
				`m.yaml:5:11: engine.jitter: must be a fraction in [0, 1) such as 0.1 or 10%, got 1.5`,
		},
		{
			name: "bad feed names and CORS origins",
			src:  "server:\n  corsOrigins: [\"https://a.example.com/\", \"*\"]\nengine:\n  feed: US Amazon\ngroups:\n  - {name: g, feed: Cook-Group, targets: [{site: amazon, region: DE, sku: B0CHX1W1XY}]}\n",
			want: `m.yaml:2:17: server.corsOrigins[0]: "https://a.example.com/" must be "*" or an origin such as https://dash.example.com (no path)` + "\n" +
				`m.yaml:4:9: engine.feed: "US Amazon" must be 1-64 lower-case letters, digits, '-' or '_' (a feed name)` + "\n" +
				`m.yaml:6:21: groups[0].feed: "Cook-Group" must be 1-64 lower-case letters, digits, '-' or '_' (a feed name)`,
		},
		{
			name: "unknown client",
			src:  "engine:\n  client: chrome\n",
			want: `m.yaml:2:11: engine.client: "chrome" is not one of browser, fasthttp`,
		},
		{
			name: "interval too small",
			src:  "targets:\n  - {site: amazon, region: DE, sku: B0CHX1W1XY, interval: 5ms}\n",
			want: "m.yaml:2:59: targets[0].interval: must be at least 100ms, got 5ms",
		},
		{
			name: "bad proxies, password never echoed",
			src:  "engine:\n  proxies:\n    - 1.2.3.4\n    - http://u:hunter2@h\n    - h:99999\n    - ftp://h:21\n    - h:80:user:hunter2\n",
			want: `m.yaml:3:7: engine.proxies[0]: "1.2.3.4" is not a proxy (want host:port, host:port:user:pass or scheme://[user:pass@]host:port): missing or malformed port` + "\n" +
				`m.yaml:4:7: engine.proxies[1]: "http://u:xxx@h" is not a proxy URL: missing or malformed port` + "\n" +
				`m.yaml:5:7: engine.proxies[2]: "h:99999" is not a proxy (want host:port, host:port:user:pass or scheme://[user:pass@]host:port): port "99999" is not 1-65535` + "\n" +
				`m.yaml:6:7: engine.proxies[3]: "ftp://h:21": scheme "ftp" is not supported (only http:// proxies)`,
		},
		{
			name: "missing sku and site",
			src:  "targets:\n  - {site: amazon, region: DE}\n  - {region: DE, sku: B0CHX1W1XY}\n  - {site: walmart, region: CA}\n",
			want: "m.yaml:2:5: targets[0].sku: required for site amazon (the product's ASIN, e.g. B0DR8G428S)\n" +
				"m.yaml:3:5: targets[1].site: required (a monitor name such as amazon, walmart, shopify)\n" +
				"m.yaml:4:5: targets[2].sku: required for site walmart (the item id in the product URL)",
		},
		{
			name: "shopify handle and keywords",
			src: `targets:
  - {site: shopify, store: https://shop.example.com, handle: coat, keywords: [[nike]]}
  - {site: shopify, store: https://shop.example.com}
  - {site: shopify, handle: coat, sku: "123"}
  - {site: shopify, store: https://shop.example.com/collections/all, keywords: [[], nike]}
`,
			want: "m.yaml:2:5: targets[0]: handle and keywords are exclusive: watch one product (handle) or the catalog (keywords)\n" +
				"m.yaml:3:5: targets[1]: site shopify needs handle (one product) or keywords (keyword groups over the whole catalog)\n" +
				"m.yaml:4:5: targets[2].store: required for site shopify (the store's origin, e.g. https://shop.example.com)\n" +
				"m.yaml:4:40: targets[2].sku: \"123\" is not used by site shopify (use handle or keywords)\n" +
				`m.yaml:5:28: targets[3].store: "https://shop.example.com/collections/all" must be an origin only (scheme://host), without path, query or credentials` + "\n" +
				"m.yaml:5:81: targets[3].keywords[0]: empty keyword group",
		},
		{
			name: "duplicates name both lines",
			src: `groups:
  - name: de
    site: amazon
    region: DE
    targets:
      - sku: B0CHX1W1XY
targets:
  - {site: amazon, region: DE, sku: B0CHX1W1XY, merchant: amazon}
  - {site: shopify, store: https://Shop.example.com/, keywords: [nike dunk]}
  - {site: shopify, store: https://shop.example.com, keywords: [[NIKE, dunk]]}
`,
			want: "m.yaml:8:5: targets[0]: same target as groups[0].targets[0] on line 6 (amazon DE B0CHX1W1XY)\n" +
				"m.yaml:10:5: targets[2]: same target as targets[1] on line 9 (shopify https://shop.example.com keywords nike dunk)",
		},
		{
			name: "duplicate group names",
			src:  "groups:\n  - {name: a, site: amazon, region: DE, targets: [{sku: B0CHX1W1XY}]}\n  - {name: a}\n  - {tags: [x]}\n",
			want: `m.yaml:3:12: groups[1].name: "a" is also the name of groups[0] (line 2)` + "\n" +
				"m.yaml:4:5: groups[2].name: required",
		},
		{
			name: "syntax error",
			src:  "server:\n  ws: \":8080\"\n  api: [1, 2\n",
			want: "m.yaml:3:8: syntax error: sequence end token ']' not found",
		},
		{
			name: "duplicate key is a syntax error",
			src:  "server:\n  ws: \":8080\"\n  ws: \":9090\"\n",
			want: `m.yaml:3:3: syntax error: mapping key "ws" already defined at [2:3]`,
		},
		{
			name: "type errors",
			src:  "engine:\n  workers: ten\n  userAgents: Mozilla\n  dedupe: {firstRunSuppression: yes}\ntargets:\n  - {site: amazon, region: DE, sku: B0CHX1W1XY, maxPrice: cheap}\n",
			want: `m.yaml:2:12: engine.workers: "ten" is not an integer` + "\n" +
				"m.yaml:3:15: engine.userAgents: expected a list, got a string\n" +
				`m.yaml:4:33: engine.dedupe.firstRunSuppression: "yes" is not a boolean (true or false)` + "\n" +
				`m.yaml:6:59: targets[0].maxPrice: "cheap" is not a number`,
		},
		{
			name: "root must be a mapping",
			src:  "- a\n- b\n",
			want: "m.yaml:1:1: expected a mapping, got a list",
		},
		{
			name: "one document only",
			src:  "server: {ws: ':1'}\n---\nserver: {ws: ':2'}\n",
			want: "m.yaml:3:1: only one YAML document is allowed (found a second after ---)",
		},
		{
			name: "server and broadcast values",
			src:  "server: {ws: localhost, api: ':http', logFormat: xml, logLevel: loud, data: ''}\nbroadcast: {maxBacklog: 1XB, maxConns: 0, pingInterval: -1s}\n",
			want: `m.yaml:1:14: server.ws: "localhost" is not a listen address such as ":8080" or "127.0.0.1:8080"` + "\n" +
				`m.yaml:1:30: server.api: ":http" is not a listen address such as ":8080" or "127.0.0.1:8080"` + "\n" +
				`m.yaml:1:50: server.logFormat: "xml" is not one of text, json` + "\n" +
				`m.yaml:1:65: server.logLevel: "loud" is not one of debug, info, warn, error` + "\n" +
				"m.yaml:1:77: server.data: required: the data directory\n" +
				`m.yaml:2:25: broadcast.maxBacklog: "1XB" is not a size (e.g. 1MiB, 512KiB, 64MB or a number of bytes)` + "\n" +
				"m.yaml:2:40: broadcast.maxConns: must be at least 1, got 0\n" +
				"m.yaml:2:57: broadcast.pingInterval: must not be negative, got -1s",
		},
		{
			name: "trusted proxies",
			src:  "server:\n  trustedProxies: [10.0.0.0/8, '::1', 10.0.0.1/8, nginx, 1.2.3.4/40]\n",
			want: `m.yaml:2:39: server.trustedProxies[2]: "10.0.0.1/8" has host bits set: did you mean "10.0.0.0/8"?` + "\n" +
				`m.yaml:2:51: server.trustedProxies[3]: "nginx" is neither an IP address nor a CIDR prefix such as "10.0.0.0/8"` + "\n" +
				`m.yaml:2:58: server.trustedProxies[4]: "1.2.3.4/40" is not a CIDR prefix such as "10.0.0.0/8" or "::1/128"`,
		},
		{
			name: "handshake caps",
			src:  "broadcast: {maxHandshakes: 0, maxHandshakesPerIP: -1}\n",
			want: "m.yaml:1:28: broadcast.maxHandshakes: must be at least 1, got 0\n" +
				"m.yaml:1:51: broadcast.maxHandshakesPerIP: must not be negative (0 turns it off), got -1",
		},
		{
			name: "proxy protocol without trusted proxies",
			src:  "broadcast:\n  proxyProtocol: true\n",
			want: "m.yaml:2:18: broadcast.proxyProtocol: needs server.trustedProxies: the load balancers allowed to send PROXY headers",
		},
		{
			name: "unknown site everywhere",
			src: `engine:
  sites:
    amazonn: {rate: 0}
    walmart: {rate: -1, burst: -1, concurrency: -1}
  proxyLimit: {rate: -2}
stellar:
  sites: {walmart.UK: Walmart}
baseURLs: {amazon.DE: 'http://x/path?q=1', ebay: 'http://x'}
targets:
  - {site: amazn, region: DE, sku: B0CHX1W1XY}
`,
			want: `m.yaml:3:5: engine.sites.amazonn: unknown site "amazonn" (known: amazon, picky, shopify, walmart)` + "\n" +
				"m.yaml:4:21: engine.sites.walmart.rate: must not be negative (requests per second; 0 = unlimited), got -1\n" +
				"m.yaml:4:32: engine.sites.walmart.burst: must not be negative, got -1\n" +
				"m.yaml:4:49: engine.sites.walmart.concurrency: must not be negative (0 = unlimited), got -1\n" +
				"m.yaml:5:22: engine.proxyLimit.rate: must not be negative (requests per second; 0 = unlimited), got -2\n" +
				`m.yaml:7:11: stellar.sites["walmart.UK"]: "UK" is not one of USA, CA` + "\n" +
				`m.yaml:7:23: stellar.sites["walmart.UK"]: "Walmart" must be lower-case letters, digits, '.', '_' or '-' (at most 64), as in Stellar's task creator` + "\n" +
				`m.yaml:8:23: baseURLs["amazon.DE"]: "http://x/path?q=1" must be scheme://host[:port][/path] without query, fragment or credentials` + "\n" +
				`m.yaml:8:44: baseURLs.ebay: unknown site "ebay" (known: amazon, picky, shopify, walmart)` + "\n" +
				`m.yaml:10:12: targets[0].site: unknown site "amazn" (known: amazon, picky, shopify, walmart)`,
		},
		{
			name: "monitor validator errors placed at the field",
			src:  "targets:\n  - {site: picky, sku: BAD, merchant: nobody}\n  - {site: picky, sku: GOOD}\n  - {site: picky, sku: GOOD, merchant: plain}\n",
			want: "m.yaml:2:5: targets[0]: merchant nobody sells nothing\n" +
				`m.yaml:2:24: targets[0].sku: "BAD" is not stocked by picky` + "\n" +
				"m.yaml:4:5: targets[2]: a plain error lands at the target",
		},
		{
			name: "group default reported once, at the group",
			src: `groups:
  - name: g
    site: amazon
    region: XX
    targets: [{sku: B0CHX1W1XY}, {sku: B0CHX1W1XZ}, {sku: b0chx1w1xq}]
`,
			want: `m.yaml:4:13: groups[0].region: "XX" is not one of ` + regionList + "\n" +
				`m.yaml:5:59: groups[0].targets[2].sku: "b0chx1w1xq" is not an ASIN (10 upper-case letters or digits, e.g. B0DR8G428S)`,
		},
		{
			name: "walmart rules",
			src:  "targets:\n  - {site: walmart, region: USA, sku: 1SZQHN3LOSE0}\n  - {site: walmart, region: CA, sku: 1szq}\n  - {site: walmart, sku: '1', handle: x}\n",
			want: `m.yaml:2:39: targets[0].sku: "1SZQHN3LOSE0" is not a Walmart USA item id (digits, e.g. 5113183757)` + "\n" +
				`m.yaml:3:38: targets[1].sku: "1szq" is not a Walmart Canada item id (12 letters or digits, or 13 digits, e.g. 6000203423051)` + "\n" +
				"m.yaml:4:5: targets[2].region: required for site walmart (USA or CA)\n" +
				"m.yaml:4:39: targets[2].handle: not used by site walmart",
		},
		{
			name: "discord output rules",
			src: `outputs:
  discord:
    - {url: 'not a url', username: DiscordBot, regions: [US], groups: [nope], sites: [foo], avatarURL: /a.png}
    - {sites: [amazon]}
`,
			want: `m.yaml:3:13: outputs.discord[0].url: "not a url" is not an absolute http(s) URL` + "\n" +
				`m.yaml:3:36: outputs.discord[0].username: Discord rejects usernames containing "discord" or "clyde"` + "\n" +
				`m.yaml:3:58: outputs.discord[0].regions[0]: "US" is not one of ` + regionList + "\n" +
				`m.yaml:3:72: outputs.discord[0].groups[0]: no group is named "nope"` + "\n" +
				`m.yaml:3:87: outputs.discord[0].sites[0]: unknown site "foo" (known: amazon, picky, shopify, walmart)` + "\n" +
				`m.yaml:3:104: outputs.discord[0].avatarURL: "/a.png" is not an absolute http(s) URL` + "\n" +
				"m.yaml:4:7: outputs.discord[1].url: required: the webhook URL from Discord's channel settings",
		},
		{
			name: "alias errors point at the aliased value",
			src:  "x-bad: &bad [1, 2]\ntargets: *bad\nserver:\n  ws: *nothing\n",
			want: "m.yaml:1:14: targets[0]: expected a mapping, got a number\n" +
				"m.yaml:1:17: targets[1]: expected a mapping, got a number\n" +
				"m.yaml:4:7: server.ws: alias *nothing names no anchor",
		},
		{
			name: "merge keys and overrides",
			src:  "x-a: &a {site: amazon, region: DE, sku: B0CHX1W1XY}\ntargets:\n  - <<: *a\n  - <<: *a\n    sku: nope\n    region: FR\n",
			want: `m.yaml:5:10: targets[1].sku: "nope" is not an ASIN (10 upper-case letters or digits, e.g. B0DR8G428S)`,
		},
		{
			name: "self alias does not loop",
			src:  "x-a: &a [*a]\ntargets: *a\n",
			want: "m.yaml:1:10: targets[0]: expected a mapping, got a list",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := testLoader.Parse("m.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error; config %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("config returned with an error")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, not *Error: %v", err, err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestParseCapsIssues(t *testing.T) {
	var b strings.Builder
	b.WriteString("targets:\n")
	for range 60 {
		b.WriteString("  - {site: amazon, region: US, sku: B0CHX1W1XY}\n")
	}
	_, err := testLoader.Parse("m.yaml", []byte(b.String()))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *Error, got %v", err)
	}
	// Every target inherits nothing: 60 region errors, capped.
	if len(ce.Issues) != maxIssues || ce.Omitted != 60-maxIssues {
		t.Fatalf("issues %d omitted %d", len(ce.Issues), ce.Omitted)
	}
	if !strings.HasSuffix(err.Error(), "\n(10 more issues not shown)") {
		t.Errorf("no omitted note: %s", err.Error()[len(err.Error())-60:])
	}
}

func TestParseFull(t *testing.T) {
	cfg, err := testLoader.Parse("testdata/full.yaml", readFile(t, "testdata/full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.File = "testdata/full.yaml"
	want.Server = Server{WS: "127.0.0.1:9080", API: "", Data: "/var/lib/stellarfeed", LogFormat: "json", LogLevel: "debug"}
	want.Broadcast = Broadcast{MaxConns: 5000, MaxBacklog: 512 * KiB, WriteTimeout: 5 * time.Second, HandshakeTimeout: 2 * time.Second,
		MaxHandshakes: 4096, MaxHandshakesPerIP: 256}
	want.Engine.Workers = 16
	want.Engine.Interval = 4 * time.Second
	want.Engine.Jitter = 0.15
	want.Engine.Timeout = 8 * time.Second
	want.Engine.MaxBackoff = 8
	want.Engine.MaxBody = 4 * MiB
	want.Engine.Seed = 42
	want.Engine.ProxyLimit = RateLimit{Rate: 0.5, Burst: 2}
	want.Engine.UserAgents = []string{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"}
	want.Engine.Proxies = []string{"http://10.0.0.1:3128", "http://alice:s3cr%3Aet@10.0.0.2:3128", "http://bob:pw@proxy.example.net:8080"}
	want.Engine.ProxyCooldown = 90 * time.Second
	want.Engine.Sites["amazon"] = SiteLimits{Concurrency: 2, Rate: 0.5, Burst: 8} // burst kept from the default
	want.Engine.Sites["shopify"] = SiteLimits{Concurrency: 8, Rate: 4, Burst: 20}
	want.Engine.Dedupe = Dedupe{Cooldown: 15 * time.Minute, Recheck: true}
	want.Stellar.Sites["walmart.CA"] = "walmart-ca"
	want.Stellar.Sites["shopify"] = "shopify"
	want.BaseURLs = map[string]string{"amazon.DE": "http://127.0.0.1:9999", "walmart": "http://127.0.0.1:9998"}

	for name, pair := range map[string][2]any{
		"server":    {cfg.Server, want.Server},
		"broadcast": {cfg.Broadcast, want.Broadcast},
		"engine":    {cfg.Engine, want.Engine},
		"stellar":   {cfg.Stellar, want.Stellar},
		"baseURLs":  {cfg.BaseURLs, want.BaseURLs},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, pair[0], pair[1])
		}
	}
	if r := cfg.Stellar.Rules(); !reflect.DeepEqual(r.OfferIDSites, []string{"walmart", "walmart-ca"}) {
		t.Errorf("rules: %v", r.OfferIDSites)
	}

	wantTargets := []TargetSpec{
		{Target: monitors.Target{Site: "amazon", Region: "DE", SKU: "B0CHX1W1XY", Merchant: "amazon", MaxPrice: 699.99, BaseURL: "http://127.0.0.1:9999"},
			Interval: 3 * time.Second, Group: "cook-group-a", Tags: []string{"consoles", "eu"}, Path: "groups[0].targets[0]", Source: "testdata/full.yaml:61:9"},
		{Target: monitors.Target{Site: "amazon", Region: "FR", SKU: "B0CM9QZ8ZN", MaxPrice: 549},
			Interval: 3 * time.Second, Group: "cook-group-a", Tags: []string{"consoles", "eu", "fr"}, Path: "groups[0].targets[1]", Source: "testdata/full.yaml:63:9"},
		{Target: monitors.Target{Site: "walmart", Region: "CA", SKU: "1SZQHN3LOSE0", StellarSite: "walmart-ca", BaseURL: "http://127.0.0.1:9998"},
			Interval: 4 * time.Second, Group: "canada", Path: "groups[1].targets[0]", Source: "testdata/full.yaml:68:9"},
		{Target: monitors.Target{Site: "walmart", Region: "USA", SKU: "5113183757", Merchant: "walmart", StellarSite: "walmart", BaseURL: "http://127.0.0.1:9998"},
			Interval: 4 * time.Second, Path: "targets[0]", Source: "testdata/full.yaml:71:5"},
		{Target: monitors.Target{Site: "shopify", Store: "https://shop.example.com", Handle: "red-rain-coat", StellarSite: "shopify-eu"},
			Interval: 4 * time.Second, Path: "targets[1]", Source: "testdata/full.yaml:72:5"},
		{Target: monitors.Target{Site: "shopify", Store: "https://shop.example.com", Keywords: [][]string{{"nike", "dunk"}, {"yeezy", "350"}}, StellarSite: "shopify"},
			Interval: 10 * time.Second, Path: "targets[2]", Source: "testdata/full.yaml:73:5"},
	}
	got := cfg.Targets()
	if len(got) != len(wantTargets) {
		t.Fatalf("%d targets, want %d", len(got), len(wantTargets))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], wantTargets[i]) {
			t.Errorf("target %d:\n got %+v\nwant %+v", i, got[i], wantTargets[i])
		}
	}

	wantDiscord := []Discord{
		{URL: "https://discord.com/api/webhooks/123456789012345678/abcdefTOKEN", Name: "eu", Sites: []string{"amazon"}, Regions: []string{"DE", "FR"},
			Groups: []string{"cook-group-a"}, SoldOut: true, Username: "Restock Bot", AvatarURL: "https://cdn.example.com/bot.png", Content: "<@&987654321>"},
		{URL: "https://discord.com/api/webhooks/1/two"},
	}
	if !reflect.DeepEqual(cfg.Outputs.Discord, wantDiscord) {
		t.Errorf("discord:\n got %+v\nwant %+v", cfg.Outputs.Discord, wantDiscord)
	}
}

// TestRoundTrip: the effective config printed by YAML parses back to the
// same config.
func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"testdata/full.yaml", "../../docs/example-config.yaml"} {
		t.Run(filepath.Base(name), func(t *testing.T) {
			cfg, err := testLoader.Parse(name, readFile(t, name))
			if err != nil {
				t.Fatal(err)
			}
			out, err := cfg.YAML()
			if err != nil {
				t.Fatal(err)
			}
			again, err := testLoader.Parse(name, out)
			if err != nil {
				t.Fatalf("%v\nin:\n%s", err, out)
			}
			cfg.pos, again.pos = nil, nil
			cfg.Engine.ProxyFile = ""
			if !reflect.DeepEqual(cfg, again) {
				t.Errorf("round trip differs:\n got %+v\nwant %+v", again, cfg)
			}
			a, b := cfg.Targets(), again.Targets()
			for i := range a {
				a[i].Source, b[i].Source = "", ""
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("targets differ:\n got %+v\nwant %+v", b, a)
			}
		})
	}
}

func TestExampleConfig(t *testing.T) {
	const name = "../../docs/example-config.yaml"
	cfg, err := testLoader.Parse(name, readFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Targets()) == 0 || len(cfg.Outputs.Discord) == 0 || len(cfg.Groups) == 0 {
		t.Fatalf("example should show targets, groups and outputs: %+v", cfg)
	}
	// Every option appears in the example: walk the schema's YAML keys.
	src := string(readFile(t, name))
	for _, key := range schemaKeys(reflect.TypeFor[Config]()) {
		if !strings.Contains(src, key+":") {
			t.Errorf("example-config.yaml does not mention %q", key)
		}
	}
}

func schemaKeys(t reflect.Type) []string {
	var keys []string
	for t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Duration]() {
		return nil
	}
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		keys = append(keys, tag)
		keys = append(keys, schemaKeys(t.Field(i).Type)...)
	}
	return keys
}

func TestDefault(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "server:\n"} {
		cfg, err := testLoader.Parse("empty.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		want := Default()
		want.File = "empty.yaml"
		cfg.pos = nil
		if !reflect.DeepEqual(cfg, want) {
			t.Errorf("%q:\n got %+v\nwant %+v", src, cfg, want)
		}
	}
	// Default is a fresh value each call: no shared maps.
	a, b := Default(), Default()
	a.Engine.Sites["amazon"] = SiteLimits{}
	if b.Engine.Sites["amazon"].Rate == 0 {
		t.Fatal("Default shares its maps")
	}
	if got := Default().Server.SlogLevel().String(); got != "INFO" {
		t.Errorf("level %s", got)
	}
}

func TestDefaultLookupIsRegistry(t *testing.T) {
	// Loader{} uses monitors.New; picky is not registered in the test
	// binary (only the built-ins are), so the site is unknown to it.
	_, err := Parse("m.yaml", []byte("targets:\n  - {site: picky, sku: GOOD}\n"))
	if err == nil || !strings.HasPrefix(err.Error(), `m.yaml:2:12: targets[0].site: unknown site "picky"`) {
		t.Fatalf("got %v", err)
	}
	// Defaults mention sites too, but only what the file wrote is checked.
	if _, err := Parse("m.yaml", nil); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := testLoader.Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := testLoader.Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("directory: %v", err)
	}
	p := writeFile(t, dir, "ok.yaml", "server: {ws: ':9000'}\n")
	cfg, err := testLoader.Load(p)
	if err != nil || cfg.Server.WS != ":9000" || cfg.File != p {
		t.Fatalf("%v %+v", err, cfg)
	}
}

func TestProxyFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "proxies.txt", "# rotating pool\n10.0.0.1:8080\n\n10.0.0.2:8080:user:pass\nnot-a-proxy\nhttp://h:1080\n")
	cfgPath := writeFile(t, dir, "m.yaml", "engine:\n  proxies: [10.0.0.9:3128]\n  proxyFile: proxies.txt\n")
	_, err := testLoader.Load(cfgPath)
	want := filepath.Join(dir, "proxies.txt") + `:5:1: engine.proxyFile: "not-a-proxy" is not a proxy (want host:port, host:port:user:pass or scheme://[user:pass@]host:port): missing or malformed port`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}

	writeFile(t, dir, "proxies.txt", "10.0.0.1:8080\n10.0.0.2:8080:user:pass\n")
	cfg, err := testLoader.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	wantProxies := []string{"http://10.0.0.9:3128", "http://10.0.0.1:8080", "http://user:pass@10.0.0.2:8080"}
	if !reflect.DeepEqual(cfg.Engine.Proxies, wantProxies) {
		t.Errorf("proxies %v", cfg.Engine.Proxies)
	}

	for content, wantErr := range map[string]string{
		"# only comments\n": "m.yaml:3:14: engine.proxyFile: proxies.txt lists no proxies",
	} {
		writeFile(t, dir, "proxies.txt", content)
		if _, err := testLoader.Load(cfgPath); err == nil || err.Error() != filepath.Join(dir, wantErr) {
			t.Errorf("got %v, want %s", err, wantErr)
		}
	}
	cfgPath = writeFile(t, dir, "m.yaml", "engine:\n  proxyFile: /dev/zero\n")
	if _, err := testLoader.Load(cfgPath); err == nil || !strings.Contains(err.Error(), "engine.proxyFile: /dev/zero is not a regular file") {
		t.Errorf("device file: %v", err)
	}
}

func TestParseProxy(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "1.2.3.4:8080", want: "http://1.2.3.4:8080"},
		{in: " proxy.example.net:3128 ", want: "http://proxy.example.net:3128"},
		{in: "1.2.3.4:8080:user:p:a:ss", want: "http://user:p%3Aa%3Ass@1.2.3.4:8080"},
		{in: "user:pass@1.2.3.4:8080", want: "http://user:pass@1.2.3.4:8080"},
		{in: "http://u:p@h:8080/", want: "http://u:p@h:8080"},
		{in: "socks5://u:p@h:1080", err: `"socks5://u:xxx@h:1080": scheme "socks5" is not supported (only http:// proxies)`},
		{in: "[::1]:8080", want: "http://[::1]:8080"},
		{in: "", err: "empty proxy"},
		{in: "h:0", err: `"h:0" is not a proxy (want host:port, host:port:user:pass or scheme://[user:pass@]host:port): port "0" is not 1-65535`},
		{in: "h:80::pass", err: `"h:80::xxx": want host:port:user:pass`},
		{in: ":pass@h:80", err: `":xxx@h:80": want user:pass@host:port`},
		{in: "http://h:80/path", err: `"http://h:80/path": a proxy URL has no path or query`},
		{in: "h 1:80", err: `"h 1:80" contains spaces`},
		{in: ":80", err: `":80" is not a proxy (want host:port, host:port:user:pass or scheme://[user:pass@]host:port): bad host ""`},
	}
	for _, tt := range tests {
		got, err := ParseProxy(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%q: err %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %q %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		ok   bool
	}{
		{"1MiB", MiB, true}, {"512KiB", 512 * KiB, true}, {"64MB", 64 * MB, true},
		{"1.5GiB", 3 * GiB / 2, true}, {"4096", 4096, true}, {"10B", 10, true}, {" 2 KB ", 2000, true},
		{"", 0, false}, {"MiB", 0, false}, {"-1KiB", 0, false}, {"1XB", 0, false},
		{"inf", 0, false}, {"NaN", 0, false}, {"0x10", 0, false}, {"1e3", 0, false}, {"99999999999GiB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("%q: %d %v, want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	for s, want := range map[Size]string{MiB: "1MiB", 3 * GiB: "3GiB", 1536: "1536B", 2 * KiB: "2KiB", 0: "0B"} {
		if s.String() != want {
			t.Errorf("%d prints %s, want %s", int64(s), s, want)
		}
	}
}

func TestIssueFormat(t *testing.T) {
	is := Issue{File: "a.yaml", Pos: Pos{3, 7}, Path: "x.y", Message: "bad"}
	if is.String() != "a.yaml:3:7: x.y: bad" {
		t.Error(is.String())
	}
	is.Path = ""
	if is.String() != "a.yaml:3:7: bad" {
		t.Error(is.String())
	}
	_ = fmt.Sprint(is)
}

func TestFraction(t *testing.T) {
	for in, want := range map[string]float64{"0.1": 0.1, "10%": 0.1, " 2.5 % ": 0.025, "0": 0} {
		var f Fraction
		if err := f.UnmarshalText([]byte(in)); err != nil || float64(f) != want {
			t.Errorf("%q: %v %v", in, f, err)
		}
	}
	for _, in := range []string{"", "%", "ten", "NaN", "1e-1"} {
		var f Fraction
		if err := f.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func BenchmarkParseExample(b *testing.B) {
	data := readFile(b, "../../docs/example-config.yaml")
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := testLoader.Parse("example.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestClusterSection(t *testing.T) {
	c, err := Parse("m.yaml", []byte("cluster: {nats: embedded, nodeID: a, roles: [broadcast, engine], claimWindow: 5m, reusePort: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.NATS != "embedded" || c.Cluster.NodeID != "a" || len(c.Cluster.Roles) != 2 || c.Cluster.ClaimWindow.Minutes() != 5 || !c.Cluster.ReusePort {
		t.Fatalf("cluster = %+v", c.Cluster)
	}
	_, err = Parse("m.yaml", []byte("cluster: {roles: [broadcast, cook]}\n"))
	want := "m.yaml:1:18: cluster.roles: needs cluster.nats\nm.yaml:1:30: cluster.roles[1]: \"cook\" is not one of broadcast, engine, ingest"
	if err == nil || err.Error() != want {
		t.Fatalf("Parse(bad roles) = %v\nwant %s", err, want)
	}
}

func TestEngineClient(t *testing.T) {
	for _, c := range []string{"browser", "fasthttp"} {
		cfg, err := testLoader.Parse("m.yaml", []byte("engine:\n  client: "+c+"\n"))
		if err != nil || cfg.Engine.Client != c {
			t.Errorf("client %s: %+v, %v", c, cfg, err)
		}
	}
}
