package shopify

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/bytedance/sonic"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
	"github.com/stellarfeed/stellarfeed/monitors"
)

// Product is a Shopify product as the storefront JSON endpoints show it.
type Product struct {
	ID     int64  `json:"id"`
	Title  string `json:"title"`
	Handle string `json:"handle"`
	Vendor string `json:"vendor,omitempty"`
	// Available is true when at least one variant is available: computed
	// from the variants, so it can never disagree with them.
	Available bool `json:"available"`
	// Price is the product's price as a plain decimal ("129.00"): the
	// product's own price in products/{handle}.js, else the lowest variant
	// price. "" when unknown.
	Price      string    `json:"price"`
	PriceValue float64   `json:"priceValue"`
	Image      string    `json:"image"` // absolute https URL or ""
	Variants   []Variant `json:"variants"`
}

// Variant is one buyable variant of a product.
type Variant struct {
	ID         int64   `json:"id"`
	Title      string  `json:"title"`
	SKU        string  `json:"sku,omitempty"`
	Price      string  `json:"price"` // plain decimal, "" when unknown
	PriceValue float64 `json:"priceValue"`
	Available  bool    `json:"available"`
	Image      string  `json:"image,omitempty"` // the variant's own image, if any
}

// ErrNotProducts is returned for JSON that is not a products.json page.
var ErrNotProducts = errors.New("no products array")

// decoder copies strings out of the body: the engine may reuse the
// response buffer after Check returns.
var decoder = sonic.Config{CopyString: true}.Froze()

type imageRef struct {
	Src string `json:"src"`
}

// rawJS is products/{handle}.js. Prices are integers in minor units.
type rawJS struct {
	ID            int64      `json:"id"`
	Title         string     `json:"title"`
	Handle        string     `json:"handle"`
	Vendor        string     `json:"vendor"`
	Price         minorUnits `json:"price"`
	FeaturedImage string     `json:"featured_image"`
	Images        []string   `json:"images"`
	Variants      []struct {
		ID            int64      `json:"id"`
		Title         string     `json:"title"`
		SKU           string     `json:"sku"`
		Price         minorUnits `json:"price"`
		Available     bool       `json:"available"`
		FeaturedImage *imageRef  `json:"featured_image"`
	} `json:"variants"`
}

// rawProducts is products.json. Prices are decimal strings.
type rawProducts struct {
	Products *[]struct {
		ID       int64      `json:"id"`
		Title    string     `json:"title"`
		Handle   string     `json:"handle"`
		Vendor   string     `json:"vendor"`
		Images   []imageRef `json:"images"`
		Variants []struct {
			ID            int64        `json:"id"`
			Title         string       `json:"title"`
			SKU           string       `json:"sku"`
			Price         decimalPrice `json:"price"`
			Available     bool         `json:"available"`
			FeaturedImage *imageRef    `json:"featured_image"`
		} `json:"variants"`
	} `json:"products"`
}

// price is a price in cents, decoded per endpoint by the two types below:
// each endpoint has one unit, whatever the JSON type it arrives in, so a
// quoted "12900" in a .js body is still 129.00 and never 12900.00.
type price struct {
	V  int64
	OK bool
}

// minorUnits is the integer minor units of products/{handle}.js (12900).
type minorUnits struct{ price }

// decimalPrice is the decimal string of products.json ("129.00").
type decimalPrice struct{ price }

// maxMinor bounds prices (10^11 currency units): beyond it a value is
// garbage, and the bound keeps float conversions exact.
const maxMinor = 1e13

// jsonScalar returns b without quotes, or "" for null and unreadable
// strings. A price of the wrong shape counts as unknown: one odd field must
// not fail the whole product.
func jsonScalar(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(s)
	}
	if string(b) == "null" {
		return ""
	}
	return string(b)
}

