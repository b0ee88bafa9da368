package api

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	bolt "go.etcd.io/bbolt"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/testutil"
	"github.com/stellarfeed/stellarfeed/internal/wire"
)

func TestIngest(t *testing.T) {
	e := newEnv(t, Config{MaxBodyBytes: 8 << 10, MaxPings: 8})
	revoked, revKey := mustCreate(t, e.st, keys.Options{Kind: keys.KindIngest})
	if _, err := e.st.Revoke(revKey.ID); err != nil {
		t.Fatal(err)
	}
	disabled, _ := mustCreate(t, e.st, keys.Options{Kind: keys.KindIngest, Disabled: true})
	unknown := "sfi_" + strings.Repeat("Z", 33)
	ok := func(tok string) []string {
		return []string{"Authorization", "Bearer " + tok, "Content-Type", "application/json"}
	}
	amazon := testutil.Testdata(t, "ping_amazon.json")
	tests := []struct {
		name      string
		method    string
		hdr       []string
		body      []byte
		status    int
		want      string // exact body, or golden file name ending in .golden
		published int
	}{
		{"single amazon", "POST", ok(e.ingest), amazon, 202, `{"accepted":1}`, 1},
		{"single walmart, pretty", "POST", ok(e.ingest), testutil.Testdata(t, "ping_walmart.json"), 202, `{"accepted":1}`, 1},
		{"batch", "POST", ok(e.ingest), testutil.Testdata(t, "batch_valid.json"), 202, `{"accepted":3}`, 3},
		{"charset", "POST", []string{"Authorization", "Bearer " + e.ingest, "Content-Type", "Application/JSON; charset=utf-8"}, amazon, 202, `{"accepted":1}`, 1},
		{"lower-case scheme", "POST", []string{"Authorization", "bearer " + e.ingest, "Content-Type", "application/json"}, amazon, 202, `{"accepted":1}`, 1},
		{"mixed batch", "POST", ok(e.ingest), testutil.Testdata(t, "batch_mixed.json"), 400, "batch_mixed.golden", 2},
		{"invalid ping", "POST", ok(e.ingest), testutil.Testdata(t, "ping_invalid.json"), 400, "ping_invalid.golden", 0},
		{"wrong content type", "POST", []string{"Authorization", "Bearer " + e.ingest, "Content-Type", "text/plain"}, amazon, 415, `{"error":"Content-Type must be application/json"}`, 0},
		{"form content type", "POST", []string{"Authorization", "Bearer " + e.ingest, "Content-Type", "application/x-www-form-urlencoded"}, amazon, 415, `{"error":"Content-Type must be application/json"}`, 0},
		{"json-ish content type", "POST", []string{"Authorization", "Bearer " + e.ingest, "Content-Type", "application/jsonp"}, amazon, 415, `{"error":"Content-Type must be application/json"}`, 0},
		{"missing token", "POST", []string{"Content-Type", "application/json"}, amazon, 401, `{"error":"missing key"}`, 0},
		{"basic auth", "POST", []string{"Authorization", "Basic " + e.ingest, "Content-Type", "application/json"}, amazon, 401, `{"error":"missing key"}`, 0},
		{"unknown token", "POST", ok(unknown), amazon, 401, `{"error":"unknown key"}`, 0},
		{"subscriber key", "POST", ok(e.sub), amazon, 401, `{"error":"unknown key"}`, 0},
		{"admin token", "POST", ok(e.admin), amazon, 401, `{"error":"unknown key"}`, 0},
		{"revoked token", "POST", ok(revoked), amazon, 401, `{"error":"key revoked"}`, 0},
		{"disabled token", "POST", ok(disabled), amazon, 401, `{"error":"key disabled"}`, 0},
		{"empty body", "POST", ok(e.ingest), nil, 400, `{"error":"empty body: send one ping object or an array of them"}`, 0},
		{"blank body", "POST", ok(e.ingest), []byte(" \r\n\t"), 400, `{"error":"empty body: send one ping object or an array of them"}`, 0},
		{"empty array", "POST", ok(e.ingest), []byte(" [ ] "), 400, `{"error":"empty batch: send at least one ping"}`, 0},
		{"garbage", "POST", ok(e.ingest), []byte("\x00\xffhello"), 400, `{"error":"body must be a JSON ping object or an array of them"}`, 0},
		{"scalar", "POST", ok(e.ingest), []byte(`"B0CHX3QBCH"`), 400, `{"error":"body must be a JSON ping object or an array of them"}`, 0},
		{"truncated", "POST", ok(e.ingest), testutil.Testdata(t, "malformed.json"), 400, `{"error":"malformed JSON: unexpected end of JSON input at byte 51"}`, 0},
		{"trailing garbage", "POST", ok(e.ingest), append(bytes.Clone(amazon), "}}"...), 400, `{"error":"malformed JSON: invalid character '}' after top-level value at byte 326"}`, 0},
		{"too many pings", "POST", ok(e.ingest), []byte("[" + strings.Repeat(string(bytes.TrimSpace(amazon))+",", 8) + string(amazon) + "]"), 413, `{"error":"batch of 9 pings, the limit is 8"}`, 0},
		{"oversized", "POST", ok(e.ingest), []byte(`[` + strings.Repeat(" ", 8<<10) + `]`), 413, `{"error":"body larger than 8192 bytes"}`, 0},
		{"GET", "GET", ok(e.ingest), nil, 405, `{"error":"method not allowed: POST pings here"}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := e.do(t, tt.method, "/api/pings", tt.body, tt.hdr...)
			want := tt.want
			if strings.HasSuffix(want, ".golden") {
				path := filepath.Join("testdata", want)
				if testutil.Updating() {
					if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want = string(testutil.Testdata(t, want))
			} else {
				want += "\n"
			}
			if status != tt.status || body != want {
				t.Fatalf("got %d %s\nwant %d %s", status, body, tt.status, want)
			}
			if !json.Valid([]byte(body)) {
				t.Fatalf("body is not JSON: %s", body)
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

	// The mixed batch published exactly its valid pings, in order.
	e.do(t, "POST", "/api/pings", testutil.Testdata(t, "batch_mixed.json"), ok(e.ingest)...)
	msgs := e.pub.take()
	if len(msgs) != 2 || checkFrame(t, msgs[0]).Region != "JP" || checkFrame(t, msgs[1]).Site != "walmartca" {
		t.Fatalf("mixed batch published %d messages", len(msgs))
	}
	// The payload is the compact encoding, not the provider's bytes.
	e.do(t, "POST", "/api/pings", testutil.Testdata(t, "ping_walmart.json"), ok(e.ingest)...)
	m := e.pub.take()[0]
	if bytes.Contains(m.Payload, []byte("\n")) || !bytes.Contains(m.Payload, []byte(`"offerId":"3F9A2C7B1E6D4058A9C3B7E2D1F04A6C"`)) {
		t.Fatalf("payload %s", m.Payload)
	}
}

func TestIngestMetrics(t *testing.T) {
	e := newEnv(t, Config{})
	hdr := []string{"Authorization", "Bearer " + e.ingest, "Content-Type", "application/json"}
	e.do(t, "POST", "/api/pings", testutil.Testdata(t, "ping_amazon.json"), hdr...)
	e.do(t, "POST", "/api/pings", testutil.Testdata(t, "batch_valid.json"), hdr...)
	e.do(t, "POST", "/api/pings", testutil.Testdata(t, "batch_mixed.json"), hdr...)
	e.do(t, "POST", "/api/pings", nil, "Content-Type", "application/json")
	status, body, h := e.do(t, "GET", "/metrics", nil)
	if status != 200 || !strings.HasPrefix(string(h.ContentType()), "text/plain") {
		t.Fatalf("metrics: %d %s", status, h.ContentType())
	}
	for _, want := range []string{
		`stellarfeed_ingest_requests_total{code="202"} 2`,
		`stellarfeed_ingest_requests_total{code="400"} 1`,
		`stellarfeed_ingest_requests_total{code="401"} 1`,
		`stellarfeed_ingest_requests_total{code="415"} 0`,
		"stellarfeed_ingest_pings_accepted_total 6",
		"stellarfeed_ingest_pings_rejected_total 5",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestIngestLimits(t *testing.T) {
	e := newEnv(t, Config{})
	rated, _ := mustCreate(t, e.st, keys.Options{Kind: keys.KindIngest, RatePerSec: 1})
	slow, _ := mustCreate(t, e.st, keys.Options{Kind: keys.KindIngest, RatePerSec: 0.1})
	quota, qk := mustCreate(t, e.st, keys.Options{Kind: keys.KindIngest, MonthlyQuota: 4})
	hdr := func(tok string) []string {
		return []string{"Authorization", "Bearer " + tok, "Content-Type", "application/json"}
	}
	amazon := testutil.Testdata(t, "ping_amazon.json")
	// The clock is frozen: one request per second means the second waits.
	for _, tt := range []struct {
		tok, retry, body string
	}{
		{rated, "1", `{"error":"rate limit exceeded","retryAfter":1}`},
		{slow, "10", `{"error":"rate limit exceeded","retryAfter":10}`},
	} {
		if s, _, _ := e.do(t, "POST", "/api/pings", amazon, hdr(tt.tok)...); s != 202 {
			t.Fatalf("first rated request: %d", s)
		}
		s, body, h := e.do(t, "POST", "/api/pings", amazon, hdr(tt.tok)...)
		if s != 429 || body != tt.body+"\n" || string(h.Peek("Retry-After")) != tt.retry {
			t.Fatalf("second rated request: %d %s Retry-After %q", s, body, h.Peek("Retry-After"))
		}
		e.pub.take()
	}
	// Quota 4: a batch of 3 fits, the next 3 do not and none is published.
	if s, _, _ := e.do(t, "POST", "/api/pings", testutil.Testdata(t, "batch_valid.json"), hdr(quota)...); s != 202 {
		t.Fatalf("within quota: %d", s)
	}
	e.pub.take()
	over := `{"error":"monthly quota exceeded","quota":4,"used":3,"reset":"2026-12-01T00:00:00Z","resetsAt":"2026-12-01T00:00:00Z"}` + "\n"
	s, body, h := e.do(t, "POST", "/api/pings", testutil.Testdata(t, "batch_valid.json"), hdr(quota)...)
	if s != 402 || body != over || len(e.pub.take()) != 0 || string(h.ContentType()) != "application/json" {
		t.Fatalf("over quota: %d %s", s, body)
	}
	// The mixed batch has 2 valid pings: over quota too, nothing published.
	if s, body, _ := e.do(t, "POST", "/api/pings", testutil.Testdata(t, "batch_mixed.json"), hdr(quota)...); s != 402 || body != over || len(e.pub.take()) != 0 {
		t.Fatalf("mixed over quota: %d %s", s, body)
	}
	if s, _, _ := e.do(t, "POST", "/api/pings", amazon, hdr(quota)...); s != 202 {
		t.Fatalf("last ping of the quota: %d", s)
	}
	full := `{"error":"monthly quota exceeded","quota":4,"used":4,"reset":"2026-12-01T00:00:00Z","resetsAt":"2026-12-01T00:00:00Z"}` + "\n"
	if s, body, _ := e.do(t, "POST", "/api/pings", amazon, hdr(quota)...); s != 402 || body != full {
		t.Fatalf("quota used up: %d %s", s, body)
	}
	if u, _ := e.st.Usage(qk.ID); u.MonthPings != 4 || u.Rejected["quota"] != 3 {
		t.Fatalf("usage %+v", u)
	}
	// A new month, a new quota.
	e.setNow(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	if s, body, _ := e.do(t, "POST", "/api/pings", testutil.Testdata(t, "batch_valid.json"), hdr(quota)...); s != 202 {
		t.Fatalf("next month: %d %s", s, body)
	}
	next := `{"error":"monthly quota exceeded","quota":4,"used":3,"reset":"2027-01-01T00:00:00Z","resetsAt":"2027-01-01T00:00:00Z"}` + "\n"
	if s, body, _ := e.do(t, "POST", "/api/pings", testutil.Testdata(t, "batch_valid.json"), hdr(quota)...); s != 402 || body != next {
		t.Fatalf("next month over: %d %s", s, body)
	}
}

// TestQuotaPersisted: the month's count survives a restart (the store
// flushes usage to bbolt), so a restart does not hand out a fresh quota.
func TestQuotaPersisted(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "quota.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clock := keys.WithClock(func() time.Time { return t0 })
	st1, err := keys.Open(db, clock)
	if err != nil {
		t.Fatal(err)
	}
	tok, k := mustCreate(t, st1, keys.Options{Kind: keys.KindIngest, MonthlyQuota: 3})
	post := func(st *keys.Store) *fasthttp.RequestCtx {
		h := New(Config{}, Deps{Publisher: discard{}, Keys: st, Now: func() time.Time { return t0 }}).Handler()
		ctx := newIngestCtx(tok, testutil.Testdata(t, "batch_valid.json"))
		h(ctx)
		return ctx
	}
	if ctx := post(st1); ctx.Response.StatusCode() != 202 {
		t.Fatalf("first batch: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if err := st1.Flush(); err != nil {
		t.Fatal(err)
	}
	st2, err := keys.Open(db, clock) // the restart
	if err != nil {
		t.Fatal(err)
	}
	ctx := post(st2)
	want := `{"error":"monthly quota exceeded","quota":3,"used":3,"reset":"2026-12-01T00:00:00Z","resetsAt":"2026-12-01T00:00:00Z"}` + "\n"
	if ctx.Response.StatusCode() != 402 || string(ctx.Response.Body()) != want {
		t.Fatalf("after restart: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if u, _ := st2.Usage(k.ID); u.MonthPings != 3 {
		t.Fatalf("usage after restart %+v", u)
	}
}

func TestRetryAfter(t *testing.T) {
	f := func(rate float64, want int) {
		t.Helper()
		if got := retryAfter(rate); got != want {
			t.Fatalf("retryAfter(%v) = %d, want %d", rate, got, want)
		}
	}
	f(0, 1)
	f(1000, 1)
	f(1, 1)
	f(0.5, 2)
	f(0.3, 4)
	f(1.0/60, 60)
}

// TestHandlerDirect drives Handler without the fasthttp server, as another
// server would: its own body limit must still hold.
func TestHandlerDirect(t *testing.T) {
	pub := &fakePub{}
	st := openStore(t)
	tok, _ := mustCreate(t, st, keys.Options{Kind: keys.KindIngest})
	h := New(Config{MaxBodyBytes: 100}, Deps{Publisher: pub, Keys: st}).Handler()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/api/pings")
	ctx.Request.Header.Set("Authorization", "Bearer "+tok)
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.SetBody(testutil.Testdata(t, "ping_amazon.json"))
	h(&ctx)
	if ctx.Response.StatusCode() != 413 || len(pub.take()) != 0 {
		t.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

func newIngestCtx(tok string, body []byte) *fasthttp.RequestCtx {
	ctx := new(fasthttp.RequestCtx)
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/api/pings")
	ctx.Request.Header.Set("Authorization", "Bearer "+tok)
	ctx.Request.Header.SetContentType("application/json")
	ctx.Request.SetBody(body)
	return ctx
}

// FuzzIngest: no body panics the handler; the answer is one of the
// documented statuses with a JSON body, and exactly the accepted pings
// are published, each a valid frame.
func FuzzIngest(f *testing.F) {
	for _, name := range []string{"ping_amazon.json", "ping_walmart.json", "batch_valid.json", "batch_mixed.json", "ping_invalid.json", "malformed.json"} {
		f.Add(testutil.Testdata(f, name))
	}
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{},[],null,1,"x",{"details":[]}]`))
	pub := &fakePub{}
	st := openStore(f)
	tok, _ := mustCreate(f, st, keys.Options{Kind: keys.KindIngest})
	h := New(Config{}, Deps{Publisher: pub, Keys: st}).Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx := newIngestCtx(tok, body)
		h(ctx)
		status := ctx.Response.StatusCode()
		msgs := pub.take()
		out := ctx.Response.Body()
		switch status {
		case 202, 400:
			var res struct {
				Accepted *int            `json:"accepted"`
				Rejected []Rejected      `json:"rejected"`
				Error    json.RawMessage `json:"error"`
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("%d body not JSON: %q", status, out)
			}
			switch {
			case res.Accepted != nil && *res.Accepted != len(msgs):
				t.Fatalf("accepted %d, published %d", *res.Accepted, len(msgs))
			case res.Accepted == nil && (len(msgs) != 0 || status == 202 || res.Error == nil):
				t.Fatalf("%d without accepted count: %s (published %d)", status, out, len(msgs))
			case status == 202 && (len(res.Rejected) != 0 || len(msgs) == 0):
				t.Fatalf("202 with %d rejected, %d published", len(res.Rejected), len(msgs))
			case status == 400 && res.Accepted != nil && len(res.Rejected) == 0:
				t.Fatalf("400 with nothing rejected: %s", out)
			}
			for _, r := range res.Rejected {
				if len(r.Errors) == 0 {
					t.Fatalf("rejection %d without errors", r.Index)
				}
			}
		case 413:
			if len(msgs) != 0 {
				t.Fatal("413 published")
			}
		default:
			t.Fatalf("status %d for body %q", status, body)
		}
		for _, m := range msgs {
			checkFrame(t, m)
		}
	})
}

func BenchmarkIngestSingle(b *testing.B) {
	pub := discard{}
	st := openStore(b)
	tok, _ := mustCreate(b, st, keys.Options{Kind: keys.KindIngest})
	h := New(Config{}, Deps{Publisher: pub, Keys: st}).Handler()
	ctx := newIngestCtx(tok, testutil.Testdata(b, "ping_amazon.json"))
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		h(ctx)
		if ctx.Response.StatusCode() != 202 {
			b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}

type discard struct{}

func (discard) Publish(*wire.Message) {}

// BenchmarkIngestHTTP includes fasthttp's request parsing and response
// writing over an in-memory connection.
func BenchmarkIngestHTTP(b *testing.B) {
	e := newEnv(b, Config{})
	e.api.deps.Publisher = discard{}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://stellarfeed.test/api/pings")
	req.Header.Set("Authorization", "Bearer "+e.ingest)
	req.Header.SetContentType("application/json")
	req.SetBody(testutil.Testdata(b, "ping_amazon.json"))
	b.ReportAllocs()
	for b.Loop() {
		if err := e.hc.Do(req, resp); err != nil || resp.StatusCode() != 202 {
			b.Fatalf("%v %d", err, resp.StatusCode())
		}
	}
}
