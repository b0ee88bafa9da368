package api

import (
	"bytes"
	"net"
	"net/netip"

	"github.com/valyala/fasthttp"
)

// Proxies decides which address a request came from when reverse proxies
// (nginx, Caddy, a load balancer) sit in front of the API. Forwarding
// headers are believed only from a peer inside one of the trusted
// prefixes; anyone else could write them.
type Proxies []netip.Prefix

// trusts reports whether a is a trusted proxy.
func (p Proxies) trusts(a netip.Addr) bool {
	for _, pr := range p {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the client's address: the TCP peer, or, when the peer
// is a trusted proxy, the rightmost address of X-Forwarded-For that is not
// a trusted proxy (each proxy appends the address it saw, so everything
// left of the first untrusted hop may be forged by the client). Without
// X-Forwarded-For, X-Real-IP is used. A malformed hop stops the walk at the
// last address that was believable.
func (p Proxies) ClientIP(peer netip.Addr, xff [][]byte, realIP []byte) netip.Addr {
	if len(p) == 0 || !peer.IsValid() || !p.trusts(peer) {
		return peer
	}
	if len(xff) == 0 {
		if a, ok := parseHop(realIP); ok {
			return a
		}
		return peer
	}
	client := peer
	// Header lines in order, each a comma-separated list: walk from the
	// last hop of the last line to the left.
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for len(line) > 0 {
			var hop []byte
			if j := bytes.LastIndexByte(line, ','); j >= 0 {
				hop, line = line[j+1:], line[:j]
			} else {
				hop, line = line, nil
			}
			a, ok := parseHop(hop)
			if !ok {
				return client
			}
			client = a
			if !p.trusts(a) {
				return a
			}
		}
	}
	return client
}

// parseHop reads one X-Forwarded-For element: an IP, possibly with a port
// ("1.2.3.4:5678", "[::1]:80") as some proxies write it.
func parseHop(b []byte) (netip.Addr, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(b) > 64 {
		return netip.Addr{}, false
	}
	if a, err := netip.ParseAddr(string(b)); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(string(b)); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// peerAddr is the TCP peer of a request.
func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	if ta, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}

// ClientAddr is the request's client address under the trusted proxies:
// what key IP limits, usage and the connection list see.
func (p Proxies) ClientAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	peer := peerAddr(ctx)
	if len(p) == 0 || !p.trusts(peer) {
		return peer
	}
	return p.ClientIP(peer, ctx.Request.Header.PeekAll("X-Forwarded-For"), ctx.Request.Header.Peek("X-Real-IP"))
}
