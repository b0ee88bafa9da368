// Package shopify is the monitor for Shopify stores, registered as
// "shopify". It reads the storefront's public JSON, so one module covers
// every store.
//
// A target names a store origin (Target.Store, https://shop.example.com)
// and exactly one of:
//
//   - Handle: GET {store}/products/{handle}.js; each available variant is
//     an offer.
//   - Keywords: GET {store}/products.json?limit=250&page=N for N = 1, 2, …
//     until an empty page (at most MaxPages = 20 pages, 5000 products);
//     offers are the available variants of products whose title matches
//     (MatchKeywords: case-insensitive substrings, AND inside a group, OR
//     across groups, "-word" excludes).
//
// Target.BaseURL replaces the store origin for requests and cart links and
// may carry a path (the simulator's http://127.0.0.1:9000/shop.example.com).
//
//	import _ "github.com/stellarfeed/stellarfeed/monitors/all" // in cmd/ only
//
//	m, _ := monitors.New("shopify")
//	t := &monitors.Target{Site: "shopify", Store: "https://kith.com", Keywords: [][]string{{"dunk", "-kids"}}, StellarSite: "kith"}
//	if err := m.(monitors.TargetValidator).ValidateTarget(t); err != nil { ... } // at config load
//	obs := m.Check(ctx, t, fetcher)
//
// The parsers are pure functions over bytes: ParseProductJS (prices in
// integer minor units, 12900 → "129.00"), ParseProductsJSON (prices as
// decimal strings, "29.99"), DetectThrottle (HTTP 429/430 or Shopify's
// "temporarily unavailable because a device from your location is sending
// large amounts of web requests" page).
//
// # Offers
//
// One offer per available variant under the price cap: SKU is the variant
// id in decimal (what Stellar carts), OfferID is empty (Stellar allows an
// offerId only for Amazon and Walmart), Title "Product - Variant" (the
// product alone for Shopify's "Default Title"), Image the variant's own
// image or the product's, protocol-relative URLs made https, Price a plain
// decimal in the store's presentment currency, Merchant the store's host,
// SoldByRetailer true, URL {store}/cart/{variantId}:1.
//
// # Outcomes
//
//   - Blocked: HTTP 429/430 or the throttle page, on any page of a scan.
//   - Error: network errors, non-2xx answers other than the cases below,
//     bodies that are not the expected JSON. In keyword mode one failed
//     page fails the whole check: a partial catalog would read as sold out.
//   - OutOfStock: every variant sold out, every available variant above
//     MaxPrice, no product matching the keywords, a 404 for a handle
//     (Shopify's answer for a product not yet published: watching a handle
//     before a drop is the point, and its publication is a real restock),
//     and a redirect to /password (a locked store sells nothing).
//   - InStock: at least one offer.
//
// # Stellar site
//
// Pings carry Target.StellarSite, default "shopify". Stellar's task
// creator names Shopify sites per store, so set it per store to that name.
// Pings carry no region and no offerId.
//
// # JSON
//
// Both endpoints are small, flat and fully used, so they are decoded into
// typed structs with sonic (strings copied out of the body, which the
// engine may reuse). The price fields have their own decoders, one per
// endpoint, so that a price in the other JSON type is still read in the
// endpoint's unit and an odd price makes that price unknown instead of
// failing the product. Decoder messages are cut to their first line: sonic
// quotes the whole input on a truncated body.
package shopify
