package stellar

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
)

// Ping is one restock, as Stellar reads it.
type Ping struct {
	Site    string   `json:"site"`
	Region  string   `json:"region,omitempty"`
	SKU     string   `json:"sku"`
	OfferID string   `json:"offerId,omitempty"`
	Details *Details `json:"details,omitempty"`
}

// Details are the optional product facts Stellar shows with a task.
type Details struct {
	ProductTitle string `json:"productTitle,omitempty"`
	ProductImage string `json:"productImage,omitempty"`
	ProductPrice string `json:"productPrice,omitempty"`
}

// Site names with rules of their own. Walmart USA and Walmart Canada are
// told apart by the site string alone (Stellar pings have no region outside
// Amazon); the defaults below can be replaced through Rules.OfferIDSites
// when Stellar's task creator spells them differently.
const (
	SiteAmazon     = "amazon"
	SiteWalmartUSA = "walmart"
	SiteWalmartCA  = "walmartca"
)

// regions are Stellar's Amazon regions.
var regions = [...]string{"USA", "CA", "UK", "NL", "FR", "IT", "DE", "JP", "ES", "BE", "PL", "AU"}

// Regions returns Stellar's twelve Amazon regions.
func Regions() []string { return append([]string(nil), regions[:]...) }

// IsRegion reports whether r is one of Stellar's Amazon regions.
func IsRegion(r string) bool {
	for _, x := range regions {
		if x == r {
			return true
		}
	}
	return false
}

// Limits on field sizes: generous for real products, small enough that one
// ping always fits a single modest frame.
const (
	maxSiteLen  = 64
	maxSKULen   = 128
	maxOfferLen = 512
	maxTitleLen = 512
	maxImageLen = 2048
	maxPriceLen = 32
)

// FieldError is one broken rule, named by the field's JSON path.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// Error lists every problem found in one ping.
type Error struct {
	Fields []FieldError
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return "invalid ping: " + strings.Join(parts, "; ")
}

func (e *Error) add(field, format string, args ...any) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// orNil returns a heap copy of e only when it holds errors, so that the
// common path (a valid ping) allocates nothing for the error.
func (e *Error) orNil() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return &Error{Fields: e.Fields}
}

// FieldErrors returns the field errors inside err, if it holds any.
func FieldErrors(err error) []FieldError {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Fields
	}
	return nil
}

// Rules validates pings. The zero value applies Stellar's rules with the
// default Walmart site names.
type Rules struct {
	// OfferIDSites names the sites other than Amazon whose pings must carry
	// an offerId and are the only ones allowed to. Empty means
	// {SiteWalmartUSA, SiteWalmartCA}.
	OfferIDSites []string
}

func (r Rules) needsOfferID(site string) bool {
	if len(r.OfferIDSites) == 0 {
		return site == SiteWalmartUSA || site == SiteWalmartCA
	}
	for _, s := range r.OfferIDSites {
		if s == site {
			return true
		}
	}
	return false
}

// Validate returns nil for a ping Stellar accepts, or an *Error listing
// every broken rule with its field path.
func (r Rules) Validate(p *Ping) error {
	var e Error
	switch {
	case p.Site == "":
		e.add("site", "required")
	case !IsSiteName(p.Site):
		e.add("site", "%q must be lower-case letters, digits, '.', '_' or '-' (at most %d), as in Stellar's task creator", p.Site, maxSiteLen)
	}
	checkToken(&e, "sku", p.SKU, maxSKULen, true)
	if p.Site == SiteAmazon {
		switch {
		case p.Region == "":
			e.add("region", "required for site amazon (one of %s)", strings.Join(regions[:], ", "))
		case !IsRegion(p.Region):
			e.add("region", "%q is not one of %s", p.Region, strings.Join(regions[:], ", "))
		}
		if p.SKU != "" && !IsASIN(p.SKU) {
			e.add("sku", "%q is not an ASIN (10 upper-case letters or digits)", p.SKU)
		}
		checkToken(&e, "offerId", p.OfferID, maxOfferLen, true)
	} else {
		if p.Region != "" {
			e.add("region", "only allowed for site amazon; Walmart USA and CA are told apart by site")
		}
		if r.needsOfferID(p.Site) {
			checkToken(&e, "offerId", p.OfferID, maxOfferLen, true)
		} else if p.OfferID != "" && p.Site != "" {
			e.add("offerId", "not allowed for site %q (only amazon and Walmart USA/CA)", p.Site)
		}
	}
	if d := p.Details; d != nil {
		if len(d.ProductTitle) > maxTitleLen {
			e.add("details.productTitle", "longer than %d bytes", maxTitleLen)
		} else if textutil.HasControl(d.ProductTitle) {
			e.add("details.productTitle", "contains control characters")
		}
		if d.ProductImage != "" {
			if msg := checkURL(d.ProductImage); msg != "" {
				e.add("details.productImage", "%s", msg)
			}
		}
		if d.ProductPrice != "" && !isDecimal(d.ProductPrice) {
			e.add("details.productPrice", "%q is not a plain decimal such as \"199.99\" (no currency symbol or thousands separator)", textutil.Short(d.ProductPrice))
		}
	}
	return e.orNil()
}

func checkToken(e *Error, field, v string, max int, required bool) {
	switch {
	case v == "":
		if required {
			e.add(field, "required")
		}
	case len(v) > max:
		e.add(field, "longer than %d bytes", max)
	case strings.TrimSpace(v) != v || textutil.HasControl(v):
		e.add(field, "%q has surrounding spaces or control characters", textutil.Short(v))
	}
}

func checkURL(s string) string {
	if len(s) > maxImageLen {
		return fmt.Sprintf("longer than %d bytes", maxImageLen)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || textutil.HasControl(s) || strings.ContainsAny(s, " \t") {
		return fmt.Sprintf("%q is not an absolute http(s) URL", textutil.Short(s))
	}
	return ""
}

// IsSiteName reports whether s is a well-formed Stellar site name: lower
// case, as Stellar's task creator spells sites.
func IsSiteName(s string) bool {
	if s == "" || len(s) > maxSiteLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// IsASIN reports whether s is an Amazon ASIN: 10 upper-case letters or
// digits.
func IsASIN(s string) bool { return len(s) == 10 && textutil.IsUpperAlnum(s) }

// isDecimal accepts "199", "199.9" and "199.99": what Stellar's own example
// sends. Monitors normalise localized prices ("1.234,56 €", "￥12,800").
func isDecimal(s string) bool {
	if len(s) > maxPriceLen {
		return false
	}
	digits, dot := 0, -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && dot < 0 && digits > 0:
			dot = i
		default:
			return false
		}
	}
	if dot < 0 {
		return digits > 0
	}
	frac := len(s) - dot - 1
	return frac >= 1 && frac <= 2
}
