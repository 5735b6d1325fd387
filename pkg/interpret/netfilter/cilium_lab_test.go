package netfilter_test

import (
	"os"
	"slices"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/findings"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/netfilter"
)

// The chains a Cilium 1.18.8 agent installs, as the lab's stand-in writes
// them (testdata/cilium-lab.sh): kpr must count them as Cilium's and
// nothing else, and they must not make a finding on their own.
func TestCiliumLabChains(t *testing.T) {
	f, err := os.Open("testdata/iptables-cilium-lab-1.18.8.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := netfilter.ParseIPTablesSave(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"CILIUM_FORWARD", "CILIUM_INPUT", "CILIUM_OUTPUT", "CILIUM_OUTPUT_nat", "CILIUM_OUTPUT_raw",
		"CILIUM_POST_mangle", "CILIUM_POST_nat", "CILIUM_PRE_mangle", "CILIUM_PRE_nat", "CILIUM_PRE_raw",
	}
	if !slices.Equal(s.CiliumChains, want) {
		t.Errorf("CiliumChains = %v, want %v", s.CiliumChains, want)
	}
	if !slices.Equal(s.CiliumFeeders, want) {
		t.Errorf("CiliumFeeders = %v, want %v", s.CiliumFeeders, want)
	}
	if !s.HasCilium() || s.HasKubeProxyRules() {
		t.Errorf("HasCilium=%v HasKubeProxyRules=%v", s.HasCilium(), s.HasKubeProxyRules())
	}
	if len(s.KubeProxyModes) > 0 || len(s.KubeProxyChains) > 0 || len(s.KubeServiceChains) > 0 ||
		len(s.KubeletChains) > 0 || len(s.Services) > 0 || len(s.Other) > 0 || s.IPVSMatchSets > 0 ||
		s.Counts != (netfilter.Counts{}) {
		t.Errorf("non-Cilium evidence in Cilium's own rules: %+v", s)
	}
	if len(s.Warnings) > 0 || s.Fragment {
		t.Errorf("warnings %v, fragment %v", s.Warnings, s.Fragment)
	}
	if len(s.Dumps) != 1 {
		t.Fatalf("dumps = %+v", s.Dumps)
	}
	// 14 built-in and 10 CILIUM_* chains; 10 feeders and 19 rules in the chains.
	d := s.Dumps[0]
	if d.Family != "ipv4" || d.Backend != "nf_tables" || !slices.Equal(d.Tables, []string{"filter", "mangle", "nat", "raw"}) || d.Chains != 24 || d.Rules != 29 {
		t.Errorf("dump = %+v", d)
	}

	// Full KPR, no kube-proxy: no finding at all (no stale rules, no
	// kube-proxy, no missing datapath).
	svc := findings.ServicePort{Namespace: "kube-system", Name: "nm-nginx", Protocol: "TCP"}
	res := findings.ForNode(findings.Input{
		Node: "node-cilium", Rules: s, ProxyModeChecked: true, CiliumAgent: true, CiliumKPR: findings.KPRFull,
		Services: []findings.ServicePort{svc}, ServicesKnown: true,
	})
	if len(res.Findings) > 0 || len(res.Stale) > 0 {
		t.Errorf("findings on a healthy Cilium KPR node: %+v", res)
	}
	// An agent without KPR: the same chains do not implement Services.
	res = findings.ForNode(findings.Input{Node: "node-kpr-off", Rules: s, ProxyModeChecked: true, CiliumAgent: true, CiliumKPR: findings.KPRNone})
	if len(res.Findings) != 1 || res.Findings[0].Code != findings.NoServiceDatapath {
		t.Errorf("KPR off: %+v", res.Findings)
	}
}
