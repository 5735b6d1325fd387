package netfilter

import "testing"

// Expected names come from kube-proxy's own unit tests (k/k
// pkg/proxy/iptables/proxier_test.go), which pin the real hash.
func TestServiceChainName(t *testing.T) {
	cases := []struct {
		prefix, svcPort, proto, want string
	}{
		{PrefixSVC, "ns1/svc1:p80", "tcp", "KUBE-SVC-XPGD46QRK7WJZT7O"},
		{PrefixSVL, "ns1/svc1:p80", "tcp", "KUBE-SVL-XPGD46QRK7WJZT7O"},
		{PrefixEXT, "ns1/svc1:p80", "TCP", "KUBE-EXT-XPGD46QRK7WJZT7O"},
		{PrefixSVC, "ns2/svc2:p80", "tcp", "KUBE-SVC-GNZBNJ2PO5MGZ6GT"},
		{PrefixSVC, "ns2/svc2:p8080", "tcp", "KUBE-SVC-2VJB64SDSIJUP5T6"},
		{PrefixSVC, "ns3/svc3:p80", "tcp", "KUBE-SVC-X27LE4BHSL4DOUIK"},
		{PrefixSVC, "ns4/svc4:p80", "tcp", "KUBE-SVC-4SW47YFZTEDKD3PK"},
		{PrefixSVC, "ns5/svc5:p80", "tcp", "KUBE-SVC-NUKIZ6OKUXPJNT4C"},
	}
	for _, c := range cases {
		if got := ServiceChainName(c.prefix, c.svcPort, c.proto); got != c.want {
			t.Errorf("ServiceChainName(%q, %q, %q) = %q, want %q", c.prefix, c.svcPort, c.proto, got, c.want)
		}
	}
	if ServiceChainName(PrefixSVC, "ns1/svc1:p80", "udp") == "KUBE-SVC-XPGD46QRK7WJZT7O" {
		t.Error("protocol must change the hash")
	}
}

func TestSplitServicePortName(t *testing.T) {
	ns, name, port, ok := SplitServicePortName("kube-system/kube-dns:dns-tcp")
	if !ok || ns != "kube-system" || name != "kube-dns" || port != "dns-tcp" {
		t.Fatalf("got %q %q %q %v", ns, name, port, ok)
	}
	if _, _, port, ok := SplitServicePortName("default/kubernetes"); !ok || port != "" {
		t.Fatalf("unnamed port: %q %v", port, ok)
	}
	for _, bad := range []string{"", "noslash", "/name", "ns/", "kubernetes service nodeports; NOTE: this must be the last rule in this chain"} {
		if _, _, _, ok := SplitServicePortName(bad); ok {
			t.Errorf("SplitServicePortName(%q) ok, want !ok", bad)
		}
	}
}

func TestParseNFTServiceChain(t *testing.T) {
	kind, svc, proto, ok := ParseNFTServiceChain("service-ULMVA6XW-ns1/svc1/tcp/p80")
	if !ok || kind != "service" || svc != "ns1/svc1:p80" || proto != "tcp" {
		t.Fatalf("got %q %q %q %v", kind, svc, proto, ok)
	}
	if _, svc, _, ok := ParseNFTServiceChain("external-42NFTM6N-ns2/svc2/udp/"); !ok || svc != "ns2/svc2" {
		t.Fatalf("unnamed port: %q %v", svc, ok)
	}
	for _, bad := range []string{"endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80", "services", "service-ips", "nat-prerouting", "service-XX-a/b/c/d"} {
		if _, _, _, ok := ParseNFTServiceChain(bad); ok {
			t.Errorf("%q parsed as a service chain", bad)
		}
	}
}
