package report

import (
	"net"
	"slices"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/cilium"
)

// KPR is a Cilium agent's kube-proxy replacement section, as kpr reports
// it (status's nodes, analyze's cilium statuses). It is the report's own
// type, not the parser's (cilium.KPR): the parser may change, this JSON
// does not without a new APIVersion. Go field names match cilium.KPR's.
type KPR struct {
	// Mode as printed: "Strict", "Partial", "Probe", "Disabled", "True", "False".
	Mode string `json:"mode"`
	// ReplacesKubeProxy is "full", "partial" or "none" (Replaces*).
	ReplacesKubeProxy string      `json:"replacesKubeProxy"`
	Devices           []KPRDevice `json:"devices"`
	// Features the agent reports; nil pointers mean "not reported".
	SocketLB           *bool  `json:"socketLB,omitempty"`
	SocketLBHostnsOnly *bool  `json:"socketLBHostnsOnly,omitempty"`
	NodePort           *bool  `json:"nodePort,omitempty"`
	NodePortMode       string `json:"nodePortMode,omitempty"`
	NodePortRange      string `json:"nodePortRange,omitempty"`
	HostPort           *bool  `json:"hostPort,omitempty"`
	ExternalIPs        *bool  `json:"externalIPs,omitempty"`
	XDPAcceleration    string `json:"xdpAcceleration,omitempty"`
}

// KPRDevice is one entry of the KPR device list.
type KPRDevice struct {
	Name          string   `json:"name"`
	Addresses     []string `json:"addresses"`
	DirectRouting bool     `json:"directRouting"`
}

// Values of KPR.ReplacesKubeProxy.
const (
	ReplacesFull    = "full"
	ReplacesPartial = "partial"
	ReplacesNone    = "none"
)

// KPRFrom is the report's copy of a parsed KPR section (nil for nil). It
// shares nothing with k.
func KPRFrom(k *cilium.KPR) *KPR {
	if k == nil {
		return nil
	}
	out := &KPR{
		Mode:               k.Mode,
		ReplacesKubeProxy:  k.ReplacesKubeProxy,
		SocketLB:           cloneBool(k.SocketLB),
		SocketLBHostnsOnly: cloneBool(k.SocketLBHostnsOnly),
		NodePort:           cloneBool(k.NodePort),
		NodePortMode:       k.NodePortMode,
		NodePortRange:      k.NodePortRange,
		HostPort:           cloneBool(k.HostPort),
		ExternalIPs:        cloneBool(k.ExternalIPs),
		XDPAcceleration:    k.XDPAcceleration,
	}
	if k.Devices != nil {
		out.Devices = make([]KPRDevice, len(k.Devices))
		for i, d := range k.Devices {
			out.Devices[i] = KPRDevice{Name: d.Name, Addresses: slices.Clone(d.Addresses), DirectRouting: d.DirectRouting}
		}
	}
	return out
}

// AgentService is one frontend of a Cilium agent's service list (analyze's
// cilium-service-list inputs). Go field names match cilium.Service's.
type AgentService struct {
	// ID is the agent's service id, a number as in Cilium's own JSON
	// (models.ServiceSpec.ID, int64), so `jq 'select(.id==12)'` works alike.
	ID int64 `json:"id"`
	// Frontend is "IP:port"; IPv6 as "[addr]:port"; no protocol suffix.
	Frontend string `json:"frontend"`
	// IP and Port are Frontend split.
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
	// Protocol is "TCP", "UDP", "SCTP", "ANY" or "" (before 1.17 text has none).
	Protocol string `json:"protocol"`
	// Type is "ClusterIP", "NodePort", "ExternalIPs", "HostPort",
	// "LoadBalancer", "LocalRedirect"; Remote is the 1.14+ " (Remote)" mark.
	Type   string `json:"type"`
	Remote bool   `json:"remote,omitempty"`
	// Internal is the "/i" scope suffix (internal traffic policy frontends).
	Internal bool `json:"internal,omitempty"`
	// Namespace and Name come from JSON flags; text output has none.
	Namespace string         `json:"namespace,omitempty"`
	Name      string         `json:"name,omitempty"`
	Backends  []AgentBackend `json:"backends"`
}

