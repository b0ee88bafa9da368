package node

import (
	"slices"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/config"
)

// TestApplyConfigLive: a reload renames a Walmart target's Stellar site;
// the running engine polls under the new name and allows it its offerId.
func TestApplyConfigLive(t *testing.T) {
	parse := func(sites string) *config.Config {
		t.Helper()
		c, err := config.Parse("m.yaml", []byte("stellar:\n  sites: {"+sites+"}\nbaseURLs: {walmart: 'http://127.0.0.1:1'}\n"+
			"targets:\n  - {site: walmart, region: USA, sku: '5113183757', interval: 1h}\n"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := FromConfig(parse("walmart.USA: walmart"))
	first.RunEngine, first.Demo, first.DataDir = true, true, t.TempDir()
	n := startNode(t, first)
	if err := n.ApplyConfig(parse("walmart.USA: cooks-walmart")); err != nil {
		t.Fatal(err)
	}
	if r := n.Engine().Rules(); !slices.Contains(r.OfferIDSites, "cooks-walmart") {
		t.Errorf("engine rules after reload: %v", r.OfferIDSites)
	}
	// Ingest takes the renamed site's pings, offerId and all.
	if code, body := postPings(t, n, n.Demo().Ingest, `{"site":"cooks-walmart","sku":"5113183757","offerId":"E29410D79B744EA6B99DFF6FF89213B8"}`); code != 202 {
		t.Errorf("ingest under the renamed site: %d %s", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := n.Engine().Status()
		if len(st) == 1 && st[0].Target.StellarSite == "cooks-walmart" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("targets after reload: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
