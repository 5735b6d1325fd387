package netfilter

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func parseFixture(t *testing.T, name string) *Summary {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var s *Summary
	switch {
	case strings.HasSuffix(name, ".json"), strings.HasPrefix(name, "nft-"):
		s, err = ParseNFT(f)
	case strings.HasPrefix(name, "ipvsadm"):
		s, err = ParseIPVSAdm(f)
	default:
		s, err = ParseIPTablesSave(f)
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

func TestIPTablesKubeProxyNode(t *testing.T) {
	s := parseFixture(t, "iptables-nft-kube-proxy.txt")
	wantSVC := []string{
		"KUBE-SVC-33ZUN3ABJWYS5QQP", "KUBE-SVC-ERIFXISQEP7F7OF4", "KUBE-SVC-JD5MR3NA4I4DYORP",
		"KUBE-SVC-NPX46M4PTMTKRN6Y", "KUBE-SVC-TCOU7JCQXEZGVUNU", "KUBE-SVC-V7ZMVOA2AOW6ATRL",
	}
	var gotSVC []string
	for _, c := range s.KubeServiceChains {
		if strings.HasPrefix(c, PrefixSVC) {
			gotSVC = append(gotSVC, c)
		}
	}
	if !slices.Equal(gotSVC, wantSVC) {
		t.Errorf("KUBE-SVC chains = %v\nwant %v", gotSVC, wantSVC)
	}
	if len(s.KubeServiceChains) != 7 { // + one KUBE-SVL
		t.Errorf("kubeServiceChains = %d, want 7: %v", len(s.KubeServiceChains), s.KubeServiceChains)
	}
	c := s.Counts
	if c.KubeServices != (ChainRules{Chains: 2, Rules: 9}) {
		t.Errorf("KUBE-SERVICES = %+v, want 2 chains (filter, nat), 9 rules", c.KubeServices)
	}
	if c.KubeNodePorts != (ChainRules{Chains: 2, Rules: 3}) {
		t.Errorf("KUBE-NODEPORTS = %+v", c.KubeNodePorts)
	}
	if c.KubeSVC.Chains != 6 || c.KubeSVC.Rules != 16 || c.KubeSVL != (ChainRules{1, 1}) {
		t.Errorf("SVC/SVL = %+v %+v", c.KubeSVC, c.KubeSVL)
	}
	if c.KubeSEP.Chains != 10 || c.KubeSEP.Rules != 20 || c.KubeEXT.Chains != 2 || c.KubeFW.Chains != 1 {
		t.Errorf("SEP/EXT/FW = %+v %+v %+v", c.KubeSEP, c.KubeEXT, c.KubeFW)
	}
	if !slices.Equal(s.KubeProxyModes, []string{ModeIPTables}) {
		t.Errorf("modes = %v", s.KubeProxyModes)
	}
	if len(s.CiliumChains) != 0 || s.HasCilium() {
		t.Errorf("cilium chains on a kube-proxy node: %v", s.CiliumChains)
	}
	if !slices.Contains(s.KubeletChains, "KUBE-IPTABLES-HINT") || slices.Contains(s.KubeProxyChains, "KUBE-FIREWALL") {
		t.Errorf("kubelet chains misfiled: kubelet=%v kube-proxy=%v", s.KubeletChains, s.KubeProxyChains)
	}
	// One dump: iptables-nft-save prints a header per table.
	if len(s.Dumps) != 1 || s.Dumps[0].Backend != "nf_tables" || s.Dumps[0].Family != "ipv4" {
		t.Fatalf("dumps = %+v", s.Dumps)
	}
	if !slices.Equal(s.Dumps[0].Tables, []string{"filter", "mangle", "nat"}) {
		t.Errorf("tables = %v", s.Dumps[0].Tables)
	}
	byChain := map[string]ServiceChain{}
	for _, sc := range s.Services {
		byChain[sc.Chain] = sc
	}
	k := byChain["KUBE-SVC-NPX46M4PTMTKRN6Y"]
	if k.ServicePort != "default/kubernetes:https" || k.ClusterIP != "10.96.0.1" || k.Port != "443" || k.Protocol != "tcp" || !k.HashVerified {
		t.Errorf("kubernetes chain = %+v", k)
	}
	dns := byChain["KUBE-SVC-TCOU7JCQXEZGVUNU"]
	if dns.ServicePort != "kube-system/kube-dns:dns" || dns.Protocol != "udp" || !dns.HashVerified {
		t.Errorf("kube-dns chain = %+v", dns)
	}
	ext := byChain[ServiceChainName(PrefixEXT, "default/nm-nginx", "tcp")]
	if ext.ServicePort != "default/nm-nginx" || !ext.HashVerified {
		t.Errorf("nm-nginx EXT chain = %+v", ext)
	}
	fw := byChain[ServiceChainName(PrefixFW, "default/web-local:http", "tcp")]
	if fw.ServicePort != "default/web-local:http" {
		t.Errorf("FW chain = %+v", fw)
	}
	for _, sc := range s.Services {
		if !sc.HashVerified {
			t.Errorf("chain %s → %s not verified by hash", sc.Chain, sc.ServicePort)
		}
	}
}

func TestIPTablesCiliumDualStack(t *testing.T) {
	s := parseFixture(t, "iptables-cilium-kpr-dual.txt")
	if len(s.KubeServiceChains) != 0 || s.HasKubeProxyRules() {
		t.Errorf("kube-proxy evidence on a Cilium KPR node: svc=%v kp=%v modes=%v", s.KubeServiceChains, s.KubeProxyChains, s.KubeProxyModes)
	}
	want := []string{"CILIUM_FORWARD", "CILIUM_INPUT", "CILIUM_OUTPUT", "CILIUM_OUTPUT_nat", "CILIUM_OUTPUT_raw", "CILIUM_POST_mangle", "CILIUM_POST_nat", "CILIUM_PRE_mangle", "CILIUM_PRE_nat", "CILIUM_PRE_raw"}
	if !slices.Equal(s.CiliumChains, want) {
		t.Errorf("cilium chains = %v", s.CiliumChains)
	}
	if !slices.Contains(s.CiliumFeeders, "CILIUM_INPUT") || len(s.CiliumFeeders) != 10 {
		t.Errorf("feeders = %v", s.CiliumFeeders)
	}
	if len(s.Dumps) != 2 || s.Dumps[0].Family != "ipv4" || s.Dumps[1].Family != "ipv6" || s.Dumps[0].Superseded || s.Dumps[1].Superseded {
		t.Errorf("dumps = %+v", s.Dumps)
	}
}

func TestIPTablesStaleKubeProxy(t *testing.T) {
	s := parseFixture(t, "iptables-cilium-stale-kube-proxy.txt")
	if !s.HasCilium() || !s.HasKubeProxyRules() || len(s.KubeServiceChains) != 7 {
		t.Errorf("want both Cilium and kube-proxy rules: cilium=%v svc=%v", s.CiliumChains, s.KubeServiceChains)
	}
}

func TestIPTablesContivWithLegacyLeftovers(t *testing.T) {
	s := parseFixture(t, "iptables-contiv-legacy-leftovers.txt")
	if len(s.Other) != 1 || s.Other[0].Implementation != "contiv" || !slices.Equal(s.Other[0].Chains, []string{"CONTIV-NODEPORT"}) {
		t.Errorf("other = %+v", s.Other)
	}
	if len(s.Dumps) != 2 || s.Dumps[0].Backend != "nf_tables" || s.Dumps[1].Backend != "legacy" {
		t.Fatalf("dumps = %+v", s.Dumps)
	}
	if !strings.Contains(strings.Join(s.Warnings, "\n"), "iptables-legacy tables are present") {
		t.Errorf("warnings = %v", s.Warnings)
	}
	// The leftovers sit in the legacy backend: still kube-proxy rules.
	if !slices.Equal(s.KubeProxyModes, []string{ModeIPTables}) {
		t.Errorf("modes = %v", s.KubeProxyModes)
	}
}

func TestIPTablesSameDumpTwiceLastWins(t *testing.T) {
	first := "# Generated by iptables-save v1.8.7 (nf_tables) on Mon\n*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]\n-A KUBE-SERVICES -d 10.96.0.1/32 -j KUBE-SVC-AAAAAAAAAAAAAAAA\nCOMMIT\n"
	second := "# Generated by iptables-save v1.8.7 (nf_tables) on Tue\n*nat\n:CILIUM_POST_nat - [0:0]\nCOMMIT\n"
	s, err := ParseIPTablesSave(strings.NewReader(first + second))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.KubeServiceChains) != 0 || !slices.Equal(s.CiliumChains, []string{"CILIUM_POST_nat"}) {
		t.Errorf("the later dump must win: svc=%v cilium=%v", s.KubeServiceChains, s.CiliumChains)
	}
	if len(s.Dumps) != 2 || !s.Dumps[0].Superseded || s.Dumps[1].Superseded {
		t.Errorf("dumps = %+v", s.Dumps)
	}
}

func TestIPTablesMessyInput(t *testing.T) {
	in := "garbage line\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment \"a \\\"quoted\\\" cilium-feeder: x\" -j CILIUM_INPUT\n-A KUBE-SERVICES -m comment --comment \"ns/svc:p cluster IP\" -d 10.0.0.1/32 --dport 80 -j KUBE-SVC-TRUNCATED"
	s, err := ParseIPTablesSave(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.CiliumChains, "CILIUM_INPUT") || s.Counts.KubeServices.Rules != 1 {
		t.Errorf("summary = %+v", s)
	}
	w := strings.Join(s.Warnings, "\n")
	if !strings.Contains(w, "truncated") || !strings.Contains(w, "1 line(s)") {
		t.Errorf("warnings = %v", s.Warnings)
	}
	if len(s.Services) != 1 || s.Services[0].HashVerified {
		t.Errorf("a made-up chain name must not verify: %+v", s.Services)
	}
	if _, err := ParseIPTablesSave(strings.NewReader("hello\nworld\n")); err == nil {
		t.Error("no table: want an error")
	}
}

func TestSplitRule(t *testing.T) {
	got := splitRule(`-A X -m comment --comment "a \"b\" c" -j Y "unterminated`, nil)
	want := []string{"-A", "X", "-m", "comment", "--comment", `a "b" c`, "-j", "Y", "unterminated"}
	if !slices.Equal(got, want) {
		t.Errorf("splitRule = %q", got)
	}
}

func TestHeaderFacts(t *testing.T) {
	cases := map[string][2]string{
		"# Generated by iptables-nft-save v1.8.9 (nf_tables) on Fri": {"ipv4", "nf_tables"},
		"# Generated by iptables-save v1.8.9 on Fri":                 {"ipv4", "legacy"},
		"# Generated by ip6tables-save v1.8.7 (legacy) on Fri":       {"ipv6", "legacy"},
		"# Generated by ip6tables-save v1.8.4 (nf_tables) on Fri":    {"ipv6", "nf_tables"},
		"# Generated by iptables-save v1.6.1 on Fri":                 {"ipv4", "legacy"},
	}
	for h, want := range cases {
		f, b := headerFacts(h)
		if f != want[0] || b != want[1] {
			t.Errorf("headerFacts(%q) = %q %q, want %v", h, f, b, want)
		}
	}
}

func readTestdata(name string) ([]byte, error) { return os.ReadFile(filepath.Join("testdata", name)) }

// kube-proxy's ipvs mode keeps KUBE-SERVICES but matches its ipsets
// instead of jumping to per-Service chains (k/k pkg/proxy/ipvs/proxier.go).
func TestIPTablesIPVSModeAndOtherImplementations(t *testing.T) {
	in := `*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODE-PORT - [0:0]
:KUBE-LOAD-BALANCER - [0:0]
:KUBE-MARK-MASQ - [0:0]
:cali-PREROUTING - [0:0]
:ANTREA-PREROUTING - [0:0]
:KUBE-ROUTER-SERVICES - [0:0]
-A KUBE-SERVICES ! -s 10.244.0.0/16 -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ
-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT
-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT
COMMIT
`
	s, err := ParseIPTablesSave(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.KubeProxyModes, []string{ModeIPVS}) || s.IPVSMatchSets != 2 {
		t.Errorf("modes = %v, match-set rules = %d", s.KubeProxyModes, s.IPVSMatchSets)
	}
	var impls []string
	for _, o := range s.Other {
		impls = append(impls, o.Implementation)
	}
	if !slices.Equal(impls, []string{"antrea", "calico", "kube-router"}) {
		t.Errorf("other = %+v", s.Other)
	}
	if !slices.Contains(s.KubeProxyChains, "KUBE-NODE-PORT") || slices.Contains(s.KubeProxyChains, "KUBE-MARK-MASQ") {
		t.Errorf("kube-proxy chains = %v", s.KubeProxyChains)
	}
}

func TestOldUnnamedPortComment(t *testing.T) {
	chain := ServiceChainName(PrefixSVC, "default/old:", "tcp")
	in := "*nat\n:KUBE-SERVICES - [0:0]\n:" + chain + " - [0:0]\n" +
		"-A KUBE-SERVICES -d 10.0.0.9/32 -p tcp -m comment --comment \"default/old: cluster IP\" -m tcp --dport 80 -j " + chain + "\nCOMMIT\n"
	s, err := ParseIPTablesSave(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Services) != 1 || s.Services[0].ServicePort != "default/old" || !s.Services[0].HashVerified || s.Services[0].ClusterIP != "10.0.0.9" {
		t.Errorf("services = %+v", s.Services)
	}
}

// `iptables-save | grep KUBE-SVC`, as the seed runs it: no *table, no
// COMMIT. The chains shown count, flagged as a fragment (lower bounds).
func TestIPTablesFragmentGrepKubeSVC(t *testing.T) {
	full := parseFixture(t, "iptables-captured-kube-proxy.txt")
	s := parseFixture(t, "iptables-fragment-grep-kube-svc.txt")
	if !s.Fragment || len(s.Dumps) != 1 || !s.Dumps[0].Fragment || !slices.Equal(s.Dumps[0].Tables, []string{"nat"}) {
		t.Errorf("fragment %v, dumps %+v", s.Fragment, s.Dumps)
	}
	// grep KUBE-SVC keeps every KUBE-SVC declaration (not KUBE-SVL's).
	var svc []string
	for _, c := range full.KubeServiceChains {
		if strings.HasPrefix(c, "KUBE-SVC-") {
			svc = append(svc, c)
		}
	}
	if !slices.Equal(s.KubeServiceChains, svc) || len(svc) == 0 {
		t.Errorf("KUBE-SVC chains %v, the whole dump has %v", s.KubeServiceChains, full.KubeServiceChains)
	}
	if !slices.Contains(s.KubeProxyModes, ModeIPTables) {
		t.Errorf("modes %v", s.KubeProxyModes)
	}
	if w := strings.Join(s.Warnings, "\n"); !strings.Contains(w, "lower bounds") {
		t.Errorf("warnings %v", s.Warnings)
	}
	if full.Fragment {
		t.Error("a whole dump is not a fragment")
	}
}

func TestIPTablesFragmentCutRules(t *testing.T) {
	s := parseFixture(t, "iptables-fragment-sep-rules.txt")
	if !s.Fragment || s.Counts.KubeSEP.Chains != 2 || s.Counts.KubeSEP.Rules != 4 {
		t.Errorf("fragment %v, KUBE-SEP %+v", s.Fragment, s.Counts.KubeSEP)
	}
}

// Inside a real dump, rule lines outside a table stay junk, and text that
// only looks rule-like is still no table.
func TestIPTablesFragmentOnlyWithoutTables(t *testing.T) {
	in := "*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n-A KUBE-SVC-X -j KUBE-SEP-Y\n"
	s, err := ParseIPTablesSave(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if s.Fragment || len(s.KubeServiceChains) != 0 || !strings.Contains(strings.Join(s.Warnings, " "), "1 line(s)") {
		t.Errorf("a line after COMMIT was taken: %+v", s)
	}
	if _, err := ParseIPTablesSave(strings.NewReader(":not a chain\n-A\n")); err == nil {
		t.Error("want an error for rule-like junk")
	}
}
