package nodeconfig

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// KPRKeys are the configuration keys that decide how a node's agent
// handles Services, in the order kpr shows them. Only those set somewhere
// (the effective configuration or the agent's config dir) are shown.
var KPRKeys = []string{
	KeyKPR,
	KeyKPRHealthzBind,
	"bpf-lb-sock",
	"bpf-lb-sock-hostns-only",
	"enable-node-port",
	"enable-host-port",
	"enable-external-ips",
	"enable-health-check-nodeport",
	"enable-session-affinity",
	"node-port-range",
	"bpf-lb-mode",
	"bpf-lb-algorithm",
	"bpf-lb-acceleration",
	"devices",
	"direct-routing-device",
}

// Warning codes given by Judge; stable, for scripts.
const (
	CodeNotApplied          = "node-config-not-applied"
	CodeIgnored             = "node-config-ignored"
	CodeRolloutInconsistent = "kpr-rollout-inconsistent"
	CodeHealthzPortClash    = "healthz-port-clash"
)

// How a key's value was found (KeyView.Found).
const (
	FoundAgent    = "agent"    // the agent container's config dir
	FoundComputed = "computed" // kpr resolved the API objects as build-config does
)

// NodeFacts is everything kpr knows about one node's per-node
// configuration. Zero values are "unknown" where a Tri is not used.
type NodeFacts struct {
	Node Node
	// Effective is ResolveNode's result for the node (computed).
	Effective Effective
	// DaemonSet ("NS/NAME") and Setup are the node's agent DaemonSet and
	// how it gets per-node configuration; HasSetup false when none was found.
	DaemonSet string
	Setup     Setup
	HasSetup  bool
	// CNCs are every CiliumNodeConfig kpr read (both versions).
	CNCs []CNC
	// HasAgent: an agent pod runs on the node. ConfigBuiltAt is when its
	// configuration was built: the config init container's finish, else
	// the pod's creation (zero: unknown).
	HasAgent      bool
	ConfigBuiltAt time.Time
	ConfigBuiltBy string // what ConfigBuiltAt is ("init container config finished", "pod created")
	// Running is the agent container's config dir (nil: not read);
	// RunningNote says why it was not read.
	Running     map[string]string
	RunningNote string
	// AgentKPR is the KPR mode the agent reports ("" unknown), Release
	// its version.
	AgentKPR string
	Release  string
	// KubeProxyDaemonSet / KubeProxyExcluded / KubeProxyPod / KubeRules:
	// see RolloutFacts. KubeProxyHealthz is kube-proxy's healthz bind
	// address ("" its default).
	KubeProxyDaemonSet Tri
	KubeProxyExcluded  Tri
	KubeProxyPod       Tri
	KubeRules          Tri
	KubeProxyHealthz   string
}

// KeyView is one KPR-related key as kpr shows it.
type KeyView struct {
	Key string
	// Value is what the agent runs with: its config dir when read
	// (Found=FoundAgent), else the computed effective value.
	Value  string
	Origin string
	Found  string
	// Configured and ConfiguredOrigin are set when the API objects now
	// give another value than Value (a change the agent has not applied,
	// or one kpr cannot explain).
	Configured       string
	ConfiguredOrigin string
	HasConfigured    bool
}

// Finding is a warning of Judge.
type Finding struct {
	Code    string
	Message string
}

// View is the judgement of one node.
type View struct {
	Keys []KeyView
	// ReadFrom is FoundAgent when the agent's config dir was read, else
	// FoundComputed; ReadNote says why it was not read.
	ReadFrom string
	ReadNote string
	// Sources is config-sources: from the agent's config dir when read,
	// else what build-config would record.
	Sources []string
	// KPR / KPROrigin: the kube-proxy-replacement the node is configured
	// with (the agent's config dir, else computed), for
	// config-kpr-agent-disabled.
	KPR, KPROrigin string
	Rollout        Rollout
	Findings       []Finding
	// Err: build-config fails on this node (Effective.Err).
	Err string
}

