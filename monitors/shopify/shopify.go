package shopify

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
)

// Site is the name the monitor registers under, and the default Stellar
// site of its pings.
const Site = "shopify"

// Paging limits for keyword monitoring.
const (
	PageSize = 250
	MaxPages = 20
)

func init() {
	monitors.Register(Site, func() monitors.Monitor { return New() })
}

// Monitor checks Shopify stores through their storefront JSON. It holds
// no state: one value serves any number of targets concurrently.
type Monitor struct{}

// New returns a Shopify monitor.
func New() *Monitor { return &Monitor{} }

// Check runs one check: the product's .js with Handle, the catalog's
// products.json pages with Keywords.
func (m *Monitor) Check(ctx context.Context, t *monitors.Target, f monitors.Fetcher) monitors.Observation {
	obs, ok := monitors.StartCheck(t, StellarSite, m.ValidateTarget)
	if !ok {
		return obs
	}
	base := Origin(t)
	c := checker{t: t, base: base, merchant: storeHost(t.Store)}
	if t.Handle != "" {
		c.checkHandle(ctx, f, &obs)
	} else {
		c.checkKeywords(ctx, f, &obs)
	}
	if obs.Outcome != monitors.InStock {
		obs.Offers = nil
	}
	return obs
}

// StellarSite is the site pings for t carry: t.StellarSite, else
// "shopify". Stellar names Shopify stores in its task creator, so set it
// per store to that name; pings carry no region and no offerId.
func StellarSite(t *monitors.Target) string {
	if t.StellarSite != "" {
		return t.StellarSite
	}
	return Site
}

// Origin is where requests go: t.BaseURL when set (it may carry a path,
// as the simulator's http://127.0.0.1:9000/shop.example.com does), else
// t.Store; without a trailing slash.
func Origin(t *monitors.Target) string {
	if t.BaseURL != "" {
		return strings.TrimRight(t.BaseURL, "/")
	}
	return strings.TrimRight(t.Store, "/")
}

// ProductJSURL is the .js endpoint of a product handle.
func ProductJSURL(origin, handle string) string {
	return origin + "/products/" + url.PathEscape(handle) + ".js"
}

// ProductsJSONURL is page n (from 1) of the catalog.
func ProductsJSONURL(origin string, page int) string {
	return origin + "/products.json?limit=" + strconv.Itoa(PageSize) + "&page=" + strconv.Itoa(page)
}

// CartURL adds one of the variant to the cart and opens it.
func CartURL(origin string, variantID int64) string {
	return origin + "/cart/" + strconv.FormatInt(variantID, 10) + ":1"
}

type checker struct {
	t        *monitors.Target
	base     string
	merchant string
}

// get fetches one URL and classifies everything but a readable 200. It
// returns the body, or done=true with obs filled in.
func (c *checker) get(ctx context.Context, f monitors.Fetcher, u string, obs *monitors.Observation) (body []byte, status int, done bool) {
	resp, err := monitors.FetchPage(ctx, f, &monitors.Request{
		Method: http.MethodGet,
		URL:    u,
		Header: http.Header{"Accept": {"application/json, text/javascript, */*;q=0.1"}},
	})
	if err != nil {
		obs.Outcome, obs.Reason = monitors.Error, err.Error()
		return nil, 0, true
	}
	if reason, throttled := DetectThrottle(resp.Status, resp.Body); throttled {
		obs.Outcome, obs.Reason = monitors.Blocked, reason
		return nil, resp.Status, true
	}
	// A locked store (password page before a drop) sells nothing: that is
	// a real out-of-stock, and its opening a real restock.
	if isPasswordURL(resp.URL) {
		obs.Outcome, obs.Reason = monitors.OutOfStock, "store is password-protected ("+resp.URL+")"
		return nil, resp.Status, true
	}
	return resp.Body, resp.Status, false
}

func (c *checker) checkHandle(ctx context.Context, f monitors.Fetcher, obs *monitors.Observation) {
	u := ProductJSURL(c.base, c.t.Handle)
	body, status, done := c.get(ctx, f, u, obs)
	if done {
		return
	}
	switch {
	case status == http.StatusNotFound:
		// Shopify answers 404 for a handle that is not published yet:
		// monitoring a handle before a drop is the point, so this is out
		// of stock, not an error. A wrong handle shows in the reason.
		obs.Outcome, obs.Reason = monitors.OutOfStock, "404: product not published (or wrong handle) at "+u
		return
	case status < 200 || status > 299:
		obs.Outcome, obs.Reason = monitors.Error, fmt.Sprintf("HTTP %d from %s", status, u)
		return
	}
	p, err := ParseProductJS(body)
	if err != nil {
		obs.Outcome, obs.Reason = monitors.Error, fmt.Sprintf("parse %s: %v", u, err)
		return
	}
	obs.Seen = monitors.Offer{
		SKU: strconv.FormatInt(p.ID, 10), Title: clip(p.Title, maxTitle), Image: p.Image,
		Price: p.Price, PriceValue: p.PriceValue, Merchant: c.merchant, SoldByRetailer: true, URL: u,
	}
	var filtered []string
	for i := range p.Variants {
		c.addOffer(obs, &p, &p.Variants[i], &filtered)
	}
	c.finish(obs, p.Available, filtered)
	if len(obs.Offers) > 0 {
		obs.Seen = obs.Offers[0]
	}
	obs.Evidence = fmt.Sprintf("%s: %d of %d variants available", u, len(obs.Offers), len(p.Variants))
}

