package netfilter

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ParseNFT reads `nft list ruleset` output, as text or as `nft -j` JSON
// (the first non-blank byte decides). kube-proxy's nftables-mode tables
// (`table ip kube-proxy`, `table ip6 kube-proxy`) are summarised with their
// service chains; chains of other tables (iptables-nft's `ip nat`,
// `ip filter`, ...) are classified like iptables chains, so that an
// nft listing of an iptables-nft host shows KUBE-SVC-* and CILIUM_* too.
func ParseNFT(r io.Reader) (*Summary, error) {
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		c, err := br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("empty nft output")
			}
			return nil, err
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		_ = br.UnreadByte()
		if c == '{' {
			return parseNFTJSON(br)
		}
		return parseNFTText(br)
	}
}

type nftTableAcc struct {
	family, name string
	kubeProxy    bool
	chains       int
	rules        int
	svcChains    set
}

type nftAcc struct {
	b      *builder
	tables []*nftTableAcc
	// fragment: lines came without their table (a grep); fragChains are
	// the chains such lines named.
	fragment   bool
	fragChains map[string]bool
}

func newNFTAcc(format string) *nftAcc { return &nftAcc{b: newBuilder(format)} }

func (a *nftAcc) table(family, name string) *nftTableAcc {
	for _, t := range a.tables {
		if t.family == family && t.name == name {
			return t
		}
	}
	t := &nftTableAcc{family: family, name: name, kubeProxy: name == "kube-proxy" && (family == "ip" || family == "ip6"), svcChains: set{}}
	a.tables = append(a.tables, t)
	a.b.tables.add(family + " " + name)
	return t
}

func (a *nftAcc) chain(t *nftTableAcc, name string) {
	t.chains++
	if t.kubeProxy {
		a.b.info.Chains++
		if _, _, _, ok := ParseNFTServiceChain(name); ok {
			t.svcChains.add(name)
		}
		return
	}
	a.b.chain(name, true)
}

// rule records one rule; words are the rule's tokens (quotes removed).
func (a *nftAcc) rule(t *nftTableAcc, chain string, words []string) {
	t.rules++
	if t.kubeProxy {
		a.b.info.Rules++
		return
	}
	class := a.b.rule(chain)
	var target, comment, daddr, proto, dport string
	for i := 0; i+1 < len(words); i++ {
		switch words[i] {
		case "jump", "goto":
			target = words[i+1]
		case "comment":
			comment = words[i+1]
		case "daddr":
			daddr = words[i+1]
		case "dport":
			if i > 0 {
				proto, dport = words[i-1], words[i+1]
			}
		}
	}
	if target != "" {
		a.b.chain(target, false)
	}
	if comment == "" {
		return
	}
	a.b.comment(comment)
	svc := servicePortInComment(comment)
	if svc == "" {
		return
	}
	clusterIP, port := "", ""
	if strings.HasSuffix(comment, " cluster IP") {
		clusterIP, port = stripHostMask(daddr), dport
	}
	switch {
	case class == classKubeServices && chainPrefix(target) != "":
		a.b.service(target, svc, proto, clusterIP, port)
	case class == classKubeNodePorts && chainPrefix(target) != "":
		a.b.service(target, svc, proto, "", "")
	case chainPrefix(chain) != "":
		a.b.service(chain, svc, proto, clusterIP, port)
	}
}

