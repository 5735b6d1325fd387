package offline

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/cilium"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/netfilter"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/paste"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

const (
	// headSize is how much of an input is sniffed before deciding how to
	// read it.
	headSize = 256 << 10
	// smallLimit: outputs up to this size are read whole and split by
	// paste.Split (about three times their size in memory); larger ones
	// are streamed (netfilter dumps) or read as one output (cilium).
	smallLimit = 4 << 20
	// ciliumLimit bounds a cilium status or service list read whole.
	ciliumLimit = 64 << 20
)

// Options tune Analyze.
type Options struct {
	// Stdin is read for the argument "-".
	Stdin io.Reader
	// TempDir holds a zip read from stdin while it is walked ("" = os default).
	TempDir string
	// Limits cap what hostile or broken inputs can cost (zero: defaults).
	Limits Limits
}

// Limits bound the walk. A zip or tar bomb, an archive of a million empty
// entries or archives nested without end stop at a cap with a message
// naming it, instead of filling memory, disk or the afternoon.
type Limits struct {
	// MaxBytes caps the bytes read after decompression, over all inputs.
	MaxBytes int64
	// MaxEntries caps the entries of all archives together.
	MaxEntries int
	// MaxDepth caps archives inside archives (a sysdump zip holding
	// bugtool tar.gz files is depth 2).
	MaxDepth int
}

// Default limits: a large real sysdump (hundreds of nodes) is a few GiB
// and some ten thousand entries, nested twice.
var DefaultLimits = Limits{MaxBytes: 8 << 30, MaxEntries: 200_000, MaxDepth: 4}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultLimits.MaxEntries
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	return l
}

// Stats says how much was read.
type Stats struct {
	// Recognised counts outputs whose kind was known and that parsed.
	Recognised int
	// Skipped counts bundle entries left unread (not agent output).
	Skipped int
	// Errors are inputs that could not be opened or walked.
	Errors []error
}

// Analyze reads every argument (FILE, DIR, ZIP, tar(.gz) or "-") and
// returns one analyze input per output found, plus a verdict per Cilium
// agent. Unreadable arguments become "unknown" inputs with the reason;
// they never stop the others.
func Analyze(args []string, opts Options) (*report.Analyze, Stats) {
	a := &analyzer{groups: map[string]*group{}}
	w := &walker{visit: a.visit, object: a.object, stdin: opts.Stdin, tmpDir: opts.TempDir, limits: opts.Limits.withDefaults()}
	if w.stdin == nil {
		w.stdin = strings.NewReader("")
	}
	var st Stats
	for _, arg := range args {
		if err := w.walkArg(arg); err != nil {
			st.Errors = append(st.Errors, err)
			if !a.sawSource(arg) {
				a.out.Inputs = append(a.out.Inputs, report.AnalyzeInput{Source: arg, Kind: string(paste.Unknown), Reason: err.Error()})
			}
		}
	}
	st.Skipped = w.skipped
	for _, in := range a.out.Inputs {
		if in.Kind != string(paste.Unknown) && in.Reason == "" {
			st.Recognised++
		}
	}
	a.out.Agents = a.agents()
	a.nodeConfigs(&a.out)
	st.Recognised += len(a.objs.files)
	if a.out.Inputs == nil {
		a.out.Inputs = []report.AnalyzeInput{}
	}
	return &a.out, st
}

type analyzer struct {
	out    report.Analyze
	groups map[string]*group
	order  []string
	// objs are a sysdump's cluster objects (per-node configuration);
	// sawSysdump: an input came from a cilium sysdump.
	objs       objects
	sawSysdump bool
}

// group gathers one agent's (or one paste's) outputs for its verdict.
type group struct {
	name, source string
	bundle       bool
	status       *cilium.Status
	frontends    int
	netfilter    []nfPart
	inputs       []string
}

type nfPart struct {
	file    string
	summary *netfilter.Summary
}

func (a *analyzer) sawSource(arg string) bool {
	for _, in := range a.out.Inputs {
		if in.Source == arg || strings.HasPrefix(in.Source, arg+"!") || strings.HasPrefix(in.Source, arg+"/") {
			return true
		}
	}
	return false
}

func (a *analyzer) group(d Document) *group {
	key := d.Agent
	if key == "" {
		key = d.Source
	}
	g := a.groups[key]
	if g == nil {
		g = &group{name: key, source: bundleRoot(d.Source), bundle: d.Agent != "", frontends: -1}
		a.groups[key] = g
		a.order = append(a.order, key)
	}
	return g
}

