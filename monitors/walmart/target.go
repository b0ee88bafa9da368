package walmart

import (
	"strings"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
	"github.com/stellarfeed/stellarfeed/monitors"
)

// ValidateTarget applies Walmart's target rules, every problem named by its
// field: region USA or CA; sku a USA item id (digits) or a Canada one (12
// letters/digits or 13 digits); merchant any, walmart or a seller id;
// fulfillment shipping, pickup or any; conditions among new, used,
// renewed, any; no Shopify fields. monitors.Validate adds the rules every site shares
// (stellarSite, maxPrice, baseURL).
func (m *Monitor) ValidateTarget(t *monitors.Target) error {
	var e monitors.TargetError
	switch t.Region {
	case RegionUSA, RegionCA:
	case "":
		e.Add("region", "required for site walmart (USA or CA)")
	default:
		e.Add("region", "%q is not one of USA, CA", textutil.Short(t.Region))
	}
	switch {
	case t.SKU == "":
		e.Add("sku", "required for site walmart (the item id in the product URL)")
	case t.Region == RegionUSA && !IsItemID(RegionUSA, t.SKU):
		e.Add("sku", "%q is not a Walmart USA item id (digits, e.g. 5113183757)", textutil.Short(t.SKU))
	case t.Region == RegionCA && !IsItemID(RegionCA, t.SKU):
		e.Add("sku", "%q is not a Walmart Canada item id (12 letters or digits, or 13 digits, e.g. 6000203423051)", textutil.Short(t.SKU))
	}
	switch mer := t.Merchant; {
	case mer == "" || strings.EqualFold(mer, MerchantAny) || strings.EqualFold(mer, MerchantWalmart):
	case len(mer) > 64 || !textutil.IsAlnum(mer):
		e.Add("merchant", "%q is not any, walmart or a seller id (letters and digits)", textutil.Short(mer))
	}
	switch t.Fulfillment {
	case "", FulfillShipping, FulfillPickup, FulfillAny:
	default:
		e.Add("fulfillment", "%q is not one of shipping, pickup, any", textutil.Short(t.Fulfillment))
	}
	e.Conditions(t.Conditions)
	e.Unused(t, "walmart", "store", "handle", "keywords")
	return e.Err()
}

// IsItemID reports whether sku is a well-formed item id in region: digits
// (at most 20) for USA; 12 letters or digits (any case: the monitor
// matches the page case-insensitively), or 13 digits, for CA. It is the
// one statement of the rule: config and the simulator's catalogs go
// through it too.
func IsItemID(region, sku string) bool {
	switch region {
	case RegionUSA:
		return textutil.IsDigits(sku) && len(sku) <= 20
	case RegionCA:
		return (len(sku) == 12 && textutil.IsAlnum(sku)) || (len(sku) == 13 && textutil.IsDigits(sku))
	}
	return false
}

// Regions lists the regions targets may name (monitors.Regioner).
func (m *Monitor) Regions() []string { return []string{RegionUSA, RegionCA} }

// PingShape implements monitors.PingShaper: Walmart pings carry an
// offerId, under StellarSite(t).
func (m *Monitor) PingShape(t *monitors.Target) (site string, offerID bool) {
	return StellarSite(t), true
}

var (
	_ monitors.TargetValidator = (*Monitor)(nil)
	_ monitors.Regioner        = (*Monitor)(nil)
	_ monitors.PingShaper      = (*Monitor)(nil)
)
