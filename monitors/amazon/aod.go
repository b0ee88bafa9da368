package amazon

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/net/html"

	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// AODOffer is one offer of the All Offers Display fragment.
type AODOffer struct {
	// OfferID is the decoded offer listing id (see Page.OfferID).
	OfferID string `json:"offerId"`
	// Merchant is the seller's merchant id; SoldByAmazon as for Page.
	Merchant     string `json:"merchant,omitempty"`
	SoldByAmazon bool   `json:"soldByAmazon"`
	// Price is the offer's price to pay as a plain decimal.
	Price      string  `json:"price,omitempty"`
	PriceValue float64 `json:"priceValue,omitempty"`
	// Condition is the heading text as shown ("New", "Used - Like New",
	// "Neu"); Cond is what it means: monitors.ConditionNew, ConditionUsed,
	// ConditionRenewed, "collectible", "unknown" (a text not recognised),
	// or "" when the offer shows no heading.
	Condition string `json:"condition,omitempty"`
	Cond      string `json:"cond,omitempty"`
	// Pinned marks the featured (buy-box) offer at the top of the list.
	Pinned bool `json:"pinned"`
}

var (
	selAODMarker = sel(`#aod-container, #all-offers-display-scroller, #aod-offer-list, #aod-retail-other-offers-content, #aod-pinned-offer, #aod-total-offer-count, .aod-other-offer-block, .aod-information-block, .aod-offer`)
	// Offers: by id (until 2023), by class (2024+: the list's items carry
	// no id). A block inside another block is part of it.
	selAODOffers  = sel(`#aod-pinned-offer, #aod-sticky-pinned-offer, #aod-offer, .aod-other-offer-block, .aod-information-block, .aod-offer`)
	selAODOfferID = []matcherT{sel(`input[name="offeringID.1"]`), sel(`input[name="items[0.base][offerListingId]"]`)}
	selAODATC     = sel(`span[data-action="aod-atc-action"], [data-aod-atc-action]`)
	selAODCartAPI = sel(`[data-aw-aod-cart-api]`)
	// What makes a block an offer even when its id cannot be read: a
	// price or an add-to-cart control.
	selAODOfferish = sel(`.a-price, form, input[type="submit"], [data-action="aod-atc-action"], [data-action="aw-aod-cart-api"]`)
	selAODCount    = sel(`#aod-total-offer-count`)
	selAODMerch    = []matcherT{sel(`input#ftSelectMerchant`), sel(`input#ddmSelectMerchant`)}
	selAODASIN     = []matcherT{sel(`input#ftSelectAsin`)}
	selAODSoldBy   = sel(`#aod-offer-soldBy a[href], #aod-offer-soldBy [href]`)
	selAODSoldTxt  = sel(`#aod-offer-soldBy .a-col-right, #aod-offer-soldBy`)
	selAODPrice    = sel(`.a-price`)
	selAODHeading  = sel(`#aod-offer-heading`)
	selScripts     = sel(`script`)
	reMerchantID   = regexp.MustCompile(`merchantId["']?\s*[=:]\s*["']([A-Z0-9]{8,20})["']`)
)

// atcAction is the JSON in data-aod-atc-action and data-aw-aod-cart-api.
type atcAction struct {
	OID        string `json:"oid"`
	ASIN       string `json:"asin"`
	MerchantID string `json:"merchantId"`
}

// ParseAOD reads the All Offers Display fragment
// (/gp/product/ajax/ref=dp_aod_ALL_mbc?asin=…&pc=dp&experienceId=aodAjaxMain)
// for region r and the ASIN asked for. Offers come in page order, the
// pinned (buy-box) offer first; the sticky copy of the pinned offer is
// dropped. A valid fragment with no offers returns an empty slice and no
// error; a fragment cut short (divs left open) wraps ErrTruncated; one
// whose offer blocks hold no offer id the parser can read wraps
// ErrUnknownLayout (never "no offers").
func ParseAOD(body []byte, r RegionInfo, asin string) ([]AODOffer, error) {
	if blocked, reason := DetectBlock(200, body); blocked {
		return nil, fmt.Errorf("%w: %s", ErrBlocked, reason)
	}
	pg, err := parseAOD(body, r, asin)
	if err != nil {
		return nil, err
	}
	return pg.offers, nil
}

// aodPage is one page of the offers fragment.
type aodPage struct {
	offers []AODOffer
	// total is #aod-total-offer-count (-1 when absent); unreadable counts
	// offer blocks without a readable offer id.
	total, unreadable int
}

