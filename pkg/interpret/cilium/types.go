// Package cilium reads what a Cilium agent prints: `cilium[-dbg] status`
// (text and -o json) and `cilium[-dbg] service list` (text and -o json), in
// the formats of Cilium 1.10 through 1.20, and the status of 1.7 to 1.9
// (kprline.go). It is pure: bytes in, plain structs out, no client-go.
//
// Why hand-written structs rather than github.com/cilium/cilium/api/v1/models:
// importing cilium drags its replace directives and a huge dependency tree
// into a kubectl plugin, and the models' enums reject values that other
// versions print. The formats are taken from Cilium's own source (see
// ../../../shared facts and each fixture's header); fixtures are rendered by
// tools/fixturegen with each release's real models and formatter.
package cilium

// Status is what kpr needs from `cilium status`.
type Status struct {
	// Version is the agent's version as printed (e.g. "1.16.5"), "" if unknown.
	Version string `json:"version,omitempty"`
	// KubeProxyReplacement is nil when the output has no KPR section
	// (e.g. the agent could not reach Kubernetes).
	KubeProxyReplacement *KPR `json:"kubeProxyReplacement"`
	// CNIChaining is the chaining mode ("none", "generic-veth", ...); ""
	// when the version does not print it (before 1.12).
	CNIChaining string `json:"cniChaining"`
	// CiliumState and KubernetesState are the health states ("Ok", "Warning",
	// "Failure", "Disabled"), "" when absent.
	CiliumState     string `json:"ciliumState,omitempty"`
	KubernetesState string `json:"kubernetesState,omitempty"`
	// Format tells which rendering was parsed: "json" or "text".
	Format string `json:"format,omitempty"`
}

// KPR is the kube-proxy replacement section of a status.
type KPR struct {
	// Mode as printed: "Strict", "Partial", "Probe", "Disabled", "True", "False".
	Mode string `json:"mode"`
	// ReplacesKubeProxy is "full", "partial" or "none" (see Replacement).
	ReplacesKubeProxy string   `json:"replacesKubeProxy"`
	Devices           []Device `json:"devices"`
	// Features the agent reports; nil pointers mean "not reported".
	SocketLB           *bool  `json:"socketLB,omitempty"`
	SocketLBHostnsOnly *bool  `json:"socketLBHostnsOnly,omitempty"`
	NodePort           *bool  `json:"nodePort,omitempty"`
	NodePortMode       string `json:"nodePortMode,omitempty"`
	NodePortRange      string `json:"nodePortRange,omitempty"`
	HostPort           *bool  `json:"hostPort,omitempty"`
	ExternalIPs        *bool  `json:"externalIPs,omitempty"`
	XDPAcceleration    string `json:"xdpAcceleration,omitempty"`
}

// Device is one entry of the KPR device list.
type Device struct {
	Name          string   `json:"name"`
	Addresses     []string `json:"addresses"`
	DirectRouting bool     `json:"directRouting"`
}

// Replacement values.
const (
	ReplacesFull    = "full"
	ReplacesPartial = "partial"
	ReplacesNone    = "none"
)

// Replacement maps a printed KPR mode to full/partial/none: Strict and True
// replace kube-proxy entirely, Partial and Probe only for some features
// (1.10–1.12 silently drop what the kernel lacks), Disabled and False not at
// all. cilium-cli itself treats only "true" as on.
func Replacement(mode string) string {
	switch normalizeMode(mode) {
	case "strict", "true":
		return ReplacesFull
	case "partial", "probe":
		return ReplacesPartial
	default:
		return ReplacesNone
	}
}

// ReplacementOf is Replacement of the agent's mode, except that an agent
// whose mode is off (False, Disabled) but which enables socket-LB or
// NodePort one by one still serves those Services itself: partial. Seen on
// a real 1.18.8 agent (testdata/v1.18.8/captured/kpr-false-features-on):
// with --kube-proxy-replacement=false and cilium-config's bpf-lb-sock and
// enable-node-port on, `status` says only "False", yet ClusterIP
// (socket-LB) and NodePort answered on a node without kube-proxy. The
// features come from `status -o json` or `--verbose`; the short text has
// none, and then the mode alone decides.
func ReplacementOf(k *KPR) string {
	r := Replacement(k.Mode)
	if r == ReplacesNone && (isTrue(k.SocketLB) || isTrue(k.NodePort)) {
		return ReplacesPartial
	}
	return r
}

func isTrue(b *bool) bool { return b != nil && *b }

func normalizeMode(mode string) string {
	b := []byte(mode)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// Service is one frontend of `cilium service list`.
type Service struct {
	// ID is the agent's service id, a number as in Cilium's own JSON
	// (models.ServiceSpec.ID, int64), so `jq 'select(.id==12)'` works alike.
	ID int64 `json:"id"`
	// Frontend is "IP:port"; IPv6 as "[addr]:port"; no protocol suffix.
	Frontend string `json:"frontend"`
	// IP and Port are Frontend split, for reconciliation.
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
	// Protocol is "TCP", "UDP", "SCTP", "ANY" or "" (before 1.17 text has none).
	Protocol string `json:"protocol"`
	// Type is "ClusterIP", "NodePort", "ExternalIPs", "HostPort",
	// "LoadBalancer", "LocalRedirect"; Remote is the 1.14+ " (Remote)" mark.
	Type   string `json:"type"`
	Remote bool   `json:"remote,omitempty"`
	// Internal is the "/i" scope suffix (internal traffic policy frontends).
	Internal bool `json:"internal,omitempty"`
	// Namespace and Name come from JSON flags; text output has none.
	Namespace string    `json:"namespace,omitempty"`
	Name      string    `json:"name,omitempty"`
	Backends  []Backend `json:"backends"`
}

// Backend is one backend of a service.
type Backend struct {
	// Address is "IP:port" ("[addr]:port" for IPv6), no protocol suffix.
	Address string `json:"address"`
	// State is "active", "terminating", "quarantined", "maintenance",
	// "terminating-not-serving"; "" before 1.12 (treat as active).
	State    string `json:"state"`
	NodeName string `json:"nodeName,omitempty"`
}
