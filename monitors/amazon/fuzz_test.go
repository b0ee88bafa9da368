package amazon

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// seedFixtures adds every testdata/*.html fixture to a fuzz corpus.
func seedFixtures(f *testing.F, add func(body []byte)) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.html"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

// isPlainDecimal is Stellar's productPrice shape: digits, optionally a dot
// and one or two digits.
func isPlainDecimal(s string) bool {
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || strings.Trim(intPart, "0123456789") != "" {
		return false
	}
	if hasDot {
		return len(frac) >= 1 && len(frac) <= 2 && strings.Trim(frac, "0123456789") == ""
	}
	return true
}

func checkPrice(t *testing.T, dec string, v float64) {
	t.Helper()
	if dec == "" {
		return
	}
	if !isPlainDecimal(dec) {
		t.Fatalf("price %q is not a plain decimal", dec)
	}
	if want, _ := strconv.ParseFloat(dec, 64); want != v || v < 0 {
		t.Fatalf("price %q has value %v", dec, v)
	}
}

func checkOfferID(t *testing.T, id string) {
	t.Helper()
	if id == "" || len(id) > 512 || strings.ContainsAny(id, " \t\r\n") {
		t.Fatalf("offer id %q", id)
	}
}

func FuzzParseProduct(f *testing.F) {
	seedFixtures(f, func(b []byte) { f.Add(b, "B0US000100") })
	f.Add([]byte(`<html><input id="ASIN" value="B0US000100"/></html>`), "B0US000100")
	r, _ := Region("DE")
	f.Fuzz(func(t *testing.T, body []byte, asin string) {
		p, err := ParseProduct(body, r, asin)
		if err != nil {
			if errors.Is(err, ErrVariantRedirect) && p.ASIN == asin {
				t.Fatalf("variant redirect with matching ASIN %q", asin)
			}
			return
		}
		if p.ASIN != asin || !stellar.IsASIN(p.ASIN) {
			t.Fatalf("ASIN %q for requested %q", p.ASIN, asin)
		}
		switch p.Stock {
		case InStock:
			checkOfferID(t, p.OfferID)
		case OutOfStock, StockUnknown:
		default:
			t.Fatalf("stock %q", p.Stock)
		}
		checkPrice(t, p.Price, p.PriceValue)
		if p.Image != "" && monitors.AbsURL(p.Image) != p.Image {
			t.Fatalf("image %q is not an absolute URL", p.Image)
		}
		if p.SoldByAmazon && !r.IsAmazon(p.Merchant) {
			t.Fatalf("soldByAmazon with merchant %q", p.Merchant)
		}
		if blocked, _ := DetectBlock(200, body); blocked {
			t.Fatal("blocked body parsed as a product")
		}
	})
}

func FuzzParseAOD(f *testing.F) {
	seedFixtures(f, func(b []byte) { f.Add(b, "B0US000100") })
	r, _ := Region("USA")
	f.Fuzz(func(t *testing.T, body []byte, asin string) {
		offers, err := ParseAOD(body, r, asin)
		if err != nil {
			if offers != nil {
				t.Fatalf("offers with error %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, o := range offers {
			checkOfferID(t, o.OfferID)
			if seen[o.OfferID] {
				t.Fatalf("duplicate offer %q", o.OfferID)
			}
			seen[o.OfferID] = true
			checkPrice(t, o.Price, o.PriceValue)
			if o.SoldByAmazon != r.IsAmazon(o.Merchant) {
				t.Fatalf("soldByAmazon %v for %q", o.SoldByAmazon, o.Merchant)
			}
		}
	})
}

func FuzzParsePrice(f *testing.F) {
	for _, s := range []string{"$35.99", "1.234,56 €", "EUR 1.234,56", "￥12,800", "£1,299.00", "1 234,56 zł",
		"CDN$ 49.99", "A$99.95", "1\u202f234,56\u00a0€", "$1,234,567.89", "", "$", "1..2", "-5"} {
		for _, r := range regionTable {
			f.Add(s, r.Code)
		}
	}
	f.Fuzz(func(t *testing.T, s, code string) {
		r, ok := Region(code)
		if !ok {
			r = regionTable[0]
		}
		dec, v, err := ParsePrice(s, r)
		if err != nil {
			if dec != "" || v != 0 {
				t.Fatalf("%q: output %q %v with error", s, dec, v)
			}
			return
		}
		checkPrice(t, dec, v)
		if len(dec) > 32 {
			t.Fatalf("%q: %q too long for Stellar", s, dec)
		}
		// Normalising is idempotent: the output parses to itself.
		again, v2, err := ParsePrice(dec, r)
		if err != nil || again != dec || v2 != v {
			t.Fatalf("%q -> %q -> %q, %v", s, dec, again, err)
		}
	})
}