func (m *minorUnits) UnmarshalJSON(b []byte) error {
	m.price = price{}
	f, err := strconv.ParseFloat(jsonScalar(b), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f >= maxMinor || f != math.Trunc(f) {
		return nil
	}
	m.V, m.OK = int64(f), true
	return nil
}

func (d *decimalPrice) UnmarshalJSON(b []byte) error {
	d.price = price{}
	d.V, d.OK = parseDecimal(jsonScalar(b))
	return nil
}

// parseDecimal reads "29.99", "30", "30.5" or "29.990" into minor units.
func parseDecimal(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || len(intPart) > 11 || !textutil.IsDigits(intPart) || (hasDot && (frac == "" || !textutil.IsDigits(frac))) {
		return 0, false
	}
	if len(frac) > 2 {
		if strings.Trim(frac[2:], "0") != "" {
			return 0, false // sub-cent precision: not a price we can pass on exactly
		}
		frac = frac[:2]
	}
	for len(frac) < 2 {
		frac += "0"
	}
	v, err := strconv.ParseInt(intPart+frac, 10, 64)
	if err != nil || v >= maxMinor {
		return 0, false
	}
	return v, true
}

// formatMinor renders cents as a plain decimal: 12900 → "129.00".
func formatMinor(v int64) string {
	b := strconv.AppendInt(nil, v/100, 10)
	b = append(b, '.', byte('0'+v%100/10), byte('0'+v%10))
	return string(b)
}

func (m price) set(s *string, f *float64) {
	if m.OK {
		*s, *f = formatMinor(m.V), float64(m.V)/100
	}
}

// ParseProductJS reads GET /products/{handle}.js. It is a pure function of
// its input and fails, naming the field, when the body is not a product:
// no id, no variants, or a variant without an id.
func ParseProductJS(body []byte) (Product, error) {
	var r rawJS
	if err := decoder.Unmarshal(bytes.TrimSpace(body), &r); err != nil {
		return Product{}, fmt.Errorf("decode product .js: %w", monitors.ShortJSONError(err))
	}
	if r.ID <= 0 {
		return Product{}, errors.New("product .js: id missing or not positive")
	}
	p := Product{
		ID:     r.ID,
		Title:  monitors.CleanText(r.Title),
		Handle: strings.TrimSpace(r.Handle),
		Vendor: monitors.CleanText(r.Vendor),
		Image:  monitors.AbsURL(r.FeaturedImage),
	}
	for i := 0; p.Image == "" && i < len(r.Images); i++ {
		p.Image = monitors.AbsURL(r.Images[i])
	}
	if len(r.Variants) == 0 {
		return Product{}, fmt.Errorf("product .js %d: no variants", r.ID)
	}
	p.Variants = make([]Variant, len(r.Variants))
	for i, rv := range r.Variants {
		if rv.ID <= 0 {
			return Product{}, fmt.Errorf("product .js %d: variants[%d].id missing or not positive", r.ID, i)
		}
		v := Variant{ID: rv.ID, Title: monitors.CleanText(rv.Title), SKU: strings.TrimSpace(rv.SKU), Available: rv.Available}
		rv.Price.set(&v.Price, &v.PriceValue)
		if rv.FeaturedImage != nil {
			v.Image = monitors.AbsURL(rv.FeaturedImage.Src)
		}
		p.Variants[i] = v
	}
	r.Price.set(&p.Price, &p.PriceValue)
	p.finish()
	return p, nil
}

// ParseProductsJSON reads one page of GET /products.json?limit=250&page=N.
// An empty page returns an empty slice and no error (the end of paging);
// a body without a "products" array is ErrNotProducts. Products or
// variants without an id are skipped: one broken entry must not hide the
// rest of the catalog.
func ParseProductsJSON(body []byte) ([]Product, error) {
	var r rawProducts
	if err := decoder.Unmarshal(bytes.TrimSpace(body), &r); err != nil {
		return nil, fmt.Errorf("decode products.json: %w", monitors.ShortJSONError(err))
	}
	if r.Products == nil {
		return nil, fmt.Errorf("products.json: %w", ErrNotProducts)
	}
	out := make([]Product, 0, len(*r.Products))
	for _, rp := range *r.Products {
		if rp.ID <= 0 {
			continue
		}
		p := Product{ID: rp.ID, Title: monitors.CleanText(rp.Title), Handle: strings.TrimSpace(rp.Handle), Vendor: monitors.CleanText(rp.Vendor)}
		for i := 0; p.Image == "" && i < len(rp.Images); i++ {
			p.Image = monitors.AbsURL(rp.Images[i].Src)
		}
		p.Variants = make([]Variant, 0, len(rp.Variants))
		for _, rv := range rp.Variants {
			if rv.ID <= 0 {
				continue
			}
			v := Variant{ID: rv.ID, Title: monitors.CleanText(rv.Title), SKU: strings.TrimSpace(rv.SKU), Available: rv.Available}
			rv.Price.set(&v.Price, &v.PriceValue)
			if rv.FeaturedImage != nil {
				v.Image = monitors.AbsURL(rv.FeaturedImage.Src)
			}
			p.Variants = append(p.Variants, v)
		}
		p.finish()
		out = append(out, p)
	}
	return out, nil
}

// finish derives Available and, when the product has no price of its own,
// the lowest variant price.
func (p *Product) finish() {
	low := int64(-1)
	for _, v := range p.Variants {
		p.Available = p.Available || v.Available
		if v.Price != "" {
			if c := int64(math.Round(v.PriceValue * 100)); low < 0 || c < low {
				low = c
			}
		}
	}
	if p.Price == "" && low >= 0 {
		p.Price, p.PriceValue = formatMinor(low), float64(low)/100
	}
}

// throttleText is Shopify's page for clients sending too many requests.
const throttleText = "This page is temporarily unavailable because a device from your location is sending large amounts of web requests"

// DetectThrottle reports whether Shopify refused the request for its rate
// (HTTP 429 or 430, or the throttle page with any status), and why.
func DetectThrottle(status int, body []byte) (reason string, throttled bool) {
	switch status {
	case 429:
		return "HTTP 429 Too Many Requests", true
	case 430:
		return "HTTP 430 (Shopify security rejection)", true
	}
	if bytes.Contains(body, []byte(throttleText)) {
		return "throttle page: \"temporarily unavailable ... large amounts of web requests\"", true
	}
	return "", false
}
