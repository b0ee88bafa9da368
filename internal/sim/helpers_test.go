package sim

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testServer runs s on 127.0.0.1:0 and returns its base URL and a client
// that does not follow redirects. Everything stops at cleanup.
func testServer(t testing.TB, s *Server) (string, *http.Client) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	tr := &http.Transport{}
	client := &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve returned %v, want ErrServerClosed", err)
		}
	})
	return "http://" + ln.Addr().String(), client
}

type resp struct {
	status int
	header http.Header
	body   string
}

func do(t testing.TB, c *http.Client, method, url, host, body string) resp {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	r, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp{r.StatusCode, r.Header, string(b)}
}

func get(t testing.TB, c *http.Client, url string) resp {
	t.Helper()
	return do(t, c, http.MethodGet, url, "", "")
}

func mustContain(t testing.TB, what, body string, markers ...string) {
	t.Helper()
	for _, m := range markers {
		if !strings.Contains(body, m) {
			t.Errorf("%s: missing %q", what, m)
		}
	}
}

func mustNotContain(t testing.TB, what, body string, markers ...string) {
	t.Helper()
	for _, m := range markers {
		if strings.Contains(body, m) {
			t.Errorf("%s: unexpected %q", what, m)
		}
	}
}

// testCatalog has one Amazon product per region in each state plus
// Walmart and Shopify products with known ids.
func testCatalog() Catalog {
	var ps []Product
	for i, r := range amazonRegions {
		price := "1234.56"
		if r.Code == "JP" {
			price = "12800"
		}
		ps = append(ps,
			Product{Site: SiteAmazon, Region: r.Code, SKU: "B0TESTIN" + string(rune('A'+i)) + "1", Title: "Widget <" + r.Code + "> & Co",
				Price: price, Image: "https://m.media-amazon.com/images/I/71abcDEF12L._AC_SL1500_.jpg", InStock: true, SoldBy: SoldByAmazon},
			Product{Site: SiteAmazon, Region: r.Code, SKU: "B0TESTOU" + string(rune('A'+i)) + "2", Title: "Gadget " + r.Code,
				Price: "19.90", Image: "https://m.media-amazon.com/images/I/61xyzXYZ34L._AC_SL1500_.jpg", InStock: false},
			Product{Site: SiteAmazon, Region: r.Code, SKU: "B0TEST3P" + string(rune('A'+i)) + "3", Title: "Third party thing " + r.Code,
				Price: "45.00", InStock: true, SoldBy: SoldByThirdParty},
		)
	}
	ps = append(ps,
		Product{Site: SiteWalmart, Region: "USA", SKU: "5113183757", Title: "PlayStation 5 Digital Edition Slim", Price: "399.00", InStock: true,
			Image: "https://i5.walmartimages.com/seo/ps5_8a2b4c1e.jpeg"},
		Product{Site: SiteWalmart, Region: "USA", SKU: "1736740710", Title: "Booster Bundle", Price: "26.94", InStock: false, SoldBy: SoldByThirdParty},
		Product{Site: SiteWalmart, Region: "CA", SKU: "4G2KXV9Q7T1M", Title: "LEGO Icons Orchid", Price: "64.97", InStock: true},
		Product{Site: SiteWalmart, Region: "CA", SKU: "6000207312545", Title: "Switch Lite", Price: "259.96", InStock: false},
		Product{Site: SiteShopify, Store: "shop.example.com", Handle: "nike-dunk-low", Title: "Nike Dunk Low", SKU: "7012345678901",
			Image: "https://cdn.shopify.com/s/files/1/0001/files/dunk.jpg?v=1", Tags: []string{"nike", "dunk"},
			Variants: []Variant{{ID: 41000000000001, Title: "9", SKU: "DD1391-9", PriceCents: 11500}, {ID: 41000000000002, Title: "10", SKU: "DD1391-10", PriceCents: 12000, InStock: true}}},
		Product{Site: SiteShopify, Store: "shop.example.com", Handle: "plain-tee", Title: "Plain Tee", Price: "29.99", InStock: false},
		Product{Site: SiteShopify, Store: "shop.example.com", Handle: "cap", Title: "Cap", Price: "15", InStock: true},
	)
	return Catalog{Products: ps}
}
