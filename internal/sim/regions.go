package sim

import (
	"fmt"
	"strings"

	"github.com/stellarfeed/stellarfeed/monitors/amazon"
)

// amazonRegion is what the simulator needs to know about one Amazon
// marketplace: where it lives, who Amazon is there, and how its pages speak
// and write prices. The texts are the ones monitors look for, so they follow
// the retailer facts word for word.
type amazonRegion struct {
	Code          string // Stellar region code: USA, CA, UK, ...
	Domain        string // www.amazon.de
	MarketplaceID string
	SellerID      string // Amazon's own merchant id in this marketplace
	Lang          string // html lang attribute
	Currency      string // ISO 4217
	TitlePrefix   string // "Amazon.de: "

	// Price format: Symbol before or after the number, separators, decimals.
	Symbol       string
	SymbolAfter  bool
	Thousands    string
	Decimal      string
	NoDecimals   bool // JPY has no minor unit on the page
	SymbolSpaced bool // "CDN$ 12.99", "12,99 €"

	InStock       string
	Unavailable   string
	AddToCart     string
	BuyNow        string
	SoldByAmazon  string
	ShipsFrom     string
	SoldBy        string
	CaptchaPrompt string
	CaptchaIntro  string
	Continue      string
	AmazonName    string // the merchant name Amazon uses for itself
}

