package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a simulator. The zero value serves an empty catalog
// with no faults and no flipping.
type Config struct {
	Catalog Catalog
	// Seed drives offer ids, the flipper's choices and fault draws.
	Seed uint64
	// FlipEvery flips the stock of one seeded-random product (a Shopify
	// variant) per tick while Run runs; 0 disables the flipper.
	FlipEvery time.Duration
	// NewOfferOnRestock gives an Amazon product a new offer listing id each
	// time it comes back in stock, like a new offer on the real site.
	NewOfferOnRestock bool
	Faults            Faults
	// SellerIDs replaces Amazon's own merchant id per region code (the BE
	// and PL ids in the facts are the least certain); keep it in step with
	// the amazon monitor's seller-id config.
	SellerIDs map[string]string
	Logger    *slog.Logger
}

// Validate reports a broken catalog or fault config, naming the field.
func (c Config) Validate() error {
	var errs []error
	if err := c.Catalog.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("catalog: %w", err))
	}
	if err := c.Faults.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("faults: %w", err))
	}
	for code, id := range c.SellerIDs {
		if _, ok := amazonRegionByCode(code); !ok {
			errs = append(errs, fmt.Errorf("sellerIds: region %q is not one of %s", code, amazonRegionCodes()))
		} else if !sellerIDRe.MatchString(id) {
			errs = append(errs, fmt.Errorf("sellerIds.%s: %q is not a merchant id (8-20 upper-case letters or digits)", code, id))
		}
	}
	if c.FlipEvery < 0 {
		errs = append(errs, fmt.Errorf("flipEvery: %v is negative", c.FlipEvery))
	}
	return errors.Join(errs...)
}

// Server is the simulator. It uses net/http: it is a test fixture for
// monitors, not part of the hot path, and the standard server is the
// least surprising thing to point an HTTP client at.
type Server struct {
	log       *slog.Logger
	flipEvery time.Duration
	newOffer  bool
	handler   http.Handler
	http      *http.Server
	sellerIDs map[string]string // region code → Amazon's merchant id override

	closing   chan struct{}
	closeOnce sync.Once
	// slowWaiting counts requests held by a slow fault (for tests and
	// logs: Shutdown releases them).
	slowWaiting atomic.Int64

	// mu guards everything below: product state, faults and the seeded
	// generator, which is not safe for concurrent use.
	mu       sync.Mutex
	rng      *rand.Rand
	products []Product
	index    map[string]int   // productKey → products index
	ids      map[string]int   // Shopify productKey(site, store, product id) → index
	stores   map[string][]int // Shopify store host → products, catalog order
	faults   Faults
}

// New builds a simulator. Products and faults that fail validation are
// logged and left out (call Config.Validate first to refuse them instead);
// missing offer ids, Shopify ids and variants are generated from Seed.
func New(cfg Config) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		log:       log.With("component", "sim"),
		flipEvery: cfg.FlipEvery,
		newOffer:  cfg.NewOfferOnRestock,
		closing:   make(chan struct{}),
		rng:       rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9E3779B97F4A7C15)),
		index:     map[string]int{},
		ids:       map[string]int{},
		stores:    map[string][]int{},
	}
	s.sellerIDs = map[string]string{}
	for code, id := range cfg.SellerIDs {
		if _, ok := amazonRegionByCode(code); ok && sellerIDRe.MatchString(id) {
			s.sellerIDs[code] = id
		} else {
			s.log.Error("seller id ignored", "region", code, "id", id)
		}
	}
	if err := cfg.Faults.Validate(); err != nil {
		s.log.Error("faults ignored", "err", err)
	} else {
		s.faults = cfg.Faults
	}
	for i, p := range cfg.Catalog.Products {
		p = p.clone()
		if err := p.validate(); err != nil {
			s.log.Error("product ignored", "index", i, "err", err)
			continue
		}
		s.normalize(&p)
		k := p.key()
		if _, dup := s.index[k]; dup {
			s.log.Error("product ignored", "index", i, "err", "duplicate "+k)
			continue
		}
		s.index[k] = len(s.products)
		if p.Site == SiteShopify {
			// The product id also finds the product (a handle wins).
			s.ids[productKey(p.Site, p.Store, p.SKU)] = len(s.products)
			s.stores[p.Store] = append(s.stores[p.Store], len(s.products))
		}
		s.products = append(s.products, p)
	}
	s.handler = s.routes()
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return s
}

