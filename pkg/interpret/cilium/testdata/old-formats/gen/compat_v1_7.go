//go:build v1_7

package main

import (
	"text/tabwriter"

	"github.com/cilium/cilium/api/v1/models"
	pkg "github.com/cilium/cilium/pkg/client"
)

const (
	ciliumTag  = "v1.7.0"
	ciliumMsg  = "OK"
	k8sMsg     = "1.17 (v1.17.2) [linux/amd64]"
	hasVerbose = false // 1.7 has no "KubeProxyReplacement Details" block
)

var k8sAPIs = []string{"CustomResourceDefinition", "cilium/v2::CiliumEndpoint", "cilium/v2::CiliumNetworkPolicy", "cilium/v2::CiliumNode", "core/v1::Endpoint", "core/v1::Namespace", "core/v1::Pods", "core/v1::Service"}

// The values daemon/status.go getKubeProxyReplacementStatus sets at
// v1.7.0: NodePort mode upper-cased, the port range, host-reachable
// services' protocols (UDP only with TCP).
const see = "https://github.com/cilium/cilium/pull/10083 (1.7 development build)"

func scenarios() []scenario {
	return []scenario{
		{name: "kpr-strict", seen: see, mode: "Strict", nodePort: true, npMode: "SNAT", externalIPs: true, socketLB: []string{"TCP", "UDP"}},
		{name: "kpr-probe", seen: see, mode: "Probe", nodePort: true, npMode: "DSR", externalIPs: true, socketLB: []string{"TCP"}},
		{name: "kpr-partial", seen: see, mode: "Partial", socketLB: []string{"TCP", "UDP"}},
		{name: "kpr-disabled", seen: see, mode: "Disabled"},
	}
}

func kprModel(sc scenario) *models.KubeProxyReplacement {
	f := &models.KubeProxyReplacementFeatures{
		NodePort:              &models.KubeProxyReplacementFeaturesNodePort{},
		ExternalIPs:           &models.KubeProxyReplacementFeaturesExternalIPs{Enabled: sc.externalIPs},
		HostReachableServices: &models.KubeProxyReplacementFeaturesHostReachableServices{},
	}
	if sc.nodePort {
		*f.NodePort = models.KubeProxyReplacementFeaturesNodePort{Enabled: true, Mode: sc.npMode, PortMin: 30000, PortMax: 32767}
	}
	if sc.socketLB != nil {
		f.HostReachableServices.Enabled = true
		f.HostReachableServices.Protocols = sc.socketLB
	}
	return &models.KubeProxyReplacement{Mode: sc.mode, Features: f}
}

// render is cilium/cmd/status.go at v1.7.0: FormatStatusResponse(w, sr,
// allAddresses, allControllers, allNodes, allRedirects, allClusters).
func render(sr *models.StatusResponse, verbose bool) string {
	return tab(func(w *tabwriter.Writer) {
		pkg.FormatStatusResponse(w, sr, verbose, verbose, verbose, verbose, verbose)
	})
}
