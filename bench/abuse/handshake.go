package abuse

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

func handshakeChecks() []Check {
	return []Check{
		{Name: "handshake/garbage", Family: "handshake",
			About: "binary junk, TLS and HTTP/2 prefaces, non-upgrade and malformed requests: never upgraded, closed within the handshake deadline",
			Run:   func(ctx context.Context, e *Env) (string, error) { return e.garbage(ctx) }},
		{Name: "handshake/truncated", Family: "handshake",
			About: "requests cut short then FIN, RST, or held open: closed by the server within the deadline, fds back to baseline",
			Run:   func(ctx context.Context, e *Env) (string, error) { return e.truncated(ctx) }},
		{Name: "handshake/header-431", Family: "handshake",
			About: "a 100 KB header line with a good key is refused with 431, not upgraded",
			Run:   func(ctx context.Context, e *Env) (string, error) { return e.header431(ctx) }},
		{Name: "handshake/bare-cr", Family: "handshake",
			About: "a bare CR inside a header value (RFC 9112 §2.2: reject) is refused with 400, not upgraded",
			Run:   func(ctx context.Context, e *Env) (string, error) { return e.bareCR(ctx) }},
	}
}

func (e *Env) garbage(ctx context.Context) (string, error) {
	junk := make([]byte, 4096)
	_, _ = rand.Read(junk)
	cases := []keyCase{
		{"random-4k", func(Target) []byte { return junk }},
		{"tls-hello", func(Target) []byte {
			return []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + strings.Repeat("\x00", 64))
		}},
		{"http2-preface", func(Target) []byte { return []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") }},
		{"no-upgrade", func(t Target) []byte { return []byte("GET /?key=" + t.Key + " HTTP/1.1\r\nHost: x\r\n\r\n") }},
		{"post", func(t Target) []byte {
			return bytes.Replace(upgradeRequest("x", "/?key="+t.Key), []byte("GET"), []byte("POST"), 1)
		}},
		{"http10", func(t Target) []byte {
			return bytes.Replace(upgradeRequest("x", "/?key="+t.Key), []byte("HTTP/1.1"), []byte("HTTP/1.0"), 1)
		}},
		{"version-12", func(t Target) []byte {
			return bytes.Replace(upgradeRequest("x", "/?key="+t.Key), []byte("Version: 13"), []byte("Version: 12"), 1)
		}},
		{"no-ws-key", func(t Target) []byte {
			return bytes.Replace(upgradeRequest("x", "/?key="+t.Key), []byte("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), nil, 1)
		}},
		{"bad-ws-key", func(t Target) []byte {
			return bytes.Replace(upgradeRequest("x", "/?key="+t.Key), []byte("dGhlIHNhbXBsZSBub25jZQ=="), []byte("short"), 1)
		}},
		{"header-no-colon", func(t Target) []byte { return upgradeRequest("x", "/?key="+t.Key, "NoColonHere") }},
		{"blank-lines", func(Target) []byte { return []byte(strings.Repeat("\r\n", 2000)) }},
		{"unknown-path", func(t Target) []byte { return upgradeRequest("x", "/admin?key="+t.Key) }},
		{"absolute-uri", func(t Target) []byte { return upgradeRequest("x", "http://evil/?key="+t.Key) }},
		{"nul-request", func(Target) []byte { return bytes.Repeat([]byte{0}, 1024) }},
	}
	return e.refuseAll(ctx, cases)
}

// truncated sends requests that stop part-way, in four ways, several of
// each, and wants every one closed by the server, none upgraded, and the
// server's fds back to their level before the check.
func (e *Env) truncated(ctx context.Context) (string, error) {
	base, err := e.baseline(ctx)
	if err != nil {
		return "", err
	}
	full := upgradeRequest(e.Target.WS, "/?key="+e.Target.Key)
	cuts := []struct {
		name string
		n    int
	}{{"line", 9}, {"headers", len(full) / 2}, {"no-final-crlf", len(full) - 2}}
	ends := []string{"fin", "rst", "hold"}
	const each = 5
	wait := e.Opts.HandshakeTimeout + 2*time.Second
	type res struct {
		name string
		o    outcome
	}
	var mu sync.Mutex
	var results []res
	var wg sync.WaitGroup
	for _, cut := range cuts {
		for _, end := range ends {
			for range each {
				wg.Go(func() {
					o := e.truncate(ctx, full[:cut.n], end, wait)
					mu.Lock()
					results = append(results, res{cut.name + "/" + end, o})
					mu.Unlock()
				})
			}
		}
	}
	wg.Wait()
	var bad []string
	var slowestHold time.Duration
	for _, r := range results {
		if strings.HasSuffix(r.name, "/hold") {
			slowestHold = max(slowestHold, r.o.took)
		}
		if !r.o.refused() {
			bad = append(bad, r.name+": "+r.o.String())
		}
	}
	back, err := e.returned(ctx, base, base)
	fig := fmt.Sprintf("%d truncated handshakes (%d ways × %d), held ones closed after %s; %s",
		len(results), len(cuts)*len(ends), each, slowestHold.Round(10*time.Millisecond), back)
	if len(bad) > 0 {
		return fig, fmt.Errorf("not closed by the server: %s", strings.Join(bad, "; "))
	}
	return fig, err
}

// truncate sends part of a request, then ends its side: "fin" half-closes
// and reads, "rst" resets (nothing to read), "hold" keeps the socket open
// and waits for the server to close it.
func (e *Env) truncate(ctx context.Context, part []byte, end string, wait time.Duration) outcome {
	c, err := dialFrom(ctx, e.srcIP(), e.Target.WS, 0)
	if err != nil {
		return outcome{err: err}
	}
	defer c.Close()
	if _, err := c.Write(part); err != nil {
		return outcome{err: err}
	}
	tc := c.(*net.TCPConn)
	switch end {
	case "fin":
		_ = tc.CloseWrite()
	case "rst":
		_ = tc.SetLinger(0)
		return outcome{} // closed by us, with RST: counted as refused
	}
	return readAnswer(c, time.Now(), wait)
}

// header431 sends a good upgrade request with one 100 KB header line.
func (e *Env) header431(ctx context.Context) (string, error) {
	raw := upgradeRequest(e.Target.WS, "/?key="+e.Target.Key, "X-Pad: "+strings.Repeat("p", 100<<10))
	o := sendRaw(ctx, e.srcIP(), e.Target.WS, raw, e.Opts.HandshakeTimeout+2*time.Second)
	fig := fmt.Sprintf("100 KB header line answered %s in %s", o, o.took.Round(time.Millisecond))
	if o.status != 431 {
		return fig, fmt.Errorf("want 431 Request Header Fields Too Large, got %s", o)
	}
	return fig, nil
}

// bareCR sends a good upgrade request with a bare CR in a header value.
func (e *Env) bareCR(ctx context.Context) (string, error) {
	raw := upgradeRequest(e.Target.WS, "/?key="+e.Target.Key, "X-Note: a\rInjected: b")
	o := sendRaw(ctx, e.srcIP(), e.Target.WS, raw, e.Opts.HandshakeTimeout+2*time.Second)
	fig := fmt.Sprintf("bare CR in a header answered %s", o)
	if !o.refused() {
		return fig, fmt.Errorf("want 400, got %s", o)
	}
	return fig, nil
}
