package acceptance

import (
	"strings"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/cilium"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

// The expectation table: class × check → (expectation, result when the
// outcome matches, result when it does not).
func TestProbeExpectationTable(t *testing.T) {
	const (
		A, N, X       = report.ExpectAnswer, report.ExpectNoAnswer, report.ExpectAny
		P, F, W, S    = report.ResultPass, report.ResultFail, report.ResultWarn, report.ResultSkip
		cip, loc, lo0 = report.CheckClusterIP, report.CheckNodePortLocal, report.CheckNodePortLoopback
		any0          = report.CheckNodePortAny
	)
	type want struct{ expect, onMatch, onMismatch string }
	cases := []struct {
		class  string
		check  string
		strict bool
		want   want
	}{
		{"cilium", cip, false, want{A, P, F}},
		{"cilium", loc, false, want{A, P, F}},
		{"cilium", lo0, false, want{A, P, F}},
		{"cilium", any0, false, want{A, P, F}},
		{"kube-proxy-iptables", cip, false, want{A, P, F}},
		{"kube-proxy-iptables", lo0, false, want{A, P, F}},
		{"kube-proxy-iptables", any0, false, want{A, P, F}},
		{"kube-proxy-ipvs", cip, false, want{A, P, F}},
		{"kube-proxy-ipvs", loc, false, want{A, P, F}},
		{"kube-proxy-ipvs", lo0, false, want{X, P, P}},
		{"kube-proxy-nftables", lo0, false, want{X, P, P}},
		{"kube-proxy-nftables", any0, false, want{X, P, P}},
		{"both", cip, false, want{A, P, F}},
		{"both", lo0, false, want{A, P, F}},
		{"partial", cip, false, want{A, P, F}},
		{"partial", lo0, false, want{X, P, P}},
		{"none", cip, false, want{N, W, W}},
		{"none", loc, false, want{N, W, W}},
		{"none", cip, true, want{N, F, W}},
		{"none", any0, true, want{N, F, W}},
		{"unknown", cip, false, want{X, S, S}},
		{"unknown", cip, true, want{X, S, S}},
	}
	for _, c := range cases {
		e := ProbeExpectation(c.class, c.check, Policy{}, c.strict)
		got := want{e.Expect, e.OnMatch, e.OnMismatch}
		if got != c.want {
			t.Errorf("%s × %s (strict=%v) = %+v, want %+v", c.class, c.check, c.strict, got, c.want)
		}
		if e.Why == "" {
			t.Errorf("%s × %s: no explanation", c.class, c.check)
		}
	}
}

func TestRemoteExpectationFollowsTheRemoteNode(t *testing.T) {
	for _, c := range []struct {
		via            string
		strict         bool
		expect, onMiss string
		onMatch        string
	}{
		{"cilium", false, report.ExpectAnswer, report.ResultFail, report.ResultPass},
		{"kube-proxy-iptables", false, report.ExpectAnswer, report.ResultFail, report.ResultPass},
		{"both", false, report.ExpectAnswer, report.ResultFail, report.ResultPass},
		{"none", false, report.ExpectNoAnswer, report.ResultWarn, report.ResultWarn},
		{"none", true, report.ExpectNoAnswer, report.ResultWarn, report.ResultFail},
		{"unknown", false, report.ExpectAny, report.ResultSkip, report.ResultSkip},
	} {
		e := RemoteExpectation(c.via, false, Policy{}, c.strict)
		if e.Expect != c.expect || e.OnMismatch != c.onMiss || e.OnMatch != c.onMatch {
			t.Errorf("remote %s strict=%v: %+v", c.via, c.strict, e)
		}
	}
}

func TestTrafficPolicyLocal(t *testing.T) {
	// eTP=Local: a remote NodePort without a local endpoint must not answer.
	e := RemoteExpectation("cilium", false, Policy{ExternalLocal: true}, false)
	if e.Expect != report.ExpectNoAnswer || e.OnMismatch != report.ResultFail {
		t.Errorf("eTP=Local remote without endpoint: %+v", e)
	}
	if e := RemoteExpectation("cilium", false, Policy{ExternalLocal: true, LocalEndpoint: true}, false); e.Expect != report.ExpectAnswer {
		t.Errorf("eTP=Local remote with endpoint: %+v", e)
	}
	// The node's own connections are internal traffic: either is fine.
	if e := ProbeExpectation("cilium", report.CheckNodePortLocal, Policy{ExternalLocal: true}, false); e.Expect != report.ExpectAny {
		t.Errorf("eTP=Local from the node itself: %+v", e)
	}
	// eTP does not touch the ClusterIP; iTP=Local does.
	if e := ProbeExpectation("cilium", report.CheckClusterIP, Policy{ExternalLocal: true}, false); e.Expect != report.ExpectAnswer {
		t.Errorf("eTP=Local ClusterIP: %+v", e)
	}
	if e := ProbeExpectation("kube-proxy-iptables", report.CheckClusterIP, Policy{InternalLocal: true}, false); e.Expect != report.ExpectNoAnswer || e.OnMismatch != report.ResultFail {
		t.Errorf("iTP=Local ClusterIP without endpoint: %+v", e)
	}
}

func TestAgrees(t *testing.T) {
	must := ProbeExpectation("cilium", report.CheckClusterIP, Policy{}, false)
	none := ProbeExpectation("none", report.CheckClusterIP, Policy{}, false)
	for _, c := range []struct {
		e       Expectation
		outcome string
		want    bool
	}{
		{must, "ok", true}, {must, "timeout", false}, {must, "refused", false},
		{none, "timeout", true}, {none, "refused", true}, {none, "ok", false},
	} {
		if got := Agrees(c.e, c.outcome); got != c.want {
			t.Errorf("Agrees(%s, %s) = %v", c.e.Expect, c.outcome, got)
		}
	}
}

func staleInspect() *report.InspectNode {
	return &report.InspectNode{
		Name: "node-stale", KubeProxyMode: "none", RulesSource: "chroot /host",
		Netfilter: &report.Rules{
			KubeServiceChains: []string{"KUBE-SVC-A", "KUBE-SVC-B", "KUBE-SVC-C"},
			Counts:            report.RuleCounts{KubeSEP: report.ChainRules{Chains: 3}, KubeNodePorts: report.ChainRules{Chains: 1, Rules: 4}},
		},
		Findings: []report.Finding{{Code: "stale-kube-proxy-rules", Severity: "warning"}},
	}
}

func find(t *testing.T, cs []report.VerifyCheck, id string) report.VerifyCheck {
	t.Helper()
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	t.Fatalf("no check %s; have %s", id, strings.Join(ids, ", "))
	return report.VerifyCheck{}
}

func TestEvaluateStaleCiliumNodeFails(t *testing.T) {
	st := &report.NodeStatus{Name: "node-stale", ServicesBy: verdict.Cilium,
		CiliumAgent:          &report.AgentRef{Pod: "cilium-x", Namespace: "kube-system", Ready: true},
		KubeProxyReplacement: &report.KPR{Mode: "True", ReplacesKubeProxy: "full", Devices: []report.KPRDevice{{Name: "eth0"}}}}
	n := Node{Name: "node-stale", Class: "cilium", Status: st, Inspect: staleInspect(),
		Probes: []Probe{
			{Check: report.CheckClusterIP, Service: "ns/a:http", Target: "10.96.0.10:80", Outcome: "ok", LatencyMs: 0.5, Attempts: 1},
			{Check: report.CheckNodePortLoopback, Service: "ns/a:http", Target: "127.0.0.1:30080", Outcome: "refused", Attempts: 3},
			{Check: report.CheckNodePortRemote, Service: "ns/a:http", Target: "172.30.0.13:30080", Via: "node-bare", ViaClass: "none", Outcome: "refused", Attempts: 1},
		},
		Frontends: []Frontends{{Service: "ns/a:http", Agent: "kube-system/cilium-x", Expected: 3, Found: 2, Problems: []string{"missing-frontend 0.0.0.0:30080/TCP"}}},
	}
	cs := JudgeNode(n, false, Reproducer{DebugImage: "img:1"})
	rules := find(t, cs, "node-stale/no-kube-proxy-rules")
	if rules.Result != report.ResultFail || !strings.Contains(rules.Reason, "stale") || !strings.Contains(rules.Reason, "3 KUBE-SVC/SVL chains") || !strings.Contains(rules.Reason, "4 KUBE-NODEPORTS rules") {
		t.Errorf("stale rules check: %+v", rules)
	}
	if rules.Evidence.Rules == nil || rules.Evidence.Rules.KubeServiceChains != 3 || !strings.Contains(rules.Reproduce, "iptables-save") {
		t.Errorf("stale rules evidence: %+v", rules)
	}
	if c := find(t, cs, "node-stale/clusterip/ns/a:http"); c.Result != report.ResultPass {
		t.Errorf("clusterip: %+v", c)
	}
	lo := find(t, cs, "node-stale/nodeport-loopback/ns/a:http")
	if lo.Result != report.ResultFail || !strings.Contains(lo.Reason, "refused after 3 attempt(s)") || !strings.Contains(lo.Reproduce, "http://127.0.0.1:30080/") {
		t.Errorf("loopback: %+v", lo)
	}
	if c := find(t, cs, "node-stale/nodeport-remote/ns/a:http/node-bare"); c.Result != report.ResultWarn || c.Expect != report.ExpectNoAnswer {
		t.Errorf("remote to a none node: %+v", c)
	}
	if c := find(t, cs, "node-stale/cilium-frontends/ns/a:http"); c.Result != report.ResultFail || !strings.Contains(c.Reason, "missing-frontend") {
		t.Errorf("frontends: %+v", c)
	}
	if c := find(t, cs, "node-stale/agent-kpr"); c.Result != report.ResultPass || !strings.Contains(c.Evidence.Text, "eth0") {
		t.Errorf("agent-kpr: %+v", c)
	}
}

func TestEvaluateNoneNodeWarnsOrFailsWithStrict(t *testing.T) {
	st := &report.NodeStatus{Name: "node-bare", ServicesBy: verdict.None,
		Warnings: []verdict.Warning{{Code: verdict.CodeNoServiceDatapath, Message: "nothing"}}}
	n := Node{Name: "node-bare", Class: "none", Status: st, Inspect: &report.InspectNode{KubeProxyMode: "none", Netfilter: &report.Rules{}},
		Probes: []Probe{{Check: report.CheckClusterIP, Service: "ns/a:http", Target: "10.96.0.10:80", Outcome: "timeout", Attempts: 1}}}
	for _, strict := range []bool{false, true} {
		want := report.ResultWarn
		if strict {
			want = report.ResultFail
		}
		cs := JudgeNode(n, strict, Reproducer{})
		c := find(t, cs, "node-bare/clusterip/ns/a:http")
		if c.Result != want || !strings.Contains(c.Reason, "no Service datapath on this node") {
			t.Errorf("strict=%v clusterip: %+v", strict, c)
		}
		if c := find(t, cs, "node-bare/service-datapath"); c.Result != want {
			t.Errorf("strict=%v service-datapath: %+v", strict, c)
		}
		// no-service-datapath has its own check, not a status warning.
		if c := find(t, cs, "node-bare/status-warnings"); c.Result != report.ResultPass {
			t.Errorf("status-warnings: %+v", c)
		}
	}
}

func TestEvaluateUnreachableNodeAndKubeProxy(t *testing.T) {
	n := Node{Name: "node-x", Class: "kube-proxy-iptables", Status: &report.NodeStatus{Name: "node-x"}, Err: "node is NotReady"}
	cs := JudgeNode(n, false, Reproducer{})
	if c := find(t, cs, "node-x/node-checked"); c.Result != report.ResultFail || !strings.Contains(c.Reason, "NotReady") {
		t.Errorf("node-checked: %+v", c)
	}
	kp := Node{Name: "node-i", Class: "kube-proxy-iptables", Status: &report.NodeStatus{Name: "node-i"},
		Inspect: &report.InspectNode{KubeProxyMode: "iptables", Netfilter: &report.Rules{KubeServiceChains: []string{"KUBE-SVC-A"}}}}
	if c := find(t, JudgeNode(kp, false, Reproducer{}), "node-i/kube-proxy-rules"); c.Result != report.ResultPass {
		t.Errorf("kube-proxy-rules: %+v", c)
	}
	kp.Inspect.KubeProxyMode = "none"
	if c := find(t, JudgeNode(kp, false, Reproducer{}), "node-i/kube-proxy-rules"); c.Result != report.ResultFail || !strings.Contains(c.Reason, "stale") {
		t.Errorf("kube-proxy-rules without kube-proxy: %+v", c)
	}
	both := Node{Name: "node-b", Class: "both", Status: &report.NodeStatus{Name: "node-b"}, Inspect: kp.Inspect}
	if c := find(t, JudgeNode(both, false, Reproducer{}), "node-b/single-datapath"); c.Result != report.ResultFail {
		t.Errorf("single-datapath: %+v", c)
	}
}

func TestSummarizeAndClasses(t *testing.T) {
	classes := Classes(map[string]string{"b": "none", "a": "cilium", "c": "cilium", "d": "kube-proxy-iptables", "e": "weird"})
	var names []string
	for _, c := range classes {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "cilium,kube-proxy-iptables,none,weird" {
		t.Fatalf("class order %s", got)
	}
	checks := []report.VerifyCheck{{Class: "cilium", Result: "pass"}, {Class: "cilium", Result: "fail"}, {Class: "none", Result: "warn"}, {Class: "none", Result: "skip"}}
	s, cl := Tally(checks, classes)
	if s.Result != report.ResultFail || s.Pass != 1 || s.Fail != 1 || s.Warn != 1 || s.Skip != 1 || s.Checks != 4 {
		t.Errorf("summary %+v", s)
	}
	if cl[0].Pass != 1 || cl[0].Fail != 1 || cl[2].Warn != 1 {
		t.Errorf("classes %+v", cl)
	}
	if s, _ := Tally(checks[2:], classes); s.Result != report.ResultPass {
		t.Errorf("warnings alone must pass: %+v", s)
	}
}

func TestSampleIsReproducible(t *testing.T) {
	mk := func() []report.VerifyClass {
		return Classes(map[string]string{"n1": "cilium", "n2": "cilium", "n3": "cilium", "n4": "cilium", "n5": "cilium", "k1": "kube-proxy-iptables"})
	}
	a, b := mk(), mk()
	ca := Sample(a, 2, 42, nil)
	cb := Sample(b, 2, 42, nil)
	if strings.Join(ca, ",") != strings.Join(cb, ",") || len(a[0].Chosen) != 2 || len(a[1].Chosen) != 1 {
		t.Fatalf("same seed, different choice: %v vs %v (%+v)", ca, cb, a)
	}
	differs := false
	for seed := int64(1); seed < 20; seed++ {
		c := mk()
		Sample(c, 2, seed, nil)
		if strings.Join(c[0].Chosen, ",") != strings.Join(a[0].Chosen, ",") {
			differs = true
		}
	}
	if !differs {
		t.Error("the seed never changes the choice")
	}
	all := mk()
	if got := Sample(all, 0, 1, func(n string) bool { return n != "n3" }); len(got) != 5 {
		t.Errorf("n=0 takes every eligible node: %v", got)
	}
}

// An agent without KPR: what serves Services depends on whether kube-proxy
// runs, and the commands to repeat the checks use the binary that
// answered (cilium on 1.14 and older).
func TestEvaluateAgentWithoutKPR(t *testing.T) {
	kp := "kube-system/kube-proxy-x"
	for _, c := range []struct {
		name      string
		kubeProxy *string
		class     string
		want      string
	}{
		{"no kube-proxy", nil, "none", "and no kube-proxy runs: nothing serves Services on this node"},
		{"kube-proxy", &kp, "kube-proxy-iptables", ": kube-proxy serves Services"},
	} {
		st := &report.NodeStatus{Name: "n", ServicesBy: verdict.ServicesBy(c.class), KubeProxyPod: c.kubeProxy,
			CiliumAgent:          &report.AgentRef{Pod: "cilium-y", Namespace: "kube-system", Ready: true, Source: "cilium status -o json"},
			KubeProxyReplacement: &report.KPR{Mode: "False", ReplacesKubeProxy: "none"}}
		n := Node{Name: "n", Class: c.class, Status: st,
			Frontends: []Frontends{{Service: "ns/a:http", Agent: "kube-system/cilium-y", Expected: 1, Found: 1}}}
		cs := JudgeNode(n, false, Reproducer{})
		k := find(t, cs, "n/agent-kpr")
		if k.Result != report.ResultWarn || !strings.Contains(k.Reason, c.want) {
			t.Errorf("%s: agent-kpr %+v, want a warning with %q", c.name, k, c.want)
		}
		if !strings.Contains(k.Reproduce, "-- cilium status") {
			t.Errorf("%s: reproduce %q, want the cilium binary that answered", c.name, k.Reproduce)
		}
		if f := find(t, cs, "n/cilium-frontends/ns/a:http"); !strings.Contains(f.Reproduce, "-- cilium service list") {
			t.Errorf("%s: frontends reproduce %q", c.name, f.Reproduce)
		}
	}
}

// A remote NodePort probed from a node whose own socket-LB translates it
// (seen on the real 1.18.8/1.20.2 agents in the lab): it must answer,
// whatever the remote node runs, and the reason says the remote datapath
// was not reached.
func TestRemoteFromSocketLBNode(t *testing.T) {
	for _, via := range []string{"none", "cilium", "kube-proxy-iptables", "unknown"} {
		e := RemoteExpectation(via, true, Policy{}, true)
		if e.Expect != report.ExpectAnswer || e.OnMatch != report.ResultPass || e.OnMismatch != report.ResultFail ||
			!strings.Contains(e.Why, "socket-LB") {
			t.Errorf("via %s from a socket-LB node: %+v", via, e)
		}
	}
	if e := RemoteExpectation("none", true, Policy{ExternalLocal: true}, false); e.Expect != report.ExpectAny {
		t.Errorf("eTP=Local from a socket-LB node: %+v", e)
	}
	on, off := true, false
	for _, c := range []struct {
		k    *report.KPR
		want bool
	}{
		{nil, false},
		{&report.KPR{ReplacesKubeProxy: cilium.ReplacesFull, SocketLB: &on, NodePort: &on}, true},
		{&report.KPR{ReplacesKubeProxy: cilium.ReplacesPartial, SocketLB: &on, NodePort: &on}, true},
		{&report.KPR{ReplacesKubeProxy: cilium.ReplacesFull, SocketLB: &off, NodePort: &on}, false},
		{&report.KPR{ReplacesKubeProxy: cilium.ReplacesFull, SocketLB: &on, NodePort: &off}, false},
		{&report.KPR{ReplacesKubeProxy: cilium.ReplacesNone, SocketLB: &on, NodePort: &on}, false},
		{&report.KPR{ReplacesKubeProxy: cilium.ReplacesFull}, false},
	} {
		if got := SocketLBServesRemoteNodePorts(c.k); got != c.want {
			t.Errorf("SocketLBServesRemoteNodePorts(%+v) = %v, want %v", c.k, got, c.want)
		}
	}
}

// The check of such a probe says whose socket-LB answered.
func TestRemoteFromSocketLBNodeReason(t *testing.T) {
	n := Node{Name: "node-cilium", Class: "cilium", Probes: []Probe{{Check: report.CheckNodePortRemote, Service: "ns/s:http",
		Target: "172.30.0.19:30080", Via: "node-kpr-off", ViaClass: "none", ClientSocketLB: true, Outcome: "ok", LatencyMs: 3}}}
	for _, c := range JudgeNode(n, true, Reproducer{}) {
		if c.Name != report.CheckNodePortRemote {
			continue
		}
		if c.Result != report.ResultPass || !strings.HasPrefix(c.Reason, "answered in 3ms; this node's own Cilium socket-LB") {
			t.Errorf("check %s: %s %q", c.ID, c.Result, c.Reason)
		}
		return
	}
	t.Fatal("no nodeport-remote check")
}
