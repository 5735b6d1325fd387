package acceptance

import (
	"math/rand/v2"
	"sort"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// Sample chooses up to n nodes of every class (all of them when n <= 0),
// with a shuffle seeded by seed: the same cluster and seed choose the same
// nodes, so a report's "--seed" reproduces its choice. Classes' Chosen
// lists are set in place, sorted; the chosen names are returned sorted.
func Sample(classes []report.VerifyClass, n int, seed int64, eligible func(string) bool) []string {
	var all []string
	for i := range classes {
		var pool []string
		for _, name := range classes[i].Nodes {
			if eligible == nil || eligible(name) {
				pool = append(pool, name)
			}
		}
		sort.Strings(pool)
		if n > 0 && len(pool) > n {
			// One generator per class, so adding nodes to one class does
			// not change the choice in the others.
			rng := rand.New(rand.NewPCG(uint64(seed), classSalt(classes[i].Name)))
			rng.Shuffle(len(pool), func(a, b int) { pool[a], pool[b] = pool[b], pool[a] })
			pool = pool[:n]
			sort.Strings(pool)
		}
		classes[i].Chosen = append([]string{}, pool...)
		all = append(all, pool...)
	}
	sort.Strings(all)
	return all
}

// classSalt is FNV-1a of the class name.
func classSalt(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
