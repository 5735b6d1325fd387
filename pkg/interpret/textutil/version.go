package textutil

import (
	"strconv"
	"strings"
)

// MajorMinor reads "1.18.8", "v1.18", "1.18.0-rc.1"; false when there is
// no major.minor to read.
func MajorMinor(version string) (int, int, bool) {
	v := strings.TrimPrefix(strings.TrimSpace(version), "v")
	majS, rest, ok := strings.Cut(v, ".")
	if !ok {
		return 0, 0, false
	}
	minS := rest
	if i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minS = rest[:i]
	}
	maj, err1 := strconv.Atoi(majS)
	min, err2 := strconv.Atoi(minS)
	if err1 != nil || err2 != nil || maj < 0 || min < 0 {
		return 0, 0, false
	}
	return maj, min, true
}

// VersionBefore reports whether version is known and older than maj.min.
func VersionBefore(version string, maj, min int) bool {
	a, b, ok := MajorMinor(version)
	return ok && (a < maj || (a == maj && b < min))
}
