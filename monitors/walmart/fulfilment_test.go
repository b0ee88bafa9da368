package walmart

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
	"github.com/stellarfeed/stellarfeed/monitors"
)

// An item IN_STOCK for store pickup only must not ping a shipping target
// (what a Stellar task buys); the target's fulfillment option decides.
func TestFulfillment(t *testing.T) {
	base := testutil.Testdata(t, "usa-instock-walmart.html")
	const ship = `"fulfillmentType":"FC","shippingOption":{"availabilityStatus":"AVAILABLE","slaTier":"TWO_DAY","shipMethod":"STANDARD"}`
	if !bytes.Contains(base, []byte(ship)) {
		t.Fatal("fixture changed: no shippingOption to rewrite")
	}
	variant := func(repl string) []byte { return bytes.Replace(base, []byte(ship), []byte(repl), 1) }
	pickupOnly := variant(`"fulfillmentType":"STORE","shippingOption":{"availabilityStatus":"UNAVAILABLE"},"pickupOption":{"availabilityStatus":"AVAILABLE"}`)
	pickupNoShipping := variant(`"fulfillmentType":"STORE","pickupOption":{"availabilityStatus":"AVAILABLE"}`)
	shipOnly := variant(`"fulfillmentType":"FC","shippingOption":{"availabilityStatus":"AVAILABLE"},"pickupOption":{"availabilityStatus":"UNAVAILABLE"}`)
	optionsList := variant(`"fulfillmentOptions":[{"type":"PICKUP","availabilityStatus":"AVAILABLE"},{"type":"SHIPPING","availabilityStatus":"OUT_OF_STOCK"}]`)
	noInfo := variant(`"fulfillmentType":""`)

	tests := []struct {
		name        string
		body        []byte
		fulfillment string
		want        monitors.Outcome
		evidence    string
	}{
		{"shipping available", base, "", monitors.InStock, "shipping available"},
		{"pickup only, default shipping", pickupOnly, "", monitors.OutOfStock, "shipping unavailable"},
		{"pickup only, shipping asked", pickupOnly, FulfillShipping, monitors.OutOfStock, "shipping unavailable"},
		{"pickup only, pickup asked", pickupOnly, FulfillPickup, monitors.InStock, "pickup available"},
		{"pickup only, any", pickupOnly, FulfillAny, monitors.InStock, "IN_STOCK"},
		{"store fulfilment without shipping option", pickupNoShipping, "", monitors.OutOfStock, "only store pickup"},
		{"ship only, pickup asked", shipOnly, FulfillPickup, monitors.OutOfStock, "pickup unavailable"},
		{"fulfillmentOptions: pickup but no shipping", optionsList, "", monitors.OutOfStock, "shipping unavailable"},
		{"fulfillmentOptions: pickup asked", optionsList, FulfillPickup, monitors.InStock, "pickup available"},
		{"page says nothing about shipping", noInfo, "", monitors.InStock, "no shipping option on the page"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := monitors.Target{Site: Site, Region: RegionUSA, SKU: "5113183757", Fulfillment: tt.fulfillment}
			obs := New().Check(context.Background(), &tg, &fakeFetcher{resp: &monitors.Response{Status: 200, Body: tt.body}})
			if obs.Outcome != tt.want || !strings.Contains(obs.Evidence, tt.evidence) {
				t.Errorf("outcome %v, evidence %q (reason %q); want %v, %q", obs.Outcome, obs.Evidence, obs.Reason, tt.want, tt.evidence)
			}
			if obs.Seen.OfferID != "E29410D79B744EA6B99DFF6FF89213B8" {
				t.Errorf("seen offer %+v", obs.Seen)
			}
		})
	}
	bad := monitors.Target{Site: Site, Region: RegionUSA, SKU: "5113183757", Fulfillment: "drone"}
	if err := New().ValidateTarget(&bad); err == nil || !strings.HasPrefix(err.Error(), "fulfillment:") {
		t.Errorf("fulfillment drone: %v", err)
	}
}

// The 2020 layout (synthetic, the shape of a real 2020 page): no
// __NEXT_DATA__, the buy-box product in <script id="item">.
const legacyPage = `<!DOCTYPE html><html><head><title>Widget - Walmart.com</title></head><body>
<div class="prod-ProductCTA"><button class="button prod-ProductCTA--primary">Add to cart</button></div>
<script id="item" class="tb-optimized" type="application/json">{"item":{"productId":"77","product":{"buyBox":{"products":[
{"productId":"1ABCDEF2GHIJ","usItemId":"123456789","productName":"Synthetic Widget, Blue","offerId":"0123456789ABCDEF0123456789ABCDEF",
"images":[{"id":"X","url":"https://i5.walmartimages.com/asr/synthetic-widget.jpeg","zoomable":true}],
"priceMap":{"currencyUnitSymbol":"$","price":24.5,"wasPrice":30},"shippable":true,"pickupable":false,
"availabilityStatus":"IN_STOCK","sellerId":"F55CDC31AB754BB68FE0B39041159D63","sellerDisplayName":"Walmart.com"}]}}}}</script>
</body></html>`

func TestLegacyLayout(t *testing.T) {
	p, err := ParseProduct([]byte(legacyPage), "https://www.walmart.com/ip/123456789")
	if err != nil {
		t.Fatal(err)
	}
	want := Product{ItemID: "123456789", Name: "Synthetic Widget, Blue", OfferID: "0123456789ABCDEF0123456789ABCDEF",
		Availability: InStockStatus, InStock: true, Price: "24.50", PriceValue: 24.5,
		Image: "https://i5.walmartimages.com/asr/synthetic-widget.jpeg", SellerID: WalmartSellerID, SellerName: "Walmart.com",
		URL: "https://www.walmart.com/ip/123456789", Shipping: Available, Pickup: Unavailable, Layout: "legacy"}
	if p != want {
		t.Errorf("legacy page:\n got %+v\nwant %+v", p, want)
	}
	if reason, blocked := DetectBlock(200, "", []byte(legacyPage)); blocked {
		t.Errorf("legacy page read as blocked: %s", reason)
	}
	tg := monitors.Target{Site: Site, Region: RegionUSA, SKU: "123456789", Merchant: "walmart"}
	obs := New().Check(context.Background(), &tg, &fakeFetcher{resp: &monitors.Response{Status: 200, Body: []byte(legacyPage)}})
	if obs.Outcome != monitors.InStock || obs.Offers[0].OfferID != want.OfferID || !obs.Offers[0].SoldByRetailer {
		t.Errorf("legacy check: %v %q %+v", obs.Outcome, obs.Reason, obs.Offers)
	}
	// An item script without the product where the 2020 layout kept it:
	// an unknown layout, not a block and not out of stock.
	odd := strings.Replace(legacyPage, `"buyBox"`, `"buyBoxV2"`, 1)
	obs = New().Check(context.Background(), &tg, &fakeFetcher{resp: &monitors.Response{Status: 200, Body: []byte(odd)}})
	if obs.Outcome != monitors.UnknownLayout {
		t.Errorf("moved product: %v %q, want unknown layout", obs.Outcome, obs.Reason)
	}
}
