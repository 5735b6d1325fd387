package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// labNode is what the lab's scenario (lab/README.md, lab/config.env) makes
// of one node, as kpr must report it.
type labNode struct {
	servicesBy string
	// warnings are status's warning codes for the node, exactly.
	warnings []string
	ready    bool
	// Cilium agent: the release its CLI speaks, the binary it answers to
	// (the first one kpr tries, cilium-dbg, is missing before 1.15), the
	// KPR mode it reports and whether its pod is Ready.
	release, binary, mode string
	agentReady            bool
	// realAgent: a real cilium-agent built from Cilium's source runs on the
	// node (lab/cilium-agent.sh), not the stand-in.
	realAgent bool
	// kube-proxy: the mode its pod runs in ("" = no kube-proxy pod).
	proxyMode string
	// inspect: kube-proxy rules (KUBE-SVC chains or kube-proxy's nft
	// table), Cilium's iptables chains, /proxyMode, findings (exactly).
	kubeRules, ciliumChains bool
	proxyModeAnswer         string
	findings                []string
}

var labScenario = map[string]labNode{
	"node-cilium": {servicesBy: "cilium", ready: true, release: "1.18.8", binary: "cilium-dbg", mode: "True", agentReady: true,
		realAgent: true, ciliumChains: true, proxyModeAnswer: "none"},
	"node-iptables": {servicesBy: "kube-proxy-iptables", ready: true, proxyMode: "iptables",
		kubeRules: true, proxyModeAnswer: "iptables"},
	"node-bare": {servicesBy: "none", warnings: []string{"no-service-datapath"}, ready: true,
		proxyModeAnswer: "none", findings: []string{"no-service-datapath"}},
	// Labelled for the documented per-node KPR rollout (lab/README.md,
	// "Per-node configuration"), with kube-proxy's rules left behind.
	"node-stale": {servicesBy: "cilium", warnings: []string{"kpr-rollout-inconsistent"}, ready: true, release: "1.20.2", binary: "cilium-dbg", mode: "True", agentReady: true,
		realAgent: true, kubeRules: true, ciliumChains: true, proxyModeAnswer: "none", findings: []string{"stale-kube-proxy-rules"}},
	// A 1.12 agent in Partial mode next to kube-proxy; cilium-config says
	// "true", so the agent does not do what the config asks; a
	// CiliumNodeConfig its DaemonSet (cilium-legacy) never reads.
	"node-partial": {servicesBy: "partial", warnings: []string{"node-config-ignored", "config-kpr-agent-disabled"}, ready: true,
		release: "1.12.19", binary: "cilium", mode: "Partial", agentReady: true, proxyMode: "iptables",
		kubeRules: true, ciliumChains: true, proxyModeAnswer: "iptables", findings: []string{"kube-proxy-and-cilium-kpr"}},
	// k3s' case: full KPR and an embedded kube-proxy nobody disabled; the
	// node's annotation gives the agent kube-proxy's healthz address.
	"node-both": {servicesBy: "both", warnings: []string{"healthz-port-clash", "kube-proxy-and-cilium-kpr"}, ready: true,
		release: "1.20.2", binary: "cilium-dbg", mode: "True", agentReady: true, proxyMode: "iptables",
		realAgent: true, kubeRules: true, ciliumChains: true, proxyModeAnswer: "iptables", findings: []string{"kube-proxy-and-cilium-kpr"}},
	"node-ipvs": {servicesBy: "kube-proxy-ipvs", ready: true, proxyMode: "ipvs",
		kubeRules: true, proxyModeAnswer: "ipvs"},
	"node-nftables": {servicesBy: "kube-proxy-nftables", ready: true, proxyMode: "nftables",
		kubeRules: true, proxyModeAnswer: "nftables"},
	// cilium-config says true, the agent (not restarted after the Helm
	// upgrade) says False, and kube-proxy is already gone; a
	// CiliumNodeConfig created after its pod is not in effect.
	"node-kpr-off": {servicesBy: "none", warnings: []string{"node-config-not-applied", "config-kpr-agent-disabled"}, ready: true,
		release: "1.18.8", binary: "cilium-dbg", mode: "False", agentReady: true,
		realAgent: true, ciliumChains: true, proxyModeAnswer: "none"},
	"node-agent-unready": {servicesBy: "cilium", warnings: []string{"agent-not-ready"}, ready: true,
		release: "1.16.19", binary: "cilium-dbg", mode: "True", agentReady: false,
		ciliumChains: true, proxyModeAnswer: "none"},
	// Never Ready, no agent, an old kernel in its node object.
	"node-notready": {servicesBy: "none", warnings: []string{"no-service-datapath", "kernel-too-old-for-kpr"}},
}

