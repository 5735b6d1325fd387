//go:build v1_8rc

package main

import (
	"text/tabwriter"

	"github.com/cilium/cilium/api/v1/models"
	pkg "github.com/cilium/cilium/pkg/client"
)

const (
	ciliumTag  = "v1.8.0-rc1"
	ciliumMsg  = "OK"
	k8sMsg     = "1.18 (v1.18.2) [linux/amd64]"
	hasVerbose = false // no "KubeProxyReplacement Details" block before 1.9
)

var k8sAPIs = []string{"cilium/v2::CiliumClusterwideNetworkPolicy", "cilium/v2::CiliumEndpoint", "cilium/v2::CiliumNetworkPolicy", "cilium/v2::CiliumNode", "core/v1::Namespace", "core/v1::Pods", "core/v1::Service", "discovery/v1beta1::EndpointSlice", "networking.k8s.io/v1::NetworkPolicy"}

// The values daemon/cmd/status.go sets at v1.8.0-rc1: the device names
// (no direct-routing device yet), NodePort mode and XDP acceleration
// upper-cased ("none" when XDP is off).
const see = "https://github.com/cilium/cilium/pull/11927 (1.8 development build)"

func scenarios() []scenario {
	return []scenario{
		{name: "kpr-strict", seen: see, mode: "Strict", devices: eth[:1], nodePort: true, npMode: "SNAT", accel: "NONE", hostPort: true, externalIPs: true, socketLB: []string{"TCP", "UDP"}},
		{name: "kpr-probe", seen: see, mode: "Probe", devices: eth, nodePort: true, npMode: "HYBRID", accel: "NATIVE", hostPort: true, externalIPs: true, socketLB: []string{"TCP"}},
	}
}

func kprModel(sc scenario) *models.KubeProxyReplacement {
	f := &models.KubeProxyReplacementFeatures{
		NodePort:              &models.KubeProxyReplacementFeaturesNodePort{},
		HostPort:              &models.KubeProxyReplacementFeaturesHostPort{Enabled: sc.hostPort},
		ExternalIPs:           &models.KubeProxyReplacementFeaturesExternalIPs{Enabled: sc.externalIPs},
		HostReachableServices: &models.KubeProxyReplacementFeaturesHostReachableServices{},
	}
	if sc.nodePort {
		*f.NodePort = models.KubeProxyReplacementFeaturesNodePort{Enabled: true, Mode: sc.npMode, Acceleration: sc.accel, PortMin: 30000, PortMax: 32767}
	}
	if sc.socketLB != nil {
		f.HostReachableServices.Enabled = true
		f.HostReachableServices.Protocols = sc.socketLB
	}
	devs := []string{}
	for _, d := range sc.devices {
		devs = append(devs, d.name)
	}
	return &models.KubeProxyReplacement{Mode: sc.mode, Devices: devs, Features: f}
}

func render(sr *models.StatusResponse, verbose bool) string {
	return tab(func(w *tabwriter.Writer) {
		pkg.FormatStatusResponse(w, sr, verbose, verbose, verbose, verbose, verbose)
	})
}
