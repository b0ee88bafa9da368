package engine

import (
	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// PingFor is the ping the engine sends for offer o of a check whose pings
// carry site (and region, for Amazon), validated against rules the way a
// restock is: a ping whose only faults are in its optional details loses
// those details (dropped says which); any other fault is err and the ping
// would not be sent. `stellarfeed check` shows it.
func PingFor(rules stellar.Rules, site, region string, o monitors.Offer) (p stellar.Ping, dropped, err error) {
	p = pingOf(site, region, o)
	verr := rules.Validate(&p)
	if verr == nil {
		return p, nil, nil
	}
	fixed, ok := dropBadDetails(rules, p, verr)
	if !ok {
		return p, nil, verr
	}
	return fixed, verr, nil
}

// pingOf is the ping for o before validation: a sold-out event carries it
// as is, since nothing is broadcast for it.
func pingOf(site, region string, o monitors.Offer) stellar.Ping {
	p := stellar.Ping{Site: site, SKU: o.SKU, OfferID: o.OfferID}
	if site == stellar.SiteAmazon {
		p.Region = region
	}
	if o.Title != "" || o.Image != "" || o.Price != "" {
		p.Details = &stellar.Details{ProductTitle: o.Title, ProductImage: o.Image, ProductPrice: o.Price}
	}
	return p
}

// dropBadDetails clears the detail fields named in err and re-validates.
func dropBadDetails(r stellar.Rules, p stellar.Ping, err error) (stellar.Ping, bool) {
	fes := stellar.FieldErrors(err)
	if p.Details == nil || len(fes) == 0 {
		return p, false
	}
	d := *p.Details
	for _, fe := range fes {
		switch fe.Field {
		case "details.productTitle":
			d.ProductTitle = ""
		case "details.productImage":
			d.ProductImage = ""
		case "details.productPrice":
			d.ProductPrice = ""
		default:
			return p, false
		}
	}
	p.Details = &d
	if d == (stellar.Details{}) {
		p.Details = nil
	}
	return p, r.Validate(&p) == nil
}
