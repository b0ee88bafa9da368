//lint:file-ignore SA1019 x/net's http2.Transport is the HTTP/2 client that runs over a utls conn; net/http's own speaks h2 only over *tls.Conn.

package fetch

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	utls "github.com/refraction-networking/utls"
	"github.com/valyala/fasthttp"
	"golang.org/x/net/http2"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// TLSOptions adjust the browser client's TLS.
type TLSOptions struct {
	// RootCAs replaces the system roots (nil: system roots).
	RootCAs *x509.CertPool
}

// browserClient sends https:// requests the way Chrome does: the utls
// ClientHello of profileSpec, then HTTP/2 (x/net's transport, configured
// with Chrome's values, behind a frame writer that puts SETTINGS,
// pseudo-headers and headers in Chrome's order) when the site picks h2 by
// ALPN, else HTTP/1.1 (net/http's transport over the same ClientHello,
// behind h1Conn, which puts the header lines in Chrome's order).
//
// Which protocol a site speaks is learnt from the first handshake and
// remembered per host:port; that first connection is kept for the
// transport that speaks it.
type browserClient struct {
	proxy   *url.URL // nil: direct
	timeout time.Duration
	roots   *x509.CertPool
	h1      *http.Transport
	h2      *http2.Transport
	// dialTCP reaches host:port (through the proxy when there is one);
	// tests replace it to send every host to a local server.
	dialTCP func(ctx context.Context, addr string) (net.Conn, error)

	mu    sync.Mutex
	alpn  map[string]string   // host:port → "h2" or "http/1.1"
	spare map[string]net.Conn // a handshaken conn waiting for its transport
}

func newBrowserClient(proxy *url.URL, timeout time.Duration, o TLSOptions) *browserClient {
	b := &browserClient{proxy: proxy, timeout: timeout, roots: o.RootCAs, alpn: map[string]string{}, spare: map[string]net.Conn{}}
	b.dialTCP = b.dialDirectOrProxy
	b.h1 = &http.Transport{
		DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			c, err := b.conn(ctx, addr, "http/1.1")
			if err != nil {
				return nil, err
			}
			return newH1Conn(c), nil
		},
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
		// Accept-Encoding is always set: bodies are decoded by Do.
		DisableCompression: true,
	}
	// x/net takes its connection and stream windows only from a net/http
	// Transport's HTTP2 config; this one carries them and is never used
	// (given to ConfigureTransports, h1 would route https to h2 itself).
	carrier := &http.Transport{
		IdleConnTimeout:    30 * time.Second,
		DisableCompression: true,
		HTTP2: &http.HTTP2Config{
			MaxReceiveBufferPerConnection: h2ConnWindowIncrement,
			MaxReceiveBufferPerStream:     h2StreamWindow,
			MaxDecoderHeaderTableSize:     h2HeaderTableSize,
		},
	}
	h2, err := http2.ConfigureTransports(carrier)
	if err != nil {
		panic(fmt.Sprintf("fetch: configure http2: %v", err)) // only if carrier had an h2 already
	}
	// ConfigureTransports expects the carrier to hand it connections
	// (TLSNextProto); ours are dialled by h2 itself: its default pool does.
	h2.ConnPool = nil
	h2.MaxHeaderListSize = h2MaxHeaderListSize
	h2.DialTLSContext = func(ctx context.Context, _, addr string, _ *tls.Config) (net.Conn, error) {
		c, err := b.conn(ctx, addr, "h2")
		if err != nil {
			return nil, err
		}
		return newH2Conn(c), nil
	}
	b.h2 = h2
	return b
}

func (b *browserClient) closeIdle() {
	b.h1.CloseIdleConnections()
	b.h2.CloseIdleConnections()
	b.mu.Lock()
	for addr, c := range b.spare {
		c.Close()
		delete(b.spare, addr)
	}
	b.mu.Unlock()
}

