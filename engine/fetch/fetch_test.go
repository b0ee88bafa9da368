package fetch

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/stellarfeed/stellarfeed/monitors"
)

const page = `<html><head><title>Widget</title></head><body><div id="availability">In stock</div></body></html>`

// testServer serves the fetcher's cases on 127.0.0.1.
func testServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, page) })
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(fasthttp.AppendGzipBytes(nil, []byte(page)))
	})
	mux.HandleFunc("/br", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "br")
		w.Write(fasthttp.AppendBrotliBytes(nil, []byte(page)))
	})
	mux.HandleFunc("/deflate", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "deflate")
		w.Write(fasthttp.AppendDeflateBytes(nil, []byte(page)))
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"ua": r.UserAgent(), "lang": r.Header.Get("Accept-Language"),
			"enc": r.Header.Get("Accept-Encoding"), "accept": r.Header.Get("Accept"), "method": r.Method,
		})
	})
	// /hop/N redirects N more times, alternating relative and absolute.
	mux.HandleFunc("/hop/", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(strings.TrimPrefix(r.URL.Path, "/hop/"), "%d", &n)
		switch {
		case n == 0:
			http.Redirect(w, r, "/plain?from=hops", http.StatusFound)
		case n%2 == 0:
			http.Redirect(w, r, fmt.Sprintf("http://%s/hop/%d", r.Host, n-1), http.StatusMovedPermanently)
		default:
			http.Redirect(w, r, fmt.Sprintf("%d", n-1), http.StatusTemporaryRedirect)
		}
	})
	mux.HandleFunc("/ip/123", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/blocked?url=L2lwLzEyMw==", http.StatusFound)
	})
	mux.HandleFunc("/blocked", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<title>Robot or human?</title>")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Second):
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 64<<10))
	})
	mux.HandleFunc("/bomb", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(fasthttp.AppendGzipBytes(nil, make([]byte, 1<<20)))
	})
	mux.HandleFunc("/status/503", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "To discuss automated access to Amazon data please contact api-services-support@amazon.com")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func newTestFetcher(t *testing.T, o Options) *Fetcher {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	f, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.CloseIdleConnections)
	return f
}

func TestFetcherDecodesAndRedirects(t *testing.T) {
	srv := testServer(t)
	f := newTestFetcher(t, Options{})
	tests := []struct {
		path, wantURL, wantBody string
		wantStatus              int
	}{
		{"/plain", "/plain", page, 200},
		{"/gzip", "/gzip", page, 200},
		{"/br", "/br", page, 200},
		{"/deflate", "/deflate", page, 200},
		{"/hop/4", "/plain?from=hops", page, 200}, // 5 redirects: the limit
		{"/ip/123", "/blocked?url=L2lwLzEyMw==", "<title>Robot or human?</title>", 200},
		{"/status/503", "/status/503", "To discuss automated access to Amazon data please contact api-services-support@amazon.com", 503},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := f.Fetch(context.Background(), &monitors.Request{URL: srv.URL + tc.path})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tc.wantStatus || string(resp.Body) != tc.wantBody || resp.URL != srv.URL+tc.wantURL {
				t.Errorf("got %d %q at %s, want %d %q at %s", resp.Status, resp.Body, resp.URL, tc.wantStatus, tc.wantBody, srv.URL+tc.wantURL)
			}
			if resp.Header.Get("Date") == "" {
				t.Error("response headers missing")
			}
		})
	}
	_, err := f.Fetch(context.Background(), &monitors.Request{URL: srv.URL + "/hop/5"})
	if !errors.Is(err, ErrTooManyRedirects) {
		t.Errorf("6 redirects: %v", err)
	}
}

