package e2e

import (
	"testing"
)

type probeJSON struct {
	Results []struct {
		From      string  `json:"from"`
		Target    string  `json:"target"`
		Kind      string  `json:"kind"`
		Service   string  `json:"service"`
		Outcome   string  `json:"outcome"`
		LatencyMs float64 `json:"latencyMs"`
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
