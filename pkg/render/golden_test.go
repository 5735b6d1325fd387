package render

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/findings"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

// go test ./pkg/render/ -run Golden -update rewrites the golden files.
// Review their diff: a changed JSON or YAML golden is a change of kpr's
// public output (jq scripts, CI checks read it); renaming, retyping or
// removing a field needs a new report.APIVersion.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const goldenDir = "testdata/golden"

// checkGolden compares got with testdata/golden/name (or rewrites it).
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/render/ -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (if on purpose: go test ./pkg/render/ -run Golden -update, and review the diff)\n%s", path, firstDiff(string(want), string(got)))
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n want %q\n  got %q", i+1, w, g)
		}
	}
	return "(same lines, different bytes)"
}

func boolPtr(b bool) *bool { return &b }

// Representative reports, one per document kind: the nodes of the lab
// (Cilium with full KPR, both datapaths, kube-proxy only, a bare node),
// hostile text where cluster data can put it.

func goldenStatus() *report.Status {
	kpTrue := "kube-system/kube-proxy-x1"
	kpBoth := "kube-system/kube-proxy-x2"
	return &report.Status{
		Cilium: report.CiliumInstall{Found: true, Namespace: "kube-system", Version: "1.18.8",
			DaemonSet: &report.DaemonSetStatus{Name: "cilium", Namespace: "kube-system", Desired: 4, Ready: 3, NodeSelector: map[string]string{"kpr.io/cilium": "true"}, Image: "quay.io/cilium/cilium:v1.18.8"},
			Config:    map[string]string{"kube-proxy-replacement": "true", "cni-chaining-mode": "none", "bpf-lb-sock": "true"}},
		KubeProxy: report.KubeProxyInstall{Found: true, Mode: "iptables", ModeFrom: "ConfigMap kube-system/kube-proxy",
			DaemonSet: &report.DaemonSetStatus{Name: "kube-proxy", Namespace: "kube-system", Desired: 2, Ready: 2}, Pods: 2,
			PodsByMode: map[string]int{"iptables": 1, "ipvs": 1}},
		Nodes: []report.NodeStatus{
			{Name: "node-cilium", InternalIP: "172.30.0.11", KernelVersion: "6.8.0-45-generic", OSImage: "Ubuntu 24.04.1 LTS", OS: "linux", Ready: true, Taints: []string{},
				CiliumAgent: &report.AgentRef{Pod: "cilium-a1", Namespace: "kube-system", Ready: true, Source: "cilium-dbg status -o json"},
				KubeProxyReplacement: &report.KPR{Mode: "True", ReplacesKubeProxy: report.ReplacesFull,
					Devices:  []report.KPRDevice{{Name: "eth0", Addresses: []string{"172.30.0.11", "fd00::11"}, DirectRouting: true}, {Name: "eth1", Addresses: []string{"10.1.0.11"}}},
					SocketLB: boolPtr(true), SocketLBHostnsOnly: boolPtr(false), NodePort: boolPtr(true), NodePortMode: "SNAT", NodePortRange: "30000-32767",
					HostPort: boolPtr(true), ExternalIPs: boolPtr(true), XDPAcceleration: "Disabled"},
				CNIChaining: "none", AgentVersion: "1.18.8", ServicesBy: verdict.Cilium, Warnings: []verdict.Warning{}, Errors: []string{},
				NodeConfig: &report.NodeConfig{ReadFrom: "agent", DaemonSet: "kube-system/cilium",
					Sources: []string{"config-map:kube-system/cilium-config", "cilium-node-config:kube-system/kube-proxy-replacement"},
					Keys: []report.ConfigKey{
						{Key: "kube-proxy-replacement", Value: "true", Origin: "CiliumNodeConfig kube-system/kube-proxy-replacement", Found: "agent"},
						{Key: "kube-proxy-replacement-healthz-bind-address", Value: "0.0.0.0:10256", Origin: "CiliumNodeConfig kube-system/kube-proxy-replacement", Found: "agent"},
						{Key: "bpf-lb-sock", Value: "true", Origin: "cilium-config", Found: "agent"},
						{Key: "bpf-lb-algorithm", Value: "random", Origin: "cilium-config", Found: "agent", Configured: strPtr("maglev"), ConfiguredOrigin: "node annotation"},
					},
					Rollout: &report.Rollout{State: "finished", Parts: []report.RolloutPart{{Part: "label", OK: true, Detail: "io.cilium.migration/kube-proxy-replacement=true"}}}}},
			{Name: "node-both", InternalIP: "172.30.0.12", KernelVersion: "6.8.0-45-generic", OSImage: "Ubuntu 24.04.1 LTS", OS: "linux", Ready: true, Taints: []string{},
				CiliumAgent:          &report.AgentRef{Pod: "cilium-b2", Namespace: "kube-system", Ready: true, Source: "cilium-dbg status"},
				KubeProxyReplacement: &report.KPR{Mode: "False", ReplacesKubeProxy: report.ReplacesPartial, Devices: []report.KPRDevice{}, SocketLB: boolPtr(true)},
				CNIChaining:          "generic-veth", AgentVersion: "1.18.8", KubeProxyPod: &kpBoth, KubeProxyMode: "ipvs", ServicesBy: verdict.Both,
				NodeConfig: &report.NodeConfig{ReadFrom: "computed", ReadNote: "the agent has no --config-dir", Sources: []string{}, Keys: []report.ConfigKey{
					{Key: "kube-proxy-replacement", Value: "false", Origin: "node label", Found: "computed"}}},
				Warnings: []verdict.Warning{{Code: "kube-proxy-and-cilium-kpr", Message: "kube-proxy runs next to Cilium's socket-LB <both>"}}, Errors: []string{}},
			{Name: "node-iptables", InternalIP: "172.30.0.13", KernelVersion: "5.15.0", OSImage: "Debian GNU/Linux 12", OS: "linux", Ready: true,
				Taints:       []string{"node-role.kubernetes.io/control-plane:NoSchedule"},
				KubeProxyPod: &kpTrue, KubeProxyMode: "iptables", ServicesBy: verdict.KubeProxyIPTables, Warnings: []verdict.Warning{}, Errors: []string{}},
			{Name: "node-bare\x1b[31m", InternalIP: "172.30.0.14", KernelVersion: "6.1.0", OSImage: "Flatcar", OS: "linux", Taints: []string{},
				CiliumAgent: &report.AgentRef{Pod: "cilium-z9", Namespace: "kube-system"},
				ServicesBy:  verdict.Unknown, Warnings: []verdict.Warning{},
				Errors: []string{"cilium agent kube-system/cilium-z9: exec timed out"}},
		},
		Warnings: []verdict.Warning{{Code: "mixed-kpr", Message: "nodes differ in how they handle Services"}},
	}
}

