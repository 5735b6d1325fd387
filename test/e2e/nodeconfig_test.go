package e2e

import (
	"os"
	"sort"
	"strings"
	"testing"
)

// statusNodeConfig is the part of `status -o json` that issue 20 adds.
type statusNodeConfig struct {
	Nodes []struct {
		Name       string `json:"name"`
		NodeConfig *struct {
			ReadFrom  string   `json:"readFrom"`
			ReadNote  string   `json:"readNote"`
			DaemonSet string   `json:"daemonSet"`
			Sources   []string `json:"sources"`
			Keys      []struct {
				Key              string  `json:"key"`
				Value            string  `json:"value"`
				Origin           string  `json:"origin"`
				Found            string  `json:"found"`
				Configured       *string `json:"configured"`
				ConfiguredOrigin string  `json:"configuredOrigin"`
			} `json:"keys"`
			Rollout *struct {
				State string `json:"state"`
				Parts []struct {
					Part   string `json:"part"`
					OK     bool   `json:"ok"`
					Detail string `json:"detail"`
				} `json:"parts"`
			} `json:"rollout"`
		} `json:"nodeConfig"`
		Warnings []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"warnings"`
	} `json:"nodes"`
}

// The node the lab builds for each per-node warning (lab/README.md,
// "Per-node configuration").
var perNodeWarningNode = map[string]string{
	"kpr-rollout-inconsistent": "node-stale",
	"healthz-port-clash":       "node-both",
	"node-config-not-applied":  "node-kpr-off",
	"node-config-ignored":      "node-partial",
}

// TestStatusPerNodeConfig: every Cilium node's effective KPR with its
// source, read from the real agents' config dirs; each of the four
// per-node warnings on exactly the node built for it.
func TestStatusPerNodeConfig(t *testing.T) {
	needLab(t)
	var s statusNodeConfig
	mustJSON(t, kpr(t, "status", "-o", "json"), &s)

	got := map[string][]string{}
	for _, n := range s.Nodes {
		for _, w := range n.Warnings {
			got[w.Code] = append(got[w.Code], n.Name)
		}
	}
	eachWarningOnItsNode(t, "status", got)

	type want struct {
		readFrom, kpr, kprOrigin string
		rollout                  string // "" not in the rollout
		extraKey, extraOrigin    string
	}
	const rolloutCNC = "CiliumNodeConfig kube-system/kube-proxy-replacement"
	wants := map[string]want{
		"node-cilium":  {readFrom: "agent", kpr: "true", kprOrigin: rolloutCNC, rollout: "finished", extraKey: "kube-proxy-replacement-healthz-bind-address", extraOrigin: rolloutCNC},
		"node-stale":   {readFrom: "agent", kpr: "true", kprOrigin: rolloutCNC, rollout: "inconsistent"},
		"node-both":    {readFrom: "agent", kpr: "true", kprOrigin: "cilium-config", extraKey: "kube-proxy-replacement-healthz-bind-address", extraOrigin: "node annotation"},
		"node-kpr-off": {readFrom: "agent", kpr: "true", kprOrigin: "cilium-config"},
		"node-partial": {readFrom: "computed", kpr: "true", kprOrigin: "cilium-config"},
	}
	for _, n := range s.Nodes {
		w, ok := wants[n.Name]
		if !ok {
			continue
		}
		delete(wants, n.Name)
		c := n.NodeConfig
		if c == nil {
			t.Errorf("%s: no nodeConfig", n.Name)
			continue
		}
		if c.ReadFrom != w.readFrom {
			t.Errorf("%s: readFrom %q (%s), want %q", n.Name, c.ReadFrom, c.ReadNote, w.readFrom)
		}
		keys := map[string]int{}
		for i, k := range c.Keys {
			keys[k.Key] = i
		}
		if i, ok := keys["kube-proxy-replacement"]; !ok || c.Keys[i].Value != w.kpr || c.Keys[i].Origin != w.kprOrigin {
			t.Errorf("%s: kube-proxy-replacement %+v, want %q from %q", n.Name, c.Keys, w.kpr, w.kprOrigin)
		}
		if w.extraKey != "" {
			if i, ok := keys[w.extraKey]; !ok || c.Keys[i].Origin != w.extraOrigin {
				t.Errorf("%s: %s not from %q: %+v", n.Name, w.extraKey, w.extraOrigin, c.Keys)
			}
		}
		switch {
		case w.rollout == "" && c.Rollout != nil:
			t.Errorf("%s: in the rollout (%+v), want not", n.Name, c.Rollout)
		case w.rollout != "" && (c.Rollout == nil || c.Rollout.State != w.rollout):
			t.Errorf("%s: rollout %+v, want %s", n.Name, c.Rollout, w.rollout)
		}
		if w.readFrom == "agent" && !containsPrefix(c.Sources, "config-map:kube-system/cilium-config") {
			t.Errorf("%s: config-sources %v lack cilium-config", n.Name, c.Sources)
		}
	}
	for n := range wants {
		t.Errorf("%s: not in status", n)
	}
	// node-kpr-off: the late CNC's key waits for the pod's re-creation.
	for _, n := range s.Nodes {
		if n.Name != "node-kpr-off" || n.NodeConfig == nil {
			continue
		}
		found := false
		for _, k := range n.NodeConfig.Keys {
			if k.Configured != nil && strings.HasPrefix(k.ConfiguredOrigin, "CiliumNodeConfig kube-system/") {
				found = true
			}
		}
		if !found {
			t.Errorf("node-kpr-off: no key configured by the late CiliumNodeConfig: %+v", n.NodeConfig.Keys)
		}
	}

	// The table says it too: the KPR-CONFIG column and the section.
	r := kpr(t, "status")
	for _, want := range []string{"KPR-CONFIG", "true (cnc)", "Per-node configuration", "KPR rollout inconsistent", "[healthz-port-clash]"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status text lacks %q:\n%s", want, r.stdout)
		}
	}
}

// eachWarningOnItsNode checks that each per-node warning was given on
// exactly the node the lab builds for it (got: code → nodes).
func eachWarningOnItsNode(t *testing.T, cmd string, got map[string][]string) {
	t.Helper()
	for code, node := range perNodeWarningNode {
		if nodes := got[code]; len(nodes) != 1 || nodes[0] != node {
			sort.Strings(nodes)
			t.Errorf("%s: %s on %v, want exactly on %s", cmd, code, nodes, node)
		}
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// TestAnalyzeLabSysdump: a sysdump-shaped folder taken from the lab
// (hack/lab-sysdump.sh) gives, offline, every Cilium node's effective KPR
// with its source and each per-node warning on its node.
func TestAnalyzeLabSysdump(t *testing.T) {
	needLab(t)
	dir := t.TempDir() + "/cilium-sysdump-lab"
	r := run(t, []string{"KUBECTL=" + kubectlPath(t)}, repoRoot()+"/hack/lab-sysdump.sh", dir)
	if r.code != 0 {
		t.Fatalf("lab-sysdump: %s", r)
	}
	var a struct {
		NodeConfig *struct {
			Resolved bool     `json:"resolved"`
			Missing  []any    `json:"missing"`
			Files    []string `json:"files"`
		} `json:"nodeConfig"`
		Agents []struct {
			Name   string `json:"name"`
			Node   string `json:"node"`
			Config *struct {
				Keys []struct {
					Key    string `json:"key"`
					Value  string `json:"value"`
					Origin string `json:"origin"`
					Found  string `json:"found"`
				} `json:"keys"`
			} `json:"nodeConfig"`
			Warnings []struct {
				Code string `json:"code"`
			} `json:"warnings"`
		} `json:"agents"`
		Nodes []struct {
			Name     string `json:"name"`
			Warnings []struct {
				Code string `json:"code"`
			} `json:"warnings"`
		} `json:"nodes"`
	}
	res := kpr(t, "analyze", dir, "-o", "json")
	mustJSON(t, res, &a)
	if a.NodeConfig == nil || !a.NodeConfig.Resolved {
		t.Fatalf("per-node configuration not resolved: %+v\n%s", a.NodeConfig, res.stderr)
	}
	got := map[string][]string{}
	kprOrigin := map[string]string{}
	for _, ag := range a.Agents {
		for _, w := range ag.Warnings {
			got[w.Code] = append(got[w.Code], ag.Node)
		}
		if ag.Config == nil {
			t.Errorf("agent %s (%s): no nodeConfig", ag.Name, ag.Node)
			continue
		}
		for _, k := range ag.Config.Keys {
			if k.Found != "computed" {
				t.Errorf("%s: %s found %q offline", ag.Node, k.Key, k.Found)
			}
			if k.Key == "kube-proxy-replacement" {
				kprOrigin[ag.Node] = k.Value + " from " + k.Origin
			}
		}
	}
	for _, n := range a.Nodes {
		for _, w := range n.Warnings {
			got[w.Code] = append(got[w.Code], n.Name)
		}
	}
	eachWarningOnItsNode(t, "analyze", got)
	for node, want := range map[string]string{
		"node-cilium":  "true from CiliumNodeConfig kube-system/kube-proxy-replacement",
		"node-stale":   "true from CiliumNodeConfig kube-system/kube-proxy-replacement",
		"node-both":    "true from cilium-config",
		"node-kpr-off": "true from cilium-config",
		"node-partial": "true from cilium-config",
	} {
		if kprOrigin[node] != want {
			t.Errorf("analyze: %s kube-proxy-replacement %q, want %q", node, kprOrigin[node], want)
		}
	}
}

// TestPerNodeConfigAppliedOnRecreation: a CiliumNodeConfig created after
// node-cilium's agent started is reported as not applied; once the agent
// pod is re-created, the real agent runs with it (its build-config ran
// again) and kpr reads it from the agent's config dir.
func TestPerNodeConfigAppliedOnRecreation(t *testing.T) {
	needLab(t)
	const name = "kpr-e2e-recreate"
	cnc := `apiVersion: cilium.io/v2
kind: CiliumNodeConfig
metadata: {name: ` + name + `, namespace: kube-system}
spec:
  nodeSelector: {matchLabels: {kubernetes.io/hostname: node-cilium}}
  defaults: {enable-health-check-nodeport: "false"}
`
	f := t.TempDir() + "/cnc.yaml"
	if err := os.WriteFile(f, []byte(cnc), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := kubectl(t, "apply", "-f", f); r.code != 0 {
		t.Fatalf("creating the CNC: %s", r)
	}
	t.Cleanup(func() {
		kubectl(t, "delete", "-f", f, "--ignore-not-found")
		recreateAgentPod(t, "node-cilium", "true")
	})
	key := func() (value, origin string, notApplied bool) {
		var s statusNodeConfig
		mustJSON(t, kpr(t, "status", "--node", "node-cilium", "-o", "json"), &s)
		for _, n := range s.Nodes {
			for _, w := range n.Warnings {
				notApplied = notApplied || (w.Code == "node-config-not-applied" && strings.Contains(w.Message, name))
			}
			if n.NodeConfig == nil || n.NodeConfig.ReadFrom != "agent" {
				t.Fatalf("node-cilium not read from the agent: %+v", n.NodeConfig)
			}
			for _, k := range n.NodeConfig.Keys {
				if k.Key == "enable-health-check-nodeport" {
					return k.Value, k.Origin, notApplied
				}
			}
		}
		return "", "", notApplied
	}
	if v, o, na := key(); v != "true" || o != "cilium-config" || !na {
		t.Errorf("before re-creation: %q from %q, not-applied warning %v; want \"true\" from cilium-config, and the warning", v, o, na)
	}
	recreateAgentPod(t, "node-cilium", "true")
	if v, o, na := key(); v != "false" || o != "CiliumNodeConfig kube-system/"+name || na {
		t.Errorf("after re-creation: %q from %q, not-applied warning %v; want \"false\" from the CNC, no warning", v, o, na)
	}
}
