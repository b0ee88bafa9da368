package walmart

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/bytedance/sonic"
	"github.com/bytedance/sonic/ast"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
	"github.com/stellarfeed/stellarfeed/monitors"
)

// WalmartSellerID is the seller id of Walmart.com itself on the US site.
const WalmartSellerID = "F55CDC31AB754BB68FE0B39041159D63"

// Availability values after normalisation.
const (
	InStockStatus    = "IN_STOCK"
	OutOfStockStatus = "OUT_OF_STOCK"
)

// Product is what a Walmart product page says about the item it shows.
type Product struct {
	// ItemID is usItemId (USA) or the item id (CA): the Stellar sku.
	ItemID string `json:"itemId"`
	Name   string `json:"name"`
	// OfferID is the 32 upper-case hex offer id, or "" when the page has
	// none (allowed only when out of stock).
	OfferID string `json:"offerId"`
	// Availability is InStockStatus or OutOfStockStatus.
	Availability string `json:"availability"`
	InStock      bool   `json:"inStock"`
	// Price is a plain decimal with two places ("19.93"), or "" when the
	// page shows none; PriceValue is the same number.
	Price      string  `json:"price"`
	PriceValue float64 `json:"priceValue"`
	Currency   string  `json:"currency"`
	Image      string  `json:"image"`
	SellerID   string  `json:"sellerId"`
	SellerName string  `json:"sellerName"`
	SellerType string  `json:"sellerType"`
	// URL is the final URL the page was read from.
	URL string `json:"url"`
	// Shipping and Pickup say whether the item can be shipped or picked
	// up: "available", "unavailable", or "" when the page does not say.
	// FulfillmentType is the page's own word for who fulfils it ("FC",
	// "STORE", "MARKETPLACE"…), as written.
	Shipping        string `json:"shipping,omitempty"`
	Pickup          string `json:"pickup,omitempty"`
	FulfillmentType string `json:"fulfillmentType,omitempty"`
	// Condition is monitors.ConditionNew, ConditionUsed or
	// ConditionRenewed from the page's conditionType; "" when absent.
	Condition string `json:"condition,omitempty"`
	// Layout names where the data came from: "next" (__NEXT_DATA__) or
	// "legacy" (the 2020 page's <script id="item">).
	Layout string `json:"layout"`
}

// Fulfilment states of Product.Shipping and Product.Pickup.
const (
	Available   = "available"
	Unavailable = "unavailable"
)

// Parse errors, for errors.Is.
var (
	ErrNoNextData = errors.New("no __NEXT_DATA__ script")
	ErrNoProduct  = errors.New("no product in __NEXT_DATA__")
	ErrTruncated  = errors.New("__NEXT_DATA__ script cut short (truncated page?)")
)

// IsUnknownLayout reports a parse error that means "this page is not laid
// out the way the parser knows" (no data script, no product where it
// should be), as opposed to a broken page.
func IsUnknownLayout(err error) bool {
	return errors.Is(err, ErrNoNextData) || errors.Is(err, ErrNoProduct)
}

// productPath is where Next.js pages keep the product, on both sites.
var productPath = []any{"props", "pageProps", "initialData", "data", "product"}

// decoder copies strings out of the page: the engine may reuse the body
// buffer once Check returns, and a Product must outlive it.
var decoder = sonic.Config{CopyString: true}.Froze()

// rawProduct is the subset of the product object the monitor reads.
type rawProduct struct {
	UsItemID           string     `json:"usItemId"`
	ItemID             string     `json:"itemId"`
	Name               string     `json:"name"`
	OfferID            string     `json:"offerId"`
	AvailabilityStatus string     `json:"availabilityStatus"`
	SellerID           string     `json:"sellerId"`
	SellerName         string     `json:"sellerName"`
	SellerType         string     `json:"sellerType"`
	PriceInfo          *priceInfo `json:"priceInfo"`
	ImageInfo          *imageInfo `json:"imageInfo"`
	Offers             *struct {
		Primary *struct {
			OfferID string `json:"offerId"`
		} `json:"primary"`
	} `json:"offers"`
	BuyBox *struct {
		Products []struct {
			OfferID string `json:"offerId"`
		} `json:"products"`
	} `json:"buyBox"`
	FulfillmentOptions []struct {
		Type               string      `json:"type"`
		AvailabilityStatus string      `json:"availabilityStatus"`
		AvailableQuantity  *flexNumber `json:"availableQuantity"`
	} `json:"fulfillmentOptions"`
	FulfillmentType string `json:"fulfillmentType"`
	ShippingOption  *struct {
		AvailabilityStatus string `json:"availabilityStatus"`
	} `json:"shippingOption"`
	PickupOption *struct {
		AvailabilityStatus string `json:"availabilityStatus"`
	} `json:"pickupOption"`
	ConditionType string `json:"conditionType"`
	// Set by the legacy layout only.
	shippable, pickupable *bool
	layout                string
}

