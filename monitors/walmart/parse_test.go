package walmart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
	"github.com/stellarfeed/stellarfeed/monitors"
)

// fixtureCase is one page with the response around it.
type fixtureCase struct {
	file     string
	status   int
	finalURL string
	region   string
	sku      string
}

var fixtureCases = []fixtureCase{
	{"usa-instock-walmart.html", 200, "https://www.walmart.com/ip/Ziploc-Freezer-Bags-Gallon-38-Count/5113183757", "USA", "5113183757"},
	{"usa-oos.html", 200, "https://www.walmart.com/ip/PlayStation-5-Console-Slim/5089212491", "USA", "5089212491"},
	{"usa-thirdparty.html", 200, "https://www.walmart.com/ip/Pokemon-Prismatic-Evolutions-ETB/13816151308", "USA", "13816151308"},
	{"usa-offer-primary.html", 200, "https://www.walmart.com/ip/2871204451", "USA", "2871204451"},
	{"usa-offer-buybox.html", 200, "https://www.walmart.com/ip/5328871930", "USA", "5328871930"},
	{"usa-not-found.html", 404, "https://www.walmart.com/ip/9999999999", "USA", "9999999999"},
	{"ca-instock-walmart.html", 200, "https://www.walmart.ca/en/ip/nintendo-switch-oled-model-white/6000203458791", "CA", "6000203458791"},
	{"ca-oos.html", 200, "https://www.walmart.ca/en/ip/1QHK8ZJX2M4T", "CA", "1QHK8ZJX2M4T"},
	{"ca-oos-fulfillment.html", 200, "https://www.walmart.ca/en/ip/6JW7MWS0LXB5", "CA", "6JW7MWS0LXB5"},
	{"ca-thirdparty.html", 200, "https://www.walmart.ca/en/ip/2RP4NDX6W8YA", "CA", "2RP4NDX6W8YA"},
	{"ca-offer-buybox.html", 200, "https://www.walmart.ca/en/ip/3TS5PFY7Z9BC", "CA", "3TS5PFY7Z9BC"},
	{"blocked-redirect.html", 200, "https://www.walmart.com/blocked?url=L2lwLzUxMTMxODM3NTc=&uuid=7c0de5f2", "USA", "5113183757"},
	{"robot-or-human.html", 200, "https://www.walmart.com/ip/5113183757", "USA", "5113183757"},
	{"px-captcha.html", 200, "https://www.walmart.com/ip/5113183757", "USA", "5113183757"},
	{"access-denied.html", 200, "https://www.walmart.ca/en/ip/6000203458791", "CA", "6000203458791"},
	{"no-next-data.html", 200, "https://www.walmart.com/ip/5113183757", "USA", "5113183757"},
	{"truncated-json.html", 200, "https://www.walmart.com/ip/5113183757", "USA", "5113183757"},
}

// golden is what each fixture must produce: the block verdict, the parse
// and the observation Check makes of it with no filters.
type golden struct {
	Outcome     string               `json:"outcome"`
	Blocked     bool                 `json:"blocked"`
	BlockReason string               `json:"blockReason,omitempty"`
	Product     *Product             `json:"product,omitempty"`
	ParseError  string               `json:"parseError,omitempty"`
	Check       monitors.Observation `json:"check"`
}

func TestFixturesGolden(t *testing.T) {
	for _, tc := range fixtureCases {
		t.Run(tc.file, func(t *testing.T) {
			body := testutil.Testdata(t, tc.file)
			var g golden
			g.BlockReason, g.Blocked = DetectBlock(tc.status, tc.finalURL, body)
			if p, err := ParseProduct(body, tc.finalURL); err != nil {
				g.ParseError = err.Error()
			} else {
				g.Product = &p
			}
			f := &fakeFetcher{resp: &monitors.Response{Status: tc.status, Body: body, URL: tc.finalURL}}
			g.Check = New().Check(context.Background(), &monitors.Target{Site: Site, Region: tc.region, SKU: tc.sku}, f)

			g.Outcome = g.Check.Outcome.String()
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", strings.TrimSuffix(tc.file, ".html")+".golden")
			testutil.Golden(t, path, got)
		})
	}
}

