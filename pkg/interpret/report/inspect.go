package report

// Inspect is `kubectl kpr inspect -o json`.
type Inspect struct {
	TypeMeta
	Nodes []InspectNode `json:"nodes"`
	// Errors are nodes that could not be read (their debug pod did not
	// start, the dump failed); the other nodes are still reported.
	Errors []NodeError `json:"errors,omitempty"`
}

// InspectNode is what one node's host network namespace holds.
type InspectNode struct {
	Name string `json:"name"`
	// RulesSource says whose binaries read the rules: "chroot /host" or
	// "nsenter -t 1 -m -n" (the host's own, so the iptables backend and
	// version match the host), "image" (the debug image's), or a mix
	// such as "chroot /host, image" when some tools were missing on the host.
	RulesSource string `json:"rulesSource"`
	// Sources maps each dump (iptables-nft, ip6tables-legacy, nft, ...) to
	// where its tool came from, or "missing"/"skipped".
	Sources   map[string]string `json:"sources,omitempty"`
	Netfilter *Rules            `json:"netfilter"`
	// KubeIPVS0 reports the kube-ipvs0 dummy device (kube-proxy ipvs mode).
	KubeIPVS0 bool `json:"kubeIPVS0"`
	// KubeProxyMode is kube-proxy's answer on 127.0.0.1:10249/proxyMode
	// ("iptables", "ipvs", "nftables"), "none" when nothing answers, and
	// "unknown" when the probe could not run.
	KubeProxyMode string `json:"kubeProxyMode"`
	// KubeProxyPod is the kube-proxy pod the API server places on the node.
	KubeProxyPod string `json:"kubeProxyPod,omitempty"`
	// CiliumAgent is the Cilium agent pod on the node; CiliumKPR what
	// cilium-config (or the agent) says about kube-proxy replacement:
	// "full", "partial", "none" or "" when unknown.
	CiliumAgent string `json:"ciliumAgent,omitempty"`
	CiliumKPR   string `json:"ciliumKPR,omitempty"`
	// CiliumKPRFrom says where CiliumKPR comes from: "agent" (its status)
	// or "cilium-config".
	CiliumKPRFrom string `json:"ciliumKPRFrom,omitempty"`
	// StaleServiceChains are kube-proxy per-Service chains whose Service no
	// longer exists.
	StaleServiceChains []StaleChain `json:"staleServiceChains,omitempty"`
	Findings           []Finding    `json:"findings"`
	Errors             []string     `json:"errors"`
	// Raw holds the dumps as read (only with --raw).
	Raw map[string]string `json:"raw,omitempty"`
}

// StaleChain is a kube-proxy chain of a Service that no longer exists.
type StaleChain struct {
	Chain string `json:"chain"`
	// ServicePort is the Service the chain was made for, when the rule
	// comments or the nftables chain name say it ("" otherwise).
	ServicePort string `json:"servicePort,omitempty"`
}

// Finding is one thing worth an operator's attention, with a stable code.
type Finding struct {
	Code string `json:"code"`
	// Severity is "warning" or "info".
	Severity string `json:"severity"`
	Message  string `json:"message"`
}

// Finding severities.
const (
	SeverityWarning = "warning"
	SeverityInfo    = "info"
)
