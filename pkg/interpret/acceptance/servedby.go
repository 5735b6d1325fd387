package acceptance

import (
	"fmt"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/netfilter"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// Which datapath translated a probe (issue 21's servedBy).
const (
	ServedByCiliumSocketLB = "cilium-socket-lb" // translated at connect() in the client's cgroup
	ServedByCiliumBPF      = "cilium-bpf"       // translated by the agent's tc/XDP NodePort program on the target node
	ServedByKubeProxy      = "kube-proxy"       // kube-proxy's nat chains counted this probe's connection
	ServedByNone           = "none"             // nothing answered
	ServedByUnknown        = "unknown"          // cannot be told (the reason says why)
)

// ServedFacts are what tells who translated one probe.
type ServedFacts struct {
	// Check is the probe's check (report.CheckClusterIP ...
	// CheckNodePortRemote); Answered whether it got an answer.
	Check    string
	Answered bool
	// CountersRead: kube-proxy's iptables counters were read before and
	// after the probe on the node whose kube-proxy would translate it (the
	// client's for ClusterIP and local NodePorts, the target's for a
	// remote NodePort); Moved are its per-Service chains that counted it.
	CountersRead bool
	Moved        []netfilter.ChainDelta
	// KubeProxy: kube-proxy rules for the Service are on that node (a
	// live or stale kube-proxy); its mode when not iptables.
	KubeProxy     bool
	KubeProxyMode string
	// ClientSocketLB: the client runs Cilium's socket-LB for this
	// address (full KPR or bpf-lb-sock, host namespace covered);
	// TargetBPF: the target node's agent serves NodePorts in BPF.
	ClientSocketLB bool
	TargetBPF      bool
}

// ServedBy says which datapath translated one probe, and why. kube-proxy
// is named only from its own counters (the nat table sees a connection's
// first packet, so one probe is one packet in the chains it went
// through); Cilium is named when those counters did not move and its
// socket-LB or BPF NodePort was the only other translator on the path.
func ServedBy(f ServedFacts) (string, string) {
	if !f.Answered {
		return ServedByNone, "the probe got no answer"
	}
	if f.CountersRead && len(f.Moved) > 0 {
		parts := make([]string, 0, len(f.Moved))
		for _, m := range f.Moved {
			parts = append(parts, fmt.Sprintf("%s +%d", m.Chain, m.Delta))
		}
		return ServedByKubeProxy, "kube-proxy's chains counted this probe: " + strings.Join(parts, ", ")
	}
	remote := f.Check == report.CheckNodePortRemote
	cilium := func(quiet string) (string, string) {
		if remote {
			if f.ClientSocketLB {
				return ServedByCiliumSocketLB, "the client's socket-LB translated the remote NodePort at connect()" + quiet
			}
			return ServedByCiliumBPF, "the target node's BPF NodePort program translated it" + quiet
		}
		return ServedByCiliumSocketLB, "socket-LB translated it at connect(), before any netfilter hook" + quiet
	}
	haveCilium := f.ClientSocketLB || (remote && f.TargetBPF)
	switch {
	case f.KubeProxy && f.KubeProxyMode != "" && f.KubeProxyMode != "iptables":
		if haveCilium {
			return ServedByUnknown, fmt.Sprintf("Cilium and kube-proxy (%s mode, whose rules have no per-Service counters kpr reads) are both on the path", f.KubeProxyMode)
		}
		return ServedByKubeProxy, fmt.Sprintf("kube-proxy in %s mode is the only translator on the path", f.KubeProxyMode)
	case f.CountersRead && haveCilium:
		return cilium(": kube-proxy's counters for this Service did not move")
	case f.CountersRead && f.KubeProxy:
		return ServedByUnknown, "answered, but neither kube-proxy's counters moved nor does Cilium translate this address here"
	case f.CountersRead:
		return ServedByUnknown, "answered without kube-proxy's chains and without Cilium's KPR on the path: another datapath"
	case haveCilium && !f.KubeProxy:
		return cilium(" (no kube-proxy rules on the path)")
	case f.KubeProxy && !haveCilium:
		return ServedByKubeProxy, "kube-proxy is the only translator on the path"
	}
	return ServedByUnknown, "kube-proxy's counters were not read, and both datapaths are on the path"
}

// ServedByPortmap: the portmap CNI plugin's DNAT rules served a hostPort.
const ServedByPortmap = "portmap"

// PathFacts are the translators on one node: kube-proxy's rules (and their
// mode), Cilium's socket-LB for the node's own connections, and Cilium's
// BPF NodePort for packets arriving there.
type PathFacts struct {
	KubeProxy     bool
	KubeProxyMode string
	SocketLB      bool
	BPF           bool
}

// ServedByProbe says who translated probe p from client (the probing
// node) to serving (p.Serving's node, or the client itself for its own
// addresses); counters are kube-proxy's chains that moved around the
// probe on the client (nil when not read).
func ServedByProbe(p Probe, client, serving PathFacts, countersRead bool, moved []netfilter.ChainDelta) (string, string) {
	answered := Answered(p.Outcome)
	if p.Check == report.CheckSessionAffinity {
		n := 0
		for _, c := range p.Backends {
			n += c
		}
		answered = n > 0
	}
	if !answered {
		return ServedByNone, "the probe got no answer"
	}
	if p.Check == report.CheckHostPort {
		switch p.Serving.HostPortBy {
		case HostPortCilium:
			if p.Case == report.CaseSameNode {
				return ServedByCiliumSocketLB, "Cilium's socket-LB translates a hostPort on the node's own address at connect()"
			}
			return ServedByCiliumBPF, "Cilium's BPF program on " + p.Serving.Name + " translates its HostPort frontend"
		case HostPortPortmap:
			return ServedByPortmap, "portmap's CNI-HOSTPORT-DNAT rules are the only hostPort translator on " + p.Serving.Name
		}
		return ServedByUnknown, "answered, but kpr knows of no hostPort translator on " + p.Serving.Name + " (its rules were not read here: portmap's show when probing from it)"
	}
	local := p.Via == "" || p.Case == report.CaseSameNode || p.Case == report.CaseEmptyNodeOwn || p.Case == report.CaseOwnAddress
	if p.Check == report.CheckExternalIP && p.Case == report.CaseOtherNode && client.KubeProxy {
		// kube-proxy translates any externalIP in nat OUTPUT on the
		// client; Cilium's socket-LB leaves a non-local one alone.
		return ServedBy(ServedFacts{Check: report.CheckClusterIP, Answered: true, CountersRead: countersRead, Moved: moved,
			KubeProxy: true, KubeProxyMode: client.KubeProxyMode})
	}
	if local {
		clientSLB := client.SocketLB
		if p.Check == report.CheckExternalIP {
			clientSLB = client.SocketLB && p.Case == report.CaseSameNode
		}
		return ServedBy(ServedFacts{Check: p.Check, Answered: true, CountersRead: countersRead, Moved: moved,
			KubeProxy: client.KubeProxy, KubeProxyMode: client.KubeProxyMode, ClientSocketLB: clientSLB})
	}
	return ServedBy(ServedFacts{Check: report.CheckNodePortRemote, Answered: true,
		KubeProxy: serving.KubeProxy, KubeProxyMode: serving.KubeProxyMode, ClientSocketLB: p.ClientSocketLB, TargetBPF: serving.BPF})
}

// CounterDeltas are moved chains as the report shows them.
func CounterDeltas(moved []netfilter.ChainDelta) []report.CounterDelta {
	var out []report.CounterDelta
	for _, m := range moved {
		out = append(out, report.CounterDelta{Table: m.Table, Chain: m.Chain, Service: m.Service, Packets: m.Delta})
	}
	return out
}
