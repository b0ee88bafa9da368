package amazon

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

// fixtureCase is one file in testdata/ with what it must parse to. The
// golden file pins the whole parse; the fields here state the behaviour
// that matters, so a careless -update cannot bless a regression.
type fixtureCase struct {
	file   string
	kind   string // "product", "aod" or "block"
	region string
	asin   string
	status int // HTTP status the page is served with (block cases)

	wantErr      error
	stock        Stock
	price        string
	merchant     string
	soldByAmazon bool
	otherSellers bool
	offers       []string // AOD: merchant of each offer, in order
}

func fixtureCases() []fixtureCase {
	var cases []fixtureCase
	for i, r := range regionTable {
		p := regionPrices[r.Code]
		cases = append(cases, fixtureCase{
			file: "product-" + r.Code + "-instock-amazon.html", kind: "product", region: r.Code,
			asin:  productSpecs()[i].ASIN,
			stock: InStock, price: p[0], merchant: r.SellerID, soldByAmazon: true,
		})
	}
	cases = append(cases,
		fixtureCase{file: "product-DE-outofstock.html", kind: "product", region: "DE", asin: "B0DEOOS001", stock: OutOfStock},
		fixtureCase{file: "product-ES-outofstock-text.html", kind: "product", region: "ES", asin: "B0ESOOS001", stock: OutOfStock},
		fixtureCase{file: "product-NL-outofstock-text.html", kind: "product", region: "NL", asin: "B0NLOOS001", stock: OutOfStock},
		fixtureCase{file: "product-IT-outofstock-othersellers.html", kind: "product", region: "IT", asin: "B0ITOOS001", stock: OutOfStock, otherSellers: true},
		fixtureCase{file: "product-UK-nobuybox.html", kind: "product", region: "UK", asin: "B0UKNOBB01", stock: StockUnknown, otherSellers: true},
		fixtureCase{file: "product-FR-thirdparty.html", kind: "product", region: "FR", asin: "B0FR3P0001", stock: InStock, price: "1189.00", merchant: "A1B2C3D4E5F6G7", otherSellers: true},
		fixtureCase{file: "product-USA-thirdparty.html", kind: "product", region: "USA", asin: "B0US3P0001", stock: InStock, price: "35.99", merchant: "A2JZ0S3QVWQECL"},
		fixtureCase{file: "product-CA-merchant-text.html", kind: "product", region: "CA", asin: "B0CATXT001", stock: InStock, price: "529.99", merchant: "A3DWYIK6Y9EEQB", soldByAmazon: true},
		fixtureCase{file: "product-JP-merchant-text.html", kind: "product", region: "JP", asin: "B0JPTXT001", stock: InStock, price: "4980", merchant: "AN1VRQENFRJN5", soldByAmazon: true},
		fixtureCase{file: "product-AU-no-offerid.html", kind: "product", region: "AU", asin: "B0AUNOID01", stock: StockUnknown, price: "99.95", merchant: "ANEGB3WVEVKZB", soldByAmazon: true},
		fixtureCase{file: "product-USA-variant.html", kind: "product", region: "USA", asin: "B0USVAR001", wantErr: ErrVariantRedirect},
		fixtureCase{file: "product-USA-truncated.html", kind: "product", region: "USA", asin: "B0USTRUNC1", wantErr: ErrTruncated},
		fixtureCase{file: "blocked-503.html", kind: "block", region: "USA", asin: "B0US000100", status: 503, wantErr: ErrBlocked},
		fixtureCase{file: "dogs-of-amazon.html", kind: "block", region: "USA", asin: "B0US000100", status: 500, wantErr: ErrBlocked},
		fixtureCase{file: "aod-USA-offers.html", kind: "aod", region: "USA", asin: "B0US000100",
			offers: []string{"ATVPDKIKX0DER", "A2JZ0S3QVWQECL", "A1Q2W3E4R5T6Y7", "AZYXWVUT98765"}},
		fixtureCase{file: "aod-FR-thirdparty.html", kind: "aod", region: "FR", asin: "B0FR3P0001", offers: []string{"A1B2C3D4E5F6G7", "A9Z8Y7X6W5V4U3"}},
		fixtureCase{file: "aod-UK-amazon.html", kind: "aod", region: "UK", asin: "B0UKNOBB01", offers: []string{"A3ABCDEF12345", "A3P5ROKL5A1OLE"}},
		fixtureCase{file: "aod-DE-merchant-text.html", kind: "aod", region: "DE", asin: "B0DEOOS001", offers: []string{"A3JWKAKR8XB7XF"}},
		fixtureCase{file: "aod-JP-variant.html", kind: "aod", region: "JP", asin: "B0JP000107", wantErr: ErrVariantRedirect},
		fixtureCase{file: "aod-USA-truncated.html", kind: "aod", region: "USA", asin: "B0US000100", wantErr: ErrTruncated},
		fixtureCase{file: "aod-ES-empty.html", kind: "aod", region: "ES", asin: "B0ESOOS001", offers: []string{}},
		// 2024+ class-based offer blocks (hand-written, see aod2024_test.go).
		fixtureCase{file: "aod-USA-classblocks-2024.html", kind: "aod", region: "USA", asin: "B0US2024AA",
			offers: []string{"ATVPDKIKX0DER", "A1THIRDPARTY01", "A2RENEWEDSHOP1"}},
		fixtureCase{file: "aod-USA-classblocks-2024-page2.html", kind: "aod", region: "USA", asin: "B0US2024AA",
			offers: []string{"A3COLLECTOR001", "ATVPDKIKX0DER"}},
		fixtureCase{file: "aod-USA-unreadable-2024.html", kind: "aod", region: "USA", asin: "B0US2024AA", wantErr: ErrUnknownLayout},
	)
	for _, c := range captchaSpecs {
		cases = append(cases, fixtureCase{file: c.Name + ".html", kind: "block", region: "USA", asin: "B0US000100", status: 200, wantErr: ErrBlocked})
	}
	return cases
}

