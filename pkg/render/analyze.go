package render

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// Analyze prints `analyze`: one row per output read (source, kind, key
// facts, what it says about Service handling), then one row per agent
// with its combined verdict and the warnings under it. wide prints full
// archive paths instead of "<agent>/<file>".
func Analyze(w io.Writer, rep *report.Analyze, p Palette, wide bool) error {
	rows := make([][]string, 0, len(rep.Inputs))
	for _, in := range rep.Inputs {
		kind := in.Kind
		if in.Kind == "unknown" {
			kind = p.Warn(kind)
		}
		rows = append(rows, []string{
			Safe(inputLabel(in, wide)),
			kind,
			inputFacts(in, p),
			p.Paint(ServicesByTone(in.ServicesBy), orDash(string(in.ServicesBy))),
		})
	}
	if err := Table(w, []string{"INPUT", "KIND", "FACTS", "SERVICES BY"}, rows); err != nil {
		return err
	}
	if len(rep.Agents) > 0 {
		fmt.Fprintln(w)
		arows := make([][]string, 0, len(rep.Agents))
		for _, a := range rep.Agents {
			arows = append(arows, []string{
				p.Bold(Safe(a.Name)),
				kprCell(a.CiliumStatus, p),
				kubeProxyRulesCell(a, p),
				ciliumChainsCell(a.Netfilter),
				frontendsCell(a.Frontends),
				p.Paint(ServicesByTone(a.ServicesBy), string(a.ServicesBy)),
			})
		}
		if err := Table(w, []string{"AGENT", "KPR", "KUBE-PROXY RULES", "CILIUM CHAINS", "FRONTENDS", "SERVICES BY"}, arows); err != nil {
			return err
		}
		for _, a := range rep.Agents {
			for _, wn := range a.Warnings {
				fmt.Fprintf(w, "%s %s [%s]: %s\n", p.Warn("warning:"), Safe(a.Name), wn.Code, Safe(wn.Message))
			}
		}
	}
	if err := analyzeNodeConfig(w, rep, p); err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, analyzeSummary(rep, p))
	return nil
}

// inputLabel names an input compactly: bundle entries as
// "<agent>/<file>", paste parts with their line range.
func inputLabel(in report.AnalyzeInput, wide bool) string {
	label := in.Source
	if in.Agent != "" && !wide {
		label = in.Agent + "/" + path.Base(strings.ReplaceAll(in.Source, "!", "/"))
	}
	if in.Lines != "" {
		label += ":" + in.Lines
	}
	return label
}

func inputFacts(in report.AnalyzeInput, p Palette) string {
	if in.Reason != "" {
		return p.Warn(Safe(in.Reason))
	}
	var facts []string
	switch {
	case in.CiliumStatus != nil:
		facts = statusFacts(in.CiliumStatus, p)
	case in.Kind == "cilium-service-list":
		facts = serviceListFacts(in.Services, p)
	case in.Netfilter != nil:
		facts = NetfilterFacts(in.Netfilter, p)
	}
	if in.Fragment && in.Kind == "cilium-service-list" {
		facts = append(facts, p.Warn("a fragment (rows without their header): counts are lower bounds"))
	}
	if in.Superseded > 0 {
		facts = append(facts, p.Faint(fmt.Sprintf("last of %d listings", in.Superseded+1)))
	}
	return strings.Join(facts, "; ")
}

func statusFacts(s *report.AnalyzeCiliumStatus, p Palette) []string {
	facts := []string{"Cilium " + Safe(orDefaultStr(s.Version, "(version not printed)"))}
	if k := s.KubeProxyReplacement; k != nil {
		kpr := fmt.Sprintf("KPR %s (%s)", Safe(k.Mode), Safe(k.ReplacesKubeProxy))
		facts = append(facts, p.Paint(replacementTone(k.ReplacesKubeProxy), kpr))
		if d := DevicesString(k); d != "" {
			facts = append(facts, "devices "+Safe(d))
		}
	} else {
		facts = append(facts, p.Warn("no KPR section"))
	}
	if s.CNIChaining != "" {
		facts = append(facts, "CNI chaining "+Safe(s.CNIChaining))
	}
	if s.CiliumState != "" && s.CiliumState != "Ok" {
		facts = append(facts, p.Bad("agent "+Safe(s.CiliumState)))
	}
	return facts
}

