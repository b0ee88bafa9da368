package broadcast

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

// rtMsg is any JSON frame the realtime endpoint sends.
type rtMsg struct {
	Type      string          `json:"type"`
	Message   string          `json:"message"`
	UserID    string          `json:"userId"`
	Channel   string          `json:"channel"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	Timestamp string          `json:"timestamp"`
}

// readJSON reads the next data frame and decodes it.
func (c *client) readJSON(t testing.TB) rtMsg {
	t.Helper()
	for {
		h, p, err := c.readFrame(5 * time.Second)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		switch h.OpCode {
		case ws.OpPing:
			continue // a server ping may cross the test's traffic
		case ws.OpText:
		default:
			t.Fatalf("opcode %v (%q), want text", h.OpCode, p)
		}
		var m rtMsg
		if err := json.Unmarshal(p, &m); err != nil {
			t.Fatalf("frame %q is not JSON: %v", p, err)
		}
		return m
	}
}

// call sends a text message and reads the reply, which must have type want.
func (c *client) call(t testing.TB, msg, want string) rtMsg {
	t.Helper()
	if err := c.send(ws.OpText, []byte(msg)); err != nil {
		t.Fatalf("send %s: %v", msg, err)
	}
	m := c.readJSON(t)
	if m.Type != want {
		t.Fatalf("%s: got %+v, want type %q", msg, m, want)
	}
	return m
}

// expectEvent reads the next frame: an event carrying ping i.
func (c *client) expectEvent(t testing.TB, i int) rtMsg {
	t.Helper()
	m := c.readJSON(t)
	if m.Event != "ping" || skuIndex(m.Data) != i {
		t.Fatalf("got %+v (ping %d), want event for ping %d", m, skuIndex(m.Data), i)
	}
	return m
}

// publishSettled publishes and waits until every shard ran its pass, so
// every conn has considered the message.
func publishSettled(t testing.TB, s *Server, site, region string, i int) {
	t.Helper()
	s.Publish(testMessage(t, site, region, i))
	testutil.Eventually(t, 5*time.Second, time.Millisecond, func() error {
		if !s.idle() {
			return errors.New("passes running")
		}
		return nil
	})
}

func waitConns(t testing.TB, s *Server, stellar, realtime int64) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		st := s.Stats()
		if st.StellarConns != stellar || st.WSConns != realtime || st.Conns != stellar+realtime {
			return fmt.Errorf("conns %d stellar %d ws %d", st.Conns, st.StellarConns, st.WSConns)
		}
		return nil
	})
}

func TestRealtimeLifecycle(t *testing.T) {
	auth := newFakeAuth()
	auth.add("dash", Identity{KeyID: "dash-1"})
	auth.add("bot", Identity{KeyID: "bot-1"})
	s, addr := startServer(t, Config{Workers: 2}, auth)
	rt := mustDial(t, addr, "/ws?key=dash")
	bot := mustDial(t, addr, "/?key=bot")
	waitConns(t, s, 1, 1)

	// connected, first and alone.
	m := rt.readJSON(t)
	if m.Type != "connected" || m.UserID != "dash-1" || !strings.Contains(m.Message, "subscribe") {
		t.Fatalf("connected message: %+v", m)
	}

	// Nothing before a subscription; the Stellar bot gets the raw ping.
	publishSettled(t, s, "amazon", "USA", 0)
	if _, p, err := bot.readFrame(5 * time.Second); err != nil || skuIndex(p) != 0 || strings.Contains(string(p), `"event"`) {
		t.Fatalf("stellar bot: %q %v", p, err)
	}

	// Subscribe: ack, then only the subscribed channel, as envelopes.
	if m := rt.call(t, `{"type":"subscribe","channel":"amazon:usa"}`, "subscribed"); m.Channel != "amazon:USA" {
		t.Fatalf("ack channel %q", m.Channel)
	}
	before := time.Now().Truncate(time.Millisecond)
	for i, sr := range [][2]string{{"amazon", "USA"}, {"amazon", "UK"}, {"walmart", ""}, {"amazon", "USA"}} {
		s.Publish(testMessage(t, sr[0], sr[1], i+1))
	}
	after := time.Now()
	for _, want := range []int{1, 4} {
		ev := rt.expectEvent(t, want)
		ts, err := time.Parse("2006-01-02T15:04:05.000Z", ev.Timestamp)
		if err != nil || ts.Before(before) || ts.After(after) {
			t.Errorf("timestamp %q (%v) outside [%v, %v]", ev.Timestamp, err, before, after)
		}
		var data map[string]any
		if err := json.Unmarshal(ev.Data, &data); err != nil || data["site"] != "amazon" || data["region"] != "USA" {
			t.Errorf("data %s: %v", ev.Data, err)
		}
	}
	// The bot got all four, unwrapped.
	for want := 1; want <= 4; want++ {
		if _, p, err := bot.readFrame(5 * time.Second); err != nil || skuIndex(p) != want || p[0] != '{' || strings.Contains(string(p), `"event"`) {
			t.Fatalf("stellar bot frame %d: %q %v", want, p, err)
		}
	}
	// Nothing filtered out sneaks in later: the next event is the next match.
	s.Publish(testMessage(t, "amazon", "USA", 5))
	rt.expectEvent(t, 5)

	// A second channel, then unsubscribe the first.
	rt.call(t, `{"type":"subscribe","channel":"walmart"}`, "subscribed")
	s.Publish(testMessage(t, "walmart", "", 6))
	rt.expectEvent(t, 6)
	if m := rt.call(t, `{"type":"unsubscribe","channel":"amazon:USA"}`, "unsubscribed"); m.Channel != "amazon:USA" {
		t.Fatalf("unsubscribe ack %+v", m)
	}
	s.Publish(testMessage(t, "amazon", "USA", 7))
	s.Publish(testMessage(t, "walmart", "", 8))
	rt.expectEvent(t, 8)

	// Application ping.
	rt.call(t, `{"type":"ping"}`, "pong")

	// Bad messages: an error each, and the connection stays usable.
	for _, tt := range []struct{ msg, want string }{
		{`{nope`, "invalid JSON"},
		{`[1,2]`, "JSON object"},
		{`{"type":"hello"}`, `unknown type "hello"`},
		{`{"type":3}`, "type: must be a string"},
		{`{"type":"subscribe"}`, "channel: required"},
		{`{"type":"subscribe","channel":"amazon:MARS"}`, "unknown region"},
		{`{"type":"subscribe","channel":"walmart:USA"}`, "only amazon has regions"},
		{`{"type":"subscribe","channel":"Bad Site"}`, "site"},
	} {
		if m := rt.call(t, tt.msg, "error"); !strings.Contains(m.Message, tt.want) {
			t.Errorf("%s: error %q, want it to mention %q", tt.msg, m.Message, tt.want)
		}
	}
	if err := rt.send(ws.OpBinary, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if m := rt.readJSON(t); m.Type != "error" || !strings.Contains(m.Message, "binary") {
		t.Fatalf("binary: %+v", m)
	}
	rt.call(t, `{ "type" : "ping", "id": 42 }`, "pong")

	// Unsubscribe everything: nothing more arrives; a pong proves the
	// conn is alive and nothing was queued before it.
	rt.call(t, `{"type":"unsubscribe","channel":"*"}`, "unsubscribed")
	publishSettled(t, s, "walmart", "", 9)
	rt.call(t, `{"type":"ping"}`, "pong")

	// Revocation works on /ws conns too.
	if n := s.DisconnectKey("dash-1", ws.StatusPolicyViolation, "key revoked"); n != 1 {
		t.Fatalf("DisconnectKey = %d", n)
	}
	if code, reason, err := rt.expectClose(5 * time.Second); err != nil || code != ws.StatusPolicyViolation || reason != "key revoked" {
		t.Fatalf("revoked: %d %q %v", code, reason, err)
	}
	waitConns(t, s, 1, 0)
	var eps []string
	for _, in := range s.Conns() {
		eps = append(eps, in.Endpoint)
	}
	if len(eps) != 1 || eps[0] != "stellar" {
		t.Errorf("Conns endpoints %v", eps)
	}
}

func TestRealtimeScopes(t *testing.T) {
	auth := newFakeAuth()
	auth.add("usa", Identity{KeyID: "usa", Scopes: []string{"amazon:USA"}})
	s, addr := startServer(t, Config{}, auth)
	c := mustDial(t, addr, "/ws?key=usa")
	if m := c.readJSON(t); m.Type != "connected" {
		t.Fatalf("%+v", m)
	}
	for _, ch := range []string{"walmart", "amazon", "amazon:UK"} {
		m := c.call(t, `{"type":"subscribe","channel":"`+ch+`"}`, "error")
		if !strings.Contains(m.Message, "scope") || !strings.Contains(m.Message, ch) {
			t.Errorf("%s: %q", ch, m.Message)
		}
	}
	c.call(t, `{"type":"subscribe","channel":"amazon:USA"}`, "subscribed")
	// "*" is allowed and still bounded by the scopes.
	c.call(t, `{"type":"subscribe","channel":"*"}`, "subscribed")
	for i, sr := range [][2]string{{"amazon", "UK"}, {"walmart", ""}, {"amazon", "USA"}} {
		s.Publish(testMessage(t, sr[0], sr[1], i))
	}
	c.expectEvent(t, 2)
}

func TestRealtimeRefusals(t *testing.T) {
	auth := newFakeAuth()
	auth.add("good", Identity{KeyID: "g"})
	auth.errs["locked"] = &AuthError{Status: http.StatusForbidden, Reason: "ip locked"}
	s, addr := startServer(t, Config{MaxConns: 1}, auth)
	tests := []struct {
		name   string
		target string
		code   ws.StatusCode
		reason string
	}{
		{"unknown key", "/ws?key=zzz", ws.StatusPolicyViolation, "unknown key"},
		{"missing key", "/ws", ws.StatusPolicyViolation, "missing key"},
		{"auth error", "/ws?key=locked", ws.StatusPolicyViolation, "ip locked"},
		{"bad region", "/ws?key=good&region=MARS", ws.StatusPolicyViolation, "region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustDial(t, addr, tt.target) // upgraded: a browser reads close frames, not 401 bodies
			code, reason, err := c.expectClose(5 * time.Second)
			if err != nil || code != tt.code || !strings.Contains(reason, tt.reason) {
				t.Fatalf("got %d %q %v, want %d %q", code, reason, err, tt.code, tt.reason)
			}
			_ = c.send(ws.OpClose, []byte{0x03, 0xe8})
			if _, err := c.br.ReadByte(); err == nil {
				t.Fatal("refused conn not closed")
			}
		})
	}
	// Full: the one slot is taken, a /ws newcomer hears 1013, a Stellar one 503.
	mustDial(t, addr, "/ws?key=good")
	waitConns(t, s, 0, 1)
	c := mustDial(t, addr, "/ws?key=good")
	if code, _, err := c.expectClose(5 * time.Second); err != nil || code != statusTryAgainLater {
		t.Fatalf("full /ws: %d %v", code, err)
	}
	if _, status, _, err := dialWS(addr, "/?key=good"); err != nil || status != http.StatusServiceUnavailable {
		t.Fatalf("full stellar: %d %v", status, err)
	}
	st := s.Stats()
	if st.Rejected.Auth != 3 || st.Rejected.BadRequest != 1 || st.Rejected.Full != 2 {
		t.Errorf("rejections %+v", st.Rejected)
	}
	if st.Conns != 1 {
		t.Errorf("refused conns registered: %d", st.Conns)
	}
}

// dialRealtime opens n /ws conns subscribed to channel, drained by
// goroutines that end when the conns close.
func dialRealtime(t testing.TB, s *Server, addr, channel string, n int) []*client {
	t.Helper()
	cs := make([]*client, n)
	for i := range cs {
		c := mustDial(t, addr, "/ws?key=k")
		if m := c.readJSON(t); m.Type != "connected" {
			t.Fatalf("%+v", m)
		}
		c.call(t, `{"type":"subscribe","channel":"`+channel+`"}`, "subscribed")
		cs[i] = c
	}
	return cs
}

func drain(c *client) {
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := c.br.Read(buf); err != nil {
				return
			}
		}
	}()
}

func TestEnvelopeBuiltOnce(t *testing.T) {
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{Workers: 4}, auth)
	// Only Stellar conns: no envelope is ever built.
	bot := mustDial(t, addr, "/?key=k")
	drain(bot)
	waitConns(t, s, 1, 0)
	for i := range 5 {
		publishSettled(t, s, "amazon", "USA", i)
	}
	// A /ws conn subscribed elsewhere: still none.
	other := dialRealtime(t, s, addr, "walmart", 1)[0]
	for i := range 5 {
		publishSettled(t, s, "amazon", "USA", i)
	}
	if n := s.Stats().Envelopes; n != 0 {
		t.Fatalf("%d envelopes built without a receiving /ws conn", n)
	}
	// Eight /ws conns over four shards: one envelope per message.
	const msgs = 20
	cs := dialRealtime(t, s, addr, "*", 8)
	for i := range msgs {
		s.Publish(testMessage(t, "amazon", "USA", 100+i))
	}
	for _, c := range cs {
		for i := range msgs {
			c.expectEvent(t, 100+i)
		}
	}
	if n := s.Stats().Envelopes; n != msgs {
		t.Fatalf("Envelopes = %d for %d messages", n, msgs)
	}
	_ = other
}

func TestRealtimeFanOutAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	var calls, frames atomic.Int64
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{OnFanout: func(age time.Duration, delivered int) {
		calls.Add(1)
		frames.Add(int64(delivered))
	}}, auth)
	msg := testMessage(t, "amazon", "USA", 1)
	measure := func(n int) float64 {
		for _, c := range dialRealtime(t, s, addr, "amazon", n-int(s.Stats().WSConns)) {
			drain(c)
		}
		for range 3 {
			s.Publish(msg)
		}
		waitDelivered(s, s.stats.delivered.Load()+uint64(3*n))
		return testing.AllocsPerRun(50, func() {
			target := s.stats.delivered.Load() + uint64(n)
			s.Publish(msg)
			waitDelivered(s, target)
		})
	}
	one := measure(1)
	many := measure(300)
	t.Logf("allocs per Publish+pass to /ws conns: %.2f with 1 conn, %.2f with 300", one, many)
	// The envelope costs two allocations per message, none per conn.
	if many > one || many > 2 {
		t.Fatalf("fan-out to /ws allocates per conn: %.2f for 300 conns, %.2f for 1", many, one)
	}
	if calls.Load() == 0 || frames.Load() == 0 {
		t.Fatal("OnFanout never called")
	}
}

func TestFanoutLatency(t *testing.T) {
	type report struct {
		age       time.Duration
		delivered int
	}
	reports := make(chan report, 1024)
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{Workers: 2, OnFanout: func(age time.Duration, delivered int) {
		select {
		case reports <- report{age, delivered}:
		default:
		}
	}}, auth)
	const conns = 10
	for range conns {
		drain(mustDial(t, addr, "/?key=k"))
	}
	waitConns(t, s, conns, 0)
	start := time.Now()
	publishSettled(t, s, "amazon", "USA", 1)
	bound := time.Since(start)
	total := 0
	for total < conns {
		select {
		case r := <-reports:
			if r.age <= 0 || r.age > bound {
				t.Fatalf("age %v outside (0, %v]", r.age, bound)
			}
			total += r.delivered
		case <-time.After(5 * time.Second):
			t.Fatalf("reports cover %d of %d deliveries", total, conns)
		}
	}
	if total != conns {
		t.Errorf("reported %d deliveries, want %d", total, conns)
	}
	if lf := s.Stats().LastFanout; lf <= 0 || lf > bound {
		t.Errorf("Stats.LastFanout = %v", lf)
	}
	// A pass with nothing to write reports nothing.
	s.sweep(time.Now(), false)
	testutil.Eventually(t, 5*time.Second, time.Millisecond, func() error {
		if !s.idle() {
			return errors.New("busy")
		}
		return nil
	})
	select {
	case r := <-reports:
		t.Fatalf("idle pass reported %+v", r)
	default:
	}
}

func TestReplyQueueLimit(t *testing.T) {
	c := &conn{srv: &Server{mlog: &msgLog{epoch: time.Now()}}, filt: filter{realtime: true}}
	ack := replyAck("subscribed", channel{site: "amazon", region: "USA"})
	n := 0
	for c.state == stateOpen {
		if !c.reply(ack) {
			t.Fatal("reply reported nothing to do")
		}
		n++
		if n > replyLimit {
			t.Fatal("reply queue unbounded")
		}
	}
	if len(c.ctrl) > replyLimit+ctrlHardExtra {
		t.Fatalf("queue holds %d bytes", len(c.ctrl))
	}
	tail := c.ctrl[len(c.ctrl)-len(appendClose(nil, ws.StatusPolicyViolation, "too many unanswered messages")):]
	if tail[0] != 0x88 || ws.StatusCode(int(tail[2])<<8|int(tail[3])) != ws.StatusPolicyViolation {
		t.Fatalf("queue does not end with a 1008 close: % x", tail[:4])
	}
	t.Logf("%d acks queued before the close", n-1)
}

// TestIdleRealtimeConns: subscribed, idle /ws conns cost no goroutine and
// keep no reply buffer once their connected message and ack went out.
func TestIdleRealtimeConns(t *testing.T) {
	const n = 2000
	auth := newFakeAuth()
	auth.add("k", Identity{KeyID: "k"})
	s, addr := startServer(t, Config{}, auth)
	before := runtime.NumGoroutine()
	var ms0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	stop := startChildSub(t, addr, "/ws?key=k", "amazon:USA", n)
	defer stop()
	waitConns(t, s, 0, n)
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if !s.idle() {
			return errors.New("passes running")
		}
		return nil
	})
	g := runtime.NumGoroutine()
	var ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	t.Logf("goroutines: %d before, %d with %d idle /ws conns; server heap %+d B per conn",
		before, g, n, (int64(ms1.HeapAlloc)-int64(ms0.HeapAlloc))/n)
	if g >= 100 {
		t.Fatalf("%d goroutines with %d idle connections", g, n)
	}
	held := 0
	s.mu.Lock()
	for _, c := range s.conns {
		c.mu.Lock()
		if c.ctrl != nil && cap(c.ctrl) > ctrlKeepCap {
			held++
		}
		c.mu.Unlock()
	}
	s.mu.Unlock()
	if held > 0 {
		t.Errorf("%d idle /ws conns keep a reply buffer over %d bytes", held, ctrlKeepCap)
	}
}
