package nodeconfig

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func sel(labels map[string]string, exprs ...Requirement) *Selector {
	return &Selector{MatchLabels: labels, MatchExpressions: exprs}
}

func cnc(ns, name, version string, s *Selector, defaults map[string]string) CNC {
	return CNC{Namespace: ns, Name: name, APIVersion: version, NodeSelector: s, Defaults: defaults}
}

// TestCiliumResolveConfigurations is Cilium's own TestResolveConfigurations
// (pkg/option/resolver/resolver_test.go at v1.18.8): every source kind, CNCs
// at both versions as separate objects (Cilium's fake clientset keeps one
// store per version), and the exact config-sources it expects.
func TestCiliumResolveConfigurations(t *testing.T) {
	const ns = "test-ns"
	in := Inputs{
		ConfigMaps: []ConfigMap{{Namespace: ns, Name: "cm", Data: map[string]string{"cm-key": "cm-val"}}},
		CNCs: []CNC{
			cnc(ns, "test-1", APIVersionV2Alpha1, sel(map[string]string{"a": "b"}), map[string]string{"cnc-key": "cnc-val"}),
			cnc(ns, "test-1-v2", APIVersionV2, sel(map[string]string{"a": "b"}), map[string]string{"cnc-key-v2": "cnc-val-v2"}),
			cnc(ns, "specific", APIVersionV2Alpha1, nil, map[string]string{"cnc-key-2": "cnc-val-2"}),
			cnc(ns, "specific-v2", APIVersionV2, nil, map[string]string{"cnc-key-2-v2": "cnc-val-2-v2"}),
		},
		Node: Node{Name: "nodename", Labels: map[string]string{"a": "b"},
			Annotations: map[string]string{"config.cilium.io/anno-key": "anno-val"}},
	}
	bc := BuildConfig{Release: "1.18.8", Sources: []Source{
		{Kind: KindConfigMap, Namespace: ns, Name: "cm"},
		{Kind: KindNodeConfig, Namespace: ns},
		{Kind: KindNode, Name: "nodename"},
		{Kind: KindNodeConfig, Namespace: ns, Name: "specific"},
		{Kind: KindNodeConfig, Namespace: ns, Name: "specific-v2"},
	}}
	eff := ResolveWith(in, bc)
	if eff.Err != nil {
		t.Fatal(eff.Err)
	}
	want := map[string]string{
		"cm-key": "cm-val", "anno-key": "anno-val", "cnc-key": "cnc-val", "cnc-key-2": "cnc-val-2",
		"cnc-key-v2": "cnc-val-v2", "cnc-key-2-v2": "cnc-val-2-v2",
	}
	if got := eff.Map(); !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v, want %v", got, want)
	}
	wantSources := `[{"kind":"config-map","namespace":"test-ns","name":"cm"},{"kind":"cilium-node-config","namespace":"test-ns","name":"test-1-v2"},{"kind":"cilium-node-config","namespace":"test-ns","name":"test-1"},{"kind":"node","namespace":"","name":"nodename"},{"kind":"cilium-node-config","namespace":"test-ns","name":"specific"},{"kind":"cilium-node-config","namespace":"test-ns","name":"specific-v2"}]`
	if got := eff.ConfigSourcesValue(); got != wantSources {
		t.Errorf("config-sources =\n%s\nwant\n%s", got, wantSources)
	}
	if _, o, _ := eff.Get("anno-key"); o.String() != "node annotation" || o.Key != "config.cilium.io/anno-key" {
		t.Errorf("anno-key origin = %+v", o)
	}
	if _, o, _ := eff.Get("cnc-key"); o.String() != "CiliumNodeConfig test-ns/test-1" || o.APIVersion != APIVersionV2Alpha1 {
		t.Errorf("cnc-key origin = %+v", o)
	}
}

