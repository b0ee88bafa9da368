package amazon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// The 2024+ offers fragment (synthetic, modelled on the markup public
// parsers and extensions read): offers are class-based blocks without ids,
// their offer ids only in data-aw-aod-cart-api JSON or in
// items[0.base][offerListingId] inputs.

const asin2024 = "B0US2024AA"

func oid2024(n string) string {
	return "q2024" + n + "Hu2+Bb5u3qEl55Zl3dADtomEyeIV+kwkygBC5r7zVH1qnZJJldBCdp/kef42L=="
}

// A product page with no featured offer: only "See All Buying Options".
const noFeaturedOffer = `<html><head><link rel="canonical" href="https://www.amazon.com/dp/B0US2024AA"/></head><body>
<span id="productTitle">Synthetic product 2024</span>
<input type="hidden" name="ASIN" value="B0US2024AA"/>
<div id="desktop_buybox"><div id="buybox"><div id="availability"><span></span></div>
<span class="a-button"><a id="buybox-see-all-buying-choices" href="/gp/offer-listing/B0US2024AA">See All Buying Options</a></span>
</div></div></body></html>`

func TestParseAODClassBlocks(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "aod-USA-classblocks-2024.html"))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := Region("USA")
	offers, err := ParseAOD(body, r, asin2024)
	if err != nil {
		t.Fatal(err)
	}
	want := []AODOffer{
		{OfferID: oid2024("01"), Merchant: "ATVPDKIKX0DER", SoldByAmazon: true, Price: "279.00", PriceValue: 279, Condition: "Used - Like New", Cond: monitors.ConditionUsed},
		{OfferID: oid2024("02"), Merchant: "A1THIRDPARTY01", Price: "349.99", PriceValue: 349.99, Condition: "New", Cond: monitors.ConditionNew},
		{OfferID: oid2024("03"), Merchant: "A2RENEWEDSHOP1", Price: "219.00", PriceValue: 219, Condition: "Renewed", Cond: monitors.ConditionRenewed},
	}
	if len(offers) != len(want) {
		t.Fatalf("got %d offers %+v, want %d", len(offers), offers, len(want))
	}
	for i := range want {
		if offers[i] != want[i] {
			t.Errorf("offer %d:\n got %+v\nwant %+v", i, offers[i], want[i])
		}
	}
	// The skeleton reads the same as the whole tree.
	compareWithFullTree(t, body, r, asin2024)

	// Offer blocks whose ids the parser cannot read are an unknown layout,
	// never "no offers".
	body, err = os.ReadFile(filepath.Join("testdata", "aod-USA-unreadable-2024.html"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseAOD(body, r, asin2024); !errors.Is(err, ErrUnknownLayout) {
		t.Errorf("unreadable offers: err = %v, want ErrUnknownLayout", err)
	}

	// Retail "other offers" section with .aod-offer rows, as some public
	// parsers select it.
	retail := []byte(`<div id="aod-retail-other-offers-content"><div class="aod-offer">
<div id="aod-offer-heading"><span>Neu</span></div><span class="a-price"><span class="a-offscreen">12,99 €</span></span>
<input type="hidden" name="items[0.base][offerListingId]" value="retail%2Boid"/>
<div id="aod-offer-soldBy"><div class="a-col-right"><span>Amazon EU S.à r.l.</span></div></div></div></div>`)
	de, _ := Region("DE")
	offers, err = ParseAOD(retail, de, asin2024)
	if err != nil || len(offers) != 1 {
		t.Fatalf("retail other offers: %+v, %v", offers, err)
	}
	if o := offers[0]; o.OfferID != "retail+oid" || !o.SoldByAmazon || o.Merchant != de.SellerID || o.Price != "12.99" || o.Cond != monitors.ConditionNew {
		t.Errorf("retail offer %+v", o)
	}
	compareWithFullTree(t, retail, de, asin2024)
}

func TestCheckAOD2024(t *testing.T) {
	routes := map[string]fakeResp{
		dpURL(asin2024):                    {body: noFeaturedOffer},
		aodURL(asin2024):                   {file: "aod-USA-classblocks-2024.html"},
		aodURL(asin2024) + "&pageno=2":     {file: "aod-USA-classblocks-2024-page2.html"},
		aodURL(asin2024) + "&pageno=3":     {body: `<div id="aod-offer-list" class="a-section"></div>`},
		aodURL("B0US2024BB"):               {file: "aod-USA-unreadable-2024.html"},
		dpURL("B0US2024BB"):                {body: strings.ReplaceAll(noFeaturedOffer, asin2024, "B0US2024BB")},
		aodURL("B0US2024BB") + "&pageno=2": {body: `<div id="aod-offer-list"></div>`},
		dpURL("B0US2024CC"):                {body: strings.ReplaceAll(noFeaturedOffer, asin2024, "B0US2024CC")},
		aodURL("B0US2024CC"):               {body: strings.ReplaceAll(mustRead("aod-USA-classblocks-2024-page2.html"), asin2024, "B0US2024CC")},
	}
	tests := []struct {
		name      string
		target    monitors.Target
		outcome   monitors.Outcome
		offerID   string
		soldByAmz bool
		reason    string
		requests  int
	}{
		// New only by default: the used-like-new Amazon offer does not
		// ping, the new third-party one does.
		{"any merchant, new only", monitors.Target{SKU: asin2024}, monitors.InStock, oid2024("02"), false, "", 2},
		// Amazon's new offer is on page 2 ("Amazon.com Services LLC").
		{"amazon, new only: next page", monitors.Target{SKU: asin2024, Merchant: "amazon"}, monitors.InStock, oid2024("05"), true, "", 3},
		{"amazon, used allowed", monitors.Target{SKU: asin2024, Merchant: "amazon", Conditions: []string{"used"}}, monitors.InStock, oid2024("01"), true, "", 2},
		{"renewed allowed", monitors.Target{SKU: asin2024, Merchant: "A2RENEWEDSHOP1", Conditions: []string{"new", "renewed"}}, monitors.InStock, oid2024("03"), false, "", 2},
		// Nothing passes: pages are followed until one brings no offer.
		{"nothing passes", monitors.Target{SKU: asin2024, MaxPrice: 100, Conditions: []string{"any"}}, monitors.OutOfStock, "", false, "over maxPrice", 4},
		{"unreadable offers", monitors.Target{SKU: "B0US2024BB"}, monitors.UnknownLayout, "", false, "no offer id", 2},
		// No offer count and a page that is not full: no further page.
		{"no count, short page", monitors.Target{SKU: "B0US2024CC", Merchant: "A9NOBODY00000"}, monitors.OutOfStock, "", false, "not A9NOBODY00000", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeFetcher{routes: routes}
			tg := tt.target
			tg.Site, tg.Region, tg.BaseURL = "amazon", "USA", testOrigin
			obs := New().Check(context.Background(), &tg, f)
			if obs.Outcome != tt.outcome || !strings.Contains(obs.Reason, tt.reason) {
				t.Fatalf("outcome %v (%s), want %v (%q)", obs.Outcome, obs.Reason, tt.outcome, tt.reason)
			}
			if len(f.reqs) != tt.requests {
				t.Errorf("%d requests, want %d", len(f.reqs), tt.requests)
			}
			if tt.outcome != monitors.InStock {
				if len(obs.Offers) != 0 {
					t.Errorf("offers %v on %v", obs.Offers, obs.Outcome)
				}
				return
			}
			o := obs.Offers[0]
			if o.OfferID != tt.offerID || o.SoldByRetailer != tt.soldByAmz || o.SKU != tg.SKU {
				t.Errorf("offer %+v, want id %s soldByAmazon %v", o, tt.offerID, tt.soldByAmz)
			}
			if obs.Seen.Title != "Synthetic product 2024" {
				t.Errorf("seen title %q", obs.Seen.Title)
			}
		})
	}
}

