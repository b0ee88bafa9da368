package sim_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/sim"
)

func Example() {
	srv := sim.New(sim.Config{Catalog: sim.DemoCatalog(), Seed: 1})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	// Restock a product by hand, then read its page as a monitor would.
	res, err := client.Post(base+"/_sim/products/amazon/DE/B0CJKTWTR1/stock", "application/json", strings.NewReader(`{"inStock":true}`))
	if err != nil {
		panic(err)
	}
	res.Body.Close()
	res, err = client.Get(base + "/www.amazon.de/dp/B0CJKTWTR1")
	if err != nil {
		panic(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, strings.Contains(string(page), `id="add-to-cart-button"`))
	// Output: 200 true
}