func goldenServices() *report.Services {
	return &report.Services{Namespace: "default", CiliumNamespace: "kube-system",
		Nodes: []report.NodeServices{
			{Node: "node-cilium", CiliumAgent: &report.AgentRef{Pod: "cilium-a1", Namespace: "kube-system", Ready: true, Source: "cilium-dbg service list -o json"},
				Counts: report.Counts{Expected: 4, Found: 4, OK: 2, Missing: 1, Stale: 1, Mismatch: 1, Unmanaged: 1},
				Frontends: []report.FrontendCheck{
					{Frontend: "10.96.0.10:53", Protocol: "UDP", Type: "ClusterIP", ActualType: "ClusterIP", Service: "kube-system/kube-dns", Port: "dns", CiliumID: 12, Status: report.FrontendOK, BackendCount: 2},
					{Frontend: "[fd00::10]:80", Protocol: "TCP", Type: "ClusterIP", ActualType: "ClusterIP", Internal: true, Service: "default/web", Port: "http", CiliumID: 13, Status: report.FrontendOK, BackendCount: 1},
					{Frontend: "172.30.0.11:31000", Protocol: "TCP", Type: "NodePort", Service: "default/web", Port: "http", Status: report.FrontendMissing, Reason: "not in the agent's table",
						Backends: []report.BackendCheck{{Address: "10.244.1.5:8080", Endpoint: "ready", Status: report.BackendMissing}}},
					{Frontend: "10.96.7.7:443", Protocol: "TCP", Type: "ClusterIP", ActualType: "ClusterIP", CiliumID: 40, Status: report.FrontendStale, BackendCount: 1,
						Backends: []report.BackendCheck{{Address: "10.244.1.9:8443", State: "active", Status: report.BackendExtra}}},
					{Frontend: "10.96.0.20:80", Protocol: "TCP", Type: "LoadBalancer", ActualType: "ClusterIP", Service: "default/lb", CiliumID: 41, Status: report.FrontendMismatch, BackendCount: 1,
						Backends: []report.BackendCheck{{Address: "10.244.1.7:80", State: "terminating", Endpoint: "terminating", Status: report.BackendNotActive}}},
					{Frontend: "0.0.0.0:8080", Protocol: "TCP", Type: "HostPort", ActualType: "HostPort", CiliumID: 50, Status: report.FrontendUnmanaged, Reason: "Cilium-internal (HostPort)", BackendCount: 1},
				},
				Problems: []report.ServiceProblem{
					{Code: report.ProblemMissingFrontend, Service: "default/web", Frontend: "172.30.0.11:31000", Protocol: "TCP", Type: "NodePort", Detail: "missing", Message: "the agent lacks NodePort 172.30.0.11:31000/TCP of default/web"},
					{Code: report.ProblemStaleFrontend, Frontend: "10.96.7.7:443", Protocol: "TCP", Type: "ClusterIP", Detail: "no Service", Message: "no Service explains 10.96.7.7:443/TCP"},
					{Code: report.ProblemWrongType, Service: "default/lb", Frontend: "10.96.0.20:80", Protocol: "TCP", Type: "LoadBalancer", Detail: "ClusterIP, want LoadBalancer", Message: "wrong type"},
					{Code: report.ProblemBackendNotActive, Service: "default/lb", Frontend: "10.96.0.20:80", Protocol: "TCP", Type: "LoadBalancer", Backend: "10.244.1.7:80", State: "terminating", Detail: "terminating", Message: "backend 10.244.1.7:80 is terminating"},
				},
				Errors: []string{}},
			{Node: "node-ok", CiliumAgent: &report.AgentRef{Pod: "cilium-c3", Namespace: "kube-system", Ready: false}, Counts: report.Counts{Expected: 1, Found: 1, OK: 1},
				Frontends: []report.FrontendCheck{{Frontend: "10.96.0.10:53", Protocol: "UDP", Type: "ClusterIP", ActualType: "ClusterIP", Service: "kube-system/kube-dns", CiliumID: 3, Status: report.FrontendOK, BackendCount: 1}},
				Problems:  []report.ServiceProblem{}, Errors: []string{}},
			{Node: "node-gone <&>", CiliumAgent: &report.AgentRef{Pod: "cilium-z9", Namespace: "kube-system"}, Frontends: []report.FrontendCheck{}, Problems: []report.ServiceProblem{},
				Errors: []string{"cilium agent kube-system/cilium-z9: timed out"}},
		},
		Summary: report.ServicesSummary{Nodes: 3, NodesWithProblems: 1, NodesFailed: 1, Problems: 4},
	}
}

