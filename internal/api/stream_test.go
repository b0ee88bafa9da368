package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/sse"
	"github.com/stellarfeed/stellarfeed/internal/testutil"
	"github.com/stellarfeed/stellarfeed/internal/wire"
)

// sseEnv serves the API with an SSE hub on a real TCP listener.
type sseEnv struct {
	api  *API
	hub  *sse.Hub
	st   *keys.Store
	set  *metrics.Set
	base string
	hc   *http.Client
	sub  string // subscriber key without limits
}

func newSSEEnv(t *testing.T, cfg Config, hcfg sse.Config) *sseEnv {
	t.Helper()
	if hcfg.FirstID == 0 {
		hcfg.FirstID = 1
	}
	e := &sseEnv{hub: sse.New(hcfg), st: openStore(t), set: metrics.NewSet()}
	e.sub, _ = mustCreate(t, e.st, keys.Options{Kind: keys.KindSubscriber, Label: "bot"})
	e.api = New(cfg, Deps{Publisher: &fakePub{}, Keys: e.st, SSE: e.hub, Metrics: e.set, Now: func() time.Time { return t0 }})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + ln.Addr().String()
	tr := &http.Transport{DisableKeepAlives: true}
	e.hc = &http.Client{Transport: tr}
	done := make(chan error, 1)
	go func() { done <- e.api.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.api.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		tr.CloseIdleConnections()
	})
	return e
}

// event is one parsed SSE event, or a comment.
type event struct {
	ID, Type, Data, Comment string
}

// client is one open stream, parsed by its own goroutine into events.
type client struct {
	resp   *http.Response
	events chan event // closed when the stream ends
}

// open GETs the stream; a non-200 answer is returned with its body.
func (e *sseEnv) open(t *testing.T, query string, hdr ...string) (*client, int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", e.base+"/api/events/stream"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, resp.StatusCode, string(body)
	}
	c := &client{resp: resp, events: make(chan event, 1<<16)}
	go c.read()
	t.Cleanup(c.close)
	return c, 200, ""
}

func (c *client) close() { c.resp.Body.Close() }

func (c *client) read() {
	defer close(c.events)
	br := bufio.NewReader(c.resp.Body)
	var ev event
	var data []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if data != nil {
				ev.Data = strings.Join(data, "\n")
				c.events <- ev
			}
			ev, data = event{}, nil
		case strings.HasPrefix(line, ": "):
			c.events <- event{Comment: line[2:]}
		default:
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "id":
				ev.ID = v
			case "event":
				ev.Type = v
			case "data":
				data = append(data, v)
			}
		}
	}
}

// next returns the next event (comments skipped unless withComments).
func (c *client) next(t *testing.T, withComments bool) event {
	t.Helper()
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatal("stream ended")
			}
			if ev.Comment != "" && !withComments {
				continue
			}
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no event within 5s")
		}
	}
}

// ids reads n pings and returns their ids.
func (c *client) ids(t *testing.T, n int) []uint64 {
	t.Helper()
	var out []uint64
	for range n {
		ev := c.next(t, false)
		id, err := strconv.ParseUint(ev.ID, 10, 64)
		if err != nil || ev.Type != "ping" {
			t.Fatalf("bad event %+v", ev)
		}
		out = append(out, id)
	}
	return out
}

// ended waits for the stream to end and returns the comments seen.
func (c *client) ended(t *testing.T) []string {
	t.Helper()
	var cs []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				return cs
			}
			if ev.Comment != "" {
				cs = append(cs, ev.Comment)
			}
		case <-timeout:
			t.Fatal("stream did not end")
		}
	}
}

func (e *sseEnv) waitSubscribers(t *testing.T, n int) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, 2*time.Millisecond, func() error {
		if got := e.hub.Stats().Subscribers; got != n {
			return fmt.Errorf("%d subscribers, want %d", got, n)
		}
		return nil
	})
}

func ping(site, region string, n int) *wire.Message {
	return wire.FromPayload(site, region, fmt.Appendf(nil, `{"site":%q,"region":%q,"n":%d}`, site, region, n))
}

