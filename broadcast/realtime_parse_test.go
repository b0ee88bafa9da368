package broadcast

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
	"github.com/stellarfeed/stellarfeed/internal/wire"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// describe renders a parse result in one line, for tables and goldens.
func describe(m clientMsg, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	switch m.op {
	case opPing:
		return "ping"
	case opSubscribe:
		return "subscribe " + m.ch.String()
	case opUnsubscribe:
		return "unsubscribe " + m.ch.String()
	}
	return "?"
}

func TestParseClientMessage(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		got := describe(parseClientMessage([]byte(in)))
		if !strings.HasPrefix(got, want) {
			t.Errorf("parse(%s) = %q, want prefix %q", in, got, want)
		}
	}
	f(`{"type":"ping"}`, "ping")
	f(` {"type" : "ping", "channel": "ignored"} `, "ping")
	f(`{"type":"subscribe","channel":"amazon:USA"}`, "subscribe amazon:USA")
	f(`{"type":"subscribe","channel":"Amazon:usa"}`, "subscribe amazon:USA")
	f(`{"type":"subscribe","channel":"amazon"}`, "subscribe amazon")
	f(`{"type":"subscribe","channel":"walmart"}`, "subscribe walmart")
	f(`{"type":"subscribe","channel":"*"}`, "subscribe *")
	f(`{"type":"unsubscribe","channel":"walmartca"}`, "unsubscribe walmartca")
	f(`{"type":"subscribe","channel":"amazon","id":7,"extra":{"a":[1]}}`, "subscribe amazon")

	f(``, "error: invalid JSON")
	f(`{`, "error: invalid JSON")
	f(`{"type":"ping"} x`, "error: invalid JSON")
	f(`null`, "error: type: required")
	f(`[]`, "error: message must be a JSON object")
	f(`42`, "error: message must be a JSON object")
	f(`{}`, "error: type: required")
	f(`{"type":null}`, "error: type: required")
	f(`{"type":1}`, "error: type: must be a string")
	f(`{"type":"subscribe","channel":1}`, "error: channel: must be a string")
	f(`{"type":"Subscribe","channel":"amazon"}`, `error: type: unknown type "Subscribe"`)
	f(`{"type":"subscribe"}`, "error: channel: required for subscribe")
	f(`{"type":"unsubscribe","channel":""}`, `error: channel: ""`)
	f(`{"type":"subscribe","channel":"amazon:"}`, `error: channel: unknown region ""`)
	f(`{"type":"subscribe","channel":"amazon:MARS"}`, `error: channel: unknown region "MARS"`)
	f(`{"type":"subscribe","channel":"walmart:USA"}`, "error: channel: only amazon has regions")
	f(`{"type":"subscribe","channel":":USA"}`, `error: channel: site ""`)
	f(`{"type":"subscribe","channel":"ama zon"}`, `error: channel: site "ama zon"`)
	f(`{"type":"subscribe","channel":"`+strings.Repeat("a", 100)+`"}`, "error: channel: ")
	f(`{"type":"`+strings.Repeat("x", 500)+`"}`, `error: type: unknown type "`+strings.Repeat("x", maxEcho)+`..."`)
}

// TestClientMessageFixtures parses every fixture and compares with the
// golden file (go test -run Fixtures -update rewrites it).
func TestClientMessageFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "client_messages", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var b strings.Builder
	for _, p := range files {
		in, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(filepath.Base(p) + ": " + describe(parseClientMessage(in)) + "\n")
	}
	testutil.Golden(t, filepath.Join("testdata", "client_messages.golden"), []byte(b.String()))
}

// FuzzParseClientMessage: any bytes give a message or a clientError, never
// a panic; a parsed channel is canonical and would parse to itself; the
// error text, sent to the client, stays short.
func FuzzParseClientMessage(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "client_messages", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		m, err := parseClientMessage(p)
		if err != nil {
			var ce clientError
			if !errors.As(err, &ce) || len(ce) == 0 || len(ce) > 300 {
				t.Fatalf("bad error %#v", err)
			}
			reply := replyError(err.Error())
			if !json.Valid(reply) {
				t.Fatalf("error reply is not JSON: %q", reply)
			}
			return
		}
		switch m.op {
		case opPing:
			return
		case opSubscribe, opUnsubscribe:
		default:
			t.Fatalf("op %d", m.op)
		}
		back, err := parseChannel(m.ch.String())
		if err != nil || back != m.ch {
			t.Fatalf("channel %+v does not round-trip: %+v %v", m.ch, back, err)
		}
		if !m.ch.all && (!stellar.IsSiteName(m.ch.site) || m.ch.region != "" && !stellar.IsRegion(m.ch.region)) {
			t.Fatalf("invalid channel accepted: %+v", m.ch)
		}
		if !json.Valid(replyAck("subscribed", m.ch)) {
			t.Fatal("ack is not JSON")
		}
	})
}

