package acceptance

import (
	"sort"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// Behaviour is one Service port (or hostPort pod) a behaviour check is
// about: kpr's own (--deploy-backends) or one given with --service.
type Behaviour struct {
	Check   string // report.CheckHostPort ... CheckExternalIP
	Service string // "ns/name:port", or "ns/pod:hostPort" for hostport
	// Port is the Service port (ClusterIP, externalIP), NodePort its
	// NodePort (0 without).
	Port, NodePort int32
	ClusterIP      string
	ExternalIPs    []string
	// EndpointNodes hold the ready endpoints (the hostPort pod's node).
	EndpointNodes map[string]bool
	// HostPort and HostNode: the hostPort pod's port and node.
	HostPort int32
	HostNode string
	// Control is the same backends' ClusterIP:port without affinity
	// (session-affinity's comparison); "" without one.
	Control string
}

// Prober is the node a behaviour probe goes from.
type Prober struct {
	Name, InternalIP string
	// Addresses are the node's global IPv4 addresses (its dump).
	Addresses []string
	// SocketLB: Cilium's socket-LB translates the node's own connections.
	SocketLB bool
}

// PlanBehaviours lists the behaviour probes from one node, except
// session-affinity (repeated requests, AffinityTargets) and the probes at
// other nodes' extra addresses (PlanOtherAddresses, once their addresses
// are known). dp holds the datapath of every node a probe may go to, ips
// every node's InternalIP; peers are the node's remote peers.
func PlanBehaviours(from Prober, bs []Behaviour, peers []Peer, dp map[string]Datapath, ips map[string]string) []Probe {
	var out []Probe
	add := func(b Behaviour, cs, host string, port int32, serving string, clientSLB bool) {
		d := dp[serving]
		if d.Name == "" {
			d.Name = serving
		}
		out = append(out, Probe{Check: b.Check, Service: b.Service, Target: joinHostPort(host, port), Case: cs, Serving: d,
			ClientSocketLB: clientSLB, Via: viaUnlessSelf(serving, from.Name), ViaClass: classUnlessSelf(d, from.Name)})
	}
	cilium := func(node string) bool { return dp[node].CiliumAgent }
	for _, b := range bs {
		switch b.Check {
		case report.CheckHostPort:
			ip := ips[b.HostNode]
			if ip == "" {
				continue
			}
			cs := report.CaseOtherNode
			if b.HostNode == from.Name {
				cs = report.CaseSameNode
			}
			add(b, cs, ip, b.HostPort, b.HostNode, from.SocketLB && cs == report.CaseOtherNode && cilium(b.HostNode))
		case report.CheckETPLocal:
			if b.NodePort == 0 || from.InternalIP == "" {
				continue
			}
			if b.EndpointNodes[from.Name] {
				add(b, report.CaseSameNode, from.InternalIP, b.NodePort, from.Name, false)
			} else {
				add(b, report.CaseEmptyNodeOwn, from.InternalIP, b.NodePort, from.Name, false)
				if n := firstKey(b.EndpointNodes); n != "" && ips[n] != "" {
					add(b, report.CaseOtherNode, ips[n], b.NodePort, n, from.SocketLB && cilium(n))
				}
			}
			for _, pe := range peers {
				if !b.EndpointNodes[pe.Name] {
					add(b, report.CaseEmptyNode, pe.IP, b.NodePort, pe.Name, from.SocketLB && pe.CiliumAgent)
				}
			}
		case report.CheckExternalIP:
			for _, eip := range b.ExternalIPs {
				owner := ""
				for n, ip := range ips {
					if ip == eip {
						owner = n
					}
				}
				if owner == "" {
					continue // an address no node owns: where it routes is the network's business
				}
				cs := report.CaseOtherNode
				if owner == from.Name {
					cs = report.CaseSameNode
				}
				add(b, cs, eip, b.Port, owner, false)
			}
		case report.CheckNodePortEveryAddress:
			if b.NodePort == 0 {
				continue
			}
			for _, a := range from.Addresses {
				add(b, report.CaseOwnAddress, a, b.NodePort, from.Name, from.SocketLB)
			}
		}
	}
	return out
}

// PlanOtherAddresses lists the probes from one node at its peers'
// addresses other than their InternalIP (nodeport-remote covers that).
func PlanOtherAddresses(from Prober, bs []Behaviour, peers []Peer, dp map[string]Datapath, addrs map[string][]string) []Probe {
	var out []Probe
	for _, b := range bs {
		if b.Check != report.CheckNodePortEveryAddress || b.NodePort == 0 {
			continue
		}
		for _, pe := range peers {
			d := dp[pe.Name]
			if d.Name == "" {
				d.Name = pe.Name
			}
			for _, a := range addrs[pe.Name] {
				if a == pe.IP {
					continue
				}
				out = append(out, Probe{Check: b.Check, Service: b.Service, Target: joinHostPort(a, b.NodePort), Case: report.CaseAnotherAddress,
					Serving: d, ClientSocketLB: from.SocketLB && pe.CiliumAgent, Via: pe.Name, ViaClass: d.Class})
			}
		}
	}
	return out
}

func viaUnlessSelf(node, self string) string {
	if node == self {
		return ""
	}
	return node
}

func classUnlessSelf(d Datapath, self string) string {
	if d.Name == self {
		return ""
	}
	return d.Class
}

func firstKey(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}
