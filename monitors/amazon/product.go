package amazon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/net/html"

	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// Errors ParseProduct and ParseAOD wrap; test with errors.Is.
var (
	// ErrBlocked: the body is a bot wall (see DetectBlock), not a page.
	ErrBlocked = errors.New("amazon: blocked")
	// ErrVariantRedirect: Amazon answered with another ASIN's page (a
	// variant or replacement). Its stock says nothing about the one asked for.
	ErrVariantRedirect = errors.New("amazon: variant redirect")
	// ErrTruncated: the page ends before </html>; a cut-off page cannot
	// prove that something is out of stock.
	ErrTruncated = errors.New("amazon: truncated page")
	// ErrNotProduct: no product ASIN on the page (an error or search page).
	ErrNotProduct = errors.New("amazon: not a product page")
	// ErrNotAOD: the body is not an All Offers Display fragment.
	ErrNotAOD = errors.New("amazon: not an offers fragment")
	// ErrUnknownLayout: the offers fragment holds offers the parser cannot
	// read. Never "no offers": Amazon changed its markup.
	ErrUnknownLayout = errors.New("amazon: unknown layout")
)

// Stock is what a page says about availability.
type Stock string

const (
	// StockUnknown: neither a buyable buy box nor an out-of-stock notice,
	// e.g. only "See All Buying Options". The offers fragment decides.
	StockUnknown Stock = "unknown"
	// OutOfStock: #outOfStock, #backInStock or an "unavailable" text.
	OutOfStock Stock = "out_of_stock"
	// InStock: the buy box has an add-to-cart or buy-now button and an
	// offer listing id.
	InStock Stock = "in_stock"
)

// Page is what a product page (/dp/{ASIN}) says about the buy-box offer.
type Page struct {
	ASIN  string `json:"asin"`
	Title string `json:"title,omitempty"`
	// Price is the price to pay of the buy-box offer as a plain decimal
	// ("1234.56"; no decimals for JP), never a list or carousel price.
	Price      string  `json:"price,omitempty"`
	PriceValue float64 `json:"priceValue,omitempty"`
	Currency   string  `json:"currency,omitempty"`
	// Image is the hi-res product image, an absolute https URL.
	Image string `json:"image,omitempty"`
	// OfferID is the buy box's offer listing id in DECODED form: the page
	// writes it URL-encoded ("p7h8Hu2%2BBb5u…"), pings carry "p7h8Hu2+Bb5u…".
	OfferID string `json:"offerId,omitempty"`
	// Merchant is the buy-box seller's merchant id; SoldByAmazon reports
	// whether it is the region's Amazon seller id (or, with no id on the
	// page, whether the merchant text says "sold by Amazon").
	Merchant     string `json:"merchant,omitempty"`
	SoldByAmazon bool   `json:"soldByAmazon"`
	Stock        Stock  `json:"stock"`
	// OtherSellers: the page links to other offers ("See All Buying
	// Options"), so the offers fragment may hold buyable offers.
	OtherSellers bool `json:"otherSellers"`
	// Evidence names what decided Stock, for logs.
	Evidence string `json:"evidence,omitempty"`
	// Condition is "" for the ordinary (new) buy box and
	// monitors.ConditionUsed when the page offers only a used copy (a
	// "Buy used" buy box): OfferID, Merchant and Price are then that used
	// offer's, which only a target allowing used offers may ping.
	Condition string `json:"condition,omitempty"`
	// Digital marks a Kindle/digital page (1-Click purchase, no
	// offerListingID): nothing a Stellar task can buy.
	Digital bool `json:"digital,omitempty"`
}

