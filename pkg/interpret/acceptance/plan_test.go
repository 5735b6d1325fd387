package acceptance

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

func planNodes() map[string]NodeFacts {
	return map[string]NodeFacts{
		"cil-a":  {Name: "cil-a", InternalIP: "10.0.0.1", Ready: true, Linux: true, Clean: false, CiliumAgent: true},
		"cil-b":  {Name: "cil-b", InternalIP: "10.0.0.2", Ready: true, Linux: true, Clean: true, CiliumAgent: true},
		"kp-a":   {Name: "kp-a", InternalIP: "10.0.0.3", Ready: true, Linux: true, Clean: true},
		"kp-nr":  {Name: "kp-nr", InternalIP: "10.0.0.4", Ready: false, Linux: true},
		"win":    {Name: "win", InternalIP: "10.0.0.5", Ready: true, Linux: false},
		"bare":   {Name: "bare", InternalIP: "10.0.0.6", Ready: true, Linux: true, Clean: true},
		"noaddr": {Name: "noaddr", Ready: true, Linux: true, Clean: true},
	}
}

func planClasses() []report.VerifyClass {
	return Classes(map[string]string{
		"cil-a": "cilium", "cil-b": "cilium", "kp-a": "kube-proxy-iptables", "kp-nr": "kube-proxy-iptables",
		"win": "kube-proxy-iptables", "bare": "none", "noaddr": "none",
	})
}

func TestChooseNodes(t *testing.T) {
	nodes := planNodes()
	cases := []struct {
		name string
		c    Choice
		want []string
	}{
		{"named nodes, whatever their state", Choice{Nodes: []string{"kp-nr", "win"}}, []string{"kp-nr", "win"}},
		{"all: every Linux node", Choice{All: true}, []string{"bare", "cil-a", "cil-b", "kp-a", "kp-nr", "noaddr"}},
		{"sample: Ready Linux nodes only", Choice{Sample: 5}, []string{"bare", "cil-a", "cil-b", "kp-a", "noaddr"}},
	}
	for _, c := range cases {
		classes := planClasses()
		got, err := ChooseNodes(classes, nodes, c.c)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v, %v; want %v", c.name, got, err, c.want)
		}
		var inClasses []string
		for _, cl := range classes {
			inClasses = append(inClasses, cl.Chosen...)
		}
		if len(inClasses) != len(got) {
			t.Errorf("%s: classes' Chosen %v do not add up to %v", c.name, inClasses, got)
		}
	}
	// One per class with --sample 1.
	classes := planClasses()
	got, _ := ChooseNodes(classes, nodes, Choice{Sample: 1, Seed: 7})
	if len(got) != 3 {
		t.Errorf("sample 1 of 3 classes chose %v", got)
	}
	_, err := ChooseNodes(planClasses(), nodes, Choice{Nodes: []string{"cil-c"}})
	var nsn *NoSuchNodeError
	if !errors.As(err, &nsn) || nsn.Node != "cil-c" || !strings.Contains(err.Error(), "did you mean cil-a, cil-b, ") {
		t.Errorf("unknown node: %v", err)
	}
}

