package offline

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

// The formats issue 20 lists as misread ("analyze: formats still
// misread"), each fed through analyze as a file: nft listings of an
// iptables-nft node running kube-proxy (whole, chains without their
// table, a grep), `cilium status` of 1.7 to 1.9, and device lists with
// redacted addresses or a dummy direct-routing device. The fixtures and
// how each was made: pkg/interpret/netfilter/testdata/README.md and
// pkg/interpret/cilium/testdata/old-formats/README.md.

const oldFormats = "../../interpret/cilium/testdata/old-formats/"

func TestAnalyzeIPTablesNFTListings(t *testing.T) {
	for _, tc := range []struct {
		file      string
		fragment  bool
		svcChains int
	}{
		{"nft-iptables-nft-captured-kube-proxy.txt", false, 7},
		{"nft-fragment-nat-chains.txt", true, 7},
		{"nft-fragment-grep-kube-svc.txt", true, 6},
	} {
		t.Run(tc.file, func(t *testing.T) {
			out, st := Analyze([]string{netfilterTestdata + tc.file}, Options{})
			if st.Recognised != 1 || len(out.Inputs) != 1 {
				t.Fatalf("recognised %d of %+v", st.Recognised, out.Inputs)
			}
			in := out.Inputs[0]
			if in.Kind != "nft-ruleset" || in.Fragment != tc.fragment || in.Reason != "" || in.Netfilter == nil {
				t.Fatalf("input %+v", in)
			}
			// kube-proxy's iptables chains, not its nftables mode.
			nf := in.Netfilter
			if in.ServicesBy != verdict.KubeProxyIPTables || !slices.Equal(nf.KubeProxyModes, []string{"iptables"}) || len(nf.KubeProxyNFTables) != 0 {
				t.Errorf("servicesBy %s, modes %v, nft tables %+v", in.ServicesBy, nf.KubeProxyModes, nf.KubeProxyNFTables)
			}
			if len(nf.KubeServiceChains) != tc.svcChains || nf.Counts.KubeSVC.Chains != 6 {
				t.Errorf("chains %v, counts %+v", nf.KubeServiceChains, nf.Counts)
			}
		})
	}
}

// A bugtool archive of an iptables-nft node holds both iptables-nft-save
// and nft's listing of the same rules: they count once.
func TestSysdumpIPTablesNFTWithNFTListing(t *testing.T) {
	const bt = "cilium-bugtool-20261127-174801.123+0000-UTC-12345/cmd/"
	archive := tarGz(t, []entry{
		{bt + "cilium-status---verbose.md", bugtoolMD("cilium status --verbose", fixture(t, oldFormats+"1.9.0-status-kpr-probe-verbose.txt"))},
		{bt + "iptables-nft-save--c.md", bugtoolMD("iptables-nft-save -c", fixture(t, netfilterTestdata+"iptables-captured-kube-proxy.txt"))},
		{bt + "nft-list-ruleset.md", bugtoolMD("nft list ruleset", fixture(t, netfilterTestdata+"nft-iptables-nft-captured-kube-proxy.txt"))},
	})
	p := writeSysdump(t, []entry{{"cilium-sysdump-20261127-174800/cilium-bugtool-cilium-old19-20261127-174801.tar.gz", archive}})
	out, st := Analyze([]string{p}, Options{})
	if len(st.Errors) != 0 || st.Recognised != 3 {
		t.Fatalf("errors %v, recognised %d: %+v", st.Errors, st.Recognised, out.Inputs)
	}
	a := agentByName(t, out, "cilium-old19")
	if a.Netfilter == nil || a.Netfilter.Counts.KubeSVC.Chains != 6 || a.Netfilter.Counts.KubeSEP.Chains != 10 {
		t.Fatalf("netfilter %+v: the nft listing must not count iptables-nft's chains twice", a.Netfilter)
	}
	if !slices.Equal(a.KubeProxyModes, []string{"iptables"}) || !a.KubeProxyRules {
		t.Errorf("modes %v, kube-proxy rules %v", a.KubeProxyModes, a.KubeProxyRules)
	}
	// 1.9 Probe: the agent does part of the Services, kube-proxy's rules
	// are there.
	k := a.CiliumStatus.KubeProxyReplacement
	if k == nil || k.Mode != "Probe" || k.SocketLB == nil || !*k.SocketLB || len(k.Devices) != 2 || !k.Devices[0].DirectRouting {
		t.Errorf("status %+v", a.CiliumStatus)
	}
}

