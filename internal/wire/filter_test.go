package wire

import "testing"

func TestFilterMatch(t *testing.T) {
	tests := []struct {
		name         string
		f            Filter
		site, region string
		want         bool
	}{
		{"zero filter passes all", Filter{}, "shopify", "", true},
		{"site list", Filter{Sites: []string{"walmart"}}, "amazon", "USA", false},
		{"region narrows amazon", Filter{Regions: []string{"USA"}}, "amazon", "UK", false},
		{"region lets region-less pings through", Filter{Regions: []string{"USA"}}, "walmart", "", true},
		{"scope site", Filter{Scopes: ParseScopes([]string{"amazon"})}, "amazon", "JP", true},
		{"scope region", Filter{Scopes: ParseScopes([]string{" amazon:usa "})}, "amazon", "USA", true},
		{"scope other region", Filter{Scopes: ParseScopes([]string{"amazon:USA"})}, "amazon", "UK", false},
		{"scope other site", Filter{Scopes: ParseScopes([]string{"Amazon", "walmart"})}, "shopify", "", false},
		{"all three", Filter{Sites: []string{"amazon"}, Regions: []string{"USA"}, Scopes: ParseScopes([]string{"amazon:USA"})}, "amazon", "USA", true},
	}
	for _, tt := range tests {
		if got := tt.f.Match(tt.site, tt.region); got != tt.want {
			t.Errorf("%s: Match(%q, %q) = %v, want %v", tt.name, tt.site, tt.region, got, tt.want)
		}
	}
	f := Filter{Sites: []string{"amazon"}, Scopes: ParseScopes([]string{"amazon:USA"})}
	if n := testing.AllocsPerRun(100, func() { f.Match("amazon", "USA") }); n != 0 {
		t.Fatalf("Match allocates %v times", n)
	}
	if ParseScopes(nil) != nil {
		t.Fatal("ParseScopes(nil) != nil")
	}
}
