package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stellarfeed/stellarfeed/internal/leaktest"

	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/internal/config"
	"github.com/stellarfeed/stellarfeed/internal/testutil"
	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// The engine package (imported for Event) imports ants, whose default pool
// starts these at init.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leaktest.Options()...)
}

// cmd/ converts config entries directly: keep the field lists in step.
var _ = Webhook(config.Discord{})

var at = time.Date(2026, 11, 25, 7, 30, 0, 0, time.UTC)

func restock(site, region, sku string) engine.Event {
	ev := engine.Event{
		Kind:   engine.Restock,
		Ping:   stellar.Ping{Site: site, Region: region, SKU: sku},
		Target: monitors.Target{Site: site, Region: region, SKU: sku},
		Offer:  monitors.Offer{SKU: sku, Title: "Product " + sku, Price: "499.99", Currency: "EUR", Image: "https://m.media-amazon.com/images/I/61abc.jpg", URL: "https://www.amazon.de/dp/" + sku},
		Group:  "cook-group-a",
		Tags:   []string{"consoles"},
		At:     at,
	}
	if site == "amazon" {
		ev.Ping.OfferID = "p7h8Hu2+Bb5u/x=="
		ev.Offer.OfferID = ev.Ping.OfferID
		ev.Offer.SoldByRetailer = true
		ev.Offer.Merchant = "A3JWKAKR8XB7XF"
	} else {
		ev.Ping.Region = ""
	}
	return ev
}

// fakeDiscord answers webhook posts from a script, then 204.
type fakeDiscord struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	script []func(w http.ResponseWriter)
}

func newFakeDiscord(t *testing.T, script ...func(w http.ResponseWriter)) *fakeDiscord {
	f := &fakeDiscord{t: t, script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		i := len(f.bodies)
		f.bodies = append(f.bodies, b)
		var answer func(http.ResponseWriter)
		if i < len(f.script) {
			answer = f.script[i]
		}
		f.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, `{"message": "bad request"}`, http.StatusBadRequest)
			return
		}
		if answer != nil {
			answer(w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeDiscord) url() string { return f.srv.URL + "/api/webhooks/123456/secret-token" }

func (f *fakeDiscord) messages() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Message, len(f.bodies))
	for i, b := range f.bodies {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			f.t.Errorf("body %d: %v: %s", i, err, b)
		}
	}
	return out
}

func (f *fakeDiscord) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bodies)
}

func status(code int, body string, headers ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

type harness struct {
	out    *Output
	logs   *testutil.SyncBuffer
	mu     sync.Mutex
	waits  []time.Duration
	cancel context.CancelFunc
	done   chan struct{}
}

// newHarness builds an Output whose waits are recorded (and really
// slept: tests use milliseconds).
func newHarness(t *testing.T, cfg Config, client Doer) *harness {
	h := &harness{logs: &testutil.SyncBuffer{}}
	cfg.Logger = slog.New(slog.NewTextHandler(h.logs, nil))
	if cfg.RetryBase == 0 {
		cfg.RetryBase = time.Millisecond
	}
	h.out = New(cfg, client)
	h.out.sleep = func(ctx context.Context, d time.Duration) bool {
		h.mu.Lock()
		h.waits = append(h.waits, d)
		h.mu.Unlock()
		return sleepCtx(ctx, d)
	}
	return h
}

func (h *harness) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		h.out.Run(ctx)
	}()
	t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
		h.cancel = nil
	}
}

func (h *harness) recordedWaits() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Duration(nil), h.waits...)
}

func waitStats(t *testing.T, o *Output, cond func(Stats) bool) Stats {
	t.Helper()
	var s Stats
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if s = o.Stats(); cond(s) {
			return nil
		}
		return fmt.Errorf("stats %+v", s)
	})
	return s
}

