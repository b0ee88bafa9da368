package shopify

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

func addSeeds(f *testing.F) {
	f.Helper()
	names, _ := filepath.Glob(filepath.Join("testdata", "*"))
	n := 0
	for _, name := range names {
		if strings.HasSuffix(name, ".golden") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		n++
	}
	if n == 0 {
		f.Fatal("no fixtures")
	}
}

func checkProduct(t *testing.T, p *Product) {
	t.Helper()
	if p.ID <= 0 {
		t.Fatalf("product id %d", p.ID)
	}
	avail := false
	for _, v := range p.Variants {
		if v.ID <= 0 {
			t.Fatalf("variant id %d", v.ID)
		}
		avail = avail || v.Available
		checkPrice(t, v.Price, v.PriceValue)
		checkImage(t, v.Image)
	}
	if p.Available != avail {
		t.Fatalf("available %v but variants say %v", p.Available, avail)
	}
	checkPrice(t, p.Price, p.PriceValue)
	checkImage(t, p.Image)
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

func checkImage(t *testing.T, u string) {
	t.Helper()
	if u == "" {
		return
	}
	p := stellar.Ping{Site: "shopify", SKU: "1", Details: &stellar.Details{ProductImage: u}}
	if err := (stellar.Rules{}).Validate(&p); err != nil {
		t.Fatalf("image %q: %v", u, err)
	}
}

func FuzzParseProductJS(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseProductJS(body)
		if err != nil {
			if len(err.Error()) > 400 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		if len(p.Variants) == 0 {
			t.Fatal("product without variants")
		}
		checkProduct(t, &p)
		// InStock ⇒ at least one offer, each a valid ping; never an offer
		// otherwise.
		fr := &staticFetcher{body: body}
		tg := monitors.Target{Store: "https://s.test", Handle: "h"}
		obs := New().Check(context.Background(), &tg, fr)
		if (obs.Outcome == monitors.InStock) != p.Available || (obs.Outcome == monitors.InStock) != (len(obs.Offers) > 0) {
			t.Fatalf("outcome %v with %d offers, available %v", obs.Outcome, len(obs.Offers), p.Available)
		}
		for _, o := range obs.Offers {
			ping := stellar.Ping{Site: obs.StellarSite, SKU: o.SKU, Details: &stellar.Details{ProductTitle: o.Title, ProductImage: o.Image, ProductPrice: o.Price}}
			if err := (stellar.Rules{}).Validate(&ping); err != nil {
				t.Fatalf("offer %+v: %v", o, err)
			}
		}
	})
}

func FuzzParseProductsJSON(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		ps, err := ParseProductsJSON(body)
		if err != nil {
			if ps != nil || len(err.Error()) > 400 {
				t.Fatalf("error %v with %d products", err, len(ps))
			}
			return
		}
		for i := range ps {
			checkProduct(t, &ps[i])
		}
	})
}

func FuzzDetectThrottle(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, status := range []int{200, 404, 429, 430} {
			reason, throttled := DetectThrottle(status, body)
			if throttled != (reason != "") || ((status == 429 || status == 430) && !throttled) {
				t.Fatalf("status %d: %q %v", status, reason, throttled)
			}
		}
	})
}

func FuzzMatchKeywords(f *testing.F) {
	f.Add("Nike Dunk Low Retro Panda", "dunk", "-kids")
	f.Add("NIKE DUNK HIGH", "High", "")
	f.Fuzz(func(t *testing.T, title, a, b string) {
		groups := [][]string{{a, b}}
		got := MatchKeywords(title, groups)
		// Adding a group never turns a match into a miss (OR), and
		// case never matters.
		if got && !MatchKeywords(title, append(groups, []string{"zzz"})) {
			t.Fatal("OR across groups lost a match")
		}
		upper := strings.ToUpper(title)
		if strings.EqualFold(upper, title) && got != MatchKeywords(upper, groups) {
			t.Fatal("case changed the result")
		}
	})
}

type staticFetcher struct{ body []byte }

func (s *staticFetcher) Fetch(_ context.Context, req *monitors.Request) (*monitors.Response, error) {
	return &monitors.Response{Status: 200, Body: s.body, URL: req.URL}, nil
}