// golden is what a fixture parses to.
type golden struct {
	Blocked     bool       `json:"blocked"`
	BlockReason string     `json:"blockReason,omitempty"`
	Page        *Page      `json:"page,omitempty"`
	Offers      []AODOffer `json:"offers,omitempty"`
	Error       string     `json:"error,omitempty"`
}

func TestFixtures(t *testing.T) {
	cases := fixtureCases()
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.file] = true
	}
	// Every fixture file has a case: none is left untested.
	files, _ := filepath.Glob(filepath.Join("testdata", "*.html"))
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("testdata/%s has no case in fixtureCases", filepath.Base(f))
		}
	}
	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.file, ".html"), func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			r, ok := Region(c.region)
			if !ok {
				t.Fatalf("bad region %q", c.region)
			}
			var g golden
			status := c.status
			if status == 0 {
				status = 200
			}
			g.Blocked, g.BlockReason = DetectBlock(status, body)
			var perr error
			switch c.kind {
			case "aod":
				var offers []AODOffer
				offers, perr = ParseAOD(body, r, c.asin)
				g.Offers = offers
				if perr == nil {
					got := make([]string, len(offers))
					for i, o := range offers {
						got[i] = o.Merchant
						if o.OfferID == "" || strings.Contains(o.OfferID, "%") {
							t.Errorf("offer %d: offer id %q not decoded or empty", i, o.OfferID)
						}
						if o.SoldByAmazon != r.IsAmazon(o.Merchant) {
							t.Errorf("offer %d: soldByAmazon=%v for merchant %s", i, o.SoldByAmazon, o.Merchant)
						}
					}
					if strings.Join(got, ",") != strings.Join(c.offers, ",") {
						t.Errorf("offer merchants = %v, want %v", got, c.offers)
					}
				}
			default:
				var p Page
				p, perr = ParseProduct(body, r, c.asin)
				if perr == nil || errors.Is(perr, ErrVariantRedirect) {
					g.Page = &p
				}
				if perr == nil {
					checkPage(t, c, r, p)
				}
			}
			if perr != nil {
				g.Error = perr.Error()
			}
			if c.wantErr != nil {
				if !errors.Is(perr, c.wantErr) {
					t.Errorf("error = %v, want %v", perr, c.wantErr)
				}
			} else if perr != nil {
				t.Errorf("unexpected error %v", perr)
			}
			if wantBlocked := errors.Is(c.wantErr, ErrBlocked); g.Blocked != wantBlocked {
				t.Errorf("DetectBlock = %v (%s), want %v", g.Blocked, g.BlockReason, wantBlocked)
			}
			compareGolden(t, strings.TrimSuffix(c.file, ".html")+".golden", g)
		})
	}
}

