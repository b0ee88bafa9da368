package amazon

import (
	"strings"
	"testing"
)

func TestParsePrice(t *testing.T) {
	f := func(region, in, want string, wantValue float64) {
		t.Helper()
		r, ok := Region(region)
		if !ok {
			t.Fatalf("bad region %q", region)
		}
		got, v, err := ParsePrice(in, r)
		if err != nil {
			t.Errorf("ParsePrice(%q, %s): %v", in, region, err)
			return
		}
		if got != want || v != wantValue {
			t.Errorf("ParsePrice(%q, %s) = %q, %v; want %q, %v", in, region, got, v, want, wantValue)
		}
	}
	// The formats named in the task, then every storefront's own.
	f("USA", "$35.99", "35.99", 35.99)
	f("DE", "1.234,56 €", "1234.56", 1234.56)
	f("DE", "EUR 1.234,56", "1234.56", 1234.56)
	f("JP", "￥12,800", "12800", 12800)
	f("UK", "£1,299.00", "1299.00", 1299)
	f("PL", "1 234,56 zł", "1234.56", 1234.56)
	f("CA", "CDN$ 49.99", "49.99", 49.99)
	f("AU", "A$99.95", "99.95", 99.95)

	f("USA", "  $1,099.00 ", "1099.00", 1099)
	f("USA", "$5", "5", 5)
	f("USA", "$0.99", "0.99", 0.99)
	f("USA", "$1,234,567.89", "1234567.89", 1234567.89)
	f("CA", "$1,249.99", "1249.99", 1249.99)
	f("CA", "C$ 12.5", "12.50", 12.5)
	f("NL", "€\u00a01.234,56", "1234.56", 1234.56)
	f("NL", "€ 29,99", "29.99", 29.99)
	f("FR", "1\u202f234,56\u00a0€", "1234.56", 1234.56)
	f("FR", "29,99€", "29.99", 29.99)
	f("IT", "239,00 €", "239.00", 239)
	f("ES", "24,95 €", "24.95", 24.95)
	f("BE", "849,99 €", "849.99", 849.99)
	f("PL", "3\u00a0999,00\u00a0zł", "3999.00", 3999)
	f("PL", "PLN 15,00", "15.00", 15)
	f("JP", "¥4,980", "4980", 4980)
	f("JP", "4,980円", "4980", 4980)
	f("JP", "￥1,234,567", "1234567", 1234567)
	f("DE", "1.234 €", "1234", 1234)
	f("USA", "$007.50", "7.50", 7.5)
	// A lone separator before one or two digits is the decimal mark, before
	// three a thousands separator, whatever the storefront's habit.
	f("USA", "1,23 €", "1.23", 1.23)
	f("JP", "￥1.999", "1999", 1999)
	f("JP", "￥12.80", "12.80", 12.8)
}

func TestParsePriceErrors(t *testing.T) {
	usa, _ := Region("USA")
	jp, _ := Region("JP")
	tests := []struct {
		in string
		r  RegionInfo
	}{
		{"", usa}, {"   ", usa}, {"$", usa}, {"€", usa},
		{"abc", usa}, {"$35.99 with 22 percent savings", usa},
		{"$10.99 - $15.99", usa}, {"-$5.00", usa}, {"$.99", usa}, {"$12.", usa},
		{"$1..2", usa}, {"$1,2,3", usa}, {"$1.234.5", usa}, {"$12.345.678,9,1", usa},
		{"$12,34,567.00", usa}, {"￥1,28", jp},
		{"$1234567890123.00", usa}, {"$1.2345", usa}, {"1,234.567", usa},
	}
	for _, tt := range tests {
		if got, v, err := ParsePrice(tt.in, tt.r); err == nil {
			t.Errorf("ParsePrice(%q) = %q, %v; want an error", tt.in, got, v)
		} else if !strings.Contains(err.Error(), "price") {
			t.Errorf("ParsePrice(%q) error %q does not name the field", tt.in, err)
		}
	}
}

func TestWholeFraction(t *testing.T) {
	tests := []struct{ whole, frac, want string }{
		{"35.", "99", "35.99"},
		{"1.234,", "56", "1234.56"},
		{"1\u202f234,", "56", "1234.56"},
		{"12,800", "", "12800"},
		{" 45 ", "9", "45.90"},
	}
	for _, tt := range tests {
		got, _, err := wholeFraction(tt.whole, tt.frac)
		if err != nil || got != tt.want {
			t.Errorf("wholeFraction(%q, %q) = %q, %v; want %q", tt.whole, tt.frac, got, err, tt.want)
		}
	}
	for _, bad := range [][2]string{{"", "99"}, {"abc", ""}, {"12", "999"}} {
		if got, _, err := wholeFraction(bad[0], bad[1]); err == nil {
			t.Errorf("wholeFraction(%q, %q) = %q, want an error", bad[0], bad[1], got)
		}
	}
}