// labSkipped are the nodes lab-up left out, with the reason
// (.lab/skipped-nodes: node-ipvs when the kernel has no IPVS).
func labSkipped(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	b, err := os.ReadFile(filepath.Join(repoRoot(), ".lab", "skipped-nodes"))
	if err != nil {
		return out
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if name, why, ok := strings.Cut(line, "\t"); ok {
			out[name] = why
		}
	}
	return out
}

// forEachLabNode runs f for every scenario node as a subtest; nodes the
// lab left out are skipped with the lab's reason.
func forEachLabNode(t *testing.T, f func(t *testing.T, name string, want labNode)) {
	skipped := labSkipped(t)
	names := make([]string, 0, len(labScenario))
	for name := range labScenario {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if why, ok := skipped[name]; ok {
				t.Skipf("the lab left %s out: %s", name, why)
			}
			f(t, name, labScenario[name])
		})
	}
}

func sortedCopy(xs []string) []string {
	out := append([]string{}, xs...)
	sort.Strings(out)
	return out
}

func sameSet(a, b []string) bool {
	return strings.Join(sortedCopy(a), ",") == strings.Join(sortedCopy(b), ",")
}

type scenarioStatusJSON struct {
	Nodes []struct {
		Name        string `json:"name"`
		Ready       bool   `json:"ready"`
		CiliumAgent *struct {
			Ready  bool   `json:"ready"`
			Source string `json:"source"`
		} `json:"ciliumAgent"`
		KubeProxyReplacement *struct {
			Mode string `json:"mode"`
		} `json:"kubeProxyReplacement"`
		AgentVersion  string `json:"agentVersion"`
		KubeProxyMode string `json:"kubeProxyMode"`
		ServicesBy    string `json:"servicesBy"`
		Warnings      []struct {
			Code string `json:"code"`
		} `json:"warnings"`
		Errors []string `json:"errors"`
	} `json:"nodes"`
	Warnings []struct {
		Code string `json:"code"`
	} `json:"warnings"`
}

// Every node's verdict, warnings, agent release and binary, and kube-proxy
// mode, from one `status -o json`.
func TestScenarioStatusEveryNode(t *testing.T) {
	needLab(t)
	var s scenarioStatusJSON
	mustJSON(t, kpr(t, "status", "-o", "json"), &s)
	rows := map[string]int{}
	for i, n := range s.Nodes {
		rows[n.Name] = i
	}
	forEachLabNode(t, func(t *testing.T, name string, want labNode) {
		i, ok := rows[name]
		if !ok {
			t.Fatalf("no status row for %s", name)
		}
		n := s.Nodes[i]
		if n.ServicesBy != want.servicesBy {
			t.Errorf("servicesBy = %q, want %q (errors %v)", n.ServicesBy, want.servicesBy, n.Errors)
		}
		var codes []string
		for _, w := range n.Warnings {
			codes = append(codes, w.Code)
		}
		if !sameSet(codes, want.warnings) {
			t.Errorf("warnings = %v, want %v", codes, want.warnings)
		}
		if n.Ready != want.ready {
			t.Errorf("ready = %v, want %v", n.Ready, want.ready)
		}
		if len(n.Errors) > 0 {
			t.Errorf("errors: %v", n.Errors)
		}
		if want.release == "" {
			if n.CiliumAgent != nil {
				t.Errorf("ciliumAgent = %+v, want none", n.CiliumAgent)
			}
		} else {
			if n.CiliumAgent == nil {
				t.Fatalf("no ciliumAgent, want one speaking %s", want.release)
			}
			if n.CiliumAgent.Ready != want.agentReady {
				t.Errorf("agent ready = %v, want %v", n.CiliumAgent.Ready, want.agentReady)
			}
			if !strings.HasPrefix(n.AgentVersion, want.release) {
				t.Errorf("agentVersion = %q, want %s", n.AgentVersion, want.release)
			}
			if !strings.HasPrefix(n.CiliumAgent.Source, want.binary+" ") {
				t.Errorf("read with %q, want the %s binary", n.CiliumAgent.Source, want.binary)
			}
			if k := n.KubeProxyReplacement; k == nil || k.Mode != want.mode {
				t.Errorf("kubeProxyReplacement = %+v, want mode %s", k, want.mode)
			}
		}
		if n.KubeProxyMode != want.proxyMode {
			t.Errorf("kubeProxyMode = %q, want %q", n.KubeProxyMode, want.proxyMode)
		}
	})
	var cluster []string
	for _, w := range s.Warnings {
		cluster = append(cluster, w.Code)
	}
	if !hasString(cluster, "cilium-daemonset-not-ready") {
		t.Errorf("cluster warnings %v lack cilium-daemonset-not-ready (node-agent-unready's agent)", cluster)
	}
}

