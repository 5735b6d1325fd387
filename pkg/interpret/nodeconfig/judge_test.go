package nodeconfig

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// judgeLab is the lab's scenario in plain facts: cilium-config with KPR
// true, the documented rollout CNC, a late CNC and a node annotation.
type judgeLab struct {
	base   map[string]string
	cncs   []CNC
	agent  time.Time
	chart  Setup
	legacy Setup
}

func newJudgeLab() judgeLab {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	rollout := cnc("kube-system", "kube-proxy-replacement", APIVersionV2, sel(map[string]string{MigrationLabel: "true"}),
		map[string]string{KeyKPR: "true", KeyKPRHealthzBind: "0.0.0.0:10256"})
	rollout.CreationTime = t0.Add(-time.Hour)
	late := cnc("kube-system", "node-kpr-off-sock", APIVersionV2Alpha1, sel(map[string]string{"kubernetes.io/hostname": "node-kpr-off"}),
		map[string]string{"bpf-lb-sock-hostns-only": "false"})
	late.CreationTime = t0.Add(time.Hour)
	partial := cnc("kube-system", "node-partial-kpr", APIVersionV2, sel(map[string]string{"kubernetes.io/hostname": "node-partial"}),
		map[string]string{KeyKPR: "true"})
	partial.CreationTime = t0.Add(-time.Hour)
	chart := InspectDaemonSet([]Container{{Name: "config", Command: []string{"cilium-dbg", "build-config"},
		Args: []string{"--source=config-map:cilium-config,cilium-node-config:kube-system,node"}}},
		Container{Name: "cilium-agent", Command: []string{"cilium-agent"}, Args: []string{"--config-dir=/tmp/cilium/config-map"}})
	legacy := InspectDaemonSet(nil, Container{Name: "cilium-agent", Command: []string{"cilium-agent"}, Args: []string{"--config-dir=/tmp/cilium/config-map"}})
	return judgeLab{
		base:  map[string]string{KeyKPR: "true", KeyKPRHealthzBind: "", "bpf-lb-sock-hostns-only": "true"},
		cncs:  []CNC{rollout, late, partial},
		agent: t0, chart: chart, legacy: legacy,
	}
}

func (l judgeLab) facts(node Node, setup Setup) NodeFacts {
	if node.Labels == nil {
		node.Labels = map[string]string{}
	}
	node.Labels["kubernetes.io/hostname"] = node.Name
	bc := BuildConfig{Sources: []Source{{Kind: KindConfigMap, Namespace: "kube-system", Name: "cilium-config"}}, Release: "1.18.8"}
	if setup.IgnoresNodeConfigs() == "" {
		bc = setup.BuildConfig
		bc.Release = "1.18.8"
	}
	bc = bc.Fill("kube-system", node.Name)
	eff := ResolveWith(Inputs{ConfigMaps: []ConfigMap{{Namespace: "kube-system", Name: "cilium-config", Data: l.base}}, CNCs: l.cncs, Node: node}, bc)
	return NodeFacts{Node: node, Effective: eff, DaemonSet: "kube-system/cilium", Setup: setup, HasSetup: true, CNCs: l.cncs,
		HasAgent: true, ConfigBuiltAt: l.agent, ConfigBuiltBy: "its pod was created at", AgentKPR: "True", Release: "1.18.8",
		KubeProxyDaemonSet: Yes, KubeProxyExcluded: No, KubeProxyPod: No, KubeRules: Unknown}
}

func codes(v View) []string {
	var out []string
	for _, f := range v.Findings {
		out = append(out, f.Code)
	}
	return out
}

// TestJudgeEachWarningOnItsNode: each of the four warnings on exactly the
// node the lab builds for it, and none on the finished rollout.
func TestJudgeEachWarningOnItsNode(t *testing.T) {
	l := newJudgeLab()
	finished := l.facts(Node{Name: "node-cilium", Labels: map[string]string{MigrationLabel: "true"}}, l.chart)
	finished.KubeProxyExcluded, finished.KubeRules = Yes, No
	half := l.facts(Node{Name: "node-stale", Labels: map[string]string{MigrationLabel: "true"}}, l.chart)
	half.KubeProxyExcluded, half.KubeRules = Yes, Yes
	clash := l.facts(Node{Name: "node-both", Annotations: map[string]string{ConfigPrefix + "/" + KeyKPRHealthzBind: "0.0.0.0:10256"}}, l.chart)
	clash.Release, clash.KubeProxyPod = "1.20.2", Yes
	notApplied := l.facts(Node{Name: "node-kpr-off"}, l.chart)
	notApplied.AgentKPR = "False"
	ignored := l.facts(Node{Name: "node-partial"}, l.legacy)
	ignored.AgentKPR, ignored.KubeProxyPod = "Partial", Yes

	for _, c := range []struct {
		name string
		f    NodeFacts
		want []string
		msg  string
	}{
		{"finished rollout", finished, nil, ""},
		{"half-done rollout", half, []string{CodeRolloutInconsistent}, "KUBE-* rules left behind after kube-proxy left the node"},
		{"healthz clash", clash, []string{CodeHealthzPortClash}, "from node annotation"},
		{"late CNC", notApplied, []string{CodeNotApplied}, `CiliumNodeConfig kube-system/node-kpr-off-sock sets bpf-lb-sock-hostns-only="false" (was "true")`},
		{"legacy DaemonSet", ignored, []string{CodeIgnored}, "CiliumNodeConfig kube-system/node-partial-kpr selects this node, but DaemonSet kube-system/cilium ignores it: the agent DaemonSet has no init container"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := Judge(c.f)
			if got := codes(v); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("codes = %v, want %v (%+v)", got, c.want, v.Findings)
			}
			if c.msg != "" && !strings.Contains(v.Findings[0].Message, c.msg) {
				t.Errorf("message %q lacks %q", v.Findings[0].Message, c.msg)
			}
		})
	}

	// The finished rollout's KPR comes from the CNC; the late CNC's key is
	// the effective value but not what the agent was started with.
	v := Judge(finished)
	if v.KPR != "true" || v.KPROrigin != "CiliumNodeConfig kube-system/kube-proxy-replacement" || !v.Rollout.Finished() {
		t.Errorf("finished: KPR %q from %q, rollout %+v", v.KPR, v.KPROrigin, v.Rollout)
	}
	v = Judge(ignored)
	if v.KPROrigin != "cilium-config" {
		t.Errorf("ignored CNC still counted: KPR from %q", v.KPROrigin)
	}
}