// amazonRegions are the simulated marketplaces. Where each lives and who
// Amazon is there (Domain, MarketplaceID, SellerID, Currency) come from the
// Amazon monitor's region table, the one home of that data; the page texts
// are the simulator's own.
var amazonRegions = withMarketplaces([]amazonRegion{
	{Code: "USA",
		Lang: "en-us", TitlePrefix: "Amazon.com: ",
		Symbol: "$", Thousands: ",", Decimal: ".",
		InStock: "In Stock", Unavailable: "Currently unavailable.", AddToCart: "Add to Cart", BuyNow: "Buy Now",
		SoldByAmazon: "Ships from and sold by Amazon.com.", ShipsFrom: "Ships from", SoldBy: "Sold by",
		CaptchaPrompt: "Enter the characters you see below",
		CaptchaIntro:  "Sorry, we just need to make sure you're not a robot. For best results, please make sure your browser is accepting cookies.",
		Continue:      "Continue shopping", AmazonName: "Amazon.com"},
	{Code: "CA",
		Lang: "en-ca", TitlePrefix: "Amazon.ca: ",
		Symbol: "CDN$", SymbolSpaced: true, Thousands: ",", Decimal: ".",
		InStock: "In Stock", Unavailable: "Currently unavailable.", AddToCart: "Add to Cart", BuyNow: "Buy Now",
		SoldByAmazon: "Ships from and sold by Amazon.ca.", ShipsFrom: "Ships from", SoldBy: "Sold by",
		CaptchaPrompt: "Enter the characters you see below",
		CaptchaIntro:  "Sorry, we just need to make sure you're not a robot. For best results, please make sure your browser is accepting cookies.",
		Continue:      "Continue shopping", AmazonName: "Amazon.ca"},
	{Code: "UK",
		Lang: "en-gb", TitlePrefix: "Amazon.co.uk: ",
		Symbol: "£", Thousands: ",", Decimal: ".",
		InStock: "In stock", Unavailable: "Currently unavailable.", AddToCart: "Add to Basket", BuyNow: "Buy Now",
		SoldByAmazon: "Dispatched from and sold by Amazon.", ShipsFrom: "Dispatches from", SoldBy: "Sold by",
		CaptchaPrompt: "Enter the characters you see below",
		CaptchaIntro:  "Sorry, we just need to make sure you're not a robot. For best results, please make sure your browser is accepting cookies.",
		Continue:      "Continue shopping", AmazonName: "Amazon"},
	{Code: "NL",
		Lang: "nl-nl", TitlePrefix: "Amazon.nl: ",
		Symbol: "€", SymbolAfter: true, SymbolSpaced: true, Thousands: ".", Decimal: ",",
		InStock: "Op voorraad", Unavailable: "Dit artikel is tijdelijk niet beschikbaar.", AddToCart: "In winkelwagen", BuyNow: "Nu kopen",
		SoldByAmazon: "Verzonden en verkocht door Amazon.", ShipsFrom: "Verzending", SoldBy: "Verkoper",
		CaptchaPrompt: "Voer de karakters in die u hieronder ziet",
		CaptchaIntro:  "Excuses, we moeten controleren dat u geen robot bent.",
		Continue:      "Doorgaan met winkelen", AmazonName: "Amazon"},
	{Code: "FR",
		Lang: "fr-fr", TitlePrefix: "Amazon.fr : ",
		Symbol: "€", SymbolAfter: true, SymbolSpaced: true, Thousands: ".", Decimal: ",",
		InStock: "En stock", Unavailable: "Actuellement indisponible.", AddToCart: "Ajouter au panier", BuyNow: "Acheter maintenant",
		SoldByAmazon: "Vendu et expédié par Amazon.", ShipsFrom: "Expédié par", SoldBy: "Vendu par",
		CaptchaPrompt: "Entrez les caractères que vous voyez ci-dessous",
		CaptchaIntro:  "Désolés, il faut que nous nous assurions que vous n'êtes pas un robot.",
		Continue:      "Continuer les achats", AmazonName: "Amazon"},
	{Code: "IT",
		Lang: "it-it", TitlePrefix: "Amazon.it: ",
		Symbol: "€", SymbolAfter: true, SymbolSpaced: true, Thousands: ".", Decimal: ",",
		InStock: "Disponibilità immediata", Unavailable: "Non disponibile.", AddToCart: "Aggiungi al carrello", BuyNow: "Acquista ora",
		SoldByAmazon: "Venduto e spedito da Amazon.", ShipsFrom: "Spedito da", SoldBy: "Venduto da",
		CaptchaPrompt: "Inserisci i caratteri visualizzati nello spazio sottostante",
		CaptchaIntro:  "Ci scusiamo, ma dobbiamo assicurarci che tu non sia un robot.",
		Continue:      "Continua con gli acquisti", AmazonName: "Amazon"},
	{Code: "DE",
		Lang: "de-de", TitlePrefix: "Amazon.de: ",
		Symbol: "€", SymbolAfter: true, SymbolSpaced: true, Thousands: ".", Decimal: ",",
		InStock: "Auf Lager", Unavailable: "Derzeit nicht verfügbar.", AddToCart: "In den Einkaufswagen", BuyNow: "Jetzt kaufen",
		SoldByAmazon: "Verkauf und Versand durch Amazon.", ShipsFrom: "Versand", SoldBy: "Verkäufer",
		CaptchaPrompt: "Geben Sie die Zeichen unten ein",
		CaptchaIntro:  "Geben Sie die Zeichen unten ein. Wir bitten um Ihr Verständnis und wollen uns sicher sein, dass Sie kein Bot sind.",
		Continue:      "Weiter shoppen", AmazonName: "Amazon"},
	{Code: "JP",
		Lang: "ja-jp", TitlePrefix: "Amazon.co.jp: ",
		Symbol: "￥", Thousands: ",", Decimal: ".", NoDecimals: true,
		InStock: "在庫あり。", Unavailable: "現在在庫切れです。この商品の再入荷予定は立っておりません。", AddToCart: "カートに入れる", BuyNow: "今すぐ買う",
		SoldByAmazon: "この商品は、Amazon.co.jp が販売、発送します。", ShipsFrom: "出荷元", SoldBy: "販売元",
		CaptchaPrompt: "下に表示されている文字を入力してください",
		CaptchaIntro:  "申し訳ありませんが、お客様がロボットでないことを確認させていただく必要があります。",
		Continue:      "ショッピングを続ける", AmazonName: "Amazon.co.jp"},
	{Code: "ES",
		Lang: "es-es", TitlePrefix: "Amazon.es: ",
		Symbol: "€", SymbolAfter: true, SymbolSpaced: true, Thousands: ".", Decimal: ",",
		InStock: "En stock", Unavailable: "No disponible.", AddToCart: "Añadir a la cesta", BuyNow: "Comprar ya",
		SoldByAmazon: "Vendido y enviado por Amazon.", ShipsFrom: "Enviado desde", SoldBy: "Vendido por",
		CaptchaPrompt: "Introduzca los caracteres que ve a continuación",
		CaptchaIntro:  "Lo sentimos, tenemos que asegurarnos de que no es un robot.",
		Continue:      "Seguir comprando", AmazonName: "Amazon"},
	{Code: "BE",
		Lang: "fr-be", TitlePrefix: "Amazon.com.be : ",
		Symbol: "€", SymbolAfter: true, SymbolSpaced: true, Thousands: ".", Decimal: ",",
		InStock: "En stock", Unavailable: "Actuellement indisponible.", AddToCart: "Ajouter au panier", BuyNow: "Acheter maintenant",
		SoldByAmazon: "Vendu et expédié par Amazon.", ShipsFrom: "Expédié par", SoldBy: "Vendu par",
		CaptchaPrompt: "Entrez les caractères que vous voyez ci-dessous",
		CaptchaIntro:  "Désolés, il faut que nous nous assurions que vous n'êtes pas un robot.",
		Continue:      "Continuer les achats", AmazonName: "Amazon"},
	{Code: "PL",
		Lang: "pl-pl", TitlePrefix: "Amazon.pl: ",
		Symbol: "zł", SymbolAfter: true, SymbolSpaced: true, Thousands: ".", Decimal: ",",
		InStock: "W magazynie", Unavailable: "Obecnie niedostępny.", AddToCart: "Dodaj do koszyka", BuyNow: "Kup teraz",
		SoldByAmazon: "Wysyłka i sprzedaż przez Amazon.", ShipsFrom: "Wysyłka", SoldBy: "Sprzedawca",
		CaptchaPrompt: "Wprowadź znaki, które widzisz poniżej",
		CaptchaIntro:  "Przepraszamy, musimy upewnić się, że nie jesteś robotem.",
		Continue:      "Kontynuuj zakupy", AmazonName: "Amazon"},
	{Code: "AU",
		Lang: "en-au", TitlePrefix: "Amazon.com.au: ",
		Symbol: "A$", Thousands: ",", Decimal: ".",
		InStock: "In stock", Unavailable: "Currently unavailable.", AddToCart: "Add to Cart", BuyNow: "Buy Now",
		SoldByAmazon: "Ships from and sold by Amazon AU.", ShipsFrom: "Ships from", SoldBy: "Sold by",
		CaptchaPrompt: "Enter the characters you see below",
		CaptchaIntro:  "Sorry, we just need to make sure you're not a robot. For best results, please make sure your browser is accepting cookies.",
		Continue:      "Continue shopping", AmazonName: "Amazon AU"},
})

