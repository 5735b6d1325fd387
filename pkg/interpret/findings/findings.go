// Package findings turns what was read on one node (its netfilter
// summary, kube-proxy's /proxyMode answer, the pods the API server places
// there, the Services that exist) into findings with stable codes. It is
// pure: plain structs in, plain structs out.
package findings

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/netfilter"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

// Stable finding codes (scripts match on them).
const (
	// StaleKubeProxyRules: kube-proxy rules that nothing keeps in sync.
	StaleKubeProxyRules = "stale-kube-proxy-rules"
	// KubeProxyAndCiliumKPR: a live kube-proxy next to Cilium's full KPR.
	KubeProxyAndCiliumKPR = verdict.CodeKubeProxyWithKPR
	// NoServiceDatapath: nothing live implements Services on the node.
	NoServiceDatapath = verdict.CodeNoServiceDatapath
	// KubeProxyNotAnswering: a kube-proxy pod is placed on the node but
	// nothing answers its /proxyMode endpoint.
	KubeProxyNotAnswering = "kube-proxy-not-answering"
	// BothIPTablesBackends: rules in the legacy and the nf_tables backend.
	BothIPTablesBackends = "iptables-both-backends"
	// OtherServiceProxy: markers of Contiv, Calico, Antrea or kube-router.
	OtherServiceProxy = "other-service-proxy"
)

// Cilium KPR values (cilium.Replacement's).
const (
	KPRFull    = "full"
	KPRPartial = "partial"
	KPRNone    = "none"
)

// ServicePort identifies one port of an existing Service.
type ServicePort struct {
	Namespace string
	Name      string
	// PortName is "" for an unnamed port.
	PortName string
	// Protocol is "TCP", "UDP" or "SCTP" (any case).
	Protocol string
}

// Input is everything known about one node.
type Input struct {
	Node string
	// Rules is the node's netfilter summary; nil when it could not be read.
	Rules *netfilter.Summary
	// KubeIPVS0: the kube-ipvs0 device exists.
	KubeIPVS0 bool
	// ProxyModeChecked: 127.0.0.1:10249/proxyMode was probed; ProxyMode is
	// its answer, "" when nothing answered.
	ProxyModeChecked bool
	ProxyMode        string
	// KubeProxyPod is the kube-proxy pod on the node per the API ("" none).
	KubeProxyPod string
	// CiliumAgent: a Cilium agent pod is on the node; CiliumKPR is its
	// replacement level (KPRFull, KPRPartial, KPRNone) or "" if unknown.
	CiliumAgent bool
	CiliumKPR   string
	// CiliumKPRFrom is "agent" when CiliumKPR is the agent's own word,
	// "cilium-config" when it is only what the ConfigMap asks for.
	CiliumKPRFrom string
	// Services are the Service ports that exist; ServicesKnown says the
	// list was read (stale-chain detection needs it).
	Services      []ServicePort
	ServicesKnown bool
}

// Result is the findings for one node.
type Result struct {
	Findings []report.Finding
	Stale    []report.StaleChain
}

// ForNode derives the node's findings.
func ForNode(in Input) Result {
	var res Result
	add := func(code, severity, format string, a ...any) {
		res.Findings = append(res.Findings, report.Finding{Code: code, Severity: severity, Message: fmt.Sprintf(format, a...)})
	}
	live := in.ProxyMode != "" || in.KubeProxyPod != ""
	ruleModes := ruleModes(in)
	if in.ServicesKnown && in.Rules != nil {
		res.Stale = StaleChains(in.Rules, in.Services)
	}

	switch {
	case len(ruleModes) > 0 && !live && in.ProxyModeChecked:
		msg := fmt.Sprintf("kube-proxy %s rules are present (%s) but no kube-proxy runs on this node: no kube-proxy pod, and nothing answers 127.0.0.1:10249/proxyMode. They are leftovers of a removed kube-proxy that nothing updates; they can still DNAT or REJECT traffic that the live datapath does not catch. Remove them on the node (kube-proxy --cleanup, or delete the KUBE-* chains and kube-proxy's nftables table)",
			strings.Join(ruleModes, "+"), ruleSummary(in))
		if len(res.Stale) > 0 {
			msg += fmt.Sprintf("; %s", staleSummary(res.Stale))
		}
		add(StaleKubeProxyRules, report.SeverityWarning, "%s", msg)
	case live && in.ProxyMode != "" && hasOtherMode(ruleModes, in.ProxyMode):
		add(StaleKubeProxyRules, report.SeverityWarning,
			"kube-proxy runs in %s mode, but %s rules of another mode remain (%s): leftovers from before a mode switch; remove them with kube-proxy --cleanup",
			in.ProxyMode, strings.Join(otherModes(ruleModes, in.ProxyMode), "+"), ruleSummary(in))
	case len(res.Stale) > 0:
		add(StaleKubeProxyRules, report.SeverityWarning,
			"%s; a kube-proxy that syncs would have removed them, so it may be stuck (check its logs)", staleSummary(res.Stale))
	}

	if live && in.CiliumAgent && in.CiliumKPR == KPRFull {
		how := "kube-proxy pod " + in.KubeProxyPod
		if in.KubeProxyPod == "" {
			how = "a kube-proxy answering /proxyMode (" + in.ProxyMode + "), though the API shows no pod"
		}
		what := "Cilium's full kube-proxy replacement"
		if in.CiliumKPRFrom == "cilium-config" {
			// inspect reads no agent: say whose word "full" is.
			what += " (as cilium-config sets it; `kubectl kpr status` shows what the agent reports)"
		}
		add(KubeProxyAndCiliumKPR, report.SeverityWarning,
			"%s runs next to %s: both program Services; remove kube-proxy from this node or disable KPR", how, what)
	}

	ciliumServes := in.CiliumAgent && (in.CiliumKPR == KPRFull || in.CiliumKPR == KPRPartial)
	ciliumUnknown := in.CiliumAgent && in.CiliumKPR == ""
	if !live && !ciliumServes && !ciliumUnknown && in.ProxyModeChecked {
		msg := "no kube-proxy and no Cilium kube-proxy replacement: nothing implements ClusterIP or NodePort Services on this node (ClusterIPs time out, NodePorts are refused)"
		if in.Rules != nil && len(in.Rules.Other) > 0 {
			msg += "; only " + otherSummary(in.Rules.Other) + ", which is not a full Service implementation (Contiv's CONTIV-NODEPORT, for one, handles only TCP NodePorts to local pods)"
		}
		add(NoServiceDatapath, report.SeverityWarning, "%s", msg)
	} else if in.Rules != nil && len(in.Rules.Other) > 0 {
		add(OtherServiceProxy, report.SeverityInfo, "markers of another Service implementation: %s", otherSummary(in.Rules.Other))
	}

	if in.KubeProxyPod != "" && in.ProxyModeChecked && in.ProxyMode == "" {
		add(KubeProxyNotAnswering, report.SeverityWarning,
			"kube-proxy pod %s is placed on this node but nothing answers 127.0.0.1:10249/proxyMode: kube-proxy is down, or its metricsBindAddress is not 127.0.0.1:10249", in.KubeProxyPod)
	}

	if in.Rules != nil {
		if b := backendsWithRules(in.Rules); len(b) > 1 {
			add(BothIPTablesBackends, report.SeverityInfo,
				"rules exist in both iptables backends (%s): both apply, and a tool that reads one backend misses the other", strings.Join(b, ", "))
		}
	}
	return res
}

