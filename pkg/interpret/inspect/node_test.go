package inspect

import (
	"os"
	"strings"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/findings"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/hostdump"
)

func fixture(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile("../" + path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func dump(secs ...hostdump.Section) hostdump.Dump {
	d := hostdump.Dump{HostAccess: hostdump.SourceChroot, Sections: map[string]hostdump.Section{}}
	for _, s := range secs {
		d.Sections[s.Name] = s
	}
	return d
}

func host(name, stdout string) hostdump.Section {
	return hostdump.Section{Name: name, Source: hostdump.SourceChroot, Stdout: stdout}
}

var noKubeProxy = hostdump.Section{Name: hostdump.SecProxyMode, Source: hostdump.SourceImage, ExitCode: 7}

func TestNodeKubeProxyNode(t *testing.T) {
	d := dump(
		host(hostdump.SecIPTablesNFT, fixture(t, "findings/testdata/kube-proxy-iptables.txt")),
		// A host without legacy modules: benign, no error.
		hostdump.Section{Name: hostdump.SecIPTablesLegacy, Source: hostdump.SourceChroot, ExitCode: 1, Stderr: "iptables-legacy-save: can't initialize iptables table `filter'"},
		hostdump.Section{Name: hostdump.SecProxyMode, Source: hostdump.SourceImage, Stdout: "iptables\n"},
		hostdump.Section{Name: hostdump.SecKubeIPVS0, Source: hostdump.SourceChroot, ExitCode: 1},
	)
	facts := ClusterFacts{KubeProxyPod: map[string]string{"n1": "kube-system/kube-proxy-x"}, Services: []findings.ServicePort{}, ServicesKnown: true}
	n := Node("n1", d, facts, facts.LevelFor(""), false)
	if n.KubeProxyMode != "iptables" || n.KubeProxyPod != "kube-system/kube-proxy-x" || n.RulesSource != hostdump.SourceChroot {
		t.Errorf("mode %q pod %q source %q", n.KubeProxyMode, n.KubeProxyPod, n.RulesSource)
	}
	if len(n.Errors) != 0 {
		t.Errorf("errors %v", n.Errors)
	}
	if n.Netfilter == nil || len(n.Netfilter.KubeServiceChains) == 0 || n.KubeIPVS0 || n.Raw != nil {
		t.Errorf("rules %+v, ipvs0 %v, raw %v", n.Netfilter, n.KubeIPVS0, n.Raw)
	}
	// No agent on the node: cilium-config's level is not the node's.
	if n.CiliumKPR != "" || n.CiliumAgent != "" {
		t.Errorf("KPR %q on a node without agent", n.CiliumKPR)
	}
	// Every section's source is reported.
	if n.Sources[hostdump.SecIPTablesLegacy] != hostdump.SourceChroot || n.Sources[hostdump.SecProxyMode] != hostdump.SourceImage {
		t.Errorf("sources %v", n.Sources)
	}
}

func TestNodeCiliumNodeWithStaleRulesAndRaw(t *testing.T) {
	rules := fixture(t, "netfilter/testdata/iptables-cilium-stale-kube-proxy.txt")
	d := dump(host(hostdump.SecIPTablesNFT, rules), noKubeProxy, hostdump.Section{Name: hostdump.SecKubeIPVS0, Source: hostdump.SourceChroot})
	facts := ClusterFacts{CiliumAgent: map[string]string{"n1": "kube-system/cilium-x"}, CiliumKPR: "full", ServicesKnown: true}
	n := Node("n1", d, facts, facts.LevelFor("full"), true)
	if n.CiliumKPR != "full" || n.CiliumKPRFrom != KPRFromAgent || n.KubeProxyMode != ProxyModeNone || !n.KubeIPVS0 {
		t.Errorf("KPR %q from %q, mode %q, ipvs0 %v", n.CiliumKPR, n.CiliumKPRFrom, n.KubeProxyMode, n.KubeIPVS0)
	}
	codes := map[string]bool{}
	for _, f := range n.Findings {
		codes[f.Code] = true
	}
	if !codes[findings.StaleKubeProxyRules] {
		t.Errorf("findings %v, want %s", n.Findings, findings.StaleKubeProxyRules)
	}
	if n.Raw[hostdump.SecIPTablesNFT] != rules || len(n.Raw) != 3 {
		t.Errorf("raw sections %d", len(n.Raw))
	}
	// Without an agent level, cilium-config's is used and said so.
	if n := Node("n1", d, facts, facts.LevelFor(""), false); n.CiliumKPR != "full" || n.CiliumKPRFrom != KPRFromConfig {
		t.Errorf("config level: %q from %q", n.CiliumKPR, n.CiliumKPRFrom)
	}
}

func TestNodeNFTAndIPVS(t *testing.T) {
	// nft alone: kube-proxy's nftables mode.
	n := Node("n1", dump(host(hostdump.SecNFT, fixture(t, "netfilter/testdata/nft-kube-proxy.txt")), noKubeProxy), ClusterFacts{}, KPRLevel{}, false)
	if n.Netfilter == nil || len(n.Netfilter.KubeProxyNFTables) == 0 || len(n.Errors) != 0 {
		t.Fatalf("nft: %+v %v", n.Netfilter, n.Errors)
	}
	// nft after iptables-nft-save: only kube-proxy's own nft tables are
	// taken from the listing; the iptables-nft chains are not counted twice.
	ipt := fixture(t, "netfilter/testdata/iptables-nft-kube-proxy.txt")
	both := Node("n1", dump(host(hostdump.SecIPTablesNFT, ipt), host(hostdump.SecNFT, fixture(t, "netfilter/testdata/nft-iptables-nft-kube-proxy.txt")), noKubeProxy), ClusterFacts{}, KPRLevel{}, false)
	alone := Node("n1", dump(host(hostdump.SecIPTablesNFT, ipt), noKubeProxy), ClusterFacts{}, KPRLevel{}, false)
	if both.Netfilter.Counts.KubeSEP.Chains != alone.Netfilter.Counts.KubeSEP.Chains || both.Netfilter.Counts.KubeSEP.Chains == 0 {
		t.Errorf("KUBE-SEP chains counted %d with nft, %d without", both.Netfilter.Counts.KubeSEP.Chains, alone.Netfilter.Counts.KubeSEP.Chains)
	}
	ipvs := Node("n1", dump(host(hostdump.SecIPVS, fixture(t, "netfilter/testdata/ipvsadm-kube-proxy.txt")), noKubeProxy), ClusterFacts{}, KPRLevel{}, false)
	if ipvs.Netfilter == nil || ipvs.Netfilter.IPVS == nil || ipvs.Netfilter.IPVS.VirtualServices == 0 {
		t.Errorf("ipvs: %+v", ipvs.Netfilter)
	}
}

func TestNodeErrors(t *testing.T) {
	d := dump(
		hostdump.Section{Name: hostdump.SecIPTablesNFT, Source: hostdump.SourceChroot, ExitCode: 4, Stderr: "\niptables-nft-save: permission denied\nmore"},
		host(hostdump.SecIPTablesLegacy, "*filter\nthis is not iptables-save\n"),
		host(hostdump.SecNFT, "table ip x {\n  chain {\n"),
		host(hostdump.SecIPVS, "garbage\n"),
		hostdump.Section{Name: hostdump.SecProxyMode, Source: hostdump.SourceImage, ExitCode: 6, Stderr: "curl: (6) could not resolve"},
	)
	n := Node("n1", d, ClusterFacts{}, KPRLevel{}, false)
	joined := strings.Join(n.Errors, "\n")
	for _, want := range []string{
		"iptables-nft (chroot /host) failed with exit code 4: iptables-nft-save: permission denied",
		"kube-proxy /proxyMode probe did not run: curl: (6) could not resolve",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("errors lack %q:\n%s", want, joined)
		}
	}
	if n.KubeProxyMode != ProxyModeUnknown {
		t.Errorf("mode %q", n.KubeProxyMode)
	}
	// Nothing readable at all.
	none := Node("n1", dump(hostdump.Section{Name: hostdump.SecIPTablesNFT, Source: hostdump.SourceMissing}), ClusterFacts{}, KPRLevel{}, false)
	if none.RulesSource != "none" || none.Netfilter != nil || !strings.Contains(strings.Join(none.Errors, "\n"), "no rules could be read") {
		t.Errorf("no rules: source %q, rules %v, errors %v", none.RulesSource, none.Netfilter, none.Errors)
	}
	// Tools that ran but found no tables: an empty summary, no error.
	empty := Node("n1", dump(host(hostdump.SecIPTablesNFT, ""), noKubeProxy), ClusterFacts{}, KPRLevel{}, false)
	if empty.Netfilter == nil || len(empty.Errors) != 0 {
		t.Errorf("empty: %+v %v", empty.Netfilter, empty.Errors)
	}
}

func TestProxyModeAnswer(t *testing.T) {
	for _, c := range []struct {
		s    hostdump.Section
		want string
	}{
		{hostdump.Section{Source: hostdump.SourceMissing}, ProxyModeUnknown},
		{hostdump.Section{Source: "image", Stdout: "ipvs"}, "ipvs"},
		{hostdump.Section{Source: "image", Stdout: "<html>404</html>"}, ProxyModeNone},
		{hostdump.Section{Source: "image", Stdout: ""}, ProxyModeNone},
		{hostdump.Section{Source: "image", ExitCode: 7}, ProxyModeNone},
		{hostdump.Section{Source: "image", ExitCode: 28}, ProxyModeNone},
		{hostdump.Section{Source: "image", ExitCode: 52}, ProxyModeNone},
		{hostdump.Section{Source: "image", ExitCode: 56}, ProxyModeNone},
		{hostdump.Section{Source: "image", ExitCode: 127}, ProxyModeUnknown},
	} {
		if got := ProxyModeAnswer(c.s); got != c.want {
			t.Errorf("%+v: %q, want %q", c.s, got, c.want)
		}
	}
}
