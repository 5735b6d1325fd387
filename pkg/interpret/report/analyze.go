package report

import "github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"

// Analyze is `kubectl kpr analyze -o json`.
type Analyze struct {
	TypeMeta
	Inputs []AnalyzeInput `json:"inputs"`
	// Agents holds one verdict per Cilium agent whose status was read
	// (each agent of a sysdump; a paste that holds a status is one agent).
	Agents []AnalyzeAgent `json:"agents,omitzero"`
	// NodeConfig says whether per-node Cilium configuration could be
	// resolved from a sysdump's cluster objects (nil: no sysdump read).
	NodeConfig *AnalyzeNodeConfig `json:"nodeConfig,omitempty"`
	// Nodes are the nodes of the sysdump's node list that no agent of the
	// sysdump runs on, with their per-node configuration.
	Nodes []AnalyzeNode `json:"nodes,omitempty"`
}

// AnalyzeNodeConfig is how analyze resolved per-node configuration
// offline, as the agent's `config` init container (build-config) does,
// from the cluster objects a cilium sysdump holds.
type AnalyzeNodeConfig struct {
	// Resolved: the node list and the CiliumNodeConfig list were both
	// read, so every node's configuration was resolved.
	Resolved bool `json:"resolved"`
	// Files are the sysdump files read for it.
	Files []string `json:"files"`
	// Missing names the sysdump files (by cilium-cli's name pattern) that
	// were not found or could not be read, each with what that costs.
	Missing []string `json:"missing,omitempty"`
	// Note says in a sentence what could not be resolved, and why.
	Note string `json:"note,omitempty"`
}

// AnalyzeNode is a node of the sysdump's node list without an agent in
// the sysdump.
type AnalyzeNode struct {
	Name       string            `json:"name"`
	NodeConfig *NodeConfig       `json:"nodeConfig,omitempty"`
	Warnings   []verdict.Warning `json:"warnings"`
}

// AnalyzeInput is one output read from a file, a directory, an archive
// entry or stdin. Only the sections that apply to Kind are set.
type AnalyzeInput struct {
	// Source names where the output came from: a path, "-" for stdin,
	// "archive.zip!dir/file.md" for an archive entry.
	Source string `json:"source"`
	// Kind is "cilium-status", "cilium-service-list", "iptables-save",
	// "nft-ruleset", "ipvsadm" or "unknown".
	Kind string `json:"kind"`
	// Reason says why the kind is unknown or the output could not be read.
	Reason string `json:"reason,omitempty"`
	// Agent is the Cilium agent pod a sysdump entry belongs to.
	Agent string `json:"agent,omitempty"`
	// Lines is "first-last" when the output is a part of a longer paste.
	Lines string `json:"lines,omitempty"`
	// Command is the command line pasted above the output.
	Command string `json:"command,omitempty"`
	// Fragment: the output is a part cut from a longer one (a grep of
	// iptables-save, service list rows without their header): what it
	// counts are lower bounds, and absence proves nothing.
	Fragment bool `json:"fragment,omitempty"`
	// Superseded counts earlier listings of this kind in the same source
	// that this one replaced (the last listing wins).
	Superseded int `json:"superseded,omitempty"`

	CiliumStatus *AnalyzeCiliumStatus `json:"ciliumStatus,omitempty"`
	// Services is set (possibly empty) for cilium-service-list.
	Services  []AgentService `json:"services,omitzero"`
	Netfilter *Rules         `json:"netfilter,omitempty"`
	// ServicesBy is what this output alone says about the node:
	// a status gives the agent's side, rules give kube-proxy's.
	ServicesBy verdict.ServicesBy `json:"servicesBy,omitempty"`
}

// AnalyzeCiliumStatus is the part of `cilium status` that decides
// Service handling.
type AnalyzeCiliumStatus struct {
	Version              string `json:"version"`
	KubeProxyReplacement *KPR   `json:"kubeProxyReplacement"`
	CNIChaining          string `json:"cniChaining"`
	CiliumState          string `json:"ciliumState,omitempty"`
	KubernetesState      string `json:"kubernetesState,omitempty"`
	// Format is "json" or "text".
	Format string `json:"format,omitempty"`
}

// AnalyzeAgent is the verdict for one agent, combining its status with
// the rules dumped on its node.
type AnalyzeAgent struct {
	Name         string               `json:"name"`
	Source       string               `json:"source"`
	ServicesBy   verdict.ServicesBy   `json:"servicesBy"`
	CiliumStatus *AnalyzeCiliumStatus `json:"ciliumStatus"`
	// Frontends counts the agent's service list entries (-1: not read).
	Frontends int `json:"frontends"`
	// KubeProxyRules: kube-proxy's rules are on the node. A dump cannot
	// tell whether a kube-proxy still syncs them or they are stale.
	KubeProxyRules bool              `json:"kubeProxyRules"`
	KubeProxyModes []string          `json:"kubeProxyModes"`
	Netfilter      *Rules            `json:"netfilter"`
	Warnings       []verdict.Warning `json:"warnings"`
	// Inputs are the files the verdict was built from.
	Inputs []string `json:"inputs"`
	// Node is the agent pod's node, from the sysdump's pod list.
	Node string `json:"node,omitempty"`
	// NodeConfig is the node's per-node Cilium configuration, resolved
	// from the sysdump's cluster objects (computed, never read from the
	// agent).
	NodeConfig *NodeConfig `json:"nodeConfig,omitempty"`
}
