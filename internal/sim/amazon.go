package sim

import (
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"strings"
)

// amazonOffer is the buy-box offer of a product as Amazon would show it.
type amazonOffer struct {
	MerchantID   string
	MerchantName string
	SoldByAmazon bool
}

func amazonOfferOf(r *amazonRegion, p *Product) amazonOffer {
	if p.SoldBy == SoldByThirdParty {
		id, name := p.MerchantID, p.MerchantName
		if id == "" {
			id = derivedAmazonMerchant(r.Code + p.SKU)
		}
		if name == "" {
			name = derivedMerchantName(r.Code + p.SKU)
		}
		return amazonOffer{MerchantID: id, MerchantName: name}
	}
	return amazonOffer{MerchantID: r.SellerID, MerchantName: r.AmazonName, SoldByAmazon: true}
}

// amazonImages returns the hi-res image (data-old-hires), the displayed
// one (src) and the sizes for data-a-dynamic-image.
func amazonImages(p *Product) (hires, src string, dyn map[string][2]int) {
	hires = p.Image
	if hires == "" {
		hires = "https://m.media-amazon.com/images/I/71" + p.SKU[:8] + "L._AC_SL1500_.jpg"
	}
	src = hires
	dyn = map[string][2]int{}
	if strings.Contains(hires, "._AC_SL1500_.") {
		for _, w := range []int{342, 466, 679} {
			u := strings.Replace(hires, "._AC_SL1500_.", fmt.Sprintf("._AC_SX%d_.", w), 1)
			dyn[u] = [2]int{w * 5 / 4, w}
		}
		src = strings.Replace(hires, "._AC_SL1500_.", "._AC_SX466_.", 1)
	} else {
		dyn[hires] = [2]int{1500, 1500}
	}
	return hires, src, dyn
}

func esc(s string) string { return html.EscapeString(s) }

// writePrice writes an Amazon a-price span. class adds classes such as
// priceToPay or a-text-price.
func writePrice(b *strings.Builder, r *amazonRegion, price, class string) {
	pp := formatAmazonPrice(r, price)
	fmt.Fprintf(b, `<span class="a-price %s" data-a-size="xl" data-a-color="base"><span class="a-offscreen">%s</span><span aria-hidden="true">`, class, esc(pp.Display))
	if !r.SymbolAfter {
		fmt.Fprintf(b, `<span class="a-price-symbol">%s</span>`, esc(r.Symbol))
	}
	fmt.Fprintf(b, `<span class="a-price-whole">%s`, esc(pp.Whole))
	if pp.Fraction != "" {
		fmt.Fprintf(b, `<span class="a-price-decimal">%s</span></span><span class="a-price-fraction">%s</span>`, esc(r.Decimal), pp.Fraction)
	} else {
		b.WriteString(`</span>`)
	}
	if r.SymbolAfter {
		fmt.Fprintf(b, `<span class="a-price-symbol">%s</span>`, esc(r.Symbol))
	}
	b.WriteString(`</span></span>`)
}

// scaledPrice returns price*num/den as a plain decimal, for decoys and list
// prices that must differ from the real one.
func scaledPrice(price string, num, den int64) string {
	c := centsOf(price) * num / den
	if c < 100 {
		c = 100 + c
	}
	return decimalOf(c)
}

func amazonHead(b *strings.Builder, r *amazonRegion, title string) {
	fmt.Fprintf(b, "<!doctype html><html lang=\"%s\" class=\"a-no-js\" data-19ax5a9jf=\"dingo\"><head>\n<meta charset=\"utf-8\">\n<title>%s</title>\n", r.Lang, esc(title))
	b.WriteString("<link rel=\"stylesheet\" href=\"https://m.media-amazon.com/images/I/11EIQ5IGqaL._RC|01ZTHTZObnL.css_.css\">\n</head>\n<body class=\"a-m-us a-aui_72554-c\">\n")
	fmt.Fprintf(b, "<div id=\"navbar\" role=\"navigation\"><a href=\"/ref=nav_logo\" class=\"nav-logo-link\" aria-label=\"%s\"></a><input type=\"text\" id=\"twotabsearchtextbox\" name=\"field-keywords\"></div>\n", esc(strings.TrimSpace(strings.TrimSuffix(r.TitlePrefix, ": "))))
}

