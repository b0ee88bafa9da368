package console

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

func TestFeedsPage(t *testing.T) {
	e := newEnv(t, Config{})
	cookie, csrf := e.login(t)
	post := func(path, body string) resp {
		t.Helper()
		return e.do(t, req{method: "POST", path: path, cookie: cookie, body: body + "&csrf=" + url.QueryEscape(csrf)})
	}
	get := func(path string) resp {
		t.Helper()
		r := e.do(t, req{method: "GET", path: path, cookie: cookie})
		if r.status != 200 {
			t.Fatalf("GET %s: %d %.400s", path, r.status, r.body)
		}
		return r
	}
	row := func(body, name string) string {
		t.Helper()
		m := regexp.MustCompile(`(?s)<tr data-feed="` + name + `">.*?</tr>`).FindString(body)
		return m
	}

	// The nav links the page; the default feed is listed and cannot be deleted.
	page := get("/admin/feeds")
	if !strings.Contains(page.body, `href="/admin/feeds" aria-current="page">Feeds</a>`) {
		t.Fatalf("nav: %.1500s", page.body)
	}
	if d := row(page.body, keys.DefaultFeed); d == "" || strings.Contains(d, "/delete") {
		t.Fatalf("default feed row %q", d)
	}

	// Create: empty rates take the webhook defaults.
	r := post("/admin/feeds", "name=eu-consoles&kind=webhook&label=EU+consoles&slugs=eu-in,+eu-in-2&maxBytes=2048&monthlyQuota=1000")
	if r.status != 303 || r.loc != "/admin/feeds?done=created+feed+eu-consoles" {
		t.Fatalf("create: %d %q %.2000s", r.status, r.loc, r.body)
	}
	f, err := e.st.Feed("eu-consoles")
	if err != nil || f.Kind != keys.FeedWebhook || f.Label != "EU consoles" || strings.Join(f.Slugs, ",") != "eu-in,eu-in-2" ||
		f.MaxBytes != 2048 || f.MonthlyQuota != 1000 || f.RatePerSec != 50 || f.IPRatePerSec != 5 || f.RequireToken {
		t.Fatalf("created %+v %v", f, err)
	}
	if _, _, err := e.st.Create(keys.Options{Kind: keys.KindSubscriber, Feed: "eu-consoles", Label: "eu"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.ChargeFeed("eu-consoles", 3, 120, e.now); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.ChargeFeed("eu-consoles", 998, 1, e.now); err == nil {
		t.Fatal("charge over the quota accepted")
	}
	d := row(get("/admin/feeds?done=created+feed+eu-consoles").body, "eu-consoles")
	for _, want := range []string{`<td class="kind">webhook</td>`, "<code>eu-in</code>, <code>eu-in-2</code>", "slug alone",
		`<td class="num">2048</td>`, `<td class="num">1000</td>`, "50.0 feed, 5.0 per IP",
		`<span class="events">3</span> events, <span class="bytes">120</span> bytes; 1 over quota`, `<td class="num keys">1</td>`} {
		if !strings.Contains(d, want) {
			t.Errorf("row lacks %q:\n%s", want, d)
		}
	}

	// The edit form is filled with the feed's settings.
	edit := get("/admin/feeds?edit=eu-consoles").body
	for _, want := range []string{`action="/admin/feeds/eu-consoles/update"`, `id="feed-slugs" value="eu-in, eu-in-2"`, `id="feed-ratePerSec" inputmode="decimal" value="50"`} {
		if !strings.Contains(edit, want) {
			t.Errorf("edit form lacks %q", want)
		}
	}
	r = post("/admin/feeds/eu-consoles/update", "label=EU&slugs=eu-in&requireToken=on&maxBytes=4096&monthlyQuota=&ratePerSec=10&ipRatePerSec=0.5")
	if r.status != 303 || r.loc != "/admin/feeds?done=updated+feed+eu-consoles" {
		t.Fatalf("update: %d %q %.2000s", r.status, r.loc, r.body)
	}
	if f, _ = e.st.Feed("eu-consoles"); f.Label != "EU" || strings.Join(f.Slugs, ",") != "eu-in" || !f.RequireToken ||
		f.MaxBytes != 4096 || f.MonthlyQuota != 0 || f.RatePerSec != 10 || f.IPRatePerSec != 0.5 {
		t.Fatalf("updated %+v", f)
	}
	if d := row(get("/admin/feeds").body, "eu-consoles"); !strings.Contains(d, "token required") || !strings.Contains(d, "10.0 feed, 0.5 per IP") {
		t.Errorf("updated row:\n%s", d)
	}

	// A feed with a live key is not deleted; the page says why.
	r = post("/admin/feeds/eu-consoles/delete", "")
	if r.status != 400 || !strings.Contains(r.body, "still belongs to it (revoke it first)") {
		t.Fatalf("delete with a key: %d %.3000s", r.status, r.body)
	}
	if r := post("/admin/feeds", "name=spare&kind=stellar"); r.status != 303 {
		t.Fatalf("create spare: %d %.2000s", r.status, r.body)
	}
	if r := post("/admin/feeds/spare/delete", ""); r.status != 303 || r.loc != "/admin/feeds?done=deleted+feed+spare" {
		t.Fatalf("delete: %d %q %.2000s", r.status, r.loc, r.body)
	}
	if _, err := e.st.Feed("spare"); err == nil {
		t.Fatal("spare still exists")
	}
	if row(get("/admin/feeds").body, "spare") != "" {
		t.Fatal("deleted feed still listed")
	}
	if r := post("/admin/feeds/default/delete", ""); r.status != 400 || !strings.Contains(r.body, "default feed cannot be deleted") {
		t.Fatalf("delete default: %d %.2000s", r.status, r.body)
	}
}

func TestFeedFormErrors(t *testing.T) {
	e := newEnv(t, Config{})
	cookie, csrf := e.login(t)
	for _, tc := range []struct{ path, body, want string }{
		{"/admin/feeds", "name=Bad+Name&kind=webhook", `name: &#34;Bad Name&#34; must be 1-64 lower-case letters`},
		{"/admin/feeds", "name=ok&kind=rss", `kind: &#34;rss&#34; is not one of stellar, webhook`},
		{"/admin/feeds", "name=ok&kind=webhook&maxBytes=lots", `maxBytes: &#34;lots&#34; is not a whole number`},
		{"/admin/feeds", "name=ok&kind=webhook&ratePerSec=fast", `ratePerSec: &#34;fast&#34; is not a number`},
		{"/admin/feeds", "name=ok&kind=webhook&slugs=a", `slugs[0]: &#34;a&#34; must be 3-64`},
		{"/admin/feeds", "name=ok&kind=webhook&monthlyQuota=-1", `monthlyQuota: must be 0 (unlimited) or more`},
		{"/admin/feeds", "name=default&kind=stellar", `feed &#34;default&#34; exists`},
		{"/admin/feeds/nope/update", "label=x", `feed not found`},
		{"/admin/feeds/default/update", "ipRatePerSec=NaN", `ipRatePerSec: must be between 0`},
	} {
		r := e.do(t, req{method: "POST", path: tc.path, cookie: cookie, body: tc.body + "&csrf=" + url.QueryEscape(csrf)})
		if r.status != 400 || !strings.Contains(r.body, `id="error"`) || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s %s: %d, want 400 with %q in\n%.3000s", tc.path, tc.body, r.status, tc.want, r.body)
		}
	}
	// The form keeps what was typed.
	r := e.do(t, req{method: "POST", path: "/admin/feeds", cookie: cookie, body: "name=ok&kind=stellar&maxBytes=lots&slugs=my-slug&csrf=" + url.QueryEscape(csrf)})
	for _, want := range []string{`id="feed-name" value="ok"`, `value="lots"`, `value="my-slug"`, `<option value="stellar" selected>`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the form lost %q", want)
		}
	}
	if n := len(e.st.Feeds()); n != 1 {
		t.Fatalf("%d feeds after refused forms, want default alone", n)
	}
}