// Judge builds the node's view and its warnings: node-config-not-applied,
// node-config-ignored, kpr-rollout-inconsistent and healthz-port-clash.
func Judge(f NodeFacts) View {
	v := View{ReadFrom: FoundComputed, ReadNote: f.RunningNote}
	eff := f.Effective
	if eff.Err != nil {
		v.Err = eff.Err.Error()
	}
	if f.Running != nil {
		v.ReadFrom, v.ReadNote = FoundAgent, ""
	}
	v.Sources = sourceStrings(f, eff)
	v.Keys = keyViews(f, eff)
	for _, k := range v.Keys {
		if k.Key == KeyKPR {
			v.KPR, v.KPROrigin = k.Value, k.Origin
			if k.Found == FoundAgent && strings.HasPrefix(k.Origin, "unknown") {
				// Messages read "<origin> sets kube-proxy-replacement=...".
				v.KPROrigin = "the agent's config dir"
			}
		}
	}
	if v.KPR == "" && f.Running == nil {
		if val, o, ok := eff.Get(KeyKPR); ok {
			v.KPR, v.KPROrigin = val, o.String()
		}
	}
	add := func(code, format string, a ...any) {
		v.Findings = append(v.Findings, Finding{Code: code, Message: fmt.Sprintf(format, a...)})
	}

	// node-config-not-applied: a per-node setting newer than the agent's
	// configuration.
	if f.HasAgent && !f.ConfigBuiltAt.IsZero() {
		for _, c := range NotApplied(eff.Changes(), f.ConfigBuiltAt) {
			prev := "unset"
			if c.HadPrevious {
				prev = fmt.Sprintf("%q", c.Previous)
			}
			add(CodeNotApplied, "%s sets %s=%q (was %s) since %s, after the agent's configuration was built (%s %s): not in effect until the agent pod is re-created",
				c.Origin.String(), c.Key, c.Value, prev, stamp(c.At), f.ConfigBuiltBy, stamp(f.ConfigBuiltAt))
		}
	}

	// node-config-ignored: per-node objects select the node, but its
	// agent's DaemonSet does not read them.
	if f.HasSetup {
		if why := f.Setup.IgnoresNodeConfigs(); why != "" {
			if refs := selectingCNCs(f.CNCs, f.Node); len(refs) > 0 {
				add(CodeIgnored, "CiliumNodeConfig %s selects this node, but DaemonSet %s ignores it: %s", strings.Join(refs, ", "), f.DaemonSet, why)
			}
		}
		if why := f.Setup.IgnoresNodeKeys(); why != "" {
			if keys := nodeConfigKeys(f.Node); len(keys) > 0 {
				add(CodeIgnored, "node %s %s, but DaemonSet %s ignores them: %s", plural(len(keys), "key", "keys"), strings.Join(keys, ", "), f.DaemonSet, why)
			}
		}
	}

	// kpr-rollout-inconsistent.
	refs, selects := RolloutCNCs(f.CNCs, f.Node)
	rf := RolloutFacts{
		LabelValue: f.Node.Labels[MigrationLabel], RolloutCNCs: refs, CNCSelects: selects,
		KPR: v.KPR, KPROrigin: v.KPROrigin, AgentKPR: f.AgentKPR,
		KubeProxyDaemonSet: f.KubeProxyDaemonSet, KubeProxyExcluded: f.KubeProxyExcluded,
		KubeProxyPod: f.KubeProxyPod, KubeRules: f.KubeRules,
	}
	for _, k := range v.Keys {
		if k.Key == KeyKPRHealthzBind {
			rf.HealthzBind, rf.HealthzOrigin = k.Value, k.Origin
		}
	}
	v.Rollout = JudgeRollout(rf)
	if d := v.Rollout.Disagreements(); len(d) > 0 {
		parts := make([]string, len(d))
		for i, p := range d {
			parts[i] = p.Part + ": " + p.Detail
		}
		add(CodeRolloutInconsistent, "in the documented KPR rollout (%s), but %s", rolloutWhy(f.Node, selects), strings.Join(parts, "; "))
	}

	// healthz-port-clash.
	if f.HasAgent {
		h := CheckHealthz(HealthzFacts{Release: f.Release, KPR: v.KPR, CiliumBind: rf.HealthzBind,
			KubeProxy: f.KubeProxyPod, KubeProxyBind: f.KubeProxyHealthz})
		if h.Clash {
			kp := f.KubeProxyHealthz
			if kp == "" {
				kp = KubeProxyDefaultHealthz
			}
			add(CodeHealthzPortClash, "kube-proxy (healthz %s) and Cilium's KPR healthz (%s, from %s) bind the same port on this node: %s",
				kp, h.Address, origin(rf.HealthzOrigin), h.Outcome)
		}
	}
	return v
}

