package console

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	bolt "go.etcd.io/bbolt"

	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/wire"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

type fakeConns struct {
	mu    sync.Mutex
	conns []api.Conn
}

func (f *fakeConns) Conns() []api.Conn {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Conn(nil), f.conns...)
}

func (f *fakeConns) Kick(id uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, c := range f.conns {
		if c.ID == id {
			f.conns = append(f.conns[:i], f.conns[i+1:]...)
			return true
		}
	}
	return false
}

type env struct {
	c     *Console
	st    *keys.Store
	conns *fakeConns
	admin string
	now   time.Time
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "k.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{now: t0, conns: &fakeConns{}}
	e.st, err = keys.Open(db, keys.WithClock(func() time.Time { return e.now }))
	if err != nil {
		t.Fatal(err)
	}
	if e.admin, _, err = e.st.Create(keys.Options{Kind: keys.KindAdmin, Label: "admin"}); err != nil {
		t.Fatal(err)
	}
	cfg.Now = func() time.Time { return e.now }
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.StellarURL = func() string { return "wss://feed.example.com/" }
	e.c = New(cfg, Deps{
		Auth: e.st, Keys: api.StoreService{Keys: e.st, Now: func() time.Time { return e.now }}, Feeds: api.StoreFeeds{Keys: e.st}, Conns: e.conns,
		Metrics: func(w io.Writer) {
			fmt.Fprintln(w, `stellarfeed_connections{endpoint="stellar"} 2`)
			fmt.Fprintln(w, `stellarfeed_checks_total{site="amazon",outcome="blocked"} 1`)
			fmt.Fprintln(w, `stellarfeed_checks_total{site="amazon",outcome="in_stock"} 3`)
			fmt.Fprintln(w, `stellarfeed_proxy_checks_total{site="amazon",proxy="203.0.113.10:3128",outcome="blocked"} 3`)
			fmt.Fprintln(w, `stellarfeed_proxy_checks_total{site="amazon",proxy="203.0.113.10:3128",outcome="in_stock"} 1`)
		},
	})
	t.Cleanup(e.c.Close)
	return e
}

type req struct {
	method, path, body string
	cookie             string
	remote             string // "ip:port", default 192.0.2.1:1234
	hdr                []string
}

type resp struct {
	status int
	body   string
	loc    string
	cookie *fasthttp.Cookie
}

func (e *env) do(t *testing.T, r req) resp {
	t.Helper()
	var fr fasthttp.Request
	fr.Header.SetMethod(r.method)
	fr.SetRequestURI("http://console.test" + r.path)
	fr.Header.SetHost("console.test")
	if r.body != "" {
		fr.Header.SetContentType("application/x-www-form-urlencoded")
		fr.SetBodyString(r.body)
	}
	if r.cookie != "" {
		fr.Header.SetCookie(cookieName, r.cookie)
	}
	for i := 0; i+1 < len(r.hdr); i += 2 {
		fr.Header.Set(r.hdr[i], r.hdr[i+1])
	}
	if r.remote == "" {
		r.remote = "192.0.2.1:1234"
	}
	ta, err := net.ResolveTCPAddr("tcp", r.remote)
	if err != nil {
		t.Fatal(err)
	}
	var ctx fasthttp.RequestCtx
	ctx.Init(&fr, ta, nil)
	e.c.Serve(&ctx)
	out := resp{status: ctx.Response.StatusCode(), body: string(ctx.Response.Body()), loc: string(ctx.Response.Header.Peek("Location"))}
	var ck fasthttp.Cookie
	ck.SetKey(cookieName)
	if ctx.Response.Header.Cookie(&ck) {
		out.cookie = &ck
	}
	return out
}

// login returns the session cookie and the page's CSRF token.
func (e *env) login(t *testing.T) (cookie, csrf string) {
	t.Helper()
	r := e.do(t, req{method: "POST", path: "/admin/login", body: "token=" + e.admin})
	if r.status != 303 || r.loc != "/admin/" || r.cookie == nil {
		t.Fatalf("login: %d %q %v", r.status, r.loc, r.cookie)
	}
	cookie = string(r.cookie.Value())
	page := e.do(t, req{method: "GET", path: "/admin/keys", cookie: cookie})
	m := regexp.MustCompile(`name="csrf" content="([^"]+)"`).FindStringSubmatch(page.body)
	if page.status != 200 || m == nil {
		t.Fatalf("keys page: %d %.200s", page.status, page.body)
	}
	return cookie, m[1]
}

