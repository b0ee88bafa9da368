// Package walmart is the monitor for Walmart USA (www.walmart.com) and
// Walmart Canada (www.walmart.ca), registered as "walmart".
//
// A check GETs one product page, {origin}/ip/{sku} (USA) or
// {origin}/en/ip/{sku} (CA), and reads the product from the Next.js
// <script id="__NEXT_DATA__"> at props.pageProps.initialData.data.product.
// Target.BaseURL replaces the origin and may carry a path prefix, so the
// simulator's http://127.0.0.1:9000/www.walmart.com works unchanged.
//
//	import _ "github.com/stellarfeed/stellarfeed/monitors/all" // in cmd/ only
//
//	m, _ := monitors.New("walmart")
//	t := &monitors.Target{Site: "walmart", Region: "USA", SKU: "5113183757", Merchant: "walmart", MaxPrice: 25}
//	if err := m.(monitors.TargetValidator).ValidateTarget(t); err != nil { ... } // at config load
//	obs := m.Check(ctx, t, fetcher)
//
// The parsers are pure functions over bytes and usable alone:
// ParseProduct(body, finalURL) and DetectBlock(status, finalURL, body).
//
// # Outcomes
//
//   - Blocked: HTTP 403/412/429, a redirect to /blocked?url=..., the
//     "Robot or human?" / "Press and hold" / #px-captcha / "Access to this
//     page has been denied" walls, and any 2xx page without a
//     __NEXT_DATA__ script. Walmart renders every page, its 404 included,
//     with Next.js, so such a page is an unknown wall or an edge error
//     page; either way the right reaction is to back off and change proxy,
//     and it is never "out of stock".
//   - Error: other non-2xx statuses (404, 5xx), a truncated or unreadable
//     __NEXT_DATA__, an unknown availabilityStatus, an in-stock product
//     without a 32-hex offer id, or a page about another item than the
//     target's sku (a merged listing must not ping under the wrong sku).
//   - OutOfStock: availabilityStatus OUT_OF_STOCK (or NOT_AVAILABLE,
//     UNAVAILABLE, RETIRED), or an in-stock offer that the merchant filter
//     or the price cap drops (Reason says which).
//   - InStock: one offer {SKU: item id, OfferID: 32 upper-case hex, Title,
//     Image, Price "19.93", Merchant: seller id, SoldByRetailer, URL}.
//
// On Walmart Canada, fulfillmentOptions[] refine availability: when
// availabilityStatus is missing they decide alone; when it says IN_STOCK
// but every listed option is unavailable (or has quantity 0) the product is
// out of stock.
//
// # Merchant filter
//
// Target.Merchant is "" or "any", "walmart", or a seller id (compared
// case-insensitively). "walmart" means sellerId F55CDC31AB754BB68FE0B39041159D63
// on the US site (the seller name is not trusted there), and sellerName
// "Walmart" (also "Walmart.ca", "Walmart Canada") on the Canadian site,
// whose pages carry no well-known seller id for Walmart itself. An offer
// without a price never passes a MaxPrice cap.
//
// # Stellar site
//
// Pings carry no region (Stellar's non-Amazon format has none); the site
// name tells USA and CA apart: "walmart" and "walmartca" by default
// (stellar.SiteWalmartUSA/CA), replaced by Target.StellarSite to match
// Stellar's task creator. A custom name must also be listed in
// stellar.Rules.OfferIDSites, since Walmart pings carry an offerId.
//
// # JSON
//
// sonic.GetWithOptions skips straight to the product object without
// decoding the rest of the page's JSON (reviews, carousels with other
// products' prices and offer ids), then the product alone is decoded into
// a typed struct with sonic, strings copied out of the body (the engine
// may reuse its buffer). A path is enough: the product sits at a fixed
// place, so gjson's filters are not needed; typed structs keep the field
// list in one place and make missing or mistyped fields explicit. Prices
// accept a number, a numeric string or null; a field of an unexpected type
// elsewhere in the product fails the parse with the decoder's message.
package walmart