func TestSubscriptionSet(t *testing.T) {
	msg := func(site, region string) *wire.Message { return &wire.Message{Site: site, Region: region} }
	f := filter{realtime: true}
	if f.match(msg("amazon", "USA")) {
		t.Fatal("no subscription must match nothing")
	}
	f.subscribe(channel{site: "amazon", region: "USA"})
	f.subscribe(channel{site: "amazon", region: "USA"}) // idempotent
	f.subscribe(channel{site: "walmart"})
	if len(f.subs) != 2 {
		t.Fatalf("subs %v", f.subs)
	}
	for _, tt := range []struct {
		site, region string
		want         bool
	}{{"amazon", "USA", true}, {"amazon", "UK", false}, {"walmart", "", true}, {"walmartca", "", false}} {
		if got := f.match(msg(tt.site, tt.region)); got != tt.want {
			t.Errorf("match(%s:%s) = %v", tt.site, tt.region, got)
		}
	}
	f.unsubscribe(channel{site: "amazon"}) // not subscribed: no effect on amazon:USA
	if !f.match(msg("amazon", "USA")) {
		t.Error("unsubscribe amazon removed amazon:USA")
	}
	f.unsubscribe(channel{site: "amazon", region: "USA"})
	if f.match(msg("amazon", "USA")) {
		t.Error("unsubscribe did not stop amazon:USA")
	}
	f.subscribe(channel{all: true})
	if !f.match(msg("shopify", "")) {
		t.Error("* must match everything")
	}
	f.unsubscribe(channel{all: true})
	if f.match(msg("walmart", "")) || f.subs != nil || f.subAll {
		t.Errorf("unsubscribe * left %+v", f)
	}
	for i := range maxSubs {
		if !f.subscribe(channel{site: "s" + string(rune('a'+i%26)) + string(rune('a'+i/26))}) {
			t.Fatalf("subscription %d refused", i)
		}
	}
	if f.subscribe(channel{site: "onetoomany"}) {
		t.Error("more than maxSubs accepted")
	}
	// Scopes bound what may be subscribed, and "*".
	g := filter{realtime: true, Filter: wire.Filter{Scopes: wire.ParseScopes([]string{"amazon:USA", "walmart"})}}
	for _, tt := range []struct {
		ch   channel
		want bool
	}{
		{channel{all: true}, true},
		{channel{site: "amazon", region: "USA"}, true},
		{channel{site: "amazon"}, false},
		{channel{site: "amazon", region: "UK"}, false},
		{channel{site: "walmart"}, true},
		{channel{site: "walmartca"}, false},
	} {
		if got := g.allows(tt.ch); got != tt.want {
			t.Errorf("allows(%v) = %v", tt.ch, got)
		}
	}
	g.subscribe(channel{all: true})
	if g.match(msg("amazon", "UK")) || !g.match(msg("amazon", "USA")) {
		t.Error("* escaped the scopes")
	}
	if allocs := testing.AllocsPerRun(100, func() { g.match(msg("amazon", "USA")) }); allocs != 0 {
		t.Errorf("match allocates %.0f", allocs)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{`q"b\s`, `q"b\s`},
		{"ctl\x00\x1f\n\t", "ctl\x00\x1f\n\t"},
		{"utf8 é 🚀", "utf8 é 🚀"},
		{"bad \xff\xfe utf8", "bad \uFFFD\uFFFD utf8"},
		{"</script>", "</script>"},
	} {
		out := appendJSONString(nil, tt.in)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q -> %s: %v", tt.in, out, err)
		}
		if back != tt.want || !utf8.Valid(out) {
			t.Errorf("%q -> %s -> %q, want %q", tt.in, out, back, tt.want)
		}
	}
}

