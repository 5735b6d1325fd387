package collect

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/cilium"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/textutil"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

// StatusOptions configure CollectStatus.
type StatusOptions struct {
	// CiliumNamespace restricts the agent search to one namespace.
	CiliumNamespace string
	// Concurrency bounds parallel execs (default 16).
	Concurrency int
	// Timeout bounds each exec, and the agent phase as a whole, so that
	// stuck agents cannot stretch a run past it.
	Timeout time.Duration
	// Progress, when set, hears of every node done (done of total,
	// failed of them).
	Progress func(done, total, failed int)
	// Nodes, when set, restricts the report to these nodes.
	Nodes []string
	// Dynamic reads CiliumNodeConfigs (per-node configuration); nil
	// leaves them out, with a warning.
	Dynamic dynamic.Interface
}

// AgentStatus is the outcome of reading one agent's status.
type AgentStatus struct {
	Status *cilium.Status
	// Source is the command whose output was parsed.
	Source string
	Err    error
}

// binaryProbe remembers which agent binary answered, so that on a
// homogeneous cluster every other node gets it right on the first exec.
type binaryProbe struct {
	mu      sync.Mutex
	missing map[string]bool
}

func (b *binaryProbe) knownMissing(bin string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.missing[bin]
}

func (b *binaryProbe) markMissing(bin string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.missing == nil {
		b.missing = map[string]bool{}
	}
	b.missing[bin] = true
}

// ReadAgentStatus execs `status` into one agent, with fallbacks from
// cilium-dbg to cilium and from JSON to text.
func ReadAgentStatus(ctx context.Context, ex Executor, a AgentPod, preferOld bool, probe *binaryProbe) AgentStatus {
	st, source, err := runAgentCommand(ctx, ex, a, preferOld, probe, []string{"status"}, func(res ExecResult) (*cilium.Status, error) {
		return cilium.ParseStatus(res.Stdout)
	})
	return AgentStatus{Status: st, Source: source, Err: err}
}

// CollectStatus builds the `status` report: API objects first (a fixed
// number of LIST/GET calls), then one status exec per agent, in parallel.
func CollectStatus(ctx context.Context, client kubernetes.Interface, ex Executor, opts StatusOptions) (*report.Status, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	// The three discoveries are independent: run them at once, so that a
	// busy API server costs the slowest of them before the first exec, not
	// the sum of eight round trips in a row.
	var (
		wg                     sync.WaitGroup
		nodes                  []NodeInfo
		ci                     *CiliumInfo
		kp                     *KubeProxyInfo
		nodesErr, ciErr, kpErr error
	)
	wg.Add(3)
	go func() { defer wg.Done(); nodes, nodesErr = ListNodes(ctx, client) }()
	go func() { defer wg.Done(); ci, ciErr = FindCilium(ctx, client, opts.CiliumNamespace) }()
	go func() { defer wg.Done(); kp, kpErr = FindKubeProxy(ctx, client) }()
	wg.Wait()
	for _, err := range []error{nodesErr, ciErr, kpErr} {
		if err != nil {
			return nil, err
		}
	}
	if len(opts.Nodes) > 0 {
		var err error
		nodes, err = SelectNodes(nodes, opts.Nodes)
		if err != nil {
			return nil, err
		}
	}

	perNode, err := ReadPerNode(ctx, client, opts.Dynamic, ci, kp)
	if err != nil {
		return nil, err
	}

	rep := &report.Status{Cilium: ci.Install, KubeProxy: kp.Install, Nodes: make([]report.NodeStatus, len(nodes))}
	preferOld := preferCiliumBinary(ci.Install.Version)
	probe := &binaryProbe{}

	// One deadline for the whole agent phase: a stuck agent ends as a row
	// that says so, never as a run that hangs.
	phaseCtx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	statuses := make([]AgentStatus, len(nodes))
	configs := make([]AgentConfig, len(nodes))
	count := NewDoneCounter(len(nodes), opts.Progress)
	ForEachBounded(phaseCtx, len(nodes), opts.Concurrency, slowExecThreshold(opts.Timeout), func(ctx context.Context, i int) {
		a := ci.AgentByNode[nodes[i].Name]
		if a == nil || isWindows(nodes[i]) {
			count.Done(false)
			return
		}
		statuses[i] = ReadAgentStatus(ctx, ex, *a, preferOld, probe)
		if perNode.Involves(nodes[i]) {
			configs[i] = ReadAgentConfig(ctx, ex, *a, perNode.ConfigDir(nodes[i].Name), perNode.InRollout(nodes[i]))
		} else {
			configs[i].Note = "no per-node configuration applies to the node, so its agent was not asked"
		}
		count.Done(statuses[i].Err != nil)
	})

	for i, n := range nodes {
		row := report.NodeStatus{
			Name: n.Name, InternalIP: n.InternalIP, KernelVersion: n.KernelVersion, OSImage: n.OSImage, OS: n.OS,
			Ready: n.Ready, Taints: n.Taints, Errors: []string{}, Warnings: []verdict.Warning{},
		}
		if row.Taints == nil {
			row.Taints = []string{}
		}
		ev := verdict.Evidence{Node: n.Name, KernelVersion: n.KernelVersion, Windows: isWindows(n), ConfigKPR: ci.Install.Config["kube-proxy-replacement"], AgentVersion: ci.Install.Version}
		if pod, ok := kp.PodByNode[n.Name]; ok {
			p := pod
			row.KubeProxyPod = &p
			row.KubeProxyMode = kp.ModeByNode[n.Name]
			ev.KubeProxy, ev.KubeProxyMode = true, kp.ModeByNode[n.Name]
		}
		if a := ci.AgentByNode[n.Name]; a != nil {
			row.CiliumAgent = &report.AgentRef{Pod: a.Name, Namespace: a.Namespace, Ready: a.Ready}
			ev.HasAgent, ev.AgentReady = true, a.Ready
			st := statuses[i]
			row.CiliumAgent.Source = st.Source
			if st.Err != nil {
				row.Errors = append(row.Errors, "cilium agent "+a.Namespace+"/"+a.Name+": "+st.Err.Error())
			}
			if st.Status != nil {
				ev.AgentRead = true
				row.KubeProxyReplacement = report.KPRFrom(st.Status.KubeProxyReplacement)
				row.CNIChaining = st.Status.CNIChaining
				row.AgentVersion = st.Status.Version
				if st.Status.Version != "" {
					ev.AgentVersion = st.Status.Version
				}
				if k := st.Status.KubeProxyReplacement; k != nil {
					ev.Mode, ev.Replacement = k.Mode, k.ReplacesKubeProxy
				}
			}
		}
		if ev.Windows {
			row.Errors = append(row.Errors, "Windows node: skipped (kpr inspects Linux datapaths only)")
		}
		if a := ci.AgentByNode[n.Name]; (a != nil || perNode.InRollout(n)) && !ev.Windows {
			release := ""
			if st := statuses[i].Status; st != nil {
				release = st.Version
			}
			view, ds := perNode.Judge(n, a, ev.Mode, release, configs[i], row.KubeProxyPod != nil)
			row.NodeConfig = report.NodeConfigFrom(ds, view)
			if view.KPR != "" || view.KPROrigin != "" {
				ev.ConfigKPR, ev.ConfigKPROrigin = view.KPR, view.KPROrigin
			}
			row.Warnings = append(row.Warnings, report.NodeConfigWarnings(view)...)
		}
		row.ServicesBy = verdict.Decide(ev)
		row.Warnings = append(row.Warnings, verdict.Disagreements(ev)...)
		rep.Nodes[i] = row
	}
	rep.Warnings = clusterWarnings(rep)
	for _, w := range perNode.Warnings {
		rep.Warnings = append(rep.Warnings, verdict.Warning{Code: "node-config-incomplete", Message: w})
	}
	return rep, nil
}