func goldenInspect() *report.Inspect {
	iptRules := &report.Rules{
		KubeServiceChains: []string{"KUBE-SVC-ERIFXISQEP7F7OF4", "KUBE-SVC-GONE0000000000000"},
		CiliumChains:      []string{},
		Counts: report.RuleCounts{KubeServices: report.ChainRules{Chains: 1, Rules: 3}, KubeNodePorts: report.ChainRules{Chains: 1, Rules: 1},
			KubeSVC: report.ChainRules{Chains: 2, Rules: 4}, KubeSEP: report.ChainRules{Chains: 3, Rules: 6}, KubeEXT: report.ChainRules{Chains: 1, Rules: 2}},
		KubeProxyChains: []string{"KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-PROXY-CANARY"},
		KubeletChains:   []string{"KUBE-FIREWALL", "KUBE-KUBELET-CANARY"},
		Services: []report.ServiceChain{
			{Chain: "KUBE-SVC-ERIFXISQEP7F7OF4", ServicePort: "kube-system/kube-dns:dns-tcp", Protocol: "tcp", ClusterIP: "10.96.0.10", Port: "53", HashVerified: true},
			{Chain: "KUBE-SVC-GONE0000000000000", ServicePort: "default/gone", Protocol: "tcp", ClusterIP: "10.96.9.9", Port: "80"},
		},
		KubeProxyModes: []string{"iptables"},
		Dumps: []report.RulesDump{
			{Format: "iptables-save", Family: "ipv4", Backend: "nf_tables", Header: "# Generated by iptables-nft-save v1.8.10 (nf_tables)", Tables: []string{"filter", "nat"}, Chains: 30, Rules: 60},
			{Format: "iptables-save", Family: "ipv4", Backend: "legacy", Tables: []string{}, Superseded: true},
		},
		Warnings: []string{"both iptables backends hold rules"},
	}
	ciliumRules := &report.Rules{
		KubeServiceChains: []string{},
		CiliumChains:      []string{"CILIUM_FORWARD", "CILIUM_INPUT", "CILIUM_OUTPUT"},
		CiliumFeeders:     []string{"CILIUM_FORWARD"},
		KubeletChains:     []string{"KUBE-FIREWALL"},
		KubeProxyNFTables: []report.NFTTable{{Family: "ip", Name: "kube-proxy", Chains: 12, Rules: 20, ServiceChains: []string{"service-ULMVA6XW-default/web/tcp/http"}}},
		Other:             []report.OtherMarker{{Implementation: "calico", Chains: []string{"cali-nat-outgoing"}}},
		KubeProxyModes:    []string{"nftables"},
		Dumps:             []report.RulesDump{{Format: "nft", Tables: []string{"ip kube-proxy"}, Chains: 12, Rules: 20}},
		Fragment:          true,
	}
	ipvsRules := &report.Rules{
		KubeServiceChains: []string{}, CiliumChains: []string{},
		IPVS: &report.IPVS{VirtualServices: 1, RealServers: 2, Services: []report.IPVSVirtualService{
			{Protocol: "TCP", Address: "10.96.0.1:443", Scheduler: "rr", Backends: []string{"172.30.0.2:6443", "172.30.0.3:6443"}}}},
		IPVSMatchSets:  3,
		KubeProxyModes: []string{"ipvs"},
		Dumps:          []report.RulesDump{{Format: "ipvsadm", Tables: []string{}}},
	}
	return &report.Inspect{
		Nodes: []report.InspectNode{
			{Name: "node-iptables", RulesSource: "chroot /host", Sources: map[string]string{"iptables-nft": "chroot /host", "ip6tables-legacy": "missing", "nft": "skipped"},
				Netfilter: iptRules, KubeProxyMode: "iptables", KubeProxyPod: "kube-system/kube-proxy-x1",
				StaleServiceChains: []report.StaleChain{{Chain: "KUBE-SVC-GONE0000000000000", ServicePort: "default/gone"}, {Chain: "KUBE-SVC-UNNAMED"}},
				Findings:           []report.Finding{{Code: "stale-kube-proxy-rules", Severity: report.SeverityWarning, Message: "2 KUBE-SVC chains of Services that no longer exist"}},
				Errors:             []string{}},
			{Name: "node-cilium", RulesSource: "chroot /host, image", Sources: map[string]string{"nft": "image"}, Netfilter: ciliumRules, KubeProxyMode: "none",
				CiliumAgent: "kube-system/cilium-a1", CiliumKPR: "full", CiliumKPRFrom: "agent",
				Findings: []report.Finding{{Code: "other-service-implementation", Severity: report.SeverityInfo, Message: "calico's chains <are> here"}},
				Errors:   []string{}},
			{Name: "node-ipvs", RulesSource: "nsenter -t 1 -m -n", Netfilter: ipvsRules, KubeIPVS0: true, KubeProxyMode: "ipvs", Findings: []report.Finding{}, Errors: []string{}},
			{Name: "node-bare", RulesSource: "none", KubeProxyMode: "unknown", Findings: []report.Finding{},
				Errors: []string{"no rules could be read: neither the host nor the image has iptables-save or nft"}},
		},
		Errors: []report.NodeError{{Node: "node-gone", Reason: "debug-pod", Message: "pod did not start: ImagePullBackOff"}},
	}
}