// Selectors, compiled once: package-level but immutable.
var (
	selBuyBoxes = []matcherT{sel("#qualifiedBuybox"), sel("#desktop_buybox"), sel("#buybox"), sel("form#addToCart")}
	selBuyBtn   = sel(`#add-to-cart-button, #buy-now-button, input[name="submit.add-to-cart"], input[name="submit.buy-now"]`)
	selOfferIDs = []matcherT{
		sel(`form#addToCart input[name="offerListingID"]`),
		sel(`input[name="offerListingID"]`),
		sel(`input[name="items[0.base][offerListingId]"]`),
		sel(`input[name="oid"]`), // the mobile layout's add-to-cart form
	}
	selATCForms = sel(`form#addToCart`)
	// A used buy box: the desktop "Buy used" box (used-only pages) and the
	// mobile form flagged isUsedBuyBox.
	selUsedBox        = sel(`#usedOnlyBuybox, #used_buybox_desktop, input[name="isUsedBuyBox"][value="1"]`)
	selUsedPrice      = sel(`#usedBuySection .offer-price`)
	selDigital        = sel(`#kindle-price, form#buyOneClick`)
	selKindle         = sel(`#kindle-price`)
	selMerchantInputs = []matcherT{sel(`input#merchantID`), sel(`input[name="merchantID"]`)}
	selSellerLinks    = sel(`#sellerProfileTriggerId, #merchant-info a[href], #merchantInfoFeature_feature_div a[href], #tabular-buybox a[href]`)
	selMerchantText   = sel(`#merchant-info, #merchantInfoFeature_feature_div, #tabular-buybox, #sellerProfileTriggerId`)
	selASINs          = []matcherT{sel(`input#ASIN`), sel(`input[name="ASIN"]`), sel(`input[name="items[0.base][asin]"]`)}
	selCanonical      = sel(`link[rel="canonical"]`)
	selTitle          = []matcherT{sel("#productTitle"), sel("#ebooksProductTitle"), sel("#title")}
	selImage          = []matcherT{sel("#landingImage"), sel("#imgBlkFront"), sel("#ebooksImgBlkFront"), sel("#main-image")}
	selOOS            = sel("#outOfStock, #backInStock")
	selAvailability   = sel("#availability")
	selOtherSellers   = sel(`#buybox-see-all-buying-choices, #unqualifiedBuyBox, #olp_feature_div a[href], #aod-ingress-link, #rightCol a[href*="/gp/offer-listing/"]`)
	selPrices         = []matcherT{
		sel("#corePrice_feature_div .a-price"),
		sel("#corePriceDisplay_desktop_feature_div .priceToPay, #corePriceDisplay_desktop_feature_div .apexPriceToPay"),
		sel("#apex_desktop .priceToPay, #apex_desktop .apexPriceToPay, #apex_offerDisplay_desktop .a-price"),
		sel("#corePrice_desktop .a-price, #price_inside_buybox, #priceblock_ourprice, #priceblock_dealprice"),
		// Book pages (2017 desktop) and the mobile layout.
		sel("#buyNewSection .offer-price, #newBuyBoxPrice"),
	}
	selOffscreen = sel(".a-offscreen")
	selWhole     = sel(".a-price-whole")
	selFraction  = sel(".a-price-fraction")
)

// outOfStockPhrases are #availability texts, lower-cased, in every
// storefront language. They are only consulted when the buy box has no
// buyable button.
var outOfStockPhrases = [...]string{
	"currently unavailable", "temporarily out of stock", "out of stock",
	"derzeit nicht verfügbar", "nicht auf lager", "nicht verfügbar",
	"actuellement indisponible", "rupture de stock", "indisponible",
	"no disponible", "sin stock", "agotado",
	"non disponibile", "esaurito",
	"tijdelijk niet beschikbaar", "niet beschikbaar", "niet op voorraad", "momenteel niet verkrijgbaar",
	"obecnie niedostępny", "niedostępny", "brak w magazynie",
	"現在在庫切れです", "在庫切れ", "一時的に在庫切れ",
}

// soldByAmazonPhrases are merchant-info texts, lower-cased, that say the
// offer is sold by Amazon itself. Used only when the page has no merchant
// id: "Ships from Amazon" alone is fulfilment, not the seller.
var soldByAmazonPhrases = [...]string{
	"ships from and sold by amazon", "dispatched from and sold by amazon", "sold by amazon",
	"verkauf und versand durch amazon", "vendu et expédié par amazon", "expédié et vendu par amazon",
	"vendido y enviado por amazon", "venduto e spedito da amazon", "verzonden en verkocht door amazon",
	"wysyłka i sprzedaż przez amazon", "sprzedawane i wysyłane przez amazon",
	"amazon.co.jp が販売、発送します", "amazon.co.jpが販売、発送します",
}

// ParseProduct reads a product page (/dp/{ASIN}) for region r. asin is the
// ASIN asked for: a page about another ASIN (variant redirect) returns the
// page with an error wrapping ErrVariantRedirect. Bot walls wrap
// ErrBlocked, pages cut before </html> ErrTruncated, pages without an ASIN
// ErrNotProduct. Everything is anchored to the buy box so the dozens of
// carousel prices and forms on a real page are never picked up.
func ParseProduct(body []byte, r RegionInfo, asin string) (Page, error) {
	if blocked, reason := DetectBlock(200, body); blocked {
		return Page{}, fmt.Errorf("%w: %s", ErrBlocked, reason)
	}
	return parseProduct(body, r, asin)
}

