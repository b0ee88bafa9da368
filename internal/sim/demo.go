package sim

import (
	"strings"

	"github.com/stellarfeed/stellarfeed/monitors"
)

// DemoCatalog is a small catalog across all twelve Amazon regions, Walmart
// USA and CA and one Shopify store, mixed in and out of stock, so a demo
// run shows restocks within seconds of starting the flipper. Offer ids are
// left empty: New generates them from its seed.
func DemoCatalog() Catalog {
	amz := func(region, asin, title, price, image string, in bool, soldBy string) Product {
		return Product{Site: SiteAmazon, Region: region, SKU: asin, Title: title, Price: price,
			Image: "https://m.media-amazon.com/images/I/" + image + "._AC_SL1500_.jpg", InStock: in, SoldBy: soldBy}
	}
	ps := []Product{
		amz("USA", "B0CHX1W1XY", "PlayStation 5 Console – Slim", "449.99", "51k4PVr8kIL", false, SoldByAmazon),
		amz("USA", "B0DR8G4PQ2", "Pokémon TCG: Scarlet & Violet Prismatic Evolutions Elite Trainer Box", "59.99", "71kHo8vqUiL", true, SoldByThirdParty),
		amz("CA", "B0CL5KNB9M", "Nintendo Switch – OLED Model, Neon Red/Blue", "449.99", "61nqNujSF2L", true, SoldByAmazon),
		amz("UK", "B0D3J6L2ZQ", "Apple AirPods Pro (2nd generation) with MagSafe Case (USB-C)", "229.00", "61SUj2aKoEL", false, SoldByAmazon),
		amz("NL", "B0CKZGY5B6", "LEGO Star Wars Millennium Falcon 75375", "84.99", "81p2bWb4R0L", true, SoldByAmazon),
		amz("FR", "B0BSHF7WHW", "Apple MacBook Air 13 pouces, puce M2", "1199.00", "71f5Eu5lJSL", false, SoldByAmazon),
		amz("IT", "B0CSTJ2Y7N", "Samsung Galaxy S24 Ultra, 256GB, Titanium Gray", "1299.00", "71WcjsOVOmL", true, SoldByAmazon),
		amz("DE", "B0CJKTWTR1", "Sony PlayStation Portal Remote Player", "219.99", "61uXbYLMP4L", false, SoldByAmazon),
		amz("DE", "B0DGJ7HYG1", "Pokémon-Sammelkartenspiel: Top-Trainer-Box Karmesin & Purpur – Stellarkrone", "54.95", "81Zf2tZXNFL", true, SoldByAmazon),
		amz("JP", "B0D6TH8K4M", "Nintendo Switch 有機ELモデル ホワイト", "37980", "61-PblYntsL", false, SoldByAmazon),
		amz("ES", "B0C8V88KXK", "Xbox Series X 1TB", "549.99", "61-jjE67uqL", true, SoldByAmazon),
		amz("BE", "B0CHWRXH8B", "Apple iPhone 15 Pro (128 Go) - Titane naturel", "1229.00", "81CgtwSII3L", false, SoldByAmazon),
		amz("PL", "B0BDJ6ZMCC", "Sony WH-1000XM5 Słuchawki bezprzewodowe", "1399.00", "61vJtKbAssL", true, SoldByAmazon),
		amz("AU", "B0BN942894", "Meta Quest 3 128GB", "799.00", "61cSLWdvH6L", false, SoldByAmazon),
		{Site: SiteWalmart, Region: "USA", SKU: "5113183757", Title: "PlayStation 5 Digital Edition Slim Console", Price: "399.00",
			Image: "https://i5.walmartimages.com/seo/PlayStation-5-Digital-Console-Slim_8a2b4c1e.jpeg", InStock: false},
		{Site: SiteWalmart, Region: "USA", SKU: "1736740710", Title: "Pokemon TCG Scarlet and Violet Surging Sparks Booster Bundle", Price: "26.94",
			Image: "https://i5.walmartimages.com/seo/Pokemon-Surging-Sparks-Booster-Bundle_3f9d2a7b.jpeg", InStock: true, SoldBy: SoldByThirdParty},
		{Site: SiteWalmart, Region: "CA", SKU: "6000207312545", Title: "Nintendo Switch Lite Turquoise", Price: "259.96",
			Image: "https://i5.walmartimages.com/asr/switch-lite-turquoise_5c1a9e.jpeg", InStock: true},
		{Site: SiteWalmart, Region: "CA", SKU: "4G2KXV9Q7T1M", Title: "LEGO Icons Orchid 10311", Price: "64.97",
			Image: "https://i5.walmartimages.com/asr/lego-orchid-10311_1b7c2d.jpeg", InStock: false},
		{Site: SiteShopify, Store: "kicks-demo.myshopify.com", Handle: "nike-dunk-low-retro-panda", Title: "Nike Dunk Low Retro Panda",
			Vendor: "Nike", Tags: []string{"nike", "dunk", "sneakers"}, Image: "https://cdn.shopify.com/s/files/1/0612/4481/7254/files/dunk-low-panda.jpg?v=1727874867",
			Variants: []Variant{
				{ID: 44012345678901, Title: "US 8", SKU: "DD1391-100-8", PriceCents: 11500},
				{ID: 44012345678902, Title: "US 9", SKU: "DD1391-100-9", PriceCents: 11500, InStock: true},
				{ID: 44012345678903, Title: "US 10", SKU: "DD1391-100-10", PriceCents: 11500},
			}},
		{Site: SiteShopify, Store: "kicks-demo.myshopify.com", Handle: "adidas-samba-og-white", Title: "adidas Samba OG Cloud White",
			Vendor: "adidas", Tags: []string{"adidas", "samba"}, Image: "https://cdn.shopify.com/s/files/1/0612/4481/7254/files/samba-og.jpg?v=1727874867",
			Variants: []Variant{
				{ID: 44012345679001, Title: "US 9", SKU: "B75806-9", PriceCents: 10000},
				{ID: 44012345679002, Title: "US 10", SKU: "B75806-10", PriceCents: 10000},
			}},
		{Site: SiteShopify, Store: "kicks-demo.myshopify.com", Handle: "new-balance-550-white-green", Title: "New Balance 550 White Green",
			Vendor: "New Balance", Tags: []string{"new balance", "550"}, Image: "https://cdn.shopify.com/s/files/1/0612/4481/7254/files/nb-550.jpg?v=1727874867",
			Variants: []Variant{
				{ID: 44012345679101, Title: "US 10", SKU: "BB550WT1-10", PriceCents: 12999, InStock: true},
			}},
	}
	return Catalog{Products: ps}
}

