package sim

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/stellarfeed/stellarfeed/monitors/walmart"
)

// Site names used in the catalog and the control API.
const (
	SiteAmazon  = "amazon"
	SiteWalmart = "walmart"
	SiteShopify = "shopify"
)

// SoldBy values: who holds the offer.
const (
	SoldByAmazon     = "amazon"
	SoldByWalmart    = "walmart"
	SoldByThirdParty = "thirdparty"
)

// Catalog is everything the simulator sells.
type Catalog struct {
	Products []Product `json:"products"`
}

// Product is one simulated product page. Which fields matter depends on
// Site: Amazon uses Region (a Stellar region code) and SKU (the ASIN);
// Walmart uses Region (USA or CA) and SKU (the item id); Shopify uses Store
// (the store's host name), Handle and Variants, with SKU the numeric
// product id (generated when empty).
type Product struct {
	Site   string `json:"site"`
	Region string `json:"region,omitempty"`
	SKU    string `json:"sku,omitempty"`

	Store    string    `json:"store,omitempty"`
	Handle   string    `json:"handle,omitempty"`
	Variants []Variant `json:"variants,omitempty"`
	Vendor   string    `json:"vendor,omitempty"`
	Tags     []string  `json:"tags,omitempty"`

	Title string `json:"title"`
	// Price is a plain decimal ("129.99"; "12800" for yen).
	Price    string `json:"price"`
	Currency string `json:"currency,omitempty"`
	// Image is an absolute https URL on the retailer's image host.
	Image   string `json:"image,omitempty"`
	InStock bool   `json:"inStock"`
	// SoldBy is amazon, walmart or thirdparty. A third-party offer uses
	// MerchantID/MerchantName when set, else ones derived from the SKU.
	SoldBy       string `json:"soldBy,omitempty"`
	MerchantID   string `json:"merchantId,omitempty"`
	MerchantName string `json:"merchantName,omitempty"`
	// OfferID is Amazon's offer listing id in its decoded form (base64
	// text; pages show it URL-encoded) or Walmart's 32 upper-case hex id.
	// Generated from the server's seed when empty.
	OfferID string `json:"offerId,omitempty"`
}

// Variant is one Shopify variant.
type Variant struct {
	ID         int64  `json:"id"`
	Title      string `json:"title"`
	SKU        string `json:"sku,omitempty"`
	PriceCents int64  `json:"priceCents"`
	InStock    bool   `json:"inStock"`
}