func goldenProbe() *report.Probe {
	return &report.Probe{Mode: "http",
		Results: []report.ProbeResult{
			{From: "node-cilium", Target: "10.96.5.5:80", Kind: "clusterip", Service: "default/web:http", Outcome: "ok", LatencyMs: 0.41, HTTPStatus: 200},
			{From: "node-iptables", Target: "10.96.5.5:80", Kind: "clusterip", Service: "default/web:http", Outcome: "ok", LatencyMs: 1.2, HTTPStatus: 200},
			{From: "node-cilium", Target: "172.30.0.11:31000", Kind: "nodeport-local", Service: "default/web:http", Outcome: "ok", LatencyMs: 0.5, HTTPStatus: 503},
			{From: "node-iptables", Target: "172.30.0.13:31000", Kind: "nodeport-local", Service: "default/web:http", Outcome: "refused", Detail: "connect: connection refused"},
			{From: "node-cilium", Target: "172.30.0.13:31000", Kind: "nodeport-remote", Service: "default/web:http", Via: "node-iptables", Outcome: "timeout", LatencyMs: 2000, Detail: "i/o timeout"},
		},
		Skipped: []string{"default/dns:53/UDP (UDP cannot be probed)"},
		Errors:  []report.NodeError{{Node: "node-gone", Reason: "debug-pod", Message: "pod did not start"}},
	}
}

