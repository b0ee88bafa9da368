//lint:file-ignore SA1019 x/net's http2.Server serves a conn the test has already read from; net/http's needs a listener.

package fetch

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/http2"

	"github.com/stellarfeed/stellarfeed/engine/fetch/internal/fingerprint"
	"github.com/stellarfeed/stellarfeed/monitors"
)

// shopHost is the retailer the tests pretend to reach; every connection to
// it lands on the local fingerprinting server.
const shopHost = "shop.example"

// fpServer is a TLS server on 127.0.0.1 that records, per connection, the
// raw ClientHello record (read off the socket before crypto/tls sees it)
// and, for HTTP/2, every byte the client sent after the handshake.
type fpServer struct {
	ln    net.Listener
	roots *x509.CertPool
	wg    sync.WaitGroup

	mu     sync.Mutex
	hellos [][]byte
	h2     []*recordConn
	h1     []*recordConn
	conns  []net.Conn
}

func startFPServer(t *testing.T, protos ...string) *fpServer {
	t.Helper()
	cert, roots := selfSigned(t, shopHost)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fpServer{ln: ln, roots: roots}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: protos}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Go(func() { s.serve(c, cfg) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *fpServer) serve(c net.Conn, cfg *tls.Config) {
	defer c.Close()
	// The first TLS record, byte for byte: the ClientHello.
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return
	}
	rec := make([]byte, 5+int(binary.BigEndian.Uint16(hdr[3:])))
	copy(rec, hdr)
	if _, err := io.ReadFull(c, rec[5:]); err != nil {
		return
	}
	s.mu.Lock()
	s.hellos = append(s.hellos, rec)
	s.mu.Unlock()
	tc := tls.Server(&prefixConn{Conn: c, r: io.MultiReader(bytes.NewReader(rec), c)}, cfg)
	if err := tc.Handshake(); err != nil {
		return
	}
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		rc := &recordConn{Conn: tc}
		s.mu.Lock()
		s.h2 = append(s.h2, rc)
		s.mu.Unlock()
		(&http2.Server{}).ServeConn(rc, &http2.ServeConnOpts{Handler: shopHandler()})
		return
	}
	rc := &recordConn{Conn: tc}
	s.mu.Lock()
	s.h1 = append(s.h1, rc)
	s.mu.Unlock()
	br := bufio.NewReader(rc)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		rw := &h1Writer{h: http.Header{}}
		shopHandler().ServeHTTP(rw, req)
		resp := &http.Response{StatusCode: rw.status(), ProtoMajor: 1, ProtoMinor: 1, Header: rw.h,
			Body: io.NopCloser(bytes.NewReader(rw.body.Bytes())), ContentLength: int64(rw.body.Len())}
		if resp.Write(tc) != nil {
			return
		}
	}
}

// h1Heads returns the HTTP/1.1 request heads received, in order.
func (s *fpServer) h1Heads() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var heads []string
	for _, rc := range s.h1 {
		for _, part := range strings.Split(string(rc.bytes()), "\r\n\r\n") {
			if part != "" {
				heads = append(heads, part)
			}
		}
	}
	return heads
}

func (s *fpServer) recorded() (hellos [][]byte, h2 [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rc := range s.h2 {
		h2 = append(h2, rc.bytes())
	}
	return slices.Clone(s.hellos), h2
}

// shopHandler: /page sets a session cookie on the first visit and echoes
// what identifies the client; /gzip is compressed; /moved redirects.
func shopHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("session-id"); err != nil {
			http.SetCookie(w, &http.Cookie{Name: "session-id", Value: "s1", Path: "/"})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"proto": r.Proto, "cookie": r.Header.Get("Cookie"), "ua": r.UserAgent(),
			"lang": r.Header.Get("Accept-Language"), "accept": r.Header.Get("Accept"),
			"chua": r.Header.Get("Sec-Ch-Ua"), "big": string(rune('0' + len(r.Header.Get("X-Big"))/10000)),
		})
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(fasthttp.AppendGzipBytes(nil, []byte(page)))
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/gzip", http.StatusFound)
	})
	return mux
}

type h1Writer struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func (w *h1Writer) Header() http.Header         { return w.h }
func (w *h1Writer) Write(p []byte) (int, error) { return w.body.Write(p) }
func (w *h1Writer) WriteHeader(code int)        { w.code = code }
func (w *h1Writer) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// prefixConn replays the bytes already read before the socket's.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// recordConn keeps a copy of everything read (the client's HTTP/2 frames).
type recordConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *recordConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *recordConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes())
}