func TestLoginAndSessionCookie(t *testing.T) {
	e := newEnv(t, Config{SessionTTL: time.Hour})
	if r := e.do(t, req{method: "GET", path: "/admin/"}); r.status != 303 || r.loc != "/admin/login" {
		t.Fatalf("not logged in: %d %q", r.status, r.loc)
	}
	if r := e.do(t, req{method: "GET", path: "/admin/events"}); r.status != 401 {
		t.Fatalf("events not logged in: %d", r.status)
	}
	r := e.do(t, req{method: "POST", path: "/admin/login", body: "token=sfa_nope"})
	if r.status != 401 || !strings.Contains(r.body, "not a valid admin token") || r.cookie != nil {
		t.Fatalf("wrong token: %d %v %.300s", r.status, r.cookie, r.body)
	}
	r = e.do(t, req{method: "POST", path: "/admin/login", body: "token=" + e.admin})
	ck := r.cookie
	if r.status != 303 || ck == nil || !ck.HTTPOnly() || ck.SameSite() != fasthttp.CookieSameSiteStrictMode ||
		string(ck.Path()) != "/admin" || ck.MaxAge() != 3600 || ck.Secure() || len(ck.Value()) < 40 {
		t.Fatalf("login cookie: %d %s", r.status, ck)
	}
	// Behind a TLS-terminating proxy the cookie is Secure.
	r = e.do(t, req{method: "POST", path: "/admin/login", body: "token=" + e.admin, hdr: []string{"X-Forwarded-Proto", "https"}})
	if r.cookie == nil || !r.cookie.Secure() {
		t.Fatalf("cookie behind https: %v", r.cookie)
	}
	cookie := string(ck.Value())
	if r := e.do(t, req{method: "GET", path: "/admin/", cookie: cookie}); r.status != 200 || !strings.Contains(r.body, `id="conns-stellar">2<`) {
		t.Fatalf("overview: %d %.300s", r.status, r.body)
	}
	// The session expires.
	e.now = t0.Add(time.Hour)
	if r := e.do(t, req{method: "GET", path: "/admin/", cookie: cookie}); r.status != 303 || r.loc != "/admin/login" {
		t.Fatalf("after expiry: %d %q", r.status, r.loc)
	}
}

func TestRevokedTokenEndsSession(t *testing.T) {
	e := newEnv(t, Config{})
	cookie, _ := e.login(t)
	if _, err := e.st.Revoke(e.admin); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, req{method: "GET", path: "/admin/keys", cookie: cookie}); r.status != 303 || r.loc != "/admin/login" {
		t.Fatalf("after revoke: %d %q", r.status, r.loc)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, Config{})
	cookie, csrf := e.login(t)
	if r := e.do(t, req{method: "POST", path: "/admin/logout", cookie: cookie}); r.status != 403 {
		t.Fatalf("logout without CSRF token: %d", r.status)
	}
	r := e.do(t, req{method: "POST", path: "/admin/logout", cookie: cookie, body: "csrf=" + csrf})
	if r.status != 303 || r.loc != "/admin/login" || r.cookie == nil || len(r.cookie.Value()) != 0 {
		t.Fatalf("logout: %d %q %v", r.status, r.loc, r.cookie)
	}
	if r := e.do(t, req{method: "GET", path: "/admin/", cookie: cookie}); r.status != 303 {
		t.Fatalf("old cookie after logout: %d", r.status)
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t, Config{LoginFailures: 3, LoginWindow: time.Minute, Proxies: api.Proxies{netip.MustParsePrefix("10.0.0.0/8")}})
	viaProxy := func(body, client string) resp {
		return e.do(t, req{method: "POST", path: "/admin/login", body: body, remote: "10.0.0.2:5555", hdr: []string{"X-Forwarded-For", client}})
	}
	for i := range 3 {
		if r := viaProxy("token=sfa_guess", "198.51.100.7"); r.status != 401 {
			t.Fatalf("failure %d: %d", i, r.status)
		}
	}
	// Locked out, even with the right token, with a clear message.
	r := viaProxy("token="+e.admin, "198.51.100.7")
	if r.status != 429 || !strings.Contains(r.body, "Too many failed logins from 198.51.100.7. Try again in 1m0s.") || r.cookie != nil {
		t.Fatalf("locked out: %d %.400s", r.status, r.body)
	}
	// Another client behind the same proxy is not.
	if r := viaProxy("token="+e.admin, "198.51.100.8"); r.status != 303 {
		t.Fatalf("other client: %d", r.status)
	}
	e.now = t0.Add(time.Minute)
	if r := viaProxy("token="+e.admin, "198.51.100.7"); r.status != 303 {
		t.Fatalf("after the window: %d", r.status)
	}
}