// TestCiliumWithBlockedFields is Cilium's TestWithBlockedFields
// (resolver_test.go at v1.18.8): the allow list wins over the deny list,
// and the first source is never filtered.
func TestCiliumWithBlockedFields(t *testing.T) {
	const ns = "test-ns"
	in := Inputs{
		ConfigMaps: []ConfigMap{{Namespace: ns, Name: "cm", Data: map[string]string{"cm-key": "cm-val"}}},
		CNCs: []CNC{cnc(ns, "test-1", APIVersionV2Alpha1, sel(map[string]string{"a": "b"}),
			map[string]string{"allowed-key": "allowed-val", "blocked-key": "blocked-val"})},
		Node: Node{Name: "nodename", Labels: map[string]string{"a": "b"}},
	}
	sources := []Source{{Kind: KindConfigMap, Namespace: ns, Name: "cm"}, {Kind: KindNodeConfig, Namespace: ns}}
	for _, tc := range []struct {
		name        string
		allow, deny []string
	}{
		{"allow", []string{"allowed-key"}, nil},
		{"deny, first source privileged", nil, []string{"blocked-key", "cm-key"}},
		{"allow wins over deny", []string{"allowed-key"}, []string{"allowed-key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eff := ResolveWith(in, BuildConfig{Sources: sources, AllowConfigKeys: tc.allow, DenyConfigKeys: tc.deny, Release: "1.18.8"})
			want := map[string]string{"cm-key": "cm-val", "allowed-key": "allowed-val"}
			if got := eff.Map(); !reflect.DeepEqual(got, want) {
				t.Errorf("values = %v, want %v", got, want)
			}
			if !hasEvent(eff.Events, MsgNonOverridableKey, "blocked-key") {
				t.Errorf("no %q event for blocked-key: %+v", MsgNonOverridableKey, eff.Events)
			}
			if !hasSkip(eff.Skipped, "CiliumNodeConfig test-ns/test-1", "blocked-key") {
				t.Errorf("blocked-key not in Skipped: %+v", eff.Skipped)
			}
		})
	}
}

// TestCiliumReadNodeConfigs is Cilium's TestReadNodeConfigs (resolver_test.go
// at v1.18.8): names cco-0, cco-1... in order; an empty selector matches
// every node, a nil one none.
func TestCiliumReadNodeConfigs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		labels map[string]string
		confs  []CNC
		want   map[string]string
	}{
		{"one-matching", map[string]string{"a": "b"},
			[]CNC{{NodeSelector: sel(map[string]string{"a": "b"}), Defaults: map[string]string{"key-1": "val-1"}}},
			map[string]string{"key-1": "val-1"}},
		{"none-matching", map[string]string{"a": "b"},
			[]CNC{{NodeSelector: sel(map[string]string{"a": "c"}), Defaults: map[string]string{"key-1": "val-1"}}},
			map[string]string{}},
		{"two-matching", map[string]string{"a": "b"},
			[]CNC{
				{NodeSelector: sel(map[string]string{"a": "b"}), Defaults: map[string]string{"key-1": "val-1", "key-2": "val-2"}},
				{NodeSelector: &Selector{}, Defaults: map[string]string{"key-1": "overridden", "key-3": "val-3"}},
				{NodeSelector: nil, Defaults: map[string]string{"key-4": "val-4"}},
			},
			map[string]string{"key-1": "overridden", "key-2": "val-2", "key-3": "val-3"}},
	} {
		for _, version := range []string{APIVersionV2, APIVersionV2Alpha1} {
			t.Run(tc.name+" "+version, func(t *testing.T) {
				var cncs []CNC
				for i, c := range tc.confs {
					c.Namespace, c.Name, c.APIVersion = "test-ns", "cco-"+string(rune('0'+i)), version
					cncs = append(cncs, c)
				}
				eff := Resolve(nil, cncs, Node{Name: tc.name, Labels: tc.labels}, []Source{{Kind: KindNodeConfig, Namespace: "test-ns"}})
				if got := eff.Map(); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("values = %v, want %v", got, tc.want)
				}
			})
		}
	}
}

func hasEvent(evs []Event, msg, key string) bool {
	for _, e := range evs {
		if e.Message == msg && e.Key == key {
			return true
		}
	}
	return false
}

func hasSkip(skips []Skip, what, key string) bool {
	for _, s := range skips {
		if s.What == what && s.Key == key {
			return true
		}
	}
	return false
}

