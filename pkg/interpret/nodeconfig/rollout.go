package nodeconfig

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Tri is a fact that may be unknown.
type Tri int8

// The values of a Tri.
const (
	Unknown Tri = iota
	No
	Yes
)

// TriOf is Yes or No.
func TriOf(b bool) Tri {
	if b {
		return Yes
	}
	return No
}

// KPROn reports whether a kube-proxy-replacement value turns the
// replacement on: "true", or "strict" (before v1.16, and in the v1.13
// rollout docs). Case and white space are ignored, as the agent's status
// prints "True"/"Strict".
func KPROn(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "strict":
		return true
	}
	return false
}

// MigrationLabelled reports whether a MigrationLabel value marks the node
// as migrated: "true" (docs from v1.15), "strict" (v1.13 docs).
func MigrationLabelled(value string) bool {
	return value == "true" || value == "strict"
}

// RolloutFacts are the plain facts about one node that the documented
// KubeProxyReplacement rollout (per-node-config.rst, "Example:
// KubeProxyReplacement Rollout") ties together.
type RolloutFacts struct {
	// LabelValue is the node's MigrationLabel value ("" when absent).
	LabelValue string
	// RolloutCNCs are the CNCs ("NS/NAME") in the agent's namespace whose
	// nodeSelector reads MigrationLabel; CNCSelects whether one of them
	// selects this node.
	RolloutCNCs []string
	CNCSelects  bool
	// KPR and HealthzBind are the node's effective kube-proxy-replacement
	// and kube-proxy-replacement-healthz-bind-address (Resolve), with
	// their origins (Origin.String()).
	KPR, KPROrigin             string
	HealthzBind, HealthzOrigin string
	// AgentKPR is the KPR mode the node's running agent reports ("":
	// unknown).
	AgentKPR string
	// KubeProxyDaemonSet: kube-proxy's DaemonSet exists; KubeProxyExcluded:
	// its required nodeAffinity keeps it off this node (not AffinityAllows).
	KubeProxyDaemonSet Tri
	KubeProxyExcluded  Tri
	// KubeProxyPod: a kube-proxy pod runs on the node; KubeRules: the node
	// has kube-proxy's KUBE-* rules (iptables, nftables or IPVS).
	KubeProxyPod Tri
	KubeRules    Tri
}

// Rollout parts, as named in Part.
const (
	PartLabel         = "label"
	PartConfig        = "CiliumNodeConfig"
	PartHealthz       = "healthz"
	PartAgent         = "agent"
	PartKubeProxyDS   = "kube-proxy affinity"
	PartKubeProxyPod  = "kube-proxy pod"
	PartKubeProxyRule = "KUBE-* rules"
)

// Part is one part of the rollout on a node and whether it agrees.
type Part struct {
	Part   string
	OK     bool
	Detail string
}

// Rollout is the judgement of one node.
type Rollout struct {
	// InRollout: the node is labelled, selected by a rollout CNC, or kept
	// off by kube-proxy's rollout affinity.
	InRollout bool
	// Parts are the parts that could be judged (unknown facts are left
	// out), in the docs' order; Unchecked names the parts left out.
	Parts     []Part
	Unchecked []string
}

// Disagreements are the parts that disagree (kpr-rollout-inconsistent).
func (r Rollout) Disagreements() []Part {
	var out []Part
	for _, p := range r.Parts {
		if !p.OK {
			out = append(out, p)
		}
	}
	return out
}

// Finished: in the rollout, and every known part agrees.
func (r Rollout) Finished() bool {
	return r.InRollout && len(r.Disagreements()) == 0
}

