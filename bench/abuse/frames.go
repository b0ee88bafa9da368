package abuse

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// frameCase is one bad frame sequence sent on an upgraded connection and
// what the server must do: close with one of codes, or (when tolerated)
// ignore it and keep serving the connection.
type frameCase struct {
	name     string
	send     []byte
	codes    []int // acceptable close codes
	tolerate bool  // ignoring it is fine if the connection still answers {"type":"ping"}
	path     string
}

func frameChecks() []Check {
	ping := frame(true, 0, 0x9, []byte("x"), true)
	fam := []struct {
		name, about string
		cases       []frameCase
	}{
		{"frames/unmasked", "an unmasked client frame is closed with 1002", []frameCase{
			{name: "text", send: frame(true, 0, 0x1, []byte(`{"type":"ping"}`), false), codes: []int{1002}},
			{name: "ping", send: frame(true, 0, 0x9, nil, false), codes: []int{1002}},
		}},
		{"frames/rsv", "RSV1/2/3 bits (no extension was agreed) are closed with 1002", []frameCase{
			{name: "rsv1", send: frame(true, 4, 0x1, []byte("x"), true), codes: []int{1002}},
			{name: "rsv2", send: frame(true, 2, 0x1, []byte("x"), true), codes: []int{1002}},
			{name: "rsv3", send: frame(true, 1, 0x9, nil, true), codes: []int{1002}},
		}},
		{"frames/opcode", "reserved opcodes 0x3-0x7 and 0xB-0xF are closed with 1002", []frameCase{
			{name: "0x3", send: frame(true, 0, 0x3, []byte("x"), true), codes: []int{1002}},
			{name: "0x7", send: frame(true, 0, 0x7, nil, true), codes: []int{1002}},
			{name: "0xB", send: frame(true, 0, 0xB, nil, true), codes: []int{1002}},
			{name: "0xF", send: frame(true, 0, 0xF, []byte("x"), true), codes: []int{1002}},
		}},
		{"frames/16mb", "a frame announcing 16 MB (or 2^63) is closed with 1009/1002 before its payload is buffered", []frameCase{
			{name: "16MB-text", send: bigHeader(16<<20, 64<<10), codes: []int{1009}},
			{name: "16MB-binary", send: bigHeader(16<<20, 0), codes: []int{1009}},
			{name: "2^63", send: hugeHeader(), codes: []int{1002, 1009}},
		}},
		{"frames/fragmented-control", "a fragmented or oversized control frame is closed with 1002", []frameCase{
			{name: "ping-no-fin", send: frame(false, 0, 0x9, []byte("x"), true), codes: []int{1002}},
			{name: "close-no-fin", send: frame(false, 0, 0x8, nil, true), codes: []int{1002}},
			{name: "ping-126", send: frame(true, 0, 0x9, bytes.Repeat([]byte("p"), 126), true), codes: []int{1002}},
			{name: "ping-inside-fragments", send: cat(frame(false, 0, 0x1, []byte("a"), true), ping, frame(true, 0, 0x0, []byte("b"), true)),
				tolerate: true},
		}},
		{"frames/close-abuse", "close frames with a 1-byte body or an invalid code are answered 1002", []frameCase{
			{name: "1-byte", send: frame(true, 0, 0x8, []byte{3}, true), codes: []int{1002}},
			{name: "code-1005", send: closeFrame(1005, ""), codes: []int{1002}},
			{name: "code-999", send: closeFrame(999, ""), codes: []int{1002}},
			{name: "code-5000", send: closeFrame(5000, ""), codes: []int{1002}},
		}},
		{"frames/utf8", "invalid UTF-8 text is closed with 1007 or ignored, the connection still answering", []frameCase{
			{name: "stellar", send: frame(true, 0, 0x1, []byte{0xff, 0xfe, 0xc0, 0xaf}, true), codes: []int{1007}, tolerate: true},
			{name: "stellar-json", send: frame(true, 0, 0x1, []byte("{\"type\":\"ping\xff\"}"), true), codes: []int{1007}, tolerate: true},
			{name: "realtime", path: "/ws", send: frame(true, 0, 0x1, []byte("{\"type\":\"subscribe\",\"channel\":\"\xc3\x28\"}"), true), codes: []int{1007}, tolerate: true},
			{name: "continuation-alone", send: frame(true, 0, 0x0, []byte("x"), true), codes: []int{1002}, tolerate: true},
		}},
	}
	var out []Check
	for _, f := range fam {
		cases := f.cases
		out = append(out, Check{Name: f.name, Family: "frames", About: f.about,
			Run: func(ctx context.Context, e *Env) (string, error) { return e.frameCases(ctx, cases) }})
	}
	out = append(out, Check{Name: "frames/ping-flood", Family: "frames",
		About: "a client floods 125-byte pings without reading: the server stays responsive, pongs bounded, memory bounded",
		Run:   func(ctx context.Context, e *Env) (string, error) { return e.pingFlood(ctx) }})
	return out
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// bigHeader is a masked text frame header announcing n bytes, followed by
// the first k of them.
func bigHeader(n, k int) []byte {
	h := []byte{0x81, 0x80 | 127}
	h = binary.BigEndian.AppendUint64(h, uint64(n))
	h = append(h, 1, 2, 3, 4)
	return append(h, make([]byte, k)...)
}

func hugeHeader() []byte {
	h := []byte{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0}
	return append(h, 1, 2, 3, 4)
}

// dialAttacker upgrades a connection with the good key from an attacker
// address, on path ("/" by default).
func (e *Env) dialAttacker(ctx context.Context, path string, rcvbuf int) (net.Conn, *bufio.Reader, error) {
	if path == "" {
		path = "/"
	}
	c, err := dialFrom(ctx, e.srcIP(), e.Target.WS, rcvbuf)
	if err != nil {
		return nil, nil, err
	}
	_ = c.SetDeadline(time.Now().Add(e.Opts.HandshakeTimeout + 2*time.Second))
	if _, err := c.Write(upgradeRequest(e.Target.WS, path+"?key="+e.Target.Key)); err != nil {
		c.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, " 101 ") {
		c.Close()
		return nil, nil, fmt.Errorf("upgrade: %q %v", strings.TrimSpace(line), err)
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		if l == "\r\n" {
			break
		}
	}
	_ = c.SetDeadline(time.Time{})
	return c, br, nil
}

func (e *Env) frameCases(ctx context.Context, cases []frameCase) (string, error) {
	res := make([]string, len(cases))
	errs := make([]error, len(cases))
	var wg sync.WaitGroup
	for i, fc := range cases {
		wg.Go(func() { res[i], errs[i] = e.frameCase(ctx, fc) })
	}
	wg.Wait()
	var figs, bad []string
	for i, fc := range cases {
		figs = append(figs, fc.name+"="+res[i])
		if errs[i] != nil {
			bad = append(bad, fc.name+": "+errs[i].Error())
		}
	}
	fig := strings.Join(figs, " ")
	if len(bad) > 0 {
		return fig, fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return fig, nil
}

// jsonPing is the application ping; the server answers {"type":"pong"}.
var jsonPing = frame(true, 0, 0x1, []byte(`{"type":"ping"}`), true)

func (e *Env) frameCase(ctx context.Context, fc frameCase) (string, error) {
	c, br, err := e.dialAttacker(ctx, fc.path, 0)
	if err != nil {
		return "no upgrade", err
	}
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(fc.send); err != nil && !isClosed(err) {
		return "write failed", err
	}
	if fc.tolerate {
		// Ignoring the frame is fine when the connection still works: a
		// JSON ping behind it must be answered (or the close must come).
		_, _ = c.Write(jsonPing)
	}
	end := readUntilClose(c, br, 3*time.Second, func(p []byte) bool {
		return bytes.Contains(p, []byte(`"pong"`))
	})
	switch {
	case end.closed && end.code != 0:
		for _, want := range fc.codes {
			if end.code == want {
				return fmt.Sprint(end.code), nil
			}
		}
		return fmt.Sprint(end.code), fmt.Errorf("closed with %d, want %v", end.code, fc.codes)
	case end.closed:
		return "closed", fmt.Errorf("closed without a close frame, want %v", fc.codes)
	case end.reply != nil && fc.tolerate:
		return "ignored", nil
	case end.reply != nil:
		return "ignored", fmt.Errorf("frame ignored, want close %v", fc.codes)
	}
	return "no answer", fmt.Errorf("neither closed nor answering: %v", end.err)
}

// pingFlood writes FloodFrames 125-byte pings without reading anything,
// then reads what the server sent. The server must keep serving (the
// canary checks that), keep its pongs bounded (it may drop them or cut
// the flooder) and not grow its memory with the flood.
func (e *Env) pingFlood(ctx context.Context) (string, error) {
	base, err := e.metrics(ctx)
	if err != nil {
		return "", err
	}
	c, br, err := e.dialAttacker(ctx, "", 4096)
	if err != nil {
		return "", err
	}
	defer c.Close()
	one := frame(true, 0, 0x9, bytes.Repeat([]byte("f"), 125), true)
	batch := bytes.Repeat(one, 256)
	start := time.Now()
	sent := 0
	for sent < e.Scale.FloodFrames {
		_ = c.SetWriteDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Write(batch); err != nil {
			break // the server stopped reading us or cut us: both fine
		}
		sent += 256
	}
	took := time.Since(start)
	// Pongs past a small queue are dropped by design, {"type":"pong"}
	// included: ask again until the flood is digested and one comes back.
	actx, stopAsking := context.WithCancel(ctx)
	asked := make(chan struct{})
	go func() {
		defer close(asked)
		writeEvery(actx, c, jsonPing, 200*time.Millisecond)
	}()
	end := readUntilClose(c, br, 5*time.Second, func(p []byte) bool { return bytes.Contains(p, []byte(`"pong"`)) })
	stopAsking()
	<-asked
	after, err := e.metrics(ctx)
	if err != nil {
		return "", err
	}
	b, _ := base.Get(MetricRSS)
	a, _ := after.Get(MetricRSS)
	state := "flooder still served"
	if end.closed {
		state = fmt.Sprintf("flooder closed (%d)", end.code)
	}
	fig := fmt.Sprintf("%d pings (%.1f MB) in %s, %d pongs came back, %s, RSS %.1f→%.1f MiB",
		sent, float64(sent*len(one))/1e6, took.Round(time.Millisecond), end.pongs, state, b/(1<<20), a/(1<<20))
	const maxGrowth = 64 << 20
	if a-b > maxGrowth {
		return fig, fmt.Errorf("RSS grew %.0f MiB during the flood (limit %d MiB)", (a-b)/(1<<20), maxGrowth>>20)
	}
	if end.pongs > sent {
		return fig, fmt.Errorf("more pongs (%d) than pings (%d)", end.pongs, sent)
	}
	if !end.closed && end.reply == nil {
		return fig, fmt.Errorf("flooder neither cut nor answered afterwards: %v", end.err)
	}
	return fig, nil
}

// writeEvery writes p to c every period until ctx ends or a write fails.
func writeEvery(ctx context.Context, c net.Conn, p []byte, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(p); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