// writeSysdump writes entries as a sysdump zip.
func writeSysdump(t *testing.T, entries []entry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cilium-sysdump-20261127-174800.zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The old `cilium status` renderings and the redacted device lists, as
// analyze reports them.
func TestAnalyzeOldCiliumStatus(t *testing.T) {
	type dev struct {
		name   string
		direct bool
	}
	for _, tc := range []struct {
		file, mode string
		by         verdict.ServicesBy
		devices    []dev
		nodePort   string // "true", "false", "" (not reported)
		socketLB   string
	}{
		{"1.7.0-status-kpr-strict.txt", "Strict", verdict.Cilium, nil, "true", "true"},
		{"1.7.0-status-kpr-partial.txt", "Partial", verdict.Partial, nil, "false", "true"},
		{"1.8.0-rc1-status-kpr-strict.txt", "Strict", verdict.Cilium, []dev{{"eth0", false}}, "true", "true"},
		{"1.8.0-status-kpr-strict.txt", "Strict", verdict.Cilium, []dev{{"eth0", true}, {"eth1", false}}, "true", "true"},
		{"1.8.0-status-kpr-partial.txt", "Partial", verdict.Partial, []dev{{"eth0", true}, {"eth1", false}}, "false", "true"},
		{"1.9.0-status-kpr-probe-verbose.txt", "Probe", verdict.Partial, []dev{{"eth0", true}, {"eth1", false}}, "true", "true"},
		{"1.9.0-status-kpr-strict-dummy0.txt", "Strict", verdict.Cilium, []dev{{"eth0", false}, {"dummy0", true}}, "", ""},
		{"1.18.8-status-kpr-true-dummy0-redacted.txt", "True", verdict.Cilium, []dev{{"enp1s0", false}, {"dummy0", true}}, "", ""},
		{"1.18.8-status-kpr-true-redacted-verbose.txt", "True", verdict.Cilium, []dev{{"eth0", true}, {"eth1", false}}, "true", "true"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			out, st := Analyze([]string{oldFormats + tc.file}, Options{})
			if st.Recognised != 1 || len(out.Inputs) != 1 {
				t.Fatalf("recognised %d of %+v", st.Recognised, out.Inputs)
			}
			in := out.Inputs[0]
			if in.Kind != "cilium-status" || in.CiliumStatus == nil || in.CiliumStatus.KubeProxyReplacement == nil {
				t.Fatalf("input %+v", in)
			}
			k := in.CiliumStatus.KubeProxyReplacement
			if k.Mode != tc.mode || in.ServicesBy != tc.by {
				t.Errorf("mode %s, servicesBy %s", k.Mode, in.ServicesBy)
			}
			var got []dev
			for _, d := range k.Devices {
				got = append(got, dev{d.Name, d.DirectRouting})
			}
			if !slices.Equal(got, tc.devices) {
				t.Errorf("devices %+v, want %+v", k.Devices, tc.devices)
			}
			if s := boolStr(k.NodePort); s != tc.nodePort {
				t.Errorf("NodePort %s, want %q", s, tc.nodePort)
			}
			if s := boolStr(k.SocketLB); s != tc.socketLB {
				t.Errorf("SocketLB %s, want %q", s, tc.socketLB)
			}
		})
	}
}

func boolStr(b *bool) string {
	switch {
	case b == nil:
		return ""
	case *b:
		return "true"
	}
	return "false"
}

// Pasted from stdin as public issues show it (cilium/cilium#32065 put the
// direct-routing mark in markdown bold): the paste's noise goes, the
// device list reads as the fixture's.
func TestAnalyzePastedRedactedStatus(t *testing.T) {
	b := fixture(t, oldFormats+"1.18.8-status-kpr-true-dummy0-redacted.txt")
	in := "```\n" + strings.Replace(b, "(Direct Routing)", "**(Direct Routing)**", 1) + "\n```\n"
	out, st := Analyze([]string{"-"}, Options{Stdin: strings.NewReader(in), TempDir: t.TempDir()})
	if st.Recognised != 1 || len(out.Inputs) != 1 || out.Inputs[0].CiliumStatus == nil {
		t.Fatalf("recognised %d: %+v", st.Recognised, out.Inputs)
	}
	k := out.Inputs[0].CiliumStatus.KubeProxyReplacement
	if len(k.Devices) != 2 || k.Devices[0].Name != "enp1s0" || k.Devices[1].Name != "dummy0" || !k.Devices[1].DirectRouting ||
		!slices.Equal(k.Devices[0].Addresses, []string{"fe80::5054:ff:fe6b:a1c2", "<PUBLIC_NODE_IP>"}) {
		t.Errorf("devices %+v", k.Devices)
	}
}