func rolloutWhy(n Node, selects bool) string {
	if MigrationLabelled(n.Labels[MigrationLabel]) {
		return MigrationLabel + "=" + n.Labels[MigrationLabel]
	}
	if selects {
		return "selected by a rollout CiliumNodeConfig"
	}
	return "kept off by kube-proxy's rollout nodeAffinity"
}

func keyViews(f NodeFacts, eff Effective) []KeyView {
	var out []KeyView
	for _, k := range KPRKeys {
		val, inE := eff.Values[k]
		run, inR := "", false
		if f.Running != nil {
			run, inR = f.Running[k]
		}
		if !inE && !inR {
			continue
		}
		kv := KeyView{Key: k}
		if f.Running == nil {
			kv.Value, kv.Origin, kv.Found = val.Value, val.Origin.String(), FoundComputed
			out = append(out, kv)
			continue
		}
		kv.Found = FoundAgent
		kv.Value = strings.TrimSpace(run)
		if !inR {
			kv.Value = ""
		}
		// The origin of the agent's value: the newest setting that gives
		// it (the effective one, or an earlier one a newer change hides).
		kv.Origin = "unknown: no source kpr reads gives this value"
		if !inR {
			kv.Origin = "unset in the agent's config dir"
		}
		for i := len(val.History) - 1; i >= 0 && inR; i-- {
			if strings.TrimSpace(val.History[i].Value) == kv.Value {
				kv.Origin = val.History[i].Origin.String()
				break
			}
		}
		if !inE || strings.TrimSpace(val.Value) != kv.Value {
			kv.HasConfigured = true
			if inE {
				kv.Configured, kv.ConfiguredOrigin = val.Value, val.Origin.String()
			} else {
				kv.ConfiguredOrigin = "unset by every source kpr reads"
			}
		}
		out = append(out, kv)
	}
	return out
}

func sourceStrings(f NodeFacts, eff Effective) []string {
	if f.Running != nil {
		if txt, ok := f.Running[KeyConfigSources]; ok {
			if srcs, err := ParseConfigSources(txt); err == nil {
				return sourceList(srcs)
			}
			return []string{strings.TrimSpace(txt)}
		}
		return nil
	}
	return sourceList(eff.Sources)
}

func sourceList(srcs []Source) []string {
	out := make([]string, 0, len(srcs))
	for _, s := range srcs {
		out = append(out, s.String())
	}
	return out
}

// selectingCNCs are the CNCs with defaults whose selector selects the
// node ("NS/NAME", each once, sorted).
func selectingCNCs(cncs []CNC, n Node) []string {
	var refs []string
	for _, c := range cncs {
		if len(c.Defaults) > 0 && c.NodeSelector.Matches(n.Labels) && !slices.Contains(refs, c.Ref()) {
			refs = append(refs, c.Ref())
		}
	}
	slices.Sort(refs)
	return refs
}

// nodeConfigKeys are the node's config.cilium.io/<key> labels and
// annotations.
func nodeConfigKeys(n Node) []string {
	var out []string
	for _, m := range []map[string]string{n.Labels, n.Annotations} {
		for k := range m {
			if strings.HasPrefix(k, ConfigPrefix) && !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return t.UTC().Format(time.RFC3339)
}