func selfSigned(t testing.TB, host string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}

// dialTo sends every browser-client connection of f's direct exit to addr.
func dialTo(f *Fetcher, addr string) {
	f.direct.browser.dialTCP = func(ctx context.Context, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

func getJSON(t *testing.T, s Session) map[string]string {
	t.Helper()
	resp, err := s.Do(context.Background(), &monitors.Request{URL: "https://" + shopHost + "/page", Region: "DE"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(resp.Body, &m); err != nil {
		t.Fatalf("%d %q: %v", resp.Status, resp.Body, err)
	}
	return m
}

// chromeNavigationOrder is the header order of a Chrome 131–151 top-level
// navigation over HTTP/2 (DevTools and published captures agree), cookie
// included once the site has set one.
var chromeNavigationOrder = []string{
	"sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "upgrade-insecure-requests", "user-agent",
	"accept", "sec-fetch-site", "sec-fetch-mode", "sec-fetch-user", "sec-fetch-dest",
	"accept-encoding", "accept-language", "cookie", "priority",
}

// TestBrowserFingerprint is the proof that retailers see Chrome: through
// an authenticated CONNECT proxy, the browser client's recorded
// ClientHello and HTTP/2 preface give the fingerprints published for
// Chrome 151 (fingerprint.Chrome151), and Go's own client does not.
//
// JA3 cannot be compared as a string: Chrome (and the profile) shuffles the
// extension order on every connection, so JA3 and its hash change per
// handshake (the six published Chrome 151 handshakes have six JA3 hashes).
// What must match is what does not depend on that order: JA3N (JA3 with
// sorted extensions) and JA4 (sorted ciphers and extensions, GREASE
// ignored), and JA4_r, its readable form, here against the published raw
// ClientHello itself.
func TestBrowserFingerprint(t *testing.T) {
	srv := startFPServer(t, "h2", "http/1.1")
	px := startConnectProxyTo(t, srv.ln.Addr().String())
	f := newTestFetcher(t, Options{Proxies: []string{"user:s3cret@" + px.ln.Addr().String()}, TLS: &TLSOptions{RootCAs: srv.roots}})
	s, err := f.Session(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	first := getJSON(t, s)
	second := getJSON(t, s)
	if first["proto"] != "HTTP/2.0" || first["cookie"] != "" || second["cookie"] != "session-id=s1" {
		t.Errorf("first %v, second %v: want HTTP/2, the cookie set by the first sent by the second", first, second)
	}
	if !strings.Contains(first["ua"], "Chrome/"+ProfileChromeVersion) || !strings.Contains(first["chua"], `"Google Chrome";v="`+ProfileChromeVersion+`"`) ||
		!strings.HasPrefix(first["lang"], "de-DE") || !strings.HasPrefix(first["accept"], "text/html") {
		t.Errorf("headers %v", first)
	}
	px.mu.Lock()
	auth, targets := slices.Clone(px.auth), slices.Clone(px.targets)
	px.mu.Unlock()
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:s3cret")); len(auth) != 1 || auth[0] != want || targets[0] != shopHost+":443" {
		t.Errorf("proxy saw %q for %q, want one tunnel to %s:443 with %q", auth, targets, shopHost, want)
	}

	hellos, h2s := srv.recorded()
	if len(hellos) != 1 || len(h2s) != 1 {
		t.Fatalf("%d handshakes, %d HTTP/2 connections; want 1 of each (the connection is reused)", len(hellos), len(h2s))
	}
	hello, err := fingerprint.ParseClientHello(hellos[0])
	if err != nil {
		t.Fatal(err)
	}
	want := fingerprint.Chrome151
	if hello.ServerName != shopHost {
		t.Errorf("SNI %q", hello.ServerName)
	}
	for _, c := range []struct{ name, got, want string }{
		{"JA4", hello.JA4(), want.JA4},
		{"JA4_r", hello.JA4R(), chrome151Hello(t).JA4R()},
		{"JA3N", hello.JA3N(), want.JA3N},
		{"JA3N hash", fingerprint.Hash(hello.JA3N()), want.JA3NHash},
	} {
		if c.got != c.want {
			t.Errorf("%s\n got %s\nwant %s (%s)", c.name, c.got, c.want, want.Browser)
		}
	}
	t.Logf("JA4 %s, JA3 %s (this handshake's order)", hello.JA4(), fingerprint.Hash(hello.JA3()))

	h2, err := fingerprint.ParseHTTP2(h2s[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := h2.Akamai(); got != want.Akamai || fingerprint.Hash(got) != want.AkamaiHash {
		t.Errorf("Akamai HTTP/2\n got %s\nwant %s", got, want.Akamai)
	}
	if h2.HeadersPriority != "1:1:0:256" {
		t.Errorf("HEADERS priority %q, want Chrome's 1:1:0:256", h2.HeadersPriority)
	}
	if got := h2.HeaderOrder(); !slices.Equal(got, slices.DeleteFunc(slices.Clone(chromeNavigationOrder), func(s string) bool { return s == "cookie" })) {
		t.Errorf("header order\n got %q\nwant %q", got, chromeNavigationOrder)
	}
}

// TestGoFingerprintDiffers: the same server sees Go's crypto/tls + net/http
// (and the fasthttp client) as something else, which is the point.
func TestGoFingerprintDiffers(t *testing.T) {
	srv := startFPServer(t, "h2", "http/1.1")
	addr := srv.ln.Addr().String()
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: srv.roots},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + shopHost + "/page")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("Go client spoke %s", resp.Proto)
	}

	f := newTestFetcher(t, Options{Client: ClientFastHTTP, TLS: &TLSOptions{RootCAs: srv.roots}})
	f.direct.fast.Dial = func(string) (net.Conn, error) { return net.Dial("tcp", addr) }
	f.direct.fast.TLSConfig = &tls.Config{RootCAs: srv.roots}
	if _, err := f.Fetch(context.Background(), &monitors.Request{URL: "https://" + shopHost + "/page"}); err != nil {
		t.Fatal(err)
	}

	hellos, h2s := srv.recorded()
	if len(hellos) != 2 || len(h2s) != 1 {
		t.Fatalf("%d handshakes, %d HTTP/2 connections; want 2 and 1", len(hellos), len(h2s))
	}
	want := fingerprint.Chrome151
	for i, who := range []string{"net/http", "fasthttp"} {
		hello, err := fingerprint.ParseClientHello(hellos[i])
		if err != nil {
			t.Fatal(err)
		}
		if hello.JA4() == want.JA4 || hello.JA3N() == want.JA3N {
			t.Errorf("%s passes for %s: JA4 %s", who, want.Browser, hello.JA4())
		}
		t.Logf("%s: JA4 %s, JA3 %s", who, hello.JA4(), fingerprint.Hash(hello.JA3()))
	}
	h2, err := fingerprint.ParseHTTP2(h2s[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := h2.Akamai(); got == want.Akamai || !strings.HasSuffix(got, "|a,m,p,s") {
		t.Errorf("net/http Akamai %s: want Go's own (pseudo-headers a,m,p,s)", got)
	}
	t.Logf("net/http: Akamai %s", h2.Akamai())
}

// TestBrowserIdentity: cookies and user agent stay with the exit across
// sessions; a block drops both.
func TestBrowserIdentity(t *testing.T) {
	srv := startFPServer(t, "h2")
	f := newTestFetcher(t, Options{UserAgents: DefaultUserAgents, TLS: &TLSOptions{RootCAs: srv.roots}})
	dialTo(f, srv.ln.Addr().String())
	session := func() Session {
		s, err := f.Session(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := getJSON(t, session())
	b := getJSON(t, session())
	if b["cookie"] != "session-id=s1" || a["ua"] != b["ua"] {
		t.Errorf("next check: cookie %q, UA %q then %q; want the cookie and the same UA", b["cookie"], a["ua"], b["ua"])
	}
	s := session()
	s.Report(monitors.OutOfStock)
	if c := getJSON(t, session()); c["cookie"] != "session-id=s1" {
		t.Errorf("cookie dropped without a block: %v", c)
	}
	s.Report(monitors.Blocked)
	c := getJSON(t, session())
	if c["cookie"] != "" || c["ua"] == a["ua"] {
		t.Errorf("after a block: cookie %q, UA %q; want none and a new UA", c["cookie"], c["ua"])
	}
	if _, err := f.Session(time.Now()); err != nil {
		t.Errorf("direct exit benched: %v", err)
	}
}

// TestBrowserHTTP1: a site that does not offer h2 gets HTTP/1.1 over the
// same Chrome ClientHello; decoding, redirects and the body cap hold.
func TestBrowserHTTP1(t *testing.T) {
	srv := startFPServer(t, "http/1.1")
	f := newTestFetcher(t, Options{TLS: &TLSOptions{RootCAs: srv.roots}})
	dialTo(f, srv.ln.Addr().String())
	m := getJSON(t, mustSession(t, f))
	if m["proto"] != "HTTP/1.1" || !strings.Contains(m["ua"], "Chrome/") {
		t.Errorf("HTTP/1.1 fallback: %v", m)
	}
	resp, err := f.Fetch(context.Background(), &monitors.Request{URL: "https://" + shopHost + "/moved"})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != page || resp.URL != "https://"+shopHost+"/gzip" {
		t.Errorf("redirect to gzip: %q at %s", resp.Body, resp.URL)
	}
	heads := srv.h1Heads()
	if len(heads) == 0 {
		t.Fatal("no HTTP/1.1 request recorded")
	}
	var names []string
	for _, line := range strings.Split(heads[0], "\r\n")[1:] {
		name, _, _ := strings.Cut(line, ":")
		names = append(names, name)
	}
	wantNames := []string{"Host", "Connection", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "Upgrade-Insecure-Requests",
		"User-Agent", "Accept", "Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-User", "Sec-Fetch-Dest", "Accept-Encoding", "Accept-Language", "Priority"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("HTTP/1.1 header order\n got %q\nwant %q", names, wantNames)
	}
	hellos, _ := srv.recorded()
	hello, err := fingerprint.ParseClientHello(hellos[0])
	if err != nil {
		t.Fatal(err)
	}
	if hello.JA4() != fingerprint.Chrome151.JA4 {
		t.Errorf("JA4 %s over HTTP/1.1", hello.JA4())
	}
	capped := newTestFetcher(t, Options{MaxBodyBytes: 100, TLS: &TLSOptions{RootCAs: srv.roots}})
	dialTo(capped, srv.ln.Addr().String())
	if _, err := capped.Fetch(context.Background(), &monitors.Request{URL: "https://" + shopHost + "/gzip"}); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("over the cap: %v", err)
	}
}

// TestBrowserBigHeaders: a header block larger than one frame goes out as
// HEADERS + CONTINUATION and arrives whole.
func TestBrowserBigHeaders(t *testing.T) {
	srv := startFPServer(t, "h2")
	f := newTestFetcher(t, Options{TLS: &TLSOptions{RootCAs: srv.roots}})
	dialTo(f, srv.ln.Addr().String())
	big := strings.Repeat("x", 40000)
	for range 2 { // the second block goes through both dynamic tables
		resp, err := f.Fetch(context.Background(), &monitors.Request{URL: "https://" + shopHost + "/page", Header: http.Header{"X-Big": {big}}})
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		json.Unmarshal(resp.Body, &m)
		if m["big"] != "4" {
			t.Fatalf("X-Big arrived with %s0000-odd bytes, want 40000: %s", m["big"], resp.Body)
		}
	}
}

func TestBrowserErrors(t *testing.T) {
	srv := startFPServer(t, "h2")
	// No trust in the server's certificate: the handshake fails.
	f := newTestFetcher(t, Options{})
	dialTo(f, srv.ln.Addr().String())
	if _, err := f.Fetch(context.Background(), &monitors.Request{URL: "https://" + shopHost + "/page"}); err == nil || !strings.Contains(err.Error(), "tls handshake") {
		t.Errorf("untrusted certificate: %v", err)
	}
	// A proxy that refuses the tunnel.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
	})
	f = newTestFetcher(t, Options{Proxies: []string{ln.Addr().String()}})
	_, err = f.Fetch(context.Background(), &monitors.Request{URL: "https://" + shopHost + "/page"})
	if err == nil || !strings.Contains(err.Error(), "407") || !strings.Contains(err.Error(), "via "+ln.Addr().String()) {
		t.Errorf("refused tunnel: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Fetch(ctx, &monitors.Request{URL: "https://" + shopHost + "/page"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func mustSession(t *testing.T, f *Fetcher) Session {
	t.Helper()
	s, err := f.Session(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// chrome151Hello is the published raw Chrome 151 ClientHello, parsed.
func chrome151Hello(t *testing.T) *fingerprint.ClientHello {
	t.Helper()
	raw := fingerprint.Chrome151ClientHello()
	h, err := fingerprint.ParseClientHello(raw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