// fragmentLine reads a line found outside any table, as `nft list
// ruleset | grep -i service` prints them: a chain header ("chain
// service-XXXXXXXX-ns/name/tcp/port {", or an iptables-nft chain such as
// KUBE-SVC-...) or a verdict-map element ("... : goto service-..."). It
// returns false for anything else. The chains go into the table they
// belong to as far as their names tell: kube-proxy's nftables chains into
// "ip kube-proxy", others into a table named "?".
func (a *nftAcc) fragmentLine(line string) bool {
	var names []string
	f := strings.Fields(strings.TrimSuffix(line, "{"))
	switch {
	case len(f) >= 2 && f[0] == "chain":
		names = append(names, unquote(f[1]))
	case len(f) >= 2 && (f[0] == "map" || f[0] == "set") && strings.HasSuffix(line, "{"):
		// A map's or set's header without its table: its block is not
		// tracked (the grep cut its end away), its elements may follow.
		return true
	default:
		f = strings.Fields(strings.TrimRight(line, ",}"))
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "goto" || f[i] == "jump" {
				if n := strings.TrimRight(unquote(f[i+1]), ",}"); isKubeProxyNFTChain(n) {
					names = append(names, n)
				}
			}
		}
	}
	if len(names) == 0 {
		return false
	}
	a.fragment = true
	for _, n := range names {
		if a.fragChains[n] {
			continue
		}
		if a.fragChains == nil {
			a.fragChains = map[string]bool{}
		}
		a.fragChains[n] = true
		t := a.table("ip", "?")
		if isKubeProxyNFTChain(n) {
			t = a.table("ip", "kube-proxy")
		}
		a.chain(t, n)
	}
	return true
}

func isKubeProxyNFTChain(name string) bool {
	_, _, _, ok := ParseNFTServiceChain(name)
	return ok
}

func (a *nftAcc) finish() (*Summary, error) {
	if a.fragment {
		a.b.info.Fragment = true
		a.b.warnings = append(a.b.warnings, "a fragment of nft list ruleset (lines without their table, as a grep prints them): the counts are lower bounds")
	}
	if len(a.tables) == 0 {
		return nil, errors.New(`no nftables table found (want "table <family> <name> {" lines or nft -j's {"nftables": [...]})`)
	}
	for _, t := range a.tables {
		if !t.kubeProxy {
			continue
		}
		a.b.nftTables = append(a.b.nftTables, NFTTable{
			Family: t.family, Name: t.name, Chains: t.chains, Rules: t.rules,
			ServiceChains: t.svcChains.sorted(),
		})
	}
	return merge([]*builder{a.b}), nil
}

// parseNFTText walks nft's listing by brace depth: depth 1 is a table's
// body (chains, sets, maps), depth 2 a chain's body, where every line
// that is not the chain's type/policy/comment declaration starts a rule.
func parseNFTText(r io.Reader) (*Summary, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	a := newNFTAcc("nft")
	var (
		depth   int
		table   *nftTableAcc
		chain   string
		inChain bool
		words   []string
	)
	for sc.Scan() {
		line := strings.TrimSpace(string(sc.Bytes()))
		if line == "" || line[0] == '#' {
			continue
		}
		opens, closes := braces(line)
		if depth == 0 && !strings.HasPrefix(line, "table ") && a.fragmentLine(line) {
			continue // a line of `nft list ruleset | grep ...`: no block to track
		}
		switch {
		case depth == 0 && strings.HasPrefix(line, "table "):
			f := strings.Fields(strings.TrimSuffix(line, "{"))
			if len(f) >= 3 {
				table = a.table(f[1], unquote(f[2]))
			} else if len(f) == 2 { // "table name": family ip by default
				table = a.table("ip", unquote(f[1]))
			}
		case depth == 1 && table != nil && strings.HasPrefix(line, "chain "):
			f := strings.Fields(strings.TrimSuffix(line, "{"))
			if len(f) >= 2 {
				chain = unquote(f[1])
				inChain = true
				a.chain(table, chain)
			}
		case depth == 2 && inChain && table != nil:
			if line[0] == '}' || isChainDeclaration(line) {
				break
			}
			words = splitRule(line, words[:0])
			a.rule(table, chain, words)
		}
		depth += opens - closes
		if depth < 0 {
			depth = 0
		}
		if depth <= 1 {
			inChain = false
		}
		if depth == 0 {
			table = nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading nft output: %w", err)
	}
	if depth > 0 {
		a.b.warnings = append(a.b.warnings, "the nft listing ends inside a block: it looks truncated")
	}
	return a.finish()
}

func isChainDeclaration(line string) bool {
	for _, p := range []string{"type ", "policy ", "comment ", "devices ", "device "} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// braces counts { and } outside double quotes.
func braces(line string) (opens, closes int) {
	inQuote := false
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"':
			inQuote = !inQuote
		case '{':
			if !inQuote {
				opens++
			}
		case '}':
			if !inQuote {
				closes++
			}
		}
	}
	return
}

