package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

func analyzeReport() *report.Analyze {
	nf := &report.Rules{
		KubeServiceChains: []string{"KUBE-SVC-XPGD46QRK7WJZT7O"},
		CiliumChains:      []string{"CILIUM_INPUT"},
		Counts:            report.RuleCounts{KubeServices: report.ChainRules{Chains: 1, Rules: 2}},
		KubeProxyModes:    []string{"iptables"},
		Dumps:             []report.RulesDump{{Format: "iptables-save", Family: "ipv4", Backend: "nf_tables"}},
		Other:             []report.OtherMarker{{Implementation: "contiv", Chains: []string{"CONTIV-NODEPORT"}}},
	}
	st := &report.AnalyzeCiliumStatus{Version: "1.16.5", CNIChaining: "generic-veth",
		KubeProxyReplacement: &report.KPR{Mode: "True", ReplacesKubeProxy: "full", Devices: []report.KPRDevice{{Name: "eth0", Addresses: []string{"10.0.0.1"}}}}}
	return &report.Analyze{
		Inputs: []report.AnalyzeInput{
			{Source: "dump\x1b[31m.zip!x/cmd/cilium-dbg-status.md", Agent: "cilium-a", Kind: "cilium-status", CiliumStatus: st, ServicesBy: verdict.Cilium},
			{Source: "rules.txt", Kind: "iptables-save", Netfilter: nf, ServicesBy: verdict.KubeProxyIPTables, Lines: "3-40", Superseded: 1},
			{Source: "svc.txt", Kind: "cilium-service-list", Services: []report.AgentService{{Type: "NodePort", Backends: []report.AgentBackend{{State: "terminating"}}}, {Type: "ClusterIP"}}},
			{Source: "junk.txt", Kind: "unknown", Reason: "no cilium status recognised"},
		},
		Agents: []report.AnalyzeAgent{{Name: "cilium-a", ServicesBy: verdict.Both, CiliumStatus: st, Netfilter: nf, KubeProxyRules: true, KubeProxyModes: []string{"iptables"}, Frontends: -1,
			Warnings: []verdict.Warning{{Code: "kube-proxy-and-cilium-kpr", Message: "stale?"}, {Code: "node-config-not-applied", Message: "CiliumNodeConfig kube-system/kpr sets kube-proxy-replacement=\"true\" (was \"false\") since 2026-04-01T11:00:00Z, after the agent's configuration was built"}},
			Node:     "node-a", NodeConfig: &report.NodeConfig{ReadFrom: "computed", DaemonSet: "kube-system/cilium",
				Sources: []string{"config-map:kube-system/cilium-config", "cilium-node-config:kube-system/kpr"},
				Keys: []report.ConfigKey{
					{Key: "kube-proxy-replacement", Value: "true", Origin: "CiliumNodeConfig kube-system/kpr", Found: "computed"},
					{Key: "bpf-lb-sock", Value: "true", Origin: "cilium-config", Found: "computed"},
				}}}},
		NodeConfig: &report.AnalyzeNodeConfig{Resolved: true, Files: []string{"sd/k8s-nodes-20260401-120000.yaml", "sd/ciliumnodeconfigs-20260401-120000.yaml"},
			Missing: []string{"k8s-pods-<ts>.yaml is not in the sysdump: agents not matched to nodes"},
			Note:    "per-node Cilium configuration resolved without k8s-pods-<ts>.yaml"},
		Nodes: []report.AnalyzeNode{{Name: "node-b", Warnings: []verdict.Warning{{Code: "healthz-port-clash", Message: "kube-proxy and Cilium's KPR healthz bind :10256"}},
			NodeConfig: &report.NodeConfig{ReadFrom: "computed", Sources: []string{"config-map:kube-system/cilium-config", "node:/node-b"},
				Keys: []report.ConfigKey{{Key: "kube-proxy-replacement-healthz-bind-address", Value: "0.0.0.0:10256", Origin: "node annotation", Found: "computed"}}}}},
	}
}