func (c *checker) checkKeywords(ctx context.Context, f monitors.Fetcher, obs *monitors.Observation) {
	ks := compileKeywords(c.t.Keywords)
	seen := make(map[int64]bool)
	var filtered []string
	matched, anyAvailable, complete := 0, false, false
	for page := 1; page <= MaxPages; page++ {
		if err := ctx.Err(); err != nil {
			obs.Outcome, obs.Reason = monitors.Error, fmt.Sprintf("page %d: %v", page, err)
			return
		}
		u := ProductsJSONURL(c.base, page)
		body, status, done := c.get(ctx, f, u, obs)
		if done {
			return
		}
		if status < 200 || status > 299 {
			// A partial catalog would read as "sold out" for the products
			// on the missing pages: the whole check fails instead.
			obs.Outcome, obs.Reason = monitors.Error, fmt.Sprintf("HTTP %d from %s", status, u)
			return
		}
		products, err := ParseProductsJSON(body)
		if err != nil {
			obs.Outcome, obs.Reason = monitors.Error, fmt.Sprintf("parse %s: %v", u, err)
			return
		}
		if len(products) == 0 {
			complete = true
			break
		}
		for i := range products {
			p := &products[i]
			if !ks.match(p.Title) {
				continue
			}
			matched++
			anyAvailable = anyAvailable || p.Available
			for j := range p.Variants {
				// Pages shift when the catalog changes mid-scan: a variant
				// seen twice is one offer.
				if v := &p.Variants[j]; !seen[v.ID] {
					seen[v.ID] = true
					c.addOffer(obs, p, v, &filtered)
				}
			}
		}
	}
	c.finish(obs, anyAvailable, filtered)
	if obs.Outcome == monitors.OutOfStock && matched == 0 {
		obs.Reason = "no product matches the keywords"
	}
	if !complete {
		note := fmt.Sprintf("catalog longer than %d pages: only the first %d products checked", MaxPages, MaxPages*PageSize)
		if obs.Reason == "" {
			obs.Reason = note
		} else {
			obs.Reason += "; " + note
		}
	}
}

// addOffer appends v as an offer when it is available and under the cap.
func (c *checker) addOffer(obs *monitors.Observation, p *Product, v *Variant, filtered *[]string) {
	if !v.Available {
		return
	}
	if c.t.MaxPrice > 0 {
		if v.Price == "" {
			*filtered = append(*filtered, fmt.Sprintf("variant %d has no price and maxPrice is set", v.ID))
			return
		}
		if v.PriceValue > c.t.MaxPrice {
			*filtered = append(*filtered, fmt.Sprintf("variant %d price %s above maxPrice %s", v.ID, v.Price, strconv.FormatFloat(c.t.MaxPrice, 'f', -1, 64)))
			return
		}
	}
	img := v.Image
	if img == "" {
		img = p.Image
	}
	obs.Offers = append(obs.Offers, monitors.Offer{
		SKU:            strconv.FormatInt(v.ID, 10),
		Title:          clip(OfferTitle(p.Title, v.Title), maxTitle),
		Image:          img,
		Price:          v.Price,
		PriceValue:     v.PriceValue,
		Merchant:       c.merchant,
		SoldByRetailer: true,
		URL:            CartURL(c.base, v.ID),
	})
}

func (c *checker) finish(obs *monitors.Observation, available bool, filtered []string) {
	switch {
	case len(obs.Offers) > 0:
		obs.Outcome, obs.Reason = monitors.InStock, ""
	case available && len(filtered) > 0:
		obs.Outcome = monitors.OutOfStock
		obs.Reason = "filtered: " + strings.Join(firstN(filtered, 3), "; ")
	default:
		obs.Outcome, obs.Reason = monitors.OutOfStock, "all variants sold out"
	}
}

// OfferTitle is "Product - Variant", or the product title alone for
// Shopify's single-variant "Default Title".
func OfferTitle(product, variant string) string {
	if variant == "" || variant == "Default Title" || variant == product {
		return product
	}
	if product == "" {
		return variant
	}
	return product + " - " + variant
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}

// maxTitle keeps titles inside Stellar's 512-byte limit.
const maxTitle = 512

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func isPasswordURL(u string) bool {
	if u == "" {
		return false
	}
	pu, err := url.Parse(u)
	if err != nil {
		return false
	}
	return strings.HasSuffix(strings.TrimRight(pu.Path, "/"), "/password")
}

func storeHost(store string) string {
	if u, err := url.Parse(store); err == nil {
		return u.Host
	}
	return ""
}

// parseOrigin accepts scheme://host[:port] with an optional trailing slash.
func parseOrigin(field, s string) (*url.URL, error) {
	if s == "" {
		return nil, fmt.Errorf("%s: required (the store's origin, e.g. https://shop.example.com)", field)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %q: %w", field, textutil.Short(s), err)
	}
	switch {
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("%s: %q is not an absolute http(s) origin", field, textutil.Short(s))
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/"):
		return nil, fmt.Errorf("%s: %q must be an origin only (scheme://host), without path, query or credentials", field, textutil.Short(s))
	}
	return u, nil
}

var _ monitors.Monitor = (*Monitor)(nil)
