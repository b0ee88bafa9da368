package sse

import (
	"errors"
	"slices"
	"testing"

	"github.com/stellarfeed/stellarfeed/stellar"
)

func TestFilter(t *testing.T) {
	type ping struct{ site, region string }
	var (
		amzUS = ping{"amazon", "USA"}
		amzJP = ping{"amazon", "JP"}
		wal   = ping{"walmart", ""}
		shop  = ping{"shopify", ""}
	)
	all := []ping{amzUS, amzJP, wal, shop}
	tests := []struct {
		name                   string
		sites, regions, scopes []string
		want                   []ping
	}{
		{"none", nil, nil, nil, all},
		{"site", []string{"amazon"}, nil, nil, []ping{amzUS, amzJP}},
		{"sites upper-case, spaces, repeated", []string{" Amazon ,", "walmart"}, nil, nil, []ping{amzUS, amzJP, wal}},
		{"region lets region-less pass", nil, []string{"usa"}, nil, []ping{amzUS, wal, shop}},
		{"site and region", []string{"amazon"}, []string{"JP,UK"}, nil, []ping{amzJP}},
		{"scope site", nil, nil, []string{"walmart"}, []ping{wal}},
		{"scope region", nil, nil, []string{"amazon:USA", "shopify"}, []ping{amzUS, shop}},
		{"scope and query narrow together", []string{"amazon"}, nil, []string{"amazon:JP", "walmart"}, []ping{amzJP}},
		{"query outside scope", []string{"walmart"}, nil, []string{"amazon"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFilter(tt.sites, tt.regions, tt.scopes)
			if err != nil {
				t.Fatal(err)
			}
			var got []ping
			for _, p := range all {
				if f.Match(p.site, p.region) {
					got = append(got, p)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestNewFilterErrors(t *testing.T) {
	long := string(make([]byte, 65))
	many := ""
	for range 33 {
		many += "a,"
	}
	tests := []struct {
		name           string
		sites, regions []string
		field, msg     string
	}{
		{"unknown region", nil, []string{"USA,XX"}, "region", `unknown region "XX" (one of USA, CA, UK, NL, FR, IT, DE, JP, ES, BE, PL, AU)`},
		{"long site", []string{long}, nil, "site", "value longer than 64 bytes"},
		{"many sites", []string{many}, nil, "site", "more than 32 values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewFilter(tt.sites, tt.regions, nil)
			var fe *FilterError
			if !errors.As(err, &fe) || fe.Field != tt.field || fe.Message != tt.msg {
				t.Fatalf("err = %v, want %s: %s", err, tt.field, tt.msg)
			}
		})
	}
}

func TestFilterMatchAllocs(t *testing.T) {
	f, _ := NewFilter([]string{"amazon"}, []string{"USA"}, []string{"amazon:USA"})
	if n := testing.AllocsPerRun(100, func() { f.Match("amazon", "USA") }); n != 0 {
		t.Fatalf("Match allocates %v", n)
	}
}

// FuzzNewFilter: any query values either fail with the field named, or
// give a filter whose matches respect the lists.
func FuzzNewFilter(f *testing.F) {
	f.Add("amazon,walmart", "USA,jp", "amazon:USA")
	f.Add(" ,,AMAZON", "", "")
	f.Add("a", "XX", "walmart")
	f.Add("", ",,", "amazon:")
	f.Fuzz(func(t *testing.T, sites, regions, scope string) {
		var scopes []string
		if scope != "" {
			scopes = []string{scope}
		}
		flt, err := NewFilter([]string{sites}, []string{regions}, scopes)
		if err != nil {
			var fe *FilterError
			if !errors.As(err, &fe) || fe.Field != "site" && fe.Field != "region" {
				t.Fatalf("error %v without a field", err)
			}
			return
		}
		if len(flt.f.Sites) > maxFilterValues || len(flt.f.Regions) > maxFilterValues {
			t.Fatalf("lists too long: %d %d", len(flt.f.Sites), len(flt.f.Regions))
		}
		for _, r := range flt.f.Regions {
			if !stellar.IsRegion(r) {
				t.Fatalf("region %q accepted", r)
			}
		}
		for _, site := range append(slices.Clone(flt.f.Sites), "amazon", "walmart", "x") {
			for _, region := range []string{"", "USA", "JP"} {
				if !flt.Match(site, region) {
					continue
				}
				if flt.f.Sites != nil && !slices.Contains(flt.f.Sites, site) {
					t.Fatalf("matched site %q outside %v", site, flt.f.Sites)
				}
				if flt.f.Regions != nil && region != "" && !slices.Contains(flt.f.Regions, region) {
					t.Fatalf("matched region %q outside %v", region, flt.f.Regions)
				}
			}
		}
	})
}
