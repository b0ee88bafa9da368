package sim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// page is one rendered answer, before faults.
type page struct {
	status   int
	ctype    string
	body     []byte
	location string
}

const (
	ctypeHTML = "text/html;charset=UTF-8"
	ctypeJS   = "application/javascript; charset=utf-8"
	ctypeJSON = "application/json; charset=utf-8"
)

// siteKind says which retailer a domain belongs to.
type siteKind int

const (
	kindNone siteKind = iota
	kindAmazon
	kindWalmart
	kindShopify
)

func (s *Server) routes() http.Handler {
	ctl := s.controlRoutes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_sim" || strings.HasPrefix(r.URL.Path, "/_sim/") {
			ctl.ServeHTTP(w, r)
			return
		}
		s.serveSite(w, r)
	})
}

// kindOf classifies a domain. Shopify stores are the hosts in the catalog.
func (s *Server) kindOf(domain string) siteKind {
	if _, ok := amazonRegionByDomain(domain); ok {
		return kindAmazon
	}
	if domain == walmartUSDomain || domain == walmartCADomain {
		return kindWalmart
	}
	s.mu.Lock()
	_, ok := s.stores[domain]
	s.mu.Unlock()
	if ok {
		return kindShopify
	}
	return kindNone
}

// resolve finds the retailer domain: the first path segment when it is a
// known domain (/www.amazon.de/dp/...), else the Host header. It returns
// the path below the domain and the prefix that was stripped.
func (s *Server) resolve(r *http.Request) (domain, rest, prefix string, kind siteKind) {
	p := r.URL.Path
	if seg, tail, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/"); seg != "" {
		if k := s.kindOf(seg); k != kindNone {
			return seg, "/" + tail, "/" + seg, k
		}
	}
	host := r.Host
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	host = strings.ToLower(host)
	if k := s.kindOf(host); k != kindNone {
		return host, p, "", k
	}
	return "", "", "", kindNone
}

