package sim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// walmartSeller returns sellerId, sellerName and sellerType for p.
func walmartSeller(p *Product) (id, name, typ string) {
	if p.SoldBy == SoldByThirdParty {
		id, name = p.MerchantID, p.MerchantName
		if id == "" {
			id = derivedHex32("seller" + p.Region + p.SKU)
		}
		if name == "" {
			name = derivedMerchantName(p.Region + p.SKU)
		}
		return id, name, "EXTERNAL"
	}
	if p.Region == "CA" {
		return walmartCASeller, walmartCAName, "INTERNAL"
	}
	return walmartUSSeller, walmartUSName, "INTERNAL"
}

func walmartDomain(region string) string {
	if region == "CA" {
		return walmartCADomain
	}
	return walmartUSDomain
}

// walmartPath is the canonical product path without the domain prefix.
func walmartPath(p *Product) string {
	if p.Region == "CA" {
		return "/en/ip/" + slugify(p.Title) + "/" + p.SKU
	}
	return "/ip/" + slugify(p.Title) + "/" + p.SKU
}

func walmartImage(p *Product) string {
	if p.Image != "" {
		return p.Image
	}
	return "https://i5.walmartimages.com/seo/" + slugify(p.Title) + "_" + strings.ToLower(derivedHex32(p.SKU)[:8]) + ".jpeg"
}

// renderWalmartProduct renders a Walmart USA or CA product page: a Next.js
// page whose data sits in __NEXT_DATA__ at
// props.pageProps.initialData.data.product.
func renderWalmartProduct(p *Product) []byte {
	sellerID, sellerName, sellerType := walmartSeller(p)
	currency := "USD"
	if p.Region == "CA" {
		currency = "CAD"
	}
	if p.Currency != "" {
		currency = p.Currency
	}
	price, _ := strconv.ParseFloat(p.Price, 64)
	priceString := "$" + decimalOf(centsOf(p.Price))
	avail, ship := "OUT_OF_STOCK", "UNAVAILABLE"
	qty := 0
	if p.InStock {
		avail, ship, qty = "IN_STOCK", "AVAILABLE", 12
	}
	img := walmartImage(p)
	product := map[string]any{
		"__typename":         "Product",
		"id":                 derivedHex32("pid" + p.SKU)[:12],
		"usItemId":           p.SKU,
		"primaryUsItemId":    p.SKU,
		"name":               p.Title,
		"brand":              strings.Fields(p.Title)[0],
		"type":               "REGULAR",
		"canonicalUrl":       walmartPath(p),
		"offerId":            p.OfferID,
		"availabilityStatus": avail,
		"sellerId":           sellerID,
		"sellerName":         sellerName,
		"sellerType":         sellerType,
		"fulfillmentType":    map[bool]string{true: "MARKETPLACE", false: "FC"}[sellerType == "EXTERNAL"],
		"priceInfo": map[string]any{
			"priceDisplayCodes": map[string]any{"clearance": nil, "rollback": nil},
			"currentPrice": map[string]any{
				"price": price, "priceString": priceString, "currencyUnit": currency, "variantPriceString": priceString,
			},
			"wasPrice": map[string]any{
				"price": float64(centsOf(p.Price)*125/100) / 100, "priceString": "$" + decimalOf(centsOf(p.Price)*125/100), "currencyUnit": currency,
			},
		},
		"imageInfo": map[string]any{
			"thumbnailUrl": img,
			"allImages":    []map[string]any{{"id": derivedHex32("img" + p.SKU), "url": img, "zoomable": true}},
		},
		"shippingOption": map[string]any{"availabilityStatus": ship, "slaTier": "TWO_DAY"},
		"offers": map[string]any{
			"primary": map[string]any{"offerId": p.OfferID, "sellerId": sellerID},
		},
		"buyBox": map[string]any{
			"products": []map[string]any{{"offerId": p.OfferID, "sellerId": sellerID, "availabilityStatus": avail}},
		},
	}
	if p.Region == "CA" {
		product["fulfillmentOptions"] = []map[string]any{
			{"type": "SHIPPING", "availabilityStatus": ship, "availableQuantity": qty},
			{"type": "PICKUP", "availabilityStatus": ship, "availableQuantity": qty / 2},
		}
	}
	// Other products' prices live in the same document (carousels), so a
	// parser must read the product path, not the first price it finds.
	var decoys []map[string]any
	for i, f := range []int64{55, 180, 95} {
		c := centsOf(p.Price) * f / 100
		decoys = append(decoys, map[string]any{
			"usItemId": strconv.FormatUint(hash64(fmt.Sprint("decoy", i, p.SKU))%9_000_000_000+1_000_000_000, 10),
			"name":     fmt.Sprintf("Related item %d", i+1), "availabilityStatus": "IN_STOCK",
			"offerId":   derivedHex32(fmt.Sprint("decoyoffer", i, p.SKU)),
			"priceInfo": map[string]any{"currentPrice": map[string]any{"price": float64(c) / 100, "priceString": "$" + decimalOf(c)}},
		})
	}
	page := "/ip/[...itemSlug]"
	if p.Region == "CA" {
		page = "/en/ip/[...itemSlug]"
	}
	next := map[string]any{
		"props": map[string]any{
			"pageProps": map[string]any{
				"initialData": map[string]any{
					"data": map[string]any{
						"product": product,
						"idml":    map[string]any{"shortDescription": "<p>" + p.Title + "</p>"},
						"contentLayout": map[string]any{"modules": []map[string]any{
							{"type": "ItemCarousel", "configs": map[string]any{"products": decoys}},
						}},
					},
				},
			},
		},
		"page":       page,
		"query":      map[string]any{"itemSlug": []string{slugify(p.Title), p.SKU}},
		"buildId":    "Xo7eRvNq5kW1bH2nYc3pT",
		"isFallback": false, "gssp": true, "locale": "en-" + map[bool]string{true: "CA", false: "US"}[p.Region == "CA"],
	}
	data, err := json.Marshal(next)
	if err != nil {
		// Only maps of strings, numbers and bools: cannot fail.
		panic(fmt.Sprintf("sim: marshal __NEXT_DATA__: %v", err))
	}
	var b strings.Builder
	b.Grow(len(data) + 4096)
	fmt.Fprintf(&b, "<!DOCTYPE html><html lang=\"en-%s\"><head><meta charSet=\"utf-8\"/><title>%s - %s</title>\n", map[bool]string{true: "CA", false: "US"}[p.Region == "CA"], esc(p.Title), map[bool]string{true: "Walmart.ca", false: "Walmart.com"}[p.Region == "CA"])
	fmt.Fprintf(&b, "<link rel=\"canonical\" href=\"https://%s%s\"/><meta property=\"og:image\" content=\"%s\"/></head>\n", walmartDomain(p.Region), walmartPath(p), esc(img))
	fmt.Fprintf(&b, "<body><div id=\"__next\"><div class=\"flex flex-column\"><h1 id=\"main-title\" itemprop=\"name\" class=\"lh-copy dark-gray mv1 f3 mh0-l mh3 b\">%s</h1>", esc(p.Title))
	fmt.Fprintf(&b, "<span itemprop=\"price\" data-seo-id=\"hero-price\" data-fs-element=\"price\">%s</span>", esc(priceString))
	if p.InStock {
		b.WriteString("<button data-automation-id=\"atc\" class=\"w_hhLG w_8nsR w_jDfj\" type=\"button\">Add to cart</button>")
	} else {
		b.WriteString("<div data-testid=\"add-to-cart-section\"><span class=\"b\">Out of stock</span></div>")
	}
	b.WriteString("</div></div>\n<script id=\"__NEXT_DATA__\" type=\"application/json\">")
	b.Write(data)
	b.WriteString("</script>\n</body></html>\n")
	return []byte(b.String())
}

