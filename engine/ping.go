package engine

import (
	"github.com/stellarfeed/stellarfeed/internal/stellar"
	"github.com/stellarfeed/stellarfeed/monitors"
)

// PingFor is the ping the engine sends for offer o of a check whose pings
// carry site (and region, for Amazon), validated against rules the way a
// restock is: a ping whose only faults are in its optional details loses
// those details (dropped says which); any other fault is err and the ping
// would not be sent. `stellarfeed check` shows it.
func PingFor(rules stellar.Rules, site, region string, o monitors.Offer) (p stellar.Ping, dropped, err error) {
	p = stellar.Ping{Site: site, SKU: o.SKU, OfferID: o.OfferID}
	if site == stellar.SiteAmazon {
		p.Region = region
	}
	if o.Title != "" || o.Image != "" || o.Price != "" {
		p.Details = &stellar.Details{ProductTitle: o.Title, ProductImage: o.Image, ProductPrice: o.Price}
	}
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