func TestPayloadShape(t *testing.T) {
	fd := newFakeDiscord(t)
	h := newHarness(t, Config{Webhooks: []Webhook{{
		URL: fd.url(), Username: "Restock Bot", AvatarURL: "https://cdn.example.com/a.png", Content: "<@&42>",
	}}}, fd.srv.Client())
	h.out.Emit(restock("amazon", "DE", "B0CHX1W1XY"))
	h.start(t)
	waitStats(t, h.out, func(s Stats) bool { return s.Messages == 1 })

	msgs := fd.messages()
	if len(msgs) != 1 || len(msgs[0].Embeds) != 1 {
		t.Fatalf("messages %+v", msgs)
	}
	m := msgs[0]
	if m.Username != "Restock Bot" || m.AvatarURL != "https://cdn.example.com/a.png" || m.Content != "<@&42>" {
		t.Errorf("message header %+v", m)
	}
	e := m.Embeds[0]
	want := Embed{
		Title:       "Product B0CHX1W1XY",
		Description: "**Restock** · sold by amazon",
		URL:         "https://www.amazon.de/dp/B0CHX1W1XY",
		Timestamp:   "2026-11-25T07:30:00Z",
		Color:       ColorRestock,
		Footer:      &Footer{Text: "stellarfeed"},
		Thumbnail:   &Media{URL: "https://m.media-amazon.com/images/I/61abc.jpg"},
		Author:      &Author{Name: "amazon DE"},
		Fields: []Field{
			{Name: "Price", Value: "499.99 EUR", Inline: true},
			{Name: "Site", Value: "amazon", Inline: true},
			{Name: "Region", Value: "DE", Inline: true},
			{Name: "SKU", Value: "B0CHX1W1XY", Inline: true},
			{Name: "Offer ID", Value: "`p7h8Hu2+Bb5u/x==`"},
			{Name: "Group", Value: "cook-group-a", Inline: true},
			{Name: "Add to cart", Value: "[Add to cart](https://www.amazon.de/gp/aws/cart/add.html?OfferListingId.1=p7h8Hu2%2BBb5u%2Fx%3D%3D&Quantity.1=1)"},
		},
	}
	gotJSON, _ := json.MarshalIndent(e, "", " ")
	wantJSON, _ := json.MarshalIndent(want, "", " ")
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("embed:\n%s\nwant:\n%s", gotJSON, wantJSON)
	}
}

func TestSoldOutEmbed(t *testing.T) {
	ev := restock("walmart", "CA", "1SZQHN3LOSE0")
	ev.Kind = engine.SoldOut
	ev.Ping.Site = "walmartca"
	ev.Offer.SoldByRetailer = false
	ev.Offer.Merchant = "Some Seller"
	ev.Offer.URL = "not a url"
	ev.Offer.Image = "//cdn.example.com/x.jpg"
	e := BuildEmbed(&ev, "")
	if e.Color != ColorSoldOut || e.Description != "**Sold out**" || e.URL != "" || e.Thumbnail != nil || e.Footer != nil {
		t.Errorf("embed %+v", e)
	}
	names := []string{}
	for _, f := range e.Fields {
		names = append(names, f.Name+"="+f.Value)
	}
	if got := strings.Join(names, ", "); got != "Price=499.99 EUR, Site=walmartca, Region=CA, SKU=1SZQHN3LOSE0, Seller=Some Seller, Group=cook-group-a" {
		t.Errorf("fields %s", got)
	}
}

func TestCartLinks(t *testing.T) {
	shop := restock("shopify", "", "40123456789")
	shop.Target.Store = "https://shop.example.com"
	sim := restock("amazon", "JP", "B0CHX1W1XY")
	sim.Target.BaseURL = "http://127.0.0.1:9090"
	walmart := restock("walmart", "USA", "5113183757")
	for name, tt := range map[string]struct {
		ev   engine.Event
		want string
	}{
		"shopify variant":  {shop, "https://shop.example.com/cart/40123456789:1"},
		"amazon simulator": {sim, "http://127.0.0.1:9090/gp/aws/cart/add.html?OfferListingId.1=p7h8Hu2%2BBb5u%2Fx%3D%3D&Quantity.1=1"},
		"walmart none":     {walmart, ""},
	} {
		if got := cartLink(&tt.ev); got != tt.want {
			t.Errorf("%s: %q, want %q", name, got, tt.want)
		}
	}
}

func checkLimits(t *testing.T, e *Embed) {
	t.Helper()
	check := func(what, s string, max int) {
		t.Helper()
		if units(s) > max {
			t.Errorf("%s: %d units > %d", what, units(s), max)
		}
		if !utf8Valid(s) {
			t.Errorf("%s: invalid UTF-8", what)
		}
	}
	check("title", e.Title, maxTitle)
	check("description", e.Description, maxDescription)
	if e.Footer != nil {
		check("footer", e.Footer.Text, maxFooter)
	}
	if e.Author != nil {
		check("author", e.Author.Name, maxAuthor)
	}
	if len(e.Fields) > maxFields {
		t.Errorf("%d fields", len(e.Fields))
	}
	for _, f := range e.Fields {
		check("field name", f.Name, maxFieldName)
		check("field value", f.Value, maxFieldValue)
		if strings.TrimSpace(f.Name) == "" || strings.TrimSpace(f.Value) == "" {
			t.Errorf("empty field %+v", f)
		}
	}
	if e.Total() > maxEmbedTotal {
		t.Errorf("total %d", e.Total())
	}
}

