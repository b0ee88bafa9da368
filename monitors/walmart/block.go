package walmart

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// strongMarkers only appear on PerimeterX bot walls, never on a product
// page, so they are searched for in every body. A marker is found by its
// needle, then checked for its prefix: the needles start with bytes that
// are rare in HTML ('R', 'x', 'A'), which keeps the search of a 1 MB page
// at SIMD speed instead of stopping at every '<'.
var strongMarkers = []struct{ prefix, needle, reason string }{
	{`<title>`, `Robot or human?</title>`, "bot wall: \"Robot or human?\" page"},
	{`id="p`, `x-captcha"`, "bot wall: #px-captcha element"},
	{`<title>`, `Access to this page has been denied`, "bot wall: \"Access to this page has been denied\""},
}

// containsMarker reports whether prefix+needle occurs in body.
func containsMarker(body []byte, prefix, needle string) bool {
	for off := 0; off < len(body); {
		i := bytes.Index(body[off:], []byte(needle))
		if i < 0 {
			return false
		}
		i += off
		if i >= len(prefix) && string(body[i-len(prefix):i]) == prefix {
			return true
		}
		off = i + 1
	}
	return false
}

// weakMarkers could also occur in a product's own text (a description
// saying "press and hold the button"), so they count only on pages that
// carry no product data (__NEXT_DATA__, or the 2020 layout's item script).
var weakMarkers = []struct{ text, reason string }{
	{`Press and hold`, "bot wall: \"Press and hold\" challenge"},
	{`Press &amp; Hold`, "bot wall: \"Press and hold\" challenge"},
	{`px-captcha`, "bot wall: px-captcha"},
	{`Access to this page has been denied`, "bot wall: \"Access to this page has been denied\""},
	{`Robot or human`, "bot wall: \"Robot or human?\" page"},
	{`<title>Verify Your Identity`, "bot wall: \"Verify Your Identity\" page"},
}

// DetectBlock reports whether a response is a bot wall rather than a
// product page, and why. A 200 is not success on Walmart: the wall is
// served as an ordinary page.
//
// Blocked: HTTP 403, 412 and 429; a redirect to /blocked?url=...; the
// "Robot or human?" page, "Press and hold", #px-captcha, "Verify Your
// Identity" and "Access to this page has been denied". A page without any
// of these and without product data is not a block: Check reports it as
// an unknown layout (an older or newer page, an edge error page), which
// backs off no proxy and says nothing about stock. Other non-2xx statuses
// (404, 5xx) are not blocks; Check reports them as Error.
func DetectBlock(status int, finalURL string, body []byte) (reason string, blocked bool) {
	switch status {
	case http.StatusForbidden, http.StatusPreconditionFailed, http.StatusTooManyRequests:
		return "HTTP " + strconv.Itoa(status), true
	}
	if isBlockedURL(finalURL) {
		return "redirected to /blocked", true
	}
	for _, m := range strongMarkers {
		if containsMarker(body, m.prefix, m.needle) {
			return m.reason, true
		}
	}
	if HasNextData(body) {
		return "", false
	}
	if _, ok := scriptByID(body, "item"); ok {
		return "", false
	}
	for _, m := range weakMarkers {
		if bytes.Contains(body, []byte(m.text)) {
			return m.reason, true
		}
	}
	return "", false
}

// isBlockedURL matches https://www.walmart.com/blocked?url=... and the same
// path under a simulator's base path.
func isBlockedURL(u string) bool {
	if u == "" {
		return false
	}
	pu, err := url.Parse(u)
	if err != nil {
		return strings.Contains(u, "/blocked?")
	}
	p := strings.TrimRight(pu.Path, "/")
	return p == "/blocked" || strings.HasSuffix(p, "/blocked")
}
