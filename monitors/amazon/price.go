package amazon

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// currencyTokens are the currency marks Amazon storefronts put before or
// after an amount, longest first so "CDN$" wins over "$". Any region may
// show any of them (Amazon's currency converter), so they are not tied to
// the region.
var currencyTokens = [...]string{
	"CDN$", "AU$", "US$", "C$", "A$", "USD", "CAD", "AUD", "GBP", "EUR", "JPY", "PLN",
	"$", "£", "€", "￥", "¥", "円", "zł",
}

// maxIntDigits bounds the integer part: no Amazon price has more, and it
// keeps the output inside Stellar's price length limit.
const maxIntDigits = 12

// ParsePrice turns a storefront price ("$35.99", "1.234,56 €",
// "EUR 1.234,56", "￥12,800", "1 234,56 zł", "CDN$ 49.99") into a plain
// decimal with a dot separator and no currency ("1234.56", "12800"): the
// form Stellar's productPrice takes. value is the same number as a float.
//
// Which of '.' and ',' is the decimal separator is decided from the text
// itself (the last of two different separators; a lone separator followed by
// one or two digits); r only breaks ties for regions without decimals. A
// fraction of one digit is padded to two.
func ParsePrice(text string, r RegionInfo) (decimal string, value float64, err error) {
	s := strings.TrimFunc(text, unicode.IsSpace)
	if s == "" {
		return "", 0, fmt.Errorf("price %q: empty", text)
	}
	s = trimCurrency(s)
	if s == "" {
		return "", 0, fmt.Errorf("price %q: no amount", text)
	}
	// Split into digit groups and the separators between them.
	var (
		groups []string
		seps   []rune
		start  = 0
		prev   rune
	)
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9':
		case c == '.' || c == ',' || unicode.IsSpace(c) || c == '\'':
			if i == start || !(prev >= '0' && prev <= '9') {
				return "", 0, fmt.Errorf("price %q: misplaced separator %q", text, c)
			}
			start0 := start
			start = i + utf8.RuneLen(c)
			if unicode.IsSpace(c) {
				c = ' '
			}
			groups = append(groups, s[start0:i])
			seps = append(seps, c)
		default:
			return "", 0, fmt.Errorf("price %q: unexpected character %q", text, c)
		}
		prev = c
	}
	if start >= len(s) {
		return "", 0, fmt.Errorf("price %q: ends with a separator", text)
	}
	groups = append(groups, s[start:])

	intGroups, frac := groups, ""
	if n := len(seps); n > 0 {
		last, lastLen := seps[n-1], len(groups[n])
		decimalLast := false
		switch {
		case last == ' ' || last == '\'':
		case strings.ContainsRune(string(seps[:n-1]), last):
			// "1,234,567": a repeated separator groups thousands.
		case n >= 2:
			decimalLast = true // "1.234,56", "1 234,56"
		case lastLen == 3:
			// "1,234" or "1.234": Amazon never shows three decimals.
		case lastLen <= 2:
			decimalLast = r.Decimals > 0 || string(last) == r.DecimalSep
		default:
			return "", 0, fmt.Errorf("price %q: cannot tell the decimal separator", text)
		}
		if decimalLast {
			if lastLen > 2 {
				return "", 0, fmt.Errorf("price %q: %d fraction digits", text, lastLen)
			}
			intGroups, frac = groups[:n], groups[n]
			seps = seps[:n-1]
		}
		// Thousands groups: one separator kind, three digits after each.
		for i, g := range intGroups {
			if i > 0 && (len(g) != 3 || seps[i-1] != seps[0]) {
				return "", 0, fmt.Errorf("price %q: bad digit grouping", text)
			}
			if i == 0 && len(intGroups) > 1 && len(g) > 3 {
				return "", 0, fmt.Errorf("price %q: bad digit grouping", text)
			}
		}
	}
	intPart := strings.TrimLeft(strings.Join(intGroups, ""), "0")
	if intPart == "" {
		intPart = "0"
	}
	if len(intPart) > maxIntDigits {
		return "", 0, fmt.Errorf("price %q: too large", text)
	}
	decimal = intPart
	if frac != "" {
		if len(frac) == 1 {
			frac += "0"
		}
		decimal += "." + frac
	}
	value, err = strconv.ParseFloat(decimal, 64)
	if err != nil {
		return "", 0, fmt.Errorf("price %q: %w", text, err)
	}
	return decimal, value, nil
}

// trimCurrency removes one currency token from each end, with the spaces
// around it.
func trimCurrency(s string) string {
	for _, tok := range currencyTokens {
		if strings.HasPrefix(s, tok) {
			s = strings.TrimLeftFunc(s[len(tok):], unicode.IsSpace)
			break
		}
	}
	for _, tok := range currencyTokens {
		if strings.HasSuffix(s, tok) {
			s = strings.TrimRightFunc(s[:len(s)-len(tok)], unicode.IsSpace)
			break
		}
	}
	return s
}

// wholeFraction joins the buy box's split price (".a-price-whole" holds
// "1.234," with the decimal mark, ".a-price-fraction" holds "56") into a
// plain decimal. Only digits count, so every locale's grouping works.
func wholeFraction(whole, fraction string) (string, float64, error) {
	w, f := digitsOnly(whole), digitsOnly(fraction)
	if w == "" {
		return "", 0, fmt.Errorf("price whole %q: no digits", whole)
	}
	if len(f) > 2 {
		return "", 0, fmt.Errorf("price fraction %q: %d digits", fraction, len(f))
	}
	text := w
	if f != "" {
		text += "." + f
	}
	return ParsePrice(text, RegionInfo{Decimals: 2, DecimalSep: "."})
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}
