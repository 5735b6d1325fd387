// Package probe decides what to probe from a node (a Service's ClusterIP,
// its NodePort on the node's own address, on 127.0.0.1, on 0.0.0.0 and on
// other nodes, LoadBalancer ingress and externalIPs), runs those probes
// with curl inside the node's debug pod (so from the host network
// namespace), and reads curl's answers back into outcomes.
package probe

import (
	"fmt"
	"net"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Kind is what a probe target stands for.
type Kind string

const (
	KindClusterIP        Kind = "clusterip"
	KindNodePortLocal    Kind = "nodeport-local"
	KindNodePortLoopback Kind = "nodeport-loopback"
	KindNodePortAny      Kind = "nodeport-any"
	KindNodePortRemote   Kind = "nodeport-remote"
	KindLoadBalancer     Kind = "loadbalancer"
	KindExternalIP       Kind = "externalip"
)

// Node is a node as probes need it.
type Node struct {
	Name string
	// InternalIPs are the node's InternalIP addresses (one per family).
	InternalIPs []string
}

// Target is one address:port to probe.
type Target struct {
	Kind Kind
	// Service is "<namespace>/<name>", Port its port's name (or number).
	Service string
	Port    string
	Host    string
	PortNum int32
	// Via names the node whose address a nodeport-remote target uses.
	Via string
}

// Address is host:port (IPv6 in brackets).
func (t Target) Address() string {
	return net.JoinHostPort(t.Host, strconv.Itoa(int(t.PortNum)))
}

// URL is what curl is given.
func (t Target) URL() string { return "http://" + t.Address() + "/" }

// Plan lists the targets to probe from node `from` for the given Services.
// nodeport-remote uses the first `remote` other nodes (by name) that have
// an InternalIP. Ports that curl cannot probe (UDP, SCTP) are returned as
// skipped notes.
func Plan(from Node, others []Node, svcs []corev1.Service, remote int) (targets []Target, skipped []string) {
	peers := make([]Node, 0, len(others))
	for _, n := range others {
		if n.Name != from.Name && len(n.InternalIPs) > 0 {
			peers = append(peers, n)
		}
	}
	sort.Slice(peers, func(i, j int) bool { return peers[i].Name < peers[j].Name })
	if remote < 0 {
		remote = 0
	}
	if len(peers) > remote {
		peers = peers[:remote]
	}
	for _, svc := range svcs {
		name := svc.Namespace + "/" + svc.Name
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			skipped = append(skipped, name+": ExternalName Services have no ClusterIP or NodePort")
			continue
		}
		for _, p := range svc.Spec.Ports {
			port := p.Name
			if port == "" {
				port = strconv.Itoa(int(p.Port))
			}
			if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
				skipped = append(skipped, fmt.Sprintf("%s port %s (%d/%s): only TCP ports can be probed", name, port, p.Port, p.Protocol))
				continue
			}
			add := func(kind Kind, host string, num int32, via string) {
				targets = append(targets, Target{Kind: kind, Service: name, Port: port, Host: host, PortNum: num, Via: via})
			}
			for _, ip := range clusterIPs(svc) {
				add(KindClusterIP, ip, p.Port, "")
			}
			if p.NodePort != 0 {
				for _, ip := range from.InternalIPs {
					add(KindNodePortLocal, ip, p.NodePort, "")
				}
				// kube-proxy (iptables, IPv4 only) and Cilium's socket LB
				// answer NodePorts on loopback; ipvs and nftables modes do not.
				add(KindNodePortLoopback, "127.0.0.1", p.NodePort, "")
				add(KindNodePortAny, "0.0.0.0", p.NodePort, "")
				for _, peer := range peers {
					add(KindNodePortRemote, peer.InternalIPs[0], p.NodePort, peer.Name)
				}
			}
			for _, ing := range svc.Status.LoadBalancer.Ingress {
				if ing.IP != "" {
					add(KindLoadBalancer, ing.IP, p.Port, "")
				} else if ing.Hostname != "" {
					add(KindLoadBalancer, ing.Hostname, p.Port, "")
				}
			}
			for _, ip := range svc.Spec.ExternalIPs {
				add(KindExternalIP, ip, p.Port, "")
			}
		}
	}
	return targets, skipped
}

func clusterIPs(svc corev1.Service) []string {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var out []string
	for _, ip := range ips {
		if ip != "" && ip != corev1.ClusterIPNone {
			out = append(out, ip)
		}
	}
	return out
}

// More kinds of target (verify's behaviour checks; probe and diff too).
const (
	// KindNodePortAddress is a NodePort on one of the node's addresses
	// other than its InternalIP (a secondary or another interface's).
	KindNodePortAddress Kind = "nodeport-address"
	// KindHostPort is a pod's hostPort on its node's InternalIP.
	KindHostPort Kind = "hostport"
)

// AddressTargets adds, for every nodeport-local target, the same NodePort
// on each of the node's other addresses.
func AddressTargets(targets []Target, internalIP string, addrs []string) []Target {
	var out []Target
	for _, t := range targets {
		if t.Kind != KindNodePortLocal {
			continue
		}
		for _, a := range addrs {
			if a != internalIP && a != t.Host {
				out = append(out, Target{Kind: KindNodePortAddress, Service: t.Service, Port: t.Port, Host: a, PortNum: t.PortNum})
			}
		}
	}
	return out
}

// HostPortTargets are the hostPorts of Running pods, on their node's
// InternalIP (nodeIPs: node name → InternalIP); a hostIP the pod asked
// for wins. Service is "ns/pod", Port the container port's name or number.
func HostPortTargets(pods []corev1.Pod, nodeIPs map[string]string) []Target {
	var out []Target
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil || p.Spec.HostNetwork {
			continue
		}
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.HostPort == 0 || (cp.Protocol != "" && cp.Protocol != corev1.ProtocolTCP) {
					continue
				}
				host := nodeIPs[p.Spec.NodeName]
				if cp.HostIP != "" && cp.HostIP != "0.0.0.0" {
					host = cp.HostIP
				}
				if host == "" {
					continue
				}
				name := cp.Name
				if name == "" {
					name = strconv.Itoa(int(cp.HostPort))
				}
				out = append(out, Target{Kind: KindHostPort, Service: p.Namespace + "/" + p.Name, Port: name, Host: host, PortNum: cp.HostPort, Via: p.Spec.NodeName})
			}
		}
	}
	return out
}
