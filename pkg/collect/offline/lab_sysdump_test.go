package offline

import (
	"strings"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/nodeconfig"
)

// TestLabSysdumpPerNodeConfig: the sysdump captured from the lab
// (testdata/sysdump-lab/README.md) gives each per-node warning on exactly
// the node the lab builds for it, and each node's KPR with its source.
func TestLabSysdumpPerNodeConfig(t *testing.T) {
	out, _ := Analyze([]string{"testdata/sysdump-lab"}, Options{})
	if out.NodeConfig == nil || !out.NodeConfig.Resolved {
		t.Fatalf("per-node configuration not resolved: %+v", out.NodeConfig)
	}
	wantOn := map[string]string{
		nodeconfig.CodeRolloutInconsistent: "node-stale",
		nodeconfig.CodeHealthzPortClash:    "node-both",
		nodeconfig.CodeNotApplied:          "node-kpr-off",
		nodeconfig.CodeIgnored:             "node-partial",
	}
	got := map[string][]string{}
	kpr := map[string]string{}
	for _, a := range out.Agents {
		for _, w := range a.Warnings {
			if _, ok := wantOn[w.Code]; ok {
				got[w.Code] = append(got[w.Code], a.Node)
			}
		}
		if k, ok := a.NodeConfig.Get(nodeconfig.KeyKPR); ok {
			kpr[a.Node] = k.Value + " from " + k.Origin
		}
	}
	for _, n := range out.Nodes {
		for _, w := range n.Warnings {
			if _, ok := wantOn[w.Code]; ok {
				got[w.Code] = append(got[w.Code], n.Name)
			}
		}
	}
	for code, node := range wantOn {
		if g := got[code]; len(g) != 1 || g[0] != node {
			t.Errorf("%s on %v, want exactly on %s", code, g, node)
		}
	}
	const cnc = "true from CiliumNodeConfig kube-system/kube-proxy-replacement"
	for node, want := range map[string]string{"node-cilium": cnc, "node-stale": cnc, "node-both": "true from cilium-config",
		"node-kpr-off": "true from cilium-config", "node-partial": "true from cilium-config", "node-agent-unready": "true from cilium-config"} {
		if kpr[node] != want {
			t.Errorf("%s: kube-proxy-replacement %q, want %q", node, kpr[node], want)
		}
	}
	for _, a := range out.Agents {
		var codes []string
		for _, w := range a.Warnings {
			codes = append(codes, w.Code)
		}
		if a.Node == "node-kpr-off" && (!strings.Contains(strings.Join(codes, ","), "config-kpr-agent-disabled") || strings.Contains(strings.Join(codes, ","), "agent-kpr-false")) {
			t.Errorf("node-kpr-off: %v, want config-kpr-agent-disabled (its configuration asks for KPR), not agent-kpr-false", codes)
		}
		if a.Node == "node-cilium" && (a.NodeConfig.Rollout == nil || a.NodeConfig.Rollout.State != "finished" || !strings.Contains(strings.Join(a.NodeConfig.Rollout.Unchecked, ","), "kube-proxy affinity")) {
			t.Errorf("node-cilium rollout %+v: want finished, kube-proxy's affinity unchecked (not in a sysdump)", a.NodeConfig.Rollout)
		}
	}
}