// AgentBackend is one backend of an AgentService.
type AgentBackend struct {
	// Address is "IP:port" ("[addr]:port" for IPv6), no protocol suffix.
	Address string `json:"address"`
	// State is "active", "terminating", "quarantined", "maintenance",
	// "terminating-not-serving"; "" before 1.12 (treat as active).
	State    string `json:"state"`
	NodeName string `json:"nodeName,omitempty"`
}

// AgentServicesFrom is the report's copy of a parsed service list: nil for
// nil, empty for empty. All backends share one allocation: a sysdump's
// list runs to hundreds of thousands of them.
func AgentServicesFrom(svcs []cilium.Service) []AgentService {
	if svcs == nil {
		return nil
	}
	n := 0
	for i := range svcs {
		n += len(svcs[i].Backends)
	}
	backends := make([]AgentBackend, 0, n)
	out := make([]AgentService, len(svcs))
	for i := range svcs {
		s := &svcs[i]
		out[i] = AgentService{
			ID: s.ID, Frontend: s.Frontend, IP: s.IP, Port: s.Port, Protocol: s.Protocol,
			Type: s.Type, Remote: s.Remote, Internal: s.Internal, Namespace: s.Namespace, Name: s.Name,
		}
		if s.Backends != nil {
			start := len(backends)
			for _, b := range s.Backends {
				backends = append(backends, AgentBackend{Address: b.Address, State: b.State, NodeName: b.NodeName})
			}
			out[i].Backends = backends[start:len(backends):len(backends)]
		}
	}
	return out
}

func cloneBool(b *bool) *bool {
	if b == nil {
		return nil
	}
	v := *b
	return &v
}

// NodePortAddrs are the addresses a Cilium agent serves NodePorts on
// (pkg/datapath/tables/node_address.go, 1.18.8 and 1.20.2): with
// nodeport-addresses (CIDRs), every IPv4 address of its devices inside
// them; without, one IPv4 per KPR device: the node's InternalIP when the
// device has it, else the device's first address. `status --verbose`
// lists every address of a device (the lab's node-cilium lists its
// secondary address too), so its list alone is not the NodePort list.
func NodePortAddrs(devices []KPRDevice, internalIP, nodePortCIDRs string) []string {
	var cidrs []*net.IPNet
	for _, c := range strings.Split(nodePortCIDRs, ",") {
		if _, n, err := net.ParseCIDR(strings.TrimSpace(c)); err == nil {
			cidrs = append(cidrs, n)
		}
	}
	var out []string
	for _, d := range devices {
		var v4 []string
		for _, a := range d.Addresses {
			if ip := net.ParseIP(a); ip != nil && ip.To4() != nil {
				v4 = append(v4, a)
			}
		}
		if len(cidrs) > 0 {
			for _, a := range v4 {
				for _, n := range cidrs {
					if n.Contains(net.ParseIP(a)) {
						out = append(out, a)
						break
					}
				}
			}
			continue
		}
		switch {
		case slices.Contains(v4, internalIP):
			out = append(out, internalIP)
		case len(v4) > 0:
			out = append(out, v4[0])
		}
	}
	return out
}

// CiliumHostPort: the node's Cilium agent serves hostPorts itself (its
// HostPort frontends): full KPR, unless it reports hostPort off (1.18.8
// forces enable-host-port with KPR true; 1.20.2 follows KPR).
func (s *NodeStatus) CiliumHostPort() bool {
	if s == nil || s.CiliumAgent == nil {
		return false
	}
	k := s.KubeProxyReplacement
	return k != nil && k.ReplacesKubeProxy == ReplacesFull && (k.HostPort == nil || *k.HostPort)
}

// CiliumNodePortAddrs are the node agent's NodePort addresses
// (NodePortAddrs over its KPR devices), with nodeport-addresses from the
// node's own configuration, else clusterCIDRs (cilium-config's); nil
// without an agent's KPR section.
func (s *NodeStatus) CiliumNodePortAddrs(clusterCIDRs string) []string {
	if s == nil || s.CiliumAgent == nil || s.KubeProxyReplacement == nil {
		return nil
	}
	if k, ok := s.NodeConfig.Get("nodeport-addresses"); ok {
		clusterCIDRs = k.Value
	}
	return NodePortAddrs(s.KubeProxyReplacement.Devices, s.InternalIP, clusterCIDRs)
}