func serviceListFacts(svcs []report.AgentService, p Palette) []string {
	byType := map[string]int{}
	notActive, noBackends := 0, 0
	for _, s := range svcs {
		byType[s.Type]++
		if len(s.Backends) == 0 {
			noBackends++
		}
		for _, b := range s.Backends {
			if b.State != "" && b.State != "active" {
				notActive++
			}
		}
	}
	types := make([]string, 0, len(byType))
	for t := range byType {
		types = append(types, t)
	}
	sort.Strings(types)
	parts := make([]string, 0, len(types))
	for _, t := range types {
		parts = append(parts, fmt.Sprintf("%d %s", byType[t], Safe(orDefaultStr(t, "untyped"))))
	}
	facts := []string{Count(len(svcs), "frontend")}
	if len(parts) > 0 {
		facts[0] += " (" + strings.Join(parts, ", ") + ")"
	}
	if notActive > 0 {
		facts = append(facts, p.Warn(Count(notActive, "backend")+" not active"))
	}
	if noBackends > 0 {
		facts = append(facts, p.Warn(Count(noBackends, "frontend")+" without backends"))
	}
	return facts
}

// NetfilterFacts summarises node rules in a few words (also for inspect).
func NetfilterFacts(s *report.Rules, p Palette) []string {
	var facts []string
	c := s.Counts
	if n := len(s.KubeServiceChains); n > 0 || c.KubeServices.Rules > 0 {
		facts = append(facts, p.Info(fmt.Sprintf("%d KUBE-SVC/SVL chains, KUBE-SERVICES %d rules, %d KUBE-SEP", n, c.KubeServices.Rules, c.KubeSEP.Chains)))
	}
	for _, t := range s.KubeProxyNFTables {
		facts = append(facts, p.Info(fmt.Sprintf("nft table %s %s (%d service chains)", Safe(t.Family), Safe(t.Name), len(t.ServiceChains))))
	}
	if s.IPVS != nil {
		facts = append(facts, fmt.Sprintf("%d IPVS virtual services, %d real servers", s.IPVS.VirtualServices, s.IPVS.RealServers))
	} else if s.IPVSMatchSets > 0 {
		facts = append(facts, p.Info(fmt.Sprintf("%d rules on kube-proxy ipvs ipsets", s.IPVSMatchSets)))
	}
	if n := len(s.CiliumChains); n > 0 {
		facts = append(facts, fmt.Sprintf("%d CILIUM_* chains", n))
	}
	for _, o := range s.Other {
		facts = append(facts, p.Warn(Safe(o.Implementation)+": "+Safe(strings.Join(o.Chains, ","))))
	}
	if len(facts) == 0 {
		facts = append(facts, "no kube-proxy, Cilium or other Service rules")
	}
	var dumps []string
	for _, d := range s.Dumps {
		if d.Superseded {
			continue
		}
		desc := strings.TrimSpace(d.Backend + " " + d.Family)
		if desc != "" {
			dumps = append(dumps, desc)
		}
	}
	if len(dumps) > 0 {
		facts = append(facts, "from "+strings.Join(dumps, " + "))
	}
	for _, wn := range s.Warnings {
		facts = append(facts, p.Warn(Safe(wn)))
	}
	return facts
}

func kprCell(s *report.AnalyzeCiliumStatus, p Palette) string {
	if s == nil {
		return p.Warn("not read")
	}
	if s.KubeProxyReplacement == nil {
		return p.Warn("-")
	}
	k := s.KubeProxyReplacement
	return p.Paint(replacementTone(k.ReplacesKubeProxy), Safe(k.Mode))
}

