// Package verdict decides, for one node, who implements Kubernetes Services
// there, and which sources of evidence disagree. It is pure logic over plain
// facts gathered elsewhere (API objects, agent output, node rules).
package verdict

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/textutil"
)

// ServicesBy is the per-node verdict.
type ServicesBy string

const (
	Cilium             ServicesBy = "cilium"
	KubeProxyIPTables  ServicesBy = "kube-proxy-iptables"
	KubeProxyIPVS      ServicesBy = "kube-proxy-ipvs"
	KubeProxyNFTables  ServicesBy = "kube-proxy-nftables"
	Both               ServicesBy = "both"
	Partial            ServicesBy = "partial"
	None               ServicesBy = "none"
	Unknown            ServicesBy = "unknown"
	replacementFull               = "full"
	replacementPartial            = "partial"
)

// KubeProxy returns the verdict for kube-proxy in the given mode
// ("" means iptables, kube-proxy's default on Linux).
func KubeProxy(mode string) ServicesBy {
	switch strings.ToLower(mode) {
	case "ipvs":
		return KubeProxyIPVS
	case "nftables":
		return KubeProxyNFTables
	default:
		return KubeProxyIPTables
	}
}

// Evidence is everything known about one node.
type Evidence struct {
	Node          string
	KernelVersion string
	Windows       bool

	// HasAgent: a Cilium agent pod is scheduled on the node.
	HasAgent bool
	// AgentReady: that pod's Ready condition.
	AgentReady bool
	// AgentRead: its status output was read and parsed.
	AgentRead bool
	// Replacement is cilium.Replacement of the agent's mode: "full",
	// "partial", "none"; "" when the status has no KPR section.
	Replacement string
	// Mode is the KPR mode as the agent printed it.
	Mode string
	// AgentVersion is the agent's version, used for kernel requirements.
	AgentVersion string

	// ConfigKPR is the kube-proxy-replacement value the node's agent is
	// configured with ("" if unset): cilium-config's, or the node's
	// effective one (CiliumNodeConfigs, node keys), from ConfigKPROrigin
	// ("" means cilium-config).
	ConfigKPR       string
	ConfigKPROrigin string

	// KubeProxy: a kube-proxy pod runs on the node; KubeProxyMode its mode.
	KubeProxy     bool
	KubeProxyMode string
}

// Warning is a disagreement between sources, with a stable code.
type Warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Warning codes; stable, for scripts.
const (
	CodeConfigSaysKPRAgentDisabled = "config-kpr-agent-disabled"
	CodeAgentReadyKPRFalse         = "agent-kpr-false"
	CodeKubeProxyWithKPR           = "kube-proxy-and-cilium-kpr"
	CodeKernelTooOldForKPR         = "kernel-too-old-for-kpr"
	CodeNoServiceDatapath          = "no-service-datapath"
	CodeAgentNotReady              = "agent-not-ready"
)

// Decide returns who implements Services on the node.
func Decide(e Evidence) ServicesBy {
	if e.Windows {
		return Unknown
	}
	if e.HasAgent && !e.AgentRead {
		// kube-proxy alone would be a guess: the agent may still run KPR.
		return Unknown
	}
	switch {
	case e.HasAgent && e.Replacement == replacementFull:
		if e.KubeProxy {
			return Both
		}
		return Cilium
	case e.HasAgent && e.Replacement == replacementPartial:
		return Partial
	case e.KubeProxy:
		return KubeProxy(e.KubeProxyMode)
	default:
		return None
	}
}

// Disagreements lists the disagreements between the node's sources.
func Disagreements(e Evidence) []Warning {
	var ws []Warning
	add := func(code, format string, a ...any) {
		ws = append(ws, Warning{Code: code, Message: fmt.Sprintf(format, a...)})
	}
	if e.Windows {
		return nil
	}
	configFull := isFullMode(e.ConfigKPR)
	if e.HasAgent && e.AgentRead {
		if configFull && e.Replacement != replacementFull && e.Replacement != "" {
			add(CodeConfigSaysKPRAgentDisabled, "%s sets kube-proxy-replacement=%q but the agent reports %q: the agent runs without KPR (restart it, check its logs and kernel)", orDefault(e.ConfigKPROrigin, "cilium-config"), e.ConfigKPR, e.Mode)
		}
		if e.AgentReady && e.Replacement != replacementFull && e.Replacement != replacementPartial && !configFull {
			add(CodeAgentReadyKPRFalse, "Cilium agent is ready but KubeProxyReplacement is %q: Services depend on kube-proxy here", orUnset(e.Mode))
		}
		if e.Replacement == replacementFull && e.KubeProxy {
			add(CodeKubeProxyWithKPR, "kube-proxy (%s) runs on a node where Cilium reports full KPR: both program Services; remove kube-proxy from this node or disable KPR", orDefault(e.KubeProxyMode, "iptables"))
		}
	}
	if e.HasAgent && !e.AgentReady {
		add(CodeAgentNotReady, "Cilium agent pod is not Ready")
	}
	if !e.HasAgent && !e.KubeProxy {
		add(CodeNoServiceDatapath, "no Cilium agent and no kube-proxy: nothing implements ClusterIP or NodePort Services on this node")
	}
	if !e.HasAgent && e.KernelVersion != "" {
		if min := MinKPRKernel(e.AgentVersion); KernelOlderThan(e.KernelVersion, min) && !isRHEL8Backport(e.KernelVersion) {
			add(CodeKernelTooOldForKPR, "kernel %s is older than %s, the minimum for Cilium's kube-proxy replacement: Cilium KPR cannot be rolled out to this node as it is", e.KernelVersion, min)
		}
	}
	return ws
}

func isFullMode(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "strict":
		return true
	}
	return false
}

func orUnset(s string) string { return orDefault(s, "unset") }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

var versionRE = regexp.MustCompile(`(\d+)\.(\d+)(?:\.(\d+))?`)

// MinKPRKernel is the minimum kernel for Cilium's kube-proxy replacement by
// agent version. Cilium 1.14's requirement was 4.19.57 (cilium/cilium#24258
// cites it); the current system requirements page says 5.4 (or 4.18 on
// RHEL 8.6, which backports what Cilium needs: see kernelOK). We draw the
// line at 1.16; unknown versions get the newer bound.
func MinKPRKernel(ciliumVersion string) string {
	if textutil.VersionBefore(ciliumVersion, 1, 16) {
		return "4.19.57"
	}
	return "5.4"
}

// KernelOlderThan compares the leading x.y.z of a kernel version string
// ("5.15.0-91-generic", "4.18.0-513.el8.x86_64") with min. Unparsable
// versions are never "older": no warning beats a wrong one.
func KernelOlderThan(kernel, min string) bool {
	k := versionRE.FindStringSubmatch(kernel)
	m := versionRE.FindStringSubmatch(min)
	if k == nil || m == nil {
		return false
	}
	for i := 1; i <= 3; i++ {
		a, _ := strconv.Atoi(k[i])
		b, _ := strconv.Atoi(m[i])
		if a != b {
			return a < b
		}
	}
	return false
}

// isRHEL8Backport: RHEL 8.6+ kernels report 4.18 but carry the eBPF
// features of 5.x, and Cilium documents them as supported.
func isRHEL8Backport(kernel string) bool {
	return strings.HasPrefix(kernel, "4.18.") && strings.Contains(kernel, ".el8")
}