func (s *Server) serveSite(w http.ResponseWriter, r *http.Request) {
	domain, rest, prefix, kind := s.resolve(r)
	if kind == kindNone {
		http.Error(w, "sim: no simulated retailer at this path or host; try /www.amazon.com/dp/{ASIN} or GET /_sim/products", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	var pg page
	switch kind {
	case kindAmazon:
		pg = s.amazonPage(domain, rest, q)
	case kindWalmart:
		if rest == "/blocked" {
			// The redirect target is the block page itself: never faulted.
			s.write(w, r, page{status: http.StatusOK, ctype: ctypeHTML, body: renderWalmartRobot()}, faultNone)
			return
		}
		pg = s.walmartPage(domain, rest)
	case kindShopify:
		pg = s.shopifyPage(domain, rest, q)
	}

	k, delay, cut := s.draw()
	switch k {
	case fault429, fault503, faultCaptcha, faultBlocked:
		pg = faultPage(k, kind, domain, prefix, rest, r.URL.RawQuery)
	case faultSlow:
		s.slowWaiting.Add(1)
		defer s.slowWaiting.Add(-1)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.closing:
			t.Stop()
		}
	case faultTruncated:
		pg.body = pg.body[:cut(len(pg.body))]
	}
	s.write(w, r, pg, k)
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, pg page, k fault) {
	h := w.Header()
	h.Set("Content-Type", pg.ctype)
	h.Set("Content-Length", strconv.Itoa(len(pg.body)))
	h.Set("Cache-Control", "no-cache, no-store")
	if pg.location != "" {
		h.Set("Location", pg.location)
	}
	if k != faultNone {
		// For people and tests reading traces; monitors must not use it.
		h.Set("X-Sim-Fault", k.String())
	}
	w.WriteHeader(pg.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(pg.body)
	}
}

// faultPage renders the retailer's answer for an injected fault.
func faultPage(k fault, kind siteKind, domain, prefix, rest, rawQuery string) page {
	switch kind {
	case kindAmazon:
		r, _ := amazonRegionByDomain(domain)
		switch k {
		case fault429:
			return page{http.StatusTooManyRequests, ctypeHTML, renderAmazonTooMany(r), ""}
		case fault503:
			return page{http.StatusServiceUnavailable, ctypeHTML, renderAmazonAutomated(r), ""}
		case faultCaptcha:
			return page{http.StatusOK, ctypeHTML, renderAmazonCaptcha(r), ""}
		default:
			return page{http.StatusForbidden, ctypeHTML, renderAmazonForbidden(r), ""}
		}
	case kindWalmart:
		switch k {
		case fault429:
			return page{http.StatusTooManyRequests, ctypeHTML, renderWalmartRobot(), ""}
		case fault503:
			return page{http.StatusServiceUnavailable, ctypeHTML, renderWalmartUnavailable(), ""}
		case faultCaptcha:
			return page{http.StatusOK, ctypeHTML, renderWalmartRobot(), ""}
		default:
			uri := rest
			if rawQuery != "" {
				uri += "?" + rawQuery
			}
			return page{http.StatusFound, ctypeHTML, []byte("Redirecting to blocked page\n"), walmartBlockedLocation(prefix, uri)}
		}
	default:
		switch k {
		case fault429:
			return page{http.StatusTooManyRequests, ctypeHTML, renderShopifyThrottle(), ""}
		case fault503:
			return page{http.StatusServiceUnavailable, ctypeHTML, renderShopifyUnavailable(), ""}
		default:
			return page{430, ctypeHTML, renderShopifyThrottle(), ""}
		}
	}
}

// amazonPage serves /dp/{ASIN}, /{slug}/dp/{ASIN}, /gp/product/{ASIN} and
// the AOD fragment /gp/product/ajax...?asin= or /gp/aod/ajax?asin=.
func (s *Server) amazonPage(domain, rest string, q url.Values) page {
	r, _ := s.amazonRegion(domain)
	notFound := page{http.StatusNotFound, ctypeHTML, renderAmazonNotFound(r), ""}
	if strings.HasPrefix(rest, "/gp/product/ajax") || strings.HasPrefix(rest, "/gp/aod/ajax") {
		p, ok := s.Product(SiteAmazon, r.Code, q.Get("asin"))
		if !ok {
			return notFound
		}
		pageNo, err := strconv.Atoi(q.Get("pageno"))
		if err != nil || pageNo < 1 {
			pageNo = 1
		}
		return page{http.StatusOK, ctypeHTML, renderAmazonAOD(r, &p, pageNo), ""}
	}
	asin := ""
	if i := strings.Index(rest, "/dp/"); i >= 0 {
		asin = rest[i+len("/dp/"):]
	} else if t, ok := strings.CutPrefix(rest, "/gp/product/"); ok {
		asin = t
	}
	asin, _, _ = strings.Cut(asin, "/")
	p, ok := s.Product(SiteAmazon, r.Code, asin)
	if !ok {
		return notFound
	}
	return page{http.StatusOK, ctypeHTML, renderAmazonProduct(r, &p, q.Get("smid")), ""}
}

// walmartPage serves /ip/{id} and /ip/{slug}/{id} (USA) and /en/ip/...
// (CA). The slug is ignored, as on the real site.
func (s *Server) walmartPage(domain, rest string) page {
	region, base := "USA", "/ip/"
	if domain == walmartCADomain {
		region, base = "CA", "/en/ip/"
	}
	notFound := page{http.StatusNotFound, ctypeHTML, renderWalmartNotFound(region), ""}
	t, ok := strings.CutPrefix(rest, base)
	if !ok {
		return notFound
	}
	segs := strings.Split(strings.Trim(t, "/"), "/")
	if len(segs) > 2 || segs[len(segs)-1] == "" {
		return notFound
	}
	p, ok := s.Product(SiteWalmart, region, segs[len(segs)-1])
	if !ok {
		return notFound
	}
	return page{http.StatusOK, ctypeHTML, renderWalmartProduct(&p), ""}
}

// Shopify's products.json paging: default and largest page sizes.
const (
	shopifyDefaultLimit = 30
	shopifyMaxLimit     = 250
)

// shopifyPage serves /products/{handle}.js and /products.json.
func (s *Server) shopifyPage(store, rest string, q url.Values) page {
	notFound := page{http.StatusNotFound, ctypeHTML, renderShopifyNotFound(store), ""}
	if rest == "/products.json" {
		limit, err := strconv.Atoi(q.Get("limit"))
		if err != nil || limit <= 0 {
			limit = shopifyDefaultLimit
		}
		limit = min(limit, shopifyMaxLimit)
		pageNo, err := strconv.Atoi(q.Get("page"))
		if err != nil || pageNo < 1 {
			pageNo = 1
		}
		s.mu.Lock()
		idx := s.stores[store]
		var ps []Product
		if from := (pageNo - 1) * limit; from < len(idx) && pageNo < 1<<20 {
			for _, i := range idx[from:min(from+limit, len(idx))] {
				ps = append(ps, s.products[i].clone())
			}
		}
		s.mu.Unlock()
		return page{http.StatusOK, ctypeJSON, renderShopifyProductsJSON(ps), ""}
	}
	t, ok := strings.CutPrefix(rest, "/products/")
	if !ok {
		return notFound
	}
	handle, ok := strings.CutSuffix(t, ".js")
	if !ok || strings.Contains(handle, "/") {
		return notFound
	}
	p, ok := s.Product(SiteShopify, store, handle)
	if !ok || p.Handle != handle {
		return notFound
	}
	return page{http.StatusOK, ctypeJS, renderShopifyJS(&p), ""}
}
