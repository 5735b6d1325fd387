package e2e

import (
	"strings"
	"testing"
)

// statusJSON is `kubectl kpr status -o json` as issue 2 defines it. The
// test decodes into its own structs so that it checks the JSON names, not
// just the Go types.
type statusJSON struct {
	Cilium struct {
		Found     bool   `json:"found"`
		Namespace string `json:"namespace"`
		Version   string `json:"version"`
		DaemonSet *struct {
			Desired int32 `json:"desired"`
			Ready   int32 `json:"ready"`
		} `json:"daemonSet"`
		Config map[string]string `json:"config"`
	} `json:"cilium"`
	KubeProxy struct {
		Found bool   `json:"found"`
		Mode  string `json:"mode"`
		Pods  int    `json:"pods"`
	} `json:"kubeProxy"`
	Nodes []nodeJSON `json:"nodes"`
}

type nodeJSON struct {
	Name          string `json:"name"`
	InternalIP    string `json:"internalIP"`
	KernelVersion string `json:"kernelVersion"`
	CiliumAgent   *struct {
		Pod   string `json:"pod"`
		Ready bool   `json:"ready"`
	} `json:"ciliumAgent"`
	KubeProxyReplacement *struct {
		Mode              string `json:"mode"`
		ReplacesKubeProxy string `json:"replacesKubeProxy"`
		Devices           []struct {
			Name          string   `json:"name"`
			Addresses     []string `json:"addresses"`
			DirectRouting bool     `json:"directRouting"`
		} `json:"devices"`
	} `json:"kubeProxyReplacement"`
	KubeProxyPod *string  `json:"kubeProxyPod"`
	ServicesBy   string   `json:"servicesBy"`
	Errors       []string `json:"errors"`
}

// The lab's scenario (lab/README.md): who implements Services where.
var wantServicesBy = map[string]string{
	"node-cilium":   "cilium",
	"node-iptables": "kube-proxy-iptables",
	"node-bare":     "none",
	"node-stale":    "cilium",
}

var nodeIPs = map[string]string{
	"node-cilium":        "172.30.0.11",
	"node-iptables":      "172.30.0.12",
	"node-bare":          "172.30.0.13",
	"node-stale":         "172.30.0.14",
	"node-partial":       "172.30.0.15",
	"node-both":          "172.30.0.16",
	"node-ipvs":          "172.30.0.17",
	"node-nftables":      "172.30.0.18",
	"node-kpr-off":       "172.30.0.19",
	"node-agent-unready": "172.30.0.20",
	"node-notready":      "172.30.0.21",
}

// labSecondaryIP are the secondary eth0 addresses lab/config.env gives
// (LAB_SECONDARY_IP_<node>).
var labSecondaryIP = map[string]string{
	"node-cilium":   "172.30.0.111",
	"node-iptables": "172.30.0.112",
}

func byName(t *testing.T, s statusJSON) map[string]nodeJSON {
	t.Helper()
	m := map[string]nodeJSON{}
	for _, n := range s.Nodes {
		m[n.Name] = n
	}
	for name := range wantServicesBy {
		if _, ok := m[name]; !ok {
			t.Fatalf("status has no row for %s; rows: %v", name, s.Nodes)
		}
	}
	return m
}

func TestStatusServicesBy(t *testing.T) {
	needLab(t)
	var s statusJSON
	mustJSON(t, kpr(t, "status", "-o", "json"), &s)
	nodes := byName(t, s)
	for name, want := range wantServicesBy {
		n := nodes[name]
		if n.ServicesBy != want {
			t.Errorf("%s: servicesBy = %q, want %q (errors: %v)", name, n.ServicesBy, want, n.Errors)
		}
		if n.InternalIP != nodeIPs[name] {
			t.Errorf("%s: internalIP = %q, want %q", name, n.InternalIP, nodeIPs[name])
		}
	}
}