// JudgeRollout says whether the node is in the documented rollout and
// which parts disagree. A finished node is labelled, runs the replacement
// per its effective configuration, its agent runs it, kube-proxy is kept
// off (or gone) and has left no KUBE-* rules.
func JudgeRollout(f RolloutFacts) Rollout {
	labelled := MigrationLabelled(f.LabelValue)
	r := Rollout{InRollout: labelled || f.CNCSelects || f.KubeProxyExcluded == Yes}
	if !r.InRollout {
		return r
	}
	add := func(part string, ok bool, detail string) {
		r.Parts = append(r.Parts, Part{Part: part, OK: ok, Detail: detail})
	}

	if labelled {
		add(PartLabel, true, MigrationLabel+"="+f.LabelValue)
	} else {
		why := "selected by a rollout CiliumNodeConfig"
		if !f.CNCSelects {
			why = "kept off by kube-proxy's nodeAffinity"
		}
		add(PartLabel, false, fmt.Sprintf("not labelled %s=true, but %s", MigrationLabel, why))
	}

	switch {
	case KPROn(f.KPR):
		add(PartConfig, true, fmt.Sprintf("kube-proxy-replacement=%s from %s", f.KPR, f.KPROrigin))
	case len(f.RolloutCNCs) == 0:
		add(PartConfig, false, fmt.Sprintf("no CiliumNodeConfig selects %s, and kube-proxy-replacement is %q from %s", MigrationLabel, f.KPR, origin(f.KPROrigin)))
	case !f.CNCSelects:
		add(PartConfig, false, fmt.Sprintf("CiliumNodeConfig %s does not select the node; kube-proxy-replacement is %q from %s", strings.Join(f.RolloutCNCs, ", "), f.KPR, origin(f.KPROrigin)))
	default:
		add(PartConfig, false, fmt.Sprintf("CiliumNodeConfig %s selects the node, but its effective kube-proxy-replacement is %q from %s", strings.Join(f.RolloutCNCs, ", "), f.KPR, origin(f.KPROrigin)))
	}

	if KPROn(f.KPR) {
		switch p := BindProblem(f.HealthzBind); {
		case f.HealthzBind == "":
			add(PartHealthz, false, "kube-proxy-replacement-healthz-bind-address is not set: nothing answers kube-proxy's :10256 health checks once kube-proxy is gone")
		case p != "":
			add(PartHealthz, false, fmt.Sprintf("kube-proxy-replacement-healthz-bind-address from %s %s", origin(f.HealthzOrigin), p))
		default:
			add(PartHealthz, true, fmt.Sprintf("kube-proxy-replacement-healthz-bind-address=%s from %s", f.HealthzBind, origin(f.HealthzOrigin)))
		}
	}

	if f.AgentKPR == "" {
		r.Unchecked = append(r.Unchecked, PartAgent)
	} else {
		if KPROn(f.AgentKPR) {
			add(PartAgent, true, "the agent runs kube-proxy-replacement="+f.AgentKPR)
		} else {
			add(PartAgent, false, fmt.Sprintf("the agent still runs kube-proxy-replacement=%s: its pod was not re-created since the node's configuration changed", f.AgentKPR))
		}
	}

	switch {
	case f.KubeProxyDaemonSet == No:
		add(PartKubeProxyDS, true, "kube-proxy's DaemonSet is gone")
	case f.KubeProxyExcluded == Yes:
		add(PartKubeProxyDS, true, "kube-proxy's nodeAffinity keeps it off the node")
	case f.KubeProxyExcluded == No:
		add(PartKubeProxyDS, false, fmt.Sprintf("kube-proxy's DaemonSet still schedules on the node (no nodeAffinity %s NotIn [\"true\"])", MigrationLabel))
	default:
		r.Unchecked = append(r.Unchecked, PartKubeProxyDS)
	}

	switch f.KubeProxyPod {
	case Yes:
		add(PartKubeProxyPod, false, "a kube-proxy pod still runs on the node")
	case No:
		add(PartKubeProxyPod, true, "no kube-proxy pod on the node")
	default:
		r.Unchecked = append(r.Unchecked, PartKubeProxyPod)
	}

	switch {
	case f.KubeRules == No:
		add(PartKubeProxyRule, true, "no KUBE-* rules on the node")
	case f.KubeRules == Yes && f.KubeProxyPod == No:
		add(PartKubeProxyRule, false, "KUBE-* rules left behind after kube-proxy left the node")
	case f.KubeRules == Unknown:
		r.Unchecked = append(r.Unchecked, PartKubeProxyRule)
	}
	return r
}

func origin(o string) string {
	if o == "" {
		return "nowhere (the agent's default)"
	}
	return o
}

// AgentHealthzHint is the agent's log line when it cannot listen on its
// KPR healthz address (daemon/cmd/kube_proxy_healthz.go v1.13–v1.17,
// daemon/healthz/kube_proxy_healthz.go v1.18 on).
const AgentHealthzHint = "hint: kube-proxy should not be running nor listening on the same healthz-bind-address."

// KubeProxyDefaultHealthz is kube-proxy's healthzBindAddress default
// (pkg/proxy/apis/config/v1alpha1/defaults.go; "[::]:10256" when its
// bindAddress is IPv6).
const KubeProxyDefaultHealthz = "0.0.0.0:10256"

// BindProblem says why the agent cannot listen on a KPR healthz bind
// address ("" when it can, or when it is empty: no server). Quotes inside
// the value — "'0.0.0.0:10256'", as the per-node-config docs write it from
// v1.18 — reach net.Listen as they are.
func BindProblem(addr string) string {
	if addr == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("is %q, which the agent cannot listen on (%v)", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		msg := fmt.Sprintf("is %q, which the agent cannot listen on (lookup tcp/%s: unknown port)", addr, port)
		if strings.ContainsAny(addr, `'"`) {
			msg += ": the quotes are part of the value (Cilium's per-node-config docs from v1.18 write \"'0.0.0.0:10256'\")"
		}
		return msg + "; the agent logs " + strconv.Quote(AgentHealthzHint)
	}
	if strings.ContainsAny(host, `'"`) {
		return fmt.Sprintf("is %q, which the agent cannot listen on: the quotes are part of the value", addr)
	}
	return ""
}