// parseAOD is ParseAOD for a body DetectBlock has already passed.
func parseAOD(body []byte, r RegionInfo, asin string) (aodPage, error) {
	// Only the offers and the markers are parsed (see skeleton.go); the
	// same pass counts the divs left open.
	skel := cut(body, aodPart)
	doc, err := parseSkeleton(skel.doc)
	if err != nil {
		return aodPage{}, fmt.Errorf("amazon: parse offers fragment: %w", err)
	}
	return aodFromTree(doc, skel.openDivs, r, asin)
}

// aodFromTree reads a parsed fragment, whole or skeleton, that left
// openDivs divs unclosed.
func aodFromTree(doc *html.Node, openDivs int, r RegionInfo, asin string) (aodPage, error) {
	pg, err := aodOffers(doc, openDivs, r, asin)
	if err == nil && len(pg.offers) == 0 && pg.unreadable > 0 {
		err = fmt.Errorf("%w: offers fragment has %d offer blocks and no offer id the parser can read", ErrUnknownLayout, pg.unreadable)
	}
	return pg, err
}

func aodOffers(doc *html.Node, openDivs int, r RegionInfo, asin string) (aodPage, error) {
	pg := aodPage{total: -1}
	if first(doc, selAODMarker) == nil {
		return pg, fmt.Errorf("%w: no #aod-container/#aod-offer-list or offer blocks", ErrNotAOD)
	}
	if n := openDivs; n > 0 {
		// A fragment has no </html> to look for, but Amazon's markup is
		// balanced: a cut one leaves divs open, and a cut list must not
		// read as "no offers".
		return pg, fmt.Errorf("%w: offers fragment ends with %d unclosed <div>", ErrTruncated, n)
	}
	if v := strings.TrimSpace(attr(first(doc, selAODCount), "value")); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			pg.total = n
		}
	}
	var (
		offers []AODOffer
		seen   = map[string]bool{}
		blocks = map[*html.Node]bool{}
	)
	for _, n := range queryAll(doc, selAODOffers) {
		if insideBlock(n, blocks) {
			continue
		}
		blocks[n] = true
		id := attr(n, "id")
		if id == "aod-sticky-pinned-offer" && len(offers) > 0 {
			// The sticky header repeats the pinned offer.
			continue
		}
		atc := offerJSON(n)
		if got := firstAttr(n, "value", selAODASIN...); stellar.IsASIN(got) && got != asin {
			return pg, fmt.Errorf("%w: asked for %s, offer is for %s", ErrVariantRedirect, asin, got)
		}
		if stellar.IsASIN(atc.ASIN) && atc.ASIN != asin {
			return pg, fmt.Errorf("%w: asked for %s, offer is for %s", ErrVariantRedirect, asin, atc.ASIN)
		}
		o := AODOffer{Pinned: id == "aod-pinned-offer" || id == "aod-sticky-pinned-offer"}
		o.OfferID = decodeOfferID(firstAttr(n, "value", selAODOfferID...))
		if o.OfferID == "" {
			o.OfferID = decodeOfferID(atc.OID)
		}
		if o.OfferID == "" {
			if first(n, selAODOfferish) != nil {
				pg.unreadable++
			}
			continue
		}
		if seen[o.OfferID] {
			continue
		}
		seen[o.OfferID] = true
		o.Merchant = aodMerchant(n, atc)
		if o.Merchant != "" {
			o.SoldByAmazon = r.IsAmazon(o.Merchant)
		} else if soldByAmazonText(soldByName(n), r) {
			o.Merchant, o.SoldByAmazon = r.SellerID, true
		}
		for _, p := range queryAll(n, selAODPrice) {
			if insideAny(p, n, "a-text-price", "basisPrice") {
				continue
			}
			if d, v, ok := priceOf(p, r); ok {
				o.Price, o.PriceValue = d, v
				break
			}
		}
		o.Condition = text(first(n, selAODHeading))
		o.Cond = ConditionOf(o.Condition)
		offers = append(offers, o)
	}
	if offers == nil {
		offers = []AODOffer{}
	}
	pg.offers = offers
	return pg, nil
}

// insideBlock reports whether an ancestor of n is already an offer block.
func insideBlock(n *html.Node, blocks map[*html.Node]bool) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if blocks[p] {
			return true
		}
	}
	return false
}

