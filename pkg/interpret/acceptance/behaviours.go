package acceptance

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

// The Service behaviour checks (issue 21): hostport, nodeport-every-address,
// etp-local, session-affinity and externalip. Each probe names a Case
// (report.Case*) and the node whose datapath it is about (Serving); the
// expectation is that node's class's rule, with the source of the rule in
// its Why. docs/service-behaviours.md has each rule's source and what the
// lab's real agents showed.

// Datapath is what the behaviour checks need to know of the node whose
// datapath serves a probe.
type Datapath struct {
	Name  string
	Class string
	// HostPortBy is who serves hostPorts there: HostPortCilium,
	// HostPortPortmap, or "" (nothing kpr can see).
	HostPortBy string
	// NodePortAddrs are the Cilium agent's NodePort addresses (its KPR
	// devices' addresses); nil when unknown or not a Cilium node.
	NodePortAddrs []string
	// SocketLB: the node's own connections are translated by Cilium's
	// socket-LB (full KPR or bpf-lb-sock with NodePort on); CiliumAgent:
	// an agent runs there (other agents' socket-LB knows its address).
	SocketLB    bool
	CiliumAgent bool
	// RulesRead: the node's rules were read (it was checked from), so a
	// portmap there would be known.
	RulesRead bool
}

// Who serves hostPorts on a node.
const (
	HostPortCilium  = "cilium"
	HostPortPortmap = "portmap"
)

// kubeProxyClass: the node's Services are kube-proxy's alone.
func kubeProxyClass(c verdict.ServicesBy) bool {
	return c == verdict.KubeProxyIPTables || c == verdict.KubeProxyIPVS || c == verdict.KubeProxyNFTables
}

// ciliumClass: Cilium's full KPR serves the node's Services (alone or
// ahead of a kube-proxy).
func ciliumClass(c verdict.ServicesBy) bool { return c == verdict.Cilium || c == verdict.Both }

func unknownClass(why string) Expectation {
	return Expectation{Expect: report.ExpectAny, OnMatch: report.ResultSkip, OnMismatch: report.ResultSkip, Why: why}
}

// unsupported: nothing on the node implements the behaviour; no answer is
// the expected outcome and a failure (the operator asked for it), an
// answer means something kpr cannot see serves it.
func unsupported(why string) Expectation {
	return Expectation{Expect: report.ExpectNoAnswer, OnMatch: report.ResultFail, OnMismatch: report.ResultWarn, Why: why}
}

// BehaviourExpectation is the expectation of one behaviour probe from a
// node of class `class`.
func BehaviourExpectation(p Probe, class string, strict bool) Expectation {
	s := p.Serving
	sc := verdict.ServicesBy(s.Class)
	switch sc {
	case verdict.Unknown:
		return unknownClass("the class of " + s.Name + " is unknown (its agent could not be read): outcome recorded, not judged")
	}
	switch p.Check {
	case report.CheckHostPort:
		return hostPortExpectation(p, strict)
	case report.CheckNodePortEveryAddress:
		return everyAddressExpectation(p, class, strict)
	case report.CheckETPLocal:
		return etpLocalExpectation(p, class, strict)
	case report.CheckExternalIP:
		return externalIPExpectation(p, class, strict)
	case report.CheckSessionAffinity:
		if sc == verdict.None {
			return noDatapath(strict)
		}
		return must("the ClusterIP must answer every request")
	}
	return unknownClass("no rule for check " + p.Check)
}

func hostPortExpectation(p Probe, strict bool) Expectation {
	s := p.Serving
	where := "on " + s.Name
	switch s.HostPortBy {
	case HostPortCilium:
		if p.Case == report.CaseOtherNode && p.ClientSocketLB {
			return must("Cilium's KPR serves hostPorts " + where + " (HostPort frontends); this node's socket-LB leaves other nodes' hostPorts alone (bpf_sock.c wildcard lookup: host addresses only), so the probe reaches " + s.Name)
		}
		return must("Cilium's KPR serves hostPorts " + where + " (HostPort frontends from the pod's ports)")
	case HostPortPortmap:
		return must("the portmap CNI plugin's rules (CNI-HOSTPORT-DNAT) serve hostPorts " + where)
	}
	switch {
	case verdict.ServicesBy(s.Class) == verdict.Partial:
		return either("partial KPR " + where + ": hostPort depends on enable-host-port, which the agent does not report")
	case !s.RulesRead:
		return either("kpr did not read the rules " + where + " (it was not checked from), so a portmap plugin there is not known: outcome recorded, not judged")
	}
	return unsupported("no hostPort support " + where + ": kube-proxy never serves hostPorts, no portmap rules (CNI-HOSTPORT-DNAT, nft table cni_hostport) are there and no Cilium KPR serves them; chain portmap or run Cilium's KPR there")
}

