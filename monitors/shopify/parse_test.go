package shopify

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

// golden is what each fixture produces through every parser.
type golden struct {
	Throttled      bool      `json:"throttled"`
	ThrottleReason string    `json:"throttleReason,omitempty"`
	ProductJS      *Product  `json:"productJS,omitempty"`
	ProductJSError string    `json:"productJSError,omitempty"`
	Products       []Product `json:"productsJSON,omitempty"`
	ProductsError  string    `json:"productsJSONError,omitempty"`
}

func TestFixturesGolden(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("testdata", "*.*"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range names {
		ext := filepath.Ext(path)
		if ext != ".js" && ext != ".json" && ext != ".html" {
			continue
		}
		n++
		t.Run(filepath.Base(path), func(t *testing.T) {
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var g golden
			g.ThrottleReason, g.Throttled = DetectThrottle(200, body)
			if p, err := ParseProductJS(body); err != nil {
				g.ProductJSError = err.Error()
			} else {
				g.ProductJS = &p
			}
			if ps, err := ParseProductsJSON(body); err != nil {
				g.ProductsError = err.Error()
			} else {
				g.Products = ps
			}
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			gpath := path + ".golden"
			testutil.Golden(t, gpath, got)
		})
	}
	if n < 8 {
		t.Fatalf("only %d fixtures", n)
	}
}

// TestProductJSFacts pins what the golden files carry.
func TestProductJSFacts(t *testing.T) {
	p, err := ParseProductJS(testutil.Testdata(t, "product-mixed.js"))
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != 8123456789012 || p.Title != "Classic Leather Jacket" || p.Handle != "classic-leather-jacket" || !p.Available || p.Price != "129.00" {
		t.Errorf("product %+v", p)
	}
	if p.Image != "https://shop.example.com/cdn/shop/files/classic-leather-jacket-black.jpg?v=1727900404" {
		t.Errorf("image %q: protocol-relative must get https:", p.Image)
	}
	want := []Variant{
		{ID: 44012345678901, Title: "S / Black", SKU: "CLJ-S-BLK", Price: "129.00", PriceValue: 129, Available: false},
		{ID: 44012345678902, Title: "M / Black", SKU: "CLJ-M-BLK", Price: "129.00", PriceValue: 129, Available: true},
		{ID: 44012345678903, Title: "M / Brown", SKU: "CLJ-M-BRN", Price: "139.50", PriceValue: 139.5, Available: true,
			Image: "https://shop.example.com/cdn/shop/files/classic-leather-jacket-brown.jpg?v=1727900404"},
		{ID: 44012345678904, Title: "L / Black", Price: "129.00", PriceValue: 129, Available: false},
	}
	if len(p.Variants) != len(want) {
		t.Fatalf("%d variants", len(p.Variants))
	}
	for i := range want {
		if p.Variants[i] != want[i] {
			t.Errorf("variant %d\n got %+v\nwant %+v", i, p.Variants[i], want[i])
		}
	}

	so, err := ParseProductJS(testutil.Testdata(t, "product-soldout.js"))
	if err != nil {
		t.Fatal(err)
	}
	if so.Available || len(so.Variants) != 1 || so.Variants[0].Available || so.Price != "35.00" {
		t.Errorf("sold out product %+v", so)
	}
}

func TestProductsJSONFacts(t *testing.T) {
	ps, err := ParseProductsJSON(testutil.Testdata(t, "products-page1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || ps[0].Variants[0].Price != "115.00" || ps[2].Image != "https://cdn.shopify.com/s/files/1/0611/2233/4455/files/samba.jpg?v=1730000000" {
		t.Errorf("page 1: %+v", ps)
	}
	ps, err = ParseProductsJSON(testutil.Testdata(t, "products-page2.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || ps[2].Available || ps[0].Image != "" || ps[0].Variants[1].Image == "" || ps[1].Price != "125.50" {
		t.Errorf("page 2: %+v", ps)
	}
	ps, err = ParseProductsJSON(testutil.Testdata(t, "products-empty.json"))
	if err != nil || ps == nil || len(ps) != 0 {
		t.Errorf("empty page: %v, %v", ps, err)
	}
}

func TestParseErrors(t *testing.T) {
	js := []struct{ name, body, contains string }{
		{"empty", "", "decode"},
		{"html", "<!doctype html><html></html>", "decode"},
		{"truncated", string(testutil.Testdata(t, "malformed.js")), "decode"},
		{"no id", `{"title":"x","variants":[{"id":1}]}`, "id missing"},
		{"no variants", `{"id":1,"title":"x","variants":[]}`, "no variants"},
		{"variant without id", `{"id":1,"variants":[{"title":"S"}]}`, "variants[0].id"},
		{"wrong id type", `{"id":"abc","variants":[{"id":1}]}`, "decode"},
	}
	for _, tt := range js {
		t.Run("js/"+tt.name, func(t *testing.T) {
			_, err := ParseProductJS([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %v, want one mentioning %q", err, tt.contains)
			}
		})
	}
	pj := []struct {
		name, body string
		is         error
	}{
		{"empty", "", nil},
		{"html", "<html></html>", nil},
		{"object without products", `{"product":{"id":1}}`, ErrNotProducts},
		{"null products", `{"products":null}`, ErrNotProducts},
		{"products not array", `{"products":{}}`, nil},
	}
	for _, tt := range pj {
		t.Run("json/"+tt.name, func(t *testing.T) {
			_, err := ParseProductsJSON([]byte(tt.body))
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

func TestPriceShapes(t *testing.T) {
	js := func(price string) string {
		return `{"id":1,"title":"T","variants":[{"id":2,"available":true,"price":` + price + `}]}`
	}
	for _, tt := range []struct{ in, want string }{
		{`12900`, "129.00"}, {`5`, "0.05"}, {`0`, "0.00"}, {`"12900"`, "129.00"}, {`1e4`, "100.00"},
		{`null`, ""}, {`-100`, ""}, {`129.5`, ""}, {`"abc"`, ""}, {`1e300`, ""},
	} {
		p, err := ParseProductJS([]byte(js(tt.in)))
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if p.Variants[0].Price != tt.want {
			t.Errorf(".js price %s = %q, want %q", tt.in, p.Variants[0].Price, tt.want)
		}
	}
	pj := func(price string) string {
		return `{"products":[{"id":1,"title":"T","variants":[{"id":2,"available":true,"price":` + price + `}]}]}`
	}
	for _, tt := range []struct{ in, want string }{
		{`"29.99"`, "29.99"}, {`"30"`, "30.00"}, {`"30.5"`, "30.50"}, {`"29.990"`, "29.99"}, {`29.99`, "29.99"},
		{`"29.999"`, ""}, {`"1,299.00"`, ""}, {`"-1.00"`, ""}, {`""`, ""}, {`null`, ""}, {`".5"`, ""},
	} {
		ps, err := ParseProductsJSON([]byte(pj(tt.in)))
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if ps[0].Variants[0].Price != tt.want {
			t.Errorf("products.json price %s = %q, want %q", tt.in, ps[0].Variants[0].Price, tt.want)
		}
	}
}

func TestDetectThrottle(t *testing.T) {
	for _, tt := range []struct {
		status int
		body   string
		want   bool
	}{
		{429, "", true},
		{430, "", true},
		{200, string(testutil.Testdata(t, "throttle.html")), true},
		{503, string(testutil.Testdata(t, "throttle.html")), true},
		{200, string(testutil.Testdata(t, "product-mixed.js")), false},
		{404, "Not Found", false},
		{503, "Service Unavailable", false},
	} {
		reason, got := DetectThrottle(tt.status, []byte(tt.body))
		if got != tt.want || got != (reason != "") {
			t.Errorf("DetectThrottle(%d, %.20q) = %q, %v; want %v", tt.status, tt.body, reason, got, tt.want)
		}
	}
}

func TestMatchKeywords(t *testing.T) {
	tests := []struct {
		title  string
		groups [][]string
		want   bool
	}{
		{"Nike Dunk Low Retro Panda", [][]string{{"dunk", "low"}}, true},
		{"Nike Dunk Low Retro Panda", [][]string{{"dunk", "high"}}, false},
		{"Nike Dunk Low Retro Panda", [][]string{{"dunk", "high"}, {"panda"}}, true},
		{"NIKE DUNK HIGH", [][]string{{"Dunk", "hIgh"}}, true},
		{"Nike Dunk Low Kids (GS)", [][]string{{"dunk", "-kids"}}, false},
		{"Nike Dunk Low Retro", [][]string{{"dunk", "-kids"}}, true},
		{"Nike Dunk Low Kids (GS)", [][]string{{"dunk", "-kids"}, {"gs"}}, true},
		{"Nike Dunk Low", [][]string{{" dunk ", "- kids"}}, true},
		{"Nike Dunk Low", [][]string{{}}, false},
		{"Nike Dunk Low", nil, false},
		{"Nike Dunk Low", [][]string{{"", "-"}}, false},
		{"Ünïcode Überjacke", [][]string{{"überjacke"}}, true},
		{"", [][]string{{"dunk"}}, false},
	}
	for _, tt := range tests {
		if got := MatchKeywords(tt.title, tt.groups); got != tt.want {
			t.Errorf("MatchKeywords(%q, %q) = %v, want %v", tt.title, tt.groups, got, tt.want)
		}
	}
}

var (
	sinkProduct  Product
	sinkProducts []Product
	sinkBool     bool
)

func BenchmarkParseProductJS(b *testing.B) {
	body := testutil.Testdata(b, "product-mixed.js")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		p, err := ParseProductJS(body)
		if err != nil {
			b.Fatal(err)
		}
		sinkProduct = p
	}
}

func BenchmarkParseProductsJSON(b *testing.B) {
	// A full page: 250 products, as a big store returns.
	one, err := ParseProductsJSON(testutil.Testdata(b, "products-page1.json"))
	if err != nil || len(one) == 0 {
		b.Fatal(err)
	}
	raw := testutil.Testdata(b, "products-page1.json")
	start := bytes.IndexByte(raw, '[') + 1
	end := bytes.LastIndexByte(raw, ']')
	items := raw[start:end]
	var page bytes.Buffer
	page.WriteString(`{"products":[`)
	for i := 0; i < 250/3; i++ {
		if i > 0 {
			page.WriteByte(',')
		}
		page.Write(items)
	}
	page.WriteString(`]}`)
	body := page.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		ps, err := ParseProductsJSON(body)
		if err != nil {
			b.Fatal(err)
		}
		sinkProducts = ps
	}
}

func BenchmarkMatchKeywords(b *testing.B) {
	ks := compileKeywords([][]string{{"dunk", "low", "-kids"}, {"jordan", "chicago"}})
	b.ReportAllocs()
	for b.Loop() {
		sinkBool = ks.match("Nike Dunk Low Retro Panda")
	}
}
