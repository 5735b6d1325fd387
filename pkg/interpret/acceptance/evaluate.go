package acceptance

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/nodeconfig"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

// Node is everything verify learnt about one chosen node.
type Node struct {
	Name  string
	Class string
	// Status is the node's status row (nil when status could not be read).
	Status *report.NodeStatus
	// Inspect is the node's rules (nil when they could not be read); Err
	// says why the node's debug pod did not run, if it did not.
	Inspect *report.InspectNode
	Err     string
	Probes  []Probe
	// Frontends are the target Services' frontends in the node's agent
	// table (nodes with an agent only).
	Frontends []Frontends
	// OtherProblems counts agent-table problems of Services that are not
	// targets; AgentTableErr says why the table could not be read.
	OtherProblems int
	AgentTableErr string
}

// Probe is one probe verify ran, with what decides its expectation.
type Probe struct {
	Check   string // report.CheckClusterIP ... CheckNodePortRemote
	Service string // "ns/name:port"
	Target  string
	// Via / ViaClass: the remote node of a nodeport-remote probe.
	Via, ViaClass string
	// ClientSocketLB: the probing node's own socket-LB answers this remote
	// NodePort itself (SocketLBServesRemoteNodePorts, and a Cilium agent
	// runs on Via).
	ClientSocketLB bool
	Policy         Policy
	Outcome        string
	LatencyMs      float64
	HTTPStatus     int
	Attempts       int
	Detail         string
	// Case and Serving: a behaviour check's case (report.Case*) and the
	// node whose datapath it is about.
	Case    string
	Serving Datapath
	// ServedBy / ServedByReason / Counters: which datapath translated the
	// probe (ServedBy), with kube-proxy's chains that counted it.
	ServedBy, ServedByReason string
	Counters                 []report.CounterDelta
	// Requests, Backends, Spread: a session-affinity probe's requests and
	// the backends that answered them, with and without affinity.
	Requests         int
	Backends, Spread map[string]int
}

// Frontends is one target Service port as one agent has it.
type Frontends struct {
	Service  string // "ns/name:port"
	Agent    string
	Expected int
	Found    int
	Problems []string
}

// Reproducer words the commands that repeat a check by hand.
type Reproducer struct {
	// DebugImage is the image of `kubectl debug node/...`.
	DebugImage string
	// HTTP: probes were HTTP GETs, else TCP connects.
	HTTP           bool
	TimeoutSeconds int
}

// Expect returns the expectation of a probe.
func (p Probe) Expect(class string, strict bool) Expectation {
	if p.Case != "" {
		return BehaviourExpectation(p, class, strict)
	}
	if p.Check == report.CheckNodePortRemote {
		return RemoteExpectation(p.ViaClass, p.ClientSocketLB, p.Policy, strict)
	}
	return ProbeExpectation(class, p.Check, p.Policy, strict)
}

