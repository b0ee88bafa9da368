package wire

import (
	"slices"
	"strings"
)

// Scope selects pings by site, and for Amazon optionally by region:
// "amazon" is every Amazon region, "amazon:USA" one of them.
type Scope struct {
	Site, Region string // Region "" = every region
}

// ParseScopes reads key scopes such as "amazon:USA" or "walmart"; sites
// are lower-cased and regions upper-cased. Nil in, nil out.
func ParseScopes(in []string) []Scope {
	if len(in) == 0 {
		return nil
	}
	out := make([]Scope, 0, len(in))
	for _, s := range in {
		site, region, _ := strings.Cut(strings.TrimSpace(s), ":")
		out = append(out, Scope{Site: strings.ToLower(site), Region: strings.ToUpper(region)})
	}
	return out
}

// Matches reports whether a ping of that site and region is in the scope.
func (s Scope) Matches(site, region string) bool {
	return s.Site == site && (s.Region == "" || s.Region == region)
}

// MatchesAny reports whether one of scopes selects the ping.
func MatchesAny(scopes []Scope, site, region string) bool {
	for _, s := range scopes {
		if s.Matches(site, region) {
			return true
		}
	}
	return false
}

// Filter is what one subscriber receives, the same on every endpoint:
// Sites and Regions come from its query (&site=amazon&region=USA,CA),
// Scopes from its key. Nil fields do not restrict; the zero Filter passes
// everything. Match never allocates: fan-out calls it per connection.
type Filter struct {
	Sites   []string // lower case
	Regions []string // upper case
	Scopes  []Scope
}

// Match reports whether a ping of that site and region passes.
func (f *Filter) Match(site, region string) bool {
	if f.Sites != nil && !slices.Contains(f.Sites, site) {
		return false
	}
	// Only Amazon pings carry a region: a region filter narrows those and
	// lets region-less pings (Walmart, Shopify) through.
	if f.Regions != nil && region != "" && !slices.Contains(f.Regions, region) {
		return false
	}
	return f.Scopes == nil || MatchesAny(f.Scopes, site, region)
}
