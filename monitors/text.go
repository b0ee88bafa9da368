package monitors

import (
	"net/url"
	"strings"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
)

// maxURLLen matches the Stellar contract's limit on productImage.
const maxURLLen = 2048

// AbsURL returns u as an absolute http(s) URL, or "" when it is not one.
// Retailers write protocol-relative image URLs ("//cdn.shopify.com/...",
// "//m.media-amazon.com/..."): those get https. URLs a Stellar ping could
// not carry (too long, whitespace or control characters) yield "".
func AbsURL(u string) string {
	u = strings.TrimSpace(u)
	if strings.HasPrefix(u, "//") {
		u = "https:" + u
	}
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return ""
	}
	if len(u) > maxURLLen || strings.ContainsAny(u, " \t\r\n\x00\x7f") {
		return ""
	}
	if pu, err := url.Parse(u); err != nil || pu.Host == "" {
		return ""
	}
	return u
}

// CleanText trims s and turns control characters into spaces: Stellar
// rejects titles that carry them.
func CleanText(s string) string {
	s = strings.TrimSpace(s)
	if !textutil.HasControl(s) {
		return s
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if textutil.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}
