package nodeconfig

import (
	"strings"
	"testing"
	"time"
)

// The DaemonSets are Cilium's chart (daemonset.yaml) at v1.18.8 and v1.19.0
// with daemon.configSources="config-map:cilium-config" (no init container,
// the ConfigMap mounted at /tmp/cilium/config-map), plus hand-made variants.
func TestInspectDaemonSet(t *testing.T) {
	agent := Container{Name: "cilium-agent", Command: []string{"cilium-agent"}, Args: []string{"--config-dir=/tmp/cilium/config-map"}}
	initCfg := func(args ...string) Container {
		return Container{Name: "config", Command: append([]string{"cilium-dbg", "build-config"}, args...)}
	}
	mount := Container{Name: "mount-cgroup", Command: []string{"sh", "-ec", "cp /usr/bin/cilium-mount /hostbin/cilium-mount"}}
	for _, tc := range []struct {
		name       string
		init       []Container
		agent      Container
		ignoresCNC string
		ignoresKey string
	}{
		{"chart v1.18.8 defaults", []Container{initCfg(), mount}, agent, "", "no node source"},
		{"chart with node source", []Container{initCfg("--source=config-map:cilium-config,cilium-node-config,node")}, agent, "", ""},
		{"chart v1.19 configSources=config-map:cilium-config", []Container{mount}, agent, "no init container", "no init container"},
		{"sources without CNCs", []Container{initCfg("--source=config-map:cilium-config,node")}, agent, "no cilium-node-config source", ""},
		{"agent without --config-dir", []Container{initCfg()}, Container{Command: []string{"cilium-agent"}, Args: []string{"--config=/etc/cilium.yaml"}}, "no --config-dir", "no --config-dir"},
		{"--config-dir as the next arg", []Container{initCfg()}, Container{Command: []string{"cilium-agent", "--config-dir", "/tmp/cilium/config-map/"}}, "", "no node source"},
		{"CILIUM_CONFIG_DIR env", []Container{initCfg()}, Container{Command: []string{"cilium-agent"}, Env: map[string]string{"CILIUM_CONFIG_DIR": "/tmp/cilium/config-map"}}, "", "no node source"},
		{"--config-dir in a shell script", []Container{initCfg()}, Container{Command: []string{"sh", "-c", "exec cilium-agent --config-dir=/tmp/cilium/config-map"}}, "", "no node source"},
		{"-- ends the agent flags", []Container{initCfg()}, Container{Command: []string{"cilium-agent", "--", "--config-dir=/x"}}, "no --config-dir", "no --config-dir"},
		{"dest elsewhere", []Container{initCfg("--dest=/tmp/other")}, agent, "but build-config writes to /tmp/other", "but build-config writes to /tmp/other"},
		{"init container fails", []Container{initCfg("--source=bogus")}, agent, "init container fails: unknown config source bogus", "init container fails"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := InspectDaemonSet(tc.init, tc.agent)
			check := func(what, got, want string) {
				if (got == "") != (want == "") || !strings.Contains(got, want) {
					t.Errorf("%s = %q, want %q", what, got, want)
				}
			}
			check("IgnoresNodeConfigs", s.IgnoresNodeConfigs(), tc.ignoresCNC)
			check("IgnoresNodeKeys", s.IgnoresNodeKeys(), tc.ignoresKey)
		})
	}
	if s := InspectDaemonSet([]Container{initCfg()}, agent); s.InitContainer != "config" || s.ConfigDir != DefaultDest {
		t.Errorf("setup = %+v", s)
	}
}