// JudgeNode turns one node's facts into its checks.
func JudgeNode(n Node, strict bool, r Reproducer) []report.VerifyCheck {
	var out []report.VerifyCheck
	add := func(c report.VerifyCheck) {
		c.Node, c.Class = n.Name, n.Class
		c.ID = n.Name + "/" + c.Name
		if c.Service != "" {
			c.ID += "/" + c.Service
		}
		if c.Via != "" {
			c.ID += "/" + c.Via
		}
		if c.Case != "" {
			c.ID += "/" + c.Case + "/" + c.Target
		}
		out = append(out, c)
	}
	class := verdict.ServicesBy(n.Class)
	st := n.Status

	// The agent's own word on KPR.
	if st != nil && (st.CiliumAgent != nil || class == verdict.Unknown) {
		c := report.VerifyCheck{Name: report.CheckAgentKPR, Expect: report.ExpectPresent}
		mode := ""
		if st.KubeProxyReplacement != nil {
			mode = st.KubeProxyReplacement.Mode
		}
		c.Evidence.Text = agentEvidence(st)
		switch {
		case class == verdict.Unknown:
			c.Result, c.Reason = report.ResultFail, "the node's Service handling could not be determined: "+firstOr(st.Errors, "agent not read")
		case class == verdict.Partial:
			c.Result, c.Reason = report.ResultWarn, fmt.Sprintf("the agent reports KubeProxyReplacement %s: only some Service types bypass kube-proxy", mode)
		case class == verdict.Cilium || class == verdict.Both:
			c.Result, c.Reason = report.ResultPass, fmt.Sprintf("the agent reports KubeProxyReplacement %s (full)", mode)
		case st.KubeProxyPod != nil:
			c.Result, c.Reason = report.ResultWarn, fmt.Sprintf("a Cilium agent runs here but reports KubeProxyReplacement %q: kube-proxy serves Services", orNone(mode))
		default:
			c.Result, c.Reason = report.ResultWarn, fmt.Sprintf("a Cilium agent runs here but reports KubeProxyReplacement %q and no kube-proxy runs: nothing serves Services on this node", orNone(mode))
		}
		if st.CiliumAgent != nil {
			c.Reproduce = fmt.Sprintf("kubectl -n %s exec %s -c cilium-agent -- %s status | grep KubeProxyReplacement", st.CiliumAgent.Namespace, st.CiliumAgent.Pod, agentBinary(st.CiliumAgent.Source))
		}
		add(c)
	}

	// Configured KPR (the node's effective configuration) against the
	// KPR the agent runs.
	if c, ok := kprConfigCheck(st); ok {
		add(c)
	}

	// Status warnings not covered by a check of their own.
	if st != nil {
		var ws []string
		for _, w := range st.Warnings {
			switch w.Code {
			case verdict.CodeNoServiceDatapath, verdict.CodeKubeProxyWithKPR, verdict.CodeConfigSaysKPRAgentDisabled:
				continue
			}
			ws = append(ws, w.Code+": "+w.Message)
		}
		c := report.VerifyCheck{Name: report.CheckStatusWarnings, Expect: report.ExpectAbsent, Result: report.ResultPass, Reason: "the node's sources agree"}
		if len(ws) > 0 {
			c.Result, c.Reason = report.ResultWarn, fmt.Sprintf("%d status warning(s): %s", len(ws), strings.Join(ws, "; "))
			c.Evidence.Text = strings.Join(ws, "\n")
			c.Reproduce = "kubectl kpr status --node " + n.Name + " -o json | jq '.nodes[].warnings'"
		}
		add(c)
	}

	// Could the node be checked at all?
	nc := report.VerifyCheck{Name: report.CheckNodeReachable, Expect: report.ExpectPresent, Result: report.ResultPass, Reason: "debug pod ran; rules read and probes run"}
	if n.Err != "" {
		nc.Result, nc.Reason, nc.Evidence.Text = report.ResultFail, "the node could not be checked: "+n.Err, n.Err
		nc.Reproduce = fmt.Sprintf("kubectl debug node/%s -it --profile=sysadmin --image=%s -- true", n.Name, r.DebugImage)
	}
	add(nc)

	if n.Inspect != nil {
		for _, c := range ruleChecks(n, class, strict, r) {
			add(c)
		}
	}

	for _, f := range n.Frontends {
		c := report.VerifyCheck{Name: report.CheckCiliumFrontends, Service: f.Service, Expect: report.ExpectPresent,
			Evidence: report.VerifyEvidence{Frontends: &report.FrontendEvidence{Agent: f.Agent, Expected: f.Expected, Found: f.Found, Problems: orEmpty(f.Problems)}}}
		if len(f.Problems) == 0 {
			c.Result, c.Reason = report.ResultPass, fmt.Sprintf("the agent has all %d frontend(s) of the Service with its ready backends", f.Expected)
		} else {
			c.Result, c.Reason = report.ResultFail, fmt.Sprintf("the agent's service table disagrees with the cluster: %s", strings.Join(f.Problems, "; "))
		}
		if ns, pod, ok := strings.Cut(f.Agent, "/"); ok {
			bin := "cilium-dbg"
			if st != nil && st.CiliumAgent != nil {
				bin = agentBinary(st.CiliumAgent.Source)
			}
			c.Reproduce = fmt.Sprintf("kubectl -n %s exec %s -c cilium-agent -- %s service list", ns, pod, bin)
		}
		add(c)
	}
	if n.AgentTableErr != "" || n.OtherProblems > 0 {
		c := report.VerifyCheck{Name: report.CheckAgentServiceTable, Expect: report.ExpectAbsent, Result: report.ResultWarn}
		if n.AgentTableErr != "" {
			c.Result, c.Reason = report.ResultFail, "the agent's service table could not be read: "+n.AgentTableErr
		} else {
			c.Reason = fmt.Sprintf("%d problem(s) in the agent's table for Services that verify did not target", n.OtherProblems)
			c.Reproduce = "kubectl kpr services -A --node " + n.Name
		}
		add(c)
	}

	for _, p := range n.Probes {
		add(withServedBy(judgeProbe(n, p, strict, r), p))
	}
	return out
}