func TestReplies(t *testing.T) {
	for _, tt := range []struct {
		got  []byte
		want string
	}{
		{replyAck("subscribed", channel{site: "amazon", region: "USA"}), `{"type":"subscribed","channel":"amazon:USA"}`},
		{replyAck("unsubscribed", channel{all: true}), `{"type":"unsubscribed","channel":"*"}`},
		{replyError(`bad "x"`), `{"type":"error","message":"bad \"x\""}`},
	} {
		if string(tt.got) != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
	var c struct{ Type, Message, UserID string }
	if err := json.Unmarshal(replyConnected(`key "7"`), &c); err != nil || c.Type != "connected" || c.UserID != `key "7"` || c.Message == "" {
		t.Errorf("connected: %+v %v", c, err)
	}
	// Frames: header sizes at the 125 and 64 KiB boundaries.
	for _, n := range []int{0, 125, 126, 1000, 0xffff, 0x10000} {
		fr := appendTextFrame(nil, make([]byte, n))
		if len(fr) != textFrameSize(n) || fr[0] != 0x81 {
			t.Errorf("frame of %d: len %d", n, len(fr))
		}
	}
}

func TestNewEnvelope(t *testing.T) {
	for _, size := range []int{10, 200, 70000} {
		m := wire.FromPayload("amazon", "USA", []byte(`{"site":"amazon","sku":"`+strings.Repeat("x", size)+`"}`))
		at := time.UnixMilli(1764057600123)
		env := newEnvelope(m, at, true)
		var got struct {
			Event     string          `json:"event"`
			Data      json.RawMessage `json:"data"`
			Timestamp int64           `json:"timestamp"`
		}
		if err := json.Unmarshal(env.Payload, &got); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if got.Event != "ping" || string(got.Data) != string(m.Payload) || got.Timestamp != 1764057600123 {
			t.Errorf("size %d: %+v", size, got)
		}
		iso := newEnvelope(m, at, false)
		if want := `,"timestamp":"2025-11-25T08:00:00.123Z"}`; !strings.HasSuffix(string(iso.Payload), want) || !json.Valid(iso.Payload) {
			t.Errorf("size %d: ISO envelope ends %q, want %q", size, iso.Payload[max(0, len(iso.Payload)-50):], want)
		}
		if want := appendTextFrame(nil, env.Payload); string(want) != string(env.Frame) {
			t.Errorf("size %d: bad frame header", size)
		}
		if env.Site != "amazon" || env.Region != "USA" {
			t.Errorf("envelope routing %q %q", env.Site, env.Region)
		}
	}
}

func TestNewEnvelopeWebhook(t *testing.T) {
	at := time.Date(2026, 1, 25, 10, 30, 0, 0, time.UTC)
	for _, tt := range []struct{ channel, want string }{
		{"user.signup", `{"event":"webhook","channel":"user.signup","data":{"type":"webhook"},"timestamp":"2026-01-25T10:30:00.000Z"}`},
		{"", `{"event":"webhook","data":{"type":"webhook"},"timestamp":"2026-01-25T10:30:00.000Z"}`},
		{"a\"b", `{"event":"webhook","channel":"a\"b","data":{"type":"webhook"},"timestamp":"2026-01-25T10:30:00.000Z"}`},
	} {
		m := wire.FromPayload(tt.channel, "", []byte(`{"type":"webhook"}`))
		m.Feed, m.Webhook = 3, true
		env := newEnvelope(m, at, false)
		if string(env.Payload) != tt.want || env.Feed != 3 || !env.Webhook {
			t.Errorf("channel %q:\ngot  %s\nwant %s", tt.channel, env.Payload, tt.want)
		}
	}
}

func TestWebhookChannels(t *testing.T) {
	f := filter{realtime: true, webhook: true, feed: 2}
	m, err := f.parseClientMessage([]byte(`{"type":"subscribe","channel":"User.Signup:EU"}`))
	if err != nil || m.ch.String() != "User.Signup:EU" {
		t.Fatalf("webhook channel taken as %q, %v", m.ch.String(), err)
	}
	if _, err := f.parseClientMessage([]byte(`{"type":"subscribe","channel":""}`)); err == nil {
		t.Fatal("empty channel accepted")
	}
	if _, err := (&filter{}).parseClientMessage([]byte(`{"type":"subscribe","channel":"User.Signup:EU"}`)); err == nil {
		t.Fatal("a Stellar connection accepted an event-name channel")
	}
	ev := func(feed uint32, ch string) *wire.Message {
		m := wire.FromPayload(ch, "", []byte(`{}`))
		m.Feed, m.Webhook = feed, true
		return m
	}
	if f.match(ev(2, "User.Signup:EU")) {
		t.Fatal("matched before subscribing")
	}
	f.subscribe(m.ch)
	if !f.match(ev(2, "User.Signup:EU")) || f.match(ev(2, "user.signup:eu")) || f.match(ev(2, "")) {
		t.Fatal("channel match is not exact")
	}
	if f.match(ev(3, "User.Signup:EU")) {
		t.Fatal("another feed's event matched")
	}
	f.subscribe(channel{all: true})
	if !f.match(ev(2, "")) || f.match(ev(0, "")) {
		t.Fatal("* must take every event of the feed and none of another")
	}
}
