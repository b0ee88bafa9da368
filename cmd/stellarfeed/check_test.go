package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellarfeed/stellarfeed/stellar"
)

const amazonTestdata = "../../monitors/amazon/testdata/"

// checkJSON runs `check --json` and decodes its one object.
func checkJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	code, out, errOut := run(t, append([]string{"check", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("check %v: exit %d: %s", args, code, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("check --json output is not one JSON object: %v\n%s", err, out)
	}
	for _, k := range []string{"outcome", "price", "currency", "merchant", "soldByAmazon", "offerId", "image", "title", "evidence", "ping"} {
		if _, ok := m[k]; !ok {
			t.Errorf("--json output lacks %q: %s", k, out)
		}
	}
	return m
}

func TestCheckSavedPage(t *testing.T) {
	m := checkJSON(t, "--site", "amazon", "--region", "DE", "--sku", "B0DE000106", "--merchant", "amazon",
		"--page", amazonTestdata+"product-DE-instock-amazon.html")
	if m["outcome"] != "in_stock" || m["soldByAmazon"] != true || m["currency"] != "EUR" || m["merchant"] != "A3JWKAKR8XB7XF" {
		t.Fatalf("report: %v", m)
	}
	if ev, _ := m["evidence"].(string); !strings.Contains(ev, "buy box") {
		t.Errorf("evidence %q does not name the buy box", ev)
	}
	// The ping is the one the engine would send, and it passes Stellar's rules.
	b, _ := json.Marshal(m["ping"])
	p, err := stellar.Rules{}.Parse(b)
	if err != nil {
		t.Fatalf("ping %s: %v", b, err)
	}
	if p.Site != "amazon" || p.Region != "DE" || p.SKU != "B0DE000106" || p.OfferID != m["offerId"] || p.Details == nil || p.Details.ProductPrice != m["price"] {
		t.Errorf("ping %+v does not match the report %v", p, m)
	}
}

// A page without a featured offer leads to the offers fragment, which a
// second saved file answers.
func TestCheckSavedOffers(t *testing.T) {
	m := checkJSON(t, "--site", "amazon", "--region", "UK", "--sku", "B0UKNOBB01", "--merchant", "amazon",
		"--page", amazonTestdata+"product-UK-nobuybox.html", "--offers", amazonTestdata+"aod-UK-amazon.html")
	if m["outcome"] != "in_stock" || m["merchant"] != "A3P5ROKL5A1OLE" || m["soldByAmazon"] != true {
		t.Fatalf("report: %v", m)
	}
	reqs, _ := m["requests"].([]any)
	if len(reqs) != 2 || !strings.Contains(reqs[1].(string), "/gp/product/ajax/") {
		t.Errorf("requests %v: want the product page, then the offers fragment", reqs)
	}
	// Without the offers file the check says which request had no page.
	code, out, _ := run(t, "check", "--site", "amazon", "--region", "UK", "--sku", "B0UKNOBB01", "--page", amazonTestdata+"product-UK-nobuybox.html")
	if code != 0 || !strings.Contains(out, "ERROR") || !strings.Contains(out, "--offers") {
		t.Errorf("no offers file: exit %d\n%s", code, out)
	}
}

func TestCheckOutcomes(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "odd.html")
	if err := os.WriteFile(odd, []byte("<html><body><div id=\"newLayout\">Buy it</div></body></html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string // in the text output
	}{
		{"blocked names its marker", []string{"--site", "amazon", "--region", "DE", "--sku", "B0DE000106", "--page", amazonTestdata + "captcha-de.html"},
			[]string{"BLOCKED", "validateCaptcha"}},
		{"unknown layout", []string{"--site", "amazon", "--region", "DE", "--sku", "B0DE000106", "--page", odd},
			[]string{"UNKNOWN LAYOUT", "no ASIN"}},
		{"walmart unknown layout is not a block", []string{"--site", "walmart", "--region", "USA", "--sku", "5113183757", "--page", odd},
			[]string{"UNKNOWN LAYOUT"}},
		// A new buy box with only used offers wanted: the offers decide.
		{"condition filter leads to the offers", []string{"--site", "amazon", "--region", "DE", "--sku", "B0DE000106", "--condition", "used",
			"--page", amazonTestdata + "product-DE-instock-amazon.html"}, []string{"ERROR", "request 2:", "/gp/product/ajax/", "ping:         none"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, append([]string{"check"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// Without --page the check goes through the engine's fetcher (here to a
// local server standing in for amazon.de).
func TestCheckThroughFetcher(t *testing.T) {
	page, err := os.ReadFile(amazonTestdata + "product-DE-instock-amazon.html")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		if r.URL.Path != "/dp/B0DE000106" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write(page)
	}))
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
	}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	m := checkJSON(t, "--site", "amazon", "--region", "DE", "--sku", "B0DE000106", "--base-url", srv.URL, "--timeout", "10s")
	if m["outcome"] != "in_stock" || m["ping"] == nil {
		t.Fatalf("report: %v", m)
	}
	if len(paths) != 1 || paths[0] != "/dp/B0DE000106" {
		t.Errorf("server saw %v", paths)
	}
}

func TestCheckUsageErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		code    int
		message string
	}{
		{"no site", []string{"--sku", "B0DE000106"}, 2, "--site is required"},
		{"offers without page", []string{"--site", "amazon", "--region", "DE", "--sku", "B0DE000106", "--offers", "x.html"}, 2, "--offers needs --page"},
		{"bad region", []string{"--site", "amazon", "--region", "US", "--sku", "B0DE000106", "--page", "x"}, 1, `region: "US" is not one of`},
		{"bad condition", []string{"--site", "amazon", "--region", "DE", "--sku", "B0DE000106", "--condition", "mint", "--page", "x"}, 1, `condition: entry 1, "mint", is not one of new, used, renewed, any`},
		{"unknown site", []string{"--site", "ebay", "--sku", "1", "--page", "x"}, 1, `unknown site "ebay"`},
		{"missing page file", []string{"--site", "amazon", "--region", "DE", "--sku", "B0DE000106", "--page", "/nonexistent/page.html"}, 1, "read saved page"},
		{"stray argument", []string{"--site", "amazon", "extra"}, 2, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := run(t, append([]string{"check"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.message) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.message)
			}
		})
	}
	if code, _, errOut := run(t, "check", "--help"); code != 0 || !strings.Contains(errOut, "Examples:") {
		t.Errorf("check --help: exit %d, %q", code, errOut)
	}
}
