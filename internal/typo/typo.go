// Package typo finds the known name a mistyped one was meant to be, for
// "did you mean" hints in config errors and key scopes.
package typo

import "strings"

// Closest returns the candidate nearest to name by edit distance, ignoring
// ASCII case, if one is within maxDist edits; ties go to the first.
func Closest(name string, candidates []string, maxDist int) (string, bool) {
	best, bestD := "", maxDist+1
	name = strings.ToLower(name)
	for _, c := range candidates {
		if d := Distance(name, strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best, best != ""
}

// maxLen bounds the strings Distance compares: names are short, and input
// from a file or a request must not cost quadratic time.
const maxLen = 64

// Distance is the Levenshtein distance of a and b (insertions, deletions
// and substitutions of bytes), or maxLen when either is longer than that.
func Distance(a, b string) int {
	if len(a) > maxLen || len(b) > maxLen {
		return maxLen
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
