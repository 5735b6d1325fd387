package netfilter

import (
	"slices"
	"testing"
)

// These fixtures are the real kube-proxy v1.37.2's own rules, captured by
// testdata/capture-kube-proxy.sh (real kube-apiserver, real kube-proxy in
// a scratch netns).
func TestCapturedKubeProxyIPTables(t *testing.T) {
	s := parseFixture(t, "iptables-captured-kube-proxy.txt")
	want := []string{
		ServiceChainName(PrefixSVC, "default/nm-nginx", "tcp"),
		ServiceChainName(PrefixSVC, "demo/web-local:http", "tcp"),
		ServiceChainName(PrefixSVC, "kube-system/kube-dns:dns-tcp", "tcp"),
		ServiceChainName(PrefixSVC, "kube-system/kube-dns:metrics", "tcp"),
		ServiceChainName(PrefixSVC, "default/kubernetes:https", "tcp"),
		ServiceChainName(PrefixSVC, "kube-system/kube-dns:dns", "udp"),
		ServiceChainName(PrefixSVL, "demo/web-local:http", "tcp"),
	}
	slices.Sort(want)
	if !slices.Equal(s.KubeServiceChains, want) {
		t.Errorf("chains = %v\nwant     %v (kube-proxy's hash, computed here)", s.KubeServiceChains, want)
	}
	if len(s.Services) != 10 {
		t.Errorf("services = %d: %+v", len(s.Services), s.Services)
	}
	for _, sc := range s.Services {
		if !sc.HashVerified || sc.Protocol == "" {
			t.Errorf("%+v: the real kube-proxy's comment must match its chain hash", sc)
		}
	}
	if !slices.Equal(s.KubeProxyModes, []string{ModeIPTables}) || s.HasCilium() || len(s.Other) != 0 {
		t.Errorf("modes %v cilium %v other %v", s.KubeProxyModes, s.CiliumChains, s.Other)
	}
	if len(s.Dumps) != 2 || s.Dumps[0].Family != "ipv4" || s.Dumps[1].Family != "ipv6" || s.Dumps[0].Backend != "nf_tables" {
		t.Errorf("dumps = %+v", s.Dumps)
	}
	if s.Counts.KubeSEP != (ChainRules{Chains: 10, Rules: 20}) || s.Counts.KubeFW.Chains != 1 || s.Counts.KubeEXT.Chains != 2 {
		t.Errorf("counts = %+v", s.Counts)
	}
}

func TestCapturedKubeProxyNFTables(t *testing.T) {
	for _, name := range []string{"nft-captured-kube-proxy.txt", "nft-captured-kube-proxy.json"} {
		s := parseFixture(t, name)
		if len(s.KubeProxyNFTables) != 2 {
			t.Fatalf("%s: tables %+v", name, s.KubeProxyNFTables)
		}
		v4, v6 := s.KubeProxyNFTables[0], s.KubeProxyNFTables[1]
		if v4.Family != "ip" || len(v4.ServiceChains) != 10 || !slices.Contains(v4.ServiceChains, "external-SWV3JIKW-default/nm-nginx/tcp/") {
			t.Errorf("%s: ip table %+v", name, v4)
		}
		if v6.Family != "ip6" || len(v6.ServiceChains) != 0 {
			t.Errorf("%s: ip6 table %+v", name, v6)
		}
		// kube-proxy in nftables mode removed the iptables mode's rules at
		// start: only kubelet's KUBE-FIREWALL is left in iptables-nft's tables.
		if !slices.Equal(s.KubeProxyModes, []string{ModeNFTables}) || len(s.KubeServiceChains) != 0 || !slices.Equal(s.KubeletChains, []string{"KUBE-FIREWALL"}) {
			t.Errorf("%s: modes %v svc %v kubelet %v", name, s.KubeProxyModes, s.KubeServiceChains, s.KubeletChains)
		}
		if s.Dumps[0].Family != "" {
			t.Errorf("%s: an nft listing mixes families, got %q", name, s.Dumps[0].Family)
		}
		for _, c := range v4.ServiceChains {
			if _, svc, _, ok := ParseNFTServiceChain(c); !ok || svc == "" {
				t.Errorf("%s: %q does not name its Service", name, c)
			}
		}
	}
}