// withMarketplaces fills each region's marketplace facts from
// monitors/amazon; a code it does not know is a programming error.
func withMarketplaces(rs []amazonRegion) []amazonRegion {
	for i := range rs {
		info, ok := amazon.Region(rs[i].Code)
		if !ok {
			panic("sim: no Amazon marketplace " + rs[i].Code)
		}
		rs[i].Domain, rs[i].MarketplaceID, rs[i].SellerID, rs[i].Currency = info.Domain, info.MarketplaceID, info.SellerID, info.Currency
	}
	return rs
}

// AmazonRegions lists the simulated Amazon region codes in the facts
// table's order.
func AmazonRegions() []string {
	out := make([]string, len(amazonRegions))
	for i, r := range amazonRegions {
		out[i] = r.Code
	}
	return out
}

// AmazonDomain returns the domain the simulator serves a region under
// ("DE" → "www.amazon.de").
func AmazonDomain(region string) (string, bool) {
	r, ok := amazonRegionByCode(region)
	if !ok {
		return "", false
	}
	return r.Domain, true
}

func amazonRegionByCode(code string) (*amazonRegion, bool) {
	for i := range amazonRegions {
		if amazonRegions[i].Code == code {
			return &amazonRegions[i], true
		}
	}
	return nil, false
}

func amazonRegionByDomain(domain string) (*amazonRegion, bool) {
	for i := range amazonRegions {
		if amazonRegions[i].Domain == domain {
			return &amazonRegions[i], true
		}
	}
	return nil, false
}

func amazonRegionCodes() string {
	return strings.Join(AmazonRegions(), ", ")
}

// Walmart domains and Walmart.com's own seller id (from the facts).
const (
	walmartUSDomain = "www.walmart.com"
	walmartCADomain = "www.walmart.ca"
	walmartUSSeller = "F55CDC31AB754BB68FE0B39041159D63"
	walmartCASeller = "0"
	walmartUSName   = "Walmart.com"
	walmartCAName   = "Walmart"
)

// priceParts is a decimal price split the way Amazon renders it.
type priceParts struct {
	Whole    string // with thousands separators: "1.234"
	Fraction string // "56", empty for JPY
	Display  string // the .a-offscreen text: "1.234,56 €"
}

// formatAmazonPrice renders a plain decimal ("1234.56") in a region's page
// format. The input was validated when the catalog was loaded.
func formatAmazonPrice(r *amazonRegion, price string) priceParts {
	whole, frac, _ := strings.Cut(price, ".")
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	switch {
	case len(frac) == 0:
		frac = "00"
	case len(frac) == 1:
		frac += "0"
	case len(frac) > 2:
		frac = frac[:2]
	}
	grouped := groupThousands(whole, r.Thousands)
	num := grouped
	p := priceParts{Whole: grouped}
	if r.NoDecimals {
		// Yen prices carry no fraction; a catalog price of "12800.00" is
		// shown as ￥12,800.
	} else {
		p.Fraction = frac
		num = grouped + r.Decimal + frac
	}
	sp := ""
	if r.SymbolSpaced {
		sp = " "
	}
	if r.SymbolAfter {
		p.Display = num + sp + r.Symbol
	} else {
		p.Display = r.Symbol + sp + num
	}
	return p
}

// groupThousands inserts sep every three digits from the right.
func groupThousands(digits, sep string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	lead := len(digits) % 3
	if lead > 0 {
		b.WriteString(digits[:lead])
	}
	for i := lead; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteString(sep)
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// centsOf converts a validated decimal price string to minor units.
func centsOf(price string) int64 {
	whole, frac, _ := strings.Cut(price, ".")
	var c int64
	for _, ch := range whole {
		c = c*10 + int64(ch-'0')
	}
	frac += "00"
	c = c*100 + int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	return c
}

// decimalOf renders minor units as a plain decimal string ("29.99").
func decimalOf(cents int64) string {
	return fmt.Sprintf("%d.%02d", cents/100, cents%100)
}
