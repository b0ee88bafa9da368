package walmart

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// Site is the name the monitor registers under.
const Site = "walmart"

// Regions and their origins.
const (
	RegionUSA = "USA"
	RegionCA  = "CA"

	OriginUSA = "https://www.walmart.com"
	OriginCA  = "https://www.walmart.ca"
)

// Merchant filter values besides a seller id.
const (
	MerchantAny     = "any"
	MerchantWalmart = "walmart"
)

func init() {
	monitors.Register(Site, func() monitors.Monitor { return New() })
}

// Monitor checks Walmart USA and Walmart Canada product pages. The zero
// value is ready; it holds no state, so one value serves any number of
// targets concurrently.
type Monitor struct{}

// New returns a Walmart monitor.
func New() *Monitor { return &Monitor{} }

// Check fetches the target's product page once and classifies it. It
// never reports OutOfStock for a page it could not read: blocks are
// Blocked, everything else unreadable is Error.
func (m *Monitor) Check(ctx context.Context, t *monitors.Target, f monitors.Fetcher) monitors.Observation {
	obs, ok := monitors.StartCheck(t, StellarSite, m.ValidateTarget)
	if !ok {
		return obs
	}
	pageURL := ProductURL(t)
	req := &monitors.Request{
		Method: http.MethodGet,
		URL:    pageURL,
		Header: http.Header{
			"Accept":          {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
			"Accept-Language": {acceptLanguage(t.Region)},
		},
		Region: t.Region,
	}
	resp, err := monitors.FetchPage(ctx, f, req)
	if err != nil {
		obs.Reason = err.Error()
		return obs
	}
	finalURL := resp.URL
	if finalURL == "" {
		finalURL = pageURL
	}
	if reason, blocked := DetectBlock(resp.Status, finalURL, resp.Body); blocked {
		obs.Outcome, obs.Reason = monitors.Blocked, reason
		return obs
	}
	if resp.Status < 200 || resp.Status > 299 {
		obs.Reason = fmt.Sprintf("HTTP %d from %s", resp.Status, finalURL)
		return obs
	}
	p, err := ParseProduct(resp.Body, finalURL)
	if err != nil {
		obs.Reason = fmt.Sprintf("parse %s: %v", finalURL, err)
		if IsUnknownLayout(err) {
			obs.Outcome, obs.Evidence = monitors.UnknownLayout, "no __NEXT_DATA__ product and no 2020 item script"
		}
		return obs
	}
	// A page about another item (a merged or redirected listing) must not
	// ping under this target's sku.
	if !sameItem(t.Region, p.ItemID, t.SKU) {
		obs.Reason = fmt.Sprintf("page shows item %s, not %s", textutil.Short(p.ItemID), t.SKU)
		return obs
	}
	offer := OfferFor(t, &p, pageURL)
	obs.Seen = offer
	buyable, evidence := Buyable(t, &p)
	obs.Evidence = evidence
	if !buyable {
		obs.Outcome, obs.Reason = monitors.OutOfStock, evidence
		return obs
	}
	if reason, ok := passes(t, &offer); !ok {
		obs.Outcome, obs.Reason = monitors.OutOfStock, "filtered: "+reason
		return obs
	}
	obs.Outcome = monitors.InStock
	obs.Offers = []monitors.Offer{offer}
	return obs
}

// Fulfilment options of Target.Fulfillment.
const (
	FulfillShipping = "shipping"
	FulfillPickup   = "pickup"
	FulfillAny      = "any"
)

// Buyable decides whether p can be bought the way t wants it, and says
// from which fields. Shipping (the default) is what a Stellar task buys:
// an item IN_STOCK for store pickup only is not buyable. A page that says
// nothing about shipping (older layouts) is judged by its availability.
func Buyable(t *monitors.Target, p *Product) (bool, string) {
	ev := "availabilityStatus " + p.Availability
	if !p.InStock {
		return false, ev
	}
	switch t.Fulfillment {
	case FulfillAny:
		return true, ev
	case FulfillPickup:
		if p.Pickup != Available {
			return false, ev + ", pickup " + orNone(p.Pickup) + " (fulfillment pickup)"
		}
		return true, ev + ", pickup available"
	}
	switch p.Shipping {
	case Available:
		return true, ev + ", shipping available"
	case Unavailable:
		return false, ev + " but shipping unavailable (pickup " + orNone(p.Pickup) + "; fulfillment shipping)"
	}
	if strings.EqualFold(p.FulfillmentType, "STORE") || p.Pickup != "" {
		// The page lists store fulfilment and no shipping at all.
		return false, ev + " but no shipping option, only store pickup (fulfillment shipping)"
	}
	return true, ev + " (no shipping option on the page)"
}

func orNone(s string) string {
	if s == "" {
		return "not shown"
	}
	return s
}

// StellarSite is the site pings for t carry: t.StellarSite, else "walmart"
// for USA and "walmartca" for CA (stellar.SiteWalmartUSA/CA). Walmart pings
// carry no region: Stellar tells the two sites apart by this name.
func StellarSite(t *monitors.Target) string {
	if t.StellarSite != "" {
		return t.StellarSite
	}
	if t.Region == RegionCA {
		return stellar.SiteWalmartCA
	}
	return stellar.SiteWalmartUSA
}

// ProductURL is the page Check fetches: {origin}/ip/{sku} (USA) or
// {origin}/en/ip/{sku} (CA), where t.BaseURL, when set, replaces the
// origin and may carry a path prefix (a simulator's /www.walmart.com).
func ProductURL(t *monitors.Target) string {
	base := OriginUSA
	if t.Region == RegionCA {
		base = OriginCA
	}
	if t.BaseURL != "" {
		base = strings.TrimRight(t.BaseURL, "/")
	}
	if t.Region == RegionCA {
		return base + "/en/ip/" + url.PathEscape(t.SKU)
	}
	return base + "/ip/" + url.PathEscape(t.SKU)
}

// OfferFor turns a parsed in-stock product into the target's offer.
func OfferFor(t *monitors.Target, p *Product, pageURL string) monitors.Offer {
	o := monitors.Offer{
		SKU:            p.ItemID,
		OfferID:        p.OfferID,
		Title:          clip(p.Name, maxTitle),
		Image:          p.Image,
		Price:          p.Price,
		PriceValue:     p.PriceValue,
		Currency:       p.Currency,
		Merchant:       p.SellerID,
		SoldByRetailer: SoldByWalmart(t.Region, p),
		URL:            pageURL,
		Condition:      p.Condition,
	}
	if o.SKU == "" {
		o.SKU = t.SKU
	}
	if o.Merchant == "" {
		o.Merchant = p.SellerName
	}
	if o.Currency == "" {
		o.Currency = "USD"
		if t.Region == RegionCA {
			o.Currency = "CAD"
		}
	}
	return o
}

// SoldByWalmart reports whether Walmart itself sells the product. USA: the
// seller id is Walmart.com's (F55CDC31AB754BB68FE0B39041159D63), whatever
// the seller name says. CA: the Canadian pages carry no well-known seller
// id for Walmart, so the seller name decides ("Walmart", also
// "Walmart.ca" and "Walmart Canada", case-insensitive).
func SoldByWalmart(region string, p *Product) bool {
	if region == RegionCA {
		switch strings.ToLower(strings.TrimSpace(p.SellerName)) {
		case "walmart", "walmart.ca", "walmart canada":
			return true
		}
		return false
	}
	return strings.EqualFold(p.SellerID, WalmartSellerID)
}

// passes applies the merchant filter and the price cap. An unknown price
// never passes a cap: the monitor cannot prove it is under it.
func passes(t *monitors.Target, o *monitors.Offer) (string, bool) {
	if !t.AllowsCondition(o.Condition) {
		return fmt.Sprintf("condition %s not allowed (conditions %v)", o.Condition, t.Conditions), false
	}
	switch m := strings.TrimSpace(t.Merchant); {
	case m == "" || strings.EqualFold(m, MerchantAny):
	case strings.EqualFold(m, MerchantWalmart):
		if !o.SoldByRetailer {
			return fmt.Sprintf("sold by %q, not Walmart", textutil.Short(o.Merchant)), false
		}
	default:
		if !strings.EqualFold(o.Merchant, m) {
			return fmt.Sprintf("sold by %q, not seller %s", textutil.Short(o.Merchant), m), false
		}
	}
	if t.MaxPrice > 0 {
		if o.Price == "" {
			return "no price on the page and maxPrice is set", false
		}
		if o.PriceValue > t.MaxPrice {
			return fmt.Sprintf("price %s above maxPrice %s", o.Price, strconv.FormatFloat(t.MaxPrice, 'f', -1, 64)), false
		}
	}
	return "", true
}

// maxTitle keeps titles inside Stellar's 512-byte limit.
const maxTitle = 512

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func sameItem(region, page, want string) bool {
	if page == "" {
		return true
	}
	if region == RegionCA {
		return strings.EqualFold(page, want)
	}
	return page == want
}

func acceptLanguage(region string) string {
	if region == RegionCA {
		return "en-CA,en;q=0.9"
	}
	return "en-US,en;q=0.9"
}

var _ monitors.Monitor = (*Monitor)(nil)
