package cilium

import (
	"bytes"
	"encoding/json"
	"strings"
)

// ParseStatus reads `cilium status` output in any supported rendering
// (JSON or text, plain, --verbose or only the KPR details block), after
// the paste noise has been removed. When several listings were pasted one
// after another, the last one wins.
func ParseStatus(b []byte) (*Status, error) {
	b = normalizeInput(b)
	if looksJSON(b, '{') {
		st, err := ParseStatusJSON(b)
		if err == nil {
			return st, nil
		}
		// A JSON-looking paste with text after it (or a broken document)
		// may still hold a readable text listing.
		if st2, err2 := ParseStatusText(b); err2 == nil {
			return st2, nil
		}
		return nil, err
	}
	return ParseStatusText(b)
}

// ParseServiceList reads `cilium service list` output, JSON or text. When
// several listings were pasted one after another, the last one wins.
func ParseServiceList(b []byte) ([]Service, error) {
	svcs, _, err := ParseServiceListFragment(b)
	return svcs, err
}

// ParseServiceListFragment is ParseServiceList that also reads text rows
// without their header (a grep of the table); fragment says it did.
func ParseServiceListFragment(b []byte) ([]Service, bool, error) {
	b = normalizeInput(b)
	if looksJSON(b, '[') || string(bytes.TrimSpace(b)) == "null" {
		svcs, err := ParseServiceListJSON(b)
		if err == nil {
			return svcs, false, nil
		}
		if svcs2, err2 := ParseServiceListText(b); err2 == nil {
			return svcs2, false, nil
		}
		return nil, false, err
	}
	return ParseServiceListTextFragment(b)
}

// LooksLikeStatus is a cheap check that b could be `cilium status` output
// (text, details block alone, or JSON). It does not validate.
func LooksLikeStatus(b []byte) bool {
	return bytes.Contains(b, []byte("KubeProxyReplacement:")) ||
		bytes.Contains(b, []byte("KubeProxyReplacement Details:")) ||
		bytes.Contains(b, []byte(`"kube-proxy-replacement"`)) ||
		(bytes.Contains(b, []byte("KVStore:")) && bytes.Contains(b, []byte("Cilium:"))) ||
		(bytes.Contains(b, []byte(`"cilium"`)) && bytes.Contains(b, []byte(`"kvstore"`)))
}

// LooksLikeServiceList is a cheap check that b could be `cilium service
// list` output (text table or JSON). It does not validate.
func LooksLikeServiceList(b []byte) bool {
	if bytes.Contains(b, []byte(`"frontend-address"`)) {
		return true
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if isServiceHeader(string(line)) {
			return true
		}
	}
	return false
}

// normalizeInput drops a UTF-8 BOM and carriage returns (CRLF pastes).
func normalizeInput(b []byte) []byte {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if bytes.IndexByte(b, '\r') >= 0 {
		b = bytes.ReplaceAll(b, []byte("\r"), nil)
	}
	return b
}

// looksJSON reports whether some line starts with open ('{' or '['), which
// is where a pretty-printed or compact JSON document begins.
func looksJSON(b []byte, open byte) bool {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		line = bytes.TrimLeft(line, " \t")
		if len(line) > 0 && line[0] == open {
			return true
		}
	}
	return false
}

// lastJSONDocument decodes the last JSON value that starts a line with
// open and that decode accepts (decode reads one value and reports whether
// it is the document wanted). Candidates at column 0 are tried first (that
// is where `-o json` puts the top-level value); indented ones only if none
// of those fit, so nested objects do not shadow the document. A truncated
// last document is skipped in favour of the one before it.
func lastJSONDocument(b []byte, open byte, decode func(*json.Decoder) bool) bool {
	// indented holds candidates at the smallest indentation seen (a whole
	// paste indented as a block); deeper ones are nested values.
	var col0, indented []int
	minIndent := -1
	off := 0
	for off < len(b) {
		end := bytes.IndexByte(b[off:], '\n')
		if end < 0 {
			end = len(b) - off
		}
		line := b[off : off+end]
		trimmed := bytes.TrimLeft(line, " \t")
		if len(trimmed) > 0 && trimmed[0] == open {
			ind := len(line) - len(trimmed)
			switch {
			case ind == 0:
				col0 = append(col0, off)
			case minIndent < 0 || ind < minIndent:
				minIndent, indented = ind, []int{off + ind}
			case ind == minIndent:
				indented = append(indented, off+ind)
			}
		}
		off += end + 1
	}
	try := func(starts []int) bool {
		for i := len(starts) - 1; i >= 0; i-- {
			if decode(json.NewDecoder(bytes.NewReader(b[starts[i]:]))) {
				return true
			}
		}
		return false
	}
	// Each failed candidate costs a decode up to its first error; bound the
	// quadratic worst case on adversarial input: real pastes hold a few
	// documents.
	const maxCandidates = 64
	if len(col0) > maxCandidates {
		col0 = col0[len(col0)-maxCandidates:]
	}
	if try(col0) {
		return true
	}
	if len(indented) > maxCandidates {
		indented = indented[len(indented)-maxCandidates:]
	}
	return try(indented)
}

// splitLines splits on '\n' and drops the carriage returns of CRLF input.
func splitLines(b []byte) []string {
	s := strings.ReplaceAll(string(b), "\r", "")
	return strings.Split(s, "\n")
}