// parseProduct is ParseProduct for a body DetectBlock has already passed
// (Monitor.Check runs it once per response, in fetch).
func parseProduct(body []byte, r RegionInfo, asin string) (Page, error) {
	if !hasHTMLEnd(body) {
		return Page{}, fmt.Errorf("%w: %d bytes and no </html>", ErrTruncated, len(body))
	}
	// Only the elements the selectors below can match are parsed (see
	// skeleton.go): the tree of a real page is a few hundred nodes, not
	// tens of thousands.
	doc, err := parseSkeleton(cut(body, productPart).doc)
	if err != nil {
		return Page{}, fmt.Errorf("amazon: parse product page: %w", err)
	}
	return productFromTree(doc, r, asin)
}

// productFromTree reads a parsed page, whole or skeleton: the selectors
// give the same answer on both (TestSkeletonMatchesFullTree).
func productFromTree(doc *html.Node, r RegionInfo, asin string) (Page, error) {
	var box *html.Node
	for _, s := range selBuyBoxes {
		if box = first(doc, s); box != nil {
			break
		}
	}

	p := Page{Stock: StockUnknown}
	p.ASIN = pageASIN(doc, box)
	if p.ASIN == "" {
		return Page{}, fmt.Errorf("%w: no ASIN (input#ASIN, items[0.base][asin], canonical link)", ErrNotProduct)
	}
	for _, s := range selTitle {
		if p.Title = text(first(doc, s)); p.Title != "" {
			break
		}
	}
	p.Image = productImage(first(doc, selImage...))
	p.Price, p.PriceValue = buyBoxPrice(doc, r)

	// Which add-to-cart form holds the offer: the first new one. A used
	// form comes first on the mobile layout, and is the only one on a
	// used-only page, whose offer must not pass for a new one.
	var newForm, usedForm *html.Node
	for _, f := range queryAll(doc, selATCForms) {
		switch {
		case isUsedForm(f):
			if usedForm == nil {
				usedForm = f
			}
		case newForm == nil && firstAttr(f, "value", selOfferIDs...) != "":
			newForm = f
		}
	}
	usedOnly := newForm == nil && usedForm != nil
	if newForm != nil && (box == nil || isUsedForm(box)) {
		box = newForm
	}
	scope := box
	if scope == nil {
		scope = doc
	}
	offerScope := scope
	switch {
	case newForm != nil && contains(scope, newForm):
		offerScope = newForm
	case usedOnly:
		offerScope = usedForm
		p.Condition = monitors.ConditionUsed
		if p.Price == "" {
			p.Price, p.PriceValue = firstPrice(doc, selUsedPrice, r)
		}
	}
	p.OfferID = decodeOfferID(firstAttr(offerScope, "value", selOfferIDs...))
	if p.OfferID == "" && scope != doc && !usedOnly {
		p.OfferID = decodeOfferID(firstAttr(doc, "value", selOfferIDs[0]))
	}
	p.Merchant, p.SoldByAmazon = buyBoxMerchant(doc, offerScope, r)
	if p.OfferID == "" && first(doc, selDigital) != nil {
		p.Digital = true
		if p.Price == "" {
			p.Price, p.PriceValue = firstPrice(doc, selKindle, r)
		}
	}
	if p.Price != "" {
		p.Currency = r.Currency
	}

	hasButton := box != nil && first(box, selBuyBtn) != nil
	switch {
	case usedOnly && p.OfferID != "":
		p.Stock, p.Evidence = InStock, "only a used offer (used buy box #usedOnlyBuybox / isUsedBuyBox)"
	case hasButton && p.OfferID != "":
		p.Stock, p.Evidence = InStock, "buy box add-to-cart/buy-now button"
	case first(doc, selOOS) != nil:
		p.Stock, p.Evidence = OutOfStock, "#outOfStock/#backInStock"
	default:
		if avail := text(first(doc, selAvailability)); avail != "" {
			low := strings.ToLower(avail)
			for _, ph := range outOfStockPhrases {
				if strings.Contains(low, ph) {
					p.Stock, p.Evidence = OutOfStock, fmt.Sprintf("availability %q", avail)
					break
				}
			}
		}
		if p.Stock == StockUnknown {
			if p.Digital {
				p.Evidence = "digital item (Kindle 1-Click, no offerListingID)"
			} else if hasButton {
				p.Evidence = "buy button without offerListingID"
			} else {
				p.Evidence = "no buy button and no out-of-stock notice"
			}
		}
	}
	p.OtherSellers = first(doc, selOtherSellers) != nil

	if p.ASIN != asin {
		return p, fmt.Errorf("%w: asked for %s, page is %s", ErrVariantRedirect, asin, p.ASIN)
	}
	return p, nil
}

