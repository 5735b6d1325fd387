package nodeconfig

import (
	"reflect"
	"strings"
	"testing"
)

// The command lines are the ones Cilium's chart renders
// (install/kubernetes/cilium/templates/cilium-agent/daemonset.yaml:
// `cilium build-config` at v1.13, `cilium-dbg build-config` from v1.15, with
// "--source=<daemon.configSources>" and friends only when set).
func TestParseBuildConfig(t *testing.T) {
	cm := Source{Kind: KindConfigMap, Name: DefaultConfigMap}
	for _, tc := range []struct {
		name      string
		command   []string
		args      []string
		want      []Source
		allow     []string
		deny      []string
		dest      string
		defaulted bool
		found     bool
		wantErr   string
	}{
		{name: "chart default (v1.15 on)", command: []string{"cilium-dbg", "build-config"},
			want: DefaultSources(), defaulted: true, found: true},
		{name: "chart default (v1.13)", command: []string{"cilium", "build-config"},
			want: DefaultSources(), defaulted: true, found: true},
		{name: "configSources with node", command: []string{"cilium-dbg", "build-config", "--source=config-map:cilium-config,cilium-node-config:kube-system,node"},
			want: []Source{cm, {Kind: KindNodeConfig, Namespace: "kube-system"}, {Kind: KindNode}}, found: true},
		{name: "flag value as the next arg", command: []string{"/usr/bin/cilium-dbg"}, args: []string{"build-config", "--source", "node:n9"},
			want: []Source{{Kind: KindNode, Name: "n9"}}, found: true},
		{name: "repeated --source appends", command: []string{"cilium-dbg", "build-config", "--source=config-map:kube-system/my-config", "--source=cilium-node-config:kube-system/pinned"},
			want: []Source{{Kind: KindConfigMap, Namespace: "kube-system", Name: "my-config"}, {Kind: KindNodeConfig, Namespace: "kube-system", Name: "pinned"}}, found: true},
		{name: "config-map only (the v1.19 chart then drops the init container)", command: []string{"cilium-dbg", "build-config", "--source=config-map:cilium-config"},
			want: []Source{cm}, found: true},
		{name: "--source= empty reads nothing", command: []string{"cilium-dbg", "build-config", "--source="},
			want: []Source{}, found: true},
		{name: "empty entries are skipped", command: []string{"cilium-dbg", "build-config", "--source=,config-map:"},
			want: []Source{cm}, found: true},
		{name: "node with namespace/name", command: []string{"cilium-dbg", "build-config", "--source=node:ns/n1"},
			want: []Source{{Kind: KindNode, Namespace: "ns", Name: "n1"}}, found: true},
		{name: "allow and deny lists", command: []string{"cilium-dbg", "build-config", "--allow-config-keys=kube-proxy-replacement,debug", "--deny-config-keys", "x", "--deny-config-keys=y"},
			want: DefaultSources(), defaulted: true, allow: []string{"kube-proxy-replacement", "debug"}, deny: []string{"x", "y"}, found: true},
		{name: "--dest and other flags", command: []string{"cilium-dbg", "--debug", "build-config", "--k8s-kubeconfig-path", "/k", "--dest=/etc/cfg", "--k8s-heartbeat", "--source=node"},
			want: []Source{{Kind: KindNode}}, dest: "/etc/cfg", found: true},
		{name: "-- ends the flags", command: []string{"cilium-dbg", "build-config", "--", "--source=node"},
			want: DefaultSources(), defaulted: true, found: true},
		{name: "shell script", command: []string{"sh", "-c", "cilium-dbg build-config --source=config-map:cilium-config,node && echo ok"},
			want: []Source{cm, {Kind: KindNode}}, found: true},
		{name: "not build-config: args read from the start", command: []string{"--source=node"},
			want: []Source{{Kind: KindNode}}, found: false},
		{name: "unknown kind fails the init container", command: []string{"cilium-dbg", "build-config", "--source=configmap:cilium-config"},
			wantErr: "unknown config source configmap", found: true},
		{name: "space after comma is part of the kind", command: []string{"cilium-dbg", "build-config", "--source=config-map:cilium-config, node"},
			wantErr: "unknown config source  node", found: true},
		{name: "--source without a value", command: []string{"cilium-dbg", "build-config", "--source"},
			wantErr: "flag needs an argument: --source", found: true},
		{name: "bad CSV", command: []string{"cilium-dbg", "build-config", `--source="node`},
			wantErr: "invalid argument", found: true},
		{name: "bad CSV in allow list", command: []string{"cilium-dbg", "build-config", `--allow-config-keys="x`},
			wantErr: "invalid argument", found: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bc, found, err := ParseBuildConfig(tc.command, tc.args)
			if found != tc.found {
				t.Errorf("found = %v, want %v", found, tc.found)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(bc.Sources, tc.want) {
				t.Errorf("sources = %+v, want %+v", bc.Sources, tc.want)
			}
			if bc.Defaulted != tc.defaulted {
				t.Errorf("defaulted = %v", bc.Defaulted)
			}
			if !reflect.DeepEqual(bc.AllowConfigKeys, tc.allow) || !reflect.DeepEqual(bc.DenyConfigKeys, tc.deny) {
				t.Errorf("allow %v deny %v", bc.AllowConfigKeys, bc.DenyConfigKeys)
			}
			wantDest := tc.dest
			if wantDest == "" {
				wantDest = DefaultDest
			}
			if bc.Dest != wantDest {
				t.Errorf("dest = %q", bc.Dest)
			}
		})
	}
}

