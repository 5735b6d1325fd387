package acceptance

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/textutil"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

// Planning: which nodes verify checks from, which remote node of each
// class every one probes, and which agent-table rows belong to which
// target. Pure choices over plain facts, so that each is unit-tested.

// NodeFacts are what the plan needs to know of a node.
type NodeFacts struct {
	Name       string
	InternalIP string
	Ready      bool
	Linux      bool
	// Clean: Ready, and status found no warning or error on it.
	Clean bool
	// CiliumAgent: a Cilium agent runs there.
	CiliumAgent bool
}

// Choice is how the user picked the nodes to check from.
type Choice struct {
	// Nodes named with --node (checked whatever their state).
	Nodes []string
	// All: --all-nodes (every Linux node).
	All bool
	// Sample: --sample N per class, among Ready Linux nodes.
	Sample int
	Seed   int64
}

// NoSuchNodeError: a --node names no node of the cluster.
type NoSuchNodeError struct {
	Node    string
	Suggest string // "; did you mean ...?" or ""
}

func (e *NoSuchNodeError) Error() string {
	return fmt.Sprintf("--node %s: no such node%s", e.Node, e.Suggest)
}

// ChooseNodes picks the nodes to check from, setting the classes' Chosen
// lists; the names come back sorted.
func ChooseNodes(classes []report.VerifyClass, nodes map[string]NodeFacts, c Choice) ([]string, error) {
	switch {
	case len(c.Nodes) > 0:
		want := map[string]bool{}
		for _, n := range c.Nodes {
			if _, ok := nodes[n]; !ok {
				names := make([]string, 0, len(nodes))
				for name := range nodes {
					names = append(names, name)
				}
				return nil, &NoSuchNodeError{Node: n, Suggest: textutil.DidYouMean(n, names)}
			}
			want[n] = true
		}
		return Sample(classes, 0, c.Seed, func(n string) bool { return want[n] }), nil
	case c.All:
		return Sample(classes, 0, c.Seed, func(n string) bool { return nodes[n].Linux }), nil
	}
	return Sample(classes, c.Sample, c.Seed, func(n string) bool { return nodes[n].Linux && nodes[n].Ready }), nil
}

// BackendNodes picks, for every class with a Ready Linux node, the node
// that gets the class's backends: its first clean chosen node (no status
// warning: its hostPort and Services speak for the class, not for one
// node's trouble such as an unready agent), else its first chosen node,
// else its first.
func BackendNodes(classes []report.VerifyClass, nodes map[string]NodeFacts) map[string]string {
	out := map[string]string{}
	for _, cl := range classes {
		if cl.Name == string(verdict.Unknown) {
			continue
		}
		order := append(append([]string{}, cl.Chosen...), cl.Nodes...)
		for _, clean := range []bool{true, false} {
			for _, n := range order {
				if nf := nodes[n]; nf.Ready && nf.Linux && (nf.Clean || !clean) {
					out[cl.Name] = n
					break
				}
			}
			if out[cl.Name] != "" {
				break
			}
		}
	}
	return out
}

// Peer is the remote node of one class whose NodePort a node probes.
type Peer struct {
	Name, Class, IP string
	// CiliumAgent: a Cilium agent runs there, so the other agents' ipcache
	// holds its IP as a remote node, and their socket-LB answers its
	// NodePorts themselves (SocketLBServesRemoteNodePorts).
	CiliumAgent bool
}

// RemotePeers chooses, for every chosen node, one node of every class to
// probe NodePorts on: the class's first chosen node other than itself,
// preferring a clean node, so that a remote probe speaks for the class,
// not for one node's own trouble (an unready agent).
func RemotePeers(chosen []string, classes []report.VerifyClass, nodes map[string]NodeFacts) map[string][]Peer {
	out := map[string][]Peer{}
	for _, from := range chosen {
		for _, cl := range classes {
			best := ""
			for _, n := range cl.Chosen {
				if n == from || nodes[n].InternalIP == "" {
					continue
				}
				if best == "" || (nodes[n].Clean && !nodes[best].Clean) {
					best = n
				}
			}
			if best != "" {
				out[from] = append(out[from], Peer{Name: best, Class: cl.Name, IP: nodes[best].InternalIP, CiliumAgent: nodes[best].CiliumAgent})
			}
		}
	}
	return out
}