// bundleRoot is the outermost file of an archive path ("x.zip!a!b" → "x.zip").
func bundleRoot(source string) string {
	root, _, _ := strings.Cut(source, "!")
	return root
}

func (a *analyzer) visit(d Document, r io.Reader) error {
	if strings.Contains(strings.ToLower(d.Source), "cilium-sysdump") {
		a.sawSysdump = true
	}
	br := bufio.NewReaderSize(r, headSize)
	head, err := br.Peek(headSize)
	switch {
	case err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull):
		return err
	case len(head) < headSize, d.Size >= 0 && d.Size <= smallLimit:
		var buf bytes.Buffer
		if d.Size > 0 {
			buf.Grow(int(d.Size) + bytes.MinRead) // no doubling copies
		}
		if _, err := buf.ReadFrom(io.LimitReader(br, smallLimit+1)); err != nil {
			return err
		}
		data := buf.Bytes()
		if len(data) <= smallLimit {
			a.text(d, data)
			return nil
		}
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(data), br), headSize)
		head, _ = br.Peek(headSize)
	}
	return a.large(d, br, head)
}

// large reads an output too big to split in memory: netfilter dumps are
// streamed, a cilium output is read whole (up to ciliumLimit) and parsed
// as one listing, anything else is refused.
func (a *analyzer) large(d Document, r io.Reader, head []byte) error {
	kind := paste.Unknown
	for _, s := range paste.Split(head) {
		if s.Kind != paste.Unknown {
			kind = s.Kind
			break
		}
	}
	in := report.AnalyzeInput{Source: d.Source, Agent: d.Agent, Kind: string(kind)}
	clean := r
	if paste.NeedsCleaning(head) {
		clean = paste.NewCleanReader(r)
	}
	var (
		s   *netfilter.Summary
		err error
	)
	switch kind {
	case paste.IPTablesSave:
		s, err = netfilter.ParseIPTablesSave(clean)
	case paste.NFTRuleset:
		s, err = netfilter.ParseNFT(clean)
	case paste.IPVSAdm:
		s, err = netfilter.ParseIPVSAdm(clean)
	case paste.CiliumStatus, paste.CiliumServiceList:
		data, err := io.ReadAll(io.LimitReader(clean, ciliumLimit+1))
		switch {
		case err != nil:
			return err
		case len(data) > ciliumLimit:
			in.Kind = string(paste.Unknown)
			in.Reason = fmt.Sprintf("a %s larger than %d MiB: not read", kind, ciliumLimit>>20)
		default:
			a.cilium(d, &in, kind, data)
		}
		a.out.Inputs = append(a.out.Inputs, in)
		return nil
	default:
		in.Kind = string(paste.Unknown)
		in.Reason = fmt.Sprintf("larger than %d MiB and not an iptables, nft or ipvsadm dump, nor cilium output", smallLimit>>20)
		a.out.Inputs = append(a.out.Inputs, in)
		return nil
	}
	a.netfilterInput(d, &in, s, err)
	a.out.Inputs = append(a.out.Inputs, in)
	return nil
}

// text analyses an output held in memory: a file, a paste, an entry.
func (a *analyzer) text(d Document, data []byte) {
	if d.InBundle {
		// cilium-bugtool writes "> Error while running '<cmd>':  <err>"
		// when a command failed in the agent; alone, it is all there is.
		if i := bytes.Index(data, []byte("> Error while running '")); i >= 0 && len(bytes.TrimSpace(data[:i])) == 0 {
			msg, _, _ := bytes.Cut(data[i+2:], []byte("\n"))
			a.out.Inputs = append(a.out.Inputs, report.AnalyzeInput{Source: d.Source, Agent: d.Agent, Kind: string(paste.Unknown),
				Reason: "cilium-bugtool could not run it: " + strings.TrimSpace(string(msg))})
			a.group(d).inputs = appendOnce(a.group(d).inputs, d.Source)
			return
		}
	}
	secs := paste.Split(data)
	for _, sec := range secs {
		in := report.AnalyzeInput{
			Source: d.Source, Agent: d.Agent, Kind: string(sec.Kind), Reason: sec.Reason,
			Command: sec.Command, Superseded: sec.Superseded,
		}
		if len(secs) > 1 && sec.FirstLine > 0 {
			in.Lines = fmt.Sprintf("%d-%d", sec.FirstLine, sec.LastLine)
		}
		switch sec.Kind {
		case paste.CiliumStatus, paste.CiliumServiceList:
			a.cilium(d, &in, sec.Kind, sec.Text)
		case paste.IPTablesSave:
			s, err := netfilter.ParseIPTablesSave(bytes.NewReader(sec.Text))
			a.netfilterInput(d, &in, s, err)
		case paste.NFTRuleset:
			s, err := netfilter.ParseNFT(bytes.NewReader(sec.Text))
			a.netfilterInput(d, &in, s, err)
		case paste.IPVSAdm:
			s, err := netfilter.ParseIPVSAdm(bytes.NewReader(sec.Text))
			a.netfilterInput(d, &in, s, err)
		}
		a.out.Inputs = append(a.out.Inputs, in)
	}
}