var sellerIDRe = regexp.MustCompile(`^[A-Z0-9]{8,20}$`)

// amazonRegion returns a copy of the region served under domain, with the
// configured seller id applied.
func (s *Server) amazonRegion(domain string) (*amazonRegion, bool) {
	r, ok := amazonRegionByDomain(domain)
	if !ok {
		return nil, false
	}
	c := *r
	if id, ok := s.sellerIDs[c.Code]; ok {
		c.SellerID = id
	}
	return &c, true
}

// normalize fills defaults and generated ids. Called with validated input.
func (s *Server) normalize(p *Product) {
	p.Title = strings.TrimSpace(p.Title)
	switch p.Site {
	case SiteAmazon:
		if p.SoldBy == "" {
			p.SoldBy = SoldByAmazon
		}
		r, _ := amazonRegionByCode(p.Region)
		if p.Currency == "" {
			p.Currency = r.Currency
		}
		if p.OfferID == "" {
			p.OfferID = newAmazonOfferID(s.rng)
		}
	case SiteWalmart:
		if p.SoldBy == "" {
			p.SoldBy = SoldByWalmart
		}
		if p.Currency == "" {
			p.Currency = map[bool]string{true: "CAD", false: "USD"}[p.Region == "CA"]
		}
		if p.OfferID == "" {
			p.OfferID = newWalmartOfferID(s.rng)
		}
	case SiteShopify:
		if p.SKU == "" {
			p.SKU = strconv.FormatUint(7_000_000_000_000+hash64(p.Store, p.Handle)%999_999_999_999, 10)
		}
		if p.Currency == "" {
			p.Currency = "USD"
		}
		if len(p.Variants) == 0 {
			p.Variants = []Variant{{Title: "Default Title", PriceCents: centsOf(p.Price), InStock: p.InStock}}
		}
		for j := range p.Variants {
			v := &p.Variants[j]
			if v.ID == 0 {
				v.ID = 40_000_000_000_000 + int64(hash64(p.Store, p.Handle, strconv.Itoa(j))%9_999_999_999_999)
			}
			if v.Title == "" {
				v.Title = "Default Title"
			}
		}
		lo, _ := shopifyPriceRange(p)
		p.Price = decimalOf(lo)
		p.InStock = shopifyAvailable(p)
	}
}

// Handler serves the retailer pages and the /_sim/ control API.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve accepts connections on ln until Shutdown; it returns
// http.ErrServerClosed after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(ln)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("sim: serve %s: %w", ln.Addr(), err)
	}
	return err
}

// Shutdown stops the listeners, cuts short slow-fault delays and waits for
// requests in flight until ctx ends. It also ends Run.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.closing) })
	if err := s.http.Shutdown(ctx); err != nil {
		return fmt.Errorf("sim: shutdown: %w", err)
	}
	return nil
}

// Run flips stock every FlipEvery until ctx ends or Shutdown is called.
// It returns nil; with FlipEvery 0 it just waits.
func (s *Server) Run(ctx context.Context) error {
	if s.flipEvery <= 0 {
		select {
		case <-ctx.Done():
		case <-s.closing:
		}
		return nil
	}
	t := time.NewTicker(s.flipEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.closing:
			return nil
		case <-t.C:
			s.Flip()
		}
	}
}