// do makes one request (no redirects) and returns the decoded response.
func (b *browserClient) do(ctx context.Context, deadline time.Time, method, target string, r *monitors.Request, id *identity, maxBody int) (*monitors.Response, error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header = chromeHeaders(r, id)
	if id.jar != nil {
		if cs := id.jar.Cookies(req.URL); len(cs) > 0 {
			var sb strings.Builder
			for i, c := range cs {
				if i > 0 {
					sb.WriteString("; ")
				}
				sb.WriteString(c.Name + "=" + c.Value)
			}
			req.Header["cookie"] = []string{sb.String()}
		}
	}
	resp, err := b.roundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if id.jar != nil {
		if cs := resp.Cookies(); len(cs) > 0 {
			id.jar.SetCookies(req.URL, cs)
		}
	}
	out := &monitors.Response{Status: resp.StatusCode, Header: resp.Header, URL: target}
	if isRedirect(resp.StatusCode) && resp.Header.Get("Location") != "" {
		out.Body = []byte{}
		return out, nil
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, int64(maxBody)+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(raw) > maxBody {
		return nil, fmt.Errorf("body larger than %d bytes: %w", maxBody, ErrBodyTooLarge)
	}
	out.Body, err = decodeBody(raw, resp.Header.Get("Content-Encoding"), maxBody)
	return out, err
}

// decodeBody undoes Content-Encoding with fasthttp's decoders, which cap
// the decoded size as the fasthttp path does.
func decodeBody(raw []byte, encoding string, maxBody int) ([]byte, error) {
	if encoding == "" || encoding == "identity" {
		return raw, nil
	}
	var fr fasthttp.Response
	fr.Header.Set("Content-Encoding", encoding)
	fr.SetBodyRaw(raw)
	body, err := fr.BodyUncompressedWithLimit(maxBody)
	if err != nil {
		if errors.Is(err, fasthttp.ErrBodyTooLarge) {
			return nil, fmt.Errorf("body larger than %d bytes: %w", maxBody, err)
		}
		return nil, fmt.Errorf("decode %q body: %w", encoding, err)
	}
	return append([]byte(nil), body...), nil
}

// roundTrip sends req over HTTP/2 or HTTP/1.1, whichever the host chose.
func (b *browserClient) roundTrip(req *http.Request) (*http.Response, error) {
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "443")
	}
	b.mu.Lock()
	proto, known := b.alpn[addr]
	b.mu.Unlock()
	if !known {
		c, p, err := b.handshake(req.Context(), addr)
		if err != nil {
			return nil, err
		}
		b.keep(addr, c)
		proto = p
	}
	if proto == "h2" {
		return b.h2.RoundTrip(req)
	}
	// HTTP/1.1 writes header names as given: Chrome's are canonical there,
	// except the client hints it sends in lower case. h1Conn orders them.
	h := make(http.Header, len(req.Header)+1)
	h["Connection"] = []string{"keep-alive"}
	for k, v := range req.Header {
		if !strings.HasPrefix(k, "sec-ch-") {
			k = http.CanonicalHeaderKey(k)
		}
		h[k] = v
	}
	req.Header = h
	return b.h1.RoundTrip(req)
}

// keep parks a handshaken conn for the transport of its protocol; a second
// one for the same host is closed (both transports dial on their own).
func (b *browserClient) keep(addr string, c net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.spare[addr]; ok {
		c.Close()
		return
	}
	b.spare[addr] = c
}

// conn is the transports' dialer: the parked conn if there is one, else a
// new handshake, which must pick the protocol of the transport asking.
func (b *browserClient) conn(ctx context.Context, addr, want string) (net.Conn, error) {
	b.mu.Lock()
	c, ok := b.spare[addr]
	if ok && b.alpn[addr] == want {
		delete(b.spare, addr)
		b.mu.Unlock()
		return c, nil
	}
	b.mu.Unlock()
	c, got, err := b.handshake(ctx, addr)
	if err != nil {
		return nil, err
	}
	if got != want {
		c.Close()
		return nil, fmt.Errorf("%s switched from %s to %s (the next request uses %s)", addr, want, got, got)
	}
	return c, nil
}

// handshake dials addr and runs Chrome's TLS handshake; it records the
// protocol the server chose.
func (b *browserClient) handshake(ctx context.Context, addr string) (net.Conn, string, error) {
	// x/net may dial on a context without the request's deadline: a
	// silent proxy must not hold a dial (and its goroutine) for ever.
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	raw, err := b.dialTCP(ctx, addr)
	if err != nil {
		return nil, "", err
	}
	host, _, _ := net.SplitHostPort(addr)
	spec, err := profileSpec()
	if err != nil {
		raw.Close()
		return nil, "", err
	}
	uc := utls.UClient(raw, &utls.Config{ServerName: host, RootCAs: b.roots}, utls.HelloCustom)
	if err := uc.ApplyPreset(spec); err != nil {
		raw.Close()
		return nil, "", fmt.Errorf("tls profile: %w", err)
	}
	if err := uc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, "", fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	proto := uc.ConnectionState().NegotiatedProtocol
	if proto != "h2" {
		proto = "http/1.1"
	}
	b.mu.Lock()
	b.alpn[addr] = proto
	b.mu.Unlock()
	return uc, proto, nil
}

func (b *browserClient) dialDirectOrProxy(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: b.timeout, KeepAlive: 30 * time.Second}
	if b.proxy == nil {
		return d.DialContext(ctx, "tcp", addr)
	}
	c, err := d.DialContext(ctx, "tcp", b.proxy.Host)
	if err != nil {
		return nil, fmt.Errorf("dial proxy: %w", err)
	}
	c, err = connect(ctx, c, addr, b.proxy.User)
	if err != nil {
		return nil, fmt.Errorf("proxy CONNECT %s: %w", addr, err)
	}
	return c, nil
}

// connect asks an HTTP proxy on c for a tunnel to addr, as Chrome does.
func connect(ctx context.Context, c net.Conn, addr string, user *url.Userinfo) (net.Conn, error) {
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var sb strings.Builder
	sb.WriteString("CONNECT " + addr + " HTTP/1.1\r\nHost: " + addr + "\r\nProxy-Connection: keep-alive\r\n")
	if user != nil {
		pass, _ := user.Password()
		sb.WriteString("Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user.Username()+":"+pass)) + "\r\n")
	}
	sb.WriteString("\r\n")
	if _, err := io.WriteString(c, sb.String()); err != nil {
		c.Close()
		return nil, ctxErr(ctx, err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, ctxErr(ctx, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.Close()
		return nil, fmt.Errorf("proxy answered %s", resp.Status)
	}
	if !stop() {
		c.Close()
		return nil, ctx.Err()
	}
	if br.Buffered() > 0 {
		// The server spoke first: nothing a TLS client expects.
		c.Close()
		return nil, errors.New("proxy sent data before the TLS handshake")
	}
	return c, nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
