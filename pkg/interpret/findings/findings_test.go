package findings

import (
	"os"
	"strings"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/netfilter"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

func load(t *testing.T, files ...string) *netfilter.Summary {
	t.Helper()
	var parts []*netfilter.Summary
	for _, f := range files {
		r, err := os.Open("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := netfilter.ParseIPTablesSave(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		parts = append(parts, s)
	}
	return netfilter.Merge(parts...)
}

var svc1 = ServicePort{Namespace: "ns1", Name: "svc1", PortName: "p80", Protocol: "TCP"}

func codes(fs []report.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code)
	}
	return out
}

func has(fs []report.Finding, code string) *report.Finding {
	for i := range fs {
		if fs[i].Code == code {
			return &fs[i]
		}
	}
	return nil
}

func TestExpectedChainsTestVector(t *testing.T) {
	// Test vector from the shared facts (node-datapath.md §3).
	got := ExpectedChains([]ServicePort{svc1})
	if got["KUBE-SVC-XPGD46QRK7WJZT7O"] != "ns1/svc1:p80" || got["KUBE-EXT-XPGD46QRK7WJZT7O"] != "ns1/svc1:p80" {
		t.Errorf("ExpectedChains = %v", got)
	}
}

// The lab's four nodes, as inspect sees them.
func TestScenarioNodes(t *testing.T) {
	kp := load(t, "kube-proxy-iptables.txt")
	cil := load(t, "cilium-kpr.txt")
	stale := netfilter.Merge(cil, kp)
	gone := ServicePort{Namespace: "default", Name: "gone", Protocol: "TCP"}
	cases := []struct {
		name    string
		in      Input
		want    []string
		wantNot []string
	}{
		{"node-iptables: live kube-proxy, all Services exist",
			Input{Rules: kp, ProxyModeChecked: true, ProxyMode: "iptables", KubeProxyPod: "kube-proxy-abc", Services: []ServicePort{svc1, gone}, ServicesKnown: true},
			nil, []string{StaleKubeProxyRules, NoServiceDatapath, KubeProxyAndCiliumKPR, KubeProxyNotAnswering}},
		{"node-cilium: KPR, no kube-proxy rules",
			Input{Rules: cil, ProxyModeChecked: true, CiliumAgent: true, CiliumKPR: KPRFull, Services: []ServicePort{svc1}, ServicesKnown: true},
			nil, []string{StaleKubeProxyRules, NoServiceDatapath, KubeProxyAndCiliumKPR}},
		{"node-stale: KPR plus leftover kube-proxy rules",
			Input{Rules: stale, ProxyModeChecked: true, CiliumAgent: true, CiliumKPR: KPRFull, Services: []ServicePort{svc1}, ServicesKnown: true},
			[]string{StaleKubeProxyRules}, []string{NoServiceDatapath, KubeProxyAndCiliumKPR}},
		{"node-bare: nothing",
			Input{Rules: load(t, "contiv-legacy.txt"), ProxyModeChecked: true},
			[]string{NoServiceDatapath}, []string{StaleKubeProxyRules, OtherServiceProxy}},
		{"hybrid: kube-proxy next to full KPR",
			Input{Rules: stale, ProxyModeChecked: true, ProxyMode: "iptables", KubeProxyPod: "kube-proxy-x", CiliumAgent: true, CiliumKPR: KPRFull},
			[]string{KubeProxyAndCiliumKPR}, []string{StaleKubeProxyRules, NoServiceDatapath}},
		{"kube-proxy pod that does not answer",
			Input{Rules: kp, ProxyModeChecked: true, KubeProxyPod: "kube-proxy-x"},
			[]string{KubeProxyNotAnswering}, []string{StaleKubeProxyRules, NoServiceDatapath}},
		{"mode switch leftovers",
			Input{Rules: kp, ProxyModeChecked: true, ProxyMode: "nftables", KubeProxyPod: "kube-proxy-x"},
			[]string{StaleKubeProxyRules}, []string{NoServiceDatapath}},
		{"agent whose KPR is unknown: no verdict on the datapath",
			Input{Rules: cil, ProxyModeChecked: true, CiliumAgent: true},
			nil, []string{NoServiceDatapath}},
		{"proxyMode not probed: no claims about liveness",
			Input{Rules: kp},
			nil, []string{StaleKubeProxyRules, NoServiceDatapath}},
		{"kube-ipvs0 left behind",
			Input{Rules: cil, KubeIPVS0: true, ProxyModeChecked: true, CiliumAgent: true, CiliumKPR: KPRFull},
			[]string{StaleKubeProxyRules}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := ForNode(c.in)
			for _, code := range c.want {
				if has(res.Findings, code) == nil {
					t.Errorf("missing %s; got %v", code, codes(res.Findings))
				}
			}
			for _, code := range c.wantNot {
				if f := has(res.Findings, code); f != nil {
					t.Errorf("unexpected %s: %s", code, f.Message)
				}
			}
			for _, f := range res.Findings {
				if f.Severity != report.SeverityWarning && f.Severity != report.SeverityInfo {
					t.Errorf("%s: severity %q", f.Code, f.Severity)
				}
			}
		})
	}
}

