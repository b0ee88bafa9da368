package amazon

import (
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/stellar"
)

func TestRegions(t *testing.T) {
	all := Regions()
	if got, want := len(all), len(stellar.Regions()); got != want {
		t.Fatalf("%d regions, want %d", got, want)
	}
	domains := map[string]bool{}
	for i, code := range stellar.Regions() {
		r, ok := Region(code)
		if !ok {
			t.Fatalf("Region(%q) missing", code)
		}
		if all[i].Code != code {
			t.Errorf("Regions()[%d] = %s, want Stellar's order %s", i, all[i].Code, code)
		}
		if !strings.HasPrefix(r.Domain, "www.amazon.") || domains[r.Domain] {
			t.Errorf("%s: domain %q", code, r.Domain)
		}
		domains[r.Domain] = true
		if !isMerchantID(r.MarketplaceID) || !isMerchantID(r.SellerID) {
			t.Errorf("%s: ids %q %q", code, r.MarketplaceID, r.SellerID)
		}
		if r.AcceptLanguage == "" || len(r.Currency) != 3 || r.Symbol == "" || r.DecimalSep == "" || r.GroupSep == "" {
			t.Errorf("%s: incomplete %+v", code, r)
		}
		if !r.IsAmazon(r.SellerID) || r.IsAmazon("") || r.IsAmazon("A2JZ0S3QVWQECL") {
			t.Errorf("%s: IsAmazon wrong", code)
		}
	}
	if r, _ := Region("USA"); r.SellerID != "ATVPDKIKX0DER" || r.Domain != "www.amazon.com" {
		t.Errorf("USA = %+v", r)
	}
	if r, _ := Region("DE"); r.SellerID != "A3JWKAKR8XB7XF" || r.MarketplaceID != "A1PA6795UKMFR9" {
		t.Errorf("DE = %+v", r)
	}
	for _, bad := range []string{"", "US", "usa", "de", "GB", "MX"} {
		if _, ok := Region(bad); ok {
			t.Errorf("Region(%q) found", bad)
		}
	}
	// Regions hands out a copy: changing it leaves the table alone.
	all[0].SellerID = "CHANGED"
	if r, _ := Region("USA"); r.SellerID != "ATVPDKIKX0DER" {
		t.Error("Regions() aliases the table")
	}
}
