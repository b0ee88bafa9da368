package shopify_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/monitors/shopify"
)

const productJS = `{"id":8123456789012,"title":"Classic Leather Jacket","handle":"classic-leather-jacket","price":12900,
"available":true,"featured_image":"//shop.example.com/cdn/shop/files/jacket.jpg",
"variants":[{"id":44012345678901,"title":"S","price":12900,"available":false},
            {"id":44012345678902,"title":"M","price":12900,"available":true}]}`

func ExampleParseProductJS() {
	p, err := shopify.ParseProductJS([]byte(productJS))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Title, p.Price, p.Image)
	for _, v := range p.Variants {
		fmt.Println(v.ID, v.Title, v.Available)
	}
	// Output:
	// Classic Leather Jacket 129.00 https://shop.example.com/cdn/shop/files/jacket.jpg
	// 44012345678901 S false
	// 44012345678902 M true
}

func ExampleMatchKeywords() {
	groups := [][]string{{"dunk", "low", "-kids"}, {"jordan", "chicago"}}
	fmt.Println(shopify.MatchKeywords("Nike Dunk Low Retro Panda", groups))
	fmt.Println(shopify.MatchKeywords("Nike Dunk Low Kids (GS)", groups))
	fmt.Println(shopify.MatchKeywords("Jordan 1 Retro High OG Chicago", groups))
	// Output:
	// true
	// false
	// true
}

// catalogFetcher serves a one-page catalog, then an empty page.
type catalogFetcher struct{}

func (catalogFetcher) Fetch(_ context.Context, req *monitors.Request) (*monitors.Response, error) {
	if strings.HasSuffix(req.URL, "/products/classic-leather-jacket.js") {
		return &monitors.Response{Status: 200, Body: []byte(productJS), URL: req.URL}, nil
	}
	if strings.HasSuffix(req.URL, "&page=1") {
		return &monitors.Response{Status: 200, URL: req.URL, Body: []byte(`{"products":[{"id":1,"title":"Nike Dunk Low Panda",
"images":[{"src":"https://cdn.shopify.com/s/files/1/dunk.jpg"}],"variants":[{"id":45000000000011,"title":"9","price":"115.00","available":true}]}]}`)}, nil
	}
	return &monitors.Response{Status: 200, Body: []byte(`{"products":[]}`), URL: req.URL}, nil
}

func ExampleMonitor_Check() {
	m, err := monitors.New("shopify")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	byHandle := &monitors.Target{Site: "shopify", Store: "https://shop.example.com", Handle: "classic-leather-jacket", StellarSite: "northwind"}
	obs := m.Check(ctx, byHandle, catalogFetcher{})
	fmt.Println(obs.Outcome, obs.StellarSite)
	for _, o := range obs.Offers {
		fmt.Println(o.SKU, o.Title, o.Price, o.URL)
	}

	byKeywords := &monitors.Target{Site: "shopify", Store: "https://shop.example.com", Keywords: [][]string{{"dunk", "-kids"}}, MaxPrice: 120}
	obs = m.Check(ctx, byKeywords, catalogFetcher{})
	fmt.Println(obs.Outcome, obs.Offers[0].SKU, obs.Offers[0].Title, obs.Offers[0].Price)
	// Output:
	// in_stock northwind
	// 44012345678902 Classic Leather Jacket - M 129.00 https://shop.example.com/cart/44012345678902:1
	// in_stock 45000000000011 Nike Dunk Low Panda - 9 115.00
}