// ruleModes are the kube-proxy modes whose rules are present.
func ruleModes(in Input) []string {
	var out []string
	if in.Rules != nil {
		out = append(out, in.Rules.KubeProxyModes...)
		if len(out) == 0 && len(in.Rules.KubeProxyChains) > 0 {
			// Only fixed chains (KUBE-SERVICES, KUBE-NODEPORTS...) left: still
			// kube-proxy's, and still in the path of packets.
			out = append(out, netfilter.ModeIPTables)
		}
	}
	if in.KubeIPVS0 && !contains(out, netfilter.ModeIPVS) {
		out = append(out, netfilter.ModeIPVS)
	}
	return out
}

func hasOtherMode(modes []string, live string) bool { return len(otherModes(modes, live)) > 0 }

func otherModes(modes []string, live string) []string {
	var out []string
	for _, m := range modes {
		if !strings.EqualFold(m, live) {
			out = append(out, m)
		}
	}
	return out
}

func ruleSummary(in Input) string {
	if in.Rules == nil {
		if in.KubeIPVS0 {
			return "kube-ipvs0 device"
		}
		return "no rules read"
	}
	c := in.Rules.Counts
	var parts []string
	if n := len(in.Rules.KubeServiceChains); n > 0 {
		parts = append(parts, fmt.Sprintf("%d KUBE-SVC/SVL chains", n))
	}
	if c.KubeSEP.Chains > 0 {
		parts = append(parts, fmt.Sprintf("%d KUBE-SEP chains", c.KubeSEP.Chains))
	}
	if c.KubeServices.Rules > 0 {
		parts = append(parts, fmt.Sprintf("%d KUBE-SERVICES rules", c.KubeServices.Rules))
	}
	if c.KubeNodePorts.Rules > 0 {
		parts = append(parts, fmt.Sprintf("%d KUBE-NODEPORTS rules", c.KubeNodePorts.Rules))
	}
	for _, t := range in.Rules.KubeProxyNFTables {
		parts = append(parts, fmt.Sprintf("nftables table %s %s with %d rules", t.Family, t.Name, t.Rules))
	}
	if in.Rules.IPVS != nil && in.Rules.IPVS.VirtualServices > 0 {
		parts = append(parts, fmt.Sprintf("%d IPVS virtual services", in.Rules.IPVS.VirtualServices))
	}
	if in.KubeIPVS0 {
		parts = append(parts, "kube-ipvs0 device")
	}
	if len(parts) == 0 {
		parts = append(parts, "chains "+strings.Join(in.Rules.KubeProxyChains, ", "))
	}
	return strings.Join(parts, ", ")
}

func staleSummary(stale []report.StaleChain) string {
	var names []string
	for i, s := range stale {
		if i == 3 {
			names = append(names, fmt.Sprintf("and %d more", len(stale)-3))
			break
		}
		if s.ServicePort != "" {
			names = append(names, s.Chain+" ("+s.ServicePort+")")
		} else {
			names = append(names, s.Chain)
		}
	}
	return fmt.Sprintf("%d kube-proxy Service chain(s) belong to Services that no longer exist: %s", len(stale), strings.Join(names, ", "))
}

func otherSummary(others []netfilter.OtherMarker) string {
	var parts []string
	for _, o := range others {
		parts = append(parts, o.Implementation+" ("+strings.Join(o.Chains, ", ")+")")
	}
	return strings.Join(parts, "; ")
}

// backendsWithRules lists the iptables backends whose dumps hold rules.
func backendsWithRules(s *netfilter.Summary) []string {
	seen := map[string]bool{}
	for _, d := range s.Dumps {
		if d.Format == "iptables-save" && d.Backend != "" && d.Rules > 0 && !d.Superseded {
			seen[d.Backend] = true
		}
	}
	out := make([]string, 0, len(seen))
	for b := range seen {
		out = append(out, b)
	}
	sort.Strings(out)
	return out
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
