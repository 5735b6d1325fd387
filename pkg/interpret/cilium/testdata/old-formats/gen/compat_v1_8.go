//go:build v1_8

package main

import (
	"text/tabwriter"

	"github.com/cilium/cilium/api/v1/models"
	pkg "github.com/cilium/cilium/pkg/client"
)

const (
	ciliumTag  = "v1.8.0"
	ciliumMsg  = "OK"
	k8sMsg     = "1.18 (v1.18.5) [linux/amd64]"
	hasVerbose = false // no "KubeProxyReplacement Details" block before 1.9
)

var k8sAPIs = []string{"cilium/v2::CiliumClusterwideNetworkPolicy", "cilium/v2::CiliumEndpoint", "cilium/v2::CiliumNetworkPolicy", "cilium/v2::CiliumNode", "core/v1::Namespace", "core/v1::Pods", "core/v1::Service", "discovery/v1beta1::EndpointSlice", "networking.k8s.io/v1::NetworkPolicy"}

// The values daemon/cmd/status.go sets at v1.8.0: the device names and
// the direct-routing device, NodePort mode upper-cased, and the XDP
// acceleration upper-cased from the option ("disabled" -> "DISABLED",
// outside the model's enum, as the agent really sends it).
func scenarios() []scenario {
	return []scenario{
		{name: "kpr-strict", mode: "Strict", devices: eth, nodePort: true, npMode: "SNAT", accel: "DISABLED", hostPort: true, externalIPs: true, socketLB: []string{"TCP", "UDP"}, affinity: true},
		{name: "kpr-probe", mode: "Probe", devices: eth, nodePort: true, npMode: "HYBRID", accel: "NATIVE", hostPort: true, externalIPs: true, socketLB: []string{"TCP"}, affinity: true},
		{name: "kpr-partial", mode: "Partial", devices: eth, socketLB: []string{"TCP", "UDP"}},
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
		*f.NodePort = models.KubeProxyReplacementFeaturesNodePort{Enabled: true, Mode: sc.npMode, Acceleration: sc.accel, PortMin: 30000, PortMax: 32767}
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

func render(sr *models.StatusResponse, verbose bool) string {
	return tab(func(w *tabwriter.Writer) {
		pkg.FormatStatusResponse(w, sr, verbose, verbose, verbose, verbose, verbose)
	})
}