// renderWalmartNotFound is Walmart's 404 page: a Next.js page without a
// product.
func renderWalmartNotFound(region string) []byte {
	next := `{"props":{"pageProps":{"statusCode":404}},"page":"/_error","query":{},"buildId":"Xo7eRvNq5kW1bH2nYc3pT","isFallback":false}`
	return fmt.Appendf(nil, "<!DOCTYPE html><html lang=\"en-%s\"><head><meta charSet=\"utf-8\"/><title>Page not found - Walmart</title></head><body><div id=\"__next\"><h1>This page could not be found.</h1><p>We couldn't find the page you were looking for.</p></div><script id=\"__NEXT_DATA__\" type=\"application/json\">%s</script></body></html>\n",
		map[bool]string{true: "CA", false: "US"}[region == "CA"], next)
}

// renderWalmartRobot is the PerimeterX "Robot or human?" page.
func renderWalmartRobot() []byte {
	return []byte("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Robot or human?</title></head><body>\n" +
		"<div class=\"re-captcha\"><h1>Robot or human?</h1><p>Activate and hold the button to confirm that you\u2019re human. Thank You!</p>\n" +
		"<div id=\"px-captcha\" role=\"button\" aria-label=\"Press and hold\">Press and hold</div>\n" +
		"<p class=\"b\">Access to this page has been denied because we believe you are using automation tools to browse the website.</p></div>\n" +
		"<script>window._pxAppId = 'PXu6b0qd2S';window._pxJsClientSrc = '/px/PXu6b0qd2S/init.js';</script>\n</body></html>\n")
}

// walmartBlockedLocation is where Walmart redirects a blocked client:
// /blocked?url=<base64 of the asked-for path>. prefix is "/www.walmart.com"
// under path routing, "" under Host routing.
func walmartBlockedLocation(prefix, requestURI string) string {
	return prefix + "/blocked?url=" + base64.StdEncoding.EncodeToString([]byte(requestURI)) +
		"&uuid=6c2b9a80-bf54-11ee-9c2d-5f3b5a1b8a77&vid=&g=b"
}

func renderWalmartUnavailable() []byte {
	return []byte("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Walmart.com</title></head><body><h1>Service Unavailable</h1><p>We're having technical issues, but we'll be back in a flash. Please try again in a few minutes.</p></body></html>\n")
}