func ruleChecks(n Node, class verdict.ServicesBy, strict bool, r Reproducer) []report.VerifyCheck {
	in := n.Inspect
	ev := rulesEvidence(in)
	kubeProxyRules := ev.KubeServiceChains > 0 || ev.KubeNodePortRules > 0 || ev.KubeProxyNFTables || ev.IPVSServices > 0
	iptablesRepro := fmt.Sprintf("kubectl debug node/%s -it --profile=sysadmin --image=%s -- chroot /host sh -c 'iptables-save | grep -c KUBE-SVC'", n.Name, r.DebugImage)
	rules := func(name, expect string) report.VerifyCheck {
		e := ev
		return report.VerifyCheck{Name: name, Expect: expect, Evidence: report.VerifyEvidence{Rules: &e}, Reproduce: iptablesRepro}
	}
	var out []report.VerifyCheck
	switch class {
	case verdict.Cilium:
		c := rules(report.CheckNoKubeProxyRules, report.ExpectAbsent)
		if kubeProxyRules {
			c.Result = report.ResultFail
			c.Reason = "kube-proxy rules are on a full-KPR node: " + rulesLine(ev)
			if hasString(ev.Findings, "stale-kube-proxy-rules") {
				c.Reason = "stale kube-proxy rules on a full-KPR node (nothing syncs them): " + rulesLine(ev)
			}
		} else {
			c.Result, c.Reason = report.ResultPass, "no KUBE-SVC/KUBE-NODEPORTS rules, no kube-proxy nftables table or IPVS services"
		}
		out = append(out, c)
	case verdict.KubeProxyIPTables, verdict.KubeProxyIPVS, verdict.KubeProxyNFTables, verdict.Partial:
		mode := "iptables"
		if class != verdict.Partial {
			mode = string(class)[len("kube-proxy-"):]
		}
		c := rules(report.CheckKubeProxyRules, report.ExpectPresent)
		if class == verdict.KubeProxyNFTables {
			c.Reproduce = fmt.Sprintf("kubectl debug node/%s -it --profile=sysadmin --image=%s -- chroot /host nft list table ip kube-proxy", n.Name, r.DebugImage)
		} else if class == verdict.KubeProxyIPVS {
			c.Reproduce = fmt.Sprintf("kubectl debug node/%s -it --profile=sysadmin --image=%s -- chroot /host ipvsadm -Ln", n.Name, r.DebugImage)
		}
		switch {
		case !kubeProxyRules:
			c.Result, c.Reason = report.ResultFail, "no kube-proxy rules on a node whose Services depend on kube-proxy"
		case class != verdict.Partial && ev.ProxyMode != mode:
			c.Result, c.Reason = report.ResultFail, fmt.Sprintf("kube-proxy rules are there (%s) but kube-proxy on 127.0.0.1:10249/proxyMode answers %q, not %q: are they stale?", rulesLine(ev), ev.ProxyMode, mode)
		default:
			c.Result, c.Reason = report.ResultPass, "kube-proxy's rules are there and kube-proxy answers /proxyMode "+ev.ProxyMode+": "+rulesLine(ev)
		}
		if class == verdict.Partial && c.Result == report.ResultFail {
			c.Result = report.ResultWarn
		}
		out = append(out, c)
	case verdict.Both:
		c := rules(report.CheckSingleDatapath, report.ExpectAbsent)
		c.Result = report.ResultFail
		c.Reason = "kube-proxy and Cilium's full KPR both program Services on this node: remove kube-proxy here or disable KPR (" + rulesLine(ev) + ")"
		out = append(out, c)
	case verdict.None:
		c := rules(report.CheckServiceDatapath, report.ExpectPresent)
		c.Result, c.Reason = noDatapath(strict).OnMatch, noDatapathWhy
		if kubeProxyRules {
			c.Reason += "; kube-proxy rules without a kube-proxy are stale: " + rulesLine(ev)
		}
		out = append(out, c)
	}
	return out
}