func checkPage(t *testing.T, c fixtureCase, r RegionInfo, p Page) {
	t.Helper()
	if p.ASIN != c.asin {
		t.Errorf("ASIN = %q, want %q", p.ASIN, c.asin)
	}
	if p.Stock != c.stock {
		t.Errorf("stock = %s (%s), want %s", p.Stock, p.Evidence, c.stock)
	}
	if p.Price != c.price {
		t.Errorf("price = %q, want %q", p.Price, c.price)
	}
	if p.Merchant != c.merchant || p.SoldByAmazon != c.soldByAmazon {
		t.Errorf("merchant = %q soldByAmazon=%v, want %q %v", p.Merchant, p.SoldByAmazon, c.merchant, c.soldByAmazon)
	}
	if p.OtherSellers != c.otherSellers {
		t.Errorf("otherSellers = %v, want %v", p.OtherSellers, c.otherSellers)
	}
	if p.Stock == InStock {
		if p.OfferID == "" || strings.Contains(p.OfferID, "%") || !strings.Contains(p.OfferID, "+") {
			t.Errorf("offer id %q: want the decoded form (with '+')", p.OfferID)
		}
		if p.Title == "" {
			t.Error("no title")
		}
		if !strings.HasPrefix(p.Image, "https://m.media-amazon.com/images/I/") {
			t.Errorf("image = %q", p.Image)
		}
	}
	if p.Price != "" && p.Currency != r.Currency {
		t.Errorf("currency = %q, want %q", p.Currency, r.Currency)
	}
}

func compareGolden(t *testing.T, name string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "&" readable in titles
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	path := filepath.Join("testdata", name)
	testutil.Golden(t, path, got)
}

