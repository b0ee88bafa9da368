package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/monitors/amazon"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// TestCustomStellarSiteGetsOfferID: a Walmart group or an Amazon target
// with its own stellarSite makes pings with an offerId under that name;
// before, Rules left the name out and every such ping was dropped at run
// time although `config check` said ok.
func TestCustomStellarSiteGetsOfferID(t *testing.T) {
	src := `groups:
  - name: wm
    site: walmart
    region: USA
    stellarSite: walmart-us-cook
    targets: [{sku: "5113183757"}]
targets:
  - {site: amazon, region: DE, sku: B0CHX1W1XY, stellarSite: amazon-de-cook}
  - {site: shopify, store: https://kith.com, handle: x, stellarSite: kith}
`
	cfg, err := testLoader.Parse("m.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Rules()
	for _, site := range []string{"walmart", "walmartca", "walmart-us-cook", "amazon-de-cook"} {
		p := stellar.Ping{Site: site, SKU: "5113183757", OfferID: "ABC"}
		if err := r.Validate(&p); err != nil {
			t.Errorf("a %s ping with an offerId: %v", site, err)
		}
	}
	if slices.Contains(r.OfferIDSites, "kith") {
		t.Errorf("Shopify's kith got an offerId: %v", r.OfferIDSites)
	}
}

// TestPingsStellarWouldReject: a config that cannot produce a valid ping
// fails with the line of the stellarSite at fault.
func TestPingsStellarWouldReject(t *testing.T) {
	src := `targets:
  - {site: walmart, region: USA, sku: "5113183757", stellarSite: cooksite}
  - {site: shopify, store: https://kith.com, handle: x, stellarSite: cooksite}
  - {site: walmart, region: CA, sku: "6000203458791", stellarSite: amazon}
`
	_, err := testLoader.Parse("m.yaml", []byte(src))
	want := `m.yaml:3:70: targets[1].stellarSite: pings as "cooksite" would be rejected by Stellar: needs an offerId, which shopify pings do not carry (another target's pings under this name do)` + "\n" +
		`m.yaml:4:68: targets[2].stellarSite: pings as "amazon" would be rejected by Stellar: sku: "6000203458791" is not an ASIN (10 upper-case letters or digits)`
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
}

// TestStellarSitesSiteKey: `stellar.sites: {walmart: X}` names Walmart's
// pings X; before, the built-in walmart.USA/walmart.CA keys won.
func TestStellarSitesSiteKey(t *testing.T) {
	src := "stellar:\n  sites: {walmart: wm}\ntargets:\n  - {site: walmart, region: USA, sku: '5113183757'}\n  - {site: walmart, region: CA, sku: '6000203458791'}\n"
	cfg, err := testLoader.Parse("m.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range cfg.Targets() {
		if ts.StellarSite != "wm" {
			t.Errorf("%s pings as %q, want wm", ts.Describe(), ts.StellarSite)
		}
	}
	if r := cfg.Rules(); !slices.Contains(r.OfferIDSites, "wm") {
		t.Errorf("rules %v lack wm", r.OfferIDSites)
	}
	// The specific key still beats the general one.
	src = "stellar:\n  sites: {walmart: wm, walmart.CA: wmca}\ntargets:\n  - {site: walmart, region: CA, sku: '6000203458791'}\n"
	if cfg, err = testLoader.Parse("m.yaml", []byte(src)); err != nil {
		t.Fatal(err)
	}
	if got := cfg.Targets()[0].StellarSite; got != "wmca" {
		t.Errorf("walmart.CA pings as %q, want wmca", got)
	}
}

func TestAmazonSellerIDs(t *testing.T) {
	cfg, err := testLoader.Parse("m.yaml", []byte("amazon:\n  sellerIds:\n    PL: [A1PLNEWSELLER1, A2R2221NX79QZP]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Amazon.SellerIDs["PL"]; len(got) != 2 {
		t.Fatalf("sellerIds = %v", cfg.Amazon.SellerIDs)
	}
	// The engine's monitors carry them.
	m, err := cfg.Monitors(fakeLookup)("amazon")
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := m.(*amazon.Monitor).Region("PL"); r.SellerID != "A1PLNEWSELLER1" || !r.IsAmazon("A2R2221NX79QZP") {
		t.Errorf("PL = %+v", r)
	}
	if r, _ := m.(*amazon.Monitor).Region("DE"); r.SellerID != "A3JWKAKR8XB7XF" {
		t.Errorf("DE lost its built-in id: %+v", r)
	}
	_, err = testLoader.Parse("m.yaml", []byte("amazon:\n  sellerIds:\n    XX: [A1PLNEWSELLER1]\n    DE: [amazon.de]\n"))
	if err == nil || !strings.Contains(err.Error(), `m.yaml:4:9: amazon.sellerIds.DE: amazon: sellerIds.DE[0]: "amazon.de" is not a merchant id`) ||
		!strings.Contains(err.Error(), `m.yaml:3:9: amazon.sellerIds.XX: amazon: sellerIds: region "XX" is not one of`) {
		t.Fatalf("got %v", err)
	}
}