func TestStreamLive(t *testing.T) {
	e := newSSEEnv(t, Config{}, sse.Config{FirstID: 500, Heartbeat: 20 * time.Millisecond})
	_, k := mustCreate(t, e.st, keys.Options{Kind: keys.KindSubscriber})
	secret, _, _ := e.st.Rotate(k.ID)
	c, status, body := e.open(t, "?key="+secret)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	h := c.resp.Header
	if h.Get("Content-Type") != "text/event-stream; charset=utf-8" || h.Get("Cache-Control") != "no-cache" {
		t.Fatalf("headers %v", h)
	}
	if ev := c.next(t, true); ev.Comment != "stellarfeed ping stream" {
		t.Fatalf("first %+v", ev)
	}
	e.waitSubscribers(t, 1)
	if u, _ := e.st.Usage(k.ID); u.Conns != 1 || u.Connections != 1 {
		t.Fatalf("usage while open %+v", u)
	}
	msgs := []*wire.Message{ping("amazon", "USA", 0), ping("walmart", "", 1), ping("amazon", "JP", 2)}
	for _, m := range msgs {
		e.hub.Publish(m)
	}
	for i, m := range msgs {
		ev := c.next(t, false)
		if ev.ID != strconv.Itoa(500+i) || ev.Type != "ping" || ev.Data != string(m.Payload) {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
	// Idle: heartbeats.
	if ev := c.next(t, true); ev.Comment != "heartbeat" {
		t.Fatalf("idle: %+v", ev)
	}
	// The client leaves; the next heartbeat notices and usage is recorded.
	c.close()
	testutil.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		u, _ := e.st.Usage(k.ID)
		if u.Conns != 0 || u.Deliveries != 3 || u.ConnectedTime <= 0 {
			return fmt.Errorf("usage after close %+v", u)
		}
		return nil
	})
	e.waitSubscribers(t, 0)
	// The key in a header works too.
	c2, status, _ := e.open(t, "", "Authorization", "Bearer "+e.sub)
	if status != 200 || c2.next(t, true).Comment != "stellarfeed ping stream" {
		t.Fatalf("bearer: %d", status)
	}
}

