package sse

import (
	"fmt"
	"strings"

	"github.com/stellarfeed/stellarfeed/internal/wire"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// Limits on a filter, far above any real use: they keep a hostile query
// from making us build big lists.
const (
	maxFilterValues = 32
	maxFilterValue  = 64
)

// Filter decides which pings a subscriber receives, with the WebSocket
// endpoint's rules: Sites and Regions come from the query
// (&site=amazon,walmart&region=USA,CA), Scopes from the key ("amazon",
// "amazon:USA"). The zero Filter passes everything.
type Filter struct{ f wire.Filter }

// FilterError names the query parameter at fault.
type FilterError struct {
	Field   string // "site" or "region"
	Message string
}

func (e *FilterError) Error() string { return e.Field + ": " + e.Message }

// NewFilter builds a filter. sites and regions are the values of the site
// and region query parameters, each a comma-separated list (repeated
// parameters add up); scopes are the key's. Sites are lower-cased and
// regions upper-cased; an unknown region is an error, so a typo fails
// loudly instead of silently receiving nothing.
func NewFilter(sites, regions, scopes []string) (Filter, error) {
	var f wire.Filter
	var err error
	if f.Sites, err = splitList("site", sites, strings.ToLower); err != nil {
		return Filter{}, err
	}
	if f.Regions, err = splitList("region", regions, strings.ToUpper); err != nil {
		return Filter{}, err
	}
	for _, r := range f.Regions {
		if !stellar.IsRegion(r) {
			return Filter{}, &FilterError{"region", fmt.Sprintf("unknown region %q (one of %s)", r, strings.Join(stellar.Regions(), ", "))}
		}
	}
	f.Scopes = wire.ParseScopes(scopes)
	return Filter{f}, nil
}

func splitList(field string, values []string, norm func(string) string) ([]string, error) {
	var out []string
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if len(part) > maxFilterValue {
				return nil, &FilterError{field, fmt.Sprintf("value longer than %d bytes", maxFilterValue)}
			}
			if len(out) == maxFilterValues {
				return nil, &FilterError{field, fmt.Sprintf("more than %d values", maxFilterValues)}
			}
			out = append(out, norm(part))
		}
	}
	return out, nil
}

// Match reports whether a ping of that site and region passes. It never
// allocates: Publish calls it once per subscriber.
func (f *Filter) Match(site, region string) bool { return f.f.Match(site, region) }
