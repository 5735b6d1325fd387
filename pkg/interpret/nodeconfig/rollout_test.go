package nodeconfig

import (
	"strings"
	"testing"
)

// The rollout states follow the steps of Cilium's docs
// (Documentation/configuration/per-node-config.rst, "Example:
// KubeProxyReplacement Rollout"): kube-proxy affinity patch, CNC, label,
// delete the agent pod.
func TestJudgeRollout(t *testing.T) {
	const cncRef = "kube-system/kube-proxy-replacement"
	const fromCNC = "CiliumNodeConfig " + cncRef
	finished := RolloutFacts{
		LabelValue: "true", RolloutCNCs: []string{cncRef}, CNCSelects: true,
		KPR: "true", KPROrigin: fromCNC, HealthzBind: "0.0.0.0:10256", HealthzOrigin: fromCNC,
		AgentKPR: "True", KubeProxyDaemonSet: Yes, KubeProxyExcluded: Yes, KubeProxyPod: No, KubeRules: No,
	}
	with := func(f func(*RolloutFacts)) RolloutFacts {
		r := finished
		f(&r)
		return r
	}
	for _, tc := range []struct {
		name     string
		facts    RolloutFacts
		in       bool
		disagree []string // parts, in order
		detail   string   // in the first disagreement
	}{
		{"finished", finished, true, nil, ""},
		{"finished, v1.13 docs (strict)", with(func(r *RolloutFacts) { r.LabelValue, r.KPR, r.AgentKPR = "strict", "strict", "Strict" }), true, nil, ""},
		{"finished and cleaned up: KPR in cilium-config, CNC and DaemonSet gone",
			with(func(r *RolloutFacts) {
				r.RolloutCNCs, r.CNCSelects, r.KPROrigin, r.HealthzOrigin, r.KubeProxyDaemonSet, r.KubeProxyExcluded = nil, false, "cilium-config", "cilium-config", No, Unknown
			}), true, nil, ""},
		{"not in the rollout", RolloutFacts{RolloutCNCs: []string{cncRef}, KPR: "false", KubeProxyExcluded: No, KubeProxyPod: Yes, KubeRules: Yes}, false, nil, ""},
		{"label value false is not migrated", RolloutFacts{LabelValue: "false", KubeProxyExcluded: No}, false, nil, ""},
		{"half done: agent pod not re-created, kube-proxy gone, rules left behind",
			with(func(r *RolloutFacts) { r.AgentKPR, r.KubeRules = "False", Yes }), true,
			[]string{PartAgent, PartKubeProxyRule}, "not re-created"},
		{"labelled, but kube-proxy still scheduled there",
			with(func(r *RolloutFacts) { r.KubeProxyExcluded, r.KubeProxyPod, r.KubeRules = No, Yes, Yes }), true,
			[]string{PartKubeProxyDS, PartKubeProxyPod}, "still schedules on the node"},
		{"labelled, no CNC",
			with(func(r *RolloutFacts) {
				r.RolloutCNCs, r.CNCSelects, r.KPR, r.KPROrigin, r.HealthzBind, r.AgentKPR = nil, false, "false", "cilium-config", "", ""
			}), true, []string{PartConfig}, "no CiliumNodeConfig selects"},
		{"CNC overridden by a later CNC",
			with(func(r *RolloutFacts) {
				r.KPR, r.KPROrigin, r.AgentKPR = "false", "CiliumNodeConfig kube-system/zz-off", ""
			}), true,
			[]string{PartConfig}, "selects the node, but its effective kube-proxy-replacement is \"false\" from CiliumNodeConfig kube-system/zz-off"},
		{"CNC does not select the labelled node",
			with(func(r *RolloutFacts) { r.CNCSelects, r.KPR, r.KPROrigin, r.AgentKPR = false, "", "", "" }), true,
			[]string{PartConfig}, "does not select the node; kube-proxy-replacement is \"\" from nowhere"},
		{"kept off by kube-proxy's affinity but not labelled",
			RolloutFacts{KubeProxyExcluded: Yes, KPR: "false", KPROrigin: "cilium-config", KubeProxyPod: No, KubeRules: Yes}, true,
			[]string{PartLabel, PartConfig, PartKubeProxyRule}, "kept off by kube-proxy's nodeAffinity"},
		{"selected by a CNC without the label",
			RolloutFacts{RolloutCNCs: []string{cncRef}, CNCSelects: true, KPR: "true", KPROrigin: fromCNC, HealthzBind: "0.0.0.0:10256"}, true,
			[]string{PartLabel}, "selected by a rollout CiliumNodeConfig"},
		{"healthz missing", with(func(r *RolloutFacts) { r.HealthzBind = "" }), true, []string{PartHealthz}, "not set"},
		{"healthz quoted as in the v1.18 docs", with(func(r *RolloutFacts) { r.HealthzBind = "'0.0.0.0:10256'" }), true,
			[]string{PartHealthz}, "the quotes are part of the value"},
		{"unknown facts are not judged",
			RolloutFacts{LabelValue: "true", RolloutCNCs: []string{cncRef}, CNCSelects: true, KPR: "true", KPROrigin: fromCNC, HealthzBind: "0.0.0.0:10256"}, true, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := JudgeRollout(tc.facts)
			if r.InRollout != tc.in {
				t.Fatalf("InRollout = %v, want %v", r.InRollout, tc.in)
			}
			var parts []string
			for _, p := range r.Disagreements() {
				parts = append(parts, p.Part)
			}
			if strings.Join(parts, ",") != strings.Join(tc.disagree, ",") {
				t.Errorf("disagreements = %v, want %v (%+v)", parts, tc.disagree, r.Parts)
			}
			if tc.detail != "" && (len(r.Disagreements()) == 0 || !strings.Contains(r.Disagreements()[0].Detail, tc.detail)) {
				t.Errorf("detail = %+v, want %q", r.Disagreements(), tc.detail)
			}
			if r.Finished() != (tc.in && len(tc.disagree) == 0) {
				t.Errorf("Finished = %v", r.Finished())
			}
		})
	}
}