func unquote(s string) string { return strings.Trim(s, `"`) }

// nftJSONObject is one element of nft -j's "nftables" array; only the
// object kinds kpr reads are decoded.
type nftJSONObject struct {
	Table *struct {
		Family string `json:"family"`
		Name   string `json:"name"`
	} `json:"table"`
	Chain *struct {
		Family string `json:"family"`
		Table  string `json:"table"`
		Name   string `json:"name"`
	} `json:"chain"`
	Rule *struct {
		Family  string            `json:"family"`
		Table   string            `json:"table"`
		Chain   string            `json:"chain"`
		Comment string            `json:"comment"`
		Expr    []json.RawMessage `json:"expr"`
	} `json:"rule"`
}

// parseNFTJSON decodes nft -j one array element at a time, so a large
// ruleset never sits in memory as a whole.
func parseNFTJSON(r io.Reader) (*Summary, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	a := newNFTAcc("nft-json")
	found := false
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("nft -j output: %w", err)
		}
		if key != "nftables" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, fmt.Errorf("nft -j output: %w", err)
			}
			continue
		}
		found = true
		if err := expectDelim(dec, '['); err != nil {
			return nil, err
		}
		for dec.More() {
			var o nftJSONObject
			if err := dec.Decode(&o); err != nil {
				if len(a.tables) > 0 {
					a.b.warnings = append(a.b.warnings, "the nft -j output ends early: it looks truncated")
					return a.finish()
				}
				return nil, fmt.Errorf("nft -j output: %w", err)
			}
			switch {
			case o.Table != nil:
				a.table(o.Table.Family, o.Table.Name)
			case o.Chain != nil:
				a.chain(a.table(o.Chain.Family, o.Chain.Table), o.Chain.Name)
			case o.Rule != nil:
				words := jsonRuleWords(o.Rule.Expr)
				if o.Rule.Comment != "" {
					words = append(words, "comment", o.Rule.Comment)
				}
				a.rule(a.table(o.Rule.Family, o.Rule.Table), o.Rule.Chain, words)
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			a.b.warnings = append(a.b.warnings, "the nft -j output ends early: it looks truncated")
			return a.finish()
		}
	}
	if !found {
		return nil, errors.New(`JSON without an "nftables" array: not nft -j output`)
	}
	return a.finish()
}

// jsonRuleWords turns the few rule statements kpr reads (jump/goto
// targets, destination address and port matches) into text-like words.
func jsonRuleWords(expr []json.RawMessage) []string {
	var words []string
	for _, e := range expr {
		var st struct {
			Jump  *struct{ Target string } `json:"jump"`
			Goto  *struct{ Target string } `json:"goto"`
			Match *struct {
				Left struct {
					Payload *struct {
						Protocol string `json:"protocol"`
						Field    string `json:"field"`
					} `json:"payload"`
				} `json:"left"`
				Right json.RawMessage `json:"right"`
			} `json:"match"`
		}
		if json.Unmarshal(e, &st) != nil {
			continue
		}
		switch {
		case st.Jump != nil:
			words = append(words, "jump", st.Jump.Target)
		case st.Goto != nil:
			words = append(words, "goto", st.Goto.Target)
		case st.Match != nil && st.Match.Left.Payload != nil:
			var right any
			_ = json.Unmarshal(st.Match.Right, &right)
			val := fmt.Sprint(right)
			switch st.Match.Left.Payload.Field {
			case "daddr":
				words = append(words, "daddr", val)
			case "dport":
				words = append(words, st.Match.Left.Payload.Protocol, "dport", val)
			}
		}
	}
	return words
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("nft -j output: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("nft -j output: want %q, got %v", want, tok)
	}
	return nil
}
