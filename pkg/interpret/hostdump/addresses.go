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
