//go:build v1_18

package main

import (
	"text/tabwriter"

	"github.com/cilium/cilium/api/v1/models"
	pkg "github.com/cilium/cilium/pkg/client"
)

const (
	ciliumTag  = "v1.18.8"
	ciliumMsg  = "1.18.8 (v1.18.8-7c1d3f05)"
	k8sMsg     = "1.33 (v1.33.4+k3s1) [linux/amd64]"
	hasVerbose = true
)

var k8sAPIs = []string{"EndpointSliceOrEndpoint", "cilium/v2::CiliumClusterwideNetworkPolicy", "cilium/v2::CiliumEndpoint", "cilium/v2::CiliumNetworkPolicy", "cilium/v2::CiliumNode", "core/v1::Pods", "networking.k8s.io/v1::NetworkPolicy"}

// Redacted device lists, the way users hide their addresses before
// pasting a status into a public issue. The addresses are documentation
// ranges; the agent pads every device's ip list with one "" per address
// (pkg/status/status_collector.go at v1.18.8), so the text shows extra
// spaces after the name.
func scenarios() []scenario {
	return []scenario{
		// cilium/cilium#44427: a tunnel-mode node whose direct-routing
		// device is dummy0, its public address replaced by
		// "<PUBLIC_NODE_IP>" together with a comma.
		{name: "kpr-true-dummy0-redacted", mode: "True", seen: "https://github.com/cilium/cilium/issues/44427 (1.18.6)",
			devices:  []device{{name: "enp1s0", ips: []string{"fe80::5054:ff:fe6b:a1c2", "198.51.100.7"}}, {name: "dummy0", ips: []string{"203.0.113.254"}, direct: true}},
			nodePort: true, npMode: "SNAT", accel: "Disabled", algorithm: "Random", hostPort: true, externalIPs: true, socketLB: []string{"TCP", "UDP"},
			redact: [][2]string{{" 198.51.100.7", " , <PUBLIC_NODE_IP>"}}},
		// Placeholders of other shapes inside the entries.
		{name: "kpr-true-redacted", mode: "True",
			devices:  []device{{name: "eth0", ips: []string{"192.0.2.10", "2001:db8::10"}, direct: true}, {name: "eth1", ips: []string{"10.10.0.5"}}},
			nodePort: true, npMode: "SNAT", accel: "Disabled", algorithm: "Random", hostPort: true, externalIPs: true, socketLB: []string{"TCP", "UDP"},
			redact: [][2]string{{"192.0.2.10", "<NODE_IP>"}, {"2001:db8::10", "[REDACTED]"}, {"10.10.0.5", "x.x.x.x"}}},
	}
}

func kprModel(sc scenario) *models.KubeProxyReplacement {
	f := &models.KubeProxyReplacementFeatures{
		NodePort:        &models.KubeProxyReplacementFeaturesNodePort{},
		HostPort:        &models.KubeProxyReplacementFeaturesHostPort{Enabled: sc.hostPort},
		ExternalIPs:     &models.KubeProxyReplacementFeaturesExternalIPs{Enabled: sc.externalIPs},
		SocketLB:        &models.KubeProxyReplacementFeaturesSocketLB{Enabled: sc.socketLB != nil},
		SocketLBTracing: &models.KubeProxyReplacementFeaturesSocketLBTracing{},
		SessionAffinity: &models.KubeProxyReplacementFeaturesSessionAffinity{Enabled: sc.affinity},
		Nat46X64:        &models.KubeProxyReplacementFeaturesNat46X64{},
	}
	if sc.nodePort {
		*f.NodePort = models.KubeProxyReplacementFeaturesNodePort{Enabled: true, Mode: sc.npMode, Acceleration: sc.accel, Algorithm: sc.algorithm, LutSize: sc.lutSize, PortMin: 30000, PortMax: 32767}
	}
	k := &models.KubeProxyReplacement{Mode: sc.mode, Devices: []string{}, Features: f}
	for _, d := range sc.devices {
		k.Devices = append(k.Devices, d.name)
		item := &models.KubeProxyReplacementDeviceListItems0{Name: d.name, IP: make([]string, len(d.ips))}
		item.IP = append(item.IP, d.ips...)
		k.DeviceList = append(k.DeviceList, item)
		if d.direct {
			k.DirectRoutingDevice = d.name
		}
	}
	return k
}

func render(sr *models.StatusResponse, verbose bool) string {
	sr.CniChaining = &models.CNIChainingStatus{Mode: models.CNIChainingStatusModeNone}
	sr.Routing = &models.Routing{InterHostRoutingMode: models.RoutingInterHostRoutingModeTunnel, TunnelProtocol: "vxlan", IntraHostRoutingMode: models.RoutingIntraHostRoutingModeBPF}
	sd := pkg.StatusNoDetails
	if verbose {
		sd = pkg.StatusAllDetails
	}
	return tab(func(w *tabwriter.Writer) { pkg.FormatStatusResponse(w, sr, sd) })
}