func TestRolloutCNCs(t *testing.T) {
	node := Node{Name: "n1", Labels: map[string]string{MigrationLabel: "true"}}
	doc := cnc("kube-system", "kube-proxy-replacement", APIVersionV2, sel(map[string]string{MigrationLabel: "true"}), map[string]string{KeyKPR: "true"})
	docAlpha := doc
	docAlpha.APIVersion = APIVersionV2Alpha1
	empty := cnc("kube-system", "empty", APIVersionV2, sel(nil, Requirement{Key: MigrationLabel, Operator: "Exists"}), nil)
	other := cnc("kube-system", "xdp", APIVersionV2, sel(map[string]string{"io.cilium.xdp-offload": "true"}), map[string]string{"bpf-lb-acceleration": "native"})
	refs, selects := RolloutCNCs([]CNC{doc, docAlpha, empty, other}, node)
	if strings.Join(refs, ",") != "kube-system/empty,kube-system/kube-proxy-replacement" || !selects {
		t.Errorf("refs %v selects %v", refs, selects)
	}
	if _, selects := RolloutCNCs([]CNC{doc}, Node{Name: "n2"}); selects {
		t.Error("selects an unlabelled node")
	}
	if _, selects := RolloutCNCs([]CNC{empty}, node); selects {
		t.Error("a CNC without defaults selects")
	}
}

func TestKPROn(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "True": true, " strict\n": true, "Strict": true, "false": false, "partial": false, "probe": false, "disabled": false, "": false} {
		if KPROn(v) != want {
			t.Errorf("KPROn(%q) != %v", v, want)
		}
	}
}

