package config

import (
	"slices"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{" 10.0.0.0/8 ", "10.0.0.0/8"},
		{"10.1.2.3/8", ""}, // host bits set: a typo more often than not
		{"192.0.2.10", "192.0.2.10/32"},
		{"::ffff:192.0.2.10", "192.0.2.10/32"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"10.0.0.0/33", ""},
		{"proxy.local", ""},
		{"fe80::1%eth0", ""},
		{"", ""},
	} {
		p, err := ParseTrustedProxies([]string{tt.in})
		if tt.want == "" {
			if err == nil {
				t.Errorf("ParseTrustedProxies(%q) = %v, want an error", tt.in, p)
			}
			continue
		}
		if err != nil || len(p) != 1 || p[0].String() != tt.want {
			t.Errorf("ParseTrustedProxies(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
		}
	}
}

func TestTrustedProxiesParse(t *testing.T) {
	src := "server:\n  trustedProxies: [\"10.0.0.0/8\", \"192.0.2.10\"]\nbroadcast:\n  proxyProtocol: true\n  maxHandshakes: 2048\n  maxHandshakesPerIP: 0\n"
	cfg, err := testLoader.Parse("m.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Broadcast
	if !slices.Equal(cfg.Server.TrustedProxies, []string{"10.0.0.0/8", "192.0.2.10"}) ||
		!b.ProxyProtocol || b.MaxHandshakes != 2048 || b.MaxHandshakesPerIP != 0 {
		t.Fatalf("got server %+v broadcast %+v", cfg.Server, b)
	}
}
