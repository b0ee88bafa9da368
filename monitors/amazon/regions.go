package amazon

import (
	"slices"
	"strings"
)

// RegionInfo is what the monitor needs to know about one Amazon marketplace.
type RegionInfo struct {
	// Code is Stellar's region code: USA, CA, UK, NL, FR, IT, DE, JP, ES,
	// BE, PL or AU.
	Code string
	// Domain is the storefront host, e.g. "www.amazon.de".
	Domain string
	// MarketplaceID is Amazon's marketplace id (ATVPDKIKX0DER for USA).
	MarketplaceID string
	// SellerID is the merchant id Amazon itself sells under here; an offer
	// is "sold by Amazon" when its merchant id equals it (or one of
	// ExtraSellerIDs). "Ships from Amazon" alone never counts.
	SellerID string
	// ExtraSellerIDs are further merchant ids treated as Amazon itself; nil
	// by default, set through Config.SellerIDs.
	ExtraSellerIDs []string
	// AcceptLanguage is sent with every request so pages come back in the
	// language the parsers' text fallbacks expect.
	AcceptLanguage string
	// Currency is the ISO 4217 code prices are shown in.
	Currency string
	// Symbol is how the storefront writes the currency ("$", "€", "￥").
	Symbol string
	// SymbolAfter is true when the symbol follows the amount ("12,99 €").
	SymbolAfter bool
	// DecimalSep and GroupSep are the storefront's number separators; a
	// GroupSep of " " stands for the (narrow) no-break spaces Amazon uses.
	DecimalSep string
	GroupSep   string
	// Decimals is the number of fraction digits prices carry (0 for JP).
	Decimals int
}

// IsAmazon reports whether merchant is Amazon's own seller id in r.
func (r RegionInfo) IsAmazon(merchant string) bool {
	if merchant == "" {
		return false
	}
	return merchant == r.SellerID || slices.Contains(r.ExtraSellerIDs, merchant)
}

// regionTable is immutable after init: Region hands out copies. The BE and
// PL seller ids are the least certain; Config.SellerIDs overrides any of
// them without a code change.
var regionTable = [...]RegionInfo{
	{Code: "USA", Domain: "www.amazon.com", MarketplaceID: "ATVPDKIKX0DER", SellerID: "ATVPDKIKX0DER",
		AcceptLanguage: "en-US,en;q=0.9", Currency: "USD", Symbol: "$", DecimalSep: ".", GroupSep: ",", Decimals: 2},
	{Code: "CA", Domain: "www.amazon.ca", MarketplaceID: "A2EUQ1WTGCTBG2", SellerID: "A3DWYIK6Y9EEQB",
		AcceptLanguage: "en-CA,en;q=0.9,fr-CA;q=0.8", Currency: "CAD", Symbol: "$", DecimalSep: ".", GroupSep: ",", Decimals: 2},
	{Code: "UK", Domain: "www.amazon.co.uk", MarketplaceID: "A1F83G8C2ARO7P", SellerID: "A3P5ROKL5A1OLE",
		AcceptLanguage: "en-GB,en;q=0.9", Currency: "GBP", Symbol: "£", DecimalSep: ".", GroupSep: ",", Decimals: 2},
	{Code: "NL", Domain: "www.amazon.nl", MarketplaceID: "A1805IZSGTT6HS", SellerID: "A17D2BRD4YMT0X",
		AcceptLanguage: "nl-NL,nl;q=0.9,en;q=0.8", Currency: "EUR", Symbol: "€", DecimalSep: ",", GroupSep: ".", Decimals: 2},
	{Code: "FR", Domain: "www.amazon.fr", MarketplaceID: "A13V1IB3VIYZZH", SellerID: "A1X6FK5RDHNB96",
		AcceptLanguage: "fr-FR,fr;q=0.9", Currency: "EUR", Symbol: "€", SymbolAfter: true, DecimalSep: ",", GroupSep: " ", Decimals: 2},
	{Code: "IT", Domain: "www.amazon.it", MarketplaceID: "APJ6JRA9NG5V4", SellerID: "A11IL2PNWYJU7H",
		AcceptLanguage: "it-IT,it;q=0.9", Currency: "EUR", Symbol: "€", SymbolAfter: true, DecimalSep: ",", GroupSep: ".", Decimals: 2},
	{Code: "DE", Domain: "www.amazon.de", MarketplaceID: "A1PA6795UKMFR9", SellerID: "A3JWKAKR8XB7XF",
		AcceptLanguage: "de-DE,de;q=0.9", Currency: "EUR", Symbol: "€", SymbolAfter: true, DecimalSep: ",", GroupSep: ".", Decimals: 2},
	{Code: "JP", Domain: "www.amazon.co.jp", MarketplaceID: "A1VC38T7YXB528", SellerID: "AN1VRQENFRJN5",
		AcceptLanguage: "ja-JP,ja;q=0.9", Currency: "JPY", Symbol: "￥", DecimalSep: ".", GroupSep: ",", Decimals: 0},
	{Code: "ES", Domain: "www.amazon.es", MarketplaceID: "A1RKKUPIHCS9HS", SellerID: "A1AT7YVPFBWXBL",
		AcceptLanguage: "es-ES,es;q=0.9", Currency: "EUR", Symbol: "€", SymbolAfter: true, DecimalSep: ",", GroupSep: ".", Decimals: 2},
	{Code: "BE", Domain: "www.amazon.com.be", MarketplaceID: "AMEN7PMS3EDWL", SellerID: "A3Q3FYJVX702M2",
		AcceptLanguage: "fr-BE,fr;q=0.9,nl-BE;q=0.8", Currency: "EUR", Symbol: "€", SymbolAfter: true, DecimalSep: ",", GroupSep: ".", Decimals: 2},
	{Code: "PL", Domain: "www.amazon.pl", MarketplaceID: "A1C3SOZRARQ6R3", SellerID: "A2R2221NX79QZP",
		AcceptLanguage: "pl-PL,pl;q=0.9", Currency: "PLN", Symbol: "zł", SymbolAfter: true, DecimalSep: ",", GroupSep: " ", Decimals: 2},
	{Code: "AU", Domain: "www.amazon.com.au", MarketplaceID: "A39IBJ37TRP1C6", SellerID: "ANEGB3WVEVKZB",
		AcceptLanguage: "en-AU,en;q=0.9", Currency: "AUD", Symbol: "$", DecimalSep: ".", GroupSep: ",", Decimals: 2},
}

// Region returns the marketplace for a Stellar region code ("USA", "DE",
// …). Codes are exact: "US" and "de" are not regions.
func Region(code string) (RegionInfo, bool) {
	for _, r := range regionTable {
		if r.Code == code {
			return r, true
		}
	}
	return RegionInfo{}, false
}

// Regions returns all twelve marketplaces in Stellar's order.
func Regions() []RegionInfo {
	return slices.Clone(regionTable[:])
}

// regionCodes is the list error messages quote.
func regionCodes() string {
	return strings.Join((*Monitor)(nil).Regions(), ", ")
}
