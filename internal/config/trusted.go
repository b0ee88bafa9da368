package config

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
)

// ParseTrustedProxies reads server.trustedProxies: CIDR prefixes
// ("10.0.0.0/8", "::1/128") or single addresses ("127.0.0.1", read as
// /32 or /128). The error names the offending entry's index.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for i, s := range list {
		p, err := parseTrusted(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("trustedProxies[%d]: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseTrusted(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix such as \"10.0.0.0/8\" or \"::1/128\"", textutil.Short(s))
		}
		if p.Masked() != p {
			return netip.Prefix{}, fmt.Errorf("%q has host bits set: did you mean %q?", s, p.Masked())
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is neither an IP address nor a CIDR prefix such as \"10.0.0.0/8\"", textutil.Short(s))
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// trustedProxies checks server.trustedProxies entry by entry.
func (v *validator) trustedProxies(s *Server) {
	for i, p := range s.TrustedProxies {
		if _, err := parseTrusted(strings.TrimSpace(p)); err != nil {
			v.errf(fmt.Sprintf("server.trustedProxies[%d]", i), "%s", err.Error())
		}
	}
}
