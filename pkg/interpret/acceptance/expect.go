// Package acceptance is the judgement half of `kubectl kpr verify`: which
// outcome each check must have on a node of each class (the expectation
// table), and the pass / fail / warn / skip of every check from the facts
// collect gathered. Pure logic over plain structs: no client-go.
package acceptance

import (
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/cilium"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

// Expectation is what a check must show on a node, and what a match or a
// mismatch is worth.
type Expectation struct {
	// Expect is report.ExpectAnswer, ExpectNoAnswer or ExpectAny.
	Expect string
	// OnMatch is the result when the outcome agrees: pass, except on a node
	// without Service datapath, where "nothing answers, as expected" is
	// still worth a warning (a failure with --strict).
	OnMatch string
	// OnMismatch is the result when the outcome disagrees.
	OnMismatch string
	// Why explains the expectation in the check's reason.
	Why string
}

// Policy is what a Service's traffic policies make of a node: with
// externalTrafficPolicy=Local only nodes with a ready local endpoint answer
// NodePorts from outside; with internalTrafficPolicy=Local only they answer
// the ClusterIP.
type Policy struct {
	ExternalLocal bool
	InternalLocal bool
	// LocalEndpoint: the node holds a ready endpoint of the Service.
	LocalEndpoint bool
}

const (
	noDatapathWhy = "no Service datapath on this node: neither Cilium KPR nor kube-proxy runs here"
)

// noDatapath is the none class's expectation: nothing answers. That is
// what a node without datapath does, so it is a warning by default and a
// failure with --strict; an answer means something unknown serves
// Services here, which is worth a warning too.
func noDatapath(strict bool) Expectation {
	match := report.ResultWarn
	if strict {
		match = report.ResultFail
	}
	return Expectation{Expect: report.ExpectNoAnswer, OnMatch: match, OnMismatch: report.ResultWarn, Why: noDatapathWhy}
}

func must(why string) Expectation {
	return Expectation{Expect: report.ExpectAnswer, OnMatch: report.ResultPass, OnMismatch: report.ResultFail, Why: why}
}

func either(why string) Expectation {
	return Expectation{Expect: report.ExpectAny, OnMatch: report.ResultPass, OnMismatch: report.ResultPass, Why: why}
}

func mustNot(why string) Expectation {
	return Expectation{Expect: report.ExpectNoAnswer, OnMatch: report.ResultPass, OnMismatch: report.ResultFail, Why: why}
}

// ProbeExpectation is the expectation table for probes from a node of
// class `class` to its own datapath: the ClusterIP and the NodePort on the
// node's IP, 127.0.0.1 and 0.0.0.0 (check is one of report.CheckClusterIP,
// CheckNodePortLocal, CheckNodePortLoopback, CheckNodePortAny).
func ProbeExpectation(class, check string, pol Policy, strict bool) Expectation {
	switch verdict.ServicesBy(class) {
	case verdict.None:
		return noDatapath(strict)
	case verdict.Unknown:
		return Expectation{Expect: report.ExpectAny, OnMatch: report.ResultSkip, OnMismatch: report.ResultSkip,
			Why: "the node's class is unknown (its agent could not be read): outcome recorded, not judged"}
	}
	if check == report.CheckClusterIP && pol.InternalLocal && !pol.LocalEndpoint {
		return mustNot("internalTrafficPolicy=Local and no ready endpoint on this node: the ClusterIP must not answer here")
	}
	if check != report.CheckClusterIP && pol.ExternalLocal && !pol.LocalEndpoint {
		// Traffic the node sends itself counts as internal for both
		// kube-proxy and Cilium, which may route it to any endpoint.
		return either("externalTrafficPolicy=Local without a local endpoint: the node's own connections may or may not be served")
	}
	switch verdict.ServicesBy(class) {
	case verdict.KubeProxyIPVS, verdict.KubeProxyNFTables:
		// k/k: ipvs and nftables modes do not serve NodePorts on
		// 127.0.0.1 (only iptables mode, with route_localnet, does).
		if check == report.CheckNodePortLoopback {
			return either("kube-proxy in " + string(class)[len("kube-proxy-"):] + " mode does not serve NodePorts on 127.0.0.1 by design")
		}
		if check == report.CheckNodePortAny {
			return either("kube-proxy in " + string(class)[len("kube-proxy-"):] + " mode may not serve NodePorts on 0.0.0.0")
		}
	case verdict.Partial:
		if check == report.CheckNodePortLoopback || check == report.CheckNodePortAny {
			return either("partial KPR: loopback and any-address NodePorts depend on which features kube-proxy still covers")
		}
		return must("partial KPR plus kube-proxy must serve this between them")
	}
	return must(string(class) + " node: its datapath must serve this")
}

// SocketLBServesRemoteNodePorts says whether a node's own Cilium socket-LB
// answers a connect() to ANOTHER Cilium node's NODE-IP:NODEPORT before any
// packet leaves: bpf_sock.c's sock4_wildcard_lookup (v1.18.8) translates a
// NodePort on any address the ipcache holds as a host or remote-node
// identity, i.e. the IPs of nodes that run a Cilium agent. So a remote
// NodePort of a Cilium node probed from such a node says nothing about the
// remote node's datapath. Seen in the lab on the real 1.18.8 and 1.20.2
// agents: from node-cilium, node-kpr-off's NodePort (its agent has KPR
// off, nothing serves there) answered, while node-bare's (no agent, not in
// the ipcache) stayed refused. A debug pod runs in the host network
// namespace, so bpf-lb-sock-hostns-only does not change this.
func SocketLBServesRemoteNodePorts(k *report.KPR) bool {
	return k != nil && k.ReplacesKubeProxy != cilium.ReplacesNone &&
		k.SocketLB != nil && *k.SocketLB && k.NodePort != nil && *k.NodePort
}

// RemoteExpectation is the expectation for a NodePort on another node's IP
// (via, of class viaClass): that node's datapath answers it, whatever the
// probing node runs — unless the probing node's own socket-LB answers it
// first (clientSocketLB: SocketLBServesRemoteNodePorts, and via runs a
// Cilium agent): then it must answer, whatever via's datapath does.
func RemoteExpectation(viaClass string, clientSocketLB bool, pol Policy, strict bool) Expectation {
	if clientSocketLB {
		const why = "this node's own Cilium socket-LB translates a NodePort on any Cilium node's IP at connect(), so it answers here whatever the remote node runs: this probe does not reach the remote node's datapath (probe it from a node without socket-LB)"
		if pol.ExternalLocal && !pol.LocalEndpoint {
			// The node's own connection is internal traffic to its socket-LB.
			return either("externalTrafficPolicy=Local, and " + why)
		}
		return must(why)
	}
	switch verdict.ServicesBy(viaClass) {
	case verdict.None:
		e := noDatapath(strict)
		e.Why = "the remote node has no Service datapath: its NodePort is refused"
		return e
	case verdict.Unknown:
		return Expectation{Expect: report.ExpectAny, OnMatch: report.ResultSkip, OnMismatch: report.ResultSkip,
			Why: "the remote node's class is unknown: outcome recorded, not judged"}
	}
	if pol.ExternalLocal && !pol.LocalEndpoint {
		return mustNot("externalTrafficPolicy=Local and no ready endpoint on the remote node: its NodePort must not answer")
	}
	return must("the remote " + viaClass + " node's datapath must serve its NodePort")
}

// Answered says whether a probe outcome counts as an answer.
func Answered(outcome string) bool { return outcome == "ok" }

// Agrees says whether outcome satisfies e; verify retries probes that do
// not, while the datapaths settle.
func Agrees(e Expectation, outcome string) bool {
	switch e.Expect {
	case report.ExpectAnswer:
		return Answered(outcome)
	case report.ExpectNoAnswer:
		return !Answered(outcome)
	}
	return true
}