// renderAmazonProduct renders /dp/{ASIN}. smid, when set and not the
// buy-box merchant's id, shows the page without a buyable offer, as Amazon
// does when the asked-for merchant has none.
func renderAmazonProduct(r *amazonRegion, p *Product, smid string) []byte {
	var b strings.Builder
	b.Grow(24 << 10)
	off := amazonOfferOf(r, p)
	buyable := p.InStock && (smid == "" || smid == off.MerchantID)
	amazonHead(&b, r, r.TitlePrefix+p.Title)
	hires, src, dyn := amazonImages(p)
	dynJSON, _ := json.Marshal(dyn)

	// A sponsored strip above the product: other products' prices appear
	// before the buy box, so only anchored selectors read the right one.
	b.WriteString("<div id=\"sp_hqp_shared_inner\" class=\"a-section sp_desktop_sponsored_label\"><div class=\"a-row\">\n")
	fmt.Fprintf(&b, "<a class=\"a-link-normal\" href=\"/dp/%s\"><span class=\"a-size-base\">%s</span></a>", derivedAmazonMerchant("ad" + p.SKU)[:10], esc("Sponsored accessory"))
	writePrice(&b, r, scaledPrice(p.Price, 1, 3), "a-text-normal")
	b.WriteString("</div></div>\n")

	b.WriteString("<div id=\"dp\" class=\"electronics\"><div id=\"dp-container\" class=\"a-container\">\n")
	// Image block.
	fmt.Fprintf(&b, "<div id=\"imageBlock_feature_div\" data-feature-name=\"imageBlock\"><div id=\"imgTagWrapperId\" class=\"imgTagWrapper\">\n<img alt=\"%s\" src=\"%s\" data-old-hires=\"%s\" data-a-image-name=\"landingImage\" class=\"a-dynamic-image a-stretch-horizontal\" id=\"landingImage\" data-a-dynamic-image=\"%s\" style=\"max-width:679px;max-height:849px;\">\n</div></div>\n",
		esc(p.Title), esc(src), esc(hires), esc(string(dynJSON)))
	// Title.
	fmt.Fprintf(&b, "<div id=\"title_feature_div\" data-feature-name=\"title\"><div id=\"titleSection\" class=\"a-section a-spacing-none\"><h1 id=\"title\" class=\"a-size-large a-spacing-none\">\n<span id=\"productTitle\" class=\"a-size-large product-title-word-break\">        %s       </span>\n</h1></div></div>\n", esc(p.Title))
	fmt.Fprintf(&b, "<div id=\"bylineInfo_feature_div\"><a id=\"bylineInfo\" class=\"a-link-normal\" href=\"/stores/page/%s\">Visit the Store</a></div>\n", p.SKU)

	// Core price: the price to pay first, then the crossed-out list price.
	b.WriteString("<div id=\"corePriceDisplay_desktop_feature_div\" data-feature-name=\"corePriceDisplay_desktop\"></div>\n")
	b.WriteString("<div id=\"corePrice_feature_div\" class=\"celwidget\" data-feature-name=\"corePrice\" data-csa-c-type=\"widget\">")
	if buyable {
		b.WriteString("<div class=\"a-section a-spacing-none aok-align-center aok-relative\"><span class=\"a-size-large a-color-price savingPriceOverride aok-align-center reinventPriceSavingsPercentageMargin savingsPercentage\">-22%</span>")
		writePrice(&b, r, p.Price, "aok-align-center reinventPricePriceToPayMargin priceToPay apex-pricetopay-value")
		b.WriteString("</div><div class=\"a-section a-spacing-small aok-align-center\"><span class=\"a-size-small a-color-secondary aok-align-center basisPrice\">")
		writePrice(&b, r, scaledPrice(p.Price, 128, 100), "a-text-price")
		b.WriteString("</span></div>")
	}
	b.WriteString("</div>\n")

	// Buy box.
	b.WriteString("<div id=\"desktop_buybox\" class=\"celwidget\" data-feature-name=\"desktop_buybox\"><div id=\"buybox\">\n")
	if buyable {
		b.WriteString("<div id=\"qualifiedBuybox\" class=\"a-box-group\">\n")
		fmt.Fprintf(&b, "<div id=\"availability\" class=\"a-section a-spacing-base a-spacing-top-micro\"><span class=\"a-size-medium a-color-success primary-availability-message\">%s</span></div>\n", esc(r.InStock))
		writeAmazonForm(&b, r, p, off, true)
		writeMerchantInfo(&b, r, off)
		b.WriteString("</div>\n")
		// The real page repeats the form in a second accordion row with the
		// same offer listing id.
		b.WriteString("<div id=\"newAccordionRow_1\" class=\"a-box a-accordion-inactive\">\n")
		writeAmazonForm(&b, r, p, off, false)
		b.WriteString("</div>\n")
	} else {
		fmt.Fprintf(&b, "<div id=\"outOfStock\" class=\"a-box a-text-center a-color-base\"><div class=\"a-box-inner\"><div id=\"availability\" class=\"a-section a-spacing-none\"><span class=\"a-size-medium a-color-price a-text-bold\">%s</span></div></div></div>\n", esc(r.Unavailable))
		// An unbuyable page still has the form, with the ASIN and no offer.
		fmt.Fprintf(&b, "<form id=\"addToCart\" method=\"post\" action=\"/gp/product/handle-buy-box/ref=dp_start-bbf_1_glance\" class=\"a-content\"><input type=\"hidden\" id=\"ASIN\" name=\"ASIN\" value=\"%s\"><input type=\"hidden\" id=\"session-id\" name=\"session-id\" value=\"262-8140517-1049420\"></form>\n", p.SKU)
		fmt.Fprintf(&b, "<div id=\"backInStock\" class=\"a-section\"><a href=\"/gp/offer-listing/%s\">See All Buying Options</a></div>\n", p.SKU)
	}
	b.WriteString("</div></div>\n")

	// Decoy carousel of other products with prices, buttons and links.
	b.WriteString("<div id=\"sims-consolidated-1_feature_div\" class=\"celwidget\"><div class=\"a-carousel-container\"><ol class=\"a-carousel\" role=\"list\">\n")
	for i, f := range [][2]int64{{61, 100}, {145, 100}, {89, 100}, {230, 100}} {
		other := derivedAmazonMerchant(fmt.Sprint("carousel", i, p.SKU))[:10]
		fmt.Fprintf(&b, "<li class=\"a-carousel-card\" role=\"listitem\"><div class=\"p13n-sc-uncoverable-faceout\" id=\"%s\"><a class=\"a-link-normal\" href=\"/dp/%s\"><img alt=\"Related %d\" src=\"https://m.media-amazon.com/images/I/61%sL._AC_UL160_SR160,160_.jpg\"><div class=\"p13n-sc-truncate\">Related product %d</div></a>", other, other, i, other[:8], i)
		writePrice(&b, r, scaledPrice(p.Price, f[0], f[1]), "a-text-normal")
		fmt.Fprintf(&b, "<span class=\"a-button a-button-primary\"><input class=\"a-button-input\" type=\"submit\" name=\"submit.addToCart\" value=\"%s\"></span></div></li>\n", esc(r.AddToCart))
	}
	b.WriteString("</ol></div></div>\n")
	b.WriteString("</div></div>\n</body></html>\n")
	return []byte(b.String())
}

