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