func TestFormsNeedCSRFAndSameOrigin(t *testing.T) {
	e := newEnv(t, Config{})
	cookie, csrf := e.login(t)
	create := "label=acme&kind=subscriber&maxConns=3&scopes=amazon:USA,+walmart&expires=720h"
	if r := e.do(t, req{method: "POST", path: "/admin/keys", cookie: cookie, body: create}); r.status != 403 || !strings.Contains(r.body, "CSRF") {
		t.Fatalf("no CSRF token: %d %s", r.status, r.body)
	}
	if r := e.do(t, req{method: "POST", path: "/admin/keys", cookie: cookie, body: create + "&csrf=" + csrf, hdr: []string{"Origin", "https://evil.example"}}); r.status != 403 {
		t.Fatalf("cross-origin: %d %s", r.status, r.body)
	}
	if n := len(e.st.List()); n != 1 {
		t.Fatalf("%d keys after refused forms, want the admin token alone", n)
	}
	r := e.do(t, req{method: "POST", path: "/admin/keys", cookie: cookie, body: create + "&csrf=" + csrf, hdr: []string{"Origin", "http://console.test"}})
	m := regexp.MustCompile(`id="stellar-url" value="wss://feed.example.com/\?key=(sfk_[0-9A-Za-z]+)"`).FindStringSubmatch(r.body)
	if r.status != 200 || m == nil {
		t.Fatalf("create: %d %.2000s", r.status, r.body)
	}
	k, err := e.st.Find(m[1])
	if err != nil || k.Label != "acme" || k.MaxConns != 3 || strings.Join(k.Scopes, ",") != "amazon:USA,walmart" || !k.Expires.Equal(t0.Add(720*time.Hour)) {
		t.Fatalf("created %+v %v", k, err)
	}
	// Through a TLS proxy, the URL is wss:// on the host the browser used.
	r = e.do(t, req{method: "POST", path: "/admin/keys", cookie: cookie, body: "label=tls&csrf=" + csrf, hdr: []string{"X-Forwarded-Proto", "https"}})
	if !regexp.MustCompile(`id="stellar-url" value="wss://console.test/\?key=sfk_`).MatchString(r.body) {
		t.Fatalf("behind TLS: %.2000s", r.body)
	}
	// The secret is in that answer only.
	if page := e.do(t, req{method: "GET", path: "/admin/keys", cookie: cookie}); strings.Contains(page.body, m[1]) || !strings.Contains(page.body, k.ID) {
		t.Fatal("keys page shows a secret, or misses the key")
	}
}

func TestKeyFormErrors(t *testing.T) {
	e := newEnv(t, Config{})
	cookie, csrf := e.login(t)
	for body, want := range map[string]string{
		"maxConns=five":     `maxConns: &#34;five&#34; is not a whole number`,
		"scopes=amazn":      `scopes[0]: &#34;amazn&#34;: unknown site &#34;amazn&#34;; did you mean &#34;amazon&#34;?`,
		"expires=tomorrow":  `expires: &#34;tomorrow&#34; is neither an RFC 3339 time`,
		"maxIPsPerDay=-1":   `maxIPsPerDay`,
		"kind=root&label=x": `kind`,
	} {
		r := e.do(t, req{method: "POST", path: "/admin/keys", cookie: cookie, body: body + "&csrf=" + csrf})
		if r.status != 400 || !strings.Contains(r.body, want) {
			t.Errorf("%s: %d, want 400 with %q in\n%.3000s", body, r.status, want, r.body)
		}
		// The form keeps what was typed.
		if strings.HasPrefix(body, "scopes=") && !strings.Contains(r.body, `value="amazn"`) {
			t.Errorf("%s: the form lost the input", body)
		}
	}
}