func TestFeedFormsNeedCSRF(t *testing.T) {
	e := newEnv(t, Config{})
	cookie, csrf := e.login(t)
	for _, path := range []string{"/admin/feeds", "/admin/feeds/default/update", "/admin/feeds/default/delete"} {
		r := e.do(t, req{method: "POST", path: path, cookie: cookie, body: "name=sneaky&kind=webhook&label=forged"})
		if r.status != 403 || !strings.Contains(r.body, "CSRF") {
			t.Errorf("%s without CSRF token: %d %s", path, r.status, r.body)
		}
		r = e.do(t, req{method: "POST", path: path, cookie: cookie, body: "name=sneaky&kind=webhook&label=forged&csrf=" + csrf, hdr: []string{"Origin", "https://evil.example"}})
		if r.status != 403 {
			t.Errorf("%s cross-origin: %d %s", path, r.status, r.body)
		}
	}
	// Without a session, nothing either.
	if r := e.do(t, req{method: "POST", path: "/admin/feeds", body: "name=sneaky&kind=webhook&csrf=" + csrf}); r.status != 401 {
		t.Errorf("no session: %d", r.status)
	}
	if fs := e.st.Feeds(); len(fs) != 1 || fs[0].Label == "forged" {
		t.Fatalf("feeds after refused forms: %+v", fs)
	}
}

func TestKeyInFeed(t *testing.T) {
	e := newEnv(t, Config{})
	cookie, csrf := e.login(t)
	if _, err := e.st.CreateFeed(keys.FeedOptions{Name: "eu", Kind: keys.FeedWebhook}); err != nil {
		t.Fatal(err)
	}
	page := e.do(t, req{method: "GET", path: "/admin/keys", cookie: cookie}).body
	if !strings.Contains(page, `<option value="default" selected>default</option><option value="eu" >eu</option>`) {
		t.Fatalf("feed selector: %.3000s", page)
	}
	r := e.do(t, req{method: "POST", path: "/admin/keys", cookie: cookie, body: "label=eu-client&kind=subscriber&feed=eu&csrf=" + url.QueryEscape(csrf)})
	m := regexp.MustCompile(`id="stellar-url" value="[^"]*\?key=(sfk_[0-9A-Za-z]+)"`).FindStringSubmatch(r.body)
	if r.status != 200 || m == nil {
		t.Fatalf("create: %d %.2000s", r.status, r.body)
	}
	if k, err := e.st.Find(m[1]); err != nil || k.Feed != "eu" {
		t.Fatalf("created %+v %v", k, err)
	}
	if !strings.Contains(r.body, "WebSocket URL (this feed's webhook events") || strings.Contains(r.body, "paste into Stellar") {
		t.Errorf("a webhook feed's key is shown as a Stellar URL:\n%.3000s", r.body)
	}
	r = e.do(t, req{method: "POST", path: "/admin/keys", cookie: cookie, body: "label=x&feed=nope&csrf=" + url.QueryEscape(csrf)})
	if r.status != 400 || !strings.Contains(r.body, `feed: no feed &#34;nope&#34;`) {
		t.Fatalf("unknown feed: %d %.3000s", r.status, r.body)
	}
}
