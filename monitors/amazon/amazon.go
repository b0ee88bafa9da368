package amazon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// DefaultStellarSite is the site name Amazon pings carry unless a target
// sets StellarSite.
const DefaultStellarSite = "amazon"

func init() { monitors.Register("amazon", New) }

// Config adjusts a Monitor. The zero value uses the built-in region table.
type Config struct {
	// SellerIDs maps a region code to the merchant ids that count as Amazon
	// itself there. The first replaces the table's SellerID, the rest are
	// extra. The BE and PL defaults are the least certain.
	SellerIDs map[string][]string
}

// Monitor checks Amazon product pages. It holds no per-target state and is
// safe for concurrent use.
type Monitor struct {
	regions map[string]RegionInfo
}

// New returns a Monitor with the built-in region table; it is what the
// registry constructs for "amazon".
func New() monitors.Monitor {
	m, _ := NewMonitor(Config{}) // the zero Config cannot fail
	return m
}

// NewMonitor returns a Monitor with cfg applied, or an error naming the bad
// region or seller id.
func NewMonitor(cfg Config) (*Monitor, error) {
	m := &Monitor{regions: make(map[string]RegionInfo, len(regionTable))}
	for _, r := range regionTable {
		m.regions[r.Code] = r
	}
	for code, ids := range cfg.SellerIDs {
		r, ok := m.regions[code]
		if !ok {
			return nil, fmt.Errorf("amazon: sellerIds: region %q is not one of %s", code, regionCodes())
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("amazon: sellerIds.%s: empty list", code)
		}
		for i, id := range ids {
			if !isMerchantID(id) {
				return nil, fmt.Errorf("amazon: sellerIds.%s[%d]: %q is not a merchant id (8-20 upper-case letters or digits)", code, i, id)
			}
		}
		r.SellerID = ids[0]
		r.ExtraSellerIDs = append([]string(nil), ids[1:]...)
		m.regions[code] = r
	}
	return m, nil
}

// Region returns the monitor's view of a region, seller overrides included.
func (m *Monitor) Region(code string) (RegionInfo, bool) {
	r, ok := m.regions[code]
	return r, ok
}

// maxAODPages bounds the offers pages one check reads (10 offers each)
// while looking for an offer that passes the filters.
const maxAODPages = 5

// aodPageSize is how many offers a full offers page lists (besides the
// pinned one).
const aodPageSize = 10