// Every node's rules as inspect reads them through a debug pod; the
// NotReady node is named with the reason, the others still come.
func TestScenarioInspectEveryNode(t *testing.T) {
	needLab(t)
	r := kpr(t, "inspect", "--all-nodes", "-o", "json")
	if r.code != 1 || !strings.Contains(r.stderr, `could not be read (see "errors" in the output)`) {
		t.Errorf("inspect --all-nodes -o json: want exit 1 pointing at the document's errors, got %s", r)
	}
	var got struct {
		Nodes []struct {
			Name      string `json:"name"`
			Netfilter *struct {
				KubeServiceChains []string `json:"kubeServiceChains"`
				CiliumChains      []string `json:"ciliumChains"`
				KubeProxyModes    []string `json:"kubeProxyModes"`
			} `json:"netfilter"`
			KubeProxyMode string `json:"kubeProxyMode"`
			Findings      []struct {
				Code string `json:"code"`
			} `json:"findings"`
		} `json:"nodes"`
		Errors []struct {
			Node    string `json:"node"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	mustJSON(t, result{code: 0, stdout: r.stdout, stderr: r.stderr}, &got)
	rows := map[string]int{}
	for i, n := range got.Nodes {
		rows[n.Name] = i
	}
	forEachLabNode(t, func(t *testing.T, name string, want labNode) {
		i, ok := rows[name]
		if !want.ready {
			if ok {
				t.Errorf("inspected a NotReady node")
			}
			named := false
			for _, e := range got.Errors {
				named = named || (e.Node == name && e.Reason == "NodeNotReady" && strings.Contains(e.Message, "fix the node or leave it out"))
			}
			if !named {
				t.Errorf("errors %+v do not name %s as NodeNotReady with what to do", got.Errors, name)
			}
			return
		}
		if !ok {
			t.Fatalf("no inspect row for %s", name)
		}
		n := got.Nodes[i]
		if n.Netfilter == nil {
			t.Fatalf("no netfilter summary")
		}
		kubeRules := len(n.Netfilter.KubeServiceChains) > 0 || hasString(n.Netfilter.KubeProxyModes, "nftables") || hasString(n.Netfilter.KubeProxyModes, "ipvs")
		if kubeRules != want.kubeRules {
			t.Errorf("kube-proxy rules present = %v (KUBE-SVC chains %d, modes %v), want %v", kubeRules, len(n.Netfilter.KubeServiceChains), n.Netfilter.KubeProxyModes, want.kubeRules)
		}
		if want.proxyMode != "" && !hasString(n.Netfilter.KubeProxyModes, want.proxyMode) {
			t.Errorf("rule modes %v lack %s", n.Netfilter.KubeProxyModes, want.proxyMode)
		}
		if has := len(n.Netfilter.CiliumChains) > 0; has != want.ciliumChains {
			t.Errorf("Cilium chains %v, want present=%v", n.Netfilter.CiliumChains, want.ciliumChains)
		}
		if n.KubeProxyMode != want.proxyModeAnswer {
			t.Errorf("/proxyMode = %q, want %q", n.KubeProxyMode, want.proxyModeAnswer)
		}
		var codes []string
		for _, f := range n.Findings {
			codes = append(codes, f.Code)
		}
		if !sameSet(codes, want.findings) {
			t.Errorf("findings %v, want %v", codes, want.findings)
		}
	})
}

// Every agent's service table, read in its own release's format, matches
// the cluster.
func TestScenarioServicesEveryRelease(t *testing.T) {
	needLab(t)
	var s servicesJSON
	mustJSON(t, kpr(t, "services", "-n", "kube-system", "-o", "json"), &s)
	seen := map[string]bool{}
	for _, n := range s.Nodes {
		seen[n.Node] = true
		if len(n.Errors) > 0 {
			t.Errorf("%s: errors %v", n.Node, n.Errors)
		}
		for _, p := range n.Problems {
			// node-kpr-off's agent runs without KPR although cilium-config
			// asks for it: it has its ClusterIPs but none of the NodePort
			// frontends the config implies, and kpr must say so.
			if n.Node == "node-kpr-off" && p.Code == "missing-frontend" && (strings.HasSuffix(p.Frontend, ":30080") || strings.HasSuffix(p.Frontend, ":30081")) {
				continue
			}
			t.Errorf("%s: problem %+v", n.Node, p)
		}
		// Its real 1.18.8 agent would list each NodePort once, as
		// 0.0.0.0:PORT (no node-address rows from 1.18): two missing.
		if n.Node == "node-kpr-off" && len(n.Problems) != 2 {
			t.Errorf("node-kpr-off: problems %+v, want its 2 NodePort frontends (0.0.0.0:PORT, two Services) missing", n.Problems)
		}
	}
	forEachLabNode(t, func(t *testing.T, name string, want labNode) {
		if want.release != "" && !seen[name] {
			t.Errorf("services did not read the %s agent on %s", want.release, name)
		}
	})
}

// agent-kpr-false needs cilium-config NOT asking for KPR, which the lab's
// does: for this test only, cilium-config says "false", and node-kpr-off
// (agent ready, KPR False, no kube-proxy) must say so. The agent reads
// cilium-config through its pod's config init container (build-config,
// lab/README.md "Per-node configuration"), so the patch reaches it only
// with a re-created pod; the late CiliumNodeConfig node-kpr-off-sock would
// then be in effect too: it is taken away for the test, and afterwards the
// pod is re-created again and the CNC put back, newer than the pod, as
// lab-up leaves them.
func TestScenarioAgentKPRFalseWhenConfigOff(t *testing.T) {
	needLab(t)
	patch := func(v string) result {
		return kubectl(t, "-n", "kube-system", "patch", "configmap", "cilium-config", "--type", "merge",
			"-p", `{"data":{"kube-proxy-replacement":"`+v+`"}}`)
	}
	lateCNC := filepath.Join(repoRoot(), "lab", "manifests", "node-config-late.yaml")
	if r := kubectl(t, "delete", "-f", lateCNC, "--ignore-not-found"); r.code != 0 {
		t.Fatalf("deleting the late CNC: %s", r)
	}
	if r := patch("false"); r.code != 0 {
		t.Fatalf("patching cilium-config: %s", r)
	}
	t.Cleanup(func() {
		if r := patch("true"); r.code != 0 {
			t.Errorf("restoring cilium-config: %s", r)
		}
		recreateAgentPod(t, "node-kpr-off", "true")
		if r := kubectl(t, "apply", "-f", lateCNC); r.code != 0 {
			t.Errorf("re-creating the late CNC: %s", r)
		}
	})
	recreateAgentPod(t, "node-kpr-off", "false")
	var s scenarioStatusJSON
	mustJSON(t, kpr(t, "status", "-o", "json", "--node", "node-kpr-off"), &s)
	if len(s.Nodes) != 1 {
		t.Fatalf("rows %+v", s.Nodes)
	}
	var codes []string
	for _, w := range s.Nodes[0].Warnings {
		codes = append(codes, w.Code)
	}
	if !sameSet(codes, []string{"agent-kpr-false"}) || s.Nodes[0].ServicesBy != "none" {
		t.Errorf("node-kpr-off with cilium-config false: servicesBy %q, warnings %v; want none, [agent-kpr-false]", s.Nodes[0].ServicesBy, codes)
	}
}

// recreateAgentPod deletes NODE's Cilium agent pod and waits until the
// DaemonSet's new pod runs a real agent again whose config dir (written by
// build-config when the lab restarted it, lab/node-init.sh) has
// kube-proxy-replacement = kpr.
func recreateAgentPod(t *testing.T, node, kpr string) {
	t.Helper()
	old := podOn(t, "k8s-app=cilium", node)
	// The agent restarts a little after its new pod appears (the lab polls
	// the pod's UID): wait for a config dir written after the deletion,
	// not just for the new pod, or the old agent may still answer.
	deleted := time.Now().Unix()
	if r := kubectl(t, "delete", "pod", "-n", "kube-system", old, "--wait=false"); r.code != 0 {
		t.Fatalf("deleting %s: %s", old, r)
	}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		r := kubectl(t, "get", "pods", "-n", "kube-system", "-l", "k8s-app=cilium", "--field-selector", "spec.nodeName="+node,
			"-o", `go-template={{range .items}}{{if not .metadata.deletionTimestamp}}{{.metadata.name}}{{"\n"}}{{end}}{{end}}`)
		pod := strings.TrimSpace(r.stdout)
		if r.code != 0 || pod == "" || pod == old || strings.Contains(pod, "\n") {
			continue
		}
		if c := execIn(t, pod, "cilium-agent", "cat", "/tmp/cilium/config-map/kube-proxy-replacement"); c.code != 0 || c.stdout != kpr {
			continue
		}
		ls := strings.Fields(execIn(t, pod, "cilium-agent", "ls", "-ld", "--time-style=+%s", "/tmp/cilium/config-map").stdout)
		if len(ls) < 6 {
			continue
		}
		if built, err := strconv.ParseInt(ls[5], 10, 64); err != nil || built < deleted {
			continue
		}
		if execIn(t, pod, "cilium-agent", "cilium-dbg", "status", "--brief").code == 0 {
			return
		}
	}
	t.Fatalf("%s: no agent with kube-proxy-replacement=%s in its config dir 90 s after deleting its pod %s", node, kpr, old)
}
