package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 21 in probe and diff: who served each probe (servedBy), NodePorts
// on the node's other addresses, hostPorts, on the lab's real datapaths.

// node-both runs kube-proxy (iptables) and Cilium 1.20.2's full KPR: kpr
// reads kube-proxy's counters around each of its own probes and names
// Cilium's socket-LB, whose translation happens before netfilter; on
// node-iptables kube-proxy served them, its secondary address included.
func TestProbeServedBy(t *testing.T) {
	needLab(t)
	r := kpr(t, "probe", "nm-nginx", "-n", "kube-system", "--from", "node-both", "--from", "node-iptables", "--probe-timeout", "2s", "-o", "json")
	var rep probeJSON
	mustJSON(t, r, &rep)
	got := map[string]string{}
	for _, p := range rep.Results {
		got[p.From+"/"+p.Kind+"/"+p.Target] = p.Outcome + " " + p.ServedBy + ": " + p.ServedByReason
	}
	want := map[string][]string{
		"node-both/clusterip/10.96.100.10:80":         {"ok cilium-socket-lb", "kube-proxy's counters for this Service did not move"},
		"node-both/nodeport-local/172.30.0.16:30080":  {"ok cilium-socket-lb", "kube-proxy's counters for this Service did not move"},
		"node-both/nodeport-loopback/127.0.0.1:30080": {"ok cilium-socket-lb", "kube-proxy's counters for this Service did not move"},
		"node-iptables/clusterip/10.96.100.10:80":     {"ok kube-proxy", "only translator"},
		// The secondary address (lab/config.env LAB_SECONDARY_IP_node_iptables).
		"node-iptables/nodeport-address/172.30.0.112:30080": {"ok kube-proxy", ""},
	}
	for k, w := range want {
		if g := got[k]; !strings.HasPrefix(g, w[0]) || !strings.Contains(g, w[1]) {
			t.Errorf("%s: %q, want %q … %q", k, g, w[0], w[1])
		}
	}
	waitNoKprPods(t)
}

// A hostPort pod on node-iptables (the real portmap plugin) and one on
// node-nftables (nothing serves hostPorts there), probed with --host-ports
// from node-bare and node-cilium.
func TestProbeHostPorts(t *testing.T) {
	needLab(t)
	const ns = "kpr-e2e-hostport"
	var pods strings.Builder
	fmt.Fprintf(&pods, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
	for _, node := range []string{"node-iptables", "node-nftables"} {
		fmt.Fprintf(&pods, `---
apiVersion: v1
kind: Pod
metadata:
  name: hp-%[1]s
  namespace: %[2]s
spec:
  nodeName: %[1]s
  tolerations: [{operator: Exists}]
  containers:
  - name: web
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    ports: [{containerPort: 8080, hostPort: 18090}]
`, node, ns)
	}
	f := filepath.Join(t.TempDir(), "hp.yaml")
	if err := os.WriteFile(f, []byte(pods.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := kubectl(t, "apply", "-f", f); r.code != 0 {
		t.Fatalf("apply: %s", r)
	}
	// Gone before the next test: the pods, and portmap's CNI-DN-* chains on
	// node-iptables (DEL within the pod bodies' 1 s resync), which later
	// tests count among the node's rules.
	t.Cleanup(func() {
		kubectl(t, "delete", "namespace", ns, "--timeout=90s")
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			out, _ := exec.Command("ip", "netns", "exec", "kprlab-node-iptables", "iptables-save", "-t", "nat").Output()
			if !strings.Contains(string(out), ":CNI-DN-") {
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Errorf("portmap's CNI-DN-* chains still on node-iptables 20 s after the hostPort pods went")
	})
	for _, node := range []string{"node-iptables", "node-nftables"} {
		if r := kubectl(t, "-n", ns, "wait", "--for=condition=Ready", "pod/hp-"+node, "--timeout=60s"); r.code != 0 {
			t.Fatalf("pod on %s: %s", node, r)
		}
	}
	// portmap's rules follow the pod within the pod bodies' resync (1 s).
	var rep probeJSON
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := kpr(t, "probe", "-n", ns, "--host-ports", "--from", "node-bare", "--from", "node-cilium", "--probe-timeout", "2s", "-o", "json")
		rep = probeJSON{}
		mustJSON(t, r, &rep)
		ok := false
		for _, p := range rep.Results {
			ok = ok || (p.From == "node-bare" && p.Via == "node-iptables" && p.Outcome == "ok")
		}
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	got := map[string]string{}
	for _, p := range rep.Results {
		if p.Kind == "hostport" {
			got[p.From+"→"+p.Via] = p.Outcome + " " + p.ServedBy
		}
	}
	for k, w := range map[string]string{
		"node-bare→node-iptables":   "ok unknown",
		"node-cilium→node-iptables": "ok unknown",
		"node-bare→node-nftables":   "refused none",
		"node-cilium→node-nftables": "refused none",
	} {
		if got[k] != w {
			t.Errorf("hostPort %s: %q, want %q (all: %v)", k, got[k], w, got)
		}
	}
	waitNoKprPods(t)
}

// diff's behaviour rows: who serves hostPorts, and which addresses serve
// NodePorts (node-cilium's secondary 172.30.0.111 does not).
func TestDiffBehaviourRows(t *testing.T) {
	needLab(t)
	r := kpr(t, "diff", "node-cilium", "node-iptables", "--service", "kube-system/nm-nginx", "-o", "json")
	var d diffJSON
	mustJSON(t, r, &d)
	rows := map[string][2]string{}
	for _, row := range d.Rows {
		rows[row.Fact] = [2]string{row.A, row.B}
	}
	if got := rows["hostPort served by"]; got[0] != "cilium" || (got[1] != "portmap" && got[1] != "none") {
		t.Errorf("hostPort served by = %v, want cilium | portmap (or none before any hostPort pod ran there)", got)
	}
	if got := rows["NodePort addresses"]; got != [2]string{"172.30.0.11; not 172.30.0.111", "every local address"} {
		t.Errorf("NodePort addresses = %v", got)
	}
	if got := rows["kube-system/nm-nginx:http clusterip (10.96.100.10:80)"]; got != [2]string{"ok (cilium-socket-lb)", "ok (kube-proxy)"} {
		t.Errorf("clusterip row = %v", got)
	}
	waitNoKprPods(t)
}
