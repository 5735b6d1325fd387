package offline

import (
	"bytes"
	"testing"
)

// FuzzAnalyzeStdin feeds arbitrary bytes (including zip and gzip magic)
// through the whole offline path: it must never panic and must always
// return one input or more.
func FuzzAnalyzeStdin(f *testing.F) {
	f.Add([]byte("$ cilium status\nKVStore: Ok\nKubeProxyReplacement: True [eth0 10.0.0.1]\n"))
	f.Add([]byte("PK\x03\x04garbage"))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00})
	f.Add([]byte("*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n"))
	// Fragments: a grep of iptables-save, nft and service list output.
	f.Add([]byte(":KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]\n-A KUBE-SERVICES -j KUBE-SVC-AAAAAAAAAAAAAAAA\n"))
	f.Add([]byte("\tchain service-NWBZK7IH-kube-system/kube-dns/tcp/dns-tcp {\n\t\t10.96.0.10 . tcp . 53 : goto service-NWBZK7IH-x/y/tcp/z,\n"))
	f.Add([]byte("12   10.96.0.10:53/UDP   ClusterIP   1 => 10.244.0.5:53/UDP (active)\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, _ := Analyze([]string{"-"}, Options{Stdin: bytes.NewReader(b), TempDir: t.TempDir()})
		if out == nil || len(out.Inputs) == 0 {
			t.Fatalf("no input reported for %q", b)
		}
	})
}
