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
// nft listing of an iptables-nft host shows KUBE-SVC-* and CILIUM_* too,
// counted as iptables-save's would be (xt-compat statements such as
// `xt match nfacct` are just words of a rule). Text without its table
// lines (chain blocks copied out of a listing, grepped lines) is read the
// same way and flagged as a fragment.
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
	// fragment: lines came without their table (a grep, or chains copied
	// out of a listing); fragChains are the chains such lines named.
	fragment   bool
	fragChains map[string]bool
	// open is a chain block met without its table ("chain X {" at the
	// top level); its lines wait until its "}" shows it was copied whole.
	open *tablelessChain
}

// tablelessChain is a chain block outside any table: an excerpt of a
// listing (its rules count as the chain's) or a grep that kept the
// chain's header line (no "}" comes: its lines count one by one).
type tablelessChain struct {
	table *nftTableAcc
	name  string
	lines []string
}

// maxOpenLines bounds what a table-less chain block holds back: past it,
// the block is taken as copied whole.
const maxOpenLines = 1 << 14

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
	for _, n := range names {
		a.declareFragmentChain(a.tableFor(n), n)
	}
	a.fragment = true
	return true
}

// tablelessLine reads a line outside any table: a chain block copied
// without its table line, or lines a grep cut out. It returns false for a
// line it does not use. Chain names tell the table: kube-proxy's
// nftables chains go into "ip kube-proxy", all others (iptables-nft's
// KUBE-*, CILIUM_*, ...) into "ip ?", read like iptables chains.
func (a *nftAcc) tablelessLine(line string) bool {
	f := strings.Fields(line)
	switch {
	case len(f) == 3 && f[0] == "chain" && f[2] == "{":
		a.closeTableless(false)
		name := unquote(f[1])
		t := a.tableFor(name)
		a.declareFragmentChain(t, name)
		a.open = &tablelessChain{table: t, name: name}
		return true
	case line == "}":
		a.closeTableless(true)
		return true
	case a.open != nil:
		if !isChainDeclaration(line) {
			o := a.open
			o.lines = append(o.lines, line)
			if len(o.lines) >= maxOpenLines {
				// Still inside the block: what came so far are its rules,
				// further lines wait again.
				a.closeTableless(true)
				a.open = &tablelessChain{table: o.table, name: o.name}
			}
		}
		return true
	}
	return a.looseLine(line)
}

// closeTableless ends the open table-less chain block: closed by its "}",
// its lines are its rules; otherwise (another header, a table, the end)
// they were grepped lines and count one by one.
func (a *nftAcc) closeTableless(closed bool) {
	o := a.open
	if o == nil {
		return
	}
	a.open = nil
	var words []string
	for _, l := range o.lines {
		if closed {
			words = splitRule(l, words[:0])
			a.rule(o.table, o.name, words)
		} else {
			a.looseLine(l)
		}
	}
}

func (a *nftAcc) tableFor(chain string) *nftTableAcc {
	if isKubeProxyNFTChain(chain) {
		return a.table("ip", "kube-proxy")
	}
	return a.table("ip", "?")
}

// declareFragmentChain counts a chain a fragment shows, once.
func (a *nftAcc) declareFragmentChain(t *nftTableAcc, name string) {
	a.fragment = true
	if a.fragChains[name] {
		return
	}
	if a.fragChains == nil {
		a.fragChains = map[string]bool{}
	}
	a.fragChains[name] = true
	a.chain(t, name)
}

// looseLine reads a line without its chain: kube-proxy nftables-mode
// lines as fragmentLine does, and rules that jump to an iptables-style
// chain (`nft list ruleset | grep KUBE-SVC` on an iptables-nft node):
// the rule counts, in no chain, and its target exists (nft refuses a
// jump to a missing chain).
func (a *nftAcc) looseLine(line string) bool {
	if a.fragmentLine(line) {
		return true
	}
	words := splitRule(line, nil)
	var targets []string
	for i := 0; i+1 < len(words); i++ {
		if words[i] == "jump" || words[i] == "goto" {
			if n := strings.TrimRight(words[i+1], ",}"); chainClass(n) != classNone {
				targets = append(targets, n)
			}
		}
	}
	if len(targets) == 0 {
		return false
	}
	t := a.table("ip", "?")
	t.rules++
	a.b.info.Rules++
	for _, n := range targets {
		a.declareFragmentChain(t, n)
	}
	return true
}

func chainClass(name string) int {
	c, _ := classify(name)
	return c
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
		if i := strings.Index(line, " # handle "); i >= 0 {
			line = strings.TrimSpace(line[:i]) // nft -a
		}
		opens, closes := braces(line)
		if depth == 0 && !strings.HasPrefix(line, "table ") && a.tablelessLine(line) {
			continue // chains copied without their table, or grepped lines
		}
		if depth == 0 {
			a.closeTableless(false)
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
	a.closeTableless(false)
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