// TestFixtureFacts pins the facts the golden files carry, so a careless
// -update cannot bless a wrong parse.
func TestFixtureFacts(t *testing.T) {
	tests := []struct {
		file, itemID, offerID, price, seller string
		inStock                              bool
	}{
		{"usa-instock-walmart.html", "5113183757", "E29410D79B744EA6B99DFF6FF89213B8", "19.93", WalmartSellerID, true},
		{"usa-oos.html", "5089212491", "1F2E3D4C5B6A79880796A5B4C3D2E1F0", "499.00", WalmartSellerID, false},
		{"usa-thirdparty.html", "13816151308", "7C4B6E2A9D1F4E0B8A3C5D7E9F1A2B3C", "1249.99", "101188231", true},
		// offerId only under offers.primary, in lower case; price only as a string.
		{"usa-offer-primary.html", "2871204451", "A3F1C2D4E5B60718293A4B5C6D7E8F90", "45.00", WalmartSellerID, true},
		// product.offerId malformed: buyBox wins.
		{"usa-offer-buybox.html", "5328871930", "5D6C7B8A99887766554433221100FFEE", "84.99", WalmartSellerID, true},
		{"ca-instock-walmart.html", "6000203458791", "B7C8D9E0F1A2B3C4D5E6F708192A3B4C", "449.96", "", true},
		{"ca-oos.html", "1QHK8ZJX2M4T", "", "949.99", "", false},
		// IN_STOCK at the top, but no fulfillment option can deliver.
		{"ca-oos-fulfillment.html", "6JW7MWS0LXB5", "0C1D2E3F405162738495A6B7C8D9EAFB", "99.97", "", false},
		{"ca-thirdparty.html", "2RP4NDX6W8YA", "C5B4A39281706F5E4D3C2B1A09F8E7D6", "1299.00", "A1B2C3D4E5F6", true},
		// no availabilityStatus: fulfillmentOptions decide; offer id from buyBox.
		{"ca-offer-buybox.html", "3TS5PFY7Z9BC", "D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A1", "549.98", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, err := ParseProduct(testutil.Testdata(t, tt.file), "")
			if err != nil {
				t.Fatal(err)
			}
			if p.ItemID != tt.itemID || p.OfferID != tt.offerID || p.Price != tt.price || p.SellerID != tt.seller || p.InStock != tt.inStock {
				t.Errorf("got item %q offer %q price %q seller %q inStock %v", p.ItemID, p.OfferID, p.Price, p.SellerID, p.InStock)
			}
			if p.Image == "" || !strings.HasPrefix(p.Image, "https://i5.walmartimages.com/") {
				t.Errorf("image %q", p.Image)
			}
		})
	}
}

func TestParseProductErrors(t *testing.T) {
	tests := []struct {
		name, body string
		is         error
		contains   string
	}{
		{"empty", "", ErrNoNextData, ""},
		{"plain html", "<html><body>hi</body></html>", ErrNoNextData, ""},
		{"marker outside script", `<p>__NEXT_DATA__</p>`, ErrNoNextData, ""},
		{"unclosed script", `<script id="__NEXT_DATA__" type="application/json">{"props":{}}`, ErrTruncated, "truncated"},
		{"empty script", `<script id="__NEXT_DATA__"></script>`, ErrNoNextData, "empty"},
		{"json cut inside the script", `<script id="__NEXT_DATA__">{"props":{"pageProps":{"initialData":{"data":{"product":{"usItemId":"1","name":"Bags</script>`, ErrNoProduct, ""},
		{"no product", `<script id="__NEXT_DATA__">{"props":{"pageProps":{}}}</script>`, ErrNoProduct, ""},
		{"null product", `<script id="__NEXT_DATA__">{"props":{"pageProps":{"initialData":{"data":{"product":null}}}}}</script>`, ErrNoProduct, "not an object"},
		{"no item id", nd(`{"availabilityStatus":"IN_STOCK","offerId":"E29410D79B744EA6B99DFF6FF89213B8"}`), ErrNoProduct, "usItemId"},
		{"bad item id", nd(`{"usItemId":"51 13","availabilityStatus":"IN_STOCK"}`), nil, "not an item id"},
		{"unknown availability", nd(`{"usItemId":"1","availabilityStatus":"MAYBE"}`), nil, `"MAYBE"`},
		{"no availability", nd(`{"usItemId":"1"}`), nil, "availabilityStatus is missing"},
		{"in stock without offer", nd(`{"usItemId":"1","availabilityStatus":"IN_STOCK","offerId":"XYZ"}`), nil, "no 32-hex offerId"},
		{"wrong type", nd(`{"usItemId":1,"availabilityStatus":"IN_STOCK"}`), nil, "decode product"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProduct([]byte(tt.body), "")
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not mention %q", err, tt.contains)
			}
		})
	}
}