func everyAddressExpectation(p Probe, class string, strict bool) Expectation {
	s := p.Serving
	sc := verdict.ServicesBy(s.Class)
	addr := hostOf(p.Target)
	if sc == verdict.None {
		e := noDatapath(strict)
		e.Why = s.Name + " has no Service datapath: its NodePort answers on no address"
		return e
	}
	if p.Case == report.CaseOwnAddress && p.ClientSocketLB {
		return either("this node's own socket-LB translates a NodePort on any of its host addresses at connect(), whatever its NodePort addresses are (probe it from another node)")
	}
	switch {
	case ciliumClass(sc) || sc == verdict.Partial:
		if p.Case == report.CaseAnotherAddress && p.ClientSocketLB {
			return either("this node's socket-LB may translate a NodePort on another Cilium node's address itself (if its ipcache knows the address): the probe may not reach " + s.Name)
		}
		if s.NodePortAddrs == nil {
			return must(s.Name + "'s NodePort must answer on " + addr + " (the agent's NodePort addresses are not known)")
		}
		if hasString(s.NodePortAddrs, addr) {
			return must(addr + " is one of the agent's NodePort addresses (" + strings.Join(s.NodePortAddrs, ", ") + ")")
		}
		return must(addr + " is not one of the agent's NodePort addresses (" + strings.Join(s.NodePortAddrs, ", ") + "): Cilium serves NodePorts on one address per device, while kube-proxy (iptables) served every local address (cilium/cilium#21471); add the address's device to `devices` or set `nodeport-addresses`")
	case sc == verdict.KubeProxyNFTables:
		return either("kube-proxy in nftables mode serves NodePorts on the node's primary address only by default (nodePortAddresses `primary` since v1.29)")
	case kubeProxyClass(sc):
		return must("kube-proxy (" + s.Class + ") serves NodePorts on every local address (nodePortAddresses empty means all)")
	}
	return unknownClass("no rule for class " + s.Class)
}

func etpLocalExpectation(p Probe, class string, strict bool) Expectation {
	s := p.Serving
	sc := verdict.ServicesBy(s.Class)
	if sc == verdict.None {
		e := noDatapath(strict)
		e.Why = s.Name + " has no Service datapath"
		return e
	}
	partial := func(e Expectation) Expectation {
		if sc == verdict.Partial {
			return either("partial KPR on " + s.Name + ": " + e.Why)
		}
		return e
	}
	switch p.Case {
	case report.CaseSameNode:
		return partial(must("externalTrafficPolicy=Local: the node with the backend must answer its own NodePort"))
	case report.CaseOtherNode:
		if p.ClientSocketLB {
			return must("this node's socket-LB translates " + s.Name + "'s NodePort itself with the Service's internal scope (any backend): the backend node's externalTrafficPolicy is not applied (bpf_sock.c)")
		}
		return partial(must("externalTrafficPolicy=Local: " + s.Name + " holds a backend and must answer its NodePort from another node"))
	case report.CaseEmptyNode:
		if p.ClientSocketLB {
			return must("this node's socket-LB translates " + s.Name + "'s NodePort itself with the internal scope, so it answers although " + s.Name + " has no local backend (bpf_sock.c; traffic from a non-Cilium host would not be answered)")
		}
		switch {
		case ciliumClass(sc):
			return mustNot("externalTrafficPolicy=Local: " + s.Name + " has no local backend, so its BPF NodePort must not answer external traffic (measured in kpr's lab: Cilium 1.18.8 refuses, 1.20.2 drops: the client times out)")
		case kubeProxyClass(sc):
			return mustNot("externalTrafficPolicy=Local: " + s.Name + " has no local backend, so kube-proxy must not answer external traffic (KUBE-EXTERNAL-SERVICES drops it: the client times out)")
		}
		return partial(mustNot("externalTrafficPolicy=Local: " + s.Name + " has no local backend"))
	case report.CaseEmptyNodeOwn:
		switch {
		case ciliumClass(sc):
			return must("the node's own connections are internal traffic: socket-LB uses the internal scope and answers with a backend elsewhere (cilium/cilium#11746, fixed by the two scopes)")
		case kubeProxyClass(sc):
			return must("kube-proxy routes the node's own traffic to its NodePort to any backend (KUBE-EXT: \"route LOCAL traffic\"), even without a local one")
		}
		return partial(must("the node's own connections are internal traffic"))
	}
	return unknownClass("no rule for case " + p.Case)
}