// cilium reads a cilium status or service list into in and the agent's group.
func (a *analyzer) cilium(d Document, in *report.AnalyzeInput, kind paste.Kind, text []byte) {
	switch kind {
	case paste.CiliumStatus:
		st, err := cilium.ParseStatus(text)
		if err != nil {
			in.Reason = "cilium status: " + err.Error()
			return
		}
		in.CiliumStatus = statusOf(st)
		// Alone, a status without (full or partial) KPR says who does
		// not implement Services, not who does.
		if by := verdict.Decide(verdict.Evidence{HasAgent: true, AgentRead: true, Replacement: replacementOf(st), Mode: modeOf(st)}); by != verdict.None {
			in.ServicesBy = by
		}
		g := a.group(d)
		g.status = st
		g.inputs = appendOnce(g.inputs, d.Source)
	case paste.CiliumServiceList:
		svcs, fragment, err := cilium.ParseServiceListFragment(text)
		if err != nil {
			in.Reason = "cilium service list: " + err.Error()
			return
		}
		in.Fragment = fragment
		if svcs == nil {
			svcs = []cilium.Service{}
		}
		in.Services = report.AgentServicesFrom(svcs)
		g := a.group(d)
		g.frontends = len(svcs)
		g.inputs = appendOnce(g.inputs, d.Source)
	}
}

func (a *analyzer) netfilterInput(d Document, in *report.AnalyzeInput, s *netfilter.Summary, err error) {
	if err != nil {
		in.Reason = in.Kind + ": " + err.Error()
		return
	}
	in.Netfilter = report.RulesFrom(s)
	in.Fragment = s.Fragment
	in.ServicesBy = rulesVerdict(s)
	g := a.group(d)
	g.netfilter = append(g.netfilter, nfPart{file: d.Source, summary: s})
	g.inputs = appendOnce(g.inputs, d.Source)
}

// rulesVerdict is what rules alone say: kube-proxy's mode when its rules
// are there, "none" when neither kube-proxy nor Cilium left any (a
// Contiv-only node), "" when only Cilium's chains are (KPR cannot be
// read from iptables).
func rulesVerdict(s *netfilter.Summary) verdict.ServicesBy {
	switch {
	case len(s.KubeProxyModes) > 0:
		return verdict.KubeProxy(s.KubeProxyModes[0])
	case s.HasCilium():
		return ""
	}
	return verdict.None
}

func statusOf(st *cilium.Status) *report.AnalyzeCiliumStatus {
	return &report.AnalyzeCiliumStatus{
		Version: st.Version, KubeProxyReplacement: report.KPRFrom(st.KubeProxyReplacement), CNIChaining: st.CNIChaining,
		CiliumState: st.CiliumState, KubernetesState: st.KubernetesState, Format: st.Format,
	}
}

func replacementOf(st *cilium.Status) string {
	if st == nil || st.KubeProxyReplacement == nil {
		return ""
	}
	if r := st.KubeProxyReplacement.ReplacesKubeProxy; r != "" {
		return r
	}
	return cilium.Replacement(st.KubeProxyReplacement.Mode)
}

func modeOf(st *cilium.Status) string {
	if st == nil || st.KubeProxyReplacement == nil {
		return ""
	}
	return st.KubeProxyReplacement.Mode
}