type priceInfo struct {
	CurrentPrice *currentPrice `json:"currentPrice"`
}

type currentPrice struct {
	Price        flexNumber `json:"price"`
	PriceString  string     `json:"priceString"`
	CurrencyUnit string     `json:"currencyUnit"`
}

type imageInfo struct {
	ThumbnailURL string     `json:"thumbnailUrl"`
	AllImages    []imageRef `json:"allImages"`
}

type imageRef struct {
	URL string `json:"url"`
}

// rawLegacy is the buy-box product of the 2020 layout, kept in
// <script id="item" type="application/json"> at item.product.buyBox.products[0].
type rawLegacy struct {
	UsItemID           string `json:"usItemId"`
	ProductName        string `json:"productName"`
	OfferID            string `json:"offerId"`
	AvailabilityStatus string `json:"availabilityStatus"`
	SellerID           string `json:"sellerId"`
	SellerDisplayName  string `json:"sellerDisplayName"`
	PriceMap           *struct {
		Price flexNumber `json:"price"`
	} `json:"priceMap"`
	Images     []imageRef `json:"images"`
	Shippable  *bool      `json:"shippable"`
	Pickupable *bool      `json:"pickupable"`
}

// legacyPath is where the 2020 layout keeps the buy-box product.
var legacyPath = []any{"item", "product", "buyBox", "products", 0}

// flexNumber accepts a JSON number, a numeric string or null: Walmart has
// shipped prices in both shapes, and one odd field must not fail the page.
type flexNumber struct {
	V  float64
	OK bool
}

func (n *flexNumber) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "null" || s == "" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil // not a number: treated as absent
	}
	n.V, n.OK = v, true
	return nil
}

// ParseProduct reads the product from a Walmart USA or CA product page.
// It is a pure function of its input. It does not decide blocking (see
// DetectBlock); it fails when the page holds no readable product, when the
// availability is missing or unknown, or when an in-stock product has no
// valid offer id (a ping without one is useless to Stellar).
//
// Pages from before Next.js (2020) keep the product in <script id="item">;
// those are read too, from item.product.buyBox.products[0].
func ParseProduct(body []byte, finalURL string) (Product, error) {
	data, err := nextData(body)
	if errors.Is(err, ErrNoNextData) {
		if legacy, ok := scriptByID(body, "item"); ok {
			return parseLegacy(legacy, finalURL)
		}
	}
	if err != nil {
		return Product{}, err
	}
	node, err := sonic.GetWithOptions(data, ast.SearchOptions{}, productPath...)
	if err != nil {
		return Product{}, fmt.Errorf("%w: props.pageProps.initialData.data.product: %v", ErrNoProduct, monitors.ShortJSONError(err))
	}
	raw, err := node.Raw()
	if err != nil {
		return Product{}, fmt.Errorf("%w: props.pageProps.initialData.data.product: %v", ErrNoProduct, monitors.ShortJSONError(err))
	}
	if raw == "null" || len(raw) == 0 || raw[0] != '{' {
		return Product{}, fmt.Errorf("%w: props.pageProps.initialData.data.product is not an object", ErrNoProduct)
	}
	var rp rawProduct
	if err := decoder.UnmarshalFromString(raw, &rp); err != nil {
		return Product{}, fmt.Errorf("decode product: %w", monitors.ShortJSONError(err))
	}
	rp.layout = "next"
	return rp.product(finalURL)
}

