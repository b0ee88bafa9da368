package broadcast

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/internal/wire"
	"github.com/stellarfeed/stellarfeed/stellar"
)

func TestParseRequestURI(t *testing.T) {
	tests := []struct {
		name    string
		uri     string
		want    request
		status  int
		errText string
	}{
		{
			name: "root",
			uri:  "/?key=abc",
			want: request{key: "abc"},
		},
		{
			name: "stellar path with filters",
			uri:  "/stellar?key=abc&site=Amazon,walmart&region=usa,CA",
			want: request{key: "abc", sites: []string{"amazon", "walmart"}, regions: []string{"USA", "CA"}},
		},
		{
			name: "escaped key and empty list items",
			uri:  "/?site=amazon,,&key=a%2Bb%3D",
			want: request{key: "a+b=", sites: []string{"amazon"}},
		},
		{
			name:    "missing key",
			uri:     "/?site=amazon",
			status:  401,
			errText: "missing key",
		},
		{
			name: "realtime path",
			uri:  "/ws?key=abc&site=amazon",
			want: request{realtime: true, key: "abc", sites: []string{"amazon"}},
		},
		{
			name:    "wrong path",
			uri:     "/admin?key=abc",
			status:  404,
			errText: "unknown path",
		},
		{
			name:    "unknown region",
			uri:     "/?key=abc&region=XX",
			status:  400,
			errText: "region",
		},
		{
			name:    "bad escape",
			uri:     "/?key=%zz",
			status:  400,
			errText: "key",
		},
		{
			name:    "key too long",
			uri:     "/?key=" + strings.Repeat("k", maxKeyLen+1),
			status:  400,
			errText: "key",
		},
		{
			name:    "too many sites",
			uri:     "/?key=a&site=" + strings.Repeat("s,", maxFilterList+2),
			status:  400,
			errText: "site",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRequestURI([]byte(tt.uri))
			if tt.status != 0 {
				var ae *AuthError
				if !errors.As(err, &ae) || ae.Status != tt.status || !strings.Contains(ae.Reason, tt.errText) {
					t.Fatalf("err %v, want status %d with %q", err, tt.status, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRejection(t *testing.T) {
	st, reason := rejection(&AuthError{Status: 429, Reason: "too many"})
	if st != 429 || reason != "too many" {
		t.Errorf("got %d %q", st, reason)
	}
	st, reason = rejection(&AuthError{Status: 200})
	if st != 401 || reason == "" {
		t.Errorf("non-error status kept: %d %q", st, reason)
	}
	st, reason = rejection(errors.New("revoked"))
	if st != 401 || reason != "revoked" {
		t.Errorf("plain error: %d %q", st, reason)
	}
}

func TestFilterMatch(t *testing.T) {
	msg := func(site, region string) *wire.Message { return &wire.Message{Site: site, Region: region} }
	f := filter{Filter: wire.Filter{Sites: []string{"amazon"}, Regions: []string{"USA"}, Scopes: wire.ParseScopes([]string{"amazon:usa"})}}
	if !f.match(msg("amazon", "USA")) || f.match(msg("amazon", "UK")) || f.match(msg("walmart", "")) {
		t.Error("filter mismatch")
	}
	if !(&filter{}).match(msg("shopify", "")) {
		t.Error("empty filter must match everything")
	}
	if allocs := testing.AllocsPerRun(100, func() { f.match(msg("amazon", "USA")) }); allocs != 0 {
		t.Errorf("match allocates %.0f", allocs)
	}
}

// FuzzParseRequestURI: any request line must give a request or an
// *AuthError with a 4xx status, never a panic; filters stay bounded.
func FuzzParseRequestURI(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "request_uris.txt")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f.Add([]byte(line))
		}
	}
	f.Fuzz(func(t *testing.T, uri []byte) {
		req, err := parseRequestURI(uri)
		if err != nil {
			var ae *AuthError
			if !errors.As(err, &ae) || ae.Status < 400 || ae.Status > 499 || ae.Reason == "" {
				t.Fatalf("bad error %#v", err)
			}
			return
		}
		if req.key == "" || len(req.sites) > maxFilterList || len(req.regions) > maxFilterList {
			t.Fatalf("accepted %+v", req)
		}
		for _, r := range req.regions {
			if !stellar.IsRegion(r) {
				t.Fatalf("region %q accepted", r)
			}
		}
	})
}