// HealthzFacts are the plain facts about one node for healthz-port-clash.
type HealthzFacts struct {
	// Release is the agent's Cilium version ("" unknown).
	Release string
	// KPR is the agent's kube-proxy-replacement ("" = the release's
	// default), CiliumBind its kube-proxy-replacement-healthz-bind-address
	// ("" = no server).
	KPR, CiliumBind string
	// KubeProxy: kube-proxy runs on the node; KubeProxyBind its healthz bind
	// address ("" = KubeProxyDefaultHealthz).
	KubeProxy     Tri
	KubeProxyBind string
}

// Healthz is the healthz-port-clash judgement.
type Healthz struct {
	// Serves: the agent starts its KPR healthz server.
	Serves bool
	// Clash: kube-proxy and that server bind overlapping addresses on one
	// port, so whichever binds second fails.
	Clash bool
	// Address is Cilium's bind address when Clash.
	Address string
	// Outcome is what the agent does when it binds second.
	Outcome string
}

// CheckHealthz decides healthz-port-clash. The server starts when the bind
// address is set and KPR is not "disabled" (before v1.16, default
// "partial" or "false" — both start it) / not "false" (v1.16 on, default
// "false"). Two TCP listeners on one port clash when either address is a
// wildcard or both are the same IP: Go listens on "0.0.0.0" and "[::]"
// dual-stack, Cilium sets SO_REUSEPORT and kube-proxy does not (checked
// with Go listeners on Linux: 0.0.0.0/[::]/127.0.0.1/[::1] pairs).
func CheckHealthz(f HealthzFacts) Healthz {
	r := releaseOf(f.Release)
	kpr := strings.ToLower(strings.TrimSpace(f.KPR))
	var h Healthz
	if r.before(1, 16) {
		h.Serves = f.CiliumBind != "" && kpr != "disabled"
	} else {
		h.Serves = f.CiliumBind != "" && kpr != "" && kpr != "false" && kpr != "disabled"
	}
	if !h.Serves || f.KubeProxy != Yes || BindProblem(f.CiliumBind) != "" {
		return h
	}
	kp := f.KubeProxyBind
	if kp == "" {
		kp = KubeProxyDefaultHealthz
	}
	if !bindsOverlap(kp, f.CiliumBind) {
		return h
	}
	h.Clash, h.Address = true, f.CiliumBind
	if r.healthzFatal() {
		h.Outcome = fmt.Sprintf("the agent exits (fatal) with %q", AgentHealthzHint)
	} else {
		h.Outcome = fmt.Sprintf("the agent logs %q and its kube-proxy-healthz-server job fails (\"failed to start kubeproxy healthz server: ... address already in use\"); it keeps running and still reports itself healthy (measured on a real 1.20.2 agent: \"Cilium: Ok\", pod Ready, no health entry for that job), so only its log shows that kube-proxy's :10256 health checks are not Cilium's", AgentHealthzHint)
	}
	h.Outcome += "; if the agent bound first, kube-proxy logs \"Healthz server failed\" and retries every 5 s"
	return h
}

// bindsOverlap reports whether two host:port listeners clash. kube-proxy
// takes a bare IP as IP:10256 (AppendPortIfNeeded). A host name is taken
// as not clashing (unknown).
func bindsOverlap(a, b string) bool {
	ha, pa, ok1 := splitBind(a)
	hb, pb, ok2 := splitBind(b)
	if !ok1 || !ok2 || pa != pb {
		return false
	}
	if !ha.IsValid() || !hb.IsValid() {
		return false
	}
	if ha.IsUnspecified() || hb.IsUnspecified() {
		return true
	}
	return ha.Unmap() == hb.Unmap()
}

func splitBind(addr string) (netip.Addr, string, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = strings.Trim(addr, "[]"), "10256"
	}
	if host == "" {
		return netip.IPv4Unspecified(), port, true
	}
	if p, err := netip.ParsePrefix(host); err == nil && p.Bits() == 0 {
		return p.Addr(), port, true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, port, false
	}
	return ip, port, true
}

// RolloutCNCs finds the CNCs whose nodeSelector reads MigrationLabel
// ("NS/NAME", each once, in name order) and whether one of them with
// non-empty defaults selects the node.
func RolloutCNCs(cncs []CNC, node Node) (refs []string, selects bool) {
	for _, c := range cncs {
		if !slices.Contains(c.NodeSelector.Keys(), MigrationLabel) {
			continue
		}
		if !slices.Contains(refs, c.Ref()) {
			refs = append(refs, c.Ref())
		}
		if len(c.Defaults) > 0 && c.NodeSelector.Matches(node.Labels) {
			selects = true
		}
	}
	slices.Sort(refs)
	return refs, selects
}