// goldenDiff is what diff prints for two of the nodes above.
func goldenDiff() *report.Diff {
	st, in, pr := goldenStatus(), goldenInspect(), goldenProbe()
	a := findings.NodeFacts{Name: "node-cilium", Status: &st.Nodes[0], Inspect: &in.Nodes[1], Probes: []report.ProbeResult{pr.Results[0], pr.Results[2], pr.Results[4]}, Probed: true}
	b := findings.NodeFacts{Name: "node-iptables", Status: &st.Nodes[2], Inspect: &in.Nodes[0], Probes: []report.ProbeResult{pr.Results[1], pr.Results[3]}, Probed: true}
	d := findings.Compare(a, b)
	d.Errors = []report.NodeError{{Node: "node-iptables", Reason: "probe", Message: "one probe failed to run"}}
	return d
}

func goldenCleanup() *report.Cleanup {
	return &report.Cleanup{DryRun: true,
		Deleted: []report.CleanedPod{
			{Namespace: "kube-system", Name: "kpr-node-cilium-abcde", Node: "node-cilium", RunID: "r1", Phase: "Running", Age: "3m"},
			{Namespace: "default", Name: "kpr-x", Age: "2d"},
		},
		Namespaces:  []report.CleanedNamespace{{Name: "kpr-verify-abcde", RunID: "r2", Phase: "Active", Age: "1h"}},
		Controllers: []report.CleanedController{{Kind: "DaemonSet", Namespace: "kube-system", Name: "kpr-ds-r3", RunID: "r3", Age: "5m"}, {Kind: "Job", Namespace: "kube-system", Name: "kpr-anchor-r3", Age: "5m"}},
		Errors:      []string{"pod default/kpr-y: forbidden"},
	}
}

func goldenVersion() *report.Version {
	return &report.Version{Version: "v0.9.0", Commit: "0123abc", Date: "2026-01-02T03:04:05Z", GoVersion: "go1.26.0", Platform: "linux/amd64"}
}

type goldenCase struct {
	name string
	kind string
	doc  func() report.Document
	// stream is a command's streaming JSON writer, if it has one: its
	// output must be the JSON golden too.
	stream func(io.Writer, report.Document) error
	// texts are the terminal renderings, by golden file suffix.
	texts map[string]func(io.Writer, report.Document) error
}

