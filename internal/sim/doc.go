// Package sim is the built-in retailer simulator: an HTTP server that
// pretends to be Amazon (all twelve Stellar regions), Walmart USA and CA and
// Shopify stores for a catalog it is given, serving the page structures the
// monitors parse (see /work/shared/retailer-facts.md), flipping stock on a
// seeded schedule or on request, and injecting faults at set rates.
// `stellarfeed sim` and `make run` without a config use it, so the whole
// pipeline (monitors → dedupe → Stellar pings) runs with no network.
//
// Each retailer lives under a path prefix equal to its domain, or is picked
// by the Host header when the path has none (a monitor reaching the real
// host name through a proxy pointed here):
//
//	/www.amazon.de/dp/{ASIN}                         product page (?smid= honoured)
//	/www.amazon.de/gp/product/ajax/ref=dp_aod_ALL_mbc?asin={ASIN}   All Offers Display
//	/www.amazon.de/gp/aod/ajax?asin={ASIN}           the same fragment
//	/www.walmart.com/ip/{slug}/{id}, /ip/{id}        Walmart USA
//	/www.walmart.ca/en/ip/{slug}/{id}, /en/ip/{id}   Walmart CA
//	/{store}/products/{handle}.js                    Shopify product
//	/{store}/products.json?limit=250&page=N          Shopify catalog, paged
//	/_sim/...                                        control API (see controlRoutes)
//
// Amazon offer ids are kept in their decoded base64 form (Product.OfferID)
// and shown URL-encoded in the buy-box hidden inputs, as Amazon does; the
// AOD's data-aod-atc-action JSON carries the decoded form.
//
// The simulator uses net/http, not fasthttp: it is a fixture for monitors,
// never on the ping hot path, and the standard server is the least
// surprising thing to point an HTTP client at.
//
// Usage:
//
//	srv := sim.New(sim.Config{Catalog: sim.DemoCatalog(), Seed: 1, FlipEvery: 3 * time.Second, Logger: log})
//	ln, _ := net.Listen("tcp", "127.0.0.1:8089")
//	go srv.Serve(ln)                          // returns http.ErrServerClosed after Shutdown
//	go srv.Run(ctx)                           // the stock flipper; returns when ctx ends
//	targets := sim.DemoTargets("http://" + ln.Addr().String())
//	...
//	srv.Shutdown(shutdownCtx)
//
// A catalog file is the JSON that GET /_sim/products returns; read it with
// ParseCatalog (strict, errors name the product index and field). The
// rendered pages are pinned in testdata/*.golden (go test -run
// TestGoldenPages -update after an intended change) and double as readable
// samples of what each retailer route serves. compat_test.go runs the real
// monitors/amazon, monitors/walmart and monitors/shopify parsers and
// monitors on every page kind.
//
// Control API examples:
//
//	curl -XPOST localhost:8089/_sim/products/amazon/DE/B0CJKTWTR1/stock -d '{"inStock":true}'
//	curl -XPOST localhost:8089/_sim/products/shopify/kicks-demo.myshopify.com/nike-dunk-low-retro-panda/stock -d '{"inStock":true,"variant":44012345678901}'
//	curl -XPOST localhost:8089/_sim/faults -d '{"rateCaptcha":0.1,"rateSlow":0.05,"slowDelay":"2s"}'
//	curl localhost:8089/_sim/products
package sim
