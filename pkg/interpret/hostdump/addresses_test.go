package hostdump

import (
	"reflect"
	"testing"
)

func TestAddresses(t *testing.T) {
	// `ip -o -4 addr show scope global` as iproute2 6.x prints it (lab node).
	d := Dump{Sections: map[string]Section{SecAddresses: {Name: SecAddresses, Stdout: "2: eth0    inet 172.30.0.11/16 brd 172.30.255.255 scope global eth0\\       valid_lft forever preferred_lft forever\n" +
		"2: eth0    inet 172.30.1.11/16 scope global secondary eth0\\       valid_lft forever preferred_lft forever\n" +
		"5: lab1    inet 10.9.0.1/24 scope global lab1\\       valid_lft forever preferred_lft forever\n"}}}
	want := []Address{{"eth0", "172.30.0.11"}, {"eth0", "172.30.1.11"}, {"lab1", "10.9.0.1"}}
	if got := d.Addresses(); !reflect.DeepEqual(got, want) {
		t.Errorf("Addresses() = %v, want %v", got, want)
	}
	d.Sections[SecAddresses] = Section{Stdout: d.Get(SecAddresses).Stdout +
		"6: cilium_host    inet 10.244.11.66/32 scope global cilium_host\\       valid_lft forever preferred_lft forever\n" +
		"7: kube-ipvs0    inet 10.96.0.1/32 scope global kube-ipvs0\\       valid_lft forever preferred_lft forever\n" +
		"8: lxc12ab    inet 10.244.11.9/32 scope global lxc12ab\\       valid_lft forever preferred_lft forever\n"}
	if got := d.NodeAddresses(); !reflect.DeepEqual(got, want) {
		t.Errorf("NodeAddresses() = %v, want %v (pod-network devices left out)", got, want)
	}
	if got := (Dump{}).Addresses(); got != nil {
		t.Errorf("no section: %v", got)
	}
}

func TestHasPortmap(t *testing.T) {
	with := Dump{Sections: map[string]Section{SecIPTablesNFT: {Stdout: "*nat\n:CNI-HOSTPORT-DNAT - [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\nCOMMIT\n"}}}
	nft := Dump{Sections: map[string]Section{SecNFT: {Stdout: "table ip cni_hostport {\n\tcomment \"CNI portmap plugin\"\n}\n"}}}
	without := Dump{Sections: map[string]Section{SecIPTablesNFT: {Stdout: "*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n"}}}
	if !with.HasPortmap() || !nft.HasPortmap() || without.HasPortmap() {
		t.Errorf("HasPortmap: iptables %v, nft %v, none %v", with.HasPortmap(), nft.HasPortmap(), without.HasPortmap())
	}
}