// slowExecThreshold is when an exec is presumed stuck and gives its
// concurrency slot back (it keeps running until the deadline).
func slowExecThreshold(timeout time.Duration) time.Duration {
	t := timeout / 4
	if t < 2*time.Second {
		t = 2 * time.Second
	}
	return t
}

// preferCiliumBinary: agents before 1.15 have no cilium-dbg.
func preferCiliumBinary(version string) bool {
	maj, min, ok := textutil.MajorMinor(version)
	return ok && maj == 1 && min < 15
}

func isWindows(n NodeInfo) bool { return strings.EqualFold(n.OS, "windows") }

func clusterWarnings(rep *report.Status) []verdict.Warning {
	ws := []verdict.Warning{}
	if !rep.Cilium.Found {
		ws = append(ws, verdict.Warning{Code: "cilium-not-found", Message: "no Cilium agent found (looked at " + rep.Cilium.SearchedIn + "); use --cilium-namespace if it runs elsewhere"})
	}
	if ds := rep.Cilium.DaemonSet; ds != nil && ds.Ready < ds.Desired {
		ws = append(ws, verdict.Warning{Code: "cilium-daemonset-not-ready", Message: fmt.Sprintf("DaemonSet %s/%s: %d of %d agents ready", ds.Namespace, ds.Name, ds.Ready, ds.Desired)})
	}
	return ws
}

// SelectNodes keeps the named nodes, or fails naming the closest matches
// for each unknown name.
func SelectNodes(nodes []NodeInfo, names []string) ([]NodeInfo, error) {
	byName := make(map[string]NodeInfo, len(nodes))
	all := make([]string, 0, len(nodes))
	for _, n := range nodes {
		byName[n.Name] = n
		all = append(all, n.Name)
	}
	var out []NodeInfo
	var unknown []string
	for _, name := range names {
		n, ok := byName[name]
		if !ok {
			unknown = append(unknown, fmt.Sprintf("node %q not found", name)+textutil.DidYouMean(name, all))
			continue
		}
		out = append(out, n)
	}
	if len(unknown) > 0 {
		return nil, errors.New(strings.Join(unknown, "; "))
	}
	return out, nil
}
