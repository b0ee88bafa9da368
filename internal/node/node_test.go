package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"go.uber.org/goleak"

	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/leaktest"
	"github.com/stellarfeed/stellarfeed/monitors"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leaktest.Options()...)
}

func startNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.WSAddr, cfg.APIAddr = "127.0.0.1:0", "127.0.0.1:0"
	n, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return n
}

func dial(t *testing.T, n *Node, query string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, _, err := ws.Dialer{}.Dial(ctx, fmt.Sprintf("ws://%s/?%s", n.WSAddr(), query))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitConns waits until the broadcaster has registered k connections: a
// client sees the 101 answer a moment before its connection joins a shard,
// and a ping published in between is not meant for it.
func waitConns(t *testing.T, n *Node, k int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for n.Hub().Stats().Conns < k {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections registered, want %d", n.Hub().Stats().Conns, k)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func postPings(t *testing.T, n *Node, token, body string) (int, string) {
	t.Helper()
	return request(t, "POST", fmt.Sprintf("http://%s/api/pings", n.APIAddr()), map[string]string{"Authorization": "Bearer " + token}, body)
}

func readPing(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		data, op, err := wsutil.ReadServerData(c)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if op == ws.OpText {
			return data
		}
	}
}

// TestIngestToClient follows one ping through the real process: HTTP
// ingest, validation, one encoding, the broadcaster, a WebSocket client.
func TestIngestToClient(t *testing.T) {
	n := startNode(t, Config{Demo: true})
	demo := n.Demo()
	c := dial(t, n, "key="+demo.Subscriber)
	filtered := dial(t, n, "key="+demo.Subscriber+"&site=walmart")
	waitConns(t, n, 2)

	ping := `{"site":"amazon","region":"DE","sku":"B0CHX1W1XY","offerId":"abc%2Bdef","details":{"productPrice":"699.99"}}`
	code, body := postPings(t, n, demo.Ingest, ping)
	if code != http.StatusAccepted {
		t.Fatalf("ingest = %d %s", code, body)
	}
	got := readPing(t, c)
	if !bytes.Equal(got, []byte(ping)) {
		t.Fatalf("client got %s\nwant %s", got, ping)
	}

	// The walmart-only client sees the walmart ping and nothing before it.
	wm := `{"site":"walmart","sku":"123","offerId":"E29410D79B744EA6B99DFF6FF89213B8"}`
	if code, body := postPings(t, n, demo.Ingest, wm); code != http.StatusAccepted {
		t.Fatalf("ingest = %d %s", code, body)
	}
	if got := readPing(t, filtered); string(got) != wm {
		t.Fatalf("filtered client got %s", got)
	}

	// Invalid pings are refused with the field named and never broadcast.
	code, body = postPings(t, n, demo.Ingest, `{"site":"amazon","region":"US","sku":"B0CHX1W1XY","offerId":"x"}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "region") {
		t.Fatalf("invalid ingest = %d %s", code, body)
	}
	if got := readPing(t, c); string(got) != wm {
		t.Fatalf("after an invalid ping the client got %s", got)
	}
}

func TestBadKeysRefused(t *testing.T) {
	n := startNode(t, Config{Demo: true})
	for _, q := range []string{"", "key=", "key=sfk_nope", "key=" + n.Demo().Ingest} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _, _, err := ws.Dialer{}.Dial(ctx, fmt.Sprintf("ws://%s/?%s", n.WSAddr(), q))
		cancel()
		var se ws.StatusError
		if err == nil || !errors.As(err, &se) || int(se) != http.StatusUnauthorized {
			t.Errorf("query %q: dial error %v, want 401", q, err)
		}
	}
}

// TestRevokeKicksLiveClient: a key revoked through the store closes its
// live connections with 1008.
func TestRevokeKicksLiveClient(t *testing.T) {
	n := startNode(t, Config{})
	secret, k, err := n.Keys().Create(keys.Options{Kind: keys.KindSubscriber, Label: "to revoke"})
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, n, "key="+secret)
	if _, err := n.Keys().Revoke(k.ID); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _, err = wsutil.ReadServerData(c)
	var ce wsutil.ClosedError
	if !errors.As(err, &ce) || ce.Code != ws.StatusPolicyViolation {
		t.Fatalf("after revoke: %v, want close 1008", err)
	}
}

// TestDemoKeysSurviveRestart: `make run` twice prints the same URL.
func TestDemoKeysSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	n, err := Start(context.Background(), Config{DataDir: dir, Demo: true, WSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	first := n.Demo()
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	n2 := startNode(t, Config{DataDir: dir, Demo: true})
	if n2.Demo() != first {
		t.Fatalf("demo keys changed across restart: %+v vs %+v", n2.Demo(), first)
	}
	if _, err := OpenDB(dir, false); !errors.Is(err, ErrLocked) {
		t.Fatalf("OpenDB while running = %v, want ErrLocked", err)
	}
	url, tok, err := LocalAPI(dir)
	if err != nil || !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasPrefix(tok, "sfa_") {
		t.Fatalf("LocalAPI = %q, %q, %v", url, tok, err)
	}
}

// TestSSEGetsTheSamePings: one ingest feeds both client endpoints.
func TestSSEGetsTheSamePings(t *testing.T) {
	n := startNode(t, Config{Demo: true})
	demo := n.Demo()
	resp, err := http.Get(fmt.Sprintf("http://%s/api/events/stream?key=%s&site=walmart", n.APIAddr(), demo.Subscriber))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ping := `{"site":"walmart","sku":"123","offerId":"E29410D79B744EA6B99DFF6FF89213B8"}`
	lines := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := resp.Body.Read(buf)
			for _, l := range strings.Split(string(buf[:k]), "\n") {
				lines <- l
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	postPings(t, n, demo.Ingest, `{"site":"amazon","region":"DE","sku":"B0CHX1W1XY","offerId":"x"}`) // filtered out
	if code, body := postPings(t, n, demo.Ingest, ping); code != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", code, body)
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream ended")
			}
			if strings.Contains(l, "B0CHX1W1XY") {
				t.Fatalf("filtered ping delivered: %q", l)
			}
			if l == "data: "+ping {
				resp.Body.Close()
				return
			}
		case <-timeout:
			t.Fatal("no SSE event")
		}
	}
}

// TestAdminConnections: a provider sees live connections per key and kicks
// one; the kicked client gets 1008, the others stay.
func TestAdminConnections(t *testing.T) {
	n := startNode(t, Config{Demo: true})
	demo := n.Demo()
	a := dial(t, n, "key="+demo.Subscriber)
	b := dial(t, n, "key="+demo.Subscriber)
	url, tok, err := LocalAPI(n.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	c := api.NewClient(url, tok, nil)
	ctx := context.Background()
	var list api.ConnList
	for i := 0; i < 100; i++ { // the second upgrade may still be registering
		if list, err = c.Connections(ctx); err != nil || list.Total == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || list.Total != 2 || len(list.ByKey) != 1 || len(list.Connections) != 2 {
		t.Fatalf("connections: %+v %v", list, err)
	}
	if err := c.Kick(ctx, list.Connections[0].ID); err != nil {
		t.Fatal(err)
	}
	var ae *api.APIError
	if err := c.Kick(ctx, 999999); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("kick unknown: %v", err)
	}
	// One of the two is closed with 1008; the other still receives pings.
	closed, open := 0, 0
	for _, conn := range []net.Conn{a, b} {
		_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, _, err := wsutil.ReadServerData(conn)
		var ce wsutil.ClosedError
		switch {
		case errors.As(err, &ce) && ce.Code == ws.StatusPolicyViolation:
			closed++
		case err != nil:
			open++ // read deadline: still connected, nothing to read
		}
	}
	if closed != 1 || open != 1 {
		t.Fatalf("after kick: %d closed, %d open", closed, open)
	}
}

// TestMetricsMove: the broadcaster's and ingest's series are on /metrics
// and count traffic.
func TestMetricsMove(t *testing.T) {
	n := startNode(t, Config{Demo: true})
	demo := n.Demo()
	c := dial(t, n, "key="+demo.Subscriber)
	waitConns(t, n, 1)
	scrape := func() string {
		resp, err := http.Get(fmt.Sprintf("http://%s/metrics", n.APIAddr()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if code, body := postPings(t, n, demo.Ingest, `{"site":"shopify","sku":"1"}`); code != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", code, body)
	}
	readPing(t, c)
	body := scrape()
	for _, want := range []string{
		`stellarfeed_connections{endpoint="stellar"} 1`,
		`stellarfeed_pings_published_total 1`,
		`stellarfeed_deliveries_total 1`,
		`stellarfeed_ingest_requests_total{code="202"} 1`,
		`stellarfeed_fanout_latency_seconds_count`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestStartFailureLeavesNothing: a start that fails half-way (here the
// engine refuses its targets) stops what it had started; goleak in
// TestMain checks that no goroutine is left.
func TestStartFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	_, err := Start(context.Background(), Config{
		DataDir: dir, WSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler),
		RunEngine: true, Targets: []engine.Target{{Target: monitors.Target{Site: "no-such-site", SKU: "1"}}},
	})
	if err == nil {
		t.Fatal("Start with an unknown site succeeded")
	}
	// The store is closed again: the data directory can be reopened.
	db, err := OpenDB(dir, false)
	if err != nil {
		t.Fatalf("data directory still locked after a failed start: %v", err)
	}
	db.Close()
}
