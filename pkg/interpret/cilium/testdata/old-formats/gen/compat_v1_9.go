//go:build v1_9

package main

import (
	"text/tabwriter"

	"github.com/cilium/cilium/api/v1/models"
	pkg "github.com/cilium/cilium/pkg/client"
)

const (
	ciliumTag  = "v1.9.0"
	ciliumMsg  = "OK"
	k8sMsg     = "1.19 (v1.19.4) [linux/amd64]"
	hasVerbose = true
)

var k8sAPIs = []string{"cilium/v2::CiliumClusterwideNetworkPolicy", "cilium/v2::CiliumEndpoint", "cilium/v2::CiliumNetworkPolicy", "cilium/v2::CiliumNode", "core/v1::Namespace", "core/v1::Node", "core/v1::Pods", "core/v1::Service", "discovery/v1beta1::EndpointSlice", "networking.k8s.io/v1::NetworkPolicy"}

// The values daemon/cmd/status.go sets at v1.9.0: device names and the
// direct-routing device, NodePort mode upper-cased (Hybrid title-cased),
// XDP acceleration title-cased, the backend algorithm.
const see = "https://github.com/cilium/cilium/issues/17461 (1.10.4 agent, 1.9 documentation)"

func scenarios() []scenario {
	return []scenario{
		{name: "kpr-strict", seen: see, mode: "Strict", devices: eth, nodePort: true, npMode: "SNAT", accel: "Disabled", algorithm: "Maglev", lutSize: 16381, hostPort: true, externalIPs: true, socketLB: []string{"TCP", "UDP"}, affinity: true},
		// Probe on a kernel without the UDP socket hooks: socket LB for TCP only.
		{name: "kpr-probe", seen: see, mode: "Probe", devices: eth, nodePort: true, npMode: "Hybrid", accel: "Native", algorithm: "Random", hostPort: true, externalIPs: true, socketLB: []string{"TCP"}, affinity: true},
		{name: "kpr-partial", seen: see, mode: "Partial", devices: eth, socketLB: []string{"TCP", "UDP"}},
		{name: "kpr-disabled", mode: "Disabled", devices: eth},
		// The direct-routing device is a dummy device, not a NIC.
		{name: "kpr-strict-dummy0", seen: see, mode: "Strict", devices: []device{{name: "eth0"}, {name: "dummy0", direct: true}}, nodePort: true, npMode: "SNAT", accel: "Disabled", algorithm: "Random", hostPort: true, externalIPs: true, socketLB: []string{"TCP", "UDP"}},
	}
}

func kprModel(sc scenario) *models.KubeProxyReplacement {
	f := &models.KubeProxyReplacementFeatures{
		NodePort:              &models.KubeProxyReplacementFeaturesNodePort{},
		HostPort:              &models.KubeProxyReplacementFeaturesHostPort{Enabled: sc.hostPort},
		ExternalIPs:           &models.KubeProxyReplacementFeaturesExternalIPs{Enabled: sc.externalIPs},
		HostReachableServices: &models.KubeProxyReplacementFeaturesHostReachableServices{},
		SessionAffinity:       &models.KubeProxyReplacementFeaturesSessionAffinity{Enabled: sc.affinity},
	}
	if sc.nodePort {
		*f.NodePort = models.KubeProxyReplacementFeaturesNodePort{Enabled: true, Mode: sc.npMode, Acceleration: sc.accel, Algorithm: sc.algorithm, LutSize: sc.lutSize, PortMin: 30000, PortMax: 32767}
	}
	if sc.socketLB != nil {
		f.HostReachableServices.Enabled = true
		f.HostReachableServices.Protocols = sc.socketLB
	}
	k := &models.KubeProxyReplacement{Mode: sc.mode, Devices: []string{}, Features: f}
	for _, d := range sc.devices {
		k.Devices = append(k.Devices, d.name)
		if d.direct {
			k.DirectRoutingDevice = d.name
		}
	}
	return k
}

// render is cilium/cmd/status.go at v1.9.0: StatusNoDetails, or
// StatusAllDetails for --verbose.
func render(sr *models.StatusResponse, verbose bool) string {
	sd := pkg.StatusNoDetails
	if verbose {
		sd = pkg.StatusAllDetails
	}
	return tab(func(w *tabwriter.Writer) { pkg.FormatStatusResponse(w, sr, sd) })
}
