package api

import (
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

func TestWebhook(t *testing.T) {
	e := newEnv(t, Config{MaxBodyBytes: 8 << 10})
	tok, _ := mustCreate(t, e.st, keys.Options{Kind: keys.KindIngest, Label: "acme", Slug: "acme-monitors"})
	other, _ := mustCreate(t, e.st, keys.Options{Kind: keys.KindIngest, Slug: "other-tools"})
	quota, _ := mustCreate(t, e.st, keys.Options{Kind: keys.KindIngest, Slug: "quota-co", MonthlyQuota: 1})
	rated, _ := mustCreate(t, e.st, keys.Options{Kind: keys.KindIngest, Slug: "rated-co", RatePerSec: 0.5})
	revoked, rk := mustCreate(t, e.st, keys.Options{Kind: keys.KindIngest, Slug: "gone-co"})
	if _, err := e.st.Revoke(rk.ID); err != nil {
		t.Fatal(err)
	}
	amazon := testutil.Testdata(t, "ping_amazon.json")
	bearer := func(tok string, more ...string) []string {
		return append([]string{"Authorization", "Bearer " + tok}, more...)
	}
	tests := []struct {
		name      string
		method    string
		path      string
		hdr       []string
		body      []byte
		status    int
		want      string
		published int
	}{
		{"bearer, no content type", "POST", "/api/in/acme-monitors", bearer(tok), amazon, 202, `{"accepted":1}`, 1},
		{"query token", "POST", "/api/in/acme-monitors?token=" + tok, nil, amazon, 202, `{"accepted":1}`, 1},
		{"text/plain", "POST", "/api/in/acme-monitors", bearer(tok, "Content-Type", "text/plain; charset=utf-8"), amazon, 202, `{"accepted":1}`, 1},
		{"json batch", "POST", "/api/in/acme-monitors", bearer(tok, "Content-Type", "application/json"), testutil.Testdata(t, "batch_valid.json"), 202, `{"accepted":3}`, 3},
		{"header wins over query", "POST", "/api/in/acme-monitors?token=" + other, bearer(tok), amazon, 202, `{"accepted":1}`, 1},
		{"form content type", "POST", "/api/in/acme-monitors", bearer(tok, "Content-Type", "application/x-www-form-urlencoded"), amazon, 415, `{"error":"Content-Type must be application/json or text/plain (or absent)"}`, 0},
		{"invalid JSON", "POST", "/api/in/acme-monitors", bearer(tok), testutil.Testdata(t, "malformed.json"), 400, `{"error":"malformed JSON: unexpected end of JSON input at byte 51"}`, 0},
		{"empty body", "POST", "/api/in/acme-monitors", bearer(tok), nil, 400, `{"error":"empty body: send one ping object or an array of them"}`, 0},
		{"invalid ping", "POST", "/api/in/acme-monitors", bearer(tok), testutil.Testdata(t, "ping_invalid.json"), 400, strings.TrimSpace(string(testutil.Testdata(t, "ping_invalid.golden"))), 0},
		{"unknown slug", "POST", "/api/in/nobody", bearer(tok), amazon, 404, `{"error":"unknown slug"}`, 0},
		{"another provider's slug", "POST", "/api/in/other-tools", bearer(tok), amazon, 404, `{"error":"unknown slug"}`, 0},
		{"token without slug", "POST", "/api/in/acme-monitors", bearer(e.ingest), amazon, 404, `{"error":"unknown slug"}`, 0},
		{"empty slug", "POST", "/api/in/", bearer(tok), amazon, 404, `{"error":"unknown slug"}`, 0},
		{"slug with a sub-path", "POST", "/api/in/acme-monitors/x", bearer(tok), amazon, 404, `{"error":"unknown slug"}`, 0},
		{"no token, unknown slug", "POST", "/api/in/nobody", nil, amazon, 404, `{"error":"unknown slug"}`, 0},
		{"no token, real slug", "POST", "/api/in/acme-monitors", nil, amazon, 401, `{"error":"missing key"}`, 0},
		{"wrong query token", "POST", "/api/in/acme-monitors?token=sfi_nope", nil, amazon, 401, `{"error":"unknown key"}`, 0},
		{"subscriber key", "POST", "/api/in/acme-monitors?token=" + e.sub, nil, amazon, 401, `{"error":"unknown key"}`, 0},
		{"revoked", "POST", "/api/in/gone-co", bearer(revoked), amazon, 401, `{"error":"key revoked"}`, 0},
		{"quota: first fits", "POST", "/api/in/quota-co", bearer(quota), amazon, 202, `{"accepted":1}`, 1},
		{"quota: used up", "POST", "/api/in/quota-co", bearer(quota), amazon, 402, `{"error":"monthly quota exceeded","quota":1,"used":1,"reset":"2026-12-01T00:00:00Z","resetsAt":"2026-12-01T00:00:00Z"}`, 0},
		{"rate: first", "POST", "/api/in/rated-co", bearer(rated), amazon, 202, `{"accepted":1}`, 1},
		{"rate: second", "POST", "/api/in/rated-co", bearer(rated), amazon, 429, `{"error":"rate limit exceeded","retryAfter":2}`, 0},
		{"GET", "GET", "/api/in/acme-monitors", bearer(tok), nil, 405, `{"error":"method not allowed: POST pings here"}`, 0},
		{"oversized", "POST", "/api/in/acme-monitors", bearer(tok), []byte(`[` + strings.Repeat(" ", 8<<10) + `]`), 413, `{"error":"body larger than 8192 bytes"}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, h := e.do(t, tt.method, tt.path, tt.body, tt.hdr...)
			if status != tt.status || body != tt.want+"\n" {
				t.Fatalf("got %d %s\nwant %d %s", status, body, tt.status, tt.want)
			}
			if ct := string(h.ContentType()); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			switch status {
			case 429:
				if ra := string(h.Peek("Retry-After")); ra != "2" {
					t.Fatalf("Retry-After %q", ra)
				}
			case 401:
				if h.Peek("WWW-Authenticate") == nil {
					t.Fatal("401 without WWW-Authenticate")
				}
			}
			msgs := e.pub.take()
			if len(msgs) != tt.published {
				t.Fatalf("published %d, want %d", len(msgs), tt.published)
			}
			for _, m := range msgs {
				checkFrame(t, m)
			}
		})
	}
	_, body, _ := e.do(t, "GET", "/metrics", nil)
	for _, want := range []string{
		`stellarfeed_webhook_requests_total{code="202"} 7`,
		`stellarfeed_webhook_requests_total{code="404"} 6`,
		`stellarfeed_webhook_requests_total{code="402"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
}
