package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gobwas/ws"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/stellarfeed/stellarfeed/internal/leaktest"
	"github.com/stellarfeed/stellarfeed/internal/wire"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/stellar"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leaktest.Options()...)
}

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// fakePub records what was published.
type fakePub struct {
	mu   sync.Mutex
	msgs []*wire.Message
}

func (f *fakePub) Publish(m *wire.Message) {
	f.mu.Lock()
	f.msgs = append(f.msgs, m)
	f.mu.Unlock()
}

func (f *fakePub) take() []*wire.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.msgs
	f.msgs = nil
	return out
}

// checkFrame asserts m is one valid Stellar text frame and returns its ping.
func checkFrame(t testing.TB, m *wire.Message) stellar.Ping {
	t.Helper()
	r := bytes.NewReader(m.Frame)
	h, err := ws.ReadHeader(r)
	if err != nil {
		t.Fatalf("frame header: %v", err)
	}
	if !h.Fin || h.OpCode != ws.OpText || h.Masked || h.Length != int64(len(m.Payload)) || int(h.Length) != r.Len() {
		t.Fatalf("bad frame header %+v for %d payload bytes, %d left", h, len(m.Payload), r.Len())
	}
	if !bytes.Equal(m.Frame[len(m.Frame)-len(m.Payload):], m.Payload) {
		t.Fatal("payload is not the frame's tail")
	}
	p, err := stellar.Decode(m.Payload)
	if err != nil {
		t.Fatalf("published payload does not decode: %v", err)
	}
	if err := (stellar.Rules{}).Validate(&p); err != nil {
		t.Fatalf("published ping is invalid: %v", err)
	}
	if p.Site != m.Site || p.Region != m.Region {
		t.Fatalf("message site/region %s/%s, ping %s/%s", m.Site, m.Region, p.Site, p.Region)
	}
	return p
}

type env struct {
	api    *API
	pub    *fakePub
	st     *keys.Store
	set    *metrics.Set
	ln     *fasthttputil.InmemoryListener
	hc     *fasthttp.HostClient
	ingest string // valid ingest token
	admin  string // valid admin token
	sub    string // valid subscriber key
	ready  error
	clock  atomic.Int64 // API time, Unix ns; t0 unless a test moves it
}

// setNow moves the API's clock.
func (e *env) setNow(t time.Time) { e.clock.Store(t.UnixNano()) }

func openStore(t testing.TB) *keys.Store {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "api.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := keys.Open(db, keys.WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func mustCreate(t testing.TB, st *keys.Store, o keys.Options) (string, keys.Key) {
	t.Helper()
	s, k, err := st.Create(o)
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

// newEnv serves a fresh API over an in-memory listener until the test ends.
// newEnv serves an API over an in-memory listener; deps, if given, adjust
// its Deps before it starts.
func newEnv(t testing.TB, cfg Config, deps ...func(*Deps)) *env {
	t.Helper()
	e := &env{pub: &fakePub{}, st: openStore(t), set: metrics.NewSet(), ln: fasthttputil.NewInmemoryListener()}
	e.ingest, _ = mustCreate(t, e.st, keys.Options{Kind: keys.KindIngest, Label: "provider"})
	e.admin, _ = mustCreate(t, e.st, keys.Options{Kind: keys.KindAdmin, Label: "ops"})
	e.sub, _ = mustCreate(t, e.st, keys.Options{Kind: keys.KindSubscriber, Label: "bot"})
	e.setNow(t0)
	d := Deps{
		Publisher: e.pub, Keys: e.st, Metrics: e.set, Now: func() time.Time { return time.Unix(0, e.clock.Load()).UTC() },
		Ready: func() error { return e.ready },
	}
	for _, f := range deps {
		f(&d)
	}
	e.api = New(cfg, d)
	done := make(chan error, 1)
	go func() { done <- e.api.Serve(e.ln) }()
	e.hc = &fasthttp.HostClient{Addr: "stellarfeed.test", Dial: func(string) (net.Conn, error) { return e.ln.Dial() }}
	t.Cleanup(func() {
		e.hc.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.api.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return e
}

// do sends one request; hdr holds header name/value pairs.
func (e *env) do(t testing.TB, method, path string, body []byte, hdr ...string) (int, string, *fasthttp.ResponseHeader) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	// Send no Content-Type unless the test sets one (webhooks).
	req.Header.SetNoDefaultContentType(true)
	req.SetRequestURI("http://stellarfeed.test" + path)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	req.SetBody(body)
	err := e.hc.DoTimeout(req, resp, 5*time.Second)
	// An oversized body is refused (413) as soon as its headers are read
	// and the connection closed, and the client may still be writing the
	// body then and miss the answer: a real client's race too. Retry.
	for try := 0; err != nil && len(body) > 4<<10 && try < 5; try++ {
		err = e.hc.DoTimeout(req, resp, 5*time.Second)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	h := new(fasthttp.ResponseHeader)
	resp.Header.CopyTo(h)
	return resp.StatusCode(), string(resp.Body()), h
}

// httpClient speaks net/http to the in-memory listener, for Client.
func (e *env) httpClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) { return e.ln.Dial() },
	}}
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))