func TestParseSources(t *testing.T) {
	got, err := ParseSources([]string{"cilium-dbg", "build-config", "--source=config-map:cilium-config,cilium-node-config:kube-system,node"})
	if err != nil {
		t.Fatal(err)
	}
	if FormatConfigSources("1.13.0", got) != "config-map:/cilium-config,cilium-node-config:kube-system/,node:" {
		t.Errorf("sources = %+v", got)
	}
	if got, _ := ParseSources(nil); !reflect.DeepEqual(got, DefaultSources()) {
		t.Errorf("default = %+v", got)
	}
	if _, err := ParseSources([]string{"cilium-dbg", "build-config", "--source=bogus"}); err == nil {
		t.Error("bogus: no error")
	}
}

func TestInitCommand(t *testing.T) {
	for v, want := range map[string]string{"1.13.0": "cilium", "1.14.4": "cilium", "1.15.0": "cilium-dbg", "1.20.2": "cilium-dbg", "": "cilium-dbg"} {
		if got := InitCommand(v); got != want {
			t.Errorf("InitCommand(%q) = %q, want %q", v, got, want)
		}
	}
	for _, tc := range []struct {
		release, version string
		want             bool
	}{
		{"1.13.0", APIVersionV2Alpha1, true}, {"1.13.0", APIVersionV2, false},
		{"1.16.0", APIVersionV2Alpha1, true}, {"1.16.0", APIVersionV2, true},
		{"1.19.0", APIVersionV2Alpha1, true}, {"1.20.2", APIVersionV2Alpha1, false}, {"1.20.2", APIVersionV2, true},
		{"", APIVersionV2Alpha1, true}, {"", APIVersionV2, true}, {"1.18.8", "", true}, {"1.18.8", "cilium.io/v3", false},
	} {
		if got := ReadsAPIVersion(tc.release, tc.version); got != tc.want {
			t.Errorf("ReadsAPIVersion(%q, %q) = %v", tc.release, tc.version, got)
		}
	}
}

func TestConfigSourcesRoundTrip(t *testing.T) {
	srcs := []Source{
		{Kind: KindConfigMap, Namespace: "kube-system", Name: "cilium-config"},
		{Kind: KindNodeConfig, Namespace: "kube-system", Name: "kube-proxy-replacement"},
		{Kind: KindNode, Name: "n1"},
	}
	for _, tc := range []struct{ release, want string }{
		{"1.13.0", "config-map:kube-system/cilium-config,cilium-node-config:kube-system/kube-proxy-replacement,node:n1"},
		{"1.18.8", `[{"kind":"config-map","namespace":"kube-system","name":"cilium-config"},{"kind":"cilium-node-config","namespace":"kube-system","name":"kube-proxy-replacement"},{"kind":"node","namespace":"","name":"n1"}]`},
	} {
		text := FormatConfigSources(tc.release, srcs)
		if text != tc.want {
			t.Errorf("%s: %s", tc.release, text)
		}
		back, err := ParseConfigSources(text + "\n")
		if err != nil || !reflect.DeepEqual(back, srcs) {
			t.Errorf("%s: parsed back %+v, %v", tc.release, back, err)
		}
	}
	for _, text := range []string{"", "null", " "} {
		if got, err := ParseConfigSources(text); got != nil || err != nil {
			t.Errorf("%q: %v %v", text, got, err)
		}
	}
	for _, text := range []string{"[{", "config-map"} {
		if _, err := ParseConfigSources(text); err == nil {
			t.Errorf("%q: no error", text)
		}
	}
}

