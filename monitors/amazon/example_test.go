package amazon_test

import (
	"fmt"

	"github.com/stellarfeed/stellarfeed/monitors/amazon"
)

func ExampleParseProduct() {
	// A trimmed amazon.de product page: the buy box carries the
	// URL-encoded offer listing id and Amazon's own merchant id.
	page := []byte(`<!doctype html><html lang="de-de"><body>
<img id="landingImage" src="https://m.media-amazon.com/images/I/71x._AC_SX466_.jpg"
     data-old-hires="https://m.media-amazon.com/images/I/71x._AC_SL1500_.jpg"/>
<span id="productTitle">  Pokémon Top-Trainer-Box  </span>
<div id="desktop_buybox"><div id="buybox">
 <div id="corePrice_feature_div"><span class="a-price"><span class="a-offscreen">1.234,56&nbsp;€</span></span></div>
 <div id="availability"><span>Auf Lager</span></div>
 <form id="addToCart" method="post">
  <input type="hidden" id="ASIN" name="ASIN" value="B0DE000106"/>
  <input type="hidden" id="offerListingID" name="offerListingID" value="p7h8Hu2%2BBb5u%2FQ%3D%3D"/>
  <input type="hidden" id="merchantID" name="merchantID" value="A3JWKAKR8XB7XF"/>
  <input id="add-to-cart-button" type="submit" value="In den Einkaufswagen"/>
 </form>
</div></div>
<div id="sims"><span class="a-price"><span class="a-offscreen">9,99 €</span></span></div>
</body></html>`)

	r, _ := amazon.Region("DE")
	p, err := amazon.ParseProduct(page, r, "B0DE000106")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.ASIN, p.Stock, p.Price, p.Currency)
	fmt.Println("offer:", p.OfferID) // decoded: what Stellar's offerId carries
	fmt.Println("merchant:", p.Merchant, "sold by Amazon:", p.SoldByAmazon)
	fmt.Println(p.Title)
	fmt.Println(p.Image)
	// Output:
	// B0DE000106 in_stock 1234.56 EUR
	// offer: p7h8Hu2+Bb5u/Q==
	// merchant: A3JWKAKR8XB7XF sold by Amazon: true
	// Pokémon Top-Trainer-Box
	// https://m.media-amazon.com/images/I/71x._AC_SL1500_.jpg
}

func ExampleParsePrice() {
	for _, s := range []struct{ region, text string }{
		{"USA", "$35.99"}, {"DE", "1.234,56 €"}, {"JP", "￥12,800"}, {"PL", "1 234,56 zł"},
	} {
		r, _ := amazon.Region(s.region)
		dec, _, _ := amazon.ParsePrice(s.text, r)
		fmt.Println(dec)
	}
	// Output:
	// 35.99
	// 1234.56
	// 12800
	// 1234.56
}
