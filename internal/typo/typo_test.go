package typo

import (
	"strings"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"amazon", "amazon", 0},
		{"amazn", "amazon", 1},
		{"amzaon", "amazon", 2},
		{"walmart", "walmartca", 2},
		{"", "abc", 3},
		{"kitten", "sitting", 3},
		{strings.Repeat("a", 65), "a", 64},
	} {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := Distance(tt.b, tt.a); got != tt.want && len(tt.a) <= 64 {
			t.Errorf("Distance(%q, %q) = %d, want %d (symmetric)", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestClosest(t *testing.T) {
	known := []string{"amazon", "walmart", "walmartca"}
	for _, tt := range []struct {
		name string
		want string
		ok   bool
	}{
		{"amazn", "amazon", true},
		{"walmat", "walmart", true},
		{"walmartcaa", "walmartca", true},
		{"walmartc", "walmart", true}, // a tie: the first
		{"AMAZN", "amazon", true},
		{"kith", "", false},
	} {
		got, ok := Closest(tt.name, known, 2)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Closest(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