// Target is one TCP port of a Service verify checks.
type Target struct {
	Namespace, Service string
	PortName           string
	Port, NodePort     int32
	ExternalLocal      bool
	InternalLocal      bool
	// EndpointNodes are the nodes of the Service's ready endpoints.
	EndpointNodes map[string]bool
}

// Name is "ns/name:port" (the port's name, else its number).
func (t Target) Name() string {
	p := t.PortName
	if p == "" {
		p = strconv.Itoa(int(t.Port))
	}
	return t.Namespace + "/" + t.Service + ":" + p
}

// PolicyOn is what the target's traffic policies make of node.
func (t Target) PolicyOn(node string) Policy {
	return Policy{ExternalLocal: t.ExternalLocal, InternalLocal: t.InternalLocal, LocalEndpoint: t.EndpointNodes[node]}
}

// RemoteProbe is the check of t's NodePort on peer's IP from a node whose
// socket-LB may answer it itself (clientSocketLB).
func (t Target) RemoteProbe(pe Peer, clientSocketLB bool) Probe {
	return Probe{Check: report.CheckNodePortRemote, Service: t.Name(), Target: joinHostPort(pe.IP, t.NodePort), Via: pe.Name, ViaClass: pe.Class,
		ClientSocketLB: clientSocketLB && pe.CiliumAgent, Policy: t.PolicyOn(pe.Name)}
}

func joinHostPort(host string, port int32) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// SamePort: the reconciliation names a port by its name, or by its number
// when it has none.
func SamePort(name string, t Target) bool {
	return name == t.PortName || (t.PortName == "" && (name == "" || name == strconv.Itoa(int(t.Port))))
}

// NodeFrontends is one node's agent table, as far as the targets go.
type NodeFrontends struct {
	Targets []Frontends
	// Other counts problems of Services that are not targets; Err says
	// why the table could not be read.
	Other int
	Err   string
}

// Settled: no target has a problem in this table (yet).
func (nf NodeFrontends) Settled() bool {
	for _, t := range nf.Targets {
		if len(t.Problems) > 0 {
			return false
		}
	}
	return true
}

// TargetFrontends splits one node's reconciliation into the targets'
// frontends and the count of other Services' problems.
func TargetFrontends(row report.NodeServices, targets []Target) NodeFrontends {
	nf := NodeFrontends{}
	if row.CiliumAgent == nil || (len(row.Errors) > 0 && len(row.Frontends) == 0) {
		nf.Err = strings.Join(row.Errors, "; ")
		return nf
	}
	agent := row.CiliumAgent.Namespace + "/" + row.CiliumAgent.Pod
	claimed := map[int]bool{}
	for _, t := range targets {
		svc := t.Namespace + "/" + t.Service
		f := Frontends{Service: t.Name(), Agent: agent, Problems: []string{}}
		mine := map[string]bool{}
		for _, fc := range row.Frontends {
			if fc.Service != svc || !SamePort(fc.Port, t) {
				continue
			}
			f.Expected++
			if fc.Status != report.FrontendMissing {
				f.Found++
			}
			mine[fc.Frontend+"/"+fc.Protocol] = true
		}
		for i, p := range row.Problems {
			if p.Service == svc && mine[p.Frontend+"/"+p.Protocol] {
				f.Problems = append(f.Problems, p.Code+" "+p.Frontend+"/"+p.Protocol+": "+p.Detail)
				claimed[i] = true
			}
		}
		nf.Targets = append(nf.Targets, f)
	}
	nf.Other = len(row.Problems) - len(claimed)
	return nf
}