func TestEmbedLimits(t *testing.T) {
	ev := restock("amazon", "DE", "B0CHX1W1XY")
	ev.Offer.Title = strings.Repeat("é🎮x", 300)         // multi-byte and surrogate pairs
	ev.Ping.OfferID = strings.Repeat("ö", 2000)         // past a field value
	ev.Group = strings.Repeat("g", 5000)                // past a field value
	ev.Offer.Price = strings.Repeat("9", 3000) + "\xff" // invalid UTF-8
	e := BuildEmbed(&ev, strings.Repeat("f", 3000))
	checkLimits(t, &e)
	if !strings.HasSuffix(e.Title, "…") || !strings.HasPrefix(e.Title, "é🎮x") {
		t.Errorf("title %q", e.Title)
	}

	// Adversarial embed: everything at or past its limit.
	big := Embed{
		Title:       strings.Repeat("t", 1000),
		Description: strings.Repeat("d", 9000),
		Footer:      &Footer{Text: strings.Repeat("f", 5000)},
		Author:      &Author{Name: strings.Repeat("a", 500)},
		URL:         "javascript:alert(1)",
		Thumbnail:   &Media{URL: "ftp://x"},
	}
	for i := range 40 {
		big.Fields = append(big.Fields, Field{Name: strings.Repeat("n", 300), Value: strings.Repeat("v", 2000) + fmt.Sprint(i)})
	}
	big.Fields = append(big.Fields, Field{Name: "empty", Value: " "})
	FitEmbed(&big, maxEmbedTotal)
	checkLimits(t, &big)
	if big.URL != "" || big.Thumbnail != nil {
		t.Errorf("bad URLs kept: %q %+v", big.URL, big.Thumbnail)
	}
	if len(big.Title) != maxTitle-1+len("…") {
		t.Errorf("title cut to %d bytes", len(big.Title))
	}

	// A small budget still leaves a valid embed.
	small := Embed{Title: "Title", Description: "desc", Fields: []Field{{Name: "a", Value: "b"}}, Footer: &Footer{Text: "foot"}}
	FitEmbed(&small, 6)
	if small.Total() > 6 {
		t.Errorf("budget 6: total %d (%+v)", small.Total(), small)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "?") == s }

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"hello", 5, "hello"},
		{"hello world", 6, "hello…"},
		{"héllo", 3, "hé…"},
		{"🎮🎮🎮", 4, "🎮…"}, // a surrogate pair is 2 units
		{"🎮🎮🎮", 2, "…"},
		{"abc", 0, ""},
		{"a\xffb", 10, "a\uFFFDb"},
	}
	for _, tt := range tests {
		if got := Truncate(tt.in, tt.max); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestRateLimit429(t *testing.T) {
	for name, answer := range map[string]func(http.ResponseWriter){
		"json retry_after": status(429, `{"message": "You are being rate limited.", "retry_after": 0.025, "global": false}`),
		"header only":      status(429, `oops`, "Retry-After", "0.025"),
	} {
		t.Run(name, func(t *testing.T) {
			fd := newFakeDiscord(t, answer)
			h := newHarness(t, Config{Webhooks: []Webhook{{URL: fd.url()}}}, fd.srv.Client())
			h.out.Emit(restock("amazon", "DE", "B0CHX1W1XY"))
			h.start(t)
			s := waitStats(t, h.out, func(s Stats) bool { return s.Messages == 1 })
			if s.RateLimited != 1 || s.Failed != 0 || s.Embeds != 1 {
				t.Errorf("stats %+v", s)
			}
			fd.mu.Lock()
			bodies := fd.bodies
			fd.mu.Unlock()
			if len(bodies) != 2 || !bytes.Equal(bodies[0], bodies[1]) {
				t.Fatalf("want the same message twice, got %d bodies", len(bodies))
			}
			if w := h.recordedWaits(); len(w) != 1 || w[0] != 25*time.Millisecond {
				t.Errorf("waits %v, want [25ms]", w)
			}
		})
	}
}

func TestRateLimitBucketHeaders(t *testing.T) {
	fd := newFakeDiscord(t, status(204, "", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset-After", "0.5"))
	h := newHarness(t, Config{Webhooks: []Webhook{{URL: fd.url()}}}, fd.srv.Client())
	h.out.Emit(restock("amazon", "DE", "B0CHX1W1XY"))
	h.start(t)
	waitStats(t, h.out, func(s Stats) bool { return s.Messages == 1 })
	h.out.Emit(restock("amazon", "DE", "B0CHX1W1XZ"))
	s := waitStats(t, h.out, func(s Stats) bool { return s.Messages == 2 })
	if s.RateLimited != 0 {
		t.Errorf("stats %+v", s)
	}
	// The second send waited for the bucket to reset (up to 0.5s from the
	// first answer) instead of earning a 429.
	w := h.recordedWaits()
	if len(w) != 1 || w[0] <= 0 || w[0] > 500*time.Millisecond {
		t.Errorf("waits %v", w)
	}
}

func TestRetry5xx(t *testing.T) {
	fd := newFakeDiscord(t, status(500, "boom"), status(502, "bad gateway"))
	h := newHarness(t, Config{Webhooks: []Webhook{{URL: fd.url()}}}, fd.srv.Client())
	h.out.Emit(restock("amazon", "DE", "B0CHX1W1XY"))
	h.start(t)
	s := waitStats(t, h.out, func(s Stats) bool { return s.Messages == 1 })
	if s.Retries != 2 || s.Failed != 0 || fd.count() != 3 {
		t.Errorf("stats %+v, %d requests", s, fd.count())
	}
	if w := h.recordedWaits(); len(w) != 2 || w[0] != time.Millisecond || w[1] != 2*time.Millisecond {
		t.Errorf("backoff %v, want [1ms 2ms]", w)
	}
}

func TestRetry5xxGivesUp(t *testing.T) {
	var script []func(http.ResponseWriter)
	for range 10 {
		script = append(script, status(503, "unavailable"))
	}
	fd := newFakeDiscord(t, script...)
	h := newHarness(t, Config{Webhooks: []Webhook{{URL: fd.url()}}, MaxRetries: 3}, fd.srv.Client())
	h.out.Emit(restock("amazon", "DE", "B0CHX1W1XY"))
	h.start(t)
	s := waitStats(t, h.out, func(s Stats) bool { return s.Failed == 1 })
	if s.Retries != 3 || s.Messages != 0 || fd.count() != 4 {
		t.Errorf("stats %+v, %d requests", s, fd.count())
	}
	if !strings.Contains(h.logs.String(), "retries exhausted") {
		t.Errorf("log: %s", h.logs)
	}
}

func TestRejected4xxLoggedAndDropped(t *testing.T) {
	fd := newFakeDiscord(t, status(400, `{"message": "Invalid Form Body", "code": 50035}`))
	h := newHarness(t, Config{Webhooks: []Webhook{{URL: fd.url()}}}, fd.srv.Client())
	h.out.Emit(restock("amazon", "DE", "B0CHX1W1XY"))
	h.out.Emit(restock("amazon", "DE", "B0CHX1W1XZ"))
	h.start(t)
	s := waitStats(t, h.out, func(s Stats) bool { return s.Failed == 2 })
	if s.Messages != 0 || s.Retries != 0 || fd.count() != 1 {
		t.Errorf("stats %+v, %d requests (the batch is one message)", s, fd.count())
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "Invalid Form Body") || !strings.Contains(logs, "webhook=\"webhook 123456\"") {
		t.Errorf("log lacks Discord's answer or webhook name: %s", logs)
	}
	if strings.Contains(logs, "secret-token") {
		t.Errorf("log leaks the webhook token: %s", logs)
	}
}

func TestNetworkErrorRetriedWithoutToken(t *testing.T) {
	fd := newFakeDiscord(t)
	url := fd.url()
	fd.srv.Close() // connection refused from now on
	h := newHarness(t, Config{Webhooks: []Webhook{{URL: url}}, MaxRetries: 2}, &http.Client{Timeout: time.Second})
	h.out.Emit(restock("amazon", "DE", "B0CHX1W1XY"))
	h.start(t)
	s := waitStats(t, h.out, func(s Stats) bool { return s.Failed == 1 })
	if s.Retries != 2 {
		t.Errorf("stats %+v", s)
	}
	if logs := h.logs.String(); strings.Contains(logs, "secret-token") || !strings.Contains(logs, "<webhook>") {
		t.Errorf("log: %s", logs)
	}
}

func TestFilters(t *testing.T) {
	amazonDE := restock("amazon", "DE", "B0CHX1W1XY")
	walmartCA := restock("walmart", "CA", "1SZQHN3LOSE0")
	walmartCA.Ping.Site = "walmartca"
	walmartCA.Group, walmartCA.Tags = "", nil
	soldOut := amazonDE
	soldOut.Kind = engine.SoldOut
	tests := []struct {
		name string
		wh   Webhook
		ev   engine.Event
		want bool
	}{
		{"no filters", Webhook{}, amazonDE, true},
		{"site match", Webhook{Sites: []string{"amazon"}}, amazonDE, true},
		{"site miss", Webhook{Sites: []string{"walmart"}}, amazonDE, false},
		{"stellar site name", Webhook{Sites: []string{"walmartca"}}, walmartCA, true},
		{"region match", Webhook{Regions: []string{"USA", "CA"}}, walmartCA, true},
		{"region miss", Webhook{Regions: []string{"USA", "CA"}}, amazonDE, false},
		{"group match", Webhook{Groups: []string{"cook-group-a"}}, amazonDE, true},
		{"group miss", Webhook{Groups: []string{"cook-group-a"}}, walmartCA, false},
		{"tag any", Webhook{Tags: []string{"shoes", "consoles"}}, amazonDE, true},
		{"tag miss", Webhook{Tags: []string{"shoes"}}, amazonDE, false},
		{"all must match", Webhook{Sites: []string{"amazon"}, Regions: []string{"FR"}}, amazonDE, false},
		{"sold out off", Webhook{}, soldOut, false},
		{"sold out on", Webhook{SoldOut: true}, soldOut, true},
		{"unknown kind", Webhook{SoldOut: true}, engine.Event{Kind: 99}, false},
	}
	for _, tt := range tests {
		if got := tt.wh.matches(&tt.ev); got != tt.want {
			t.Errorf("%s: matches = %v", tt.name, got)
		}
	}

	// End to end: two webhooks, each gets only its events.
	fa, fw := newFakeDiscord(t), newFakeDiscord(t)
	h := newHarness(t, Config{Webhooks: []Webhook{
		{URL: fa.url(), Sites: []string{"amazon"}},
		{URL: fw.url(), Regions: []string{"CA"}, SoldOut: true},
	}}, fa.srv.Client())
	h.out.Emit(amazonDE)
	h.out.Emit(walmartCA)
	h.out.Emit(soldOut) // amazon DE sold out: first hook wants no sold-outs, second not DE
	h.start(t)
	waitStats(t, h.out, func(s Stats) bool { return s.Embeds == 2 })
	ws := h.out.WebhookStats()
	if ws[0].Queued != 1 || ws[1].Queued != 1 {
		t.Errorf("per-webhook %+v", ws)
	}
	if m := fa.messages(); len(m) != 1 || m[0].Embeds[0].Fields[3].Value != "B0CHX1W1XY" {
		t.Errorf("amazon hook got %+v", m)
	}
	if m := fw.messages(); len(m) != 1 || m[0].Embeds[0].Author.Name != "walmartca CA" {
		t.Errorf("walmart hook got %+v", m)
	}
}

func TestQueueFullDropsAreCounted(t *testing.T) {
	fd := newFakeDiscord(t)
	h := newHarness(t, Config{Webhooks: []Webhook{{URL: fd.url()}}, QueueSize: 2}, fd.srv.Client())
	for i := range 5 {
		h.out.Emit(restock("amazon", "DE", fmt.Sprintf("B0CHX1W1X%d", i)))
	}
	if s := h.out.Stats(); s.Queued != 2 || s.Dropped != 3 {
		t.Fatalf("stats %+v", s)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "reason=\"queue full\"") || !strings.Contains(logs, "dropped_total=1") {
		t.Errorf("drop not logged: %s", logs)
	}
	h.start(t)
	waitStats(t, h.out, func(s Stats) bool { return s.Embeds == 2 })
}

func TestBatching(t *testing.T) {
	fd := newFakeDiscord(t)
	h := newHarness(t, Config{Webhooks: []Webhook{{URL: fd.url()}}}, fd.srv.Client())
	for i := range 12 {
		h.out.Emit(restock("amazon", "DE", fmt.Sprintf("B0CHX1W%03d", i)))
	}
	// One embed near the 6000 total: it cannot share a message.
	huge := restock("amazon", "DE", "B0CHX1WBIG")
	huge.Group = strings.Repeat("g", 1000)
	huge.Offer.Merchant = strings.Repeat("m", 1000)
	huge.Offer.SoldByRetailer = false
	huge.Ping.OfferID = strings.Repeat("o", 1000)
	huge.Offer.Title = strings.Repeat("t", 300)
	for range 3 {
		h.out.Emit(huge)
	}
	h.start(t)
	waitStats(t, h.out, func(s Stats) bool { return s.Embeds == 15 })
	var sizes []int
	for _, m := range fd.messages() {
		total := 0
		for _, e := range m.Embeds {
			checkLimits(t, &e)
			total += e.Total()
		}
		if total > maxEmbedTotal {
			t.Errorf("message total %d", total)
		}
		sizes = append(sizes, len(m.Embeds))
	}
	if fmt.Sprint(sizes) != "[10 3 1 1]" { // two big embeds never share a message
		t.Errorf("message sizes %v, want [10 3 1 1]", sizes)
	}
}

func TestShutdownFlushes(t *testing.T) {
	fd := newFakeDiscord(t)
	h := newHarness(t, Config{Webhooks: []Webhook{{URL: fd.url()}}}, fd.srv.Client())
	for i := range 3 {
		h.out.Emit(restock("amazon", "DE", fmt.Sprintf("B0CHX1W1X%d", i)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // already over: Run only flushes
	h.out.Run(ctx)
	if s := h.out.Stats(); s.Embeds != 3 || s.Failed != 0 {
		t.Errorf("stats %+v", s)
	}
	h.out.Emit(restock("amazon", "DE", "B0CHX1W1XY"))
	if s := h.out.Stats(); s.Dropped != 1 {
		t.Errorf("emit after stop: %+v", s)
	}
}

func TestShutdownGivesUpAndCounts(t *testing.T) {
	// Discord keeps rate limiting for longer than the flush allows.
	var script []func(http.ResponseWriter)
	for range 50 {
		script = append(script, status(429, `{"retry_after": 0.2}`))
	}
	fd := newFakeDiscord(t, script...)
	h := newHarness(t, Config{Webhooks: []Webhook{{URL: fd.url()}}, FlushTimeout: 50 * time.Millisecond, MaxRateLimitRetries: 100}, fd.srv.Client())
	h.out.Emit(restock("amazon", "DE", "B0CHX1W1XY"))
	h.start(t)
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if fd.count() == 0 {
			return fmt.Errorf("no request yet")
		}
		return nil
	})
	for i := range 3 {
		h.out.Emit(restock("amazon", "DE", fmt.Sprintf("B0CHX1W1X%d", i)))
	}
	h.stop()
	s := h.out.Stats()
	if s.Failed != 4 || s.Embeds != 0 {
		t.Errorf("stats %+v, want all 4 failed", s)
	}
	if !strings.Contains(h.logs.String(), "shutdown") {
		t.Errorf("log: %s", h.logs)
	}
}

func TestEmitDoesNotAllocate(t *testing.T) {
	o := New(Config{Webhooks: []Webhook{{URL: "http://127.0.0.1:1/x", Sites: []string{"amazon"}}}, QueueSize: 1 << 12}, nil)
	ev := restock("amazon", "DE", "B0CHX1W1XY")
	miss := restock("walmart", "CA", "1SZQHN3LOSE0")
	if n := testing.AllocsPerRun(1000, func() { o.Emit(ev); o.Emit(miss) }); n != 0 {
		t.Errorf("Emit allocates %v times", n)
	}
}

func TestWebhookName(t *testing.T) {
	for in, want := range map[string]string{
		"https://discord.com/api/webhooks/123/tok": "webhook 123",
		"http://127.0.0.1:9/hook":                  "webhook 0 (127.0.0.1:9)",
		"::":                                       "webhook 0",
	} {
		if got := webhookName(in, 0); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func BenchmarkEmit(b *testing.B) {
	o := New(Config{Webhooks: []Webhook{{URL: "http://127.0.0.1:1/x", Sites: []string{"amazon"}}}, QueueSize: 16,
		Logger: slog.New(slog.DiscardHandler)}, nil)
	ev := restock("amazon", "DE", "B0CHX1W1XY")
	b.ReportAllocs()
	for b.Loop() {
		o.Emit(ev) // queue full after 16: measures the drop path mostly
	}
}

func BenchmarkBuildEmbed(b *testing.B) {
	ev := restock("amazon", "DE", "B0CHX1W1XY")
	b.ReportAllocs()
	for b.Loop() {
		e := BuildEmbed(&ev, "stellarfeed")
		if e.Title == "" {
			b.Fatal("empty")
		}
	}
}