// TestResolvePrecedence: who wins a key, and how that is told.
func TestResolvePrecedence(t *testing.T) {
	const ns = "kube-system"
	base := map[string]string{"kube-proxy-replacement": "false", "debug": "false"}
	kprLabel := map[string]string{MigrationLabel: "true"}
	defaultSources := []Source{{Kind: KindConfigMap, Name: DefaultConfigMap}, {Kind: KindNodeConfig, Namespace: ns}}
	withNode := append(append([]Source{}, defaultSources...), Source{Kind: KindNode})
	nodeFirst := []Source{{Kind: KindConfigMap, Name: DefaultConfigMap}, {Kind: KindNode}, {Kind: KindNodeConfig, Namespace: ns}}

	for _, tc := range []struct {
		name       string
		release    string
		cncs       []CNC
		node       Node
		sources    []Source
		key        string
		wantValue  string
		wantOrigin string
		wantSet    bool
		wantEvent  string
		wantSkip   string
	}{
		{name: "cilium-config alone", cncs: nil, node: Node{Name: "n1"}, sources: defaultSources,
			key: "kube-proxy-replacement", wantValue: "false", wantOrigin: "cilium-config", wantSet: true},
		{name: "CNC overrides cilium-config",
			cncs:    []CNC{cnc(ns, "kpr", APIVersionV2, sel(kprLabel), map[string]string{"kube-proxy-replacement": "true"})},
			node:    Node{Name: "n1", Labels: kprLabel},
			sources: defaultSources, key: "kube-proxy-replacement", wantValue: "true",
			wantOrigin: "CiliumNodeConfig kube-system/kpr", wantSet: true, wantEvent: MsgSourceOverridesKey},
		{name: "CNC that does not select the node",
			cncs:    []CNC{cnc(ns, "kpr", APIVersionV2, sel(kprLabel), map[string]string{"kube-proxy-replacement": "true"})},
			node:    Node{Name: "n1"},
			sources: defaultSources, key: "kube-proxy-replacement", wantValue: "false", wantOrigin: "cilium-config", wantSet: true,
			wantSkip: "CiliumNodeConfig kube-system/kpr"},
		{name: "tie between CNCs: the later name wins, not the newer object",
			cncs: []CNC{
				{Namespace: ns, Name: "b-off", APIVersion: APIVersionV2, CreationTime: time.Unix(100, 0), NodeSelector: &Selector{}, Defaults: map[string]string{"kube-proxy-replacement": "false"}},
				{Namespace: ns, Name: "a-on", APIVersion: APIVersionV2, CreationTime: time.Unix(200, 0), NodeSelector: &Selector{}, Defaults: map[string]string{"kube-proxy-replacement": "true"}},
			},
			node: Node{Name: "n1"}, sources: defaultSources, key: "kube-proxy-replacement", wantValue: "false",
			wantOrigin: "CiliumNodeConfig kube-system/b-off", wantSet: true, wantEvent: MsgKeySetInMultiple},
		{name: "lexicographic, not numeric: kpr-9 beats kpr-10",
			cncs: []CNC{
				cnc(ns, "kpr-9", APIVersionV2, &Selector{}, map[string]string{"kube-proxy-replacement": "nine"}),
				cnc(ns, "kpr-10", APIVersionV2, &Selector{}, map[string]string{"kube-proxy-replacement": "ten"}),
			},
			node: Node{Name: "n1"}, sources: defaultSources, key: "kube-proxy-replacement", wantValue: "nine",
			wantOrigin: "CiliumNodeConfig kube-system/kpr-9", wantSet: true},
		{name: "1.16–1.19: v2 wins over v2alpha1 whatever the names",
			release: "1.18.8",
			cncs: []CNC{
				cnc(ns, "aaa", APIVersionV2, &Selector{}, map[string]string{"kube-proxy-replacement": "from-v2"}),
				cnc(ns, "zzz", APIVersionV2Alpha1, &Selector{}, map[string]string{"kube-proxy-replacement": "from-v2alpha1"}),
			},
			node: Node{Name: "n1"}, sources: defaultSources, key: "kube-proxy-replacement", wantValue: "from-v2",
			wantOrigin: "CiliumNodeConfig kube-system/aaa", wantSet: true},
		{name: "1.15 lists only v2alpha1",
			release: "1.15.0",
			cncs:    []CNC{cnc(ns, "kpr", APIVersionV2, &Selector{}, map[string]string{"kube-proxy-replacement": "true"})},
			node:    Node{Name: "n1"}, sources: defaultSources, key: "kube-proxy-replacement", wantValue: "false",
			wantOrigin: "cilium-config", wantSet: true, wantSkip: "CiliumNodeConfig kube-system/kpr"},
		{name: "1.20 lists only v2",
			release: "1.20.2",
			cncs:    []CNC{cnc(ns, "kpr", APIVersionV2Alpha1, &Selector{}, map[string]string{"kube-proxy-replacement": "true"})},
			node:    Node{Name: "n1"}, sources: defaultSources, key: "kube-proxy-replacement", wantValue: "false",
			wantOrigin: "cilium-config", wantSet: true, wantSkip: "CiliumNodeConfig kube-system/kpr"},
		{name: "1.13 reads v2alpha1",
			release: "1.13.0",
			cncs:    []CNC{cnc(ns, "kube-proxy-replacement-strict", APIVersionV2Alpha1, sel(map[string]string{MigrationLabel: "strict"}), map[string]string{"kube-proxy-replacement": "strict"})},
			node:    Node{Name: "n1", Labels: map[string]string{MigrationLabel: "strict"}}, sources: defaultSources, key: "kube-proxy-replacement", wantValue: "strict",
			wantOrigin: "CiliumNodeConfig kube-system/kube-proxy-replacement-strict", wantSet: true},
		{name: "1.20 reads v2",
			release: "1.20.2",
			cncs:    []CNC{cnc(ns, "kpr", "", &Selector{}, map[string]string{"kube-proxy-replacement": "true"})},
			node:    Node{Name: "n1"}, sources: defaultSources, key: "kube-proxy-replacement", wantValue: "true",
			wantOrigin: "CiliumNodeConfig kube-system/kpr", wantSet: true},
		{name: "node keys are not read by the default sources",
			node:    Node{Name: "n1", Labels: map[string]string{"config.cilium.io/kube-proxy-replacement": "true"}},
			sources: defaultSources, key: "kube-proxy-replacement", wantValue: "false", wantOrigin: "cilium-config", wantSet: true},
		{name: "node label after the CNCs wins",
			cncs:    []CNC{cnc(ns, "kpr", APIVersionV2, &Selector{}, map[string]string{"kube-proxy-replacement": "true"})},
			node:    Node{Name: "n1", Labels: map[string]string{"config.cilium.io/kube-proxy-replacement": "false"}},
			sources: withNode, key: "kube-proxy-replacement", wantValue: "false", wantOrigin: "node label", wantSet: true, wantEvent: MsgSourceOverridesKey},
		{name: "node annotation beats a node label of the same key",
			node: Node{Name: "n1",
				Labels:      map[string]string{"config.cilium.io/kube-proxy-replacement": "label"},
				Annotations: map[string]string{"config.cilium.io/kube-proxy-replacement": "annotation"}},
			sources: withNode, key: "kube-proxy-replacement", wantValue: "annotation", wantOrigin: "node annotation", wantSet: true},
		{name: "sources in another order: the CNC after the node wins",
			cncs:    []CNC{cnc(ns, "kpr", APIVersionV2, &Selector{}, map[string]string{"kube-proxy-replacement": "true"})},
			node:    Node{Name: "n1", Annotations: map[string]string{"config.cilium.io/kube-proxy-replacement": "false"}},
			sources: nodeFirst, key: "kube-proxy-replacement", wantValue: "true", wantOrigin: "CiliumNodeConfig kube-system/kpr", wantSet: true},
		{name: "prefix matched without a slash (strings.HasPrefix)",
			node:    Node{Name: "n1", Annotations: map[string]string{"config.cilium.io.example/debug": "true"}},
			sources: withNode, key: "debug", wantValue: "true", wantOrigin: "node annotation", wantSet: true},
		{name: "node key without /<key>",
			node:    Node{Name: "n1", Annotations: map[string]string{"config.cilium.io": "true"}},
			sources: withNode, key: "debug", wantValue: "false", wantOrigin: "cilium-config", wantSet: true,
			wantSkip: "node annotation config.cilium.io", wantEvent: MsgInvalidNodeKeyShape},
		{name: "node key that is not a ConfigMap key",
			node:    Node{Name: "n1", Labels: map[string]string{"config.cilium.io/a/b": "x"}},
			sources: withNode, key: "a/b", wantSkip: "node label config.cilium.io/a/b", wantEvent: MsgInvalidNodeKey},
		{name: "CNC in another namespace",
			cncs: []CNC{cnc("default", "kpr", APIVersionV2, &Selector{}, map[string]string{"kube-proxy-replacement": "true"})},
			node: Node{Name: "n1"}, sources: defaultSources, key: "kube-proxy-replacement", wantValue: "false", wantOrigin: "cilium-config", wantSet: true},
		{name: "CNC with empty defaults",
			cncs: []CNC{cnc(ns, "empty", APIVersionV2, &Selector{}, nil)},
			node: Node{Name: "n1"}, sources: defaultSources, key: "kube-proxy-replacement", wantValue: "false", wantOrigin: "cilium-config", wantSet: true,
			wantSkip: "CiliumNodeConfig kube-system/empty"},
		{name: "CNC key that is not a ConfigMap key",
			cncs: []CNC{cnc(ns, "bad-key", APIVersionV2, &Selector{}, map[string]string{"..x": "y"})},
			node: Node{Name: "n1"}, sources: defaultSources, key: "..x", wantSkip: "CiliumNodeConfig kube-system/bad-key", wantEvent: MsgInvalidCNCKey},
		{name: "CNC named by the source, whatever its selector",
			cncs: []CNC{cnc(ns, "pinned", APIVersionV2, nil, map[string]string{"kube-proxy-replacement": "true"})},
			node: Node{Name: "n1"}, sources: []Source{{Kind: KindConfigMap, Name: DefaultConfigMap}, {Kind: KindNodeConfig, Namespace: ns, Name: "pinned"}},
			key: "kube-proxy-replacement", wantValue: "true", wantOrigin: "CiliumNodeConfig kube-system/pinned", wantSet: true},
		{name: "deny list keeps the CNC's KPR out",
			cncs: []CNC{cnc(ns, "kpr", APIVersionV2, &Selector{}, map[string]string{"kube-proxy-replacement": "true"})},
			node: Node{Name: "n1"}, sources: defaultSources, key: "kube-proxy-replacement", wantValue: "false", wantOrigin: "cilium-config", wantSet: true,
			wantEvent: MsgNonOverridableKey},
		{name: "node source naming another node",
			node:    Node{Name: "n1", Labels: map[string]string{"config.cilium.io/debug": "true"}},
			sources: []Source{{Kind: KindNode, Name: "n2"}}, key: "debug", wantSkip: "node source n2"},
		{name: "missing ConfigMap is ignored",
			node:    Node{Name: "n1"},
			sources: []Source{{Kind: KindConfigMap, Name: "other"}}, key: "debug", wantSkip: "ConfigMap /other", wantEvent: MsgConfigMapNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bc := BuildConfig{Sources: tc.sources, Release: tc.release}
			if strings.HasPrefix(tc.name, "deny list") {
				bc.DenyConfigKeys = []string{"kube-proxy-replacement"}
			}
			eff := ResolveWith(Inputs{ConfigMaps: []ConfigMap{{Namespace: ns, Name: DefaultConfigMap, Data: base}}, CNCs: tc.cncs, Node: tc.node}, bc)
			if eff.Err != nil {
				t.Fatal(eff.Err)
			}
			v, o, ok := eff.Get(tc.key)
			if ok != tc.wantSet || v != tc.wantValue || (ok && o.String() != tc.wantOrigin) {
				t.Errorf("%s = %q from %q (set %v), want %q from %q (set %v)", tc.key, v, o, ok, tc.wantValue, tc.wantOrigin, tc.wantSet)
			}
			if tc.wantEvent != "" && !hasEvent(eff.Events, tc.wantEvent, eventKey(tc.wantEvent, tc.key, tc.node)) {
				t.Errorf("no %q event: %+v", tc.wantEvent, eff.Events)
			}
			if tc.wantSkip != "" && !skipped(eff.Skipped, tc.wantSkip) {
				t.Errorf("%s not skipped: %+v", tc.wantSkip, eff.Skipped)
			}
		})
	}
}

