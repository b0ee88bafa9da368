package abuse

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
)

// keyCase is one handshake carrying a bad key somewhere. The request is
// built from the target (which knows the real keys) so that a good key
// with something appended is tried too.
type keyCase struct {
	name string
	raw  func(t Target) []byte
}

// keyChecks: the key is refused, wherever it is put and however it is
// mangled, with a 4xx before any upgrade.
func keyChecks() []Check {
	req := func(uri string, hdr ...string) func(Target) []byte {
		return func(t Target) []byte { return upgradeRequest(t.WS, uri, hdr...) }
	}
	withKey := func(f func(key string) []byte) func(Target) []byte {
		return func(t Target) []byte { return f(t.Key) }
	}
	big := strings.Repeat("A", 64<<10)
	families := []struct {
		name, about string
		cases       []keyCase
	}{
		{"keys/query", "unknown, empty, wrong-kind and admin keys in ?key= get 401", []keyCase{
			{"unknown", req("/?key=sfk_0123456789abcdef0123456789abcdef")},
			{"empty", req("/?key=")},
			{"no-key", req("/")},
			{"ingest-token", func(t Target) []byte { return upgradeRequest(t.WS, "/?key="+url.QueryEscape(t.IngestToken)) }},
			{"admin-token", func(t Target) []byte { return upgradeRequest(t.WS, "/?key="+url.QueryEscape(t.AdminToken)) }},
			{"truncated-key", func(t Target) []byte { return upgradeRequest(t.WS, "/?key="+t.Key[:len(t.Key)-1]) }},
			{"realtime-unknown", req("/stellar?key=sfk_nope")},
		}},
		{"keys/header", "keys in Authorization or X-Api-Key headers are not a substitute for ?key= (401)", []keyCase{
			{"bearer-bad", req("/", "Authorization: Bearer sfk_0123456789abcdef")},
			{"bearer-good", func(t Target) []byte { return upgradeRequest(t.WS, "/", "Authorization: Bearer "+t.Key) }},
			{"x-api-key", req("/", "X-Api-Key: sfk_0123456789abcdef")},
			{"bad-query-good-header", func(t Target) []byte {
				return upgradeRequest(t.WS, "/?key=sfk_bad", "Authorization: Bearer "+t.Key)
			}},
		}},
		{"keys/cookie", "a key in a cookie gets 401", []keyCase{
			{"cookie-bad", req("/", "Cookie: key=sfk_0123456789abcdef")},
			{"cookie-good", func(t Target) []byte { return upgradeRequest(t.WS, "/", "Cookie: key="+t.Key) }},
		}},
		{"keys/subprotocol", "a key as Sec-WebSocket-Protocol gets 401", []keyCase{
			{"subprotocol-bad", req("/", "Sec-WebSocket-Protocol: sfk_0123456789abcdef")},
			{"subprotocol-good", func(t Target) []byte { return upgradeRequest(t.WS, "/", "Sec-WebSocket-Protocol: "+t.Key) }},
		}},
		{"keys/crlf", "a good key followed by CR/LF, escaped or raw, is refused (4xx), nothing injected", []keyCase{
			{"escaped", withKey(func(k string) []byte { return upgradeRequest("x", "/?key="+k+"%0D%0AX-Injected:%201") })},
			{"escaped-lf", withKey(func(k string) []byte { return upgradeRequest("x", "/?key="+k+"%0A") })},
			{"raw", withKey(func(k string) []byte {
				return []byte("GET /?key=" + k + "\r\nX-Injected: 1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
					"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
			})},
		}},
		{"keys/nul", "a good key with a NUL byte, escaped or raw, is refused (4xx)", []keyCase{
			{"escaped", withKey(func(k string) []byte { return upgradeRequest("x", "/?key="+k+"%00") })},
			{"escaped-inside", withKey(func(k string) []byte { return upgradeRequest("x", "/?key="+k[:4]+"%00"+k[4:]) })},
			{"raw", withKey(func(k string) []byte { return upgradeRequest("x", "/?key="+k+"\x00") })},
			{"bad-escape", withKey(func(k string) []byte { return upgradeRequest("x", "/?key="+k+"%zz") })},
		}},
		{"keys/64k", "a 64 KB key in the query, a header or a cookie is refused (4xx)", []keyCase{
			{"query", req("/?key=" + big)},
			{"query-after-good", withKey(func(k string) []byte { return upgradeRequest("x", "/?key="+k+big) })},
			{"header", req("/", "Authorization: Bearer "+big)},
			{"cookie", req("/", "Cookie: key="+big)},
		}},
	}
	var out []Check
	for _, f := range families {
		cases := f.cases
		out = append(out, Check{
			Name: f.name, Family: "keys", About: f.about, NeedsAdmin: f.name == "keys/query",
			Run: func(ctx context.Context, e *Env) (string, error) { return e.refuseAll(ctx, cases) },
		})
	}
	return out
}

// refuseAll sends every case at once and wants each refused (4xx or a
// close) well within the handshake deadline: a bad key is decided as
// soon as the request is read.
func (e *Env) refuseAll(ctx context.Context, cases []keyCase) (string, error) {
	wait := e.Opts.HandshakeTimeout + 2*time.Second
	res := make([]outcome, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() { res[i] = sendRaw(ctx, e.srcIP(), e.Target.WS, c.raw(e.Target), wait) })
	}
	wg.Wait()
	var figs, bad []string
	var slowest time.Duration
	for i, o := range res {
		figs = append(figs, cases[i].name+"="+o.String())
		slowest = max(slowest, o.took)
		if !o.refused() {
			bad = append(bad, fmt.Sprintf("%s: %s (want 4xx)", cases[i].name, o))
		}
	}
	fig := fmt.Sprintf("%s; slowest %s", strings.Join(figs, " "), slowest.Round(time.Millisecond))
	if len(bad) > 0 {
		return fig, fmt.Errorf("not refused: %s", strings.Join(bad, "; "))
	}
	return fig, nil
}
