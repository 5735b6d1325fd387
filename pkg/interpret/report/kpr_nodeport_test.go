package report

import (
	"reflect"
	"testing"
)

// One IPv4 per device: the node's IP where the device has it (the lab's
// node-cilium lists its secondary 172.30.0.111 on eth0 too, and the agent
// serves no NodePort there), else the device's first; every address in
// nodeport-addresses' CIDRs when it is set.
func TestNodePortAddrs(t *testing.T) {
	devs := []KPRDevice{{Name: "eth0", Addresses: []string{"172.30.0.111", "172.30.0.11", "fd00::11"}}, {Name: "eth1", Addresses: []string{"10.1.0.11", "10.1.0.12"}}}
	if got := NodePortAddrs(devs, "172.30.0.11", ""); !reflect.DeepEqual(got, []string{"172.30.0.11", "10.1.0.11"}) {
		t.Errorf("default: %v", got)
	}
	if got := NodePortAddrs(devs, "172.30.0.11", "172.30.0.0/24, 10.1.0.12/32"); !reflect.DeepEqual(got, []string{"172.30.0.111", "172.30.0.11", "10.1.0.12"}) {
		t.Errorf("nodeport-addresses: %v", got)
	}
	if got := NodePortAddrs(nil, "172.30.0.11", ""); got != nil {
		t.Errorf("no devices: %v", got)
	}
}
