package netfilter

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ChainCounter is what one kube-proxy per-Service chain (KUBE-SVC-,
// KUBE-SVL-, KUBE-EXT-, KUBE-FW-, KUBE-SEP-) counted in an `iptables-save
// -c` dump: the packets of its rules together, and the Service port its
// rules' comments name ("ns/name:port").
type ChainCounter struct {
	Table   string
	Chain   string
	Service string
	Packets uint64
}

// Counters are the per-Service chains of one dump, keyed "table/chain".
type Counters map[string]ChainCounter

// counterChainPrefixes are kube-proxy's per-Service chains in iptables
// mode (k/k pkg/proxy/iptables/proxier.go: servicePortPolicyClusterChain,
// servicePortPolicyLocalChainName, externalPolicyChain, firewall chain,
// servicePortEndpointChainName).
var counterChainPrefixes = []string{"KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"}

var commentRE = regexp.MustCompile(`--comment (?:"([^"]*)"|(\S+))`)

// ParseCounters reads `iptables-save -c` (`[packets:bytes] -A CHAIN ...`
// rule lines, iptables-save.c's print_rule with --counters) for kube-proxy's
// per-Service chains. Only the nat table is meant: kube-proxy translates
// the first packet of each connection there, so one probe (one new
// connection) adds one packet to the chains it went through. A dump
// without counters is an error: nothing could be said to have moved.
func ParseCounters(r io.Reader) (Counters, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	out := Counters{}
	table, sawCounter, sawTable := "", false, false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "*"):
			table, sawTable = strings.TrimPrefix(line, "*"), true
			continue
		case !strings.HasPrefix(line, "["):
			continue
		}
		end := strings.IndexByte(line, ']')
		if end < 0 {
			continue
		}
		pk, _, ok := strings.Cut(line[1:end], ":")
		packets, err := strconv.ParseUint(pk, 10, 64)
		if !ok || err != nil {
			continue
		}
		rule := strings.TrimSpace(line[end+1:])
		rest, ok := strings.CutPrefix(rule, "-A ")
		if !ok {
			continue
		}
		sawCounter = true
		chain, _, _ := strings.Cut(rest, " ")
		if !hasAnyPrefix(chain, counterChainPrefixes) {
			continue
		}
		key := table + "/" + chain
		c := out[key]
		c.Table, c.Chain = table, chain
		c.Packets += packets
		if m := commentRE.FindStringSubmatch(rule); m != nil && c.Service == "" {
			c.Service = servicePortInComment(m[1] + m[2])
		}
		out[key] = c
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading iptables-save -c output: %w", err)
	}
	if !sawTable || !sawCounter {
		return nil, fmt.Errorf("no iptables-save -c rule counters found (want lines like %q)", "[3:180] -A KUBE-SVC-... -j KUBE-SEP-...")
	}
	return out, nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// ChainDelta is a chain whose packets grew between two dumps.
type ChainDelta struct {
	ChainCounter
	// Delta is the packets added; a chain that is new in after counts
	// whole, one whose counters went down (kube-proxy rewrote it) counts
	// its new value.
	Delta uint64
}

// Moved lists the chains whose counters grew from before to after, for
// one Service port ("ns/name:port"; "" for every Service), sorted by
// table and chain.
func Moved(before, after Counters, service string) []ChainDelta {
	var out []ChainDelta
	for key, a := range after {
		if service != "" && a.Service != service {
			continue
		}
		b, seen := before[key]
		d := a.Packets
		if seen && a.Packets >= b.Packets {
			d = a.Packets - b.Packets
		}
		if d > 0 {
			out = append(out, ChainDelta{ChainCounter: a, Delta: d})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Table != out[j].Table {
			return out[i].Table < out[j].Table
		}
		return out[i].Chain < out[j].Chain
	})
	return out
}
