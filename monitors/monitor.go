package monitors

import (
	"context"
	"fmt"
	"net/http"
)

// Monitor checks one target once. Check must honour ctx, must not keep
// goroutines after it returns, and must be safe for concurrent use on
// different targets.
type Monitor interface {
	Check(ctx context.Context, t *Target, f Fetcher) Observation
}

// TargetValidator is implemented by monitors that own rules for their
// targets (regions, SKU shapes, the fields they use). ValidateTarget
// returns nil or a *TargetError naming each offending field, so config can
// point at the line; use Validate, which adds the rules every site shares.
type TargetValidator interface {
	ValidateTarget(t *Target) error
}

// Target is one thing to watch, as configured.
type Target struct {
	// Site is the monitor's registered name: "amazon", "walmart", "shopify".
	Site string
	// Region: an Amazon region (USA … AU) or a Walmart one (USA, CA).
	Region string
	// SKU: the ASIN, or the Walmart item id.
	SKU string
	// Store is a Shopify store's origin (https://shop.example.com), Handle a
	// product handle in it; Keywords monitors the whole catalog instead:
	// AND inside a group, OR across groups.
	Store    string
	Handle   string
	Keywords [][]string
	// Merchant filters offers: "" or "any", the retailer itself ("amazon",
	// "walmart"), or a merchant/seller id.
	Merchant string
	// MaxPrice drops offers above it; 0 means no cap.
	MaxPrice float64
	// StellarSite is the site name pings carry. Empty means the monitor's
	// documented default.
	StellarSite string
	// BaseURL replaces the retailer's origin (scheme://host), so the same
	// code can poll the built-in simulator or a test server.
	BaseURL string
	// Conditions lists the offer conditions that may ping: "new", "used",
	// "renewed", or "any". Empty means new only: a "Used - Like New" offer
	// is not what a restock ping promises.
	Conditions []string
	// Fulfillment is how a Walmart item must be buyable: "shipping" (the
	// default: online shipping is what a Stellar task buys), "pickup" or
	// "any".
	Fulfillment string
}

// Offer conditions (Target.Conditions, Offer.Condition).
const (
	ConditionNew     = "new"
	ConditionUsed    = "used"
	ConditionRenewed = "renewed"
	ConditionAny     = "any"
)

// AllowsCondition reports whether an offer in condition c may ping for t.
// An offer whose condition could not be read ("") counts as new only when
// the page has no condition to show (product-page buy boxes); monitors
// pass "unknown" for a condition text they did not recognise, which only
// "any" accepts.
func (t *Target) AllowsCondition(c string) bool {
	if c == "" {
		c = ConditionNew
	}
	if len(t.Conditions) == 0 {
		return c == ConditionNew
	}
	for _, want := range t.Conditions {
		if want == ConditionAny || want == c {
			return true
		}
	}
	return false
}

// ValidateConditions checks a Conditions list, naming the bad entry.
func ValidateConditions(cs []string) error {
	for i, c := range cs {
		switch c {
		case ConditionNew, ConditionUsed, ConditionRenewed, ConditionAny:
		default:
			return fmt.Errorf("condition: entry %d, %q, is not one of new, used, renewed, any", i+1, c)
		}
	}
	return nil
}

// Request is one HTTP request a monitor wants made.
type Request struct {
	Method string // "" means GET
	URL    string
	Header http.Header
	// Region selects Accept-Language and similar per-region headers.
	Region string
}

// Response is what came back, body already decompressed.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// URL is the final URL after redirects: Walmart's /blocked redirect and
	// Amazon's variant redirects show here.
	URL string
}

// Fetcher makes requests for monitors. The engine's implementation handles
// proxies, user agents, rate limits and decoding; tests use a fake.
type Fetcher interface {
	Fetch(ctx context.Context, req *Request) (*Response, error)
}

// Outcome classifies one check.
type Outcome int

const (
	// Error: the check failed for a reason that says nothing about stock
	// (network error, unparseable page). Never treated as out of stock.
	Error Outcome = iota
	// Blocked: captcha, bot wall, 403/429/503, throttle page.
	Blocked
	// OutOfStock: the page was read and nothing buyable passed the filters.
	OutOfStock
	// InStock: at least one offer is buyable and passed the filters.
	InStock
	// UnknownLayout: the page came back (not a bot wall) but the parser
	// does not recognise its layout, or found offers it cannot read. It is
	// neither a block (no proxy backs off) nor out of stock (no sold-out
	// transition): the operator must look, so the engine logs it once per
	// target and counts it.
	UnknownLayout

	// NumOutcomes is the number of outcomes, for tables indexed by Outcome.
	NumOutcomes = int(UnknownLayout) + 1
)

var outcomeNames = [...]string{Error: "error", Blocked: "blocked", OutOfStock: "out_of_stock", InStock: "in_stock", UnknownLayout: "unknown_layout"}

func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Offer is one buyable thing found by a check.
type Offer struct {
	// SKU is the Stellar sku: ASIN, Walmart item id, Shopify variant id.
	SKU string
	// OfferID is the Stellar offerId: Amazon's decoded offerListingId,
	// Walmart's 32-hex offer id; empty for sites without one.
	OfferID string
	Title   string
	Image   string // absolute http(s) URL
	Price   string // plain decimal, e.g. "1234.56"
	// PriceValue is Price as a number, for MaxPrice filters.
	PriceValue float64
	Currency   string
	// Merchant is the seller's id; SoldByRetailer reports whether that is
	// the retailer itself (Amazon's seller id for the region, Walmart.com).
	Merchant       string
	SoldByRetailer bool
	// URL links to the product or its add-to-cart page.
	URL string
	// Condition is the offer's condition (ConditionNew, ConditionUsed,
	// ConditionRenewed, "unknown"); "" where the page shows none.
	Condition string
}

// Observation is the result of one check.
type Observation struct {
	Outcome Outcome
	// Offers are the in-stock offers that passed the target's filters;
	// empty unless Outcome is InStock.
	Offers []Offer
	// StellarSite and Region are what pings for these offers carry.
	StellarSite string
	Region      string
	// Reason explains Blocked, Error and filtered-out results for logs.
	Reason string
	// Evidence names what decided Outcome (the element, field or marker),
	// for logs and `stellarfeed check`.
	Evidence string
	// Seen is what the page said about the product whatever the outcome
	// (title, image, the featured offer even when filtered out), for
	// `stellarfeed check`; the engine does not read it.
	Seen Offer
}
