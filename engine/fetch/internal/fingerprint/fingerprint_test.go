package fingerprint

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The published values (Chrome143) are of one handshake: its JA3 is that
// handshake's extension order, which Chrome shuffles per connection.
var (
	chromeJA3        = Chrome143.JA3
	chromeJA3Hash    = Chrome143.JA3Hash
	chromeJA3N       = Chrome143.JA3N
	chromeJA3NHash   = Chrome143.JA3NHash
	chromeJA4        = Chrome143.JA4
	chromeJA4R       = Chrome143.JA4R
	chromeAkamai     = Chrome143.Akamai
	chromeAkamaiHash = Chrome143.AkamaiHash
)

// chromeHello rebuilds that handshake's ClientHello record from the
// published capture: its cipher and extension order (ja4_ro), with GREASE
// where Chrome puts it (first cipher, first and last extension, first
// group, first version, first key share) and extension bodies of Chrome's
// shape; key material is zeros (no fingerprint reads it).
func chromeHello(t *testing.T) []byte {
	t.Helper()
	u16 := func(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
	vec16 := func(b, body []byte) []byte { return append(u16(b, uint16(len(body))), body...) }
	vec8 := func(b, body []byte) []byte { return append(append(b, byte(len(body))), body...) }
	list16 := func(vs ...uint16) []byte {
		var b []byte
		for _, v := range vs {
			b = u16(b, v)
		}
		return b
	}
	ext := func(b []byte, typ uint16, body []byte) []byte { return vec16(u16(b, typ), body) }

	var exts []byte
	exts = ext(exts, 0x2a2a, nil) // GREASE
	exts = ext(exts, 45, vec8(nil, []byte{1}))
	var shares []byte
	shares = vec16(u16(shares, 0x8a8a), []byte{0})
	shares = vec16(u16(shares, 4588), make([]byte, 1216))
	shares = vec16(u16(shares, 29), make([]byte, 32))
	exts = ext(exts, 51, vec16(nil, shares))
	exts = ext(exts, 16, vec16(nil, vec8(vec8(nil, []byte("h2")), []byte("http/1.1"))))
	exts = ext(exts, 65037, make([]byte, 218))
	exts = ext(exts, 23, nil)
	exts = ext(exts, 17613, vec16(nil, vec8(nil, []byte("h2"))))
	exts = ext(exts, 0, vec16(nil, vec16([]byte{0}, []byte("tls.browserleaks.com"))))
	exts = ext(exts, 11, vec8(nil, []byte{0}))
	exts = ext(exts, 10, vec16(nil, list16(0x4a4a, 4588, 29, 23, 24)))
	exts = ext(exts, 43, vec8(nil, list16(0x9a9a, 0x0304, 0x0303)))
	exts = ext(exts, 65281, []byte{0})
	exts = ext(exts, 35, nil)
	exts = ext(exts, 18, nil)
	exts = ext(exts, 5, []byte{1, 0, 0, 0, 0})
	exts = ext(exts, 13, vec16(nil, list16(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)))
	exts = ext(exts, 27, vec8(nil, list16(2)))
	exts = ext(exts, 0xdada, []byte{0}) // GREASE

	body := u16(nil, 0x0303)
	body = append(body, make([]byte, 32)...) // random
	body = vec8(body, make([]byte, 32))      // session id
	body = vec16(body, list16(0x3a3a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035))
	body = vec8(body, []byte{0}) // compression: null
	body = vec16(body, exts)
	msg := append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	return vec16([]byte{0x16, 0x03, 0x01}, msg)
}

func TestChromeCapture(t *testing.T) {
	h, err := ParseClientHello(chromeHello(t))
	if err != nil {
		t.Fatal(err)
	}
	if h.ServerName != "tls.browserleaks.com" || len(h.ALPN) != 2 || h.ALPN[0] != "h2" {
		t.Errorf("SNI %q, ALPN %q", h.ServerName, h.ALPN)
	}
	checks := []struct{ name, got, want string }{
		{"JA3", h.JA3(), chromeJA3},
		{"JA3 hash", Hash(h.JA3()), chromeJA3Hash},
		{"JA3N", h.JA3N(), chromeJA3N},
		{"JA3N hash", Hash(h.JA3N()), chromeJA3NHash},
		{"JA4_r", h.JA4R(), chromeJA4R},
		{"JA4", h.JA4(), chromeJA4},
		{"Akamai hash", Hash(chromeAkamai), chromeAkamaiHash},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, c.got, c.want)
		}
	}
}

// TestClientHelloSplitRecords: a hello over two records (post-quantum key
// shares make them large) parses as one; a cut one is an error.
func TestClientHelloSplitRecords(t *testing.T) {
	rec := chromeHello(t)
	msg := rec[5:]
	half := len(msg) / 2
	two := append([]byte{0x16, 3, 1, byte(half >> 8), byte(half)}, msg[:half]...)
	rest := len(msg) - half
	two = append(two, 0x16, 3, 1, byte(rest>>8), byte(rest))
	two = append(two, msg[half:]...)
	h, err := ParseClientHello(two)
	if err != nil || h.JA4() != chromeJA4 {
		t.Fatalf("split hello: %v %v", h, err)
	}
	for _, n := range []int{0, 4, 5, 40, len(rec) - 1} {
		if _, err := ParseClientHello(rec[:n]); err == nil {
			t.Errorf("hello cut at %d parsed", n)
		}
	}
}

