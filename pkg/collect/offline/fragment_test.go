package offline

import (
	"encoding/json"
	"strings"
	"testing"
)

// What people paste after the seed's greps: rows without their header,
// chain lines without their table. Each is recognised, flagged as a
// fragment, and keeps Cilium's numeric ids.
func TestFragments(t *testing.T) {
	for _, tc := range []struct {
		file, kind string
		ids        []int64
		facts      string
	}{
		{"testdata/cilium-v1.18.8-service-list-grep.txt", "cilium-service-list", []int64{2, 3}, ""},
		{"testdata/cilium-v1.12.19-service-list-grep-with-prompt.txt", "cilium-service-list", []int64{2}, ""},
		{"testdata/iptables-fragment-grep-kube-svc.txt", "iptables-save", nil, "lower bounds"},
		{netfilterTestdata + "nft-fragment-grep-service.txt", "nft-ruleset", nil, "lower bounds"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			out, st := Analyze([]string{tc.file}, Options{})
			if st.Recognised != 1 || len(out.Inputs) != 1 {
				t.Fatalf("recognised %d of %+v", st.Recognised, out.Inputs)
			}
			in := out.Inputs[0]
			if in.Kind != tc.kind || !in.Fragment || in.Reason != "" {
				t.Fatalf("input %+v", in)
			}
			var ids []int64
			for _, s := range in.Services {
				ids = append(ids, s.ID)
			}
			if len(ids) != len(tc.ids) || (len(ids) > 0 && ids[0] != tc.ids[0]) {
				t.Errorf("ids %v, want %v", ids, tc.ids)
			}
			b, _ := json.Marshal(in)
			if !strings.Contains(string(b), `"fragment":true`) {
				t.Errorf("JSON lacks the fragment flag: %s", b)
			}
			if tc.kind == "iptables-save" && (in.Netfilter == nil || !strings.Contains(strings.Join(in.Netfilter.Warnings, " "), tc.facts) || len(in.Netfilter.KubeServiceChains) == 0) {
				t.Errorf("netfilter %+v", in.Netfilter)
			}
			if tc.kind == "nft-ruleset" && (in.Netfilter == nil || len(in.Netfilter.KubeProxyNFTables) != 1 || in.ServicesBy != "kube-proxy-nftables") {
				t.Errorf("netfilter %+v, servicesBy %s", in.Netfilter, in.ServicesBy)
			}
		})
	}
}

// `ipvsadm -Ln | head`: the header survives head, so it is a whole listing
// as far as anyone can tell; what it shows is read.
func TestIPVSAdmHead(t *testing.T) {
	out, st := Analyze([]string{netfilterTestdata + "ipvsadm-fragment-head.txt"}, Options{})
	if st.Recognised != 1 || out.Inputs[0].Kind != "ipvsadm" || out.Inputs[0].Netfilter.IPVS.VirtualServices != 2 || out.Inputs[0].ServicesBy != "kube-proxy-ipvs" {
		t.Errorf("inputs %+v", out.Inputs)
	}
}