// parseLegacy reads the 2020 layout's item script.
func parseLegacy(data []byte, finalURL string) (Product, error) {
	node, err := sonic.GetWithOptions(data, ast.SearchOptions{}, legacyPath...)
	if err != nil {
		return Product{}, fmt.Errorf("%w: <script id=\"item\"> item.product.buyBox.products[0]: %v", ErrNoProduct, monitors.ShortJSONError(err))
	}
	raw, err := node.Raw()
	if err != nil || len(raw) == 0 || raw[0] != '{' {
		return Product{}, fmt.Errorf("%w: <script id=\"item\"> item.product.buyBox.products[0] is not an object", ErrNoProduct)
	}
	var lp rawLegacy
	if err := decoder.UnmarshalFromString(raw, &lp); err != nil {
		return Product{}, fmt.Errorf("decode legacy product: %w", monitors.ShortJSONError(err))
	}
	rp := rawProduct{
		UsItemID: lp.UsItemID, Name: lp.ProductName, OfferID: lp.OfferID,
		AvailabilityStatus: lp.AvailabilityStatus, SellerID: lp.SellerID, SellerName: lp.SellerDisplayName,
		shippable: lp.Shippable, pickupable: lp.Pickupable, layout: "legacy",
	}
	if lp.PriceMap != nil {
		rp.PriceInfo = &priceInfo{CurrentPrice: &currentPrice{Price: lp.PriceMap.Price}}
	}
	if len(lp.Images) > 0 {
		rp.ImageInfo = &imageInfo{AllImages: lp.Images}
	}
	return rp.product(finalURL)
}

// scriptByID returns the body of <script id="{id}" …>, or false.
func scriptByID(body []byte, id string) ([]byte, bool) {
	marker := []byte(`<script id="` + id + `"`)
	i := bytes.Index(body, marker)
	if i < 0 {
		return nil, false
	}
	gt := bytes.IndexByte(body[i:], '>')
	if gt < 0 {
		return nil, false
	}
	start := i + gt + 1
	end := bytes.Index(body[start:], []byte("</script"))
	if end < 0 {
		return nil, false
	}
	data := bytes.TrimSpace(body[start : start+end])
	return data, len(data) > 0
}

func (rp *rawProduct) product(finalURL string) (Product, error) {
	p := Product{
		ItemID:     strings.TrimSpace(rp.UsItemID),
		Name:       monitors.CleanText(rp.Name),
		SellerID:   strings.TrimSpace(rp.SellerID),
		SellerName: monitors.CleanText(rp.SellerName),
		SellerType: strings.TrimSpace(rp.SellerType),
		URL:        finalURL,
		Layout:     rp.layout,

		FulfillmentType: strings.TrimSpace(rp.FulfillmentType),
		Condition:       conditionOf(rp.ConditionType),
	}
	p.Shipping, p.Pickup = rp.fulfilment()
	if p.ItemID == "" {
		p.ItemID = strings.TrimSpace(rp.ItemID)
	}
	if p.ItemID == "" {
		return Product{}, fmt.Errorf("%w: product.usItemId is missing", ErrNoProduct)
	}
	if len(p.ItemID) > 64 || !textutil.IsAlnum(p.ItemID) {
		return Product{}, fmt.Errorf("product.usItemId %q is not an item id (letters and digits)", textutil.Short(p.ItemID))
	}

	avail, err := rp.availability()
	if err != nil {
		return Product{}, err
	}
	p.Availability = avail
	p.InStock = avail == InStockStatus

	p.OfferID = rp.offerID()
	if p.InStock && p.OfferID == "" {
		return Product{}, fmt.Errorf("product %s is in stock but has no 32-hex offerId (tried product.offerId, product.offers.primary.offerId, product.buyBox.products[0].offerId)", p.ItemID)
	}

	if pi := rp.PriceInfo; pi != nil && pi.CurrentPrice != nil {
		cp := pi.CurrentPrice
		p.Currency = strings.TrimSpace(cp.CurrencyUnit)
		if cp.Price.OK && cp.Price.V > 0 && cp.Price.V < 1e9 {
			p.PriceValue = math.Round(cp.Price.V*100) / 100
			p.Price = strconv.FormatFloat(p.PriceValue, 'f', 2, 64)
		} else if s, v, ok := NormalizePrice(cp.PriceString); ok {
			p.Price, p.PriceValue = s, v
		}
	}

	if ii := rp.ImageInfo; ii != nil {
		p.Image = monitors.AbsURL(ii.ThumbnailURL)
		for i := 0; p.Image == "" && i < len(ii.AllImages); i++ {
			p.Image = monitors.AbsURL(ii.AllImages[i].URL)
		}
	}
	return p, nil
}