func judgeProbe(n Node, p Probe, strict bool, r Reproducer) report.VerifyCheck {
	e := p.Expect(n.Class, strict)
	c := report.VerifyCheck{Name: p.Check, Service: p.Service, Target: p.Target, Via: p.Via, ViaClass: p.ViaClass, Case: p.Case, Expect: e.Expect,
		Evidence: report.VerifyEvidence{Probe: &report.ProbeEvidence{Outcome: p.Outcome, LatencyMs: p.LatencyMs, HTTPStatus: p.HTTPStatus, Attempts: p.Attempts, Detail: p.Detail,
			ServedBy: p.ServedBy, ServedByReason: p.ServedByReason, Counters: p.Counters, Requests: p.Requests, Backends: p.Backends, Spread: p.Spread}}}
	c.Reproduce = probeRepro(n.Name, p.Target, r)
	if p.Check == report.CheckSessionAffinity {
		c.Reproduce = fmt.Sprintf("kubectl debug node/%s -it --profile=sysadmin --image=%s -- sh -c 'for i in $(seq %d); do curl -s --max-time 3 http://%s/hostname; echo; done | sort | uniq -c'", n.Name, r.DebugImage, p.Requests, p.Target)
		c.Result, c.Reason = judgeAffinity(p, e)
		return c
	}
	outcome := p.Outcome
	if p.HTTPStatus != 0 {
		outcome = fmt.Sprintf("%s (HTTP %d)", p.Outcome, p.HTTPStatus)
	}
	switch {
	case p.Outcome == "error":
		c.Result, c.Reason = report.ResultSkip, "the probe could not run: "+orNone(p.Detail)
	case e.Expect == report.ExpectAny:
		c.Result, c.Reason = e.OnMatch, fmt.Sprintf("%s; %s", outcome, e.Why)
	case Agrees(e, p.Outcome):
		c.Result = e.OnMatch
		if e.Expect == report.ExpectAnswer {
			c.Reason = fmt.Sprintf("answered in %sms", trimFloat(p.LatencyMs))
			if p.Case != "" || (p.Check == report.CheckNodePortRemote && p.ClientSocketLB) {
				// Whose datapath answered, and why it must, matter more
				// than how fast.
				c.Reason += "; " + e.Why
			}
		} else if c.Result == report.ResultFail {
			// Nothing implements it here: the outcome is the expected one,
			// and the failure.
			c.Reason = fmt.Sprintf("%s: %s", outcome, e.Why)
		} else {
			c.Reason = fmt.Sprintf("%s, as expected: %s", outcome, e.Why)
		}
	default:
		c.Result = e.OnMismatch
		if e.Expect == report.ExpectAnswer {
			c.Reason = fmt.Sprintf("%s after %d attempt(s): %s", outcome, p.Attempts, e.Why)
		} else {
			c.Reason = fmt.Sprintf("answered although it should not: %s", e.Why)
		}
	}
	return c
}

// withServedBy adds who served an answered probe to its reason.
func withServedBy(c report.VerifyCheck, p Probe) report.VerifyCheck {
	if p.ServedBy != "" && p.ServedBy != ServedByNone && c.Result != report.ResultSkip {
		c.Reason += "; served by " + p.ServedBy
	}
	return c
}

func probeRepro(node, target string, r Reproducer) string {
	t := r.TimeoutSeconds
	if t <= 0 {
		t = 2
	}
	curl := fmt.Sprintf("curl -sS -o /dev/null -w '%%{http_code} %%{time_total}s\\n' --connect-timeout %d --max-time %d http://%s/", t, t+1, target)
	return fmt.Sprintf("kubectl debug node/%s -it --profile=sysadmin --image=%s -- %s", node, r.DebugImage, curl)
}

