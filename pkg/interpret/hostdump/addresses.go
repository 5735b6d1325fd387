package hostdump

import "strings"

// Address is one global IPv4 address of a node and its interface.
type Address struct {
	Device string `json:"device"`
	IP     string `json:"ip"`
}

// Addresses reads the SecAddresses section (`ip -o -4 addr show scope
// global`: "2: eth0    inet 172.30.0.11/16 brd ... scope global eth0").
// iproute2's one-line format is stable and has no maintained Go reader
// short of netlink, which would need the node's namespace, not its text.
func (d Dump) Addresses() []Address {
	var out []Address
	for _, line := range strings.Split(d.Get(SecAddresses).Stdout, "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "inet" || len(f) < 2 {
				continue
			}
			ip, _, _ := strings.Cut(f[i+1], "/")
			out = append(out, Address{Device: strings.TrimSuffix(f[1], ":"), IP: ip})
			break
		}
	}
	return out
}

// podNetworkDevices are interfaces whose addresses belong to the pod or
// Service network, not to the node: kube-proxy's ipvs dummy holds every
// ClusterIP, Cilium's cilium_host the pod CIDR's router address, bridges
// and tunnels of the usual CNIs theirs.
var podNetworkDevices = []string{"lo", "kube-ipvs0", "nodelocaldns", "docker0", "cni0", "cbr0", "cilium_", "lxc", "cali", "flannel.", "vxlan.calico", "tunl0", "weave", "kube-bridge", "genev_sys", "ovn-k8s", "br-int"}

// NodeAddresses are Addresses without those of pod-network devices: the
// addresses a client outside the node may use for a NodePort.
func (d Dump) NodeAddresses() []Address {
	var out []Address
	for _, a := range d.Addresses() {
		skip := false
		for _, p := range podNetworkDevices {
			if a.Device == p || (strings.HasSuffix(p, "_") || strings.HasSuffix(p, ".") || p == "lxc" || p == "cali") && strings.HasPrefix(a.Device, p) {
				skip = true
			}
		}
		if !skip {
			out = append(out, a)
		}
	}
	return out
}

// HasPortmap says whether the portmap CNI plugin's hostPort rules are on
// the node: its iptables chain CNI-HOSTPORT-DNAT (portmap_iptables.go
// genToplevelDnatChain) or its nftables table cni_hostport
// (portmap_nftables.go).
func (d Dump) HasPortmap() bool {
	for _, name := range []string{SecIPTablesNFT, SecIPTablesLegacy, SecIPTables} {
		if strings.Contains(d.Get(name).Stdout, "-j CNI-HOSTPORT-DNAT") {
			return true
		}
	}
	return strings.Contains(d.Get(SecNFT).Stdout, "table ip cni_hostport")
}

// NodeIPs are NodeAddresses' IPs.
func (d Dump) NodeIPs() []string {
	var out []string
	for _, a := range d.NodeAddresses() {
		out = append(out, a.IP)
	}
	return out
}
