package e2e

import (
	"strings"
	"testing"
	"time"
)

// The debug-pod commands (inspect, probe, diff, cleanup) against the lab.
// Each debug pod runs on a kwok node: its exec'd dump script runs in that
// node's network, PID and mount namespaces, with the machine's root at
// /host (lab/node-init.sh), so `chroot /host iptables-save` reads the
// node's own rules.

const kprPodSelector = "app.kubernetes.io/managed-by=kubectl-kpr"

type inspectJSON struct {
	Nodes []struct {
		Name        string `json:"name"`
		RulesSource string `json:"rulesSource"`
		Netfilter   *struct {
			KubeServiceChains []string `json:"kubeServiceChains"`
			CiliumChains      []string `json:"ciliumChains"`
			KubeProxyModes    []string `json:"kubeProxyModes"`
			Counts            struct {
				KubeNodePorts struct{ Rules int } `json:"kubeNodePorts"`
			} `json:"counts"`
		} `json:"netfilter"`
		KubeProxyMode string `json:"kubeProxyMode"`
		Findings      []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"findings"`
	} `json:"nodes"`
}

func findingCodes(fs []struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code)
	}
	return out
}

func hasString(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// kprPodsLeft (pods, and daemonset mode's DaemonSets and Jobs) lists kpr's pods in all namespaces.
func kprPodsLeft(t *testing.T) []string {
	t.Helper()
	r := kubectl(t, "get", "pods,daemonsets,jobs", "-A", "-l", kprPodSelector, "-o", "name")
	if r.code != 0 {
		t.Fatalf("listing kpr pods: %s", r)
	}
	return strings.Fields(r.stdout)
}

// waitNoKprPods waits until no kpr pod is left (deletion is immediate with
// grace 0, but the API may take a moment).
func waitNoKprPods(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		left := kprPodsLeft(t)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kpr pods left behind: %v", left)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestInspectScenarioNodes(t *testing.T) {
	needLab(t)
	r := kpr(t, "inspect", "node-cilium", "node-iptables", "node-bare", "node-stale", "-o", "json")
	var rep inspectJSON
	mustJSON(t, r, &rep)
	if len(rep.Nodes) != 4 {
		t.Fatalf("%d nodes in the report, want 4:\n%s", len(rep.Nodes), r)
	}
	for _, n := range rep.Nodes {
		codes := findingCodes(n.Findings)
		if n.Netfilter == nil {
			t.Errorf("%s: no netfilter summary", n.Name)
			continue
		}
		if n.RulesSource != "chroot /host" {
			t.Errorf("%s: rulesSource %q, want the host's own binaries (chroot /host)", n.Name, n.RulesSource)
		}
		svc := len(n.Netfilter.KubeServiceChains)
		switch n.Name {
		case "node-iptables":
			if svc == 0 || !hasString(n.Netfilter.KubeProxyModes, "iptables") || n.KubeProxyMode != "iptables" {
				t.Errorf("node-iptables: want kube-proxy iptables rules and proxyMode iptables, got %d KUBE-SVC chains, modes %v, proxyMode %q", svc, n.Netfilter.KubeProxyModes, n.KubeProxyMode)
			}
			if hasString(codes, "stale-kube-proxy-rules") || hasString(codes, "no-service-datapath") {
				t.Errorf("node-iptables: unexpected findings %v", n.Findings)
			}
		case "node-cilium":
			if svc != 0 || n.KubeProxyMode != "none" {
				t.Errorf("node-cilium: want no KUBE-SVC chains and no kube-proxy, got %d chains, proxyMode %q", svc, n.KubeProxyMode)
			}
			if hasString(codes, "no-service-datapath") || hasString(codes, "stale-kube-proxy-rules") {
				t.Errorf("node-cilium: unexpected findings %v", n.Findings)
			}
		case "node-bare":
			if svc != 0 || !hasString(codes, "no-service-datapath") {
				t.Errorf("node-bare: want no KUBE-SVC chains and no-service-datapath, got %d chains, findings %v", svc, codes)
			}
		case "node-stale":
			if svc == 0 || !hasString(codes, "stale-kube-proxy-rules") {
				t.Errorf("node-stale: want leftover KUBE-SVC chains flagged stale-kube-proxy-rules, got %d chains, findings %v", svc, codes)
			}
		}
	}
	waitNoKprPods(t)
}

func TestInspectTableAndRaw(t *testing.T) {
	needLab(t)
	r := kpr(t, "inspect", "node-stale", "--raw")
	if r.code != 0 {
		t.Fatalf("inspect failed: %s", r)
	}
	for _, want := range []string{"RULES FROM", "node-stale", "stale-kube-proxy-rules:", "=== node-stale: iptables-nft", "KUBE-NODEPORTS"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	waitNoKprPods(t)
}

func TestInspectAllNodesAndUnknownNode(t *testing.T) {
	needLab(t)
	// node-notready cannot run a debug pod: exit 1, the others still come.
	r := kpr(t, "inspect", "--all-nodes", "-o", "yaml")
	if want := len(labNodeNames(t)) - 1; r.code != 1 || strings.Count(r.stdout, "  name: node-") < want || !strings.Contains(r.stdout, "node: node-notready") {
		t.Errorf("--all-nodes: want exit 1, %d nodes and node-notready among the errors: %s", want, r)
	}
	r = kpr(t, "inspect", "node-cilum")
	if r.code == 0 || !strings.Contains(r.stderr, "did you mean node-cilium") {
		t.Errorf("unknown node: want a did-you-mean error, got %s", r)
	}
	noStackTrace(t, r)
	waitNoKprPods(t)
}

// SIMULATION: kwok never pulls images, so the lab's kwok stage
// lab/kwok-stages/pod-image-pull-failure.yaml makes pods with this image
// report ErrImagePull the way a kubelet does. What is tested is kpr's side:
// it notices the waiting reason at once, explains it, and deletes the pod.
func TestInspectImagePullFailureFailsFast(t *testing.T) {
	needLab(t)
	start := time.Now()
	r := kpr(t, "inspect", "node-cilium", "--image", "kpr.invalid/simulated-pull-failure:v0", "--timeout", "60s")
	took := time.Since(start)
	if r.code == 0 {
		t.Fatalf("want failure, got %s", r)
	}
	for _, want := range []string{"ImagePull", "ErrImagePull", "--image"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r)
		}
	}
	if took > 30*time.Second {
		t.Errorf("took %s: an image pull failure must fail fast, not wait for --timeout", took)
	}
	noStackTrace(t, r)
	waitNoKprPods(t)
}

// The real API server's PodSecurity admission rejects the privileged debug
// pod in a namespace that enforces "baseline".
func TestInspectPodSecurityRejection(t *testing.T) {
	needLab(t)
	const ns = "kpr-e2e-baseline"
	kubectl(t, "delete", "namespace", ns, "--ignore-not-found", "--wait=false")
	if r := kubectl(t, "create", "namespace", ns); r.code != 0 {
		t.Fatalf("create namespace: %s", r)
	}
	t.Cleanup(func() { kubectl(t, "delete", "namespace", ns, "--wait=false") })
	if r := kubectl(t, "label", "namespace", ns, "pod-security.kubernetes.io/enforce=baseline"); r.code != 0 {
		t.Fatalf("label namespace: %s", r)
	}
	r := kpr(t, "inspect", "node-cilium", "--debug-namespace", ns)
	if r.code == 0 {
		t.Fatalf("want rejection, got %s", r)
	}
	for _, want := range []string{"PodSecurity", `"baseline"`, "pod-security.kubernetes.io/enforce=privileged", ns} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r)
		}
	}
	noStackTrace(t, r)
	waitNoKprPods(t)
}