// hasHTMLEnd reports whether the page reaches its </html>. The tag sits
// at the very end of a whole page, so the tail is looked at first.
func hasHTMLEnd(body []byte) bool {
	tail := body[max(0, len(body)-4096):]
	if bytes.Contains(tail, []byte("</html>")) || bytes.Contains(tail, []byte("</HTML>")) {
		return true
	}
	return bytes.Contains(body, []byte("</html>")) || bytes.Contains(body, []byte("</HTML>"))
}

// pageASIN prefers the buy-box form's ASIN, then any, then the canonical
// link's /dp/{ASIN}.
func pageASIN(doc, box *html.Node) string {
	for _, root := range [...]*html.Node{box, doc} {
		if v := firstAttr(root, "value", selASINs...); stellar.IsASIN(v) {
			return v
		}
	}
	href := attr(first(doc, selCanonical), "href")
	if i := strings.Index(href, "/dp/"); i >= 0 && len(href) >= i+14 {
		if v := href[i+4 : i+14]; stellar.IsASIN(v) {
			return v
		}
	}
	return ""
}

// isUsedForm reports whether an add-to-cart form buys a used copy.
func isUsedForm(f *html.Node) bool {
	if first(f, selUsedBox) != nil {
		return true
	}
	for p := f.Parent; p != nil; p = p.Parent {
		switch attr(p, "id") {
		case "usedOnlyBuybox", "used_buybox_desktop", "usedbuybox.addToCart":
			return true
		}
	}
	return false
}

// contains reports whether n is root or inside it.
func contains(root, n *html.Node) bool {
	for ; n != nil; n = n.Parent {
		if n == root {
			return true
		}
	}
	return false
}

// firstPrice reads the first element matching m that holds a price.
func firstPrice(doc *html.Node, m matcherT, r RegionInfo) (string, float64) {
	for _, n := range queryAll(doc, m) {
		if d, v, ok := priceOf(n, r); ok {
			return d, v
		}
	}
	return "", 0
}

// buyBoxPrice finds the price to pay, trying the selectors in order of
// trust; list prices (.a-text-price, .basisPrice) are skipped wherever they
// sit.
func buyBoxPrice(doc *html.Node, r RegionInfo) (string, float64) {
	for _, s := range selPrices {
		for _, n := range queryAll(doc, s) {
			if insideAny(n, nil, "a-text-price", "basisPrice") {
				continue
			}
			if d, v, ok := priceOf(n, r); ok {
				return d, v
			}
		}
	}
	return "", 0
}

// priceOf reads one price element: its .a-offscreen text, else the split
// .a-price-whole + .a-price-fraction (the real page leaves .a-offscreen
// blank inside .priceToPay), else its own text.
func priceOf(n *html.Node, r RegionInfo) (string, float64, bool) {
	if t := text(first(n, selOffscreen)); t != "" {
		if d, v, err := ParsePrice(t, r); err == nil {
			return d, v, true
		}
	}
	if w := first(n, selWhole); w != nil {
		if d, v, err := wholeFraction(text(w), text(first(n, selFraction))); err == nil {
			return d, v, true
		}
	}
	if first(n, selOffscreen) == nil && first(n, selWhole) == nil {
		if d, v, err := ParsePrice(text(n), r); err == nil {
			return d, v, true
		}
	}
	return "", 0, false
}

// buyBoxMerchant returns the buy-box seller: hidden merchantID input, then
// the seller-profile link, then the merchant-info text ("Ships from and
// sold by Amazon" in every language), which stands for the region's own
// seller id.
func buyBoxMerchant(doc, scope *html.Node, r RegionInfo) (string, bool) {
	m := firstAttr(scope, "value", selMerchantInputs...)
	if !isMerchantID(m) {
		m = ""
		for _, a := range queryAll(doc, selSellerLinks) {
			if m = sellerFromHref(attr(a, "href")); m != "" {
				break
			}
		}
	}
	if m != "" {
		return m, r.IsAmazon(m)
	}
	if soldByAmazonText(text(first(doc, selMerchantText)), r) {
		return r.SellerID, true
	}
	return "", false
}

