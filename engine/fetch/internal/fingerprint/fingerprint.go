// Package fingerprint computes what bot walls compute from a client's first
// bytes: JA3 and JA4 from a TLS ClientHello, and the Akamai HTTP/2
// fingerprint from the client's opening HTTP/2 frames. The fetch tests use
// it on what a local server records, to prove the browser client looks like
// the browser it claims to be.
//
// References: JA3 (github.com/salesforce/ja3), JA4 (FoxIO's JA4
// specification, technical_details/JA4.md), Akamai's "Passive
// Fingerprinting of HTTP/2 Clients" (Black Hat EU 2017).
package fingerprint

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ClientHello holds the fields of a TLS ClientHello that fingerprints read,
// in the order the client sent them, GREASE values included.
type ClientHello struct {
	Version             uint16 // legacy_version: 0x0303 for TLS 1.2 and 1.3
	Ciphers             []uint16
	Extensions          []uint16
	Curves              []uint16 // supported_groups
	PointFormats        []uint8
	SignatureAlgorithms []uint16
	SupportedVersions   []uint16
	ALPN                []string
	ServerName          string
}

// Extension numbers read here.
const (
	extServerName          = 0x0000
	extSupportedGroups     = 0x000a
	extPointFormats        = 0x000b
	extSignatureAlgorithms = 0x000d
	extALPN                = 0x0010
	extSupportedVersions   = 0x002b
)

// IsGREASE reports whether v is one of RFC 8701's reserved values
// (0x0a0a, 0x1a1a, … 0xfafa), which clients sprinkle to keep servers
// tolerant and fingerprints leave out.
func IsGREASE(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}

var errShort = errors.New("truncated ClientHello")

// ParseClientHello parses a ClientHello from b, which starts either with a
// TLS record header (0x16 0x03 …; the hello may span several records) or
// with the handshake header (0x01).
func ParseClientHello(b []byte) (*ClientHello, error) {
	if len(b) >= 5 && b[0] == 0x16 {
		var msg []byte
		for len(b) >= 5 && b[0] == 0x16 {
			n := int(binary.BigEndian.Uint16(b[3:5]))
			if len(b) < 5+n {
				return nil, errShort
			}
			msg = append(msg, b[5:5+n]...)
			b = b[5+n:]
		}
		b = msg
	}
	if len(b) < 4 || b[0] != 0x01 {
		return nil, errors.New("not a ClientHello handshake message")
	}
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if len(b) < 4+n {
		return nil, errShort
	}
	r := reader(b[4 : 4+n])
	h := &ClientHello{}
	var ok bool
	if h.Version, ok = r.u16(); !ok {
		return nil, errShort
	}
	if !r.skip(32) { // random
		return nil, errShort
	}
	if _, ok = r.vec8(); !ok { // session id
		return nil, errShort
	}
	cs, ok := r.vec16()
	if !ok || len(cs)%2 != 0 {
		return nil, errShort
	}
	h.Ciphers = u16s(cs)
	if _, ok = r.vec8(); !ok { // compression methods
		return nil, errShort
	}
	if len(r) == 0 {
		return h, nil // no extensions
	}
	exts, ok := r.vec16()
	if !ok {
		return nil, errShort
	}
	for er := reader(exts); len(er) > 0; {
		typ, ok1 := er.u16()
		data, ok2 := er.vec16()
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("extension list: %w", errShort)
		}
		h.Extensions = append(h.Extensions, typ)
		if err := h.extension(typ, data); err != nil {
			return nil, fmt.Errorf("extension %d: %w", typ, err)
		}
	}
	return h, nil
}

func (h *ClientHello) extension(typ uint16, data []byte) error {
	d := reader(data)
	switch typ {
	case extServerName:
		list, ok := d.vec16()
		if !ok {
			return errShort
		}
		for l := reader(list); len(l) > 0; {
			kind, ok1 := l.u8()
			name, ok2 := l.vec16()
			if !ok1 || !ok2 {
				return errShort
			}
			if kind == 0 {
				h.ServerName = string(name)
			}
		}
	case extSupportedGroups:
		v, ok := d.vec16()
		if !ok || len(v)%2 != 0 {
			return errShort
		}
		h.Curves = u16s(v)
	case extPointFormats:
		v, ok := d.vec8()
		if !ok {
			return errShort
		}
		h.PointFormats = append([]uint8(nil), v...)
	case extSignatureAlgorithms:
		v, ok := d.vec16()
		if !ok || len(v)%2 != 0 {
			return errShort
		}
		h.SignatureAlgorithms = u16s(v)
	case extSupportedVersions:
		v, ok := d.vec8()
		if !ok || len(v)%2 != 0 {
			return errShort
		}
		h.SupportedVersions = u16s(v)
	case extALPN:
		list, ok := d.vec16()
		if !ok {
			return errShort
		}
		for l := reader(list); len(l) > 0; {
			p, ok := l.vec8()
			if !ok {
				return errShort
			}
			h.ALPN = append(h.ALPN, string(p))
		}
	}
	return nil
}

// JA3 returns the JA3 string: version, ciphers, extensions, curves and
// point formats in decimal, in the order sent, GREASE left out. Chrome
// shuffles its extensions per connection (since Chrome 106), so its JA3
// changes with every handshake; JA3N and JA4 sort them.
func (h *ClientHello) JA3() string { return h.ja3(false) }