var (
	asinRe      = regexp.MustCompile(`^[A-Z0-9]{10}$`)
	handleRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,254}$`)
	hostRe      = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
	priceRe     = regexp.MustCompile(`^[0-9]{1,9}(\.[0-9]{1,2})?$`)
	walmartOfRe = regexp.MustCompile(`^[0-9A-F]{32}$`)
	digitsRe    = regexp.MustCompile(`^[0-9]{1,18}$`)
)

// Validate reports every broken product, each error naming the product by
// index and the offending field.
func (c Catalog) Validate() error {
	var errs []error
	seen := map[string]int{}
	for i := range c.Products {
		p := &c.Products[i]
		if err := p.validate(); err != nil {
			errs = append(errs, fmt.Errorf("products[%d]: %w", i, err))
			continue
		}
		k := p.key()
		if j, dup := seen[k]; dup {
			errs = append(errs, fmt.Errorf("products[%d]: duplicate of products[%d] (%s)", i, j, k))
			continue
		}
		seen[k] = i
	}
	return errors.Join(errs...)
}

func (p *Product) validate() error {
	if strings.TrimSpace(p.Title) == "" {
		return errors.New("title: empty")
	}
	if p.Image != "" {
		u, err := url.Parse(p.Image)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("image: %q is not an absolute http(s) URL", p.Image)
		}
	}
	switch p.Site {
	case SiteAmazon:
		if _, ok := amazonRegionByCode(p.Region); !ok {
			return fmt.Errorf("region: %q is not one of %s", p.Region, amazonRegionCodes())
		}
		if !asinRe.MatchString(p.SKU) {
			return fmt.Errorf("sku: %q is not an ASIN (10 upper-case letters or digits)", p.SKU)
		}
		if err := checkPrice(p.Price); err != nil {
			return err
		}
		switch p.SoldBy {
		case "", SoldByAmazon, SoldByThirdParty:
		default:
			return fmt.Errorf("soldBy: %q is not amazon or thirdparty", p.SoldBy)
		}
	case SiteWalmart:
		switch p.Region {
		case "USA":
			if !walmart.IsItemID(walmart.RegionUSA, p.SKU) {
				return fmt.Errorf("sku: %q is not a Walmart USA item id (digits)", p.SKU)
			}
		case "CA":
			if !walmart.IsItemID(walmart.RegionCA, p.SKU) {
				return fmt.Errorf("sku: %q is not a Walmart CA item id (12 letters or digits, or 13 digits)", p.SKU)
			}
		default:
			return fmt.Errorf("region: %q is not USA or CA", p.Region)
		}
		if err := checkPrice(p.Price); err != nil {
			return err
		}
		if p.OfferID != "" && !walmartOfRe.MatchString(p.OfferID) {
			return fmt.Errorf("offerId: %q is not 32 upper-case hex digits", p.OfferID)
		}
		switch p.SoldBy {
		case "", SoldByWalmart, SoldByThirdParty:
		default:
			return fmt.Errorf("soldBy: %q is not walmart or thirdparty", p.SoldBy)
		}
	case SiteShopify:
		if !hostRe.MatchString(p.Store) {
			return fmt.Errorf("store: %q is not a lower-case host name", p.Store)
		}
		if !handleRe.MatchString(p.Handle) {
			return fmt.Errorf("handle: %q is not a Shopify handle (lower-case letters, digits, dashes)", p.Handle)
		}
		if p.SKU != "" && !digitsRe.MatchString(p.SKU) {
			return fmt.Errorf("sku: %q is not a numeric Shopify product id", p.SKU)
		}
		if len(p.Variants) == 0 {
			if err := checkPrice(p.Price); err != nil {
				return err
			}
		}
		ids := map[int64]bool{}
		for j, v := range p.Variants {
			if v.ID < 0 {
				return fmt.Errorf("variants[%d].id: %d is negative", j, v.ID)
			}
			if v.ID != 0 && ids[v.ID] {
				return fmt.Errorf("variants[%d].id: %d repeats", j, v.ID)
			}
			ids[v.ID] = true
			if v.PriceCents < 0 {
				return fmt.Errorf("variants[%d].priceCents: %d is negative", j, v.PriceCents)
			}
		}
	default:
		return fmt.Errorf("site: %q is not amazon, walmart or shopify", p.Site)
	}
	return nil
}

func checkPrice(s string) error {
	if !priceRe.MatchString(s) {
		return fmt.Errorf("price: %q is not a plain decimal such as \"129.99\"", s)
	}
	return nil
}

// key identifies a product for lookups: site, region (the store host for
// Shopify) and SKU (the handle for Shopify).
func (p *Product) key() string {
	switch p.Site {
	case SiteShopify:
		return productKey(p.Site, p.Store, p.Handle)
	default:
		return productKey(p.Site, p.Region, p.SKU)
	}
}

func productKey(site, region, sku string) string {
	return site + "|" + region + "|" + sku
}

// clone deep-copies p so callers never share slices with the server.
func (p Product) clone() Product {
	p.Variants = append([]Variant(nil), p.Variants...)
	p.Tags = append([]string(nil), p.Tags...)
	return p
}

// slugify turns a title into a URL slug the way Walmart does (lower-case
// words joined by dashes).
func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= 80 {
			break
		}
	}
	if b.Len() == 0 {
		return "product"
	}
	return b.String()
}

// ParseCatalog decodes a catalog file (JSON, the shape GET /_sim/products
// returns) strictly: unknown fields are errors, and every product is
// validated, errors naming products by index and field.
func ParseCatalog(data []byte) (Catalog, error) {
	var c Catalog
	if err := decodeStrict(data, &c); err != nil {
		return Catalog{}, fmt.Errorf("catalog: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Catalog{}, fmt.Errorf("catalog: %w", err)
	}
	return c, nil
}