// writeAmazonForm writes a buy-box form. The offer listing id is shown
// URL-encoded, as on the real page.
func writeAmazonForm(b *strings.Builder, r *amazonRegion, p *Product, off amazonOffer, buttons bool) {
	enc := url.QueryEscape(p.OfferID)
	pp := formatAmazonPrice(r, p.Price)
	b.WriteString("<form id=\"addToCart\" method=\"post\" action=\"/gp/product/handle-buy-box/ref=dp_start-bbf_1_glance\" class=\"a-content\" autocomplete=\"off\">\n")
	fmt.Fprintf(b, "<input type=\"hidden\" id=\"items[0.base][customerVisiblePrice][amount]\" name=\"items[0.base][customerVisiblePrice][amount]\" value=\"%s\">\n", p.Price)
	fmt.Fprintf(b, "<input type=\"hidden\" id=\"items[0.base][customerVisiblePrice][currencyCode]\" name=\"items[0.base][customerVisiblePrice][currencyCode]\" value=\"%s\">\n", r.Currency)
	fmt.Fprintf(b, "<input type=\"hidden\" id=\"items[0.base][customerVisiblePrice][displayString]\" name=\"items[0.base][customerVisiblePrice][displayString]\" value=\"%s\">\n", esc(pp.Display))
	fmt.Fprintf(b, "<input type=\"hidden\" name=\"items[0.base][asin]\" value=\"%s\">\n", p.SKU)
	fmt.Fprintf(b, "<input type=\"hidden\" name=\"items[0.base][offerListingId]\" value=\"%s\">\n", esc(enc))
	fmt.Fprintf(b, "<input type=\"hidden\" id=\"offerListingID\" name=\"offerListingID\" value=\"%s\">\n", esc(enc))
	fmt.Fprintf(b, "<input type=\"hidden\" id=\"ASIN\" name=\"ASIN\" value=\"%s\">\n", p.SKU)
	fmt.Fprintf(b, "<input type=\"hidden\" id=\"merchantID\" name=\"merchantID\" value=\"%s\">\n", off.MerchantID)
	b.WriteString("<input type=\"hidden\" name=\"items[0.base][quantity]\" value=\"1\">\n")
	if buttons {
		fmt.Fprintf(b, "<span id=\"submit.add-to-cart\" class=\"a-button a-spacing-small a-button-primary a-button-icon\"><span class=\"a-button-inner\"><input id=\"add-to-cart-button\" name=\"submit.add-to-cart\" title=\"%s\" type=\"submit\" value=\"%s\" class=\"a-button-input\"><span class=\"a-button-text\">%s</span></span></span>\n", esc(r.AddToCart), esc(r.AddToCart), esc(r.AddToCart))
		fmt.Fprintf(b, "<span id=\"submit.buy-now\" class=\"a-button a-button-oneclick\"><span class=\"a-button-inner\"><input id=\"buy-now-button\" name=\"submit.buy-now\" title=\"%s\" type=\"submit\" class=\"a-button-input\" formaction=\"/checkout/entry/buynow\"><span class=\"a-button-text\">%s</span></span></span>\n", esc(r.BuyNow), esc(r.BuyNow))
	}
	b.WriteString("</form>\n")
}

