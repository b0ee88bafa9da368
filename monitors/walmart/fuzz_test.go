package walmart

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

func seedPages(f *testing.F) [][]byte {
	f.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "*.html"))
	if err != nil || len(names) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzParseProduct: no panic, and every product the parser accepts obeys
// the invariants pings rely on.
func FuzzParseProduct(f *testing.F) {
	for _, b := range seedPages(f) {
		f.Add(b)
	}
	f.Add([]byte(legacyPage))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseProduct(body, "https://www.walmart.com/ip/1")
		if err != nil {
			if p != (Product{}) {
				t.Fatalf("error %v with a non-zero product", err)
			}
			return
		}
		if p.ItemID == "" || !textutil.IsAlnum(p.ItemID) {
			t.Fatalf("item id %q", p.ItemID)
		}
		if p.Availability != InStockStatus && p.Availability != OutOfStockStatus {
			t.Fatalf("availability %q", p.Availability)
		}
		if p.InStock != (p.Availability == InStockStatus) {
			t.Fatalf("inStock %v with %q", p.InStock, p.Availability)
		}
		if p.InStock && !IsOfferID(p.OfferID) {
			t.Fatalf("in stock with offer id %q", p.OfferID)
		}
		if p.OfferID != "" && !IsOfferID(p.OfferID) {
			t.Fatalf("offer id %q", p.OfferID)
		}
		checkPrice(t, p.Price, p.PriceValue)
		if p.InStock {
			// InStock ⇒ exactly one offer, and it makes a valid ping.
			tg := &monitors.Target{Region: RegionUSA, SKU: p.ItemID}
			o := OfferFor(tg, &p, "https://www.walmart.com/ip/"+p.ItemID)
			ping := stellar.Ping{Site: stellar.SiteWalmartUSA, SKU: o.SKU, OfferID: o.OfferID,
				Details: &stellar.Details{ProductTitle: o.Title, ProductImage: o.Image, ProductPrice: o.Price}}
			if err := (stellar.Rules{}).Validate(&ping); err != nil {
				t.Fatalf("offer %+v: %v", o, err)
			}
		}
	})
}

func checkPrice(t *testing.T, s string, v float64) {
	t.Helper()
	if s == "" {
		return
	}
	i := strings.IndexByte(s, '.')
	if i < 1 || len(s)-i-1 != 2 || strings.Trim(s[:i]+s[i+1:], "0123456789") != "" {
		t.Fatalf("price %q is not a plain decimal with two places", s)
	}
	if got, err := strconv.ParseFloat(s, 64); err != nil || got != v {
		t.Fatalf("price %q vs value %v", s, v)
	}
}

// FuzzDetectBlock: no panic, status codes always win, and a reason comes
// with every block.
func FuzzDetectBlock(f *testing.F) {
	for _, b := range seedPages(f) {
		f.Add(200, "https://www.walmart.com/ip/1", b)
	}
	f.Add(200, "https://www.walmart.com/ip/1", []byte(legacyPage))
	f.Add(403, "", []byte(nil))
	f.Add(200, "https://www.walmart.com/blocked?url=x", []byte("<html></html>"))
	f.Fuzz(func(t *testing.T, status int, finalURL string, body []byte) {
		reason, blocked := DetectBlock(status, finalURL, body)
		if blocked != (reason != "") {
			t.Fatalf("blocked %v with reason %q", blocked, reason)
		}
		if (status == 403 || status == 412 || status == 429) && !blocked {
			t.Fatalf("status %d not blocked", status)
		}
		if !blocked && status >= 200 && status < 300 && !HasNextData(body) {
			// Not a block: Check must then call it an unknown layout (or
			// read the 2020 item script), never stock.
			obs := New().Check(context.Background(), &monitors.Target{Site: Site, Region: RegionUSA, SKU: "1"},
				&fakeFetcher{resp: &monitors.Response{Status: status, Body: body, URL: finalURL}})
			if _, ok := scriptByID(body, "item"); !ok && (obs.Outcome == monitors.InStock || obs.Outcome == monitors.OutOfStock) {
				t.Fatalf("page without product data read as %v", obs.Outcome)
			}
		}
	})
}

func FuzzNormalizePrice(f *testing.F) {
	for _, s := range []string{"$19.93", "$1,299.00", "1 299,97 $", "$7.99 - $9.99", "free", "1\u00a0299,5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, v, ok := NormalizePrice(in)
		if !ok {
			if s != "" || v != 0 {
				t.Fatalf("not ok but %q %v", s, v)
			}
			return
		}
		checkPrice(t, s, v)
		p := stellar.Ping{Site: "walmart", SKU: "1", OfferID: "E29410D79B744EA6B99DFF6FF89213B8", Details: &stellar.Details{ProductPrice: s}}
		if err := (stellar.Rules{}).Validate(&p); err != nil {
			t.Fatal(err)
		}
	})
}
