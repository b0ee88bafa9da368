package broadcast

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// PROXY protocol (haproxy.org/download/3.0/doc/proxy-protocol.txt): a
// load balancer that terminates TLS or forwards TCP sends one header line
// (v1, text) or block (v2, binary) before the client's bytes, naming the
// client's address. The header is parsed here from the handshake buffer,
// on the poller, without blocking: a partial header asks for more bytes.

// Limits of a PROXY header. v1 lines are at most 107 bytes by the spec;
// v2 blocks carry TLVs (TLS details, cloud endpoint ids) after the
// addresses: a 1 KiB budget is far above what load balancers send.
const (
	maxProxyV1     = 107
	maxProxyHeader = 1 << 10
)

var (
	proxyV1Sig = []byte("PROXY ")
	proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// errProxyMore means the buffer holds a PROXY header cut short.
var errProxyMore = errors.New("PROXY header incomplete")

// proxyError is a malformed PROXY header; its text is the 400 reason.
type proxyError string

func (e proxyError) Error() string { return "bad PROXY header: " + string(e) }

// proxyPrefix reports whether b starts with a PROXY header signature
// (v1 or v2), and whether it cannot tell yet because b is a strict prefix
// of one. It reads at most 12 bytes.
func proxyPrefix(b []byte) (is, undecided bool) {
	for _, sig := range [...][]byte{proxyV1Sig, proxyV2Sig} {
		if len(b) >= len(sig) {
			if bytes.Equal(b[:len(sig)], sig) {
				return true, false
			}
		} else if bytes.Equal(b, sig[:len(b)]) {
			undecided = true
		}
	}
	return false, undecided
}

// parseProxy reads a PROXY v1 or v2 header at the start of b. It returns
// the header's length n (0 when b does not start with one) and the
// client's address, which is invalid for headers that name none (v1
// UNKNOWN, v2 LOCAL, v2 UNSPEC or UNIX): the caller then keeps the
// connection's own peer, as the spec asks. errProxyMore means b holds an
// incomplete header; any other error is a *proxyError-like refusal.
func parseProxy(b []byte) (n int, src netip.Addr, err error) {
	is, undecided := proxyPrefix(b)
	switch {
	case undecided:
		return 0, src, errProxyMore
	case !is:
		return 0, src, nil
	case b[0] == 'P':
		return parseProxyV1(b)
	}
	return parseProxyV2(b)
}

// parseProxyV1 reads "PROXY TCP4 1.2.3.4 5.6.7.8 1234 443\r\n".
func parseProxyV1(b []byte) (int, netip.Addr, error) {
	var none netip.Addr
	end := bytes.Index(b[:min(len(b), maxProxyV1)], []byte("\r\n"))
	if end < 0 {
		if len(b) >= maxProxyV1 {
			return 0, none, proxyError("v1 line longer than 107 bytes")
		}
		return 0, none, errProxyMore
	}
	n := end + 2
	f := bytes.Split(b[len(proxyV1Sig):end], []byte{' '})
	if string(f[0]) == "UNKNOWN" {
		return n, none, nil // the rest is ignored, per the spec
	}
	if len(f) != 5 {
		return 0, none, proxyError("v1 wants PROTO SRC DST SPORT DPORT")
	}
	var v4 bool
	switch string(f[0]) {
	case "TCP4":
		v4 = true
	case "TCP6":
	default:
		return 0, none, proxyError("v1 protocol is not TCP4, TCP6 or UNKNOWN")
	}
	var addrs [2]netip.Addr
	for i := range addrs {
		a, err := netip.ParseAddr(string(f[1+i]))
		if err != nil || a.Is4() != v4 || a.Zone() != "" {
			return 0, none, proxyError("v1 address " + strconv.Quote(string(f[1+i])))
		}
		addrs[i] = a
	}
	for _, p := range f[3:] {
		// Decimal, no sign, no leading zero (the spec's own wording).
		if _, err := strconv.ParseUint(string(p), 10, 16); err != nil || len(p) > 1 && p[0] == '0' {
			return 0, none, proxyError("v1 port " + strconv.Quote(string(p)))
		}
	}
	return n, addrs[0], nil
}

// parseProxyV2 reads the binary header: signature, version and command,
// family and transport, a length, the addresses, then TLVs (skipped).
func parseProxyV2(b []byte) (int, netip.Addr, error) {
	var none netip.Addr
	const fixed = 16
	if len(b) < fixed {
		return 0, none, errProxyMore
	}
	verCmd, fam := b[12], b[13]
	size := int(binary.BigEndian.Uint16(b[14:16]))
	if verCmd>>4 != 2 {
		return 0, none, proxyError("v2 version is not 2")
	}
	if fixed+size > maxProxyHeader {
		return 0, none, proxyError("v2 header longer than 1 KiB")
	}
	cmd := verCmd & 0xf
	if cmd > 1 {
		return 0, none, proxyError("v2 command is not LOCAL or PROXY")
	}
	af, proto := fam>>4, fam&0xf
	if af > 3 || proto > 2 {
		return 0, none, proxyError("v2 unknown address family or transport")
	}
	if len(b) < fixed+size {
		return 0, none, errProxyMore
	}
	n := fixed + size
	if cmd == 0 { // LOCAL: the proxy's own connection (health checks)
		return n, none, nil
	}
	if proto == 2 {
		return 0, none, proxyError("v2 transport is DGRAM, not STREAM")
	}
	body := b[fixed:n]
	switch af {
	case 1: // INET: src, dst, sport, dport
		if size < 12 {
			return 0, none, proxyError("v2 IPv4 block shorter than 12 bytes")
		}
		return n, netip.AddrFrom4([4]byte(body[:4])), nil
	case 2: // INET6
		if size < 36 {
			return 0, none, proxyError("v2 IPv6 block shorter than 36 bytes")
		}
		return n, netip.AddrFrom16([16]byte(body[:16])).Unmap(), nil
	}
	return n, none, nil // UNSPEC or UNIX: no IP, keep the peer's
}
