package monitors

import (
	"fmt"
	"net/url"
)

// ParseBaseURL checks a Target.BaseURL: an absolute http(s) URL that may
// carry a path prefix (the simulator serves each retailer under one) but
// no query or fragment. Errors name the field as config files spell it.
func ParseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("baseURL: %q: %w", short(s), err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("baseURL: %q is not an absolute http(s) URL", short(s))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("baseURL: %q must not have a query or fragment", short(s))
	}
	return u, nil
}

// short keeps error messages readable when the input is huge.
func short(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
