package nodecheck

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/probe"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/acceptance"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/netfilter"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// PathFactsOf are the translators on a node's paths, from its status
// (Cilium's socket-LB and BPF NodePort, kube-proxy's pod) and, when read,
// its rules (kube-proxy's rules, live or left behind, and their mode).
func PathFactsOf(st *report.NodeStatus, in *report.InspectNode) acceptance.PathFacts {
	var pf acceptance.PathFacts
	if st != nil {
		if k := st.KubeProxyReplacement; k != nil && st.CiliumAgent != nil {
			pf.SocketLB = acceptance.SocketLBServesRemoteNodePorts(k)
			pf.BPF = k.ReplacesKubeProxy == report.ReplacesFull || (k.NodePort != nil && *k.NodePort)
		}
		if st.KubeProxyPod != nil {
			pf.KubeProxy = true
		}
	}
	if in != nil && in.Netfilter != nil {
		nf := in.Netfilter
		switch {
		case len(nf.KubeServiceChains) > 0:
			pf.KubeProxy, pf.KubeProxyMode = true, "iptables"
		case len(nf.KubeProxyNFTables) > 0:
			pf.KubeProxy, pf.KubeProxyMode = true, "nftables"
		case nf.IPVS != nil && len(nf.IPVS.Services) > 0:
			pf.KubeProxy, pf.KubeProxyMode = true, "ipvs"
		}
	}
	return pf
}

// NeedsCounters: kube-proxy's iptables rules and Cilium's socket-LB are
// both on the node's own path, so only kube-proxy's counters tell which
// one translated a probe.
func NeedsCounters(pf acceptance.PathFacts) bool {
	return pf.KubeProxy && pf.KubeProxyMode == "iptables" && pf.SocketLB
}

// Peer is a node a probe may go to: its translators, whether a Cilium
// agent runs there (so another node's socket-LB translates its NodePorts
// itself), and who serves its hostPorts (acceptance.HostPort*: Cilium's
// KPR from its status, portmap from its rules when they were read).
type Peer struct {
	Path        acceptance.PathFacts
	CiliumAgent bool
	HostPortBy  string
}

// PeerOf is a node's Peer from its status (nil: not read).
func PeerOf(st *report.NodeStatus) Peer {
	p := Peer{Path: PathFactsOf(st, nil), CiliumAgent: st != nil && st.CiliumAgent != nil}
	if st.CiliumHostPort() {
		p.HostPortBy = acceptance.HostPortCilium
	}
	return p
}

// ProbeServed probes targets from one node and says who served each:
// one at a time with kube-proxy's counters read around each when the node
// NeedsCounters, else all at once with servedBy from the facts.
func ProbeServed(ctx context.Context, pod probe.Runner, targets []probe.Target, o probe.Options, selfName string, self Peer, peers map[string]Peer) ([]probe.Result, []Served, error) {
	var res []probe.Result
	var dumps []string
	var err error
	counted := NeedsCounters(self.Path)
	if counted {
		res, dumps, err = probe.RunCounted(ctx, pod, targets, o)
	} else {
		res, err = probe.Run(ctx, pod, targets, o)
	}
	if err != nil {
		return res, nil, err
	}
	served := make([]Served, len(res))
	for i, r := range res {
		p := acceptance.Probe{Check: string(r.Kind), Service: r.Service + ":" + r.Port, Target: r.Address(), Via: r.Via, Outcome: r.Outcome}
		peer := peers[r.Via]
		switch r.Kind {
		case probe.KindNodePortRemote:
			p.ClientSocketLB = self.Path.SocketLB && peer.CiliumAgent
		case probe.KindNodePortAddress:
			p.Case = report.CaseOwnAddress
		case probe.KindHostPort:
			p.Check, p.Case, p.Serving = report.CheckHostPort, report.CaseOtherNode, acceptance.Datapath{Name: r.Via, HostPortBy: peer.HostPortBy}
			if r.Via == selfName {
				p.Via, p.Case, p.Serving.HostPortBy = "", report.CaseSameNode, self.HostPortBy
			}
		}
		var moved []netfilter.ChainDelta
		read := false
		if counted && r.Via == "" && i+1 < len(dumps) {
			before, err1 := netfilter.ParseCounters(strings.NewReader(dumps[i]))
			after, err2 := netfilter.ParseCounters(strings.NewReader(dumps[i+1]))
			if err := errors.Join(err1, err2); err != nil {
				served[i].By, served[i].Reason = acceptance.ServedByUnknown, "kube-proxy's counters could not be read: "+err.Error()
				continue
			}
			moved, read = netfilter.Moved(before, after, KubeProxyName(p.Service)), true
		}
		served[i].By, served[i].Reason = acceptance.ServedByProbe(p, self.Path, peer.Path, read, moved)
		served[i].Counters = acceptance.CounterDeltas(moved)
	}
	return res, served, nil
}

