package findings

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

// NodeFacts is everything `diff` knows about one node; nil parts were not
// read (the row then says "?").
type NodeFacts struct {
	Name    string
	Status  *report.NodeStatus
	Inspect *report.InspectNode
	// Probes are the probes made from this node.
	Probes []report.ProbeResult
	// Probed: probes were run (false with --no-probe).
	Probed bool
	// HostPortByPortmap: the portmap CNI plugin's hostPort rules are on
	// the node; Addresses are its global IPv4 addresses (both from its
	// rules dump).
	HostPortByPortmap bool
	Addresses         []string
}

// Compare puts two nodes side by side. A row is decisive when the fact
// decides how Services are handled on the node; `diff --exit-code` fails
// when a decisive row differs.
func Compare(a, b NodeFacts) *report.Diff {
	d := &report.Diff{Nodes: []string{a.Name, b.Name}, Rows: []report.DiffRow{}}
	add := func(section, fact string, decisive bool, get func(NodeFacts) (string, string)) {
		av, as := get(a)
		bv, bs := get(b)
		row := report.DiffRow{Section: section, Fact: fact, A: av, B: bv, Decisive: decisive, AState: as, BState: bs}
		row.Differs = av != bv
		d.Rows = append(d.Rows, row)
	}
	st := func(f func(*report.NodeStatus) (string, string)) func(NodeFacts) (string, string) {
		return func(n NodeFacts) (string, string) {
			if n.Status == nil {
				return "?", ""
			}
			return f(n.Status)
		}
	}
	add("status", "services by", true, st(func(s *report.NodeStatus) (string, string) {
		switch s.ServicesBy {
		case verdict.None, verdict.Unknown, verdict.Both:
			return string(s.ServicesBy), report.StateBad
		}
		return string(s.ServicesBy), report.StateGood
	}))
	add("status", "node ready", false, st(func(s *report.NodeStatus) (string, string) {
		if s.Ready {
			return "yes", report.StateGood
		}
		return "no", report.StateBad
	}))
	add("status", "cilium agent", true, st(func(s *report.NodeStatus) (string, string) {
		if s.CiliumAgent == nil {
			return "none", ""
		}
		if s.CiliumAgent.Ready {
			return "ready", report.StateGood
		}
		return "not ready", report.StateBad
	}))
	add("status", "KPR mode", true, st(func(s *report.NodeStatus) (string, string) {
		if s.KubeProxyReplacement == nil {
			return "-", ""
		}
		return s.KubeProxyReplacement.Mode + " (" + s.KubeProxyReplacement.ReplacesKubeProxy + ")", ""
	}))
	// What the node's agent is configured with, and from where (cilium-config,
	// a CiliumNodeConfig, a node key): two nodes of one cluster differ here
	// in a per-node rollout.
	add("status", "KPR configured", false, st(func(s *report.NodeStatus) (string, string) {
		k, ok := s.NodeConfig.Get("kube-proxy-replacement")
		if !ok {
			return "-", ""
		}
		v := orDash(k.Value) + " (" + k.Origin + ")"
		if k.Configured != nil {
			v += ", now " + *k.Configured + " (" + k.ConfiguredOrigin + ", not applied)"
		}
		return v, ""
	}))
	add("status", "KPR devices", false, st(func(s *report.NodeStatus) (string, string) {
		if s.KubeProxyReplacement == nil || len(s.KubeProxyReplacement.Devices) == 0 {
			return "-", ""
		}
		var names []string
		for _, dv := range s.KubeProxyReplacement.Devices {
			names = append(names, dv.Name)
		}
		return strings.Join(names, ","), ""
	}))
	add("status", "kube-proxy pod", true, st(func(s *report.NodeStatus) (string, string) {
		if s.KubeProxyPod == nil {
			return "none", ""
		}
		return "yes", ""
	}))
	add("status", "kernel", false, st(func(s *report.NodeStatus) (string, string) { return orDash(s.KernelVersion), "" }))
	add("status", "warnings", false, st(func(s *report.NodeStatus) (string, string) {
		var codes []string
		for _, w := range s.Warnings {
			codes = append(codes, w.Code)
		}
		if len(codes) == 0 {
			return "none", ""
		}
		return strings.Join(codes, ","), report.StateBad
	}))

	in := func(f func(*report.InspectNode) (string, string)) func(NodeFacts) (string, string) {
		return func(n NodeFacts) (string, string) {
			if n.Inspect == nil {
				return "?", ""
			}
			return f(n.Inspect)
		}
	}
	count := func(f func(*report.InspectNode) int) func(NodeFacts) (string, string) {
		return in(func(i *report.InspectNode) (string, string) {
			if i.Netfilter == nil {
				return "?", ""
			}
			return strconv.Itoa(f(i)), ""
		})
	}
	add("rules", "rules read by", false, in(func(i *report.InspectNode) (string, string) { return i.RulesSource, "" }))
	add("rules", "kube-proxy /proxyMode", true, in(func(i *report.InspectNode) (string, string) { return i.KubeProxyMode, "" }))
	add("rules", "kube-proxy rule modes", true, in(func(i *report.InspectNode) (string, string) {
		var modes []string
		if i.Netfilter != nil {
			modes = append(modes, i.Netfilter.KubeProxyModes...)
		}
		if i.KubeIPVS0 {
			modes = append(modes, "kube-ipvs0")
		}
		if len(modes) == 0 {
			return "none", ""
		}
		return strings.Join(modes, ","), ""
	}))
	add("rules", "KUBE-SVC/SVL chains", false, count(func(i *report.InspectNode) int { return len(i.Netfilter.KubeServiceChains) }))
	add("rules", "KUBE-SEP chains", false, count(func(i *report.InspectNode) int { return i.Netfilter.Counts.KubeSEP.Chains }))
	add("rules", "KUBE-NODEPORTS rules", false, count(func(i *report.InspectNode) int { return i.Netfilter.Counts.KubeNodePorts.Rules }))
	add("rules", "Cilium chains", false, count(func(i *report.InspectNode) int { return len(i.Netfilter.CiliumChains) }))
	add("rules", "other replacements", true, in(func(i *report.InspectNode) (string, string) {
		if i.Netfilter == nil || len(i.Netfilter.Other) == 0 {
			return "none", ""
		}
		var o []string
		for _, m := range i.Netfilter.Other {
			o = append(o, m.Implementation)
		}
		return strings.Join(o, ","), ""
	}))
	add("rules", "findings", true, in(func(i *report.InspectNode) (string, string) {
		var codes []string
		bad := false
		for _, f := range i.Findings {
			codes = append(codes, f.Code)
			bad = bad || f.Severity == report.SeverityWarning
		}
		if len(codes) == 0 {
			return "none", report.StateGood
		}
		if bad {
			return strings.Join(codes, ","), report.StateBad
		}
		return strings.Join(codes, ","), ""
	}))

	// Who serves hostPorts and on which addresses NodePorts answer: the
	// behaviours that change when Cilium's KPR takes over from kube-proxy.
	add("behaviour", "hostPort served by", false, func(n NodeFacts) (string, string) { return HostPortBy(n), "" })
	add("behaviour", "NodePort addresses", false, func(n NodeFacts) (string, string) { return NodePortAddresses(n) })

	if a.Probed || b.Probed {
		for _, k := range probeKeys(a.Probes, b.Probes) {
			key := k
			add("probe", key.label, true, func(n NodeFacts) (string, string) {
				if !n.Probed {
					return "?", ""
				}
				r, ok := findProbe(n.Probes, key)
				if !ok {
					return "-", ""
				}
				return probeCell(r)
			})
		}
	}
	for _, r := range d.Rows {
		if r.Differs && r.Decisive {
			d.Differs = true
		}
	}
	d.Verdicts = []string{verdictLine(a), verdictLine(b)}
	return d
}

