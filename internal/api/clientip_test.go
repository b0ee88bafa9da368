package api

import (
	"net/netip"
	"strings"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted := Proxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	proxy := netip.MustParseAddr("10.0.0.2")
	lines := func(ls ...string) [][]byte {
		out := make([][]byte, len(ls))
		for i, l := range ls {
			out[i] = []byte(l)
		}
		return out
	}
	tests := []struct {
		name    string
		proxies Proxies
		peer    netip.Addr
		xff     [][]byte
		realIP  string
		want    string
	}{
		{"no trusted proxies: headers ignored", nil, proxy, lines("198.51.100.1"), "198.51.100.2", "10.0.0.2"},
		{"untrusted peer: headers ignored", trusted, netip.MustParseAddr("203.0.113.9"), lines("198.51.100.1"), "", "203.0.113.9"},
		{"one proxy", trusted, proxy, lines("198.51.100.1"), "", "198.51.100.1"},
		{"rightmost untrusted hop wins over a forged left part", trusted, proxy, lines("6.6.6.6, 198.51.100.1"), "", "198.51.100.1"},
		{"chain of trusted proxies", trusted, proxy, lines("198.51.100.1, 10.1.1.1,10.2.2.2"), "", "198.51.100.1"},
		{"several header lines read in order", trusted, proxy, lines("6.6.6.6", "198.51.100.1, 10.1.1.1"), "", "198.51.100.1"},
		{"all hops trusted: leftmost", trusted, proxy, lines("10.9.9.9, 10.1.1.1"), "", "10.9.9.9"},
		{"malformed hop stops the walk", trusted, proxy, lines("198.51.100.1, not-an-ip, 10.1.1.1"), "", "10.1.1.1"},
		{"malformed last hop: the peer", trusted, proxy, lines("garbage"), "", "10.0.0.2"},
		{"hop with a port", trusted, proxy, lines("198.51.100.1:4567"), "", "198.51.100.1"},
		{"IPv6 hop with a port", trusted, proxy, lines("[2001:db8::1]:443"), "", "2001:db8::1"},
		{"IPv4-mapped hop unmapped", trusted, proxy, lines("::ffff:198.51.100.1"), "", "198.51.100.1"},
		{"X-Real-IP without X-Forwarded-For", trusted, proxy, nil, " 198.51.100.3 ", "198.51.100.3"},
		{"X-Forwarded-For wins over X-Real-IP", trusted, proxy, lines("198.51.100.1"), "198.51.100.3", "198.51.100.1"},
		{"bad X-Real-IP: the peer", trusted, proxy, nil, "nope", "10.0.0.2"},
		{"IPv6 proxy", trusted, netip.MustParseAddr("::1"), lines("2001:db8::7"), "", "2001:db8::7"},
		{"empty elements are malformed", trusted, proxy, lines("198.51.100.1,"), "", "10.0.0.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.proxies.ClientIP(tt.peer, tt.xff, []byte(tt.realIP))
			if got.String() != tt.want {
				t.Fatalf("ClientIP = %v, want %s", got, tt.want)
			}
		})
	}
}

func FuzzClientIP(f *testing.F) {
	f.Add("198.51.100.1, 10.1.1.1", "198.51.100.3")
	f.Add("[::1]:80,,x", "")
	f.Add(strings.Repeat("10.0.0.1,", 50), "::ffff:1.2.3.4")
	trusted := Proxies{netip.MustParsePrefix("10.0.0.0/8")}
	peer := netip.MustParseAddr("10.0.0.2")
	f.Fuzz(func(t *testing.T, xff, realIP string) {
		got := trusted.ClientIP(peer, [][]byte{[]byte(xff)}, []byte(realIP))
		if !got.IsValid() {
			t.Fatalf("ClientIP(%q, %q) is invalid", xff, realIP)
		}
		if got == peer {
			return
		}
		// Whatever is returned was written in a header.
		for _, hop := range append(strings.Split(xff, ","), realIP) {
			if a, ok := parseHop([]byte(hop)); ok && a == got {
				return
			}
		}
		t.Fatalf("ClientIP(%q, %q) = %v: not from the headers", xff, realIP, got)
	})
}
