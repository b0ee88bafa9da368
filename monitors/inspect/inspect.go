// Package inspect runs one monitor check and explains it: what the page
// said, what decided the outcome, and the Stellar ping the engine would
// send. `stellarfeed check` prints its Report, and the real-page corpus
// tests read every saved page through it, so a cook group debugging a SKU
// sees exactly what the tests check.
package inspect

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// Report is one check, explained. Its JSON is what `stellarfeed check
// --json` prints.
type Report struct {
	// Outcome: in_stock, out_of_stock, blocked, unknown_layout or error.
	Outcome string `json:"outcome"`
	// Reason says why (for blocked: the marker that matched).
	Reason string `json:"reason,omitempty"`
	// Price to pay as a plain decimal, and its ISO currency.
	Price    string `json:"price"`
	Currency string `json:"currency"`
	// Merchant is the seller id (or name where the site has no id);
	// SoldByAmazon reports the retailer itself (Amazon, or Walmart for
	// walmart targets).
	Merchant     string `json:"merchant"`
	SoldByAmazon bool   `json:"soldByAmazon"`
	OfferID      string `json:"offerId"`
	Image        string `json:"image"`
	Title        string `json:"title"`
	// Condition of the offer shown: new, used, renewed, … ("" where the
	// page shows none).
	Condition string `json:"condition,omitempty"`
	// Evidence names the element, field or marker that decided.
	Evidence string `json:"evidence"`
	// Ping is what the engine would broadcast on a restock, validated
	// against the Stellar rules; nil unless in stock. PingError explains
	// a ping that would not be sent, or details that would be dropped.
	Ping      *stellar.Ping `json:"ping"`
	PingError string        `json:"pingError,omitempty"`
	// Requests lists the URLs the monitor asked for, in order.
	Requests []string `json:"requests"`
}

// Run checks t once with m through f and explains the result. rules are
// the Stellar rules pings are validated against (the config's).
func Run(ctx context.Context, m monitors.Monitor, t *monitors.Target, f monitors.Fetcher, rules stellar.Rules) Report {
	rec := &recorder{f: f}
	obs := m.Check(ctx, t, rec)
	rep := Report{
		Outcome:  obs.Outcome.String(),
		Reason:   obs.Reason,
		Evidence: obs.Evidence,
		Requests: rec.urls(),
	}
	o := obs.Seen
	if obs.Outcome == monitors.InStock && len(obs.Offers) > 0 {
		o = obs.Offers[0]
	}
	rep.Price, rep.Currency = o.Price, o.Currency
	rep.Merchant, rep.SoldByAmazon = o.Merchant, o.SoldByRetailer
	rep.OfferID, rep.Image, rep.Title, rep.Condition = o.OfferID, o.Image, o.Title, o.Condition
	if obs.Outcome == monitors.InStock && len(obs.Offers) > 0 {
		rep.Ping, rep.PingError = ping(rules, obs.StellarSite, t.Region, obs.Offers[0])
	}
	return rep
}

// ping is what the engine would send for o (engine.PingFor).
func ping(rules stellar.Rules, site, region string, o monitors.Offer) (*stellar.Ping, string) {
	p, dropped, err := engine.PingFor(rules, site, region, o)
	switch {
	case err != nil:
		return nil, "not sent: " + err.Error()
	case dropped != nil:
		return &p, "details dropped: " + dropped.Error()
	}
	return &p, ""
}

// recorder notes the URLs a check asks for.
type recorder struct {
	f    monitors.Fetcher
	mu   sync.Mutex
	seen []string
}

func (r *recorder) Fetch(ctx context.Context, req *monitors.Request) (*monitors.Response, error) {
	r.mu.Lock()
	r.seen = append(r.seen, req.URL)
	r.mu.Unlock()
	return r.f.Fetch(ctx, req)
}

func (r *recorder) urls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string{}, r.seen...)
}

// Pages is a Fetcher that answers from saved bodies: the first request
// gets Bodies[0], the next Bodies[1], and so on (a product page, then its
// offers fragments). A request past the last body fails, naming the URL,
// so a check that needs a page nobody saved says so instead of guessing.
type Pages struct {
	Bodies [][]byte
	// Names label the bodies in errors (file names); optional.
	Names []string
	// Status is the HTTP status every body is served with; 0 means 200.
	Status int

	mu sync.Mutex
	n  int
}

// Fetch implements monitors.Fetcher.
func (p *Pages) Fetch(ctx context.Context, req *monitors.Request) (*monitors.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	i := p.n
	p.n++
	p.mu.Unlock()
	if i >= len(p.Bodies) {
		have := "the saved page"
		if len(p.Bodies) != 1 {
			have = fmt.Sprintf("%d saved pages", len(p.Bodies))
		}
		return nil, fmt.Errorf("request %d has no saved page: %s answered the first %d (save this one too and pass it with --offers)",
			i+1, have, len(p.Bodies))
	}
	status := p.Status
	if status == 0 {
		status = http.StatusOK
	}
	h := http.Header{}
	if looksJSON(p.Bodies[i]) {
		h.Set("Content-Type", "application/json")
	} else {
		h.Set("Content-Type", "text/html; charset=utf-8")
	}
	return &monitors.Response{Status: status, Header: h, Body: p.Bodies[i], URL: req.URL}, nil
}

func looksJSON(b []byte) bool {
	s := strings.TrimSpace(string(b[:min(len(b), 64)]))
	return strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")
}