func goldenCases() []goldenCase {
	p := Palette{}
	return []goldenCase{
		{name: "status", kind: report.KindStatus, doc: func() report.Document { return goldenStatus() },
			texts: map[string]func(io.Writer, report.Document) error{
				"txt":      func(w io.Writer, d report.Document) error { return Status(w, d.(*report.Status), p, false) },
				"wide.txt": func(w io.Writer, d report.Document) error { return Status(w, d.(*report.Status), p, true) },
			}},
		{name: "services", kind: report.KindServices, doc: func() report.Document { return goldenServices() },
			stream: func(w io.Writer, d report.Document) error { return ServicesJSON(w, d.(*report.Services)) },
			texts: map[string]func(io.Writer, report.Document) error{
				"txt":      func(w io.Writer, d report.Document) error { return Services(w, d.(*report.Services), p, false) },
				"wide.txt": func(w io.Writer, d report.Document) error { return Services(w, d.(*report.Services), p, true) },
			}},
		{name: "inspect", kind: report.KindInspect, doc: func() report.Document { return goldenInspect() },
			texts: map[string]func(io.Writer, report.Document) error{
				"txt": func(w io.Writer, d report.Document) error {
					return Inspect(w, d.(*report.Inspect), p, InspectOptions{})
				},
				"wide.txt": func(w io.Writer, d report.Document) error {
					return Inspect(w, d.(*report.Inspect), p, InspectOptions{Wide: true})
				},
			}},
		{name: "probe", kind: report.KindProbe, doc: func() report.Document { return goldenProbe() },
			texts: map[string]func(io.Writer, report.Document) error{
				"txt": func(w io.Writer, d report.Document) error {
					return Probe(w, d.(*report.Probe), []string{"node-cilium", "node-iptables"}, p)
				},
			}},
		{name: "diff", kind: report.KindDiff, doc: func() report.Document { return goldenDiff() },
			texts: map[string]func(io.Writer, report.Document) error{
				"txt": func(w io.Writer, d report.Document) error { return Diff(w, d.(*report.Diff), p) },
			}},
		{name: "verify", kind: report.KindVerify, doc: func() report.Document { return verifyResult() },
			texts: map[string]func(io.Writer, report.Document) error{
				"txt":       func(w io.Writer, d report.Document) error { return Verify(w, d.(*report.Verify), p) },
				"md":        func(w io.Writer, d report.Document) error { return Markdown(w, d.(*report.Verify)) },
				"junit.xml": func(w io.Writer, d report.Document) error { return JUnit(w, d.(*report.Verify)) },
			}},
		{name: "analyze", kind: report.KindAnalyze, doc: func() report.Document { return analyzeReport() },
			stream: func(w io.Writer, d report.Document) error { return AnalyzeJSON(w, d.(*report.Analyze)) },
			texts: map[string]func(io.Writer, report.Document) error{
				"txt":      func(w io.Writer, d report.Document) error { return Analyze(w, d.(*report.Analyze), p, false) },
				"wide.txt": func(w io.Writer, d report.Document) error { return Analyze(w, d.(*report.Analyze), p, true) },
			}},
		{name: "cleanup", kind: report.KindCleanup, doc: func() report.Document { return goldenCleanup() },
			texts: map[string]func(io.Writer, report.Document) error{
				"txt": func(w io.Writer, d report.Document) error { return Cleanup(w, d.(*report.Cleanup), p) },
			}},
		{name: "version", kind: report.KindVersion, doc: func() report.Document { return goldenVersion() }},
	}
}

// Each document kind, as JSON, YAML and text, is what the golden files
// hold: JSON and YAML are kpr's public output.
func TestGoldenDocuments(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			var js, ys bytes.Buffer
			if err := Structured(&js, FormatJSON, c.doc()); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, c.name+".json", js.Bytes())
			if c.stream != nil {
				var s bytes.Buffer
				if err := c.stream(&s, c.doc()); err != nil {
					t.Fatal(err)
				}
				if s.String() != js.String() {
					t.Errorf("streamed JSON differs from Structured's:\n%s", firstDiff(js.String(), s.String()))
				}
			}
			if err := Structured(&ys, FormatYAML, c.doc()); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, c.name+".yaml", ys.Bytes())
			for suffix, text := range c.texts {
				var b bytes.Buffer
				if err := text(&b, c.doc()); err != nil {
					t.Fatal(err)
				}
				checkGolden(t, c.name+"."+suffix, b.Bytes())
			}
		})
	}
}

// fillAll sets every exported field reachable from v: strings to their
// field's Go name, numbers to 1 (1.5 when fractional), bools to true,
// pointers to filled values, slices to one filled element, maps to one
// filled entry. The values depend on nothing but the field, so adding a
// field adds lines to a schema golden and changes no other.
func fillAll(v reflect.Value, name string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(name)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillAll(p.Elem(), name)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fillAll(s.Index(0), name)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillAll(k, name+"Key")
		fillAll(e, name)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() {
				fillAll(v.Field(i), f.Name)
			}
		}
	default:
		panic("fillAll: a report holds a " + v.Kind().String() + ": teach fillAll about it")
	}
}

