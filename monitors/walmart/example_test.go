package walmart_test

import (
	"context"
	"fmt"

	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/monitors/walmart"
)

const page = `<!DOCTYPE html><html><head><title>Ziploc Freezer Bags - Walmart.com</title></head><body>
<script id="__NEXT_DATA__" type="application/json">{"props":{"pageProps":{"initialData":{"data":{"product":{
"usItemId":"5113183757","name":"Ziploc Freezer Bags, Gallon, 38 Count","offerId":"E29410D79B744EA6B99DFF6FF89213B8",
"availabilityStatus":"IN_STOCK","sellerId":"F55CDC31AB754BB68FE0B39041159D63","sellerName":"Walmart.com",
"priceInfo":{"currentPrice":{"price":19.93,"priceString":"$19.93","currencyUnit":"USD"}},
"imageInfo":{"thumbnailUrl":"https://i5.walmartimages.com/seo/Ziploc.jpeg"}}}}}}}</script></body></html>`

func ExampleParseProduct() {
	p, err := walmart.ParseProduct([]byte(page), "https://www.walmart.com/ip/5113183757")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.ItemID, p.OfferID, p.Availability, p.Price)
	// Output: 5113183757 E29410D79B744EA6B99DFF6FF89213B8 IN_STOCK 19.93
}

func ExampleDetectBlock() {
	reason, blocked := walmart.DetectBlock(200, "https://www.walmart.com/blocked?url=L2lw", nil)
	fmt.Println(blocked, reason)
	// Output: true redirected to /blocked
}

// staticFetcher answers every request with the same page.
type staticFetcher struct{ body string }

func (f staticFetcher) Fetch(_ context.Context, req *monitors.Request) (*monitors.Response, error) {
	return &monitors.Response{Status: 200, Body: []byte(f.body), URL: req.URL}, nil
}

func ExampleMonitor_Check() {
	m, err := monitors.New("walmart")
	if err != nil {
		fmt.Println(err)
		return
	}
	t := &monitors.Target{Site: "walmart", Region: "USA", SKU: "5113183757", Merchant: "walmart", MaxPrice: 25,
		BaseURL: "http://127.0.0.1:9000/www.walmart.com"}
	obs := m.Check(context.Background(), t, staticFetcher{page})
	fmt.Println(obs.Outcome, obs.StellarSite)
	for _, o := range obs.Offers {
		fmt.Println(o.SKU, o.OfferID, o.Price, o.SoldByRetailer, o.URL)
	}
	// Output:
	// in_stock walmart
	// 5113183757 E29410D79B744EA6B99DFF6FF89213B8 19.93 true http://127.0.0.1:9000/www.walmart.com/ip/5113183757
}
