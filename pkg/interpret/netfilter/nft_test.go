package netfilter

import (
	"slices"
	"strings"
	"testing"
)

var wantNFTServiceChains = []string{
	"external-42NFTM6N-ns2/svc2/tcp/p80", "external-4AT6LBPK-ns3/svc3/tcp/p80", "external-HVFWP5L3-ns5/svc5/tcp/p80",
	"external-LAUZTJTB-ns4/svc4/tcp/p80", "firewall-HVFWP5L3-ns5/svc5/tcp/p80",
	"service-42NFTM6N-ns2/svc2/tcp/p80", "service-4AT6LBPK-ns3/svc3/tcp/p80", "service-HVFWP5L3-ns5/svc5/tcp/p80",
	"service-LAUZTJTB-ns4/svc4/tcp/p80", "service-ULMVA6XW-ns1/svc1/tcp/p80",
}

func TestNFTKubeProxyTextAndJSONAgree(t *testing.T) {
	for _, name := range []string{"nft-kube-proxy.txt", "nft-kube-proxy.json"} {
		s := parseFixture(t, name)
		if len(s.KubeProxyNFTables) != 1 {
			t.Fatalf("%s: tables = %+v", name, s.KubeProxyNFTables)
		}
		tb := s.KubeProxyNFTables[0]
		if tb.Family != "ip" || tb.Name != "kube-proxy" || tb.Chains != 29 || tb.Rules != 52 {
			t.Errorf("%s: table = %+v", name, tb)
		}
		if !slices.Equal(tb.ServiceChains, wantNFTServiceChains) {
			t.Errorf("%s: service chains = %v", name, tb.ServiceChains)
		}
		if !slices.Equal(s.KubeProxyModes, []string{ModeNFTables}) || len(s.KubeServiceChains) != 0 {
			t.Errorf("%s: modes = %v, svc = %v", name, s.KubeProxyModes, s.KubeServiceChains)
		}
	}
}

func TestNFTListingOfIPTablesNFTRules(t *testing.T) {
	s := parseFixture(t, "nft-iptables-nft-kube-proxy.txt")
	ipt := parseFixture(t, "iptables-nft-kube-proxy.txt")
	if !slices.Equal(s.KubeServiceChains, ipt.KubeServiceChains) {
		t.Errorf("nft view %v\niptables view %v", s.KubeServiceChains, ipt.KubeServiceChains)
	}
	if s.Counts != ipt.Counts {
		t.Errorf("counts differ:\nnft      %+v\niptables %+v", s.Counts, ipt.Counts)
	}
	if !slices.Equal(s.KubeProxyModes, []string{ModeIPTables}) {
		t.Errorf("modes = %v", s.KubeProxyModes)
	}
	// nft 1.0.6 cannot render iptables' xt "comment" match, so the nft
	// view of iptables-nft rules carries no comments to map chains from.
	if len(s.Services) != 0 {
		t.Errorf("services = %+v", s.Services)
	}
}

func TestNFTTextComments(t *testing.T) {
	in := `table ip filter {
	chain INPUT {
		type filter hook input priority filter; policy accept;
		counter packets 1 bytes 2 jump CILIUM_INPUT comment "cilium-feeder: CILIUM_INPUT"
	}
	chain KUBE-SERVICES {
		ip daddr 10.96.0.1 tcp dport 443 counter jump KUBE-SVC-NPX46M4PTMTKRN6Y comment "default/kubernetes:https cluster IP"
	}
}`
	s, err := ParseNFT(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.CiliumFeeders, []string{"CILIUM_INPUT"}) || !slices.Equal(s.CiliumChains, []string{"CILIUM_INPUT"}) {
		t.Errorf("feeders %v chains %v", s.CiliumFeeders, s.CiliumChains)
	}
	if len(s.Services) != 1 || s.Services[0].ClusterIP != "10.96.0.1" || s.Services[0].Port != "443" || !s.Services[0].HashVerified || s.Services[0].Protocol != "tcp" {
		t.Errorf("services = %+v", s.Services)
	}
	if s.Counts.KubeServices.Rules != 1 || s.Dumps[0].Rules != 2 {
		t.Errorf("counts %+v dumps %+v", s.Counts, s.Dumps)
	}
}

func TestNFTBad(t *testing.T) {
	for _, in := range []string{"", "   \n", "hello", `{"foo": 1}`, `{"nftables": [`, "table ip x {\n chain y {\n"} {
		s, err := ParseNFT(strings.NewReader(in))
		if in == "table ip x {\n chain y {\n" {
			if err != nil || !strings.Contains(strings.Join(s.Warnings, " "), "truncated") {
				t.Errorf("truncated text: %v %+v", err, s)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseNFT(%q): want error, got %+v", in, s)
		}
	}
}

func TestIPVSAdm(t *testing.T) {
	s := parseFixture(t, "ipvsadm-kube-proxy.txt")
	if s.IPVS == nil || s.IPVS.VirtualServices != 7 || s.IPVS.RealServers != 12 {
		t.Fatalf("ipvs = %+v", s.IPVS)
	}
	last := s.IPVS.Services[6]
	if last.Address != "[fd00:10:96::1]:443" || last.Scheduler != "rr" || !slices.Equal(last.Backends, []string{"[fd00:172:30::10]:6443"}) {
		t.Errorf("last = %+v", last)
	}
	if !slices.Equal(s.KubeProxyModes, []string{ModeIPVS}) {
		t.Errorf("modes = %v", s.KubeProxyModes)
	}
	if _, err := ParseIPVSAdm(strings.NewReader("nothing here\n")); err == nil {
		t.Error("want error")
	}
}

func TestMerge(t *testing.T) {
	a := parseFixture(t, "iptables-cilium-kpr-dual.txt")
	b := parseFixture(t, "nft-kube-proxy.txt")
	m := Merge(a, b, nil)
	if !m.HasCilium() || !slices.Equal(m.KubeProxyModes, []string{ModeNFTables}) || len(m.Dumps) != 3 {
		t.Errorf("merged = modes %v dumps %d cilium %v", m.KubeProxyModes, len(m.Dumps), m.CiliumChains)
	}
}

// `nft list ruleset | grep -i service-` of the real kube-proxy: the
// service chains shown count, kube-proxy's nftables mode is recognised,
// and the result says it is a fragment.
func TestNFTFragmentGrepService(t *testing.T) {
	full := parseFixture(t, "nft-captured-kube-proxy.txt")
	s := parseFixture(t, "nft-fragment-grep-service.txt")
	if !s.Fragment || !slices.Contains(s.KubeProxyModes, ModeNFTables) || len(s.KubeProxyNFTables) != 1 {
		t.Fatalf("summary %+v", s)
	}
	got, want := s.KubeProxyNFTables[0].ServiceChains, full.KubeProxyNFTables[0].ServiceChains
	for _, c := range got {
		if !slices.Contains(want, c) {
			t.Errorf("chain %s is not in the whole ruleset", c)
		}
	}
	if len(got) == 0 || !strings.Contains(strings.Join(s.Warnings, " "), "lower bounds") {
		t.Errorf("chains %v, warnings %v", got, s.Warnings)
	}
	if full.Fragment {
		t.Error("the whole ruleset is not a fragment")
	}
}