// offerJSON reads the offer's add-to-cart JSON: data-aod-atc-action
// (until 2023) or data-aw-aod-cart-api (2024+); either may be absent.
func offerJSON(n *html.Node) atcAction {
	var atc atcAction
	if a := first(n, selAODATC); a != nil {
		_ = json.Unmarshal([]byte(attr(a, "data-aod-atc-action")), &atc) // optional
	}
	if atc.OID == "" {
		if a := first(n, selAODCartAPI); a != nil {
			var c atcAction
			if json.Unmarshal([]byte(attr(a, "data-aw-aod-cart-api")), &c) == nil {
				atc.OID = c.OID
				if atc.ASIN == "" {
					atc.ASIN = c.ASIN
				}
				if atc.MerchantID == "" {
					atc.MerchantID = c.MerchantID
				}
			}
		}
	}
	return atc
}

// conditionWords maps an offer heading's words, lower-cased, to its
// condition, in every storefront language. Order matters: "Used - Like
// New" and "Renewed" both contain "new".
var conditionWords = [...]struct{ word, cond string }{
	{"renewed", monitors.ConditionRenewed}, {"refurbished", monitors.ConditionRenewed},
	{"reconditionné", monitors.ConditionRenewed}, {"generalüberholt", monitors.ConditionRenewed},
	{"reacondicionado", monitors.ConditionRenewed}, {"ricondizionato", monitors.ConditionRenewed},
	{"gereviseerd", monitors.ConditionRenewed}, {"odnowion", monitors.ConditionRenewed}, {"整備済み", monitors.ConditionRenewed},
	{"collectible", "collectible"}, {"sammlerstück", "collectible"}, {"de collection", "collectible"},
	{"coleccionista", "collectible"}, {"da collezione", "collectible"}, {"verzamel", "collectible"},
	{"kolekcjonersk", "collectible"}, {"コレクター", "collectible"},
	{"used", monitors.ConditionUsed}, {"gebraucht", monitors.ConditionUsed}, {"occasion", monitors.ConditionUsed},
	{"segunda mano", monitors.ConditionUsed}, {"usado", monitors.ConditionUsed}, {"usato", monitors.ConditionUsed},
	{"tweedehands", monitors.ConditionUsed}, {"gebruikt", monitors.ConditionUsed}, {"używan", monitors.ConditionUsed},
	{"中古", monitors.ConditionUsed},
	{"new", monitors.ConditionNew}, {"neu", monitors.ConditionNew}, {"neuf", monitors.ConditionNew},
	{"nuevo", monitors.ConditionNew}, {"nuovo", monitors.ConditionNew}, {"nieuw", monitors.ConditionNew},
	{"nowy", monitors.ConditionNew}, {"新品", monitors.ConditionNew},
}

// ConditionOf reads an offer heading ("Used - Like New", "Neu",
// "Renewed"): new, used, renewed, collectible; "unknown" for a text it
// does not recognise (which only a target allowing any condition takes);
// "" for no text.
func ConditionOf(heading string) string {
	low := strings.ToLower(strings.TrimSpace(heading))
	if low == "" {
		return ""
	}
	for _, w := range conditionWords {
		if strings.Contains(low, w.word) {
			return w.cond
		}
	}
	return "unknown"
}

// aodMerchant: hidden ftSelectMerchant/ddmSelectMerchant, the atc JSON,
// the seller link, then a merchantId in the offer's script.
func aodMerchant(n *html.Node, atc atcAction) string {
	if m := firstAttr(n, "value", selAODMerch...); isMerchantID(m) {
		return m
	}
	if isMerchantID(atc.MerchantID) {
		return atc.MerchantID
	}
	for _, a := range queryAll(n, selAODSoldBy) {
		if m := sellerFromHref(attr(a, "href")); m != "" {
			return m
		}
	}
	for _, s := range queryAll(n, selScripts) {
		if m := reMerchantID.FindStringSubmatch(rawText(s)); m != nil {
			return m[1]
		}
	}
	return ""
}

// soldByName is the seller name shown in an offer ("Amazon.de",
// "Amazon.com Services LLC"), its "Sold by" label dropped.
func soldByName(n *html.Node) string {
	return trimSoldByLabel(text(first(n, selAODSoldTxt)))
}

// aodPart keeps what ParseAOD's selectors can match: the markers, and
// each offer whole. Keep it in step with the selectors above.
func aodPart(t *tagToken, _ uint8) (part, uint8) {
	switch string(attrValue(t.id)) {
	case "aod-container", "all-offers-display-scroller", "aod-offer-list", "aod-total-offer-count", "aod-retail-other-offers-content":
		return partShell, 0
	case "aod-pinned-offer", "aod-sticky-pinned-offer", "aod-offer":
		return partWhole, 0
	}
	if t.class != nil {
		c := attrValue(t.class)
		if hasClassToken(c, "aod-other-offer-block") || hasClassToken(c, "aod-information-block") || hasClassToken(c, "aod-offer") {
			return partWhole, 0
		}
	}
	return partNone, 0
}