func rulesEvidence(in *report.InspectNode) report.RulesEvidence {
	ev := report.RulesEvidence{ProxyMode: in.KubeProxyMode, RulesSource: in.RulesSource, Findings: []string{}}
	for _, f := range in.Findings {
		ev.Findings = append(ev.Findings, f.Code)
	}
	if nf := in.Netfilter; nf != nil {
		ev.KubeServiceChains = len(nf.KubeServiceChains)
		ev.KubeSEPChains = nf.Counts.KubeSEP.Chains
		ev.KubeNodePortRules = nf.Counts.KubeNodePorts.Rules
		ev.KubeProxyNFTables = len(nf.KubeProxyNFTables) > 0
		ev.CiliumChains = len(nf.CiliumChains)
		if nf.IPVS != nil {
			ev.IPVSServices = len(nf.IPVS.Services)
		}
	}
	return ev
}

// rulesLine is the rule counts in one phrase.
func rulesLine(ev report.RulesEvidence) string {
	parts := []string{
		fmt.Sprintf("%d KUBE-SVC/SVL chains", ev.KubeServiceChains),
		fmt.Sprintf("%d KUBE-SEP chains", ev.KubeSEPChains),
		fmt.Sprintf("%d KUBE-NODEPORTS rules", ev.KubeNodePortRules),
	}
	if ev.KubeProxyNFTables {
		parts = append(parts, "kube-proxy nftables table")
	}
	if ev.IPVSServices > 0 {
		parts = append(parts, fmt.Sprintf("%d IPVS services", ev.IPVSServices))
	}
	parts = append(parts, fmt.Sprintf("%d CILIUM_* chains", ev.CiliumChains))
	s := strings.Join(parts, ", ")
	if len(ev.Findings) > 0 {
		s += "; " + strings.Join(ev.Findings, ", ")
	}
	return s
}

// agentBinary is the CLI that answered on this agent (the first word of
// how its status was read: "cilium status -o json" on 1.14 and older),
// cilium-dbg when unknown.
func agentBinary(source string) string {
	if b, _, _ := strings.Cut(source, " "); b == "cilium" {
		return b
	}
	return "cilium-dbg"
}

func agentEvidence(st *report.NodeStatus) string {
	var parts []string
	if st.CiliumAgent != nil {
		parts = append(parts, "agent "+st.CiliumAgent.Namespace+"/"+st.CiliumAgent.Pod)
	}
	if st.AgentVersion != "" {
		parts = append(parts, "Cilium "+st.AgentVersion)
	}
	if k := st.KubeProxyReplacement; k != nil {
		s := "KubeProxyReplacement " + k.Mode
		var devs []string
		for _, d := range k.Devices {
			devs = append(devs, d.Name)
		}
		if len(devs) > 0 {
			s += " [" + strings.Join(devs, ", ") + "]"
		}
		parts = append(parts, s)
	}
	if len(st.Errors) > 0 {
		parts = append(parts, "errors: "+strings.Join(st.Errors, "; "))
	}
	return strings.Join(parts, "; ")
}

// Tally totals the checks into the summary and the per-class counts
// (classes keep their order).
func Tally(checks []report.VerifyCheck, classes []report.VerifyClass) (report.VerifySummary, []report.VerifyClass) {
	s := report.VerifySummary{Checks: len(checks)}
	idx := map[string]int{}
	for i := range classes {
		classes[i].Pass, classes[i].Fail, classes[i].Warn, classes[i].Skip = 0, 0, 0, 0
		idx[classes[i].Name] = i
	}
	for _, c := range checks {
		ci, ok := idx[c.Class]
		bump := func(total *int, class func(*report.VerifyClass) *int) {
			*total++
			if ok {
				*class(&classes[ci])++
			}
		}
		switch c.Result {
		case report.ResultPass:
			bump(&s.Pass, func(v *report.VerifyClass) *int { return &v.Pass })
		case report.ResultFail:
			bump(&s.Fail, func(v *report.VerifyClass) *int { return &v.Fail })
		case report.ResultWarn:
			bump(&s.Warn, func(v *report.VerifyClass) *int { return &v.Warn })
		default:
			bump(&s.Skip, func(v *report.VerifyClass) *int { return &v.Skip })
		}
	}
	s.Result = report.ResultPass
	if s.Fail > 0 {
		s.Result = report.ResultFail
	}
	return s, classes
}