func TestStatusAgentsAndKubeProxy(t *testing.T) {
	needLab(t)
	var s statusJSON
	mustJSON(t, kpr(t, "status", "-o", "json"), &s)
	nodes := byName(t, s)

	if !s.Cilium.Found || s.Cilium.Namespace != "kube-system" {
		t.Errorf("cilium: found=%v namespace=%q, want true, kube-system", s.Cilium.Found, s.Cilium.Namespace)
	}
	// DaemonSet cilium: five Cilium nodes (node-partial's 1.12 agent comes
	// from cilium-legacy); node-agent-unready's agent is not Ready.
	if s.Cilium.DaemonSet == nil || s.Cilium.DaemonSet.Desired != 5 || s.Cilium.DaemonSet.Ready != 4 {
		t.Errorf("cilium daemonSet = %+v, want desired 5, ready 4", s.Cilium.DaemonSet)
	}
	if got := s.Cilium.Config["kube-proxy-replacement"]; got != "true" {
		t.Errorf("cilium config kube-proxy-replacement = %q, want \"true\"", got)
	}
	if got := s.Cilium.Config["cni-chaining-mode"]; got != "generic-veth" {
		t.Errorf("cilium config cni-chaining-mode = %q, want generic-veth", got)
	}
	if !strings.HasPrefix(s.Cilium.Version, "1.18") && !strings.HasPrefix(s.Cilium.Version, "v1.18") {
		t.Errorf("cilium version = %q, want 1.18.x", s.Cilium.Version)
	}
	if !s.KubeProxy.Found || s.KubeProxy.Mode != "iptables" {
		t.Errorf("kubeProxy: found=%v mode=%q, want true, iptables", s.KubeProxy.Found, s.KubeProxy.Mode)
	}

	for _, name := range []string{"node-cilium", "node-stale"} {
		n := nodes[name]
		if n.CiliumAgent == nil || !n.CiliumAgent.Ready || !strings.HasPrefix(n.CiliumAgent.Pod, "cilium-") {
			t.Errorf("%s: ciliumAgent = %+v, want a ready cilium-* pod", name, n.CiliumAgent)
			continue
		}
		k := n.KubeProxyReplacement
		if k == nil || k.Mode != "True" || k.ReplacesKubeProxy != "full" {
			t.Errorf("%s: kubeProxyReplacement = %+v, want mode True, full", name, k)
			continue
		}
		found := false
		for _, d := range k.Devices {
			for _, a := range d.Addresses {
				if d.Name == "eth0" && a == nodeIPs[name] {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%s: KPR devices %+v lack eth0 with %s", name, k.Devices, nodeIPs[name])
		}
		if n.KubeProxyPod != nil {
			t.Errorf("%s: kubeProxyPod = %q, want null", name, *n.KubeProxyPod)
		}
	}
	for _, name := range []string{"node-iptables", "node-bare"} {
		if n := nodes[name]; n.CiliumAgent != nil || n.KubeProxyReplacement != nil {
			t.Errorf("%s: has Cilium data %+v / %+v, want none", name, n.CiliumAgent, n.KubeProxyReplacement)
		}
	}
	// "kube-proxy-xxxxx" or "kube-system/kube-proxy-xxxxx".
	if p := nodes["node-iptables"].KubeProxyPod; p == nil || !strings.HasPrefix(strings.TrimPrefix(*p, "kube-system/"), "kube-proxy-") {
		t.Errorf("node-iptables: kubeProxyPod = %v, want kube-proxy-*", p)
	}
	if p := nodes["node-bare"].KubeProxyPod; p != nil {
		t.Errorf("node-bare: kubeProxyPod = %q, want null", *p)
	}
}

func TestStatusTableColors(t *testing.T) {
	needLab(t)
	plain := kpr(t, "status", "--color", "never")
	if plain.code != 0 {
		t.Fatalf("status failed: %s", plain)
	}
	for name := range wantServicesBy {
		if !strings.Contains(plain.stdout, name) {
			t.Errorf("table lacks node %s:\n%s", name, plain.stdout)
		}
	}
	if strings.Contains(plain.stdout, "\x1b[") {
		t.Errorf("--color never printed escape codes:\n%q", plain.stdout)
	}
	colored := kpr(t, "status", "--color", "always")
	if colored.code != 0 || !strings.Contains(colored.stdout, "\x1b[") {
		t.Errorf("--color always printed no escape codes: %s", colored)
	}
	// NO_COLOR wins over auto even where color would be allowed.
	nc := run(t, []string{"NO_COLOR=1", "TERM=xterm-256color"}, kprBin, "status")
	if strings.Contains(nc.stdout, "\x1b[") {
		t.Errorf("NO_COLOR=1 printed escape codes:\n%q", nc.stdout)
	}
}

func TestStatusYAML(t *testing.T) {
	needLab(t)
	r := kpr(t, "status", "-o", "yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "servicesBy: kube-proxy-iptables") {
		t.Errorf("status -o yaml lacks servicesBy: kube-proxy-iptables: %s", r)
	}
}

// Plugin discovery: the pinned kubectl finds kubectl-kpr on PATH.
func TestThroughKubectl(t *testing.T) {
	needLab(t)
	k := kubectlPath(t)
	list := run(t, nil, k, "plugin", "list")
	if !strings.Contains(list.stdout, binDir+"/kubectl-kpr") {
		t.Fatalf("kubectl plugin list does not show %s/kubectl-kpr: %s", binDir, list)
	}
	v := run(t, nil, k, "kpr", "version")
	if v.code != 0 || !strings.Contains(v.stdout, "kubectl-kpr") {
		t.Errorf("kubectl kpr version: %s", v)
	}
	help := run(t, nil, k, "kpr", "--help")
	if help.code != 0 || !strings.Contains(help.stdout, "kubectl kpr") {
		t.Errorf("kubectl kpr --help should say `kubectl kpr`: %s", help)
	}
	var s statusJSON
	mustJSON(t, run(t, nil, k, "kpr", "status", "-o", "json"), &s)
	if got := byName(t, s)["node-iptables"].ServicesBy; got != "kube-proxy-iptables" {
		t.Errorf("through kubectl: node-iptables servicesBy = %q", got)
	}
}

// status on the real-agent nodes (issue 18): the mode, devices and version
// as the real agent reports them. Each agent runs with --devices=eth0 and
// --direct-routing-device=eth0 (lab/cilium-agent.sh), so its one device is
// eth0 with the node's IP, marked for direct routing; an agent with KPR off
// lists no devices. The version is the release the lab built.
func TestStatusRealAgents(t *testing.T) {
	needLab(t)
	var s struct {
		Nodes []struct {
			Name                 string `json:"name"`
			AgentVersion         string `json:"agentVersion"`
			CNIChaining          string `json:"cniChaining"`
			KubeProxyReplacement *struct {
				Mode    string `json:"mode"`
				Devices []struct {
					Name          string   `json:"name"`
					Addresses     []string `json:"addresses"`
					DirectRouting bool     `json:"directRouting"`
				} `json:"devices"`
				SocketLB *bool `json:"socketLB"`
				NodePort *bool `json:"nodePort"`
			} `json:"kubeProxyReplacement"`
		} `json:"nodes"`
	}
	mustJSON(t, kpr(t, "status", "-o", "json"), &s)
	seen := 0
	for _, n := range s.Nodes {
		want, ok := labScenario[n.Name]
		if !ok || !want.realAgent {
			continue
		}
		seen++
		k := n.KubeProxyReplacement
		if k == nil {
			t.Errorf("%s: no kubeProxyReplacement from the real agent", n.Name)
			continue
		}
		if k.Mode != want.mode {
			t.Errorf("%s: mode %q, want %q", n.Name, k.Mode, want.mode)
		}
		if !strings.HasPrefix(n.AgentVersion, want.release) {
			t.Errorf("%s: agentVersion %q, want the real %s", n.Name, n.AgentVersion, want.release)
		}
		if n.CNIChaining != "generic-veth" {
			t.Errorf("%s: cniChaining %q, want generic-veth", n.Name, n.CNIChaining)
		}
		if want.mode == "False" {
			continue
		}
		// The real agent lists every address of the device, eth0's IPv6
		// link-local one too (IPv6 is off in the agent): the node's IP, a
		// secondary address where the lab gives one (node-cilium's
		// 172.30.0.111, which it lists but serves no NodePort on), then
		// fe80::.
		addrs := []string{nodeIPs[n.Name]}
		if ip := labSecondaryIP[n.Name]; ip != "" {
			addrs = append(addrs, ip)
		}
		if len(k.Devices) != 1 || k.Devices[0].Name != "eth0" || !k.Devices[0].DirectRouting ||
			len(k.Devices[0].Addresses) != len(addrs)+1 || strings.Join(k.Devices[0].Addresses[:len(addrs)], ",") != strings.Join(addrs, ",") ||
			!strings.HasPrefix(k.Devices[0].Addresses[len(addrs)], "fe80::") {
			t.Errorf("%s: devices %+v, want eth0 %v fe80::... (direct routing) only", n.Name, k.Devices, addrs)
		}
		if k.SocketLB == nil || !*k.SocketLB || k.NodePort == nil || !*k.NodePort {
			t.Errorf("%s: socketLB %v nodePort %v, want both on", n.Name, k.SocketLB, k.NodePort)
		}
	}
	if seen != 4 {
		t.Errorf("status showed %d real-agent nodes, want 4", seen)
	}
}