func TestStreamFilters(t *testing.T) {
	e := newSSEEnv(t, Config{}, sse.Config{})
	scoped, _ := mustCreate(t, e.st, keys.Options{Kind: keys.KindSubscriber, Scopes: []string{"amazon:USA", "walmart"}})
	tests := []struct {
		name  string
		query string
		want  []uint64
	}{
		{"everything", "?key=" + e.sub, []uint64{1, 2, 3, 4, 5}},
		{"site", "?key=" + e.sub + "&site=amazon", []uint64{1, 2, 5}},
		{"sites and region", "?key=" + e.sub + "&site=amazon,walmart&region=jp", []uint64{2, 3}},
		{"region lets region-less pass", "?key=" + e.sub + "&region=UK", []uint64{3, 4, 5}},
		{"repeated site", "?key=" + e.sub + "&site=shopify&site=walmart", []uint64{3, 4}},
		{"scopes", "?key=" + scoped, []uint64{1, 3}},
		{"scopes and query", "?key=" + scoped + "&site=amazon", []uint64{1}},
	}
	clients := make([]*client, len(tests))
	for i, tt := range tests {
		c, status, body := e.open(t, tt.query)
		if status != 200 {
			t.Fatalf("%s: %d %s", tt.name, status, body)
		}
		clients[i] = c
	}
	e.waitSubscribers(t, len(tests))
	e.hub.Publish(ping("amazon", "USA", 1)) // 1
	e.hub.Publish(ping("amazon", "JP", 2))  // 2
	e.hub.Publish(ping("walmart", "", 3))   // 3
	e.hub.Publish(ping("shopify", "", 4))   // 4
	e.hub.Publish(ping("amazon", "UK", 5))  // 5
	e.hub.Publish(ping("target", "", 6))    // 6: a marker everyone unscoped gets
	for i, tt := range tests {
		got := clients[i].ids(t, len(tt.want))
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestStreamResume(t *testing.T) {
	e := newSSEEnv(t, Config{}, sse.Config{FirstID: 100, RingSize: 4, Heartbeat: 20 * time.Millisecond})
	for i := range 6 { // ids 100..105; 102..105 kept
		e.hub.Publish(ping("amazon", "USA", i))
	}
	tests := []struct {
		name   string
		query  string
		hdr    []string
		want   []uint64
		notice string
	}{
		{"header", "?key=" + e.sub, []string{"Last-Event-ID", "103"}, []uint64{104, 105}, ""},
		{"query", "?key=" + e.sub + "&lastEventId=102", nil, []uint64{103, 104, 105}, ""},
		{"header wins", "?key=" + e.sub + "&lastEventId=100", []string{"Last-Event-ID", "104"}, []uint64{105}, ""},
		{"older than the ring", "?key=" + e.sub, []string{"Last-Event-ID", "99"}, []uint64{102, 103, 104, 105},
			"events missed: Last-Event-ID 99 is older than the oldest kept event 102, up to 2 events were lost"},
		{"filtered replay", "?key=" + e.sub + "&site=walmart", []string{"Last-Event-ID", "101"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, status, body := e.open(t, tt.query, tt.hdr...)
			if status != 200 {
				t.Fatalf("%d %s", status, body)
			}
			if ev := c.next(t, true); ev.Comment != "stellarfeed ping stream" {
				t.Fatalf("first %+v", ev)
			}
			if tt.notice != "" {
				if ev := c.next(t, true); ev.Comment != tt.notice {
					t.Fatalf("notice %+v", ev)
				}
			}
			if got := c.ids(t, len(tt.want)); !slices.Equal(got, tt.want) {
				t.Fatalf("replayed %v, want %v", got, tt.want)
			}
			c.close()
		})
	}
	e.waitSubscribers(t, 0)
	// Resume then live, with no gap and no duplicate.
	c, _, _ := e.open(t, "?key="+e.sub, "Last-Event-ID", "104")
	e.waitSubscribers(t, 1)
	e.hub.Publish(ping("amazon", "USA", 6)) // 106
	if got := c.ids(t, 2); !slices.Equal(got, []uint64{105, 106}) {
		t.Fatalf("resume then live: %v", got)
	}
}

func TestStreamErrors(t *testing.T) {
	e := newSSEEnv(t, Config{}, sse.Config{})
	revoked, rk := mustCreate(t, e.st, keys.Options{Kind: keys.KindSubscriber})
	if _, err := e.st.Revoke(rk.ID); err != nil {
		t.Fatal(err)
	}
	one, _ := mustCreate(t, e.st, keys.Options{Kind: keys.KindSubscriber, MaxConns: 1})
	ingest, _ := mustCreate(t, e.st, keys.Options{Kind: keys.KindIngest})
	if c, status, body := e.open(t, "?key="+one); status != 200 || c == nil {
		t.Fatalf("first conn of a MaxConns 1 key: %d %s", status, body)
	}
	e.waitSubscribers(t, 1)
	tests := []struct {
		name   string
		query  string
		hdr    []string
		status int
		want   string
	}{
		{"missing key", "", nil, 401, `{"error":"missing key"}`},
		{"unknown key", "?key=sfk_" + strings.Repeat("x", 33), nil, 401, `{"error":"unknown key"}`},
		{"garbage key", "?key=%00%ff", nil, 401, `{"error":"unknown key"}`},
		{"ingest token", "?key=" + ingest, nil, 401, `{"error":"unknown key"}`},
		{"revoked", "?key=" + revoked, nil, 401, `{"error":"key revoked"}`},
		{"max conns", "?key=" + one, nil, 429, `{"error":"too many connections for this key"}`},
		{"bad region", "?key=" + e.sub + "&region=USA,XX", nil, 400, `{"error":"region: unknown region \"XX\" (one of USA, CA, UK, NL, FR, IT, DE, JP, ES, BE, PL, AU)","field":"region"}`},
		{"bad Last-Event-ID", "?key=" + e.sub, []string{"Last-Event-ID", "abc"}, 400, `{"error":"Last-Event-ID must be an event id (a decimal number)","field":"Last-Event-ID"}`},
		{"bad lastEventId", "?key=" + e.sub + "&lastEventId=-1", nil, 400, `{"error":"Last-Event-ID must be an event id (a decimal number)","field":"Last-Event-ID"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, status, body := e.open(t, tt.query, tt.hdr...)
			if status != tt.status || body != tt.want+"\n" {
				t.Fatalf("got %d %s\nwant %d %s", status, body, tt.status, tt.want)
			}
		})
	}
	req, _ := http.NewRequest("POST", e.base+"/api/events/stream?key="+e.sub, nil)
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 405 || string(body) != `{"error":"method not allowed: GET the stream"}`+"\n" || resp.Header.Get("Allow") != "GET" {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	// Only the first conn of "one" subscribed; every refusal was counted.
	if st := e.hub.Stats(); st.Subscribers != 1 || st.Subscribed != 1 {
		t.Fatalf("hub %+v", st)
	}

	// Without a hub the route does not exist.
	plain := newEnv(t, Config{})
	if s, b, _ := plain.do(t, "GET", "/api/events/stream?key="+plain.sub, nil); s != 404 || b != `{"error":"not found: event streams are not enabled"}`+"\n" {
		t.Fatalf("no hub: %d %s", s, b)
	}
}

// TestStreamOutlivesWriteTimeout: the server's WriteTimeout bounds each
// flush of a stream, not the whole stream.
func TestStreamOutlivesWriteTimeout(t *testing.T) {
	e := newSSEEnv(t, Config{WriteTimeout: 100 * time.Millisecond}, sse.Config{Heartbeat: 10 * time.Millisecond})
	c, _, _ := e.open(t, "?key="+e.sub)
	start := time.Now()
	for time.Since(start) < 400*time.Millisecond {
		if ev := c.next(t, true); ev.Comment == "" {
			t.Fatalf("unexpected %+v", ev)
		}
	}
	e.hub.Publish(ping("amazon", "USA", 1))
	if got := c.ids(t, 1); got[0] != 1 {
		t.Fatalf("ids %v", got)
	}
}

// TestStreamSlowClientDropped: a client that stops reading is dropped by
// the hub (its queue fills), its connection is cut at the write deadline,
// and Publish never waits for it.
func TestStreamSlowClientDropped(t *testing.T) {
	e := newSSEEnv(t, Config{SSEWriteTimeout: 200 * time.Millisecond}, sse.Config{Buffer: 8, RingSize: 16, Logger: quietLog})
	_, k := mustCreate(t, e.st, keys.Options{Kind: keys.KindSubscriber})
	secret, _, _ := e.st.Rotate(k.ID)
	// Open without reading the body: only the headers were read.
	req, _ := http.NewRequest("GET", e.base+"/api/events/stream?key="+secret, nil)
	resp, err := e.hc.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("open: %v", err)
	}
	defer resp.Body.Close()
	e.waitSubscribers(t, 1)

	// Publish 64 KiB events one by one while the stream keeps up, until
	// the socket buffers are full and a flush blocks; then overflow the
	// queue. Publish must return every time.
	payload := []byte(`{"site":"amazon","region":"USA","pad":"` + strings.Repeat("x", 64<<10) + `"}`)
	m := wire.FromPayload("amazon", "USA", payload)
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := 0; i < 2000; i++ {
			e.hub.Publish(m)
			deadline := time.Now().Add(100 * time.Millisecond)
			for e.hub.Stats().Delivered < uint64(i+1) && time.Now().Before(deadline) {
				time.Sleep(100 * time.Microsecond)
			}
			if e.hub.Stats().Delivered < uint64(i+1) {
				break // the writer is stuck on the full socket
			}
		}
		for range 8 + 2 {
			e.hub.Publish(m)
		}
	}()
	select {
	case <-published:
	case <-time.After(60 * time.Second):
		t.Fatal("Publish blocked behind a client that does not read")
	}
	if st := e.hub.Stats(); st.Dropped != 1 || st.Subscribers != 0 {
		t.Fatalf("hub %+v", st)
	}
	// The writer was stuck on a full socket: the write deadline frees it.
	testutil.Eventually(t, 10*time.Second, 5*time.Millisecond, func() error {
		if n := e.api.m.sseConns.Load(); n != 0 {
			return fmt.Errorf("%d live streams", n)
		}
		if u, _ := e.st.Usage(k.ID); u.Conns != 0 {
			return fmt.Errorf("usage %+v", u)
		}
		return nil
	})
	// Others are unaffected.
	c, status, _ := e.open(t, "?key="+e.sub)
	if status != 200 {
		t.Fatalf("after drop: %d", status)
	}
	e.waitSubscribers(t, 1)
	e.hub.Publish(ping("walmart", "", 1))
	if ev := c.next(t, false); ev.ID != strconv.FormatUint(e.hub.Stats().LastID, 10) {
		t.Fatalf("after drop got %+v", ev)
	}
}

// TestStreamShutdown: Shutdown ends every stream (the hub's Close), the
// clients see a clean end with the reason, and nothing leaks (TestMain).
func TestStreamShutdown(t *testing.T) {
	hub := sse.New(sse.Config{FirstID: 1})
	st := openStore(t)
	sub, _ := mustCreate(t, st, keys.Options{Kind: keys.KindSubscriber})
	a := New(Config{}, Deps{Publisher: hub, Keys: st, SSE: hub})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ln) }()
	e := &sseEnv{hub: hub, base: "http://" + ln.Addr().String(), hc: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
	var clients []*client
	for range 3 {
		c, status, body := e.open(t, "?key="+sub)
		if status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		clients = append(clients, c)
	}
	e.waitSubscribers(t, 3)
	hub.Publish(ping("amazon", "USA", 1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
	for _, c := range clients {
		if got := c.ids(t, 1); got[0] != 1 {
			t.Fatalf("ids %v", got)
		}
		cs := c.ended(t)
		if len(cs) == 0 || cs[len(cs)-1] != "stream closed: sse: hub closed" {
			t.Fatalf("comments at the end %q", cs)
		}
	}
	if _, err := hub.Subscribe(sse.SubscribeOptions{}); !errors.Is(err, sse.ErrClosed) {
		t.Fatalf("hub still open: %v", err)
	}
}

func TestPublishers(t *testing.T) {
	a, b := &fakePub{}, &fakePub{}
	m := ping("amazon", "USA", 1)
	Publishers{a, b}.Publish(m)
	if got := a.take(); len(got) != 1 || got[0] != m {
		t.Fatalf("first got %v", got)
	}
	if got := b.take(); len(got) != 1 || got[0] != m {
		t.Fatalf("second got %v", got)
	}
}