// soldByAmazonText reports whether a "sold by" text names Amazon itself.
func soldByAmazonText(t string, r RegionInfo) bool {
	low := strings.ToLower(strings.TrimSpace(t))
	if low == "" {
		return false
	}
	for _, ph := range soldByAmazonPhrases {
		if strings.Contains(low, ph) {
			return true
		}
	}
	return r.IsAmazonName(low)
}

// amazonSellerNames are the names, lower-cased, under which Amazon's own
// retail arms sell besides a storefront's name ("Amazon.de"): the legal
// entities and short forms, e.g. "Amazon.com Services LLC", "Amazon AU",
// "Amazon EU S.à r.l.". Amazon Warehouse and Amazon Resale sell used
// returns under other seller ids: not here.
var amazonSellerNames = map[string]bool{
	"amazon": true, "amazon.com services llc": true, "amazon.com services, inc": true,
	"amazon.com services inc": true, "amazon export sales llc": true, "amazon us": true,
	"amazon.com.ca, inc": true, "amazon.com.ca ulc": true, "amazon canada": true, "amazon ca": true,
	"amazon uk": true, "amazon eu s.à r.l": true, "amazon eu s.a.r.l": true, "amazon eu sarl": true,
	"amazon eu s.à.r.l": true, "amazon eu": true,
	"amazon japan g.k": true, "amazon japan": true,
	"amazon au": true, "amazon commercial services pty ltd": true, "amazon australia": true,
}

// IsAmazonName reports whether a seller name ("Sold by" label allowed) is
// Amazon itself in r: one of Amazon's entities, or r's own storefront
// ("Amazon.de" on amazon.de, not on amazon.fr). The whole name must
// match, so "Amazonas Shop" or "Amazon Deals 4U" are third parties.
func (r RegionInfo) IsAmazonName(name string) bool {
	n := strings.ToLower(trimSoldByLabel(name))
	n = strings.Join(strings.Fields(n), " ")
	n = strings.TrimRight(n, ". ")
	if amazonSellerNames[n] {
		return true
	}
	site := strings.TrimPrefix(r.Domain, "www.")
	return site != "" && n == site
}

// soldByLabels are the "Sold by" labels AOD puts before a seller name.
var soldByLabels = [...]string{
	"sold by", "ships from and sold by", "verkäufer", "verkauf durch", "vendu par", "vendido por",
	"venduto da", "verkocht door", "sprzedawca", "sprzedawane przez", "販売元", "出品者",
}

// trimSoldByLabel drops a leading "Sold by" label (any case) and colon.
func trimSoldByLabel(s string) string {
	s = strings.TrimSpace(s)
	low := strings.ToLower(s)
	for _, l := range soldByLabels {
		if strings.HasPrefix(low, l) {
			s = strings.TrimSpace(s[len(l):])
			break
		}
	}
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(s, ":"), "："))
}

// productImage picks the hi-res image: data-old-hires, else the largest
// entry of data-a-dynamic-image, else src (not a data URI placeholder).
func productImage(n *html.Node) string {
	if n == nil {
		return ""
	}
	if u := monitors.AbsURL(attr(n, "data-old-hires")); u != "" {
		return u
	}
	// The src is a thumbnail on older and book pages (…_SX218_QL40_.jpg):
	// the largest dynamic image comes first.
	if u := largestDynamicImage(n); u != "" {
		return u
	}
	return monitors.AbsURL(attr(n, "src"))
}

// largestDynamicImage is the largest entry of data-a-dynamic-image, or "".
func largestDynamicImage(n *html.Node) string {
	var dyn map[string][]int
	if err := json.Unmarshal([]byte(attr(n, "data-a-dynamic-image")), &dyn); err != nil {
		return ""
	}
	keys := make([]string, 0, len(dyn))
	for k := range dyn {
		keys = append(keys, k)
	}
	sort.Strings(keys) // ties resolve the same way every time
	best, bestArea := "", -1
	for _, k := range keys {
		u := monitors.AbsURL(k)
		if u == "" {
			continue
		}
		area := 0
		if d := dyn[k]; len(d) == 2 {
			area = d[0] * d[1]
		}
		if area > bestArea {
			best, bestArea = u, area
		}
	}
	return best
}
