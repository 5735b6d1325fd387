package acceptance

import (
	"strings"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/netfilter"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// The behaviour checks' table: check × case × the serving node's class
// (and, for hostport, who serves hostPorts there) → expectation, result on
// a match and on a mismatch, and a phrase of the reason.
func TestBehaviourExpectationTable(t *testing.T) {
	const (
		A, N, X    = report.ExpectAnswer, report.ExpectNoAnswer, report.ExpectAny
		P, F, W, S = report.ResultPass, report.ResultFail, report.ResultWarn, report.ResultSkip
	)
	cil := Datapath{Name: "node-cilium", Class: "cilium", HostPortBy: HostPortCilium, NodePortAddrs: []string{"172.30.0.11"}, SocketLB: true, CiliumAgent: true}
	ipt := Datapath{Name: "node-iptables", Class: "kube-proxy-iptables"}
	iptPortmap := Datapath{Name: "node-iptables", Class: "kube-proxy-iptables", HostPortBy: HostPortPortmap}
	nft := Datapath{Name: "node-nftables", Class: "kube-proxy-nftables", RulesRead: true}
	nftUnread := Datapath{Name: "node-nftables", Class: "kube-proxy-nftables"}
	bare := Datapath{Name: "node-bare", Class: "none"}
	unknown := Datapath{Name: "node-x", Class: "unknown"}
	both := Datapath{Name: "node-both", Class: "both", HostPortBy: HostPortCilium, SocketLB: true, CiliumAgent: true}
	type want struct{ expect, onMatch, onMismatch string }
	for _, c := range []struct {
		name   string
		p      Probe
		from   string
		want   want
		phrase string
	}{
		{"hostport on Cilium", Probe{Check: report.CheckHostPort, Case: report.CaseOtherNode, Target: "172.30.0.11:18080", Serving: cil}, "none", want{A, P, F}, "HostPort frontends"},
		{"hostport by portmap", Probe{Check: report.CheckHostPort, Case: report.CaseSameNode, Serving: iptPortmap}, "kube-proxy-iptables", want{A, P, F}, "CNI-HOSTPORT-DNAT"},
		{"hostport unsupported", Probe{Check: report.CheckHostPort, Case: report.CaseSameNode, Serving: nft}, "kube-proxy-nftables", want{N, F, W}, "kube-proxy never serves hostPorts"},
		{"hostport, rules not read", Probe{Check: report.CheckHostPort, Case: report.CaseOtherNode, Serving: nftUnread}, "cilium", want{X, P, P}, "not known"},
		{"hostport, unknown class", Probe{Check: report.CheckHostPort, Case: report.CaseSameNode, Serving: unknown}, "cilium", want{X, S, S}, "unknown"},
		{"every address: Cilium's own", Probe{Check: report.CheckNodePortEveryAddress, Case: report.CaseAnotherAddress, Target: "172.30.0.11:30080", Serving: cil}, "none", want{A, P, F}, "is one of the agent's NodePort addresses"},
		{"every address: a secondary one", Probe{Check: report.CheckNodePortEveryAddress, Case: report.CaseAnotherAddress, Target: "172.30.1.11:30080", Serving: cil}, "none", want{A, P, F}, "cilium/cilium#21471"},
		{"every address: from the node's own socket-LB", Probe{Check: report.CheckNodePortEveryAddress, Case: report.CaseOwnAddress, Target: "172.30.1.11:30080", Serving: cil, ClientSocketLB: true}, "cilium", want{X, P, P}, "own socket-LB"},
		{"every address: another Cilium client", Probe{Check: report.CheckNodePortEveryAddress, Case: report.CaseAnotherAddress, Target: "172.30.1.11:30080", Serving: cil, ClientSocketLB: true}, "cilium", want{X, P, P}, "may translate"},
		{"every address: iptables", Probe{Check: report.CheckNodePortEveryAddress, Case: report.CaseAnotherAddress, Target: "172.30.1.12:30080", Serving: ipt}, "none", want{A, P, F}, "every local address"},
		{"every address: nftables", Probe{Check: report.CheckNodePortEveryAddress, Case: report.CaseAnotherAddress, Target: "172.30.1.14:30080", Serving: nft}, "none", want{X, P, P}, "primary"},
		{"every address: none", Probe{Check: report.CheckNodePortEveryAddress, Case: report.CaseOwnAddress, Target: "172.30.0.20:30080", Serving: bare}, "none", want{N, W, W}, "no Service datapath"},
		{"etp-local: the backend's node", Probe{Check: report.CheckETPLocal, Case: report.CaseSameNode, Serving: ipt}, "kube-proxy-iptables", want{A, P, F}, "the node with the backend"},
		{"etp-local: at the backend's node", Probe{Check: report.CheckETPLocal, Case: report.CaseOtherNode, Serving: ipt}, "none", want{A, P, F}, "holds a backend"},
		{"etp-local: empty kube-proxy node", Probe{Check: report.CheckETPLocal, Case: report.CaseEmptyNode, Serving: ipt}, "none", want{N, P, F}, "times out"},
		{"etp-local: empty Cilium node", Probe{Check: report.CheckETPLocal, Case: report.CaseEmptyNode, Serving: cil}, "none", want{N, P, F}, "1.18.8 refuses"},
		{"etp-local: empty node through the client's socket-LB", Probe{Check: report.CheckETPLocal, Case: report.CaseEmptyNode, Serving: cil, ClientSocketLB: true}, "cilium", want{A, P, F}, "internal scope"},
		{"etp-local: empty kube-proxy node's own host", Probe{Check: report.CheckETPLocal, Case: report.CaseEmptyNodeOwn, Serving: ipt}, "kube-proxy-iptables", want{A, P, F}, "route LOCAL traffic"},
		{"etp-local: empty Cilium node's own host", Probe{Check: report.CheckETPLocal, Case: report.CaseEmptyNodeOwn, Serving: cil}, "cilium", want{A, P, F}, "cilium/cilium#11746"},
		{"etp-local: none", Probe{Check: report.CheckETPLocal, Case: report.CaseEmptyNodeOwn, Serving: bare}, "none", want{N, W, W}, "no Service datapath"},
		{"externalip: kube-proxy client", Probe{Check: report.CheckExternalIP, Case: report.CaseOtherNode, Serving: bare}, "kube-proxy-iptables", want{A, P, F}, "whichever node owns"},
		{"externalip: owner's own", Probe{Check: report.CheckExternalIP, Case: report.CaseSameNode, Serving: cil}, "cilium", want{A, P, F}, "CVE-2020-8554"},
		{"externalip: at a Cilium owner", Probe{Check: report.CheckExternalIP, Case: report.CaseOtherNode, Serving: both}, "none", want{A, P, F}, "BPF program"},
		{"externalip: at a kube-proxy owner", Probe{Check: report.CheckExternalIP, Case: report.CaseOtherNode, Serving: ipt}, "cilium", want{A, P, F}, "PREROUTING"},
		{"externalip: at an owner without datapath", Probe{Check: report.CheckExternalIP, Case: report.CaseOtherNode, Serving: bare}, "cilium", want{N, W, W}, "no Service datapath"},
		{"session-affinity", Probe{Check: report.CheckSessionAffinity, Case: report.CaseOneClient, Serving: ipt}, "kube-proxy-iptables", want{A, P, F}, "every request"},
		{"session-affinity, none", Probe{Check: report.CheckSessionAffinity, Case: report.CaseOneClient, Serving: bare}, "none", want{N, W, W}, ""},
	} {
		e := c.p.Expect(c.from, false)
		if got := (want{e.Expect, e.OnMatch, e.OnMismatch}); got != c.want {
			t.Errorf("%s: %+v, want %+v (%s)", c.name, got, c.want, e.Why)
		}
		if !strings.Contains(e.Why, c.phrase) || e.Why == "" {
			t.Errorf("%s: why %q, want …%s…", c.name, e.Why, c.phrase)
		}
	}
}

func TestJudgeAffinity(t *testing.T) {
	e := must("the ClusterIP must answer every request")
	for _, c := range []struct {
		name   string
		p      Probe
		result string
		phrase string
	}{
		{"honoured and proven", Probe{Outcome: "ok", Requests: 10, Backends: map[string]int{"b1": 10}, Spread: map[string]int{"b1": 6, "b2": 4}}, report.ResultPass, "while without affinity they spread (b1 6, b2 4)"},
		{"not honoured", Probe{Outcome: "ok", Requests: 10, Backends: map[string]int{"b1": 7, "b2": 3}}, report.ResultFail, "not honoured: 10 requests from one client went to 2 backends (b1 7, b2 3)"},
		{"not proven", Probe{Outcome: "ok", Requests: 10, Backends: map[string]int{"b1": 10}, Spread: map[string]int{"b2": 10}}, report.ResultWarn, "affinity not proven"},
		{"no control", Probe{Outcome: "ok", Requests: 10, Backends: map[string]int{"b1": 10}}, report.ResultPass, "all 10 requests went to one backend (b1 10)"},
		{"some unanswered", Probe{Outcome: "failed", Requests: 10, Backends: map[string]int{"b1": 4}}, report.ResultFail, "4 of 10 requests answered"},
		{"could not run", Probe{Outcome: "error", Detail: "no curl", Requests: 10}, report.ResultSkip, "no curl"},
	} {
		got, why := judgeAffinity(c.p, e)
		if got != c.result || !strings.Contains(why, c.phrase) {
			t.Errorf("%s: %s %q, want %s …%s…", c.name, got, why, c.result, c.phrase)
		}
	}
	none := noDatapath(false)
	if got, why := judgeAffinity(Probe{Outcome: "failed", Requests: 10}, none); got != report.ResultWarn || !strings.Contains(why, "as expected") {
		t.Errorf("none class, nothing answered: %s %q", got, why)
	}
	if got, _ := judgeAffinity(Probe{Outcome: "ok", Requests: 10, Backends: map[string]int{"b": 10}}, none); got != report.ResultWarn {
		t.Errorf("none class, answered: %s, want the mismatch's warn", got)
	}
}

func TestPlanBehaviours(t *testing.T) {
	dp := map[string]Datapath{
		"node-cilium":   {Name: "node-cilium", Class: "cilium", SocketLB: true, CiliumAgent: true},
		"node-iptables": {Name: "node-iptables", Class: "kube-proxy-iptables"},
		"node-bare":     {Name: "node-bare", Class: "none"},
	}
	ips := map[string]string{"node-cilium": "172.30.0.11", "node-iptables": "172.30.0.12", "node-bare": "172.30.0.20"}
	bs := []Behaviour{
		{Check: report.CheckETPLocal, Service: "v/local-ipt:http", NodePort: 31000, EndpointNodes: map[string]bool{"node-iptables": true}},
		{Check: report.CheckHostPort, Service: "v/hostport-ipt:18080", HostPort: 18080, HostNode: "node-iptables", EndpointNodes: map[string]bool{"node-iptables": true}},
		{Check: report.CheckExternalIP, Service: "v/eip:http", Port: 18081, ExternalIPs: []string{"172.30.0.12", "192.0.2.1"}},
		{Check: report.CheckNodePortEveryAddress, Service: "v/backend:http", NodePort: 30080},
		{Check: report.CheckSessionAffinity, Service: "v/aff:http", ClusterIP: "10.96.0.9", Port: 80},
	}
	peers := []Peer{{Name: "node-cilium", IP: "172.30.0.11", CiliumAgent: true}, {Name: "node-iptables", IP: "172.30.0.12"}}
	from := Prober{Name: "node-bare", InternalIP: "172.30.0.20", Addresses: []string{"172.30.0.20", "172.30.1.20"}}
	var got []string
	for _, p := range PlanBehaviours(from, bs, peers, dp, ips) {
		got = append(got, p.Check+" "+p.Case+" "+p.Target+" "+p.Serving.Name)
	}
	want := []string{
		"etp-local empty-node-own 172.30.0.20:31000 node-bare",
		"etp-local other-node 172.30.0.12:31000 node-iptables",
		"etp-local empty-node 172.30.0.11:31000 node-cilium",
		"hostport other-node 172.30.0.12:18080 node-iptables",
		"externalip other-node 172.30.0.12:18081 node-iptables",
		"nodeport-every-address own-address 172.30.0.20:30080 node-bare",
		"nodeport-every-address own-address 172.30.1.20:30080 node-bare",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan from node-bare:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// From the Cilium node: the backend's node through its own socket-LB.
	fromCilium := Prober{Name: "node-cilium", InternalIP: "172.30.0.11", SocketLB: true}
	for _, p := range PlanBehaviours(fromCilium, bs[:1], peers[1:], dp, ips) {
		if p.Case == report.CaseOtherNode && p.ClientSocketLB {
			t.Errorf("node-iptables runs no agent: the client's socket-LB does not translate its NodePort (%+v)", p)
		}
	}
	addrs := map[string][]string{"node-cilium": {"172.30.0.11", "172.30.1.11"}, "node-iptables": {"172.30.0.12"}}
	other := PlanOtherAddresses(from, bs, peers, dp, addrs)
	if len(other) != 1 || other[0].Target != "172.30.1.11:30080" || other[0].Case != report.CaseAnotherAddress || other[0].Via != "node-cilium" || other[0].ClientSocketLB {
		t.Errorf("other addresses = %+v, want node-cilium's secondary only, from a client without socket-LB", other)
	}
}

func TestServedByProbe(t *testing.T) {
	kp := PathFacts{KubeProxy: true, KubeProxyMode: "iptables"}
	cil := PathFacts{SocketLB: true, BPF: true}
	bothNode := PathFacts{KubeProxy: true, KubeProxyMode: "iptables", SocketLB: true, BPF: true}
	moved := []netfilter.ChainDelta{{ChainCounter: netfilter.ChainCounter{Table: "nat", Chain: "KUBE-SVC-X"}, Delta: 1}}
	for _, c := range []struct {
		name           string
		p              Probe
		client, target PathFacts
		counted        bool
		moved          []netfilter.ChainDelta
		want           string
	}{
		{"node-both ClusterIP, counters quiet", Probe{Check: report.CheckClusterIP, Outcome: "ok"}, bothNode, PathFacts{}, true, nil, ServedByCiliumSocketLB},
		{"node-both ClusterIP, counters moved", Probe{Check: report.CheckClusterIP, Outcome: "ok"}, bothNode, PathFacts{}, true, moved, ServedByKubeProxy},
		{"refused", Probe{Check: report.CheckClusterIP, Outcome: "refused"}, bothNode, PathFacts{}, true, nil, ServedByNone},
		{"hostport by portmap", Probe{Check: report.CheckHostPort, Case: report.CaseOtherNode, Outcome: "ok", Via: "n", Serving: Datapath{Name: "n", HostPortBy: HostPortPortmap}}, cil, kp, false, nil, ServedByPortmap},
		{"hostport by Cilium, remote", Probe{Check: report.CheckHostPort, Case: report.CaseOtherNode, Outcome: "ok", Via: "n", Serving: Datapath{Name: "n", HostPortBy: HostPortCilium}}, kp, cil, false, nil, ServedByCiliumBPF},
		{"externalIP from a kube-proxy client", Probe{Check: report.CheckExternalIP, Case: report.CaseOtherNode, Outcome: "ok", Via: "n"}, kp, cil, false, nil, ServedByKubeProxy},
		{"externalIP at a Cilium owner from a Cilium client", Probe{Check: report.CheckExternalIP, Case: report.CaseOtherNode, Outcome: "ok", Via: "n"}, cil, cil, false, nil, ServedByCiliumBPF},
		{"affinity, answered", Probe{Check: report.CheckSessionAffinity, Case: report.CaseOneClient, Outcome: "ok", Backends: map[string]int{"b": 10}}, cil, PathFacts{}, false, nil, ServedByCiliumSocketLB},
		{"etp-local at the backend's kube-proxy node", Probe{Check: report.CheckETPLocal, Case: report.CaseOtherNode, Outcome: "ok", Via: "n"}, PathFacts{}, kp, false, nil, ServedByKubeProxy},
	} {
		got, why := ServedByProbe(c.p, c.client, c.target, c.counted, c.moved)
		if got != c.want || why == "" {
			t.Errorf("%s: %s (%s), want %s", c.name, got, why, c.want)
		}
	}
	if d := CounterDeltas(moved); len(d) != 1 || d[0].Chain != "KUBE-SVC-X" || d[0].Packets != 1 {
		t.Errorf("CounterDeltas = %+v", d)
	}
}