// JA3N is JA3 with the extensions sorted ("JA3 normalised"): stable for
// clients that shuffle extensions.
func (h *ClientHello) JA3N() string { return h.ja3(true) }

func (h *ClientHello) ja3(sorted bool) string {
	exts := noGREASE(h.Extensions)
	if sorted {
		slices.Sort(exts)
	}
	pf := make([]uint16, len(h.PointFormats))
	for i, p := range h.PointFormats {
		pf[i] = uint16(p)
	}
	return strings.Join([]string{
		strconv.Itoa(int(h.Version)),
		decimals(noGREASE(h.Ciphers)),
		decimals(exts),
		decimals(noGREASE(h.Curves)),
		decimals(pf),
	}, ",")
}

// Hash returns the MD5 hex digest by which JA3 strings (and Akamai HTTP/2
// fingerprints) are usually quoted.
func Hash(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// JA4 returns the JA4 fingerprint (TCP): a_b_c where a is protocol, TLS
// version, SNI or not, cipher and extension counts and ALPN; b is a
// truncated SHA-256 of the sorted ciphers; c of the sorted extensions
// (without SNI and ALPN) and the signature algorithms in order.
func (h *ClientHello) JA4() string {
	a, ciphers, exts, sigs := h.ja4Parts()
	c := exts
	if sigs != "" {
		c += "_" + sigs
	}
	return a + "_" + hash12(ciphers) + "_" + hash12(c)
}

// JA4R is JA4 before hashing ("ja4_r"): the sorted lists in hex.
func (h *ClientHello) JA4R() string {
	a, ciphers, exts, sigs := h.ja4Parts()
	s := a + "_" + ciphers + "_" + exts
	if sigs != "" {
		s += "_" + sigs
	}
	return s
}

func (h *ClientHello) ja4Parts() (a, ciphers, exts, sigs string) {
	version := h.Version
	if sv := noGREASE(h.SupportedVersions); len(sv) > 0 {
		version = slices.Max(sv)
	}
	sni := "i"
	if slices.Contains(h.Extensions, extServerName) {
		sni = "d"
	}
	cs := noGREASE(h.Ciphers)
	es := noGREASE(h.Extensions)
	a = "t" + tlsVersion(version) + sni + count2(len(cs)) + count2(len(es)) + alpnCode(h.ALPN)

	slices.Sort(cs)
	var sortedExts []uint16
	for _, e := range es {
		if e != extServerName && e != extALPN {
			sortedExts = append(sortedExts, e)
		}
	}
	slices.Sort(sortedExts)
	return a, hexList(cs), hexList(sortedExts), hexList(noGREASE(h.SignatureAlgorithms))
}

func tlsVersion(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	}
	return "00"
}

func count2(n int) string {
	return fmt.Sprintf("%02d", min(n, 99))
}

// alpnCode is the first and last character of the first ALPN value, or of
// its hex form when either is not alphanumeric; "00" without ALPN.
func alpnCode(alpn []string) string {
	if len(alpn) == 0 || alpn[0] == "" {
		return "00"
	}
	p := alpn[0]
	first, last := p[0], p[len(p)-1]
	if isAlnum(first) && isAlnum(last) {
		return string([]byte{first, last})
	}
	hx := hex.EncodeToString([]byte(p))
	return string([]byte{hx[0], hx[len(hx)-1]})
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func hash12(s string) string {
	if s == "" {
		return "000000000000"
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:12]
}

func noGREASE(vs []uint16) []uint16 {
	out := make([]uint16, 0, len(vs))
	for _, v := range vs {
		if !IsGREASE(v) {
			out = append(out, v)
		}
	}
	return out
}

func decimals(vs []uint16) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.Itoa(int(v))
	}
	return strings.Join(s, "-")
}

func hexList(vs []uint16) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = fmt.Sprintf("%04x", v)
	}
	return strings.Join(s, ",")
}

func u16s(b []byte) []uint16 {
	out := make([]uint16, len(b)/2)
	for i := range out {
		out[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return out
}

// reader is a cursor over TLS's length-prefixed vectors.
type reader []byte

func (r *reader) skip(n int) bool {
	if len(*r) < n {
		return false
	}
	*r = (*r)[n:]
	return true
}

func (r *reader) u8() (uint8, bool) {
	if len(*r) < 1 {
		return 0, false
	}
	v := (*r)[0]
	*r = (*r)[1:]
	return v, true
}

func (r *reader) u16() (uint16, bool) {
	if len(*r) < 2 {
		return 0, false
	}
	v := binary.BigEndian.Uint16(*r)
	*r = (*r)[2:]
	return v, true
}

func (r *reader) vec8() ([]byte, bool) {
	n, ok := r.u8()
	if !ok || len(*r) < int(n) {
		return nil, false
	}
	v := (*r)[:n]
	*r = (*r)[n:]
	return v, true
}

func (r *reader) vec16() ([]byte, bool) {
	n, ok := r.u16()
	if !ok || len(*r) < int(n) {
		return nil, false
	}
	v := (*r)[:n]
	*r = (*r)[n:]
	return v, true
}