func writeMerchantInfo(b *strings.Builder, r *amazonRegion, off amazonOffer) {
	if off.SoldByAmazon {
		fmt.Fprintf(b, "<div id=\"merchantInfoFeature_feature_div\" class=\"celwidget\"><div id=\"merchant-info\" class=\"a-section a-spacing-mini\">%s</div></div>\n", esc(r.SoldByAmazon))
		return
	}
	fmt.Fprintf(b, "<div id=\"fulfillerInfoFeature_feature_div\" class=\"celwidget\"><span class=\"a-size-small a-color-tertiary\">%s</span> <span class=\"a-size-small offer-display-feature-text-message\">Amazon</span></div>\n", esc(r.ShipsFrom))
	fmt.Fprintf(b, "<div id=\"merchantInfoFeature_feature_div\" class=\"celwidget\"><span class=\"a-size-small a-color-tertiary\">%s</span> <a id=\"sellerProfileTriggerId\" class=\"a-size-small a-link-normal offer-display-feature-text-message\" href=\"/gp/help/seller/at-a-glance.html/ref=dp_merchant_link?ie=UTF8&amp;seller=%s&amp;isAmazonFulfilled=1\">%s</a></div>\n",
		esc(r.SoldBy), off.MerchantID, esc(off.MerchantName))
}