type probeKey struct {
	service, kind, target string
	label                 string
}

// probeKeyOf: the node's own address (nodeport-local) and the other
// node's (nodeport-remote) differ between the two nodes but are the same
// probe, so they are keyed by kind, not address.
func probeKeyOf(r report.ProbeResult) probeKey {
	k := probeKey{service: r.Service, kind: r.Kind, target: r.Target}
	switch r.Kind {
	case "nodeport-local", "nodeport-remote":
		k.target = ""
		_, port := cutPort(r.Target)
		who := "own IP"
		if r.Kind == "nodeport-remote" {
			who = "other node's IP"
		}
		k.label = fmt.Sprintf("%s %s (%s:%s)", r.Service, r.Kind, who, port)
	default:
		k.label = fmt.Sprintf("%s %s (%s)", r.Service, r.Kind, r.Target)
	}
	return k
}

func probeKeys(lists ...[]report.ProbeResult) []probeKey {
	seen := map[probeKey]bool{}
	var out []probeKey
	for _, l := range lists {
		for _, r := range l {
			k := probeKeyOf(r)
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

func findProbe(rs []report.ProbeResult, k probeKey) (report.ProbeResult, bool) {
	for _, r := range rs {
		if probeKeyOf(r) == k {
			return r, true
		}
	}
	return report.ProbeResult{}, false
}

func verdictLine(n NodeFacts) string {
	var parts []string
	if n.Status != nil {
		s := "Services by " + string(n.Status.ServicesBy)
		if k := n.Status.KubeProxyReplacement; k != nil {
			s += " (KPR " + k.Mode + ")"
		}
		parts = append(parts, s)
	} else {
		parts = append(parts, "status unknown")
	}
	if n.Inspect != nil {
		if n.Inspect.Netfilter != nil && len(n.Inspect.Netfilter.KubeProxyModes) > 0 {
			parts = append(parts, "kube-proxy "+strings.Join(n.Inspect.Netfilter.KubeProxyModes, "+")+" rules")
		} else {
			parts = append(parts, "no kube-proxy rules")
		}
		var codes []string
		for _, f := range n.Inspect.Findings {
			if f.Severity == report.SeverityWarning {
				codes = append(codes, f.Code)
			}
		}
		sort.Strings(codes)
		if len(codes) > 0 {
			parts = append(parts, "findings: "+strings.Join(codes, ", "))
		}
	} else {
		parts = append(parts, "rules not read")
	}
	if n.Probed {
		ok := 0
		for _, r := range n.Probes {
			if r.Outcome == "ok" {
				ok++
			}
		}
		parts = append(parts, fmt.Sprintf("probes %d/%d ok", ok, len(n.Probes)))
	}
	return n.Name + ": " + strings.Join(parts, "; ")
}

func cutPort(hostport string) (string, string) {
	i := strings.LastIndex(hostport, ":")
	if i < 0 {
		return hostport, ""
	}
	return hostport[:i], hostport[i+1:]
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// probeCell is a probe's outcome with who served it ("ok (kube-proxy)"),
// or a session-affinity probe's backends ("1 backend of 10").
func probeCell(r report.ProbeResult) (string, string) {
	if r.Kind == report.CheckSessionAffinity {
		v, sticky := r.Affinity()
		if sticky {
			return v, report.StateGood
		}
		return v, report.StateBad
	}
	v, state := r.Outcome, report.StateGood
	if r.Outcome != "ok" {
		state = report.StateBad
	}
	if r.ServedBy != "" && r.ServedBy != "none" {
		v += " (" + r.ServedBy + ")"
	}
	return v, state
}

// HostPortBy says who serves hostPorts on the node: Cilium's KPR (its
// HostPort frontends), the portmap CNI plugin's rules, or nobody kpr sees.
func HostPortBy(n NodeFacts) string {
	if n.Status.CiliumHostPort() {
		return "cilium"
	}
	if n.HostPortByPortmap {
		return "portmap"
	}
	if n.Inspect == nil {
		return "?"
	}
	return "none"
}

// NodePortAddresses are the addresses the node's datapath serves
// NodePorts on: Cilium's NodePort addresses (one per KPR device), or
// kube-proxy's (every local address in iptables and ipvs modes, the
// primary one in nftables mode), and the node's addresses left out.
func NodePortAddresses(n NodeFacts) (string, string) {
	s := n.Status
	if s == nil {
		return "?", ""
	}
	var served []string
	switch {
	case s.CiliumAgent != nil && s.KubeProxyReplacement != nil && s.KubeProxyReplacement.ReplacesKubeProxy != report.ReplacesNone:
		served = s.CiliumNodePortAddrs("")
	case s.ServicesBy == verdict.KubeProxyIPTables || s.ServicesBy == verdict.KubeProxyIPVS:
		return "every local address", ""
	case s.ServicesBy == verdict.KubeProxyNFTables:
		return "primary address (nftables default)", ""
	default:
		return "none", ""
	}
	var missing []string
	for _, a := range n.Addresses {
		if !contains(served, a) {
			missing = append(missing, a)
		}
	}
	v := strings.Join(served, ",")
	if v == "" {
		v = "-"
	}
	if len(missing) > 0 {
		return v + "; not " + strings.Join(missing, ","), report.StateBad
	}
	return v, ""
}