// Served is who translated one probe.
type Served struct {
	By, Reason string
	Counters   []report.CounterDelta
}

// ServedResults are one node's probe results as reports show them, with
// who served each (served: ProbeServed's, nil for none).
func ServedResults(from string, rs []probe.Result, served []Served) []report.ProbeResult {
	out := make([]report.ProbeResult, len(rs))
	for j, res := range rs {
		out[j] = ProbeResult(from, res)
		if j < len(served) {
			out[j].ServedBy, out[j].ServedByReason, out[j].Counters = served[j].By, served[j].Reason, served[j].Counters
		}
	}
	return out
}

// KubeProxyName is a Service port as kube-proxy's rule comments name it:
// "ns/name:port-name", or "ns/name" for an unnamed port (k/k
// ServicePortName.String).
func KubeProxyName(service string) string {
	svc, port, _ := strings.Cut(service, ":")
	if _, err := strconv.Atoi(port); err == nil || port == "" {
		return svc
	}
	return service
}

// AffinityResults asks each ClientIP-affinity Service's ClusterIP n times
// from one node and reports the backends that answered.
func AffinityResults(ctx context.Context, pod probe.Runner, from string, targets []probe.Target, n int, o probe.Options, self acceptance.PathFacts) ([]report.ProbeResult, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	urls := make([]string, len(targets))
	for i, t := range targets {
		urls[i] = "http://" + t.Address() + "/hostname"
	}
	ans, err := probe.Repeat(ctx, pod, urls, n, o)
	if err != nil {
		return nil, fmt.Errorf("session-affinity requests: %w", err)
	}
	out := make([]report.ProbeResult, len(targets))
	for i, t := range targets {
		a := ans[i]
		r := report.ProbeResult{From: from, Target: t.Address(), Kind: report.CheckSessionAffinity, Service: t.Service + ":" + t.Port,
			Outcome: probe.OK, Requests: a.Requests, Backends: a.ByBody}
		if a.Failed > 0 {
			r.Outcome, r.Detail = "failed", fmt.Sprintf("%d of %d requests got no answer", a.Failed, a.Requests)
		}
		r.ServedBy, r.ServedByReason = acceptance.ServedByProbe(acceptance.Probe{Check: r.Kind, Outcome: r.Outcome, Backends: r.Backends}, self, acceptance.PathFacts{}, false, nil)
		out[i] = r
	}
	return out, nil
}

// AffinityRequests is how many requests probe and diff send to a
// ClientIP-affinity Service from one node.
const AffinityRequests = 10

// AffinityTargets are the ClusterIP targets of the Services with
// sessionAffinity ClientIP.
func AffinityTargets(svcs []corev1.Service) []probe.Target {
	var out []probe.Target
	for _, svc := range svcs {
		if svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP || svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
			continue
		}
		for _, p := range svc.Spec.Ports {
			if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
				continue
			}
			port := p.Name
			if port == "" {
				port = strconv.Itoa(int(p.Port))
			}
			out = append(out, probe.Target{Kind: probe.Kind(report.CheckSessionAffinity), Service: svc.Namespace + "/" + svc.Name, Port: port, Host: svc.Spec.ClusterIP, PortNum: p.Port})
		}
	}
	return out
}

// ProbeStatus reads the status of the nodes probe goes from and to (the
// probing nodes and the first `remote` others by name, as probe.Plan picks
// them): their agents' socket-LB and BPF NodePort say who served a probe.
func ProbeStatus(ctx context.Context, cs kubernetes.Interface, ex collect.Executor, from, all []collect.NodeInfo, remote int, timeout time.Duration) (map[string]*report.NodeStatus, error) {
	want := map[string]bool{}
	for _, n := range from {
		want[n.Name] = true
	}
	names := collect.NodeNames(all)
	sort.Strings(names)
	for i := 0; i < len(names) && i < remote+len(from); i++ {
		want[names[i]] = true
	}
	var nodes []string
	for n := range want {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	out := map[string]*report.NodeStatus{}
	st, err := collect.CollectStatus(ctx, cs, ex, collect.StatusOptions{Nodes: nodes, Timeout: timeout})
	if err != nil {
		return out, err
	}
	for i := range st.Nodes {
		out[st.Nodes[i].Name] = &st.Nodes[i]
	}
	return out, nil
}
