package amazon

import (
	"github.com/stellarfeed/stellarfeed/internal/textutil"
	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// ValidateTarget applies Amazon's target rules, every problem named by its
// field: region one of the twelve, sku an ASIN, merchant any, amazon or a
// merchant id, conditions among new, used, renewed, any; no Shopify or
// Walmart-only fields. monitors.Validate adds the rules every
// site shares (stellarSite, maxPrice, baseURL).
func (m *Monitor) ValidateTarget(t *monitors.Target) error {
	var e monitors.TargetError
	switch _, ok := m.regions[t.Region]; {
	case t.Region == "":
		e.Add("region", "required for site amazon (one of %s)", regionCodes())
	case !ok:
		e.Add("region", "%q is not one of %s", textutil.Short(t.Region), regionCodes())
	}
	switch {
	case t.SKU == "":
		e.Add("sku", "required for site amazon (the product's ASIN, e.g. B0DR8G428S)")
	case !stellar.IsASIN(t.SKU):
		e.Add("sku", "%q is not an ASIN (10 upper-case letters or digits, e.g. B0DR8G428S)", textutil.Short(t.SKU))
	}
	switch mer := t.Merchant; {
	case mer == "" || mer == "any" || mer == "amazon":
	case !isMerchantID(mer):
		e.Add("merchant", "%q is not any, amazon or a merchant id (8-20 upper-case letters or digits)", textutil.Short(mer))
	}
	e.Conditions(t.Conditions)
	e.Unused(t, "amazon", "store", "handle", "keywords", "fulfillment")
	return e.Err()
}

// Regions lists the region codes targets may name (monitors.Regioner).
func (m *Monitor) Regions() []string {
	codes := make([]string, len(regionTable))
	for i, r := range regionTable {
		codes[i] = r.Code
	}
	return codes
}

// PingShape implements monitors.PingShaper: Amazon pings carry an offerId,
// under t.StellarSite or "amazon".
func (m *Monitor) PingShape(t *monitors.Target) (site string, offerID bool) {
	if t.StellarSite != "" {
		return t.StellarSite, true
	}
	return DefaultStellarSite, true
}

var (
	_ monitors.TargetValidator = (*Monitor)(nil)
	_ monitors.Regioner        = (*Monitor)(nil)
	_ monitors.PingShaper      = (*Monitor)(nil)
)

// WithSellerIDs returns a copy of m with seller-id overrides (Config.SellerIDs)
// applied on top of its own: config's amazon.sellerIds reaches the monitor
// through it.
func (m *Monitor) WithSellerIDs(ids map[string][]string) (monitors.Monitor, error) {
	merged := Config{SellerIDs: map[string][]string{}}
	for code, r := range m.regions {
		if def, _ := Region(code); r.SellerID != def.SellerID || len(r.ExtraSellerIDs) > 0 {
			merged.SellerIDs[code] = append([]string{r.SellerID}, r.ExtraSellerIDs...)
		}
	}
	for code, list := range ids {
		merged.SellerIDs[code] = list
	}
	nm, err := NewMonitor(merged)
	if err != nil {
		return nil, err
	}
	return nm, nil
}
