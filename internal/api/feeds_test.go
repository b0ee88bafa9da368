package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

func TestFeedAdmin(t *testing.T) {
	e := newEnv(t, Config{})
	auth := []string{"Authorization", "Bearer " + e.admin, "Content-Type", "application/json"}
	tests := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"create webhook", "POST", "/api/admin/feeds", `{"name":"relay","kind":"webhook","slugs":["acme-relay"]}`, 201, `"ratePerSec":50,"ipRatePerSec":5`},
		{"create stellar, unlimited", "POST", "/api/admin/feeds", `{"name":"eu","ratePerSec":0}`, 201, `"kind":"stellar"`},
		{"duplicate", "POST", "/api/admin/feeds", `{"name":"relay"}`, 409, `feed \"relay\" exists`},
		{"slug taken", "POST", "/api/admin/feeds", `{"name":"x","slugs":["acme-relay"]}`, 409, `slug \"acme-relay\" is used by feed relay`},
		{"bad name", "POST", "/api/admin/feeds", `{"name":"Relay 2"}`, 400, `"field":"name"`},
		{"bad kind", "POST", "/api/admin/feeds", `{"name":"y","kind":"rss"}`, 400, `"field":"kind"`},
		{"unknown field", "POST", "/api/admin/feeds", `{"name":"y","slug":"a"}`, 400, `unknown field`},
		{"get", "GET", "/api/admin/feeds/relay", ``, 200, `"slugs":["acme-relay"]`},
		{"get missing", "GET", "/api/admin/feeds/nope", ``, 404, `feed not found`},
		{"patch", "PATCH", "/api/admin/feeds/relay", `{"requireToken":true,"monthlyQuota":5}`, 200, `"requireToken":true`},
		{"patch missing", "PATCH", "/api/admin/feeds/nope", `{}`, 404, `feed not found`},
		{"list", "GET", "/api/admin/feeds", ``, 200, `"name":"default"`},
		{"key in a missing feed", "POST", "/api/admin/keys", `{"feed":"nope"}`, 400, `"field":"feed"`},
		{"key in relay", "POST", "/api/admin/keys", `{"feed":"relay","label":"c1"}`, 201, `"feed":"relay"`},
		{"delete with keys", "DELETE", "/api/admin/feeds/relay", ``, 409, `still belongs to it`},
		{"delete default", "DELETE", "/api/admin/feeds/default", ``, 409, `cannot be deleted`},
		{"delete", "DELETE", "/api/admin/feeds/eu", ``, 200, `"name":"eu"`},
		{"usage", "GET", "/api/admin/usage?month=2026-11", ``, 200, `"month":"2026-11"`},
		{"usage bad month", "GET", "/api/admin/usage?month=nov", ``, 400, `"field":"month"`},
	}
	for _, tt := range tests {
		code, body, _ := e.do(t, tt.method, tt.path, []byte(tt.body), auth...)
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %s, want %d with %s", tt.name, code, body, tt.code, tt.want)
		}
	}
	code, body, h := e.do(t, "GET", "/api/admin/usage?month=2026-11&format=csv", nil, auth...)
	if code != 200 || string(h.ContentType()) != "text/csv; charset=utf-8" || !strings.Contains(body, "2026-11,relay,,feed,") {
		t.Errorf("CSV usage: %d %q %s", code, h.ContentType(), body)
	}

	// The Go client reads the same.
	c := NewClient("http://stellarfeed.test", e.admin, e.httpClient())
	list, err := c.ListFeeds(context.Background())
	if err != nil || len(list.Feeds) != 2 || list.Feeds[1].Feed.Name != "relay" || list.Feeds[1].Keys != 1 {
		t.Fatalf("client ListFeeds: %+v %v", list, err)
	}
	rep, err := c.Usage(context.Background(), "2026-11", "relay")
	if err != nil || len(rep.Rows) != 2 || rep.Rows[1].Label != "c1" {
		t.Fatalf("client Usage: %+v %v", rep, err)
	}
}