// renderAmazonAOD renders the All Offers Display fragment: the buy-box
// offer pinned, plus a dearer marketplace offer when Amazon itself sells.
func renderAmazonAOD(r *amazonRegion, p *Product, page int) []byte {
	var b strings.Builder
	b.Grow(8 << 10)
	off := amazonOfferOf(r, p)
	type aodOffer struct {
		offerID, price string
		merchant       amazonOffer
	}
	var offers []aodOffer
	if p.InStock {
		offers = append(offers, aodOffer{p.OfferID, p.Price, off})
		if off.SoldByAmazon {
			seed := r.Code + p.SKU + p.OfferID
			offers = append(offers, aodOffer{derivedAmazonOfferID(seed), scaledPrice(p.Price, 117, 100),
				amazonOffer{MerchantID: derivedAmazonMerchant(seed), MerchantName: derivedMerchantName(seed)}})
		}
	}
	if page > 1 {
		offers = nil // everything fits on the first page of ten
	}
	fmt.Fprintf(&b, "<div id=\"aod-container\" class=\"a-section\" data-asin=\"%s\">\n", p.SKU)
	fmt.Fprintf(&b, "<input type=\"hidden\" id=\"aod-total-offer-count\" name=\"aod-total-offer-count\" value=\"%d\">\n", len(offers))
	fmt.Fprintf(&b, "<div id=\"aod-asin-title\"><h5 id=\"aod-asin-title-text\" class=\"a-spacing-none a-text-normal\">%s</h5></div>\n", esc(p.Title))
	for i, o := range offers {
		if i == 0 {
			b.WriteString("<div id=\"aod-sticky-pinned-offer\" class=\"a-section\"></div>\n<div id=\"aod-pinned-offer\" class=\"a-section a-spacing-none\">\n")
		} else {
			if i == 1 {
				b.WriteString("<div id=\"aod-offer-list\" class=\"a-section\">\n")
			}
			b.WriteString("<div id=\"aod-offer\" class=\"a-section a-spacing-none aok-padding-1\">\n")
		}
		b.WriteString("<div id=\"aod-offer-price\" class=\"a-section a-spacing-none\"><div class=\"a-section a-spacing-micro\">")
		writePrice(&b, r, o.price, "apexPriceToPay")
		b.WriteString("</div></div>\n")
		fmt.Fprintf(&b, "<div id=\"aod-offer-shipsFrom\" class=\"a-row\"><span class=\"a-size-small a-color-tertiary\">%s</span> <span class=\"a-size-small a-color-base\">Amazon</span></div>\n", esc(r.ShipsFrom))
		fmt.Fprintf(&b, "<div id=\"aod-offer-soldBy\" class=\"a-row\"><span class=\"a-size-small a-color-tertiary\">%s</span> <a class=\"a-size-small a-link-normal\" href=\"/gp/aag/main?seller=%s&amp;asin=%s\">%s</a></div>\n", esc(r.SoldBy), o.merchant.MerchantID, p.SKU, esc(o.merchant.MerchantName))
		enc := url.QueryEscape(o.offerID)
		atc, _ := json.Marshal(map[string]string{"oid": o.offerID, "asin": p.SKU, "mid": o.merchant.MerchantID})
		fmt.Fprintf(&b, "<form method=\"post\" action=\"/gp/product/handle-buy-box/ref=aod_dpdsk_new_%d\">\n", i)
		fmt.Fprintf(&b, "<input type=\"hidden\" name=\"offeringID.1\" value=\"%s\">\n", esc(enc))
		fmt.Fprintf(&b, "<input type=\"hidden\" id=\"ftSelectAsin\" name=\"asin.1\" value=\"%s\">\n", p.SKU)
		fmt.Fprintf(&b, "<input type=\"hidden\" id=\"ftSelectMerchant\" name=\"merchantID\" value=\"%s\">\n", o.merchant.MerchantID)
		fmt.Fprintf(&b, "<span class=\"a-declarative\" data-action=\"aod-atc-action\" data-aod-atc-action=\"%s\"><span class=\"a-button a-button-primary\"><input class=\"a-button-input\" type=\"submit\" name=\"submit.addToCart\" aria-label=\"%s\"><span class=\"a-button-text\">%s</span></span></span>\n", esc(string(atc)), esc(r.AddToCart), esc(r.AddToCart))
		b.WriteString("</form>\n</div>\n")
	}
	if len(offers) > 1 {
		b.WriteString("</div>\n")
	}
	b.WriteString("</div>\n")
	return []byte(b.String())
}

// renderAmazonNotFound is the "Dogs of Amazon" 404 page.
func renderAmazonNotFound(r *amazonRegion) []byte {
	var b strings.Builder
	amazonHead(&b, r, "Page Not Found")
	b.WriteString("<div id=\"g\"><div class=\"a-text-center a-spacing-large\"><a href=\"/ref=cs_404_logo\"><img src=\"https://images-na.ssl-images-amazon.com/images/G/01/error/title._TTD_.png\" alt=\"Sorry! We couldn't find that page. Try searching or go to Amazon's home page.\"></a></div>\n")
	b.WriteString("<a href=\"/dogsofamazon/ref=cs_404_link\"><img id=\"d\" src=\"https://images-na.ssl-images-amazon.com/images/G/01/error/120._TTD_.jpg\" alt=\"Dogs of Amazon\"></a></div>\n</body></html>\n")
	return []byte(b.String())
}

