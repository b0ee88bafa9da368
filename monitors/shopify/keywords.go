package shopify

import "strings"

// MatchKeywords reports whether title matches the keyword groups: the
// groups are OR-ed, the keywords inside a group AND-ed. Matching is a
// case-insensitive substring test ("dunk" matches "Nike Dunk Low"); a
// keyword starting with '-' is negative and must not occur. An empty
// group, or an empty list of groups, matches nothing.
func MatchKeywords(title string, groups [][]string) bool {
	return compileKeywords(groups).match(title)
}

// keywordSet is groups lower-cased once, for matching a whole catalog.
type keywordSet [][]keyword

type keyword struct {
	text string
	neg  bool
}

func compileKeywords(groups [][]string) keywordSet {
	ks := make(keywordSet, 0, len(groups))
	for _, g := range groups {
		cg := make([]keyword, 0, len(g))
		for _, k := range g {
			k = strings.TrimSpace(k)
			neg := strings.HasPrefix(k, "-")
			if neg {
				k = strings.TrimSpace(k[1:])
			}
			if k == "" {
				continue
			}
			cg = append(cg, keyword{text: strings.ToLower(k), neg: neg})
		}
		ks = append(ks, cg)
	}
	return ks
}

func (ks keywordSet) match(title string) bool {
	lt := strings.ToLower(title)
	for _, g := range ks {
		if len(g) == 0 {
			continue
		}
		ok := true
		for _, k := range g {
			if strings.Contains(lt, k.text) == k.neg {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
