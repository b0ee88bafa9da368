package shopify

import (
	"strconv"
	"strings"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// ValidateTarget applies Shopify's target rules, every problem named by
// its field: store an absolute http(s) origin; exactly one of handle and
// keywords; keyword groups non-empty with a positive keyword each; no
// Amazon/Walmart fields; a stellarSite that is not another retailer's.
// monitors.Validate adds the rules every site shares (stellarSite syntax,
// maxPrice, baseURL).
func (m *Monitor) ValidateTarget(t *monitors.Target) error {
	var e monitors.TargetError
	if t.Store == "" {
		e.Add("store", "required for site shopify (the store's origin, e.g. https://shop.example.com)")
	} else if _, err := parseOrigin("store", t.Store); err != nil {
		e.Add("store", "%s", strings.TrimPrefix(err.Error(), "store: "))
	}
	switch {
	case t.Handle != "" && len(t.Keywords) > 0:
		e.Add("", "handle and keywords are exclusive: watch one product (handle) or the catalog (keywords)")
	case t.Handle == "" && len(t.Keywords) == 0:
		e.Add("", "site shopify needs handle (one product) or keywords (keyword groups over the whole catalog)")
	case t.Handle != "":
		h := t.Handle
		if len(h) > 255 || strings.ContainsAny(h, "/?#% \t\r\n") || textutil.HasControl(h) || strings.Trim(h, ".") == "" {
			e.Add("handle", "%q is not a product handle (as in /products/<handle>, e.g. classic-leather-jacket)", textutil.Short(h))
		}
	default:
		keywordErrors(&e, t.Keywords)
	}
	if t.Region != "" {
		e.Add("region", "%q is not used by site shopify (prices are in the store's currency)", textutil.Short(t.Region))
	}
	if t.SKU != "" {
		e.Add("sku", "%q is not used by site shopify (use handle or keywords)", textutil.Short(t.SKU))
	}
	if t.Merchant != "" && !strings.EqualFold(t.Merchant, "any") {
		e.Add("merchant", "%q: a Shopify store is its only merchant (leave empty)", textutil.Short(t.Merchant))
	}
	if t.Fulfillment != "" {
		e.Add("fulfillment", "a Walmart option, not used by site shopify")
	}
	if len(t.Conditions) > 0 {
		e.Add("condition", "not used by site shopify (a store sells new items)")
	}
	switch t.StellarSite {
	case stellar.SiteAmazon, stellar.SiteWalmartUSA, stellar.SiteWalmartCA:
		e.Add("stellarSite", "%q belongs to another retailer", t.StellarSite)
	}
	return e.Err()
}

func keywordErrors(e *monitors.TargetError, groups [][]string) {
	for i, g := range groups {
		path := "keywords[" + strconv.Itoa(i) + "]"
		if len(g) == 0 {
			e.Add(path, "empty keyword group")
			continue
		}
		positive, empty := false, false
		for _, k := range g {
			k = strings.TrimSpace(k)
			empty = empty || strings.TrimSpace(strings.TrimPrefix(k, "-")) == ""
			positive = positive || !strings.HasPrefix(k, "-")
		}
		switch {
		case empty:
			e.Add(path, "has an empty keyword")
		case !positive:
			e.Add(path, "needs at least one positive keyword (a group of only -words would match the whole catalog)")
		}
	}
}

// PingShape implements monitors.PingShaper: Shopify pings carry no
// offerId, under StellarSite(t).
func (m *Monitor) PingShape(t *monitors.Target) (site string, offerID bool) {
	return StellarSite(t), false
}

var (
	_ monitors.TargetValidator = (*Monitor)(nil)
	_ monitors.PingShaper      = (*Monitor)(nil)
)