// renderAmazonCaptcha is the robot check, in the region's language.
func renderAmazonCaptcha(r *amazonRegion) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "<!doctype html><html lang=\"%s\" class=\"a-no-js\"><head><meta charset=\"utf-8\"><title dir=\"ltr\">Robot Check</title></head>\n<body><div class=\"a-container a-padding-double-large\">\n", r.Lang)
	fmt.Fprintf(&b, "<div class=\"a-row a-spacing-double-large\"><h4>%s</h4><p class=\"a-last\">%s</p></div>\n", esc(r.CaptchaPrompt), esc(r.CaptchaIntro))
	b.WriteString("<form method=\"get\" action=\"/errors/validateCaptcha\" name=\"\">\n<input type=\"hidden\" name=\"amzn\" value=\"3zQnWzV5a2d8mA1D8n1O3g==\"><input type=\"hidden\" name=\"amzn-r\" value=\"&#047;\">\n")
	b.WriteString("<div class=\"a-row a-text-center\"><img src=\"https://images-na.ssl-images-amazon.com/captcha/twrrnbtq/Captcha_kfeidxkvnr.jpg\"></div>\n")
	fmt.Fprintf(&b, "<div class=\"a-row a-spacing-base\"><label for=\"captchacharacters\">%s</label><input autocomplete=\"off\" spellcheck=\"false\" placeholder=\"%s\" id=\"captchacharacters\" name=\"field-keywords\" type=\"text\"></div>\n", esc(r.CaptchaPrompt), esc(r.CaptchaPrompt))
	fmt.Fprintf(&b, "<span class=\"a-button a-button-primary a-span12\"><span class=\"a-button-inner\"><button type=\"submit\" class=\"a-button-text\">%s</button></span></span>\n</form>\n</div></body></html>\n", esc(r.Continue))
	return []byte(b.String())
}

// renderAmazonAutomated is the 503 page Amazon serves to scrapers.
func renderAmazonAutomated(r *amazonRegion) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "<!doctype html><html lang=\"%s\"><head><meta charset=\"utf-8\"><title>Sorry! Something went wrong!</title></head><body>\n", r.Lang)
	b.WriteString("<!--\n        To discuss automated access to Amazon data please contact api-services-support@amazon.com.\n        For information about migrating to our APIs refer to our Marketplace APIs at https://developer.amazonservices.com/ref=rm_5_sv, or our Product Advertising API at https://affiliate-program.amazon.com/gp/advertising/api/detail/main.html/ref=rm_5_ac for advertising use cases.\n-->\n")
	b.WriteString("<a href=\"/ref=cs_503_logo\"><img src=\"https://images-na.ssl-images-amazon.com/images/G/01/error/logo._TTD_.png\" alt=\"Amazon\"></a>\n<p>Sorry! Something went wrong on our end. Please go back and try again or go to Amazon's home page.</p>\n")
	b.WriteString("<a href=\"/dogsofamazon/ref=cs_503_d\"><img src=\"https://images-na.ssl-images-amazon.com/images/G/01/error/50._TTD_.jpg\" alt=\"Dogs of Amazon\"></a>\n</body></html>\n")
	return []byte(b.String())
}

// renderAmazonTooMany is the 429 answer.
func renderAmazonTooMany(r *amazonRegion) []byte {
	return fmt.Appendf(nil, "<!doctype html><html lang=\"%s\"><head><meta charset=\"utf-8\"><title>Amazon.com</title></head><body><p>Request was throttled. Please wait a moment and refresh the page.</p></body></html>\n", r.Lang)
}

// renderAmazonForbidden is the 403 answer for a blocked client.
func renderAmazonForbidden(r *amazonRegion) []byte {
	return fmt.Appendf(nil, "<!doctype html><html lang=\"%s\"><head><meta charset=\"utf-8\"><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1><p>Request blocked.</p></body></html>\n", r.Lang)
}