func externalIPExpectation(p Probe, class string, strict bool) Expectation {
	s := p.Serving
	sc := verdict.ServicesBy(s.Class)
	cc := verdict.ServicesBy(class)
	if p.Case == report.CaseOtherNode && kubeProxyClass(cc) {
		return must("kube-proxy on this node translates an externalIP itself, whichever node owns the address (KUBE-SERVICES in nat OUTPUT)")
	}
	if sc == verdict.None {
		e := noDatapath(strict)
		e.Why = s.Name + " owns the externalIP and has no Service datapath"
		return e
	}
	if sc == verdict.Partial {
		return either("partial KPR on " + s.Name + ": externalIPs depend on enable-external-ips and on kube-proxy")
	}
	if p.Case == report.CaseSameNode {
		if ciliumClass(sc) {
			return must("the externalIP is this node's own address: socket-LB translates it (externalIPs are translated only for local addresses, the CVE-2020-8554 mitigation)")
		}
		return must("kube-proxy translates the externalIP in nat OUTPUT on the node that owns it")
	}
	if ciliumClass(sc) {
		return must(s.Name + " owns the externalIP: its BPF program translates packets for it (this node's socket-LB does not, the address not being local)")
	}
	return must(s.Name + " owns the externalIP: kube-proxy translates it in nat PREROUTING")
}

// hostOf is the address of "host:port" ("[v6]:port").
func hostOf(target string) string {
	if i := strings.LastIndexByte(target, ':'); i >= 0 {
		return strings.Trim(target[:i], "[]")
	}
	return target
}

// judgeAffinity judges a session-affinity probe: every request answered by
// one backend, while the same requests without affinity spread.
func judgeAffinity(p Probe, e Expectation) (result, reason string) {
	counts := func(m map[string]int) string {
		var parts []string
		for k, v := range m {
			parts = append(parts, fmt.Sprintf("%s %d", k, v))
		}
		sort.Strings(parts)
		return strings.Join(parts, ", ")
	}
	answered := 0
	for _, n := range p.Backends {
		answered += n
	}
	switch {
	case p.Outcome == "error":
		return report.ResultSkip, "the probe could not run: " + orNone(p.Detail)
	case e.Expect == report.ExpectNoAnswer:
		if answered == 0 {
			return e.OnMatch, fmt.Sprintf("%s, as expected: %s", p.Outcome, e.Why)
		}
		return e.OnMismatch, "answered although it should not: " + e.Why
	case e.Expect == report.ExpectAny:
		return e.OnMatch, e.Why
	case answered < p.Requests:
		return report.ResultFail, fmt.Sprintf("%d of %d requests answered (%s): %s", answered, p.Requests, p.Outcome, e.Why)
	case len(p.Backends) > 1:
		return report.ResultFail, fmt.Sprintf("sessionAffinity ClientIP not honoured: %d requests from one client went to %d backends (%s) (cilium/cilium#35254)", p.Requests, len(p.Backends), counts(p.Backends))
	case len(p.Spread) == 1:
		return report.ResultWarn, fmt.Sprintf("all %d requests went to one backend, but so did %d requests without affinity (%s): affinity not proven", p.Requests, p.Requests, counts(p.Spread))
	case len(p.Spread) == 0:
		return report.ResultPass, fmt.Sprintf("all %d requests went to one backend (%s)", p.Requests, counts(p.Backends))
	}
	return report.ResultPass, fmt.Sprintf("all %d requests went to one backend (%s), while without affinity they spread (%s)", p.Requests, counts(p.Backends), counts(p.Spread))
}
