package stellar

import (
	"reflect"
	"strings"
	"testing"
)

func validAmazon() Ping {
	return Ping{
		Site: "amazon", Region: "USA", SKU: "B09MQ5L5N9", OfferID: "OID",
		Details: &Details{ProductTitle: "Amazon Test", ProductImage: "https://www.image.com/", ProductPrice: "199.99"},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		rules  Rules
		mutate func(p *Ping)
		want   []string // "field: message prefix"
	}{
		{name: "guide's amazon example", mutate: func(*Ping) {}},
		{name: "amazon without details", mutate: func(p *Ping) { p.Details = nil }},
		{name: "every region", mutate: func(p *Ping) { p.Region = "PL" }},
		{name: "walmart USA", mutate: func(p *Ping) { *p = Ping{Site: "walmart", SKU: "123456", OfferID: "E29410D79B744EA6B99DFF6FF89213B8"} }},
		{name: "walmart CA", mutate: func(p *Ping) {
			*p = Ping{Site: "walmartca", SKU: "1SZQHN3LOSE0", OfferID: "E29410D79B744EA6B99DFF6FF89213B8"}
		}},
		{name: "other site", mutate: func(p *Ping) { *p = Ping{Site: "shopify", SKU: "40012345"} }},
		{name: "integer price", mutate: func(p *Ping) { p.Details.ProductPrice = "12800" }},
		{name: "one decimal", mutate: func(p *Ping) { p.Details.ProductPrice = "9.5" }},
		{name: "empty ping", mutate: func(p *Ping) { *p = Ping{} }, want: []string{"site: required", "sku: required"}},
		{name: "amazon without region sku offer", mutate: func(p *Ping) { *p = Ping{Site: "amazon"} },
			want: []string{"sku: required", "region: required for site amazon", "offerId: required"}},
		{name: "bad region", mutate: func(p *Ping) { p.Region = "US" }, want: []string{`region: "US" is not one of USA, CA, UK`}},
		{name: "lower-case region", mutate: func(p *Ping) { p.Region = "usa" }, want: []string{`region: "usa" is not one of`}},
		{name: "not an ASIN", mutate: func(p *Ping) { p.SKU = "b09mq5l5n9" }, want: []string{`sku: "b09mq5l5n9" is not an ASIN`}},
		{name: "site upper case", mutate: func(p *Ping) { p.Site = "Amazon" }, want: []string{`site: "Amazon" must be lower-case`, "region: only allowed for site amazon", "offerId: not allowed"}},
		{name: "walmart without offer", mutate: func(p *Ping) { *p = Ping{Site: "walmart", SKU: "1"} }, want: []string{"offerId: required"}},
		{name: "offer on other site", mutate: func(p *Ping) { *p = Ping{Site: "target", SKU: "1", OfferID: "x"} }, want: []string{`offerId: not allowed for site "target"`}},
		{name: "region on walmart", mutate: func(p *Ping) { *p = Ping{Site: "walmart", Region: "CA", SKU: "1", OfferID: "x"} }, want: []string{"region: only allowed for site amazon"}},
		{name: "configured walmart names", rules: Rules{OfferIDSites: []string{"walmart-ca"}},
			mutate: func(p *Ping) { *p = Ping{Site: "walmartca", SKU: "1", OfferID: "x"} }, want: []string{`offerId: not allowed for site "walmartca"`}},
		{name: "configured walmart name requires offer", rules: Rules{OfferIDSites: []string{"walmart-ca"}},
			mutate: func(p *Ping) { *p = Ping{Site: "walmart-ca", SKU: "1"} }, want: []string{"offerId: required"}},
		{name: "relative image", mutate: func(p *Ping) { p.Details.ProductImage = "/images/I/x.jpg" }, want: []string{`details.productImage: "/images/I/x.jpg" is not an absolute http(s) URL`}},
		{name: "ftp image", mutate: func(p *Ping) { p.Details.ProductImage = "ftp://x.com/a.jpg" }, want: []string{"details.productImage: "}},
		{name: "image without host", mutate: func(p *Ping) { p.Details.ProductImage = "https:///a.jpg" }, want: []string{"details.productImage: "}},
		{name: "price with currency", mutate: func(p *Ping) { p.Details.ProductPrice = "$19.99" }, want: []string{`details.productPrice: "$19.99" is not a plain decimal`}},
		{name: "price with comma", mutate: func(p *Ping) { p.Details.ProductPrice = "1.234,56" }, want: []string{"details.productPrice: "}},
		{name: "price three decimals", mutate: func(p *Ping) { p.Details.ProductPrice = "1.234" }, want: []string{"details.productPrice: "}},
		{name: "price trailing dot", mutate: func(p *Ping) { p.Details.ProductPrice = "12." }, want: []string{"details.productPrice: "}},
		{name: "sku with spaces", mutate: func(p *Ping) { *p = Ping{Site: "shopify", SKU: " 1 "} }, want: []string{"sku: \" 1 \" has surrounding spaces"}},
		{name: "title control chars", mutate: func(p *Ping) { p.Details.ProductTitle = "a\x00b" }, want: []string{"details.productTitle: contains control characters"}},
		{name: "long title", mutate: func(p *Ping) { p.Details.ProductTitle = strings.Repeat("x", 513) }, want: []string{"details.productTitle: longer than 512 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validAmazon()
			tt.mutate(&p)
			err := tt.rules.Validate(&p)
			got := FieldErrors(err)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Validate() = %v, want %d errors %q", err, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(got[i].Error(), w) {
					t.Errorf("error %d = %q, want prefix %q", i, got[i].Error(), w)
				}
			}
		})
	}
}

func TestRegions(t *testing.T) {
	want := []string{"USA", "CA", "UK", "NL", "FR", "IT", "DE", "JP", "ES", "BE", "PL", "AU"}
	got := Regions()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Regions() = %v, want %v", got, want)
	}
	got[0] = "XX" // callers get a copy
	if !IsRegion("USA") || IsRegion("XX") {
		t.Fatal("Regions() exposed the package's table")
	}
}
