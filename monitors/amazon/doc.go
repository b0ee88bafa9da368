// Package amazon is the Amazon restock monitor for Stellar's twelve
// regions (USA, CA, UK, NL, FR, IT, DE, JP, ES, BE, PL, AU). It registers
// itself as "amazon" in the monitors registry.
//
// A check GETs the product page {origin}/dp/{ASIN}, where origin is the
// target's BaseURL (which may carry a path, as the simulator's
// http://127.0.0.1:9000/www.amazon.de does) or https://{domain}. When the
// buy box is missing, out of stock with other sellers, or fails the
// target's merchant, condition or maxPrice filter, or the page has no
// featured offer at all ("See all buying options"), it also GETs the All
// Offers Display fragment
// {origin}/gp/product/ajax/ref=dp_aod_ALL_mbc?asin={ASIN}&pc=dp&experienceId=aodAjaxMain
// and takes the first offer (pinned first, then page order) that passes;
// while none passes and the fragment lists more offers, it reads the next
// pages (&pageno=2, …, at most maxAODPages). Offers are read in every form
// Amazon has used: id-based blocks (#aod-pinned-offer, #aod-offer) and the
// 2024+ class-based ones (.aod-information-block, .aod-other-offer-block);
// offer ids from offeringID.1, data-aod-atc-action, data-aw-aod-cart-api
// or items[0.base][offerListingId]. A fragment whose offer blocks hold no
// id the parser can read is UnknownLayout, never "no offers".
//
// Conditions: each AOD offer's heading ("Used - Like New", "Neu",
// "Renewed") maps to new, used, renewed or collectible (ConditionOf); a
// product page's buy box is new unless it is a used buy box (the
// used-only "Buy used" box, the mobile isUsedBuyBox form). Targets take
// new offers only unless Target.Conditions allows more.
//
// Parsing is done by pure functions over bytes, usable on their own:
//
//	r, _ := amazon.Region("DE")
//	if blocked, why := amazon.DetectBlock(resp.Status, resp.Body); blocked { ... }
//	page, err := amazon.ParseProduct(resp.Body, r, "B0DR8G428S")
//	offers, err := amazon.ParseAOD(fragment, r, "B0DR8G428S")
//	dec, v, err := amazon.ParsePrice("1.234,56 €", r) // "1234.56", 1234.56
//
// Both parsers are built for real pages (a product page is ~1.5 MB): one
// pass of a small tag scanner (scan.go) cuts the page down to a skeleton of
// the elements the selectors can match, a few KB with their ancestry and
// only the attributes read (skeleton.go), and only that is given to
// html.Parse and the cascadia selectors. The real amazon.com page parses in
// under 3 ms with under 2,000 allocations; FuzzSkeletonMatchesFullTree
// checks that the skeleton never changes an answer. DetectBlock scans the
// raw bytes without copying them; Monitor.Check runs it once per response.
//
// The offer id pings carry (Stellar's offerId) is the DECODED offer listing
// id: pages write it URL-encoded ("p7h8Hu2%2BBb5u…") and the monitor
// reports "p7h8Hu2+Bb5u…". Prices are plain decimals with a dot and no
// currency ("1234.56"; JP has no decimals: "12800").
//
// "Sold by Amazon" is decided by merchant id (the region's Amazon seller
// id, overridable with Config.SellerIDs); "Ships from Amazon" never counts.
// Text fallbacks ("Verkauf und Versand durch Amazon", …) apply only when a
// page carries no merchant id.
//
// Outcomes: a captcha (the validateCaptcha form, the #captchacharacters
// input or the captcha text; a captcha URL quoted in a script or a JSON
// attribute of a real page is not one), robot check, automated-access notice, Dogs of Amazon
// page (unless it is a plain 404 for an unknown ASIN) or HTTP 403/429/503 is
// Blocked; a variant redirect (the page is for another ASIN), a truncated
// page (no </html>; an offers fragment with divs left open) or an
// unparsable one is Error. Neither is
// ever OutOfStock, so the engine cannot fire a false restock after them.
// A page without an ASIN and an offers fragment the parser does not
// recognise are UnknownLayout (not a block: no proxy backs off). A Kindle
// page (1-Click, no offer listing id) is Error: nothing to ping.
// OutOfStock needs positive evidence (#outOfStock, an "unavailable" text,
// or an offers fragment with nothing passing the filters) and its Reason
// says which: out of stock, third party only under merchant "amazon", or
// over maxPrice.
//
// From cmd/ (through monitors/all) the registry is enough:
//
//	m, _ := monitors.New("amazon")
//	obs := m.Check(ctx, &monitors.Target{Site: "amazon", Region: "DE",
//		SKU: "B0DR8G428S", Merchant: "amazon", MaxPrice: 500}, fetcher)
//
// or, to override seller ids: m, err := amazon.NewMonitor(amazon.Config{
// SellerIDs: map[string][]string{"PL": {"A2R2221NX79QZP"}}}).
package amazon