// The real amazon.com page from ../shared/fixtures: a third-party buy
// box, an empty .a-offscreen in .priceToPay, a list price, dozens of
// carousel prices and two buy-box forms.
func TestRealPage(t *testing.T) {
	body := realPage(t)
	r, _ := Region("USA")
	p, err := ParseProduct(body, r, "B0DR8G428S")
	if err != nil {
		t.Fatal(err)
	}
	const wantOffer = "p7h8Hu2+Bb5u3qEl55Zl3dADtomEyeIV+kwkygBC5r7zVH1qnZJJldBCdpkef42LbyR6TNtIFxNWQ4V36RtFbCKk+LfW0gJg4b9Wgn5GuBAicqSugbL6kyHzK/JQ24rMfjauEqbOVL8pCu/hf8JILmKdEnYJGSIp1B+3zYQwEYA5aaESxcS2gG1kFLnogPUS"
	checks := []struct {
		name      string
		got, want any
	}{
		{"asin", p.ASIN, "B0DR8G428S"},
		{"price", p.Price, "35.99"},
		{"priceValue", p.PriceValue, 35.99},
		{"merchant", p.Merchant, "A2JZ0S3QVWQECL"},
		{"soldByAmazon", p.SoldByAmazon, false},
		{"stock", p.Stock, InStock},
		{"offerId", p.OfferID, wantOffer},
		{"image", p.Image, "https://m.media-amazon.com/images/I/81lAsPSu2FL._AC_SL1500_.jpg"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !strings.HasPrefix(p.Title, "charmast 20000mAh Portable Charger") {
		t.Errorf("title = %q", p.Title)
	}
	if blocked, why := DetectBlock(200, body); blocked {
		t.Errorf("real page detected as blocked: %s", why)
	}
	// Asking for another ASIN must be a variant redirect, not a stock answer.
	if _, err := ParseProduct(body, r, "B0DR8G4XXX"); !errors.Is(err, ErrVariantRedirect) {
		t.Errorf("other ASIN: err = %v, want ErrVariantRedirect", err)
	}
}

// realPage is the real page from ../shared/fixtures (kept outside the
// repository); without it the test is skipped, saying so.
func realPage(tb testing.TB) []byte {
	tb.Helper()
	return testutil.SharedFile(tb, realPageFile)
}

const realPageFile = "fixtures/amazon-com-B0DR8G428S-third-party.html"

// optionalRealPage is the real page for tests that add it to their cases
// when ../shared is there; they log when it is not.
func optionalRealPage(tb testing.TB) ([]byte, bool) {
	tb.Helper()
	if dir := testutil.SharedDir(); dir != "" {
		if b, err := os.ReadFile(filepath.Join(dir, realPageFile)); err == nil {
			return b, true
		}
	}
	tb.Logf("../shared/%s is absent: the real page is not among the cases", realPageFile)
	return nil, false
}

func TestParseProductEdgeCases(t *testing.T) {
	r, _ := Region("USA")
	wrap := func(body string) []byte { return []byte("<html><body>" + body + "</body></html>") }
	tests := []struct {
		name    string
		body    []byte
		wantErr error
		check   func(t *testing.T, p Page)
	}{
		{"empty", nil, ErrTruncated, nil},
		{"no asin", wrap(`<span id="productTitle">x</span>`), ErrNotProduct, nil},
		{"canonical asin", wrap(`<link rel="canonical" href="https://www.amazon.com/x/dp/B0CANON001"/>`), nil, func(t *testing.T, p Page) {
			if p.ASIN != "B0CANON001" || p.Stock != StockUnknown {
				t.Errorf("got %+v", p)
			}
		}},
		{"bad offer id encoding", wrap(`<div id="desktop_buybox"><form id="addToCart"><input name="ASIN" value="B0CANON001"/>
			<input name="offerListingID" value="%zz"/><input id="add-to-cart-button" type="submit"/></form></div>`), nil, func(t *testing.T, p Page) {
			if p.Stock == InStock || p.OfferID != "" {
				t.Errorf("undecodable offer id gave %+v", p)
			}
		}},
		{"list price only is no price", wrap(`<input id="ASIN" value="B0CANON001"/><div id="corePrice_feature_div"><span class="a-price a-text-price"><span class="a-offscreen">$45.99</span></span></div>`), nil, func(t *testing.T, p Page) {
			if p.Price != "" {
				t.Errorf("price = %q from a list price", p.Price)
			}
		}},
		{"protocol-relative image", wrap(`<input id="ASIN" value="B0CANON001"/><img id="landingImage" src="//m.media-amazon.com/images/I/x.jpg"/>`), nil, func(t *testing.T, p Page) {
			if p.Image != "https://m.media-amazon.com/images/I/x.jpg" {
				t.Errorf("image = %q", p.Image)
			}
		}},
		{"captcha", wrap(`<form action="/errors/validateCaptcha"></form>`), ErrBlocked, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProduct(tt.body, r, "B0CANON001")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

func TestParseAODEdgeCases(t *testing.T) {
	r, _ := Region("DE")
	tests := []struct {
		name    string
		body    string
		wantErr error
		want    int
	}{
		{"not a fragment", `<html><body><p>hello</p></body></html>`, ErrNotAOD, 0},
		{"empty", ``, ErrNotAOD, 0},
		{"captcha", `<form action="/errors/validateCaptcha"><input id="captchacharacters"/></form>`, ErrBlocked, 0},
		{"offer without id is skipped", `<div id="aod-container"><div id="aod-offer"><input id="ftSelectMerchant" value="A3JWKAKR8XB7XF"/></div></div>`, nil, 0},
		{"json oid", `<div id="aod-container"><div id="aod-offer"><span data-action="aod-atc-action" data-aod-atc-action='{"oid":"a%2Bb","asin":"B0CANON001"}'></span><input id="ddmSelectMerchant" value="A3JWKAKR8XB7XF"/></div></div>`, nil, 1},
		{"json asin mismatch", `<div id="aod-container"><div id="aod-offer"><span data-action="aod-atc-action" data-aod-atc-action='{"oid":"a","asin":"B0OTHER001"}'></span></div></div>`, ErrVariantRedirect, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offers, err := ParseAOD([]byte(tt.body), r, "B0CANON001")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if len(offers) != tt.want {
				t.Fatalf("offers = %+v, want %d", offers, tt.want)
			}
			if tt.want == 1 && (offers[0].OfferID != "a+b" || !offers[0].SoldByAmazon) {
				t.Errorf("offer = %+v", offers[0])
			}
		})
	}
}

func TestSoldByAmazonText(t *testing.T) {
	de, _ := Region("DE")
	tests := []struct {
		text string
		want bool
	}{
		{"Ships from and sold by Amazon.com.", true},
		{"Dispatched from and sold by Amazon.", true},
		{"Verkauf und Versand durch Amazon.", true},
		{"Vendu et expédié par Amazon.", true},
		{"Expédié et vendu par Amazon.", true},
		{"Vendido y enviado por Amazon.", true},
		{"Venduto e spedito da Amazon.", true},
		{"Verzonden en verkocht door Amazon.", true},
		{"Wysyłka i sprzedaż przez Amazon.", true},
		{"この商品は、Amazon.co.jp が販売、発送します。", true},
		{"Amazon.de", true},
		{"Amazon", true},
		// "Ships from Amazon" is fulfilment, not the seller.
		{"Versand durch Amazon. Verkauf durch TechStore EU.", false},
		{"Ships from Amazon. Sold by Chen Ying Ke Ji.", false},
		{"Expédié par Amazon. Vendu par Boutique Jeux.", false},
		{"Amazon.fr", false}, // another storefront's name
		{"", false},
	}
	for _, tt := range tests {
		if got := soldByAmazonText(tt.text, de); got != tt.want {
			t.Errorf("soldByAmazonText(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

// Every storefront language's "unavailable" text reads as out of stock
// when the buy box has no button; "available" texts do not.
func TestAvailabilityTexts(t *testing.T) {
	r, _ := Region("USA")
	page := func(avail string) []byte {
		return []byte(`<html><body><div id="desktop_buybox"><div id="availability"><span>` + avail +
			`</span></div><form id="addToCart"><input id="ASIN" name="ASIN" value="B0CANON001"/></form></div></body></html>`)
	}
	out := []string{"Currently unavailable.", "Temporarily out of stock.", "Derzeit nicht verfügbar.", "Actuellement indisponible.",
		"No disponible.", "Attualmente non disponibile.", "Tijdelijk niet beschikbaar.", "Obecnie niedostępny.", "現在在庫切れです。"}
	for _, txt := range out {
		p, err := ParseProduct(page(txt), r, "B0CANON001")
		if err != nil || p.Stock != OutOfStock {
			t.Errorf("%q: stock %s, err %v", txt, p.Stock, err)
		}
	}
	for _, txt := range []string{"In Stock", "Auf Lager", "En stock", "Disponibilità immediata", "Op voorraad", "Dostępny", "在庫あり。", ""} {
		p, err := ParseProduct(page(txt), r, "B0CANON001")
		if err != nil || p.Stock != StockUnknown {
			t.Errorf("%q without a button: stock %s, err %v (want unknown)", txt, p.Stock, err)
		}
	}
}
