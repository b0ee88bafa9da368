package monitors

import (
	"fmt"
	"net/url"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
)

// ParseBaseURL checks a Target.BaseURL: an absolute http(s) URL that may
// carry a path prefix (the simulator serves each retailer under one) but
// no query or fragment. Errors name the field as config files spell it.
func ParseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("baseURL: %q: %w", textutil.Short(s), err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("baseURL: %q is not an absolute http(s) URL", textutil.Short(s))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("baseURL: %q must not have a query or fragment", textutil.Short(s))
	}
	return u, nil
}