// Check polls one product: the product page, and the All Offers Display
// fragment when the page has no featured offer ("See all buying options"),
// is out of stock with other sellers, or its buy box fails the merchant,
// condition or price filter; further offers pages (pageno) while no offer
// passes and more are listed. A failed or blocked request is Error or
// Blocked, a page or fragment the parser does not recognise UnknownLayout,
// never OutOfStock.
func (m *Monitor) Check(ctx context.Context, t *monitors.Target, f monitors.Fetcher) monitors.Observation {
	obs := monitors.Observation{StellarSite: t.StellarSite, Region: t.Region}
	if obs.StellarSite == "" {
		obs.StellarSite = DefaultStellarSite
	}
	if err := m.ValidateTarget(t); err != nil {
		return fail(obs, monitors.Error, err.Error())
	}
	r := m.regions[t.Region]
	origin := strings.TrimRight(t.BaseURL, "/")
	if origin == "" {
		origin = "https://" + r.Domain
	}

	resp, res := m.fetch(ctx, f, r, origin+"/dp/"+t.SKU, "product page")
	if resp == nil {
		obs.Evidence = res.reason
		return fail(obs, res.outcome, res.reason)
	}
	page, err := parseProduct(resp.Body, r, t.SKU) // fetch ran DetectBlock
	if err != nil {
		switch {
		case errors.Is(err, ErrBlocked):
			return fail(obs, monitors.Blocked, "product page: "+err.Error())
		case errors.Is(err, ErrNotProduct):
			// Not a block, not a product: a layout the parser does not know
			// (or an error page), never out of stock.
			obs.Evidence = "no ASIN on the page"
			return fail(obs, monitors.UnknownLayout, "product page: "+err.Error())
		}
		return fail(obs, monitors.Error, "product page: "+err.Error())
	}
	obs.Seen = offer(t, r, page, page.OfferID, page.Merchant, page.SoldByAmazon, page.Price, page.PriceValue)
	obs.Seen.Condition = page.Condition
	obs.Evidence = page.Evidence

	// The buy box wins when it passes every filter.
	var filterReason string
	if page.Stock == InStock {
		ok, why := passes(t, page.Merchant, page.SoldByAmazon, page.Price, page.PriceValue, page.Condition)
		if ok {
			obs.Outcome = monitors.InStock
			obs.Offers = []monitors.Offer{obs.Seen}
			return obs
		}
		if page.Condition == monitors.ConditionUsed && !t.AllowsCondition(page.Condition) {
			// A used-only buy box: the page has no new offer to find.
			return fail(obs, monitors.OutOfStock, "no new offer: the page offers only a used copy (condition filter "+conditions(t)+")")
		}
		filterReason = "buy box " + why
	}
	if page.Stock == OutOfStock && !page.OtherSellers {
		return fail(obs, monitors.OutOfStock, "out of stock: "+page.Evidence)
	}
	if page.Digital && page.Stock == StockUnknown {
		return fail(obs, monitors.Error, "digital-only item (Kindle 1-Click): no offer a Stellar task can buy")
	}

	aodURL := origin + "/gp/product/ajax/ref=dp_aod_ALL_mbc?asin=" + url.QueryEscape(t.SKU) + "&pc=dp&experienceId=aodAjaxMain"
	var (
		reasons    []string
		seen       = map[string]bool{}
		unreadable int
		total      = -1 // the offer count the first page gives, if any
	)
	if filterReason != "" {
		reasons = append(reasons, filterReason)
	}
	for pageNo := 1; pageNo <= maxAODPages; pageNo++ {
		u, what := aodURL, "offers"
		if pageNo > 1 {
			u += "&pageno=" + strconv.Itoa(pageNo)
			what = "offers page " + strconv.Itoa(pageNo)
		}
		resp, res = m.fetch(ctx, f, r, u, what)
		if resp == nil {
			obs.Evidence = page.Evidence + "; then " + what + ": not read"
			return fail(obs, res.outcome, res.reason)
		}
		pg, err := parseAOD(resp.Body, r, t.SKU) // fetch ran DetectBlock
		if err != nil {
			switch {
			case errors.Is(err, ErrBlocked):
				return fail(obs, monitors.Blocked, what+": "+err.Error())
			case errors.Is(err, ErrNotAOD), errors.Is(err, ErrUnknownLayout):
				obs.Evidence = page.Evidence + "; then " + what + ": fragment not recognised"
				return fail(obs, monitors.UnknownLayout, what+": "+err.Error())
			}
			return fail(obs, monitors.Error, what+": "+err.Error())
		}
		unreadable += pg.unreadable
		if pg.total >= 0 {
			total = pg.total
		}
		fresh := 0
		for _, o := range pg.offers {
			if seen[o.OfferID] {
				continue
			}
			seen[o.OfferID] = true
			fresh++
			ok, why := passes(t, o.Merchant, o.SoldByAmazon, o.Price, o.PriceValue, o.Cond)
			if ok {
				obs.Outcome = monitors.InStock
				obs.Evidence = fmt.Sprintf("%s: offer by %s (%s)", what, orUnknown(o.Merchant), orUnknown(o.Condition))
				best := offer(t, r, page, o.OfferID, o.Merchant, o.SoldByAmazon, o.Price, o.PriceValue)
				best.Condition = o.Cond
				obs.Offers = []monitors.Offer{best}
				if page.Stock != InStock {
					obs.Seen = best
				}
				return obs
			}
			reasons = append(reasons, "offer "+why)
		}
		// More pages only while they bring offers and there are more to
		// see: the fragment's count says so, or (without a count) the
		// page was full.
		more := len(seen) < total || (total < 0 && fresh >= aodPageSize)
		if fresh == 0 || !more {
			break
		}
	}
	if unreadable > 0 {
		obs.Evidence = "offers fragment"
		return fail(obs, monitors.UnknownLayout, fmt.Sprintf("offers: %d offer blocks without a readable offer id and no readable offer passes the filters", unreadable))
	}
	if page.Stock != InStock {
		obs.Evidence = "offers fragment (" + page.Evidence + ")"
	}
	if len(reasons) == 0 {
		return fail(obs, monitors.OutOfStock, "no offers ("+page.Evidence+")")
	}
	return fail(obs, monitors.OutOfStock, "no offer passes the filters: "+summarize(reasons))
}