func TestAnalyzeTable(t *testing.T) {
	var buf bytes.Buffer
	if err := Analyze(&buf, analyzeReport(), Palette{}, false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"cilium-a/cilium-dbg-status.md", "KPR True (full); devices eth0 10.0.0.1; CNI chaining generic-veth",
		"rules.txt:3-40", "1 KUBE-SVC/SVL chains, KUBE-SERVICES 2 rules", "contiv: CONTIV-NODEPORT", "from nf_tables ipv4", "last of 2 listings",
		"2 frontends (1 ClusterIP, 1 NodePort); 1 backend not active; 1 frontend without backends",
		"no cilium status recognised",
		"warning: cilium-a [kube-proxy-and-cilium-kpr]: stale?",
		"node-a   cilium-a   kube-proxy-replacement=true (CiliumNodeConfig kube-system/kpr)\n",
		"node-b   -          kube-proxy-replacement-healthz-bind-address=0.0.0.0:10256 (node annotation)\n",
		"warning: node node-b [healthz-port-clash]: kube-proxy and Cilium's KPR healthz bind :10256",
		"note: per-node Cilium configuration resolved without k8s-pods-<ts>.yaml",
		"4 outputs read, 3 recognised, 1 not; 1 agent verdict; per-node configuration of 2 nodes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("no palette, yet escapes (or an unescaped source name):\n%q", out)
	}
	buf.Reset()
	Analyze(&buf, analyzeReport(), Palette{}, true)
	if !strings.Contains(buf.String(), `dump^[[31m.zip!x/cmd/cilium-dbg-status.md`) {
		t.Errorf("wide shows the full source, terminal escapes neutralised:\n%s", buf.String())
	}
	buf.Reset()
	Analyze(&buf, analyzeReport(), Palette{Enabled: true}, false)
	if !strings.Contains(buf.String(), ansiRed+"both"+ansiReset) || !strings.Contains(buf.String(), ansiGreen+"cilium"+ansiReset) {
		t.Errorf("verdicts not colored:\n%q", buf.String())
	}
}

// The streamed JSON must be byte for byte what the generic encoder prints.
func TestAnalyzeJSONMatchesEncoder(t *testing.T) {
	cases := map[string]*report.Analyze{
		"full":       analyzeReport(),
		"no agents":  {Inputs: analyzeReport().Inputs},
		"no inputs":  {Inputs: []report.AnalyzeInput{}},
		"nil inputs": {},
		"one input":  {Inputs: analyzeReport().Inputs[:1], Agents: []report.AnalyzeAgent{}},
		"note only":  {Inputs: []report.AnalyzeInput{}, NodeConfig: &report.AnalyzeNodeConfig{Files: []string{}, Note: "could not be resolved"}},
	}
	for name, rep := range cases {
		var want, got bytes.Buffer
		if err := Structured(&want, FormatJSON, rep); err != nil {
			t.Fatal(err)
		}
		if err := AnalyzeJSON(&got, rep); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%s: streamed JSON differs\n got: %s\nwant: %s", name, got.String(), want.String())
		}
	}
}

// services -o json is streamed per node row; byte for byte the encoder's.
func TestServicesJSONMatchesEncoder(t *testing.T) {
	rows := []report.NodeServices{
		{Node: "n1", CiliumAgent: &report.AgentRef{Pod: "cilium-a", Namespace: "kube-system", Ready: true}, Counts: report.Counts{Expected: 2, Found: 2},
			Frontends: []report.FrontendCheck{{}}, Problems: []report.ServiceProblem{}, Errors: []string{}},
		{Node: "n2 <&>", Frontends: []report.FrontendCheck{}, Errors: []string{"cilium agent kube-system/x: timed out"}},
	}
	cases := map[string]*report.Services{
		"full":      {Namespace: "default", CiliumNamespace: "kube-system", Nodes: rows, Summary: report.ServicesSummary{Nodes: 2, NodesFailed: 1}},
		"no nodes":  {Nodes: []report.NodeServices{}},
		"nil nodes": {},
	}
	for name, rep := range cases {
		var want, got bytes.Buffer
		if err := Structured(&want, FormatJSON, rep); err != nil {
			t.Fatal(err)
		}
		if err := ServicesJSON(&got, rep); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%s: streamed JSON differs\n got: %s\nwant: %s", name, got.String(), want.String())
		}
	}
}