// TestJudgeReadsTheAgentsConfigDir: the agent's files win over the
// computed value, each key keeps the origin of the setting that gives the
// agent's value, and a newer setting shows as configured.
func TestJudgeReadsTheAgentsConfigDir(t *testing.T) {
	l := newJudgeLab()
	f := l.facts(Node{Name: "node-kpr-off"}, l.chart)
	f.Running = map[string]string{KeyKPR: "true", "bpf-lb-sock-hostns-only": "true", KeyConfigSources: `[{"kind":"config-map","namespace":"kube-system","name":"cilium-config"},{"kind":"node","namespace":"","name":"node-kpr-off"}]`}
	v := Judge(f)
	if v.ReadFrom != FoundAgent {
		t.Fatalf("ReadFrom = %q", v.ReadFrom)
	}
	if want := []string{"config-map:kube-system/cilium-config", "node:/node-kpr-off"}; !reflect.DeepEqual(v.Sources, want) {
		t.Errorf("sources = %v, want %v", v.Sources, want)
	}
	byKey := map[string]KeyView{}
	for _, k := range v.Keys {
		byKey[k.Key] = k
	}
	sock := byKey["bpf-lb-sock-hostns-only"]
	if sock.Value != "true" || sock.Origin != "cilium-config" || !sock.HasConfigured || sock.Configured != "false" ||
		sock.ConfiguredOrigin != "CiliumNodeConfig kube-system/node-kpr-off-sock" || sock.Found != FoundAgent {
		t.Errorf("bpf-lb-sock-hostns-only = %+v", sock)
	}
	if hz := byKey[KeyKPRHealthzBind]; hz.Origin != "unset in the agent's config dir" || hz.HasConfigured {
		t.Errorf("healthz = %+v", hz)
	}

	// A value no source gives is said to be unknown, not pinned on one.
	f.Running[KeyKPR] = "false"
	v = Judge(f)
	if k := v.Keys[0]; k.Origin != "unknown: no source kpr reads gives this value" || k.Configured != "true" {
		t.Errorf("KPR = %+v", k)
	}
	if v.KPR != "false" || v.KPROrigin != "the agent's config dir" {
		t.Errorf("configured KPR %q from %q", v.KPR, v.KPROrigin)
	}
}

// TestJudgeNodeKeysIgnored: config.cilium.io keys on a node whose agent's
// build-config has no node source.
func TestJudgeNodeKeysIgnored(t *testing.T) {
	l := newJudgeLab()
	def := InspectDaemonSet([]Container{{Name: "config", Command: []string{"cilium-dbg", "build-config"}}},
		Container{Name: "cilium-agent", Args: []string{"--config-dir=/tmp/cilium/config-map"}})
	f := l.facts(Node{Name: "node-x", Labels: map[string]string{ConfigPrefix + "/enable-node-port": "false"}}, def)
	v := Judge(f)
	if got := codes(v); !reflect.DeepEqual(got, []string{CodeIgnored}) || !strings.Contains(v.Findings[0].Message, "no node source") {
		t.Errorf("findings = %+v", v.Findings)
	}
}

func TestParseConfigDir(t *testing.T) {
	out := "/tmp/cilium/config-map/kube-proxy-replacement:true\n" +
		"/tmp/cilium/config-map/devices:eth0 \n" +
		"/tmp/cilium/config-map/multi:a\n/tmp/cilium/config-map/multi:b\n" +
		"/tmp/cilium/config-map/..data/kube-proxy-replacement:true\n" +
		"/tmp/cilium/config-map/..2026_12_07/devices:eth0\n" +
		"grep: /tmp/cilium/config-map/x: Permission denied\n" +
		"/tmp/cilium/config-map/url:http://a:b\n"
	got := ParseConfigDir(out, "/tmp/cilium/config-map/")
	want := map[string]string{"kube-proxy-replacement": "true", "devices": "eth0", "multi": "a\nb", "url": "http://a:b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if cmd := ConfigDirCommand("/tmp/cilium/config-map/"); strings.Join(cmd, " ") != "grep -R -H  /tmp/cilium/config-map" {
		t.Errorf("command = %q", cmd)
	}
}