// Flip changes the stock of one seeded-random product (for Shopify, of one
// of its variants) and returns the product's new state.
func (s *Server) Flip() (Product, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.products) == 0 {
		return Product{}, false
	}
	p := &s.products[s.rng.IntN(len(s.products))]
	if p.Site == SiteShopify {
		v := &p.Variants[s.rng.IntN(len(p.Variants))]
		v.InStock = !v.InStock
		p.InStock = shopifyAvailable(p)
		s.log.Info("stock flipped", "site", p.Site, "store", p.Store, "handle", p.Handle, "variant", v.ID, "inStock", v.InStock)
		return p.clone(), true
	}
	s.setStockLocked(p, !p.InStock)
	s.log.Info("stock flipped", "site", p.Site, "region", p.Region, "sku", p.SKU, "inStock", p.InStock)
	return p.clone(), true
}

func (s *Server) setStockLocked(p *Product, in bool) {
	if in && !p.InStock && p.Site == SiteAmazon && s.newOffer {
		p.OfferID = newAmazonOfferID(s.rng)
	}
	p.InStock = in
}

// ErrNotFound is returned for products not in the catalog.
var ErrNotFound = errors.New("no such product")

// SetStock sets a product's stock. For Shopify, region is the store host
// and sku the handle or product id (all variants) or a variant id (that
// variant only).
func (s *Server) SetStock(site, region, sku string, inStock bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.lookup(site, region, sku); ok {
		p := &s.products[i]
		if p.Site == SiteShopify {
			for j := range p.Variants {
				p.Variants[j].InStock = inStock
			}
			p.InStock = inStock
			return nil
		}
		s.setStockLocked(p, inStock)
		return nil
	}
	if site == SiteShopify {
		if id, err := strconv.ParseInt(sku, 10, 64); err == nil {
			for _, i := range s.stores[region] {
				p := &s.products[i]
				for j := range p.Variants {
					if p.Variants[j].ID == id {
						p.Variants[j].InStock = inStock
						p.InStock = shopifyAvailable(p)
						return nil
					}
				}
			}
		}
	}
	return fmt.Errorf("sim: set stock of %s/%s/%s: %w", site, region, sku, ErrNotFound)
}

// SetVariantStock sets one variant of a Shopify product (store host,
// handle or product id).
func (s *Server) SetVariantStock(store, handle string, variantID int64, inStock bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.lookup(SiteShopify, store, handle)
	if !ok {
		return fmt.Errorf("sim: set stock of shopify/%s/%s: %w", store, handle, ErrNotFound)
	}
	p := &s.products[i]
	for j := range p.Variants {
		if p.Variants[j].ID == variantID {
			p.Variants[j].InStock = inStock
			p.InStock = shopifyAvailable(p)
			return nil
		}
	}
	return fmt.Errorf("sim: set stock of shopify/%s/%s variant %d: %w", store, handle, variantID, ErrNotFound)
}

// Product returns a copy of a product's current state. For Shopify, region
// is the store host and sku the handle or product id.
func (s *Server) Product(site, region, sku string) (Product, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.lookup(site, region, sku)
	if !ok {
		return Product{}, false
	}
	return s.products[i].clone(), true
}

// lookup finds a product by key, then by Shopify product id. Callers hold
// s.mu.
func (s *Server) lookup(site, region, sku string) (int, bool) {
	k := productKey(site, region, sku)
	if i, ok := s.index[k]; ok {
		return i, true
	}
	i, ok := s.ids[k]
	return i, ok
}

// Products returns copies of every product, in catalog order.
func (s *Server) Products() []Product {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Product, len(s.products))
	for i := range s.products {
		out[i] = s.products[i].clone()
	}
	return out
}

// SetFaults replaces the fault rates after validating them.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("sim: faults: %w", err)
	}
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
	return nil
}

// Faults returns the current fault rates.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// draw picks the fault for one request and, for truncation, the cut
// point in [n/4, 3n/4]. No draw is made while all rates are zero, so
// turning faults off leaves the flipper's sequence alone.
func (s *Server) draw() (fault, time.Duration, func(n int) int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.faults.any() {
		return faultNone, 0, nil
	}
	k := s.faults.choose(s.rng.Float64())
	if k != faultTruncated {
		return k, s.faults.SlowDelay, nil
	}
	u := s.rng.Float64()
	return k, 0, func(n int) int { return n/4 + int(u*float64(n/2)) }
}