// ClassOrder is the order classes are reported in.
var ClassOrder = []verdict.ServicesBy{
	verdict.Cilium, verdict.KubeProxyIPTables, verdict.KubeProxyIPVS, verdict.KubeProxyNFTables,
	verdict.Both, verdict.Partial, verdict.None, verdict.Unknown,
}

// Classes groups node names by class, in ClassOrder, names sorted.
func Classes(classOf map[string]string) []report.VerifyClass {
	by := map[string][]string{}
	for n, c := range classOf {
		by[c] = append(by[c], n)
	}
	var out []report.VerifyClass
	seen := map[string]bool{}
	for _, c := range ClassOrder {
		seen[string(c)] = true
		if ns := by[string(c)]; len(ns) > 0 {
			sort.Strings(ns)
			out = append(out, report.VerifyClass{Name: string(c), Nodes: ns, Chosen: []string{}})
		}
	}
	// A class kpr does not know yet still gets reported, after the others.
	var rest []string
	for c := range by {
		if !seen[c] {
			rest = append(rest, c)
		}
	}
	sort.Strings(rest)
	for _, c := range rest {
		ns := by[c]
		sort.Strings(ns)
		out = append(out, report.VerifyClass{Name: c, Nodes: ns, Chosen: []string{}})
	}
	return out
}

func hasString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func firstOr(xs []string, def string) string {
	if len(xs) > 0 {
		return xs[0]
	}
	return def
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func orEmpty(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.2f", f)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" {
		return "0"
	}
	return s
}

// kprConfigCheck compares the kube-proxy-replacement a node's agent is
// configured with (cilium-config, CiliumNodeConfigs, node keys: the agent's
// config dir, or computed) with the mode the agent reports. It passes
// when they agree, fails when the configuration turns KPR on and the agent
// runs without it, and warns when they differ otherwise or a newer
// setting waits for the agent's re-creation.
func kprConfigCheck(st *report.NodeStatus) (report.VerifyCheck, bool) {
	if st == nil || st.CiliumAgent == nil || st.NodeConfig == nil || st.KubeProxyReplacement == nil {
		return report.VerifyCheck{}, false
	}
	c := report.VerifyCheck{Name: report.CheckKPRConfig, Expect: report.ExpectPresent}
	k, set := st.NodeConfig.Get("kube-proxy-replacement")
	configured, from := "unset", "no source"
	if set {
		configured, from = fmt.Sprintf("%q", k.Value), k.Origin
	}
	how := "read from the agent's config dir"
	if st.NodeConfig.ReadFrom != "agent" {
		how = "computed from the API objects"
	}
	running := st.KubeProxyReplacement
	full := running.ReplacesKubeProxy == report.ReplacesFull
	on := set && nodeconfig.KPROn(k.Value)
	c.Evidence.Text = fmt.Sprintf("configured kube-proxy-replacement=%s from %s (%s); the agent reports %s", configured, from, how, running.Mode)
	c.Reproduce = fmt.Sprintf("kubectl -n %s exec %s -c cilium-agent -- cat /tmp/cilium/config-map/kube-proxy-replacement /tmp/cilium/config-map/config-sources", st.CiliumAgent.Namespace, st.CiliumAgent.Pod)
	switch {
	case on && !full:
		c.Result, c.Reason = report.ResultFail, fmt.Sprintf("configured kube-proxy-replacement=%s (from %s) but the agent reports %s: it runs without full KPR", configured, from, running.Mode)
	case !on && full:
		c.Result, c.Reason = report.ResultWarn, fmt.Sprintf("configured kube-proxy-replacement=%s (from %s) but the agent reports %s: its flags or an older configuration decide", configured, from, running.Mode)
	default:
		c.Result, c.Reason = report.ResultPass, fmt.Sprintf("configured kube-proxy-replacement=%s (from %s) and the agent reports %s", configured, from, running.Mode)
	}
	if set && k.Configured != nil && c.Result == report.ResultPass {
		c.Result = report.ResultWarn
		c.Reason += fmt.Sprintf("; %s now sets %q, not applied until the agent pod is re-created", k.ConfiguredOrigin, *k.Configured)
	}
	return c, true
}