func TestBackendNodes(t *testing.T) {
	classes := planClasses()
	classes = append(classes, report.VerifyClass{Name: "unknown", Nodes: []string{"kp-a"}})
	// kp-a is chosen in its class: it gets the backend, not the first node.
	for i := range classes {
		if classes[i].Name == "kube-proxy-iptables" {
			classes[i].Chosen = []string{"kp-a"}
		}
	}
	got := BackendNodes(classes, planNodes())
	// cil-a has a status warning: clean cil-b gets the cilium backends.
	want := map[string]string{"cilium": "cil-b", "kube-proxy-iptables": "kp-a", "none": "bare"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// A class of only NotReady or Windows nodes gets none.
	only := []report.VerifyClass{{Name: "kube-proxy-iptables", Nodes: []string{"kp-nr", "win"}}}
	if got := BackendNodes(only, planNodes()); len(got) != 0 {
		t.Errorf("unready/windows class got a backend: %v", got)
	}
}

func TestRemotePeers(t *testing.T) {
	classes := planClasses()
	chosen, _ := ChooseNodes(classes, planNodes(), Choice{All: true})
	peers := RemotePeers(chosen, classes, planNodes())
	byClass := func(from string) map[string]Peer {
		out := map[string]Peer{}
		for _, p := range peers[from] {
			out[p.Class] = p
		}
		return out
	}
	a := byClass("cil-a")
	// From cil-a: the cilium class's other node; cil-b is clean anyway.
	if a["cilium"].Name != "cil-b" || a["cilium"].IP != "10.0.0.2" || !a["cilium"].CiliumAgent {
		t.Errorf("cil-a's cilium peer: %+v", a["cilium"])
	}
	// From kp-a: cil-b (clean) is preferred over cil-a (status warnings).
	if p := byClass("kp-a")["cilium"]; p.Name != "cil-b" {
		t.Errorf("kp-a's cilium peer %+v, want the clean cil-b", p)
	}
	// From cil-b: the only other cilium node, cil-a, although not clean.
	if p := byClass("cil-b")["cilium"]; p.Name != "cil-a" {
		t.Errorf("cil-b's cilium peer %+v, want cil-a", p)
	}
	// Every chosen node gets a peer of every class (noaddr has no IP and
	// is never a peer; the none class still has bare).
	for _, from := range chosen {
		got := byClass(from)
		for _, cl := range []string{"cilium", "kube-proxy-iptables", "none"} {
			if _, ok := got[cl]; !ok && !(from == "bare" && cl == "none") {
				t.Errorf("%s has no %s peer: %v", from, cl, peers[from])
			}
			if got[cl].Name == from {
				t.Errorf("%s probes itself as its %s peer", from, cl)
			}
			if got[cl].Name == "noaddr" {
				t.Errorf("%s: a node without address is a peer", from)
			}
		}
	}
	if p := byClass("kp-a")["kube-proxy-iptables"]; p.Name != "kp-nr" {
		t.Errorf("kp-a's own-class peer %+v, want kp-nr", p)
	}
}

func TestTargetNamesPortsAndPolicies(t *testing.T) {
	named := Target{Namespace: "ns", Service: "web", PortName: "http", Port: 80, NodePort: 30080, ExternalLocal: true, EndpointNodes: map[string]bool{"n1": true}}
	unnamed := Target{Namespace: "ns", Service: "web", Port: 8080}
	if named.Name() != "ns/web:http" || unnamed.Name() != "ns/web:8080" {
		t.Errorf("names %q %q", named.Name(), unnamed.Name())
	}
	for _, c := range []struct {
		row  string
		t    Target
		want bool
	}{
		{"http", named, true}, {"80", named, false}, {"", named, false},
		{"", unnamed, true}, {"8080", unnamed, true}, {"80", unnamed, false}, {"http", unnamed, false},
	} {
		if got := SamePort(c.row, c.t); got != c.want {
			t.Errorf("SamePort(%q, %s) = %v", c.row, c.t.Name(), got)
		}
	}
	if p := named.PolicyOn("n1"); !p.ExternalLocal || !p.LocalEndpoint || p.InternalLocal {
		t.Errorf("policy on n1: %+v", p)
	}
	if p := named.PolicyOn("n2"); p.LocalEndpoint {
		t.Errorf("policy on n2: %+v", p)
	}
	rp := named.RemoteProbe(Peer{Name: "n1", Class: "cilium", IP: "fd00::1", CiliumAgent: true}, true)
	if rp.Target != "[fd00::1]:30080" || rp.Via != "n1" || rp.ViaClass != "cilium" || !rp.ClientSocketLB || !rp.Policy.LocalEndpoint || rp.Check != report.CheckNodePortRemote {
		t.Errorf("remote probe %+v", rp)
	}
	if rp := named.RemoteProbe(Peer{Name: "n2", Class: "none", IP: "10.0.0.9"}, true); rp.ClientSocketLB {
		t.Errorf("socket-LB claimed for a peer without agent: %+v", rp)
	}
	if rp := named.RemoteProbe(Peer{Name: "n1", Class: "cilium", IP: "10.0.0.9", CiliumAgent: true}, false); rp.ClientSocketLB {
		t.Errorf("socket-LB claimed for a client without it: %+v", rp)
	}
}

func TestTargetFrontends(t *testing.T) {
	targets := []Target{
		{Namespace: "ns", Service: "web", PortName: "http", Port: 80},
		{Namespace: "ns", Service: "api", Port: 8080},
	}
	row := report.NodeServices{
		Node:        "n1",
		CiliumAgent: &report.AgentRef{Namespace: "kube-system", Pod: "cilium-x"},
		Frontends: []report.FrontendCheck{
			{Service: "ns/web", Port: "http", Frontend: "10.96.0.10:80", Protocol: "TCP", Status: "ok"},
			{Service: "ns/web", Port: "http", Frontend: "0.0.0.0:30080", Protocol: "TCP", Status: report.FrontendMissing},
			{Service: "ns/web", Port: "metrics", Frontend: "10.96.0.10:9090", Protocol: "TCP", Status: report.FrontendMissing},
			{Service: "ns/api", Port: "", Frontend: "10.96.0.11:8080", Protocol: "TCP", Status: "ok"},
		},
		Problems: []report.ServiceProblem{
			{Service: "ns/web", Frontend: "0.0.0.0:30080", Protocol: "TCP", Code: "missing-frontend", Detail: "not in the agent's table"},
			{Service: "ns/web", Frontend: "10.96.0.10:9090", Protocol: "TCP", Code: "missing-frontend", Detail: "not in the agent's table"},
			{Service: "other/x", Frontend: "10.96.0.99:80", Protocol: "TCP", Code: "wrong-backends", Detail: "..."},
		},
	}
	nf := TargetFrontends(row, targets)
	if nf.Err != "" || len(nf.Targets) != 2 {
		t.Fatalf("%+v", nf)
	}
	web, api := nf.Targets[0], nf.Targets[1]
	if web.Service != "ns/web:http" || web.Agent != "kube-system/cilium-x" || web.Expected != 2 || web.Found != 1 || len(web.Problems) != 1 ||
		!strings.HasPrefix(web.Problems[0], "missing-frontend 0.0.0.0:30080/TCP") {
		t.Errorf("web: %+v", web)
	}
	if api.Expected != 1 || api.Found != 1 || len(api.Problems) != 0 {
		t.Errorf("api: %+v", api)
	}
	// The metrics port's problem and other/x's are the others'.
	if nf.Other != 2 {
		t.Errorf("other problems %d, want 2", nf.Other)
	}
	if nf.Settled() {
		t.Error("a target with a problem counts as settled")
	}
	if !(NodeFrontends{Targets: []Frontends{api}}).Settled() {
		t.Error("no problems, not settled")
	}
	// No agent, or only errors: the table is an error.
	if nf := TargetFrontends(report.NodeServices{Node: "n2", Errors: []string{"exec failed"}}, targets); nf.Err != "exec failed" || nf.Targets != nil {
		t.Errorf("no agent: %+v", nf)
	}
	failed := report.NodeServices{Node: "n3", CiliumAgent: row.CiliumAgent, Errors: []string{"timeout", "again"}}
	if nf := TargetFrontends(failed, targets); nf.Err != "timeout; again" {
		t.Errorf("agent without table: %+v", nf)
	}
}