func TestFetcherHeaders(t *testing.T) {
	srv := testServer(t)
	uas := []string{"UA-one", "UA-two", "UA-three"}
	f := newTestFetcher(t, Options{UserAgents: uas, Client: ClientFastHTTP})
	echo := func(req *monitors.Request) map[string]string {
		t.Helper()
		req.URL = srv.URL + "/echo"
		resp, err := f.Fetch(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if err := json.Unmarshal(resp.Body, &m); err != nil {
			t.Fatalf("%s: %v", resp.Body, err)
		}
		return m
	}
	for i := range 7 {
		if got := echo(&monitors.Request{})["ua"]; got != uas[i%3] {
			t.Errorf("request %d: UA %q, want %q", i, got, uas[i%3])
		}
	}
	langs := map[string]string{
		"USA": "en-US", "UK": "en-GB", "DE": "de-DE", "FR": "fr-FR", "IT": "it-IT", "ES": "es-ES", "NL": "nl-NL",
		"BE": "fr-BE,nl-BE", "PL": "pl-PL", "JP": "ja-JP", "CA": "en-CA", "AU": "en-AU", "": "en-US",
	}
	for region, want := range langs {
		if got := echo(&monitors.Request{Region: region})["lang"]; !strings.HasPrefix(got, want) {
			t.Errorf("region %q: Accept-Language %q, want prefix %q", region, got, want)
		}
	}
	m := echo(&monitors.Request{Header: http.Header{"Accept": {"application/json"}}})
	if m["accept"] != "application/json" || !strings.Contains(m["enc"], "br") || !strings.Contains(m["enc"], "gzip") || m["method"] != "GET" {
		t.Errorf("headers %v", m)
	}
}

func TestFetcherLimits(t *testing.T) {
	srv := testServer(t)
	f := newTestFetcher(t, Options{Timeout: 200 * time.Millisecond})
	_, err := f.Fetch(context.Background(), &monitors.Request{URL: srv.URL + "/slow"})
	if !errors.Is(err, fasthttp.ErrTimeout) {
		t.Errorf("slow: %v, want a timeout", err)
	}
	capped := newTestFetcher(t, Options{MaxBodyBytes: 32 << 10})
	for _, path := range []string{"/big", "/bomb"} {
		_, err = capped.Fetch(context.Background(), &monitors.Request{URL: srv.URL + path})
		if !errors.Is(err, fasthttp.ErrBodyTooLarge) {
			t.Errorf("%s: %v, want body too large", path, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err = f.Fetch(ctx, &monitors.Request{URL: srv.URL + "/plain"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err = f.Fetch(ctx, &monitors.Request{URL: srv.URL + "/slow"}); !errors.Is(err, fasthttp.ErrTimeout) {
		t.Errorf("ctx deadline before Timeout: %v", err)
	}
}

// connectProxy is a tiny HTTP CONNECT proxy that records what it saw.
type connectProxy struct {
	ln      net.Listener
	wg      sync.WaitGroup
	tunnels atomic.Int64
	mu      sync.Mutex
	auth    []string
	targets []string // CONNECT targets asked for
	to      string   // when set, every tunnel goes here
}

func startConnectProxy(t *testing.T) *connectProxy {
	t.Helper()
	return startConnectProxyTo(t, "")
}

// startConnectProxyTo starts a proxy that tunnels every CONNECT to addr
// ("" = the host asked for), so tests can use real host names.
func startConnectProxyTo(t *testing.T, addr string) *connectProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{ln: ln, to: addr}
	var mu sync.Mutex
	var conns []net.Conn
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			p.wg.Go(func() { p.serve(c, &mu, &conns) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *connectProxy) serve(c net.Conn, mu *sync.Mutex, conns *[]net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil || req.Method != http.MethodConnect {
		return
	}
	p.mu.Lock()
	p.auth = append(p.auth, req.Header.Get("Proxy-Authorization"))
	p.targets = append(p.targets, req.Host)
	p.mu.Unlock()
	dst := req.Host
	if p.to != "" {
		dst = p.to
	}
	up, err := net.Dial("tcp", dst)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	mu.Lock()
	*conns = append(*conns, up)
	mu.Unlock()
	defer up.Close()
	p.tunnels.Add(1)
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	done := make(chan struct{})
	go func() {
		io.Copy(up, br)
		up.Close()
		close(done)
	}()
	io.Copy(c, up)
	c.Close()
	<-done
}

func TestFetcherThroughProxy(t *testing.T) {
	srv := testServer(t)
	px := startConnectProxy(t)
	set := metrics.NewSet()
	f := newTestFetcher(t, Options{Proxies: []string{"user:s3cret@" + px.ln.Addr().String()}, Metrics: set})
	for range 3 {
		resp, err := f.Fetch(context.Background(), &monitors.Request{URL: srv.URL + "/gzip"})
		if err != nil {
			t.Fatal(err)
		}
		if string(resp.Body) != page {
			t.Errorf("body through proxy %q", resp.Body)
		}
	}
	if n := px.tunnels.Load(); n != 1 {
		t.Errorf("%d tunnels, want 1 (pooled connection)", n)
	}
	px.mu.Lock()
	auth := append([]string(nil), px.auth...)
	px.mu.Unlock()
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:s3cret"))
	if len(auth) != 1 || auth[0] != want {
		t.Errorf("Proxy-Authorization %q, want %q", auth, want)
	}
	label := px.ln.Addr().String()
	if v := set.GetOrCreateCounter(`stellarfeed_proxy_requests_total{proxy="` + label + `"}`).Get(); v != 3 {
		t.Errorf("proxy requests metric %d, want 3", v)
	}
}

func TestFetcherProxyBench(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, err := New(Options{Proxies: []string{"http://a:b@127.0.0.1:1", "127.0.0.1:2"}, ProxyCooldown: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		labels := func(n int) []string {
			var out []string
			for range n {
				p, err := f.pick(time.Now())
				if err != nil {
					out = append(out, "none")
					continue
				}
				out = append(out, p.label)
			}
			return out
		}
		if got := strings.Join(labels(4), " "); got != "127.0.0.1:2 127.0.0.1:1 127.0.0.1:2 127.0.0.1:1" {
			t.Errorf("round robin: %s", got)
		}
		f.Report("127.0.0.1:1", monitors.OutOfStock)
		f.Report("127.0.0.1:1", monitors.Blocked)
		if got := strings.Join(labels(3), " "); got != "127.0.0.1:2 127.0.0.1:2 127.0.0.1:2" {
			t.Errorf("with :1 benched: %s", got)
		}
		time.Sleep(30 * time.Second)
		f.Report("127.0.0.1:2", monitors.Blocked)
		if _, err := f.pick(time.Now()); !errors.Is(err, ErrNoProxy) || !strings.Contains(err.Error(), "30s") {
			t.Errorf("all benched: %v", err)
		}
		time.Sleep(30 * time.Second)
		if got := strings.Join(labels(2), " "); got != "127.0.0.1:1 127.0.0.1:1" {
			t.Errorf(":1 back after its cooldown: %s", got)
		}
	})
}

func TestParseProxy(t *testing.T) {
	f := func(in, wantURL, wantLabel, wantErr string) {
		t.Helper()
		u, l, err := ParseProxy(in)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("ParseProxy(%q) error %v, want %q", in, err, wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("ParseProxy(%q) leaks the password: %v", in, err)
			}
			return
		}
		if err != nil || u != wantURL || l != wantLabel {
			t.Errorf("ParseProxy(%q) = %q, %q, %v; want %q, %q", in, u, l, err, wantURL, wantLabel)
		}
	}
	f("http://user:s3cret@10.0.0.1:8080", "http://user:s3cret@10.0.0.1:8080", "10.0.0.1:8080", "")
	f("user:s3cret@proxy.example.com:3128", "http://user:s3cret@proxy.example.com:3128", "proxy.example.com:3128", "")
	f(" 10.0.0.1:8080 ", "http://10.0.0.1:8080", "10.0.0.1:8080", "")
	f("http://10.0.0.1:8080/", "http://10.0.0.1:8080", "10.0.0.1:8080", "")
	f("", "", "", "empty")
	f("socks5://10.0.0.1:1080", "", "", `scheme "socks5"`)
	f("user:s3cret@10.0.0.1", "", "", "needs host:port")
	f("http://user:s3cret@10.0.0.1:80/path", "", "", "path")
	f("user:s3cret@[::1", "", "", "not a proxy URL")
}

func FuzzParseProxy(f *testing.F) {
	for _, s := range []string{"http://u:p@1.2.3.4:80", "u:p@h:1", "h:1", "socks5://h:1", "u:p@[::1]:8080", "%zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, label, err := ParseProxy(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(u, "http://") || label == "" || strings.Contains(label, "@") {
			t.Errorf("ParseProxy(%q) = %q, %q", s, u, label)
		}
		// Valid output parses to itself: the dialer sees what we checked.
		u2, label2, err := ParseProxy(u)
		if err != nil || u2 != u || label2 != label {
			t.Errorf("not idempotent: %q → %q, %q (%v)", u, u2, label2, err)
		}
		// Metric names built from the label never panic.
		metrics.NewSet().GetOrCreateCounter(`x{proxy="` + labelValue(label) + `"}`)
	})
}

func TestParseClient(t *testing.T) {
	for in, want := range map[string]Client{"": ClientBrowser, "browser": ClientBrowser, "fasthttp": ClientFastHTTP} {
		if got, err := ParseClient(in); got != want || err != nil {
			t.Errorf("ParseClient(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := New(Options{Client: "chrome"}); err == nil || !strings.Contains(err.Error(), `client: "chrome" is not one of browser, fasthttp`) {
		t.Errorf("bad client: %v", err)
	}
}

func TestZeroSession(t *testing.T) {
	if got := (Session{}).Proxy(); got != "" {
		t.Errorf("zero Session proxy %q", got)
	}
}
