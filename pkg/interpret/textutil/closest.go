package textutil

import (
	"sort"
	"strings"
)

// Closest returns up to max candidates nearest to name by edit distance
// (ties by name), leaving out those so far that they would only confuse.
func Closest(name string, candidates []string, max int) []string {
	type scored struct {
		s string
		d int
	}
	var ss []scored
	for _, c := range candidates {
		d := levenshtein(strings.ToLower(name), strings.ToLower(c))
		if strings.Contains(c, name) || strings.Contains(name, c) {
			d = d / 2
		}
		if d <= len(name)/2+2 {
			ss = append(ss, scored{c, d})
		}
	}
	sort.Slice(ss, func(i, j int) bool {
		if ss[i].d != ss[j].d {
			return ss[i].d < ss[j].d
		}
		return ss[i].s < ss[j].s
	})
	var out []string
	for i := 0; i < len(ss) && i < max; i++ {
		out = append(out, ss[i].s)
	}
	return out
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// DidYouMean is "; did you mean a, b?" for the up to three candidates
// closest to name, or "" when none is close: the tail of every
// "no such ..." error.
func DidYouMean(name string, candidates []string) string {
	if c := Closest(name, candidates, 3); len(c) > 0 {
		return "; did you mean " + strings.Join(c, ", ") + "?"
	}
	return ""
}
