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

// Check polls one product: the product page, and the All Offers Display
// fragment when the buy box is missing, out of stock with other sellers, or
// fails the merchant or price filter. A failed or blocked request is Error
// or Blocked, never OutOfStock.
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
		return fail(obs, res.outcome, res.reason)
	}
	page, err := parseProduct(resp.Body, r, t.SKU) // fetch ran DetectBlock
	if err != nil {
		if errors.Is(err, ErrBlocked) {
			return fail(obs, monitors.Blocked, "product page: "+err.Error())
		}
		return fail(obs, monitors.Error, "product page: "+err.Error())
	}

	// The buy box wins when it passes every filter.
	var filterReason string
	if page.Stock == InStock {
		ok, why := passes(t, page.Merchant, page.SoldByAmazon, page.Price, page.PriceValue)
		if ok {
			obs.Outcome = monitors.InStock
			obs.Offers = []monitors.Offer{offer(t, r, page, page.OfferID, page.Merchant, page.SoldByAmazon, page.Price, page.PriceValue)}
			return obs
		}
		filterReason = "buy box " + why
	}
	if page.Stock == OutOfStock && !page.OtherSellers {
		return fail(obs, monitors.OutOfStock, "out of stock: "+page.Evidence)
	}

	aodURL := origin + "/gp/product/ajax/ref=dp_aod_ALL_mbc?asin=" + url.QueryEscape(t.SKU) + "&pc=dp&experienceId=aodAjaxMain"
	resp, res = m.fetch(ctx, f, r, aodURL, "offers")
	if resp == nil {
		return fail(obs, res.outcome, res.reason)
	}
	offers, err := parseAOD(resp.Body, r, t.SKU) // fetch ran DetectBlock
	if err != nil {
		if errors.Is(err, ErrBlocked) {
			return fail(obs, monitors.Blocked, "offers: "+err.Error())
		}
		return fail(obs, monitors.Error, "offers: "+err.Error())
	}
	var reasons []string
	if filterReason != "" {
		reasons = append(reasons, filterReason)
	}
	for _, o := range offers {
		ok, why := passes(t, o.Merchant, o.SoldByAmazon, o.Price, o.PriceValue)
		if ok {
			obs.Outcome = monitors.InStock
			obs.Offers = []monitors.Offer{offer(t, r, page, o.OfferID, o.Merchant, o.SoldByAmazon, o.Price, o.PriceValue)}
			return obs
		}
		reasons = append(reasons, "offer "+why)
	}
	if len(reasons) == 0 {
		return fail(obs, monitors.OutOfStock, "no offers ("+page.Evidence+")")
	}
	return fail(obs, monitors.OutOfStock, "no offer passes the filters: "+summarize(reasons))
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

// passes applies the target's merchant and max-price filters; why says
// which one failed.
func passes(t *monitors.Target, merchant string, soldByAmazon bool, price string, value float64) (bool, string) {
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
