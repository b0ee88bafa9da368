package fetch

import (
	"strings"
	"testing"
)

func TestSecCHUA(t *testing.T) {
	f := func(major int, want string) {
		t.Helper()
		if got := secCHUA(major); got != want {
			t.Errorf("secCHUA(%d) = %s, want %s", major, got, want)
		}
	}
	// Captured from the browsers.
	f(118, `"Chromium";v="118", "Google Chrome";v="118", "Not=A?Brand";v="99"`)
	f(151, `"Not=A?Brand";v="99", "Google Chrome";v="151", "Chromium";v="151"`)
	f(122, `"Chromium";v="122", "Not(A:Brand";v="24", "Google Chrome";v="122"`)
	f(131, `"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"`)
	if h := chromeHints(DefaultUserAgents[1]); h[2] != `"macOS"` || h[1] != "?0" || !strings.Contains(h[0], `"Chromium";v="`+ProfileChromeVersion+`"`) {
		t.Errorf("hints for %s: %q", DefaultUserAgents[1], h)
	}
	for _, ua := range []string{"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Mozilla/5.0 … Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"} {
		if h := chromeHints(ua); h != [3]string{} {
			t.Errorf("hints for %s: %q, want none", ua, h)
		}
	}
}
