package netfilter

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func addFixtureSeeds(f *testing.F, names ...string) {
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// Malformed or truncated dumps must never panic; a nil error always comes
// with a summary whose slices are usable.
func checkSummary(t *testing.T, s *Summary, err error) {
	if err != nil {
		return
	}
	if s == nil || s.KubeProxyModes == nil || s.Dumps == nil {
		t.Fatalf("nil error but incomplete summary: %+v", s)
	}
}

func FuzzParseIPTablesSave(f *testing.F) {
	addFixtureSeeds(f, "iptables-nft-kube-proxy.txt", "iptables-cilium-kpr-dual.txt", "iptables-contiv-legacy-leftovers.txt", "iptables-captured-kube-proxy.txt")
	f.Add([]byte("*nat\n[1:2] -A KUBE-SERVICES -m comment --comment \"a\\\" b\" -j KUBE-SVC-X\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseIPTablesSave(bytes.NewReader(b))
		checkSummary(t, s, err)
	})
}

func FuzzParseNFT(f *testing.F) {
	addFixtureSeeds(f, "nft-kube-proxy.txt", "nft-kube-proxy.json", "nft-iptables-nft-kube-proxy.txt", "nft-captured-kube-proxy.txt", "nft-captured-kube-proxy.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseNFT(bytes.NewReader(b))
		checkSummary(t, s, err)
	})
}

func FuzzParseIPVSAdm(f *testing.F) {
	addFixtureSeeds(f, "ipvsadm-kube-proxy.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseIPVSAdm(bytes.NewReader(b))
		checkSummary(t, s, err)
	})
}
