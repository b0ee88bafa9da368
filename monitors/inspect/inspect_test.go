package inspect_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/monitors/inspect"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// fixed answers every check with one observation.
type fixed monitors.Observation

func (f fixed) Check(ctx context.Context, t *monitors.Target, fe monitors.Fetcher) monitors.Observation {
	_, _ = fe.Fetch(ctx, &monitors.Request{URL: "https://www.amazon.de/dp/" + t.SKU})
	return monitors.Observation(f)
}

func TestRunPing(t *testing.T) {
	offer := monitors.Offer{SKU: "B0DE000106", OfferID: "oid+1", Title: "Title", Image: "https://m.media-amazon.com/images/I/x.jpg",
		Price: "59.99", Currency: "EUR", Merchant: "A3JWKAKR8XB7XF", SoldByRetailer: true}
	tg := &monitors.Target{Site: "amazon", Region: "DE", SKU: "B0DE000106"}
	pages := func() *inspect.Pages { return &inspect.Pages{Bodies: [][]byte{[]byte("<html></html>")}} }

	in := fixed{Outcome: monitors.InStock, StellarSite: "amazon", Region: "DE", Offers: []monitors.Offer{offer}, Evidence: "buy box"}
	r := inspect.Run(context.Background(), in, tg, pages(), stellar.Rules{})
	if r.Outcome != "in_stock" || r.Ping == nil || r.Ping.Region != "DE" || r.Ping.OfferID != "oid+1" || r.Ping.Details.ProductPrice != "59.99" || r.PingError != "" {
		t.Fatalf("report %+v ping %+v", r, r.Ping)
	}
	if len(r.Requests) != 1 || r.Evidence != "buy box" || r.Merchant != offer.Merchant || !r.SoldByAmazon {
		t.Errorf("report %+v", r)
	}

	// A bad image is dropped from the details, as the engine does.
	bad := offer
	bad.Image = "javascript:alert(1)"
	in.Offers = []monitors.Offer{bad}
	r = inspect.Run(context.Background(), in, tg, pages(), stellar.Rules{})
	if r.Ping == nil || r.Ping.Details == nil || r.Ping.Details.ProductImage != "" || !strings.Contains(r.PingError, "details dropped") {
		t.Errorf("bad image: ping %+v, %q", r.Ping, r.PingError)
	}
	// No offer id: no ping at all.
	bad = offer
	bad.OfferID = ""
	in.Offers = []monitors.Offer{bad}
	r = inspect.Run(context.Background(), in, tg, pages(), stellar.Rules{})
	if r.Ping != nil || !strings.Contains(r.PingError, "not sent") {
		t.Errorf("no offer id: ping %+v, %q", r.Ping, r.PingError)
	}

	// Out of stock: what the page showed, no ping.
	oos := fixed{Outcome: monitors.OutOfStock, StellarSite: "amazon", Region: "DE", Seen: offer, Reason: "out of stock: #outOfStock"}
	r = inspect.Run(context.Background(), oos, tg, pages(), stellar.Rules{})
	if r.Outcome != "out_of_stock" || r.Ping != nil || r.Title != "Title" || r.Price != "59.99" {
		t.Errorf("out of stock report %+v", r)
	}
}

// A request past the saved pages fails and says which one.
func TestPagesRunOut(t *testing.T) {
	p := &inspect.Pages{Bodies: [][]byte{[]byte("a")}, Status: 404}
	resp, err := p.Fetch(context.Background(), &monitors.Request{URL: "u1"})
	if err != nil || resp.Status != 404 || string(resp.Body) != "a" || resp.URL != "u1" {
		t.Fatalf("first: %+v %v", resp, err)
	}
	if _, err := p.Fetch(context.Background(), &monitors.Request{URL: "u2"}); err == nil || !strings.Contains(err.Error(), "request 2") {
		t.Errorf("second: %v", err)
	}
}
