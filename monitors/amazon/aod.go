package amazon

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/net/html"

	"github.com/stellarfeed/stellarfeed/internal/stellar"
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
	// "Neu"); the monitor does not filter on it.
	Condition string `json:"condition,omitempty"`
	// Pinned marks the featured (buy-box) offer at the top of the list.
	Pinned bool `json:"pinned"`
}

var (
	selAODMarker  = sel(`#aod-container, #all-offers-display-scroller, #aod-offer-list, #aod-pinned-offer, #aod-total-offer-count`)
	selAODOffers  = sel(`#aod-pinned-offer, #aod-sticky-pinned-offer, #aod-offer`)
	selAODOfferID = []matcherT{sel(`input[name="offeringID.1"]`)}
	selAODATC     = sel(`span[data-action="aod-atc-action"], [data-aod-atc-action]`)
	selAODMerch   = []matcherT{sel(`input#ftSelectMerchant`), sel(`input#ddmSelectMerchant`)}
	selAODASIN    = []matcherT{sel(`input#ftSelectAsin`)}
	selAODSoldBy  = sel(`#aod-offer-soldBy a[href], #aod-offer-soldBy [href]`)
	selAODSoldTxt = sel(`#aod-offer-soldBy .a-col-right, #aod-offer-soldBy`)
	selAODPrice   = sel(`.a-price`)
	selAODHeading = sel(`#aod-offer-heading`)
	selScripts    = sel(`script`)
	reMerchantID  = regexp.MustCompile(`merchantId["']?\s*[=:]\s*["']([A-Z0-9]{8,20})["']`)
)

// atcAction is the JSON in data-aod-atc-action.
type atcAction struct {
	OID        string `json:"oid"`
	ASIN       string `json:"asin"`
	MerchantID string `json:"merchantId"`
}

// ParseAOD reads the All Offers Display fragment
// (/gp/product/ajax/ref=dp_aod_ALL_mbc?asin=…&pc=dp&experienceId=aodAjaxMain)
// for region r and the ASIN asked for. Offers come in page order, the
// pinned (buy-box) offer first; the sticky copy of the pinned offer is
// dropped, and so is any offer without an offer id (nothing to ping). A
// valid fragment with no offers returns an empty slice and no error; a
// fragment cut short (divs left open) wraps ErrTruncated.
func ParseAOD(body []byte, r RegionInfo, asin string) ([]AODOffer, error) {
	if blocked, reason := DetectBlock(200, body); blocked {
		return nil, fmt.Errorf("%w: %s", ErrBlocked, reason)
	}
	return parseAOD(body, r, asin)
}

// parseAOD is ParseAOD for a body DetectBlock has already passed.
func parseAOD(body []byte, r RegionInfo, asin string) ([]AODOffer, error) {
	// Only the offers and the markers are parsed (see skeleton.go); the
	// same pass counts the divs left open.
	skel := cut(body, aodPart)
	doc, err := parseSkeleton(skel.doc)
	if err != nil {
		return nil, fmt.Errorf("amazon: parse offers fragment: %w", err)
	}
	return aodFromTree(doc, skel.openDivs, r, asin)
}

// aodFromTree reads a parsed fragment, whole or skeleton, that left
// openDivs divs unclosed.
func aodFromTree(doc *html.Node, openDivs int, r RegionInfo, asin string) ([]AODOffer, error) {
	if first(doc, selAODMarker) == nil {
		return nil, fmt.Errorf("%w: no #aod-container/#aod-offer-list", ErrNotAOD)
	}
	if n := openDivs; n > 0 {
		// A fragment has no </html> to look for, but Amazon's markup is
		// balanced: a cut one leaves divs open, and a cut list must not
		// read as "no offers".
		return nil, fmt.Errorf("%w: offers fragment ends with %d unclosed <div>", ErrTruncated, n)
	}
	var (
		offers []AODOffer
		seen   = map[string]bool{}
	)
	for _, n := range queryAll(doc, selAODOffers) {
		id := attr(n, "id")
		if id == "aod-sticky-pinned-offer" && len(offers) > 0 {
			// The sticky header repeats the pinned offer.
			continue
		}
		var atc atcAction
		if a := first(n, selAODATC); a != nil {
			_ = json.Unmarshal([]byte(attr(a, "data-aod-atc-action")), &atc) // optional
		}
		if got := firstAttr(n, "value", selAODASIN...); stellar.IsASIN(got) && got != asin {
			return nil, fmt.Errorf("%w: asked for %s, offer is for %s", ErrVariantRedirect, asin, got)
		}
		if stellar.IsASIN(atc.ASIN) && atc.ASIN != asin {
			return nil, fmt.Errorf("%w: asked for %s, offer is for %s", ErrVariantRedirect, asin, atc.ASIN)
		}
		o := AODOffer{Pinned: id != "aod-offer"}
		o.OfferID = decodeOfferID(firstAttr(n, "value", selAODOfferID...))
		if o.OfferID == "" {
			o.OfferID = decodeOfferID(atc.OID)
		}
		if o.OfferID == "" || seen[o.OfferID] {
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
		offers = append(offers, o)
	}
	if offers == nil {
		offers = []AODOffer{}
	}
	return offers, nil
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

// soldByName is the seller name shown in an offer ("Amazon.de").
func soldByName(n *html.Node) string {
	t := text(first(n, selAODSoldTxt))
	// The block reads "Sold by Amazon.de" / "Verkäufer Amazon.de": keep
	// the last word, or the whole text when it is a phrase we know.
	if soldByAmazonText(t, RegionInfo{}) {
		return t
	}
	if f := strings.Fields(t); len(f) > 0 {
		return f[len(f)-1]
	}
	return ""
}

// aodPart keeps what ParseAOD's selectors can match: the markers, and
// each offer whole. Keep it in step with the selectors above.
func aodPart(t *tagToken, _ uint8) (part, uint8) {
	switch string(attrValue(t.id)) {
	case "aod-container", "all-offers-display-scroller", "aod-offer-list", "aod-total-offer-count":
		return partShell, 0
	case "aod-pinned-offer", "aod-sticky-pinned-offer", "aod-offer":
		return partWhole, 0
	}
	return partNone, 0
}
