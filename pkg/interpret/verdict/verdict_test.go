package verdict

import (
	"testing"
)

func TestDecide(t *testing.T) {
	cases := []struct {
		name string
		e    Evidence
		want ServicesBy
	}{
		{"full KPR, no kube-proxy", Evidence{HasAgent: true, AgentRead: true, Replacement: "full"}, Cilium},
		{"full KPR and kube-proxy", Evidence{HasAgent: true, AgentRead: true, Replacement: "full", KubeProxy: true}, Both},
		{"partial KPR", Evidence{HasAgent: true, AgentRead: true, Replacement: "partial", KubeProxy: true}, Partial},
		{"KPR off, kube-proxy ipvs", Evidence{HasAgent: true, AgentRead: true, Replacement: "none", KubeProxy: true, KubeProxyMode: "ipvs"}, KubeProxyIPVS},
		{"KPR off, no kube-proxy", Evidence{HasAgent: true, AgentRead: true, Replacement: "none"}, None},
		{"no agent, kube-proxy unset mode", Evidence{KubeProxy: true}, KubeProxyIPTables},
		{"no agent, kube-proxy nftables", Evidence{KubeProxy: true, KubeProxyMode: "NFTables"}, KubeProxyNFTables},
		{"contiv-only node", Evidence{}, None},
		{"agent unreachable", Evidence{HasAgent: true, KubeProxy: true}, Unknown},
		{"windows", Evidence{Windows: true, KubeProxy: true}, Unknown},
		{"agent read, no KPR section", Evidence{HasAgent: true, AgentRead: true}, None},
	}
	for _, c := range cases {
		if got := Decide(c.e); got != c.want {
			t.Errorf("%s: Decide = %q, want %q", c.name, got, c.want)
		}
	}
}

func codes(ws []Warning) map[string]bool {
	m := map[string]bool{}
	for _, w := range ws {
		m[w.Code] = true
	}
	return m
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name    string
		e       Evidence
		want    []string
		notWant []string
	}{
		{"config true, agent Disabled", Evidence{HasAgent: true, AgentRead: true, AgentReady: true, ConfigKPR: "true", Replacement: "none", Mode: "Disabled", KubeProxy: true},
			[]string{CodeConfigSaysKPRAgentDisabled}, []string{CodeAgentReadyKPRFalse}},
		{"config strict, agent Strict", Evidence{HasAgent: true, AgentRead: true, AgentReady: true, ConfigKPR: "strict", Replacement: "full", Mode: "Strict"},
			nil, []string{CodeConfigSaysKPRAgentDisabled, CodeAgentReadyKPRFalse}},
		{"agent ready KPR False", Evidence{HasAgent: true, AgentRead: true, AgentReady: true, ConfigKPR: "false", Replacement: "none", Mode: "False", KubeProxy: true},
			[]string{CodeAgentReadyKPRFalse}, []string{CodeConfigSaysKPRAgentDisabled}},
		{"kube-proxy with KPR", Evidence{HasAgent: true, AgentRead: true, AgentReady: true, Replacement: "full", KubeProxy: true},
			[]string{CodeKubeProxyWithKPR}, nil},
		{"no agent old kernel", Evidence{KernelVersion: "4.14.0-1-amd64", KubeProxy: true},
			[]string{CodeKernelTooOldForKPR}, []string{CodeNoServiceDatapath}},
		{"no agent new kernel", Evidence{KernelVersion: "6.1.0"}, []string{CodeNoServiceDatapath}, []string{CodeKernelTooOldForKPR}},
		{"no agent 4.19.100 with cilium 1.14", Evidence{KernelVersion: "4.19.100", AgentVersion: "1.14.3", KubeProxy: true}, nil, []string{CodeKernelTooOldForKPR}},
		{"RHEL 8 kernel 4.18 backport", Evidence{KernelVersion: "4.18.0-513.el8.x86_64", KubeProxy: true}, nil, []string{CodeKernelTooOldForKPR}},
		{"agent not ready", Evidence{HasAgent: true}, []string{CodeAgentNotReady}, nil},
		{"windows", Evidence{Windows: true}, nil, []string{CodeNoServiceDatapath}},
	}
	for _, c := range cases {
		got := codes(Disagreements(c.e))
		for _, w := range c.want {
			if !got[w] {
				t.Errorf("%s: missing warning %s (got %v)", c.name, w, got)
			}
		}
		for _, w := range c.notWant {
			if got[w] {
				t.Errorf("%s: unexpected warning %s", c.name, w)
			}
		}
	}
}

func TestKernelOlderThan(t *testing.T) {
	cases := []struct {
		kernel, min string
		want        bool
	}{
		{"4.19.57", "4.19.57", false},
		{"4.19.56-generic", "4.19.57", true},
		{"5.15.0-91-generic", "5.4", false},
		{"4.18.0-513.el8.x86_64", "5.4", true},
		{"garbage", "5.4", false},
		{"5.4.0", "5.4", false},
	}
	for _, c := range cases {
		if got := KernelOlderThan(c.kernel, c.min); got != c.want {
			t.Errorf("KernelOlderThan(%q, %q) = %v, want %v", c.kernel, c.min, got, c.want)
		}
	}
	if MinKPRKernel("1.14.2") != "4.19.57" || MinKPRKernel("1.16.0") != "5.4" || MinKPRKernel("") != "5.4" {
		t.Errorf("MinKPRKernel thresholds wrong")
	}
}
