// Package textutil holds the few text helpers every room needs, so that
// each is written once.
package textutil

import "strings"

// FirstLine is the first line of s without the blank space around s:
// the part of a tool's stderr worth quoting in a one-line error.
func FirstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