func TestBindProblem(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"", ""},
		{"0.0.0.0:10256", ""},
		{"[::]:10256", ""},
		{":10256", ""},
		{"localhost:10256", ""},
		{"'0.0.0.0:10256'", "lookup tcp/10256': unknown port"},
		{`"0.0.0.0:10256"`, "the quotes are part of the value"},
		{"'0.0.0.0':10256", "the quotes are part of the value"},
		{"0.0.0.0", "cannot listen on"},
		{"0.0.0.0:http-alt", "unknown port"},
	} {
		got := BindProblem(tc.addr)
		if (got == "") != (tc.want == "") || !strings.Contains(got, tc.want) {
			t.Errorf("BindProblem(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestCheckHealthz(t *testing.T) {
	for _, tc := range []struct {
		name    string
		f       HealthzFacts
		serves  bool
		clash   bool
		outcome string
	}{
		{"documented CNC with kube-proxy still running (v1.18 on: keeps running, reports healthy)",
			HealthzFacts{Release: "1.18.8", KPR: "true", CiliumBind: "0.0.0.0:10256", KubeProxy: Yes}, true, true, "keeps running and still reports itself healthy"},
		{"v1.17: the agent exits",
			HealthzFacts{Release: "1.17.0", KPR: "true", CiliumBind: "0.0.0.0:10256", KubeProxy: Yes}, true, true, "exits (fatal)"},
		{"unknown release: as v1.18",
			HealthzFacts{KPR: "true", CiliumBind: "0.0.0.0:10256", KubeProxy: Yes}, true, true, "reports itself healthy"},
		{"kube-proxy gone", HealthzFacts{Release: "1.18.8", KPR: "true", CiliumBind: "0.0.0.0:10256", KubeProxy: No}, true, false, ""},
		{"kube-proxy unknown", HealthzFacts{Release: "1.18.8", KPR: "true", CiliumBind: "0.0.0.0:10256"}, true, false, ""},
		{"KPR false (v1.16 on): no server", HealthzFacts{Release: "1.16.0", KPR: "false", CiliumBind: "0.0.0.0:10256", KubeProxy: Yes}, false, false, ""},
		{"KPR unset (v1.16 on, default false): no server", HealthzFacts{Release: "1.18.8", CiliumBind: "0.0.0.0:10256", KubeProxy: Yes}, false, false, ""},
		{"v1.15 KPR false still starts it (only disabled stops it)", HealthzFacts{Release: "1.15.0", KPR: "false", CiliumBind: "0.0.0.0:10256", KubeProxy: Yes}, true, true, "exits"},
		{"v1.13 partial", HealthzFacts{Release: "1.13.0", KPR: "partial", CiliumBind: "[::]:10256", KubeProxy: Yes}, true, true, "exits"},
		{"v1.13 disabled", HealthzFacts{Release: "1.13.0", KPR: "disabled", CiliumBind: "0.0.0.0:10256", KubeProxy: Yes}, false, false, ""},
		{"no bind address", HealthzFacts{Release: "1.18.8", KPR: "true", KubeProxy: Yes}, false, false, ""},
		{"other port", HealthzFacts{Release: "1.18.8", KPR: "true", CiliumBind: "0.0.0.0:10257", KubeProxy: Yes}, true, false, ""},
		{"different IPs", HealthzFacts{Release: "1.18.8", KPR: "true", CiliumBind: "127.0.0.2:10256", KubeProxy: Yes, KubeProxyBind: "127.0.0.1:10256"}, true, false, ""},
		{"same IP", HealthzFacts{Release: "1.18.8", KPR: "true", CiliumBind: "127.0.0.1:10256", KubeProxy: Yes, KubeProxyBind: "127.0.0.1:10256"}, true, true, "reports itself healthy"},
		{"IPv6 wildcard vs IPv4 specific", HealthzFacts{Release: "1.18.8", KPR: "true", CiliumBind: "10.0.0.1:10256", KubeProxy: Yes, KubeProxyBind: "[::]:10256"}, true, true, "reports itself healthy"},
		{"IPv4 vs IPv6 specific", HealthzFacts{Release: "1.18.8", KPR: "true", CiliumBind: "[::1]:10256", KubeProxy: Yes, KubeProxyBind: "127.0.0.1:10256"}, true, false, ""},
		{"kube-proxy bare IP gets :10256", HealthzFacts{Release: "1.18.8", KPR: "true", CiliumBind: "0.0.0.0:10256", KubeProxy: Yes, KubeProxyBind: "10.0.0.1"}, true, true, "reports itself healthy"},
		{"kube-proxy CIDR-style wildcard", HealthzFacts{Release: "1.18.8", KPR: "true", CiliumBind: "10.0.0.1:10256", KubeProxy: Yes, KubeProxyBind: "0.0.0.0/0"}, true, true, "reports itself healthy"},
		{"host name: not judged", HealthzFacts{Release: "1.18.8", KPR: "true", CiliumBind: "localhost:10256", KubeProxy: Yes}, true, false, ""},
		{"Cilium side empty host is a wildcard", HealthzFacts{Release: "1.18.8", KPR: "true", CiliumBind: ":10256", KubeProxy: Yes, KubeProxyBind: "10.0.0.1:10256"}, true, true, "reports itself healthy"},
		{"quoted bind: a bind problem, not a clash", HealthzFacts{Release: "1.18.8", KPR: "true", CiliumBind: "'0.0.0.0:10256'", KubeProxy: Yes}, true, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := CheckHealthz(tc.f)
			if h.Serves != tc.serves || h.Clash != tc.clash {
				t.Fatalf("serves %v clash %v, want %v %v", h.Serves, h.Clash, tc.serves, tc.clash)
			}
			if tc.clash {
				if !strings.Contains(h.Outcome, AgentHealthzHint) || !strings.Contains(h.Outcome, tc.outcome) || h.Address != tc.f.CiliumBind {
					t.Errorf("outcome = %q", h.Outcome)
				}
			}
		})
	}
	if TriOf(true) != Yes || TriOf(false) != No {
		t.Error("TriOf")
	}
}