// conditions names the target's condition filter for reasons.
func conditions(t *monitors.Target) string {
	if len(t.Conditions) == 0 {
		return monitors.ConditionNew
	}
	return strings.Join(t.Conditions, ",")
}

type failure struct {
	outcome monitors.Outcome
	reason  string
}

// fetch GETs one URL; on any failure it returns a nil response and the
// outcome to report (Blocked for bot walls and 403/429/503, Error else).
func (m *Monitor) fetch(ctx context.Context, f monitors.Fetcher, r RegionInfo, u, what string) (*monitors.Response, failure) {
	if err := ctx.Err(); err != nil {
		return nil, failure{monitors.Error, what + ": " + err.Error()}
	}
	h := make(http.Header, 1)
	h.Set("Accept-Language", r.AcceptLanguage)
	resp, err := f.Fetch(ctx, &monitors.Request{Method: http.MethodGet, URL: u, Header: h, Region: r.Code})
	if err != nil {
		return nil, failure{monitors.Error, fmt.Sprintf("%s: fetch %s: %v", what, u, err)}
	}
	if resp == nil {
		return nil, failure{monitors.Error, what + ": fetcher returned no response"}
	}
	if blocked, reason := DetectBlock(resp.Status, resp.Body); blocked {
		return nil, failure{monitors.Blocked, what + ": " + reason}
	}
	if resp.Status != http.StatusOK {
		return nil, failure{monitors.Error, fmt.Sprintf("%s: HTTP %d", what, resp.Status)}
	}
	return resp, failure{}
}

// passes applies the target's condition, merchant and max-price filters;
// why says which one failed.
func passes(t *monitors.Target, merchant string, soldByAmazon bool, price string, value float64, cond string) (bool, string) {
	if !t.AllowsCondition(cond) {
		return false, fmt.Sprintf("is %s (condition filter %s)", cond, conditions(t))
	}
	switch t.Merchant {
	case "", "any":
	case "amazon":
		if !soldByAmazon {
			return false, fmt.Sprintf("sold by third party %s (merchant filter amazon)", orUnknown(merchant))
		}
	default:
		if merchant != t.Merchant {
			return false, fmt.Sprintf("sold by %s, not %s (merchant filter)", orUnknown(merchant), t.Merchant)
		}
	}
	if t.MaxPrice > 0 {
		if price == "" {
			return false, "has no price (maxPrice set)"
		}
		if value > t.MaxPrice {
			return false, fmt.Sprintf("price %s over maxPrice %s", price, strconv.FormatFloat(t.MaxPrice, 'f', -1, 64))
		}
	}
	return true, ""
}

func offer(t *monitors.Target, r RegionInfo, p Page, offerID, merchant string, soldByAmazon bool, price string, value float64) monitors.Offer {
	u := "https://" + r.Domain + "/dp/" + t.SKU
	if merchant != "" {
		u += "?smid=" + url.QueryEscape(merchant)
	}
	o := monitors.Offer{
		SKU: t.SKU, OfferID: offerID, Title: p.Title, Image: p.Image,
		Price: price, PriceValue: value, Merchant: merchant, SoldByRetailer: soldByAmazon, URL: u,
	}
	if price != "" {
		o.Currency = r.Currency
	}
	return o
}

func fail(obs monitors.Observation, o monitors.Outcome, reason string) monitors.Observation {
	obs.Outcome, obs.Reason, obs.Offers = o, reason, nil
	return obs
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown merchant"
	}
	return s
}

// summarize keeps reasons readable in a log line.
func summarize(reasons []string) string {
	const max = 3
	if len(reasons) <= max {
		return strings.Join(reasons, "; ")
	}
	return strings.Join(reasons[:max], "; ") + fmt.Sprintf("; and %d more", len(reasons)-max)
}

var (
	_ monitors.Monitor         = (*Monitor)(nil)
	_ monitors.TargetValidator = (*Monitor)(nil)
)
