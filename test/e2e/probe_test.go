package e2e

import (
	"testing"
)

type probeJSON struct {
	Results []struct {
		From           string  `json:"from"`
		Target         string  `json:"target"`
		Kind           string  `json:"kind"`
		Service        string  `json:"service"`
		Via            string  `json:"via"`
		Outcome        string  `json:"outcome"`
		LatencyMs      float64 `json:"latencyMs"`
		ServedBy       string  `json:"servedBy"`
		ServedByReason string  `json:"servedByReason"`
	} `json:"results"`
}

// The seed's picture: from the Cilium node the ClusterIP and the NodePorts
// answer; from the Contiv-only node the ClusterIP hangs and the NodePort
// is refused.
func TestProbeCiliumVersusBare(t *testing.T) {
	needLab(t)
	r := kpr(t, "probe", "nm-nginx", "-n", "kube-system", "--from", "node-cilium", "--from", "node-bare", "--probe-timeout", "2s", "-o", "json")
	var rep probeJSON
	mustJSON(t, r, &rep)
	got := map[string]string{}
	for _, p := range rep.Results {
		got[p.From+"/"+p.Kind] = p.Outcome
		if p.Outcome == "ok" && p.LatencyMs <= 0 {
			t.Errorf("%s %s: ok without a latency", p.From, p.Target)
		}
	}
	want := map[string]string{
		"node-cilium/clusterip":         "ok",
		"node-cilium/nodeport-local":    "ok",
		"node-cilium/nodeport-loopback": "ok",
		"node-bare/clusterip":           "timeout",
		"node-bare/nodeport-local":      "refused",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	waitNoKprPods(t)
}

func TestProbeHTTPMatrix(t *testing.T) {
	needLab(t)
	r := kpr(t, "probe", "nm-nginx", "-n", "kube-system", "--from", "node-cilium", "--http", "--remote", "0")
	if r.code != 0 {
		t.Fatalf("probe failed: %s", r)
	}
	for _, want := range []string{"SERVICE", "NODE-CILIUM", "kube-system/nm-nginx", "clusterip", "ok 200"} {
		if !containsText(r.stdout, want) {
			t.Errorf("matrix lacks %q:\n%s", want, r.stdout)
		}
	}
	r = kpr(t, "probe", "nm-ngin", "-n", "kube-system", "--from", "node-cilium")
	if r.code == 0 || !containsText(r.stderr, "did you mean nm-nginx") {
		t.Errorf("unknown Service: want did-you-mean, got %s", r)
	}
	waitNoKprPods(t)
}

// Every probe kind through the REAL Cilium datapath (issue 18): on each
// node whose real agent does KPR, ClusterIP and the NodePort on the node's
// IP, on 127.0.0.1 and on 0.0.0.0 from the node itself (socket-LB, the
// probe runs in the node's cgroup as a debug pod's process does), and the
// node's NodePort from another node (tcx on its eth0). node-kpr-off's real
// agent serves nothing, and kpr sees the ClusterIP hang there.
func TestProbeRealAgents(t *testing.T) {
	needLab(t)
	var nodes []string
	for name, n := range labScenario {
		if n.realAgent {
			nodes = append(nodes, name)
		}
	}
	args := []string{"probe", "nm-nginx-ovs", "-n", "kube-system", "--probe-timeout", "2s", "-o", "json"}
	for _, n := range sortedCopy(nodes) {
		args = append(args, "--from", n)
	}
	r := kpr(t, args...)
	var rep probeJSON
	mustJSON(t, r, &rep)
	got := map[string]string{}
	for _, p := range rep.Results {
		got[p.From+"/"+p.Kind] = p.Outcome
		t.Logf("%s %s %s -> %s", p.From, p.Kind, p.Target, p.Outcome)
	}
	for _, n := range sortedCopy(nodes) {
		kinds := []string{"clusterip", "nodeport-local", "nodeport-loopback", "nodeport-any", "nodeport-remote"}
		want := "ok"
		if labScenario[n].mode == "False" {
			want = ""
		}
		for _, k := range kinds {
			o, ok := got[n+"/"+k]
			if !ok {
				t.Errorf("%s: no %s probe (all: %v)", n, k, got)
				continue
			}
			if want != "" && o != want {
				t.Errorf("%s (real Cilium %s) %s = %q, want %q", n, labScenario[n].release, k, o, want)
			}
		}
		if want == "" && got[n+"/clusterip"] != "timeout" {
			t.Errorf("%s (real agent, KPR off) clusterip = %q, want timeout", n, got[n+"/clusterip"])
		}
	}
	waitNoKprPods(t)
}