func kubeProxyRulesCell(a report.AnalyzeAgent, p Palette) string {
	switch {
	case a.Netfilter == nil:
		return p.Warn("no dump")
	case len(a.KubeProxyModes) > 0:
		return p.Info(strings.Join(a.KubeProxyModes, ","))
	case a.KubeProxyRules:
		return p.Info("leftover chains")
	}
	return "none"
}

func ciliumChainsCell(s *report.Rules) string {
	if s == nil {
		return "-"
	}
	return fmt.Sprint(len(s.CiliumChains))
}

func frontendsCell(n int) string {
	if n < 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func analyzeSummary(rep *report.Analyze, p Palette) string {
	known, unknown := 0, 0
	for _, in := range rep.Inputs {
		if in.Kind == "unknown" || in.Reason != "" {
			unknown++
		} else {
			known++
		}
	}
	s := Count(known+unknown, "output") + fmt.Sprintf(" read, %d recognised", known)
	if unknown > 0 {
		s += ", " + p.Warn(fmt.Sprintf("%d not", unknown))
	}
	if n := len(rep.Agents); n > 0 {
		s += "; " + Count(n, "agent verdict")
	}
	if nc := rep.NodeConfig; nc != nil && nc.Resolved {
		n := len(rep.Nodes)
		for _, a := range rep.Agents {
			if a.NodeConfig != nil {
				n++
			}
		}
		s += "; per-node configuration of " + Count(n, "node")
	}
	return s
}

// analyzeNodeConfig prints, for the agents and nodes whose KPR-related
// keys a per-node source (a CiliumNodeConfig, a node label or annotation)
// sets, those keys with their origin, then the nodes' warnings and the
// note on what the sysdump lacked.
func analyzeNodeConfig(w io.Writer, rep *report.Analyze, p Palette) error {
	nc := rep.NodeConfig
	if nc == nil {
		return nil
	}
	var rows [][]string
	add := func(node, agent string, c *report.NodeConfig) {
		if c == nil {
			return
		}
		var keys []string
		for _, k := range c.Keys {
			if perNodeOrigin(k.Origin) {
				keys = append(keys, Safe(k.Key)+"="+Safe(k.Value)+" "+p.Faint("("+Safe(k.Origin)+")"))
			}
		}
		if c.Error != "" {
			keys = append(keys, p.Bad("build-config fails: "+Safe(c.Error)))
		}
		if len(keys) > 0 {
			rows = append(rows, []string{p.Bold(Safe(node)), Safe(orDash(agent)), strings.Join(keys, ", ")})
		}
	}
	for _, a := range rep.Agents {
		add(a.Node, a.Name, a.NodeConfig)
	}
	for _, n := range rep.Nodes {
		add(n.Name, "", n.NodeConfig)
	}
	if len(rows) > 0 {
		fmt.Fprintln(w)
		if err := Table(w, []string{"NODE", "AGENT", "PER-NODE KPR KEYS (computed from the sysdump)"}, rows); err != nil {
			return err
		}
	}
	for _, n := range rep.Nodes {
		for _, wn := range n.Warnings {
			fmt.Fprintf(w, "%s node %s [%s]: %s\n", p.Warn("warning:"), Safe(n.Name), wn.Code, Safe(wn.Message))
		}
	}
	if nc.Note != "" {
		fmt.Fprintf(w, "%s %s\n", p.Warn("note:"), Safe(nc.Note))
	}
	return nil
}

// perNodeOrigin: the key's value comes from a per-node source, not a
// ConfigMap.
func perNodeOrigin(origin string) bool {
	return strings.HasPrefix(origin, "CiliumNodeConfig ") || origin == "node label" || origin == "node annotation"
}

// jsonStream writes indented JSON piece by piece: the bytes that
// Structured (json.Encoder, two-space indent) writes for the whole value,
// without ever holding the whole encoding. The first error sticks.
type jsonStream struct {
	w   *bufio.Writer
	err error
}

func newJSONStream(w io.Writer) *jsonStream { return &jsonStream{w: bufio.NewWriterSize(w, 64<<10)} }

func (s *jsonStream) raw(str string) {
	if s.err == nil {
		_, s.err = s.w.WriteString(str)
	}
}

// value writes v indented as a member of the top-level object.
func (s *jsonStream) value(v any) {
	if s.err != nil {
		return
	}
	b, err := json.MarshalIndent(v, "  ", "  ")
	if err != nil {
		s.err = err
		return
	}
	_, s.err = s.w.Write(b)
}

// array writes a top-level member's array of n items (null when isNil),
// one item's encoding at a time.
func (s *jsonStream) array(n int, isNil bool, item func(i int) any) {
	if isNil {
		s.raw("null")
		return
	}
	s.raw("[")
	for i := 0; i < n && s.err == nil; i++ {
		if i > 0 {
			s.raw(",")
		}
		s.raw("\n    ")
		b, err := json.MarshalIndent(item(i), "    ", "  ")
		if err != nil {
			s.err = err
			return
		}
		_, s.err = s.w.Write(b)
	}
	if n > 0 {
		s.raw("\n  ")
	}
	s.raw("]")
}

// begin opens the top-level object with the document's apiVersion and
// kind, as the encoder writes the embedded TypeMeta, and the indent of the
// next member.
func (s *jsonStream) begin(doc report.Document) {
	doc.SetTypeMeta()
	tm := doc.GetTypeMeta()
	s.raw("{\n  \"apiVersion\": ")
	s.value(tm.APIVersion)
	s.raw(",\n  \"kind\": ")
	s.value(tm.Kind)
	s.raw(",\n  ")
}

func (s *jsonStream) end() error {
	s.raw("\n}\n")
	if s.err != nil {
		return s.err
	}
	return s.w.Flush()
}

// AnalyzeJSON writes rep exactly as Structured(w, FormatJSON, rep) would,
// apiVersion and kind set and first, but one input at a time: a sysdump's
// report (tens of MB of service tables) is then never held in memory
// whole, twice (marshal, then indent).
func AnalyzeJSON(w io.Writer, rep *report.Analyze) error {
	s := newJSONStream(w)
	s.begin(rep)
	s.raw("\"inputs\": ")
	s.array(len(rep.Inputs), rep.Inputs == nil, func(i int) any { return &rep.Inputs[i] })
	if rep.Agents != nil {
		s.raw(",\n  \"agents\": ")
		s.value(rep.Agents)
	}
	if rep.NodeConfig != nil {
		s.raw(",\n  \"nodeConfig\": ")
		s.value(rep.NodeConfig)
	}
	if len(rep.Nodes) > 0 {
		s.raw(",\n  \"nodes\": ")
		s.value(rep.Nodes)
	}
	return s.end()
}

// ServicesJSON writes rep exactly as Structured(w, FormatJSON, rep) would,
// apiVersion and kind set and first, one node row at a time: at 1000
// nodes the report is ~90 MB of JSON,
// which Structured would hold twice (marshal, then indent) on top of the
// rows themselves (BENCHMARKS.md, services at N = 1000).
func ServicesJSON(w io.Writer, rep *report.Services) error {
	s := newJSONStream(w)
	s.begin(rep)
	s.raw("\"namespace\": ")
	s.value(rep.Namespace)
	s.raw(",\n  \"ciliumNamespace\": ")
	s.value(rep.CiliumNamespace)
	s.raw(",\n  \"nodes\": ")
	s.array(len(rep.Nodes), rep.Nodes == nil, func(i int) any { return &rep.Nodes[i] })
	s.raw(",\n  \"summary\": ")
	s.value(rep.Summary)
	return s.end()
}