// Every field of every document, filled: its golden pins each JSON name
// and type (string, number, bool, object, array), omitempty fields
// included. A parser refactor cannot change it (reports own their types);
// a change of a report type shows here.
func TestGoldenSchema(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			d := c.doc()
			v := reflect.New(reflect.TypeOf(d).Elem())
			fillAll(v.Elem(), "")
			var b bytes.Buffer
			if err := Structured(&b, FormatJSON, v.Interface().(report.Document)); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, c.name+".schema.json", b.Bytes())
		})
	}
}

// Every document's JSON and YAML start with apiVersion, then kind; zero
// values too, and the streamed JSON.
func TestDocumentsStartWithAPIVersionAndKind(t *testing.T) {
	seen := map[string]string{}
	for _, c := range goldenCases() {
		if prev, ok := seen[c.kind]; ok {
			t.Errorf("%s and %s share kind %s", prev, c.name, c.kind)
		}
		seen[c.kind] = c.name
		wantJSON := "{\n  \"apiVersion\": \"" + report.APIVersion + "\",\n  \"kind\": \"" + c.kind + "\",\n  \""
		wantYAML := "apiVersion: " + report.APIVersion + "\nkind: " + c.kind + "\n"
		zero := reflect.New(reflect.TypeOf(c.doc()).Elem()).Interface().(report.Document)
		for name, d := range map[string]report.Document{"fixture": c.doc(), "zero": zero} {
			var js, ys bytes.Buffer
			if err := Structured(&js, FormatJSON, d); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(js.String(), wantJSON) {
				t.Errorf("%s %s JSON starts %q, want %q", c.name, name, head(js.String()), wantJSON)
			}
			if strings.Count(js.String(), `"apiVersion"`) != 1 {
				t.Errorf("%s %s JSON: apiVersion more than once", c.name, name)
			}
			if err := Structured(&ys, FormatYAML, d); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(ys.String(), wantYAML) || strings.Count(ys.String(), "\nkind: ") != 1 || strings.Contains(ys.String(), "\napiVersion:") {
				t.Errorf("%s %s YAML starts %q, want %q (once)", c.name, name, head(ys.String()), wantYAML)
			}
			if c.stream != nil {
				var s bytes.Buffer
				if err := c.stream(&s, d); err != nil {
					t.Fatal(err)
				}
				if s.String() != js.String() {
					t.Errorf("%s %s: streamed JSON differs from Structured's:\n%s", c.name, name, firstDiff(js.String(), s.String()))
				}
			}
		}
	}
	// Every type of pkg/interpret/report that embeds TypeMeta is a case
	// above: a new document kind cannot miss its goldens.
	var docs []string
	fset := token.NewFileSet()
	files, err := filepath.Glob("../interpret/report/*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			if st, ok := ts.Type.(*ast.StructType); ok {
				for _, f := range st.Fields.List {
					if id, ok := f.Type.(*ast.Ident); ok && len(f.Names) == 0 && id.Name == "TypeMeta" {
						docs = append(docs, ts.Name.Name)
					}
				}
			}
			return true
		})
	}
	var cased []string
	for _, c := range goldenCases() {
		cased = append(cased, reflect.TypeOf(c.doc()).Elem().Name())
	}
	sort.Strings(docs)
	sort.Strings(cased)
	if strings.Join(docs, ",") != strings.Join(cased, ",") {
		t.Errorf("documents in pkg/interpret/report: %v; golden cases: %v", docs, cased)
	}
}

// YAML is sigs.k8s.io/yaml's, byte for byte, except that apiVersion and
// kind are moved from where they sort to the top.
func TestYAMLOnlyMovesTypeMeta(t *testing.T) {
	for _, c := range goldenCases() {
		d := c.doc()
		var got bytes.Buffer
		if err := Structured(&got, FormatYAML, d); err != nil {
			t.Fatal(err)
		}
		plain, err := yaml.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(plain), "\n")
		var kept []string
		for _, l := range lines {
			if l != "apiVersion: "+report.APIVersion+"\n" && l != "kind: "+c.kind+"\n" {
				kept = append(kept, l)
			}
		}
		want := "apiVersion: " + report.APIVersion + "\nkind: " + c.kind + "\n" + strings.Join(kept, "")
		if got.String() != want {
			t.Errorf("%s: YAML is not sigs.k8s.io/yaml's with apiVersion and kind moved up:\n%s", c.name, firstDiff(want, got.String()))
		}
	}
}

func head(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}

func strPtr(s string) *string { return &s }