// fulfilment reads whether the item ships and whether it can be picked
// up: shippingOption/pickupOption (USA), fulfillmentOptions[] (CA, and
// some USA pages), shippable/pickupable (2020 layout).
func (rp *rawProduct) fulfilment() (ship, pickup string) {
	state := func(s string) string {
		switch strings.ToUpper(strings.TrimSpace(s)) {
		case "AVAILABLE", "IN_STOCK", "LIMITED_STOCK":
			return Available
		case "":
			return ""
		}
		return Unavailable
	}
	if o := rp.ShippingOption; o != nil {
		ship = state(o.AvailabilityStatus)
	}
	if o := rp.PickupOption; o != nil {
		pickup = state(o.AvailabilityStatus)
	}
	for _, o := range rp.FulfillmentOptions {
		st := state(o.AvailabilityStatus)
		if st == Available && o.AvailableQuantity != nil && o.AvailableQuantity.OK && o.AvailableQuantity.V <= 0 {
			st = Unavailable
		}
		switch strings.ToUpper(strings.TrimSpace(o.Type)) {
		case "SHIPPING", "DELIVERY", "SHIP":
			if ship != Available {
				ship = st
			}
		case "PICKUP", "IN_STORE", "STORE":
			if pickup != Available {
				pickup = st
			}
		}
	}
	if rp.shippable != nil && ship == "" {
		ship = map[bool]string{true: Available, false: Unavailable}[*rp.shippable]
	}
	if rp.pickupable != nil && pickup == "" {
		pickup = map[bool]string{true: Available, false: Unavailable}[*rp.pickupable]
	}
	return ship, pickup
}

// conditionOf maps conditionType ("New", "Restored", "Pre-Owned: Good").
func conditionOf(s string) string {
	low := strings.ToLower(strings.TrimSpace(s))
	switch {
	case low == "":
		return ""
	case strings.Contains(low, "restored"), strings.Contains(low, "refurbished"), strings.Contains(low, "renewed"):
		return monitors.ConditionRenewed
	case strings.Contains(low, "pre-owned"), strings.Contains(low, "used"), strings.Contains(low, "open box"):
		return monitors.ConditionUsed
	case strings.Contains(low, "new"):
		return monitors.ConditionNew
	}
	return "unknown"
}

// availability maps the page's status to IN_STOCK or OUT_OF_STOCK.
// availabilityStatus decides when present. The CA site also lists
// fulfillmentOptions: when availabilityStatus is missing they decide alone,
// and when it says IN_STOCK but every listed option is unavailable the
// product is out of stock (nothing can be bought online or picked up).
func (rp *rawProduct) availability() (string, error) {
	top := strings.ToUpper(strings.TrimSpace(rp.AvailabilityStatus))
	opts := 0
	anyAvail := false
	for _, o := range rp.FulfillmentOptions {
		st := strings.ToUpper(strings.TrimSpace(o.AvailabilityStatus))
		if st == "" {
			continue
		}
		opts++
		if (st == "IN_STOCK" || st == "AVAILABLE") && (o.AvailableQuantity == nil || !o.AvailableQuantity.OK || o.AvailableQuantity.V > 0) {
			anyAvail = true
		}
	}
	switch top {
	case "IN_STOCK":
		if opts > 0 && !anyAvail {
			return OutOfStockStatus, nil
		}
		return InStockStatus, nil
	case "OUT_OF_STOCK", "NOT_AVAILABLE", "UNAVAILABLE", "RETIRED":
		return OutOfStockStatus, nil
	case "":
		if opts == 0 {
			return "", errors.New("product.availabilityStatus is missing and there are no fulfillmentOptions")
		}
		if anyAvail {
			return InStockStatus, nil
		}
		return OutOfStockStatus, nil
	}
	return "", fmt.Errorf("product.availabilityStatus %q is not IN_STOCK or OUT_OF_STOCK", textutil.Short(rp.AvailabilityStatus))
}