func TestKeyActionsAndKick(t *testing.T) {
	e := newEnv(t, Config{})
	cookie, csrf := e.login(t)
	secret, k, err := e.st.Create(keys.Options{Kind: keys.KindSubscriber, Label: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	post := func(path string) resp {
		return e.do(t, req{method: "POST", path: path, cookie: cookie, body: "csrf=" + csrf})
	}
	if r := post("/admin/keys/" + k.ID + "/disable"); r.status != 303 || r.loc != "/admin/keys?done=disabled+"+k.ID {
		t.Fatalf("disable: %d %q", r.status, r.loc)
	}
	if got, _ := e.st.Find(k.ID); !got.Disabled {
		t.Fatal("not disabled")
	}
	if r := post("/admin/keys/" + k.ID + "/enable"); r.status != 303 {
		t.Fatalf("enable: %d", r.status)
	}
	r := post("/admin/keys/" + k.ID + "/rotate")
	m := regexp.MustCompile(`id="secret" value="(sfk_[0-9A-Za-z]+)"`).FindStringSubmatch(r.body)
	if r.status != 200 || m == nil || m[1] == secret {
		t.Fatalf("rotate: %d %.500s", r.status, r.body)
	}
	if r := post("/admin/keys/" + k.ID + "/revoke"); r.status != 303 {
		t.Fatalf("revoke: %d", r.status)
	}
	if r := post("/admin/keys/" + k.ID + "/rotate"); r.status != 400 || !strings.Contains(r.body, "conflict") {
		t.Fatalf("rotate revoked: %d %.300s", r.status, r.body)
	}
	if r := post("/admin/keys/0123456789/revoke"); r.status != 400 || !strings.Contains(r.body, "key not found") {
		t.Fatalf("revoke unknown: %d", r.status)
	}
	if r := post("/admin/keys/" + k.ID + "/explode"); r.status != 404 {
		t.Fatalf("unknown action: %d", r.status)
	}

	e.conns.conns = []api.Conn{{ID: 7, Endpoint: "sse", KeyID: k.ID, Remote: netip.MustParseAddr("203.0.113.5"), Since: t0}}
	if page := e.do(t, req{method: "GET", path: "/admin/keys", cookie: cookie}); !strings.Contains(page.body, `action="/admin/conns/7/kick"`) || !strings.Contains(page.body, "203.0.113.5") {
		t.Fatalf("keys page lacks the connection: %.3000s", page.body)
	}
	if r := post("/admin/conns/7/kick"); r.status != 303 || r.loc != "/admin/keys?done=kicked+connection+7" || len(e.conns.Conns()) != 0 {
		t.Fatalf("kick: %d %q %v", r.status, r.loc, e.conns.Conns())
	}
	if r := post("/admin/conns/7/kick"); r.loc != "/admin/keys?done=connection+7+was+already+gone" {
		t.Fatalf("kick again: %q", r.loc)
	}
}

func TestSecurityHeadersAndStatic(t *testing.T) {
	e := newEnv(t, Config{})
	for _, path := range []string{"/admin/login", "/admin/static/app.js"} {
		var fr fasthttp.Request
		fr.SetRequestURI("http://console.test" + path)
		var ctx fasthttp.RequestCtx
		ctx.Init(&fr, nil, nil)
		e.c.Serve(&ctx)
		h := &ctx.Response.Header
		if ctx.Response.StatusCode() != 200 || !strings.Contains(string(h.Peek("Content-Security-Policy")), "script-src 'self'") ||
			string(h.Peek("X-Content-Type-Options")) != "nosniff" {
			t.Fatalf("%s: %d %s", path, ctx.Response.StatusCode(), h.String())
		}
	}
	if r := e.do(t, req{method: "GET", path: "/admin/static/templates%2Flogin.html"}); r.status != 404 {
		t.Fatalf("static traversal: %d", r.status)
	}
}

func TestMonitorsPage(t *testing.T) {
	e := newEnv(t, Config{})
	cookie, _ := e.login(t)
	r := e.do(t, req{method: "GET", path: "/admin/monitors", cookie: cookie})
	if r.status != 200 || !strings.Contains(r.body, "does not run on this node") || !regexp.MustCompile(`<td>amazon</td><td class="num">4</td><td class="num">25.0%</td>`).MatchString(r.body) ||
		!strings.Contains(r.body, `<td>amazon</td><td>203.0.113.10:3128</td><td class="num">4</td><td class="num">75.0%</td>`) {
		t.Fatalf("monitors: %d %.3000s", r.status, r.body)
	}
}

func TestRecentPings(t *testing.T) {
	e := newEnv(t, Config{RecentPings: 3})
	if got := e.c.recent(); len(got) != 0 {
		t.Fatalf("recent before any ping: %v", got)
	}
	for i := range 5 {
		m := wire.FromPayload("amazon", "USA", fmt.Appendf(nil, `{"n":%d}`, i))
		e.c.Publish(m)
	}
	got := e.c.recent()
	if len(got) != 3 || got[0].Payload != `{"n":4}` || got[2].Payload != `{"n":2}` || got[0].Site != "amazon" {
		t.Fatalf("recent = %+v, want n=4,3,2", got)
	}
	m := wire.FromPayload("walmart", "", []byte(`{}`))
	if allocs := testing.AllocsPerRun(100, func() { e.c.Publish(m) }); allocs != 0 {
		t.Fatalf("Publish allocates %v times", allocs)
	}
}

// TestFeedAdminTokenRefused: the console manages every feed, so a feed's
// own admin token cannot log in to it.
func TestFeedAdminTokenRefused(t *testing.T) {
	e := newEnv(t, Config{})
	tok, _, err := e.st.Create(keys.Options{Kind: keys.KindAdmin, Feed: keys.DefaultFeed, Label: "default feed admin"})
	if err != nil {
		t.Fatal(err)
	}
	r := e.do(t, req{method: "POST", path: "/admin/login", body: "token=" + tok})
	if r.status != 403 || r.cookie != nil || !strings.Contains(r.body, "manages feed "+keys.DefaultFeed+" only") {
		t.Fatalf("feed admin token: %d %v %.400s", r.status, r.cookie, r.body)
	}
}