func eventKey(msg, key string, n Node) string {
	switch msg {
	case MsgInvalidNodeKeyShape, MsgInvalidNodeKey:
		for k := range n.Labels {
			return k
		}
		for k := range n.Annotations {
			return k
		}
	case MsgConfigMapNotFound:
		return ""
	}
	return key
}

func skipped(skips []Skip, what string) bool {
	for _, s := range skips {
		if s.What == what {
			return true
		}
	}
	return false
}

// TestBothVersionsSameObject: on a cluster from v1.16 each CNC is served at
// both versions; reading both gives the same values at every release that
// reads either, and config-sources as each release writes it.
func TestBothVersionsSameObject(t *testing.T) {
	const ns = "kube-system"
	s := sel(map[string]string{MigrationLabel: "true"})
	d := map[string]string{"kube-proxy-replacement": "true"}
	cncs := []CNC{cnc(ns, "kube-proxy-replacement", APIVersionV2, s, d), cnc(ns, "kube-proxy-replacement", APIVersionV2Alpha1, s, d)}
	node := Node{Name: "n1", Labels: map[string]string{MigrationLabel: "true"}}
	bc := BuildConfig{Sources: []Source{{Kind: KindConfigMap, Namespace: ns, Name: DefaultConfigMap}, {Kind: KindNodeConfig, Namespace: ns}}}
	in := Inputs{ConfigMaps: []ConfigMap{{Namespace: ns, Name: DefaultConfigMap, Data: map[string]string{"kube-proxy-replacement": "false"}}}, CNCs: cncs, Node: node}
	for _, tc := range []struct{ release, sources string }{
		{"1.15.0", "config-map:kube-system/cilium-config,cilium-node-config:kube-system/kube-proxy-replacement"},
		{"1.16.0", "config-map:kube-system/cilium-config,cilium-node-config:kube-system/kube-proxy-replacement,cilium-node-config:kube-system/kube-proxy-replacement"},
		{"1.17.0", `[{"kind":"config-map","namespace":"kube-system","name":"cilium-config"},{"kind":"cilium-node-config","namespace":"kube-system","name":"kube-proxy-replacement"}]`},
		{"1.20.2", `[{"kind":"config-map","namespace":"kube-system","name":"cilium-config"},{"kind":"cilium-node-config","namespace":"kube-system","name":"kube-proxy-replacement"}]`},
		{"", `[{"kind":"config-map","namespace":"kube-system","name":"cilium-config"},{"kind":"cilium-node-config","namespace":"kube-system","name":"kube-proxy-replacement"}]`},
	} {
		t.Run(tc.release, func(t *testing.T) {
			b := bc
			b.Release = tc.release
			eff := ResolveWith(in, b)
			v, o, _ := eff.Get("kube-proxy-replacement")
			if v != "true" || o.String() != "CiliumNodeConfig kube-system/kube-proxy-replacement" {
				t.Errorf("kube-proxy-replacement = %q from %s", v, o)
			}
			if h := eff.Values["kube-proxy-replacement"].History; len(h) != 2 {
				t.Errorf("history has %d settings, want cilium-config and the CNC once: %+v", len(h), h)
			}
			if got := eff.ConfigSourcesValue(); got != tc.sources {
				t.Errorf("config-sources = %s\nwant %s", got, tc.sources)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	const ns = "kube-system"
	bad := sel(nil, Requirement{Key: "a", Operator: "in", Values: []string{"b"}})
	good := cnc(ns, "good", APIVersionV2Alpha1, &Selector{}, map[string]string{"debug": "true"})
	node := Node{Name: "n1", Labels: map[string]string{"x": "y"}}
	src := []Source{{Kind: KindNodeConfig, Namespace: ns}}
	for _, tc := range []struct {
		name    string
		release string
		cncs    []CNC
		wantErr string
		wantVal string
	}{
		{"invalid selector fails build-config on every node", "1.18.8",
			[]CNC{cnc(ns, "bad", APIVersionV2, bad, map[string]string{"debug": "true"}), cnc(ns, "bad", APIVersionV2Alpha1, bad, map[string]string{"debug": "true"})},
			"invalid selector in CiliumNodeConfig bad", ""},
		{"invalid selector in the one version read", "1.20.2",
			[]CNC{cnc(ns, "bad", APIVersionV2, bad, map[string]string{"debug": "true"})}, "invalid selector in CiliumNodeConfig bad", ""},
		{"invalid selector at v2 only: logged, v2alpha1 used", "1.18.8",
			[]CNC{cnc(ns, "bad", APIVersionV2, bad, map[string]string{"debug": "false"}), good}, "", "true"},
		{"invalid selector at v2alpha1 only fails", "1.18.8",
			[]CNC{cnc(ns, "bad", APIVersionV2Alpha1, bad, map[string]string{"debug": "false"})}, "invalid selector in CiliumNodeConfig bad", ""},
		{"invalid selector without defaults is never evaluated", "1.18.8",
			[]CNC{cnc(ns, "bad", APIVersionV2, bad, nil)}, "", ""},
		{"unknown API version is skipped", "1.18.8",
			[]CNC{cnc(ns, "odd", "cilium.io/v3", &Selector{}, map[string]string{"debug": "true"})}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eff := ResolveWith(Inputs{CNCs: tc.cncs, Node: node}, BuildConfig{Sources: src, Release: tc.release})
			if tc.wantErr != "" {
				if eff.Err == nil || !strings.Contains(eff.Err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", eff.Err, tc.wantErr)
				}
				if len(eff.Values) != 0 {
					t.Errorf("values on error: %v", eff.Values)
				}
				return
			}
			if eff.Err != nil {
				t.Fatal(eff.Err)
			}
			if v, _, _ := eff.Get("debug"); v != tc.wantVal {
				t.Errorf("debug = %q, want %q", v, tc.wantVal)
			}
		})
	}
	// An invalid source kind (only reachable without ParseSources).
	if eff := ResolveWith(Inputs{Node: node}, BuildConfig{Sources: []Source{{Kind: "bogus"}}}); eff.Err == nil {
		t.Error("bogus source kind: no error")
	}
}

// TestFirstSourcePrivileged: the allow list applies from the second source
// on, even when the first read nothing (resolver.go: first = false after
// the first source whatever it gave).
func TestFirstSourcePrivileged(t *testing.T) {
	in := Inputs{CNCs: []CNC{cnc("kube-system", "kpr", APIVersionV2, &Selector{}, map[string]string{"kube-proxy-replacement": "true", "debug": "true"})}, Node: Node{Name: "n1"}}
	eff := ResolveWith(in, BuildConfig{
		Sources:         []Source{{Kind: KindConfigMap, Namespace: "kube-system", Name: "missing"}, {Kind: KindNodeConfig, Namespace: "kube-system"}},
		AllowConfigKeys: []string{"debug"},
	})
	if got, want := eff.Map(), map[string]string{"debug": "true"}; !reflect.DeepEqual(got, want) {
		t.Errorf("values = %v, want %v", got, want)
	}
	if got := eff.ConfigSourcesValue(); got != `[{"kind":"cilium-node-config","namespace":"kube-system","name":"kpr"}]` {
		t.Errorf("config-sources = %s", got)
	}
}

// TestNoSourcesGaveKeys: config-sources is JSON null (v1.17 on) or empty
// (before) when nothing was merged.
func TestNoSourcesGaveKeys(t *testing.T) {
	eff := ResolveWith(Inputs{Node: Node{Name: "n1"}}, BuildConfig{Sources: DefaultSources(), Release: "1.18.8"})
	if got := eff.ConfigSourcesValue(); got != "null" {
		t.Errorf("config-sources = %q, want null", got)
	}
	if got := FormatConfigSources("1.13.0", nil); got != "" {
		t.Errorf("1.13 config-sources = %q, want empty", got)
	}
}

// TestDocumentedRollout resolves the CNC of Cilium's "KubeProxyReplacement
// Rollout" docs (Documentation/configuration/per-node-config.rst) at the
// releases whose docs differ: v1.16.0 writes "0.0.0.0:10256", v1.18.8
// "'0.0.0.0:10256'" (the quotes are part of the value).
func TestDocumentedRollout(t *testing.T) {
	for _, tc := range []struct{ release, healthz string }{
		{"1.16.0", "0.0.0.0:10256"},
		{"1.18.8", "'0.0.0.0:10256'"},
	} {
		t.Run(tc.release, func(t *testing.T) {
			docCNC := CNC{Namespace: "kube-system", Name: "kube-proxy-replacement", APIVersion: APIVersionV2,
				NodeSelector: sel(map[string]string{MigrationLabel: "true"}),
				Defaults:     map[string]string{"kube-proxy-replacement": "true", "kube-proxy-replacement-healthz-bind-address": tc.healthz}}
			base := map[string]string{"kube-proxy-replacement": "false"}
			migrated := Node{Name: "kind-worker", Labels: map[string]string{MigrationLabel: "true"}}
			other := Node{Name: "kind-worker2"}
			srcs, err := ParseSources([]string{"cilium-dbg", "build-config"})
			if err != nil {
				t.Fatal(err)
			}
			bc := BuildConfig{Sources: srcs, Release: tc.release}.Fill("kube-system", "")
			cms := []ConfigMap{{Namespace: "kube-system", Name: DefaultConfigMap, Data: base}}
			eff := ResolveWith(Inputs{ConfigMaps: cms, CNCs: []CNC{docCNC}, Node: migrated}, bc)
			if v, o, _ := eff.Get(KeyKPR); v != "true" || o.String() != "CiliumNodeConfig kube-system/kube-proxy-replacement" {
				t.Errorf("migrated node: %s = %q from %s", KeyKPR, v, o)
			}
			if v, _, _ := eff.Get(KeyKPRHealthzBind); v != tc.healthz {
				t.Errorf("healthz = %q", v)
			}
			eff = ResolveWith(Inputs{ConfigMaps: cms, CNCs: []CNC{docCNC}, Node: other}, bc)
			if v, o, _ := eff.Get(KeyKPR); v != "false" || o.String() != "cilium-config" {
				t.Errorf("other node: %s = %q from %s", KeyKPR, v, o)
			}
		})
	}
}

// TestXDPExample is the docs' other example (per-node-config.rst,
// "selective XDP enablement").
func TestXDPExample(t *testing.T) {
	xdp := cnc("kube-system", "enable-xdp", APIVersionV2, sel(map[string]string{"io.cilium.xdp-offload": "true"}), map[string]string{"bpf-lb-acceleration": "native"})
	eff := Resolve(map[string]string{"bpf-lb-acceleration": "disabled"}, []CNC{xdp},
		Node{Name: "n1", Labels: map[string]string{"io.cilium.xdp-offload": "true"}}, DefaultSources())
	if v, o, _ := eff.Get("bpf-lb-acceleration"); v != "native" || o.String() != "CiliumNodeConfig kube-system/enable-xdp" {
		t.Errorf("bpf-lb-acceleration = %q from %s", v, o)
	}
	if got := eff.ConfigSourcesValue(); got != `[{"kind":"config-map","namespace":"","name":"cilium-config"},{"kind":"cilium-node-config","namespace":"kube-system","name":"enable-xdp"}]` {
		t.Errorf("config-sources (namespaces not filled) = %s", got)
	}
}

func TestOriginStrings(t *testing.T) {
	for _, tc := range []struct {
		o    Origin
		want string
	}{
		{Origin{Kind: OriginConfigMap, Namespace: "kube-system", Name: "cilium-config"}, "cilium-config"},
		{Origin{Kind: OriginConfigMap, Namespace: "kube-system", Name: "other"}, "ConfigMap kube-system/other"},
		{Origin{Kind: OriginCNC, Namespace: "kube-system", Name: "kpr"}, "CiliumNodeConfig kube-system/kpr"},
		{Origin{Kind: OriginNodeLabel, Key: "config.cilium.io/x"}, "node label"},
		{Origin{Kind: OriginNodeAnnotation, Key: "config.cilium.io/x"}, "node annotation"},
		{Origin{Kind: "other"}, "other"},
	} {
		if got := tc.o.String(); got != tc.want {
			t.Errorf("%+v = %q, want %q", tc.o, got, tc.want)
		}
	}
	if got := (Source{Kind: KindNodeConfig, Namespace: "kube-system"}).String(); got != "cilium-node-config:kube-system/" {
		t.Errorf("source string = %q", got)
	}
}

func TestFill(t *testing.T) {
	bc := BuildConfig{Sources: []Source{{Kind: KindConfigMap, Name: "cilium-config"}, {Kind: KindNodeConfig}, {Kind: KindNode}, {Kind: KindNode, Name: "other"}}}
	got := bc.Fill("cilium", "n1").Sources
	want := []Source{{Kind: KindConfigMap, Namespace: "cilium", Name: "cilium-config"}, {Kind: KindNodeConfig, Namespace: "cilium"}, {Kind: KindNode, Name: "n1"}, {Kind: KindNode, Name: "other"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Fill = %+v", got)
	}
	if bc.Sources[2].Name != "" {
		t.Error("Fill changed its receiver")
	}
}