// The log lines are shaped as each release's logger prints resolver.go's
// calls: logrus text (v1.13–v1.17), slog text and JSON (v1.18 on; the
// slog value shape checked with Go's slog.TextHandler on the same struct).
func TestParseInitLog(t *testing.T) {
	log := strings.Join([]string{
		`level=info msg="Reading configuration from cilium-node-config:kube-system/" configSource="cilium-node-config:kube-system/" subsys=option-resolver`,
		`level=info msg="Source overrides key" configKey=kube-proxy-replacement configSource="cilium-node-config:kube-system/" subsys=option-resolver`,
		`level=info msg="Key kube-proxy-replacement set in multiple CiliumNodeConfigs" configKey=kube-proxy-replacement subsys=option-resolver`,
		`time=2025-01-01T00:00:00Z level=info msg="Source overrides key" configKey=kube-proxy-replacement-healthz-bind-address configSource="{Kind:cilium-node-config Namespace:kube-system Name:}"`,
		`time=2025-01-01T00:00:00Z level=warn msg="Source has non-overridable key" configKey=debug configSource="{Kind:node Namespace: Name:n1}"`,
		`{"level":"info","msg":"Source overrides key","configKey":"enable-node-port","configSource":{"kind":"node","namespace":"","name":"n1"}}`,
		`{"level":"info","msg":"Source overrides key","configKey":"bpf-lb-sock","configSource":"config-map:kube-system/other"}`,
		`{"level":"error","msg":"Configmap not found, ignoring","configSource":{"kind":"config-map","namespace":"kube-system","name":"gone"}}`,
		`level=error msg="Invalid key in CiliumNodeConfigs kube-system/x: ..y" configKey=..y`,
		`level=error msg="Node annotation format invalid: invalid key: [a]" configKey=config.cilium.io/a/b`,
		`{not json`,
		`level=info msg="Got 3 config pairs from source" configSource="config-map:kube-system/cilium-config"`,
		``,
	}, "\n")
	want := []Event{
		{Message: MsgSourceOverridesKey, Key: "kube-proxy-replacement", Source: Source{Kind: KindNodeConfig, Namespace: "kube-system"}},
		{Message: MsgKeySetInMultiple, Key: "kube-proxy-replacement"},
		{Message: MsgSourceOverridesKey, Key: "kube-proxy-replacement-healthz-bind-address", Source: Source{Kind: KindNodeConfig, Namespace: "kube-system"}},
		{Message: MsgNonOverridableKey, Key: "debug", Source: Source{Kind: KindNode, Name: "n1"}},
		{Message: MsgSourceOverridesKey, Key: "enable-node-port", Source: Source{Kind: KindNode, Name: "n1"}},
		{Message: MsgSourceOverridesKey, Key: "bpf-lb-sock", Source: Source{Kind: KindConfigMap, Namespace: "kube-system", Name: "other"}},
		{Message: MsgConfigMapNotFound, Source: Source{Kind: KindConfigMap, Namespace: "kube-system", Name: "gone"}},
		{Message: MsgInvalidCNCKey, Key: "..y"},
		{Message: MsgInvalidNodeKey, Key: "config.cilium.io/a/b"},
	}
	got := ParseInitLog(log)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	if got := ParseInitLog(`level=info msg="Key x set in multiple CiliumNodeConfigs"`); len(got) != 1 || got[0].Key != "x" {
		t.Errorf("legacy multiple without configKey: %+v", got)
	}
	if got := parseLogSource("nonsense"); got != (Source{}) {
		t.Errorf("parseLogSource = %+v", got)
	}
	if got := logfmt(`msg="a \"quoted\" b" k=v`); got["msg"] != `a "quoted" b` || got["k"] != "v" {
		t.Errorf("logfmt = %v", got)
	}
}
