package sse

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stellarfeed/stellarfeed/internal/stellar"
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
type Filter struct {
	sites   []string // nil = any site
	regions []string // nil = any region; region-less pings pass
	scopes  []scope  // nil = unrestricted
}

type scope struct{ site, region string }

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
	var f Filter
	var err error
	if f.sites, err = splitList("site", sites, strings.ToLower); err != nil {
		return Filter{}, err
	}
	if f.regions, err = splitList("region", regions, strings.ToUpper); err != nil {
		return Filter{}, err
	}
	for _, r := range f.regions {
		if !stellar.IsRegion(r) {
			return Filter{}, &FilterError{"region", fmt.Sprintf("unknown region %q (one of %s)", r, strings.Join(stellar.Regions(), ", "))}
		}
	}
	if len(scopes) > 0 {
		f.scopes = make([]scope, 0, len(scopes))
		for _, s := range scopes {
			site, region, _ := strings.Cut(strings.TrimSpace(s), ":")
			f.scopes = append(f.scopes, scope{site: strings.ToLower(site), region: strings.ToUpper(region)})
		}
	}
	return f, nil
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
func (f *Filter) Match(site, region string) bool {
	if f.sites != nil && !slices.Contains(f.sites, site) {
		return false
	}
	// Only Amazon pings carry a region: a region filter narrows those and
	// lets region-less pings (Walmart, Shopify) through.
	if f.regions != nil && region != "" && !slices.Contains(f.regions, region) {
		return false
	}
	if f.scopes == nil {
		return true
	}
	for _, s := range f.scopes {
		if s.site == site && (s.region == "" || s.region == region) {
			return true
		}
	}
	return false
}