func TestConditionOf(t *testing.T) {
	tests := map[string]string{
		"New": "new", "Neu": "new", "Neuf": "new", "Nuevo": "new", "Nuovo": "new", "Nieuw": "new", "Nowy": "new", "新品": "new",
		"Used - Like New": "used", "Gebraucht - Wie neu": "used", "D'occasion - Comme neuf": "used",
		"De segunda mano - Como nuevo": "used", "Usato - Come nuovo": "used", "Używany - Jak nowy": "used", "中古品 - ほぼ新品": "used",
		"Renewed": "renewed", "Generalüberholt": "renewed", "Reconditionné": "renewed", "Reacondicionado": "renewed",
		"Collectible - Very Good": "collectible", "Sammlerstück - Gut": "collectible",
		"": "", "Mint in box": "unknown",
	}
	for heading, want := range tests {
		if got := ConditionOf(heading); got != want {
			t.Errorf("ConditionOf(%q) = %q, want %q", heading, got, want)
		}
	}
	tg := monitors.Target{}
	for cond, want := range map[string]bool{"": true, "new": true, "used": false, "renewed": false, "collectible": false, "unknown": false} {
		if got := tg.AllowsCondition(cond); got != want {
			t.Errorf("default target allows %q = %v, want %v", cond, got, want)
		}
	}
	tg.Conditions = []string{"any"}
	if !tg.AllowsCondition("unknown") || !tg.AllowsCondition("collectible") {
		t.Error(`"any" does not allow every condition`)
	}
}