func TestWebhookFeedLimits(t *testing.T) {
	e := newEnv(t, Config{})
	if _, err := e.st.CreateFeed(keys.FeedOptions{Name: "relay", Kind: keys.FeedWebhook, Slugs: []string{"acme-relay"}, IPRatePerSec: 1}); err != nil {
		t.Fatal(err)
	}
	code, body, _ := e.do(t, "POST", "/api/in/acme-relay", []byte(`{"event":"a"}`))
	if code != 200 {
		t.Fatalf("first: %d %s", code, body)
	}
	code, body, h := e.do(t, "POST", "/api/in/acme-relay", []byte(`{"event":"a"}`))
	if code != 429 || string(h.Peek("Retry-After")) != "1" || !strings.Contains(body, `"retryAfter":1`) {
		t.Fatalf("second within a second from one IP: %d %s", code, body)
	}
	msgs := e.pub.take()
	if len(msgs) != 1 || !msgs[0].Webhook || msgs[0].Site != "a" || msgs[0].Feed == 0 {
		t.Fatalf("published %+v", msgs)
	}
	var ev struct {
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(msgs[0].Payload, &ev); err != nil || ev.Type != "webhook" || string(ev.Payload) != `{"event":"a"}` {
		t.Fatalf("event %s: %v", msgs[0].Payload, err)
	}
	if u, _ := e.st.FeedUsage("relay"); u.Months["2026-11"].Events != 1 || u.Months["2026-11"].RateLimited != 1 {
		t.Fatalf("feed usage %+v", u)
	}
}

func TestLoginRequests(t *testing.T) {
	e := newEnv(t, Config{CORSOrigins: []string{"https://app.example.com"}})
	json := []string{"Content-Type", "application/json"}
	for _, tt := range []struct {
		method, body string
		hdr          []string
		code         int
		want         string
	}{
		{"GET", "", nil, 405, "method not allowed"},
		{"POST", `{"key":"x"}`, nil, 415, "Content-Type"},
		{"POST", `{"key":`, json, 400, "invalid JSON body"},
		{"POST", `{"key":"` + e.ingest + `"}`, json, 401, "unknown key"},
		{"POST", `{"key":"` + e.sub + `"}`, json, 200, `"ok":true`},
	} {
		code, body, h := e.do(t, tt.method, "/api/login", []byte(tt.body), tt.hdr...)
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("%s %s: %d %s", tt.method, tt.body, code, body)
		}
		if code == 200 {
			c := string(h.Peek("Set-Cookie"))
			if !strings.HasPrefix(c, "sf_session=sfs_") || !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") || strings.Contains(c, "secure") {
				t.Errorf("cookie %q", c)
			}
		}
	}
	// Behind a TLS proxy the cookie is Secure.
	_, _, h := e.do(t, "POST", "/api/login", []byte(`{"key":"`+e.sub+`"}`), "Content-Type", "application/json", "X-Forwarded-Proto", "https")
	if c := string(h.Peek("Set-Cookie")); !strings.Contains(c, "secure") {
		t.Errorf("cookie behind TLS %q", c)
	}
	code, body, h := e.do(t, "POST", "/api/logout", nil, "Origin", "https://app.example.com")
	if code != 200 || !strings.Contains(string(h.Peek("Set-Cookie")), "sf_session=;") || string(h.Peek("Access-Control-Allow-Origin")) != "https://app.example.com" {
		t.Errorf("logout: %d %s %s", code, body, h.Peek("Set-Cookie"))
	}
}

// TestTokenQuotaNotCountedByFeed: events a token's own quota refuses are
// not in the feed's month.
func TestTokenQuotaNotCountedByFeed(t *testing.T) {
	e := newEnv(t, Config{})
	tok, _ := mustCreate(t, e.st, keys.Options{Kind: keys.KindIngest, MonthlyQuota: 1})
	ping := testutil.Testdata(t, "ping_walmart.json")
	for i, want := range []int{202, 402} {
		if code, body, _ := e.do(t, "POST", "/api/pings", ping, "Authorization", "Bearer "+tok, "Content-Type", "application/json"); code != want {
			t.Fatalf("post %d: %d %s", i, code, body)
		}
	}
	if u, _ := e.st.FeedUsage(keys.DefaultFeed); u.Months["2026-11"].Events != 1 {
		t.Fatalf("default feed counted %+v", u.Months["2026-11"])
	}
}