func TestChangesAndNotApplied(t *testing.T) {
	const ns = "kube-system"
	podStart := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	before, after := podStart.Add(-time.Hour), podStart.Add(time.Hour)
	base := map[string]string{KeyKPR: "false", KeyKPRHealthzBind: "", "debug": "false"}
	sources := []Source{{Kind: KindConfigMap, Name: DefaultConfigMap}, {Kind: KindNodeConfig, Namespace: ns}, {Kind: KindNode}}
	kprCNC := func(created, changed time.Time, value string) CNC {
		return CNC{Namespace: ns, Name: "kube-proxy-replacement", APIVersion: APIVersionV2, CreationTime: created, LastChange: changed,
			NodeSelector: sel(map[string]string{MigrationLabel: "true"}), Defaults: map[string]string{KeyKPR: value}}
	}
	labelled := func(at time.Time) Node {
		n := Node{Name: "n1", Labels: map[string]string{MigrationLabel: "true"}}
		if !at.IsZero() {
			n.ChangedAt = map[string]time.Time{MigrationLabel: at}
		}
		return n
	}
	for _, tc := range []struct {
		name       string
		cncs       []CNC
		node       Node
		keys       []string
		changes    int
		notApplied string // AtWhy of the one not-applied change, "" none
	}{
		{"CNC created after the pod", []CNC{kprCNC(after, time.Time{}, "true")}, labelled(time.Time{}), []string{KeyKPR}, 1, "CiliumNodeConfig kube-system/kube-proxy-replacement created"},
		{"CNC created before the pod", []CNC{kprCNC(before, time.Time{}, "true")}, labelled(time.Time{}), []string{KeyKPR}, 1, ""},
		{"CNC edited after the pod", []CNC{kprCNC(before, after, "true")}, labelled(time.Time{}), []string{KeyKPR}, 1, "CiliumNodeConfig kube-system/kube-proxy-replacement changed"},
		{"node labelled after the pod", []CNC{kprCNC(before, time.Time{}, "true")}, labelled(after), []string{KeyKPR}, 1, "node label " + MigrationLabel + " set"},
		{"node labelled before the pod", []CNC{kprCNC(before, time.Time{}, "true")}, labelled(before), []string{KeyKPR}, 1, ""},
		{"CNC repeats cilium-config's value: no change", []CNC{kprCNC(after, time.Time{}, "false")}, labelled(time.Time{}), []string{KeyKPR}, 0, ""},
		{"cilium-config only: no per-node change", nil, Node{Name: "n1"}, nil, 0, ""},
		{"node annotation set after the pod", nil,
			Node{Name: "n1", Annotations: map[string]string{"config.cilium.io/debug": "true"}, ChangedAt: map[string]time.Time{"config.cilium.io/debug": after}},
			[]string{"debug", "debug", "absent"}, 1, "node annotation config.cilium.io/debug set"},
		{"node annotation of unknown time", nil,
			Node{Name: "n1", Annotations: map[string]string{"config.cilium.io/new-key": "x"}}, nil, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eff := ResolveWith(Inputs{ConfigMaps: []ConfigMap{{Name: DefaultConfigMap, Data: base}}, CNCs: tc.cncs, Node: tc.node}, BuildConfig{Sources: sources})
			ch := eff.Changes(tc.keys...)
			if len(ch) != tc.changes {
				t.Fatalf("changes = %+v, want %d", ch, tc.changes)
			}
			na := NotApplied(ch, podStart)
			switch {
			case tc.notApplied == "" && len(na) != 0:
				t.Errorf("not applied = %+v, want none", na)
			case tc.notApplied != "" && (len(na) != 1 || na[0].AtWhy != tc.notApplied):
				t.Errorf("not applied = %+v, want %q", na, tc.notApplied)
			}
		})
	}
}

func TestChangeDetails(t *testing.T) {
	eff := Resolve(map[string]string{KeyKPR: "false"},
		[]CNC{cnc("kube-system", "kpr", APIVersionV2, &Selector{}, map[string]string{KeyKPR: "true", "new": "x"})},
		Node{Name: "n1"}, []Source{{Kind: KindConfigMap, Name: DefaultConfigMap}, {Kind: KindNodeConfig}})
	ch := eff.Changes()
	if len(ch) != 2 {
		t.Fatalf("changes = %+v", ch)
	}
	if c := ch[0]; c.Key != KeyKPR || c.Previous != "false" || !c.HadPrevious || c.Value != "true" || c.Origin.String() != "CiliumNodeConfig kube-system/kpr" {
		t.Errorf("KPR change = %+v", c)
	}
	if c := ch[1]; c.Key != "new" || c.HadPrevious {
		t.Errorf("new change = %+v", c)
	}
}

func TestCompare(t *testing.T) {
	eff := Resolve(map[string]string{KeyKPR: "false", "debug": "true"},
		[]CNC{cnc("kube-system", "kpr", APIVersionV2, &Selector{}, map[string]string{KeyKPR: "true"})},
		Node{Name: "n1"}, DefaultSources())
	running := map[string]string{KeyKPR: "false", "debug": "true\n", "extra": "1", KeyConfigSources: "[]"}
	got := eff.Compare(running)
	if len(got) != 2 || got[0].Key != "extra" || got[0].InEffective || got[1].Key != KeyKPR || got[1].Effective != "true" || got[1].Running != "false" ||
		got[1].Origin.String() != "CiliumNodeConfig kube-system/kpr" {
		t.Errorf("Compare = %+v", got)
	}
	if got := eff.Compare(running, KeyKPR); len(got) != 1 {
		t.Errorf("Compare(KPR) = %+v", got)
	}
	if got := eff.Compare(map[string]string{KeyKPR: "true", "debug": "true"}); len(got) != 0 {
		t.Errorf("Compare(in sync) = %+v", got)
	}
}