func TestAmazonSellerNames(t *testing.T) {
	tests := []struct {
		region, name string
		want         bool
	}{
		{"USA", "Amazon.com", true},
		{"USA", "Amazon.com Services LLC", true},
		{"USA", "Amazon.com Services, Inc.", true},
		{"USA", "Sold by Amazon.com Services LLC", true},
		{"USA", "amazon.com services llc.", true},
		{"AU", "Amazon AU", true},
		{"AU", "Amazon Commercial Services Pty Ltd", true},
		{"DE", "Amazon.de", true},
		{"DE", "Verkäufer: Amazon.de", true},
		{"DE", "Amazon EU S.à r.l.", true},
		{"FR", "Amazon EU S.a.r.l.", true},
		{"UK", "Amazon.co.uk", true},
		{"UK", "Amazon", true},
		{"JP", "Amazon Japan G.K.", true},
		{"JP", "Amazon.co.jp", true},
		{"CA", "Amazon.ca", true},
		// Another storefront's name, Amazon's used-goods arms and third
		// parties with Amazon in their name are not Amazon here.
		{"DE", "Amazon.fr", false},
		{"USA", "Amazon Warehouse", false},
		{"USA", "Amazon Resale", false},
		{"USA", "Amazonas Shop", false},
		{"USA", "Amazon Deals 4U", false},
		{"USA", "Services LLC", false},
		{"USA", "LLC", false},
		{"USA", "", false},
	}
	for _, tt := range tests {
		r, _ := Region(tt.region)
		if got := r.IsAmazonName(tt.name); got != tt.want {
			t.Errorf("%s: IsAmazonName(%q) = %v, want %v", tt.region, tt.name, got, tt.want)
		}
	}
}

// The buy box's condition: a used-only page offers its used copy as such,
// and the mobile layout's used form (first on the page) does not hide the
// new one.
func TestUsedAndMobileBuyBoxes(t *testing.T) {
	r, _ := Region("UK")
	usedOnly := `<html><body><input type="hidden" name="ASIN" value="B0UKUSED01"/>
<div id="desktop_buybox"><div id="buybox"><div id="used_buybox_desktop">
<form method="post" id="addToCart" action="/gp/product/handle-buy-box">
<input type="hidden" name="offerListingID" value="usedOffer%2B1"/><input type="hidden" name="merchantID" value="A2NQK4TIWYJD6B"/>
<div id="usedOnlyBuybox"><div id="usedBuySection"><span class="a-text-bold">Buy used</span><span class="a-color-price offer-price">£4.45</span></div>
<span class="a-button"><input name="submit.add-to-cart-ubb" type="submit"/></span></div>
</form></div></div></div></body></html>`
	p, err := ParseProduct([]byte(usedOnly), r, "B0UKUSED01")
	if err != nil {
		t.Fatal(err)
	}
	if p.Stock != InStock || p.Condition != monitors.ConditionUsed || p.OfferID != "usedOffer+1" || p.Price != "4.45" || p.Merchant != "A2NQK4TIWYJD6B" {
		t.Errorf("used-only page: %+v", p)
	}
	f := &fakeFetcher{routes: map[string]fakeResp{dpURL("B0UKUSED01"): {body: usedOnly}}}
	tg := monitors.Target{Site: "amazon", Region: "UK", SKU: "B0UKUSED01", BaseURL: testOrigin}
	if obs := New().Check(context.Background(), &tg, f); obs.Outcome != monitors.OutOfStock || !strings.Contains(obs.Reason, "only a used copy") || len(f.reqs) != 1 {
		t.Errorf("default target on a used-only page: %v %q after %d requests", obs.Outcome, obs.Reason, len(f.reqs))
	}
	tg.Conditions = []string{"used"}
	if obs := New().Check(context.Background(), &tg, f); obs.Outcome != monitors.InStock || obs.Offers[0].Condition != monitors.ConditionUsed {
		t.Errorf("used allowed: %v %q", obs.Outcome, obs.Reason)
	}

	us, _ := Region("USA")
	mobile := `<html><body>
<div id="usedbuybox.addToCart"><form id="addToCart" method="post" action="/gp/aw/c/ref=dp_uatc_mw">
<input type="hidden" name="a" value="B0USMOBI01"/><input type="hidden" name="oid" value="usedOid"/>
<input type="hidden" name="isUsedBuyBox" value="1"/><input id="add-to-cart-button-ubb-mobile" type="submit"/></form></div>
<span id="newBuyBoxPrice">$21.11</span>
<form id="addToCart" method="post" action="/gp/aw/c/ref=mw_dp_buy_crt"><input type="hidden" name="a" value="B0USMOBI01"/>
<input type="hidden" name="oid" value="newOid%2F2"/><input type="hidden" name="ASIN" value="B0USMOBI01"/>
<input id="add-to-cart-button" name="submit.add-to-cart" type="submit"/></form>
<div id="merchant-info">Ships from and sold by Amazon.com.</div></body></html>`
	p, err = ParseProduct([]byte(mobile), us, "B0USMOBI01")
	if err != nil {
		t.Fatal(err)
	}
	if p.Stock != InStock || p.Condition != "" || p.OfferID != "newOid/2" || p.Price != "21.11" || !p.SoldByAmazon {
		t.Errorf("mobile page: %+v", p)
	}
}

func mustRead(name string) string {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return string(b)
}