// DemoTargets watches the demo catalog through a simulator at baseURL
// ("http://127.0.0.1:8089"): one target per product, plus a keyword
// target for "nike dunk" on the Shopify store.
func DemoTargets(baseURL string) []monitors.Target {
	ts := CatalogTargets(DemoCatalog(), baseURL)
	ts = append(ts, monitors.Target{
		Site: SiteShopify, Store: "https://kicks-demo.myshopify.com", Keywords: [][]string{{"nike", "dunk"}},
		BaseURL: strings.TrimRight(baseURL, "/") + "/kicks-demo.myshopify.com",
	})
	return ts
}

// CatalogTargets returns one target per product of c, pointed at the
// simulator at baseURL through its path prefixes.
func CatalogTargets(c Catalog, baseURL string) []monitors.Target {
	base := strings.TrimRight(baseURL, "/")
	var ts []monitors.Target
	for _, p := range c.Products {
		switch p.Site {
		case SiteAmazon:
			d, ok := AmazonDomain(p.Region)
			if !ok {
				continue
			}
			ts = append(ts, monitors.Target{Site: SiteAmazon, Region: p.Region, SKU: p.SKU, BaseURL: base + "/" + d})
		case SiteWalmart:
			ts = append(ts, monitors.Target{Site: SiteWalmart, Region: p.Region, SKU: p.SKU, BaseURL: base + "/" + walmartDomain(p.Region)})
		case SiteShopify:
			ts = append(ts, monitors.Target{Site: SiteShopify, Store: "https://" + p.Store, Handle: p.Handle, BaseURL: base + "/" + p.Store})
		}
	}
	return ts
}
