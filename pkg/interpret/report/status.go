package report

import "github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"

// Status is `kubectl kpr status -o json`.
type Status struct {
	TypeMeta
	Cilium    CiliumInstall    `json:"cilium"`
	KubeProxy KubeProxyInstall `json:"kubeProxy"`
	Nodes     []NodeStatus     `json:"nodes"`
	// Warnings that concern the cluster rather than one node.
	Warnings []verdict.Warning `json:"warnings"`
}

// CiliumInstall is what the API server says about Cilium.
type CiliumInstall struct {
	Found bool `json:"found"`
	// SearchedIn says where kpr looked when nothing was found.
	SearchedIn string `json:"searchedIn,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	// Version is the agents' version (from the image tag or agent output).
	Version   string           `json:"version,omitempty"`
	DaemonSet *DaemonSetStatus `json:"daemonSet"`
	// Config holds the cilium-config keys that decide service handling.
	Config map[string]string `json:"config"`
}

// DaemonSetStatus summarises a DaemonSet.
type DaemonSetStatus struct {
	Name         string            `json:"name"`
	Namespace    string            `json:"namespace"`
	Desired      int32             `json:"desired"`
	Ready        int32             `json:"ready"`
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	Image        string            `json:"image,omitempty"`
}

// KubeProxyInstall is what the API server says about kube-proxy.
type KubeProxyInstall struct {
	Found bool `json:"found"`
	// Mode as configured: "iptables" (also when unset), "ipvs", "nftables".
	Mode      string           `json:"mode,omitempty"`
	ModeFrom  string           `json:"modeFrom,omitempty"`
	DaemonSet *DaemonSetStatus `json:"daemonSet"`
	// Pods counts kube-proxy pods, static ones included.
	Pods int `json:"pods"`
	// PodsByMode counts the pods by the mode each runs in, when they do
	// not all run in Mode (a second kube-proxy DaemonSet with its own
	// --proxy-mode or ConfigMap on some nodes).
	PodsByMode map[string]int `json:"podsByMode,omitempty"`
}

// NodeStatus is one row of `status`.
type NodeStatus struct {
	Name          string    `json:"name"`
	InternalIP    string    `json:"internalIP"`
	KernelVersion string    `json:"kernelVersion"`
	OSImage       string    `json:"osImage"`
	OS            string    `json:"os,omitempty"`
	Ready         bool      `json:"ready"`
	Taints        []string  `json:"taints"`
	CiliumAgent   *AgentRef `json:"ciliumAgent"`
	// KubeProxyReplacement is the agent's KPR section, nil without agent output.
	KubeProxyReplacement *KPR    `json:"kubeProxyReplacement"`
	CNIChaining          string  `json:"cniChaining,omitempty"`
	AgentVersion         string  `json:"agentVersion,omitempty"`
	KubeProxyPod         *string `json:"kubeProxyPod"`
	// KubeProxyMode is the mode of the kube-proxy pod on this node.
	KubeProxyMode string             `json:"kubeProxyMode,omitempty"`
	ServicesBy    verdict.ServicesBy `json:"servicesBy"`
	// NodeConfig is the node's per-node Cilium configuration (nodes with
	// a Cilium agent, or in the documented KPR rollout).
	NodeConfig *NodeConfig       `json:"nodeConfig,omitempty"`
	Warnings   []verdict.Warning `json:"warnings"`
	Errors     []string          `json:"errors"`
}

// AgentRef identifies a node's Cilium agent pod.
type AgentRef struct {
	Pod       string `json:"pod"`
	Namespace string `json:"namespace"`
	Ready     bool   `json:"ready"`
	// Source says how the status was read: "cilium-dbg status -o json",
	// "cilium status -o json", "cilium-dbg status" (text) ...
	Source string `json:"source,omitempty"`
}
