package collect

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/netfilter"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/nodeconfig"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/textutil"
)

// PerNode is what status and verify need to give each node its per-node
// Cilium configuration (CiliumNodeConfigs, config.cilium.io node keys) and
// its four warnings: the inputs build-config reads, and kube-proxy's side
// of the documented rollout.
type PerNode struct {
	Inputs    NodeConfigInputs
	KubeProxy *KubeProxyInfo
	// Warnings are about the inputs (a forbidden list, a valueFrom kpr
	// does not follow).
	Warnings []string
}

// ReadPerNode reads the per-node configuration inputs. ci and kp are
// FindCilium's and FindKubeProxy's results. A nil dynamic client (a
// caller that cannot read CRDs) gives inputs without CiliumNodeConfigs,
// and a warning that says so.
func ReadPerNode(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, ci *CiliumInfo, kp *KubeProxyInfo) (*PerNode, error) {
	if dyn == nil {
		return &PerNode{KubeProxy: kp, Inputs: NodeConfigInputs{Namespace: ci.Install.Namespace},
			Warnings: []string{"CiliumNodeConfigs not read (no dynamic client): per-node configuration is cilium-config's"}}, nil
	}
	in, warnings, err := ReadNodeConfigInputsFor(ctx, cs, dyn, ci, "")
	if err != nil {
		return nil, err
	}
	return &PerNode{Inputs: in, KubeProxy: kp, Warnings: warnings}, nil
}

// Involves reports whether per-node objects can change this node's
// configuration (a CiliumNodeConfig in the agent's namespace, or a
// config.cilium.io key on the node), or the node takes part in the
// documented rollout: only then is the agent asked for its config dir and
// the node's rules, so a cluster without per-node configuration costs no
// extra exec.
func (p *PerNode) Involves(n NodeInfo) bool {
	if p == nil {
		return false
	}
	if len(p.Inputs.CNCs) > 0 || nodeconfig.MigrationLabelled(n.Config.Labels[nodeconfig.MigrationLabel]) {
		return true
	}
	for _, m := range []map[string]string{n.Config.Labels, n.Config.Annotations} {
		for k := range m {
			if strings.HasPrefix(k, nodeconfig.ConfigPrefix) {
				return true
			}
		}
	}
	return p.KubeProxy.Excludes(n.Config.Labels) == nodeconfig.Yes && nodeconfig.HasRolloutAffinity(p.KubeProxy.Affinity)
}

// InRollout reports whether the node may be in the documented rollout,
// so that its KUBE-* rules are worth reading.
func (p *PerNode) InRollout(n NodeInfo) bool {
	if p == nil {
		return false
	}
	_, selects := nodeconfig.RolloutCNCs(p.Inputs.CNCs, n.Config)
	return selects || nodeconfig.MigrationLabelled(n.Config.Labels[nodeconfig.MigrationLabel]) ||
		(p.KubeProxy.Excludes(n.Config.Labels) == nodeconfig.Yes && nodeconfig.HasRolloutAffinity(p.KubeProxy.Affinity))
}

// ConfigDir is the agent's --config-dir on the node ("" when its
// DaemonSet has none, or no DaemonSet was found).
func (p *PerNode) ConfigDir(node string) string {
	if ds := p.Inputs.DaemonSetFor(node); ds != nil {
		return ds.Setup.ConfigDir
	}
	return ""
}

// AgentConfig is what the agent container shows of its configuration.
type AgentConfig struct {
	// Running is the agent's config dir (nil when not read); Note says
	// why it was not read.
	Running map[string]string
	Note    string
	// KubeRules: the node's kube-proxy KUBE-* iptables rules, read with
	// iptables-save in the agent container (host network); Unknown when
	// not read.
	KubeRules nodeconfig.Tri
}

// ReadAgentConfig execs into the node's agent container: its config dir
// (dir), and when rules is set `iptables-save -t nat` (the agent image
// ships iptables; its container is in the host's network namespace). Only
// iptables is read: kube-proxy's nftables table needs `nft`, which not
// every agent image has, so a node left with nftables rules is judged by
// `inspect`/`verify` only.
func ReadAgentConfig(ctx context.Context, ex Executor, a AgentPod, dir string, rules bool) AgentConfig {
	var out AgentConfig
	if dir == "" {
		out.Note = "the agent has no --config-dir"
	} else {
		res, err := ex.Exec(ctx, a.Namespace, a.Name, a.Container, nodeconfig.ConfigDirCommand(dir))
		switch {
		case err != nil:
			// The API server wraps the runtime's error twice ("Internal
			// error occurred: Internal error occurred: ..."): once is enough.
			msg := ExplainExecError(err, a.Namespace, a.Name).Error()
			for strings.Contains(msg, "Internal error occurred: Internal error occurred: ") {
				msg = strings.Replace(msg, "Internal error occurred: Internal error occurred: ", "Internal error occurred: ", 1)
			}
			out.Note = "reading " + dir + " in the agent container: " + msg
		case len(bytes.TrimSpace(res.Stdout)) == 0:
			out.Note = fmt.Sprintf("reading %s in the agent container gave nothing (exit %d: %s)", dir, res.ExitCode, textutil.FirstLine(strings.TrimSpace(string(res.Stderr))))
		default:
			out.Running = nodeconfig.ParseConfigDir(string(res.Stdout), dir)
		}
	}
	if rules {
		res, err := ex.Exec(ctx, a.Namespace, a.Name, a.Container, []string{"iptables-save", "-t", "nat"})
		if err == nil && res.ExitCode == 0 {
			if s, perr := netfilter.ParseIPTablesSave(bytes.NewReader(res.Stdout)); perr == nil {
				out.KubeRules = nodeconfig.TriOf(len(s.KubeServiceChains) > 0 || len(s.KubeProxyChains) > 0)
			}
		}
	}
	return out
}

// Judge gives one node's per-node configuration view. agent is the node's
// agent (nil: none), agentKPR and release what it reports, cfg what its
// container showed, kubeProxyPod whether a kube-proxy pod runs there.
func (p *PerNode) Judge(n NodeInfo, agent *AgentPod, agentKPR, release string, cfg AgentConfig, kubeProxyPod bool) (nodeconfig.View, string) {
	eff := ResolveNode(p.Inputs, n.Config, release)
	f := nodeconfig.NodeFacts{
		Node: n.Config, Effective: eff, CNCs: p.Inputs.CNCs,
		Running: cfg.Running, RunningNote: cfg.Note,
		AgentKPR: agentKPR, Release: release,
		KubeProxyDaemonSet: p.KubeProxy.daemonSetTri(), KubeProxyExcluded: p.KubeProxy.Excludes(n.Config.Labels),
		KubeProxyPod: nodeconfig.TriOf(kubeProxyPod), KubeRules: cfg.KubeRules,
	}
	if p.KubeProxy != nil {
		f.KubeProxyHealthz = p.KubeProxy.HealthzBind
	}
	dsRef := ""
	if ds := p.Inputs.DaemonSetFor(n.Name); ds != nil {
		f.DaemonSet, f.Setup, f.HasSetup, dsRef = ds.Ref(), ds.Setup, true, ds.Ref()
		if f.Release == "" {
			f.Release = ds.Release
		}
	}
	if agent != nil {
		f.HasAgent, f.ConfigBuiltAt, f.ConfigBuiltBy = true, agent.ConfigBuiltAt, agent.ConfigBuiltBy
	}
	return nodeconfig.Judge(f), dsRef
}

func (k *KubeProxyInfo) daemonSetTri() nodeconfig.Tri {
	if k == nil {
		return nodeconfig.Unknown
	}
	return k.DaemonSet
}