// agents builds a verdict for each sysdump agent and each input that
// held a Cilium status.
func (a *analyzer) agents() []report.AnalyzeAgent {
	var out []report.AnalyzeAgent
	for _, key := range a.order {
		g := a.groups[key]
		if g.status == nil && !g.bundle {
			continue
		}
		nf := g.mergedNetfilter()
		e := verdict.Evidence{
			Node: g.name, HasAgent: true, AgentRead: g.status != nil,
			// A bundle says nothing about pod readiness; only a status
			// that reports a failing agent makes it "not ready".
			AgentReady:  g.status == nil || g.status.CiliumState == "" || g.status.CiliumState == "Ok" || g.status.CiliumState == "Disabled",
			Replacement: replacementOf(g.status), Mode: modeOf(g.status),
		}
		if g.status != nil {
			e.AgentVersion = g.status.Version
		}
		ag := report.AnalyzeAgent{
			Name: g.name, Source: g.source, Frontends: g.frontends, Inputs: g.inputs,
			KubeProxyModes: []string{}, Warnings: []verdict.Warning{},
		}
		if g.status != nil {
			ag.CiliumStatus = statusOf(g.status)
		}
		if nf != nil {
			ag.Netfilter = report.RulesFrom(nf)
			ag.KubeProxyRules = nf.HasKubeProxyRules()
			ag.KubeProxyModes = nf.KubeProxyModes
			if len(nf.KubeProxyModes) > 0 {
				e.KubeProxy, e.KubeProxyMode = true, nf.KubeProxyModes[0]
			}
		}
		ag.ServicesBy = verdict.Decide(e)
		if nf == nil && ag.ServicesBy == verdict.None {
			// Without a rules dump, "no KPR" does not mean "nothing": a
			// kube-proxy may well serve this node; we cannot see it.
			ag.ServicesBy = verdict.Unknown
		}
		for _, w := range verdict.Disagreements(e) {
			if w.Code == verdict.CodeKubeProxyWithKPR {
				w.Message = fmt.Sprintf("kube-proxy's %s rules are on this node although Cilium reports full KPR: either kube-proxy still runs here (both program Services) or its rules are stale (nothing removes them when kube-proxy is uninstalled); check for a kube-proxy pod, then clean up", e.KubeProxyMode)
			}
			ag.Warnings = append(ag.Warnings, w)
		}
		if g.status == nil {
			ag.Warnings = append(ag.Warnings, verdict.Warning{Code: "no-agent-status", Message: "no cilium status for this agent in the bundle: its KPR mode is unknown"})
		}
		if nf == nil && !g.bundle && ag.ServicesBy == verdict.Unknown {
			ag.Warnings = append(ag.Warnings, verdict.Warning{Code: "no-rules-dump", Message: "KPR is off and no iptables/nft dump was given: add iptables-save output of this node to tell kube-proxy from nothing"})
		}
		if nf == nil && g.bundle {
			ag.Warnings = append(ag.Warnings, verdict.Warning{Code: "no-rules-dump", Message: "no iptables/nft dump for this agent in the bundle: kube-proxy's rules could not be checked"})
		}
		out = append(out, ag)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// mergedNetfilter merges one node's dumps. Bugtool runs iptables-save as
// well as iptables-nft-save and iptables-legacy-save; the plain one
// repeats one of the others, so it is dropped when they are there.
func (g *group) mergedNetfilter() *netfilter.Summary {
	if len(g.netfilter) == 0 {
		return nil
	}
	explicit := false
	for _, p := range g.netfilter {
		b := path.Base(strings.ReplaceAll(p.file, "!", "/"))
		if strings.Contains(b, "tables-nft-save") || strings.Contains(b, "tables-legacy-save") {
			explicit = true
		}
	}
	// nft's listing of an iptables-nft host repeats the iptables rules:
	// next to an iptables dump, only kube-proxy's own nft tables count.
	hasIPTables := false
	for _, p := range g.netfilter {
		if formatOf(p.summary) == "iptables-save" {
			hasIPTables = true
		}
	}
	var parts []*netfilter.Summary
	for _, p := range g.netfilter {
		b := path.Base(strings.ReplaceAll(p.file, "!", "/"))
		if explicit && (strings.HasPrefix(b, "iptables-save") || strings.HasPrefix(b, "ip6tables-save")) {
			continue
		}
		if f := formatOf(p.summary); hasIPTables && (f == "nft" || f == "nft-json") {
			parts = append(parts, &netfilter.Summary{KubeProxyNFTables: p.summary.KubeProxyNFTables, Dumps: p.summary.Dumps, Warnings: p.summary.Warnings})
			continue
		}
		parts = append(parts, p.summary)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return netfilter.Merge(parts...)
}

func formatOf(s *netfilter.Summary) string {
	if len(s.Dumps) == 0 {
		return ""
	}
	return s.Dumps[0].Format
}

func appendOnce(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}