// offerID returns the first valid offer id among the known places.
func (rp *rawProduct) offerID() string {
	if id, ok := normOfferID(rp.OfferID); ok {
		return id
	}
	if rp.Offers != nil && rp.Offers.Primary != nil {
		if id, ok := normOfferID(rp.Offers.Primary.OfferID); ok {
			return id
		}
	}
	if rp.BuyBox != nil && len(rp.BuyBox.Products) > 0 {
		if id, ok := normOfferID(rp.BuyBox.Products[0].OfferID); ok {
			return id
		}
	}
	return ""
}

// normOfferID accepts 32 hex digits in either case and returns them in
// upper case, the form Walmart's own pages and Stellar use.
func normOfferID(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if !IsOfferID(strings.ToUpper(s)) {
		return "", false
	}
	return strings.ToUpper(s), true
}

// IsOfferID reports whether s is a Walmart offer id: 32 upper-case hex.
func IsOfferID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// nextDataTag returns the offset just past the marker of the
// <script id="__NEXT_DATA__" ...> tag, or -1.
func nextDataTag(body []byte) int {
	const marker = `__NEXT_DATA__`
	off := 0
	for {
		i := bytes.Index(body[off:], []byte(marker))
		if i < 0 {
			return -1
		}
		i += off
		off = i + len(marker)
		// The marker must sit inside an open <script ...> tag.
		tagStart := bytes.LastIndex(body[:i], []byte("<script"))
		if tagStart >= 0 && bytes.IndexByte(body[tagStart:i], '>') < 0 {
			return off
		}
	}
}

// nextData returns the JSON text inside <script id="__NEXT_DATA__">.
func nextData(body []byte) ([]byte, error) {
	i := nextDataTag(body)
	if i < 0 {
		return nil, ErrNoNextData
	}
	gt := bytes.IndexByte(body[i:], '>')
	if gt < 0 {
		return nil, fmt.Errorf("%w: unterminated script tag", ErrTruncated)
	}
	start := i + gt + 1
	end := bytes.Index(body[start:], []byte("</script"))
	if end < 0 {
		return nil, fmt.Errorf("%w: no closing </script>", ErrTruncated)
	}
	data := bytes.TrimSpace(body[start : start+end])
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty script", ErrNoNextData)
	}
	return data, nil
}

// HasNextData reports whether body carries the __NEXT_DATA__ script tag,
// complete or not: a page cut short is broken, not a bot wall.
func HasNextData(body []byte) bool { return nextDataTag(body) >= 0 }

// NormalizePrice turns a displayed price ("$1,299.00", "1 299,00 $",
// "$19.93 - $24.99") into a plain decimal with two places and its value.
// The first number wins; the decimal separator is the last '.' or ','
// followed by one or two digits.
func NormalizePrice(s string) (string, float64, bool) {
	// Find the first run of digits and separators.
	start := strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' })
	if start < 0 {
		return "", 0, false
	}
	var num []byte
	rs := s[start:]
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case c >= '0' && c <= '9', c == '.', c == ',':
			num = append(num, c)
			i++
			continue
		}
		// Spaces (incl. NBSP and narrow NBSP) group thousands in French
		// formats when a digit follows.
		w := spaceWidth(rs[i:])
		if w > 0 && i+w < len(rs) && rs[i+w] >= '0' && rs[i+w] <= '9' {
			i += w
			continue
		}
		break
	}
	num = bytes.TrimRight(num, ".,")
	intPart, frac := num, []byte(nil)
	if j := bytes.LastIndexAny(num, ".,"); j >= 0 && len(num)-j-1 >= 1 && len(num)-j-1 <= 2 {
		intPart, frac = num[:j], num[j+1:]
	}
	var digits []byte
	for _, c := range intPart {
		if c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	digits = bytes.TrimLeft(digits, "0")
	if len(digits) == 0 {
		digits = []byte("0")
	}
	if len(digits) > 12 {
		return "", 0, false
	}
	for len(frac) < 2 {
		frac = append(frac, '0')
	}
	out := string(digits) + "." + string(frac)
	v, err := strconv.ParseFloat(out, 64)
	if err != nil {
		return "", 0, false
	}
	return out, v, true
}

func spaceWidth(s string) int {
	switch {
	case strings.HasPrefix(s, " "):
		return 1
	case strings.HasPrefix(s, "\u00a0"):
		return len("\u00a0")
	case strings.HasPrefix(s, "\u202f"), strings.HasPrefix(s, "\u2009"):
		return len("\u202f")
	}
	return 0
}
