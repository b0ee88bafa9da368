package api

import (
	"encoding/json"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/sse"
	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

// FuzzWebhook: whatever the slug, Content-Type and body, the webhook
// answers a documented status with a JSON body, and publishes exactly the
// pings it says it accepted.
func FuzzWebhook(f *testing.F) {
	for _, name := range []string{"ping_amazon.json", "batch_valid.json", "batch_mixed.json", "ping_invalid.json", "malformed.json"} {
		f.Add("acme-monitors", "", testutil.Testdata(f, name))
	}
	f.Add("acme-monitors", "text/plain; charset=utf-8", testutil.Testdata(f, "ping_walmart.json"))
	f.Add("acme", "application/json", []byte(`[]`))
	f.Add("acme-monitors/../x", "multipart/form-data; boundary=x", []byte("--x--"))
	f.Add("", "text/plain;;;", []byte{0xff})
	pub := &fakePub{}
	st := openStore(f)
	tok, _ := mustCreate(f, st, keys.Options{Kind: keys.KindIngest, Slug: "acme-monitors"})
	h := New(Config{}, Deps{Publisher: pub, Keys: st}).Handler()
	f.Fuzz(func(t *testing.T, slug, contentType string, body []byte) {
		ctx := new(fasthttp.RequestCtx)
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.Header.SetNoDefaultContentType(true)
		ctx.Request.SetRequestURI("/api/in/" + slug)
		ctx.Request.Header.Set("Authorization", "Bearer "+tok)
		if contentType != "" {
			ctx.Request.Header.SetContentType(contentType)
		}
		ctx.Request.SetBody(body)
		h(ctx)
		status := ctx.Response.StatusCode()
		msgs := pub.take()
		var res struct {
			Accepted *int   `json:"accepted"`
			Error    string `json:"error"`
		}
		if err := json.Unmarshal(ctx.Response.Body(), &res); err != nil {
			t.Fatalf("%d body not JSON: %q", status, ctx.Response.Body())
		}
		switch status {
		case 202, 400:
			if res.Accepted != nil && *res.Accepted != len(msgs) || res.Accepted == nil && len(msgs) != 0 {
				t.Fatalf("%d: accepted %v, published %d", status, res.Accepted, len(msgs))
			}
		case 404, 413, 415:
			if len(msgs) != 0 || res.Error == "" {
				t.Fatalf("%d published %d, error %q", status, len(msgs), res.Error)
			}
		default:
			t.Fatalf("status %d for slug %q type %q", status, slug, contentType)
		}
		for _, m := range msgs {
			checkFrame(t, m)
		}
	})
}

// FuzzStreamRequest: any query and Last-Event-ID header is answered with
// a documented status and a JSON error naming the field, never a panic.
// The hub is closed, so a request that passes every check gets 503 and no
// stream goroutine starts.
func FuzzStreamRequest(f *testing.F) {
	st := openStore(f)
	sub, _ := mustCreate(f, st, keys.Options{Kind: keys.KindSubscriber, Scopes: []string{"amazon:USA"}})
	f.Add("key="+sub, "")
	f.Add("key="+sub+"&site=amazon,walmart&region=USA,jp", "17")
	f.Add("key="+sub+"&region=XX", "")
	f.Add("key="+sub+"&lastEventId=18446744073709551616", "")
	f.Add("key=%zz&site=%", "-1")
	f.Add("site=a,,,b&site=&region=,", " 12 ")
	hub := sse.New(sse.Config{})
	hub.Close()
	h := New(Config{}, Deps{Publisher: hub, Keys: st, SSE: hub}).Handler()
	f.Fuzz(func(t *testing.T, query, lastID string) {
		ctx := new(fasthttp.RequestCtx)
		ctx.Request.Header.SetMethod("GET")
		ctx.Request.SetRequestURI("/api/events/stream")
		ctx.Request.URI().SetQueryString(query)
		if lastID != "" {
			ctx.Request.Header.Set("Last-Event-ID", lastID)
		}
		h(ctx)
		status := ctx.Response.StatusCode()
		var res errorBody
		if err := json.Unmarshal(ctx.Response.Body(), &res); err != nil || res.Error == "" {
			t.Fatalf("%d body %q", status, ctx.Response.Body())
		}
		switch status {
		case 400:
			if res.Field != "site" && res.Field != "region" && res.Field != "Last-Event-ID" {
				t.Fatalf("400 without a field: %+v", res)
			}
		case 401, 503:
		default:
			t.Fatalf("status %d for %q / %q", status, query, lastID)
		}
	})
}