func nd(product string) string {
	return `<html><body><script id="__NEXT_DATA__" type="application/json">{"props":{"pageProps":{"initialData":{"data":{"product":` + product + `}}}}}</script></body></html>`
}

func TestParseProductPriceShapes(t *testing.T) {
	const base = `"usItemId":"1","availabilityStatus":"OUT_OF_STOCK"`
	tests := []struct {
		priceInfo string
		want      string
	}{
		{`{"currentPrice":{"price":19.93,"priceString":"$19.93"}}`, "19.93"},
		{`{"currentPrice":{"price":"24.5","priceString":"$24.50"}}`, "24.50"},
		{`{"currentPrice":{"price":null,"priceString":"$1,299.00"}}`, "1299.00"},
		{`{"currentPrice":{"priceString":"1 299,97 $"}}`, "1299.97"},
		{`{"currentPrice":{"price":0,"priceString":"From $5"}}`, "5.00"},
		{`{"currentPrice":{"price":"n/a","priceString":"$7.99 - $9.99"}}`, "7.99"},
		{`{"currentPrice":null}`, ""},
		{`null`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.priceInfo, func(t *testing.T) {
			p, err := ParseProduct([]byte(nd(`{`+base+`,"priceInfo":`+tt.priceInfo+`}`)), "")
			if err != nil {
				t.Fatal(err)
			}
			if p.Price != tt.want {
				t.Errorf("price %q, want %q", p.Price, tt.want)
			}
		})
	}
}

func TestNormalizePrice(t *testing.T) {
	f := func(in, want string, wantOK bool) {
		t.Helper()
		got, v, ok := NormalizePrice(in)
		if got != want || ok != wantOK {
			t.Errorf("NormalizePrice(%q) = %q, %v; want %q, %v", in, got, ok, want, wantOK)
		}
		if ok && v < 0 {
			t.Errorf("NormalizePrice(%q) value %v", in, v)
		}
	}
	f("$19.93", "19.93", true)
	f("$1,299.00", "1299.00", true)
	f("1,299", "1299.00", true)
	f("1 299,97 $", "1299.97", true)
	f("1\u00a0299,97\u00a0$", "1299.97", true)
	f("1\u202f299,5 $", "1299.50", true)
	f("$7.99 - $9.99", "7.99", true)
	f("CA$ 0.99", "0.99", true)
	f("$05", "5.00", true)
	f("free", "", false)
	f("", "", false)
	f("$9999999999999.00", "", false)
}