func TestGREASE(t *testing.T) {
	for _, v := range []uint16{0x0a0a, 0x1a1a, 0xfafa} {
		if !IsGREASE(v) {
			t.Errorf("%#04x not GREASE", v)
		}
	}
	for _, v := range []uint16{0x0a1a, 0x1301, 0x0000, 0xfe0d} {
		if IsGREASE(v) {
			t.Errorf("%#04x GREASE", v)
		}
	}
}

func TestALPNCode(t *testing.T) {
	f := func(alpn []string, want string) {
		t.Helper()
		if got := alpnCode(alpn); got != want {
			t.Errorf("alpnCode(%q) = %q, want %q", alpn, got, want)
		}
	}
	f(nil, "00")
	f([]string{"h2", "http/1.1"}, "h2")
	f([]string{"http/1.1"}, "h1")
	f([]string{"\xab\xcd"}, "ad")
}

// TestAkamai: Chrome's opening frames, written with x/net's framer as
// Chrome orders them, give Chrome's published string; Go's order does not.
func TestAkamai(t *testing.T) {
	frames := func(settings []http2.Setting, pseudo []string, prio bool) []byte {
		var buf bytes.Buffer
		buf.WriteString(http2.ClientPreface)
		fr := http2.NewFramer(&buf, nil)
		fr.WriteSettings(settings...)
		fr.WriteWindowUpdate(0, 15663105)
		var hb bytes.Buffer
		enc := hpack.NewEncoder(&hb)
		vals := map[string]string{":method": "GET", ":authority": "example.com", ":scheme": "https", ":path": "/"}
		for _, p := range pseudo {
			enc.WriteField(hpack.HeaderField{Name: p, Value: vals[p]})
		}
		enc.WriteField(hpack.HeaderField{Name: "user-agent", Value: "x"})
		p := http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}
		if prio {
			p.Priority = http2.PriorityParam{Exclusive: true, Weight: 255}
		}
		fr.WriteHeaders(p)
		return buf.Bytes()
	}
	chrome := []http2.Setting{{ID: 1, Val: 65536}, {ID: 2, Val: 0}, {ID: 4, Val: 6291456}, {ID: 6, Val: 262144}}
	h, err := ParseHTTP2(frames(chrome, []string{":method", ":authority", ":scheme", ":path"}, true))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Akamai(); got != chromeAkamai {
		t.Errorf("Akamai %q, want %q", got, chromeAkamai)
	}
	if h.HeadersPriority != "1:1:0:256" || strings.Join(h.HeaderOrder(), ",") != "user-agent" {
		t.Errorf("priority %q, headers %q", h.HeadersPriority, h.HeaderOrder())
	}
	goOrder := []http2.Setting{{ID: 2, Val: 0}, {ID: 4, Val: 4194304}, {ID: 5, Val: 16384}, {ID: 6, Val: 10485760}}
	h, err = ParseHTTP2(frames(goOrder, []string{":authority", ":method", ":path", ":scheme"}, false))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.Akamai(), "2:0;4:4194304;5:16384;6:10485760|15663105|0|a,m,p,s"; got != want {
		t.Errorf("Go-ordered Akamai %q, want %q", got, want)
	}
	if _, err := ParseHTTP2([]byte("GET / HTTP/1.1\r\n")); err == nil {
		t.Error("HTTP/1.1 parsed as HTTP/2")
	}
}

func FuzzParseClientHello(f *testing.F) {
	f.Add([]byte{0x16, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 2, 3, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseClientHello(b)
		if err != nil {
			return
		}
		// Whatever parses yields well-formed fingerprints.
		if ja4 := h.JA4(); len(strings.Split(ja4, "_")) != 3 || len(ja4) != 36 {
			t.Errorf("JA4 %q", ja4)
		}
		_ = h.JA3()
	})
}

// TestChrome151Capture: the raw ClientHello of a real Chrome 151, as
// published, gives the published JA4, and its JA3 is one of the six
// published for that browser's handshakes.
func TestChrome151Capture(t *testing.T) {
	raw := Chrome151ClientHello()
	h, err := ParseClientHello(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := Chrome151
	if h.JA4() != want.JA4 || h.JA3N() != want.JA3N || Hash(h.JA3N()) != want.JA3NHash {
		t.Errorf("JA4 %s, JA3N %s; want %s, %s", h.JA4(), h.JA3N(), want.JA4, want.JA3N)
	}
	if !slices.Contains(Chrome151JA3Hashes, Hash(h.JA3())) {
		t.Errorf("JA3 %s (%s) is none of the published %q", Hash(h.JA3()), h.JA3(), Chrome151JA3Hashes)
	}
	if h.ServerName != "localhost" || !slices.Equal(h.SignatureAlgorithms[:3], []uint16{0x0904, 0x0905, 0x0906}) {
		t.Errorf("SNI %q, signature algorithms %04x", h.ServerName, h.SignatureAlgorithms)
	}
}
