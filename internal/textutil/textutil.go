// Package textutil holds the two text rules error messages and validators
// share: how long a quoted input may be before it is cut, and what counts
// as a control character.
package textutil

import "unicode/utf8"

// ShortLen is how many bytes of an offending input an error message quotes.
const ShortLen = 64

// Short cuts s to at most ShortLen bytes plus "…", so an error about a
// huge input stays readable.
func Short(s string) string { return Truncate(s, ShortLen) }

// Truncate cuts s to at most n bytes plus "…", never inside a UTF-8
// sequence: the result is valid UTF-8 whenever s is.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// IsControl reports an ASCII control character (C0 or DEL), the
// characters the Stellar contract and our configs reject in text fields.
func IsControl(r rune) bool { return r < 0x20 || r == 0x7f }

// HasControl reports whether s holds an ASCII control character. It works
// on bytes: every byte of a multi-byte UTF-8 sequence is 0x80 or more.
func HasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if IsControl(rune(s[i])) {
			return true
		}
	}
	return false
}

// IsDigits reports whether s is one or more ASCII digits (an item id).
func IsDigits(s string) bool {
	return s != "" && all(s, func(c byte) bool { return c >= '0' && c <= '9' })
}

// IsAlnum reports whether s is one or more ASCII letters or digits.
func IsAlnum(s string) bool {
	return s != "" && all(s, func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' })
}

// IsUpperAlnum reports whether s is one or more ASCII upper-case letters
// or digits, the alphabet of Amazon's ASINs and merchant ids.
func IsUpperAlnum(s string) bool {
	return s != "" && all(s, func(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' })
}

func all(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}