func TestDetectBlock(t *testing.T) {
	page := testutil.Testdata(t, "usa-instock-walmart.html")
	tests := []struct {
		name     string
		status   int
		url      string
		body     string
		blocked  bool
		contains string
	}{
		{"product page", 200, "https://www.walmart.com/ip/5113183757", string(page), false, ""},
		{"403", 403, "", string(page), true, "HTTP 403"},
		{"412 api", 412, "", `{"errors":[]}`, true, "HTTP 412"},
		{"429", 429, "", "", true, "HTTP 429"},
		{"blocked redirect", 200, "https://www.walmart.com/blocked?url=L2lw", string(page), true, "/blocked"},
		{"blocked under simulator path", 200, "http://127.0.0.1:9000/www.walmart.com/blocked?url=x", "", true, "/blocked"},
		{"blocked-ish product path", 200, "https://www.walmart.com/ip/blocked-cheese/12", string(page), false, ""},
		{"robot title", 200, "", "<title>Robot or human?</title>", true, "Robot or human"},
		{"px element", 200, "", `<div id="px-captcha"></div>`, true, "px-captcha"},
		{"press and hold without next data", 200, "", "<p>Press and hold the button</p>", true, "Press and hold"},
		// A description that says "press and hold" is not a wall.
		{"press and hold in product text", 200, "", strings.Replace(string(page), "Add to cart", "Press and hold to open", 1), false, ""},
		{"truncated page is broken, not blocked", 200, "", string(testutil.Testdata(t, "truncated-json.html")), false, ""},
		// A page without product data and without a wall marker is an
		// unknown layout (Check), not a block that backs off proxies.
		{"no next data 200 is not a block", 200, "", "<html><body>Hi</body></html>", false, ""},
		{"verify your identity", 200, "", "<html><head><title>Verify Your Identity</title></head></html>", true, "Verify Your Identity"},
		{"no next data 502 is an error, not a block", 502, "", "<html>Bad gateway</html>", false, ""},
		{"404 with next data", 404, "", string(testutil.Testdata(t, "usa-not-found.html")), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason, blocked := DetectBlock(tt.status, tt.url, []byte(tt.body))
			if blocked != tt.blocked || !strings.Contains(reason, tt.contains) {
				t.Errorf("DetectBlock = %q, %v; want blocked %v mentioning %q", reason, blocked, tt.blocked, tt.contains)
			}
			if !blocked && reason != "" {
				t.Errorf("reason %q without a block", reason)
			}
		})
	}
}

func TestParseProductAllocs(t *testing.T) {
	body := testutil.Testdata(t, "usa-instock-walmart.html")
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := ParseProduct(body, ""); err != nil {
			t.Fatal(err)
		}
	})
	// Copied strings plus the decoder's own bookkeeping; a regression to a
	// full-document decode would show up as hundreds.
	if allocs > 40 {
		t.Errorf("ParseProduct: %.0f allocs, budget 40", allocs)
	}
}

var sinkProduct Product

func BenchmarkParseProduct(b *testing.B) {
	for _, name := range []string{"usa-instock-walmart.html", "ca-offer-buybox.html"} {
		body := testutil.Testdata(b, name)
		// A real page is ~1 MB: pad with markup before the script, as the
		// server-rendered HTML is.
		big := append(bytes.Repeat([]byte(`<div class="flex items-center"><span>carousel item</span></div>`), 8000), body...)
		for _, in := range []struct {
			name string
			body []byte
		}{{name, body}, {name + "/padded-500KB", big}} {
			b.Run(in.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(in.body)))
				for b.Loop() {
					p, err := ParseProduct(in.body, "")
					if err != nil {
						b.Fatal(err)
					}
					sinkProduct = p
				}
			})
		}
	}
}

func BenchmarkDetectBlock(b *testing.B) {
	body := append(bytes.Repeat([]byte(`<div class="flex items-center"><span>carousel item</span></div>`), 8000), testutil.Testdata(b, "usa-instock-walmart.html")...)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, blocked := DetectBlock(200, "https://www.walmart.com/ip/5113183757", body); blocked {
			b.Fatal("blocked")
		}
	}
}

func TestLongBrokenProductErrorIsShort(t *testing.T) {
	body := nd(`{"usItemId":"1","name":"` + strings.Repeat("x", 1<<20) + `,"availabilityStatus":"IN_STOCK"}`)
	_, err := ParseProduct([]byte(body), "")
	if err == nil || len(err.Error()) > 300 {
		t.Errorf("error of %d bytes: %.200v", len(fmt.Sprint(err)), err)
	}
}