func TestStaleMessageNamesTheDeletedService(t *testing.T) {
	kp := load(t, "kube-proxy-iptables.txt")
	cil := load(t, "cilium-kpr.txt")
	res := ForNode(Input{Rules: netfilter.Merge(cil, kp), ProxyModeChecked: true, CiliumAgent: true, CiliumKPR: KPRFull, Services: []ServicePort{svc1}, ServicesKnown: true})
	if len(res.Stale) != 1 || res.Stale[0].Chain != "KUBE-SVC-NOZ62LFLXQMHSLBW" || res.Stale[0].ServicePort != "default/gone" {
		t.Fatalf("stale chains = %+v", res.Stale)
	}
	f := has(res.Findings, StaleKubeProxyRules)
	for _, want := range []string{"no kube-proxy runs", "2 KUBE-SVC/SVL chains", "KUBE-NODEPORTS", "default/gone", "--cleanup"} {
		if f == nil || !strings.Contains(f.Message, want) {
			t.Errorf("message lacks %q: %v", want, f)
		}
	}
}

func TestOrphanChainsWithLiveKubeProxy(t *testing.T) {
	kp := load(t, "kube-proxy-iptables.txt")
	res := ForNode(Input{Rules: kp, ProxyModeChecked: true, ProxyMode: "iptables", KubeProxyPod: "kp", Services: []ServicePort{svc1}, ServicesKnown: true})
	f := has(res.Findings, StaleKubeProxyRules)
	if f == nil || !strings.Contains(f.Message, "no longer exist") || !strings.Contains(f.Message, "stuck") {
		t.Errorf("want orphan-chain finding, got %v", res.Findings)
	}
}

func TestNoDatapathMentionsContiv(t *testing.T) {
	res := ForNode(Input{Rules: load(t, "contiv-legacy.txt"), ProxyModeChecked: true})
	f := has(res.Findings, NoServiceDatapath)
	if f == nil || !strings.Contains(f.Message, "contiv (CONTIV-NODEPORT)") {
		t.Errorf("got %v", res.Findings)
	}
}

func TestBothBackends(t *testing.T) {
	both := netfilter.Merge(load(t, "cilium-kpr.txt"), load(t, "contiv-legacy.txt"))
	res := ForNode(Input{Rules: both, ProxyModeChecked: true, CiliumAgent: true, CiliumKPR: KPRFull})
	f := has(res.Findings, BothIPTablesBackends)
	if f == nil || !strings.Contains(f.Message, "legacy, nf_tables") {
		t.Errorf("got %v", res.Findings)
	}
	if has(res.Findings, OtherServiceProxy) == nil {
		t.Errorf("contiv markers next to KPR are an info finding: %v", codes(res.Findings))
	}
}

func TestStaleNFTablesChains(t *testing.T) {
	s := &netfilter.Summary{KubeProxyModes: []string{"nftables"}, KubeProxyNFTables: []netfilter.NFTTable{{
		Family: "ip", Name: "kube-proxy", ServiceChains: []string{
			"service-2QRHZV4L-ns1/svc1/tcp/p80",
			"service-ULMVA6XW-default/gone/tcp/",
		}}}}
	got := StaleChains(s, []ServicePort{svc1})
	if len(got) != 1 || got[0].ServicePort != "default/gone" || !strings.HasPrefix(got[0].Chain, "ip kube-proxy service-") {
		t.Errorf("StaleChains = %+v", got)
	}
}

// inspect knows KPR only from cilium-config: the finding says whose word
// "full" is; diff and verify pass the agent's own.
func TestKubeProxyAndKPRSaysWhereFullComesFrom(t *testing.T) {
	base := Input{Rules: &netfilter.Summary{}, ProxyModeChecked: true, ProxyMode: "iptables", KubeProxyPod: "kube-proxy-x", CiliumAgent: true, CiliumKPR: KPRFull}
	for _, c := range []struct {
		from string
		want bool
	}{{"cilium-config", true}, {"agent", false}} {
		in := base
		in.CiliumKPRFrom = c.from
		var msg string
		for _, f := range ForNode(in).Findings {
			if f.Code == KubeProxyAndCiliumKPR {
				msg = f.Message
			}
		}
		if msg == "" {
			t.Fatalf("%s: no %s finding", c.from, KubeProxyAndCiliumKPR)
		}
		if got := strings.Contains(msg, "as cilium-config sets it"); got != c.want {
			t.Errorf("from %s: message %q, want the cilium-config note: %v", c.from, msg, c.want)
		}
	}
}

func TestCompareKPRConfigured(t *testing.T) {
	pending := "false"
	a := NodeFacts{Name: "a", Status: &report.NodeStatus{NodeConfig: &report.NodeConfig{Keys: []report.ConfigKey{
		{Key: "kube-proxy-replacement", Value: "true", Origin: "CiliumNodeConfig kube-system/kpr", Configured: &pending, ConfiguredOrigin: "node annotation"}}}}}
	b := NodeFacts{Name: "b", Status: &report.NodeStatus{}}
	d := Compare(a, b)
	for _, r := range d.Rows {
		if r.Fact != "KPR configured" {
			continue
		}
		if r.A != "true (CiliumNodeConfig kube-system/kpr), now false (node annotation, not applied)" || r.B != "-" || !r.Differs || r.Decisive {
			t.Errorf("row = %+v", r)
		}
		return
	}
	t.Error("no KPR configured row")
}
