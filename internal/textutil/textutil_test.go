package textutil

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	f := func(s string, n int, want string) {
		t.Helper()
		if got := Truncate(s, n); got != want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", s, n, got, want)
		}
	}
	f("", 3, "")
	f("abc", 3, "abc")
	f("abcd", 3, "abc…")
	f("aé", 2, "a…")              // é is 2 bytes: cutting at 2 would split it
	f("日本語", 4, "日…")             // 3-byte runes: back to the rune start
	f("日本語", 3, "日…")             // a cut on a rune boundary keeps the rune
	f("\xff\xfe\xfd", 1, "\xff…") // invalid input: cut where asked
}

func TestShort(t *testing.T) {
	long := strings.Repeat("a", 63) + "€€"
	got := Short(long)
	if !utf8.ValidString(got) || got != strings.Repeat("a", 63)+"…" {
		t.Errorf("Short = %q, want 63 a's and …", got)
	}
	if s := strings.Repeat("x", ShortLen); Short(s) != s {
		t.Error("Short cut an input of exactly ShortLen bytes")
	}
}

func TestHasControl(t *testing.T) {
	for s, want := range map[string]bool{
		"":           false,
		"plain":      false,
		"tab\there":  true,
		"nl\n":       true,
		"del\x7f":    true,
		"nul\x00":    true,
		"über 日本":    false,
		"\u0085next": false, // C1 controls are not ASCII controls
	} {
		if got := HasControl(s); got != want {
			t.Errorf("HasControl(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzTruncate(f *testing.F) {
	f.Add("日本語テキスト", 5)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 1<<10 {
			return
		}
		got := Truncate(s, n)
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Truncate(%q, %d) = %q: invalid UTF-8", s, n, got)
		}
		if len(s) > n && len(strings.TrimSuffix(got, "…")) > n {
			t.Fatalf("Truncate(%q, %d) = %q: longer than %d bytes", s, n, got, n)
		}
	})
}

func TestIsDigits(t *testing.T) {
	for s, want := range map[string]bool{"": false, "0": true, "5113183757": true, "12a": false, " 1": false, "١": false} {
		if got := IsDigits(s); got != want {
			t.Errorf("IsDigits(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestAlnum(t *testing.T) {
	for _, tc := range []struct {
		s            string
		alnum, upper bool
	}{
		{"", false, false},
		{"B0DR8G428S", true, true},
		{"a1B2", true, false},
		{"A-1", false, false},
		{"É1", false, false},
	} {
		if got := IsAlnum(tc.s); got != tc.alnum {
			t.Errorf("IsAlnum(%q) = %v, want %v", tc.s, got, tc.alnum)
		}
		if got := IsUpperAlnum(tc.s); got != tc.upper {
			t.Errorf("IsUpperAlnum(%q) = %v, want %v", tc.s, got, tc.upper)
		}
	}
}
