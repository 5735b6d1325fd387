package cmd

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/debugpod"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/probe"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/findings"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/render"
)

// maxDiffServices bounds the Services diff probes when none are named.
const maxDiffServices = 10

// DiffOptions are `kubectl kpr diff`'s flags.
type DiffOptions struct {
	root *RootOptions
	Pods *DebugPodFlags

	A, B     string
	ExitCode bool
	NoProbe  bool
	Services []string
	ProbeFlags
	Output string

	format render.Format
}

func newDiffCmd(root *RootOptions) *cobra.Command {
	o := &DiffOptions{root: root, Pods: newDebugPodFlags(), ProbeFlags: defaultProbeFlags()}
	c := &cobra.Command{
		Use:   "diff NODE-A NODE-B",
		Short: "Compare two nodes' Service handling side by side: status, rules and probes",
		Long: `diff puts two nodes side by side: what status says (agent, KPR mode,
devices, kube-proxy), what inspect reads from their rules (kube-proxy
modes, rule counts, findings) and what probes from each node's host network
answer (the same Services' ClusterIP, NodePort on the node's own IP, on
127.0.0.1, on 0.0.0.0 and on the other node's IP). A one-line verdict per
node comes first; differing rows are marked with "*".

Probed Services: those named with --service, else the NodePort Services of
the namespace given with -n, else up to 10 NodePort Services of the whole
cluster. --no-probe creates only the two inspect pods' work (no probes).`,
		Example: `  kubectl kpr diff node-cilium node-bare
  kubectl kpr diff node-a node-b --exit-code && echo same
  kubectl kpr diff node-a node-b --service kube-system/nm-nginx --http
  kubectl kpr diff node-a node-b -o json | jq '.rows[] | select(.differs)'`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.A, o.B = args[0], args[1]
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := c.Flags()
	f.BoolVar(&o.ExitCode, "exit-code", false, "Exit with status 1 when the nodes differ in anything that decides Service handling")
	f.BoolVar(&o.NoProbe, "no-probe", false, "Do not probe; compare status and rules only")
	f.StringSliceVar(&o.Services, "service", nil, "Probe these Services (NAMESPACE/NAME, repeatable)")
	o.ProbeFlags.AddFlags(f)
	f.StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml")
	o.Pods.AddFlags(f)
	registerOutputCompletion(c, "json", "yaml")
	return c
}

// Validate checks flag values.
func (o *DiffOptions) Validate() error {
	f, err := render.ParseFormat(o.Output, render.FormatTable, render.FormatJSON, render.FormatYAML)
	if err != nil {
		return err
	}
	o.format = f
	if o.A == o.B {
		return fmt.Errorf("diff needs two different nodes, got %q twice", o.A)
	}
	if err := validateServiceRefs(o.Services); err != nil {
		return err
	}
	return validateNodeChecks(o.root, &o.ProbeFlags, o.Pods)
}

// Run compares the nodes and prints the result.
func (o *DiffOptions) Run(ctx context.Context) error {
	cs, ex, err := o.root.ClusterAccess()
	if err != nil {
		return err
	}
	return o.run(ctx, cs, ex)
}

func (o *DiffOptions) run(parent context.Context, cs kubernetes.Interface, ex collect.Executor) error {
	ctx, stop := interruptible(parent)
	defer stop()
	nodes, _, err := chooseNodes(ctx, cs, []string{o.A, o.B}, false, "NODE-A NODE-B")
	if err != nil {
		return err
	}
	warn := func(format string, a ...any) { fmt.Fprintf(o.root.Streams.ErrOut, "warning: "+format+"\n", a...) }

	statusByNode := map[string]*report.NodeStatus{}
	kpr := map[string]string{}
	// --timeout bounds the agent execs too: a hanging agent must not hold
	// diff longer than the user allowed.
	st, err := collect.CollectStatus(ctx, cs, ex, collect.StatusOptions{Nodes: []string{o.A, o.B}, Timeout: o.Pods.Timeout})
	if err != nil {
		warn("status facts not read: %v", err)
	} else {
		for i := range st.Nodes {
			n := &st.Nodes[i]
			statusByNode[n.Name] = n
			for _, e := range n.Errors {
				// Why a node's status facts are "unknown".
				warn("%s: %s", n.Name, e)
			}
			if n.KubeProxyReplacement != nil {
				kpr[n.Name] = n.KubeProxyReplacement.ReplacesKubeProxy
			}
		}
	}
	facts := readClusterFacts(ctx, cs)
	for _, w := range facts.warnings {
		warn("%s", w)
	}
	var svcs []corev1.Service
	if !o.NoProbe {
		svcs, err = o.diffServices(ctx, cs)
		if err != nil {
			return err
		}
		if len(svcs) == 0 {
			warn("no NodePort Services found to probe; comparing status and rules only")
		}
	}

	m := o.Pods.Manager(cs, ex)
	names := nodeNames(nodes)
	dumps := make([]*debugpod.Dump, 2)
	probes := make([][]probe.Result, 2)
	probed := make([]bool, 2)
	po := o.ProbeFlags.Options()
	prog := o.Pods.nodeProgress(o.root, m, "diff", len(names))

	errs := m.ForNodes(ctx, names, 2, func(ctx context.Context, i int, p *debugpod.Pod) error {
		d, err := debugpod.ReadHost(ctx, p)
		if err != nil {
			return err
		}
		dumps[i] = &d
		if len(svcs) == 0 {
			return nil
		}
		// Each node probes the same Services, and the other node's NodePort.
		other := probeNodes(nodes[1-i : 2-i])
		targets, _ := probe.Plan(probeNodes(nodes[i : i+1])[0], other, svcs, 1)
		rs, err := probe.Run(ctx, p, targets, po)
		if err != nil {
			return fmt.Errorf("probes: %w", err)
		}
		probes[i], probed[i] = rs, true
		return nil
	})
	prog.End()
	if err := finishPods(ctx, o.root, m); err != nil {
		return err
	}
	facts2 := make([]findings.NodeFacts, 2)
	var nodeErrs []report.NodeError
	for i, name := range names {
		nf := findings.NodeFacts{Name: name, Status: statusByNode[name], Probed: probed[i]}
		if dumps[i] != nil {
			level, from := facts.ciliumKPR, kprFromConfig
			if v := kpr[name]; v != "" {
				level, from = v, kprFromAgent
			}
			in := inspectNode(name, *dumps[i], facts, level, from, false)
			nf.Inspect = &in
		}
		for _, r := range probes[i] {
			nf.Probes = append(nf.Probes, probeResult(name, r))
		}
		if errs[i] != nil {
			nodeErrs = append(nodeErrs, nodeError(name, errs[i]))
		}
		facts2[i] = nf
	}
	d := findings.Compare(facts2[0], facts2[1])
	d.Errors = nodeErrs
	if o.format.IsStructured() {
		if err := render.Structured(o.root.Streams.Out, o.format, d); err != nil {
			return err
		}
	} else {
		p, _ := o.root.Palette()
		if err := render.Diff(o.root.Streams.Out, d, p); err != nil {
			return err
		}
		printNodeErrors(o.root.Streams.ErrOut, nodeErrs)
	}
	if len(nodeErrs) > 0 {
		return partialFailure(nodeErrs, 2, o.format.IsStructured())
	}
	if o.ExitCode && d.Differs {
		return &ExitError{Code: 1}
	}
	return nil
}

// diffServices picks the Services to probe: --service, else -n's NodePort
// Services, else the cluster's first maxDiffServices NodePort Services.
func (o *DiffOptions) diffServices(ctx context.Context, cs kubernetes.Interface) ([]corev1.Service, error) {
	if len(o.Services) > 0 {
		var out []corev1.Service
		for _, s := range o.Services {
			ns, name, _ := strings.Cut(s, "/")
			got, err := probeServices(ctx, cs, ns, name)
			if err != nil {
				return nil, err
			}
			out = append(out, got...)
		}
		return out, nil
	}
	ns, explicit, err := o.root.Namespace()
	if err != nil {
		return nil, err
	}
	if !explicit {
		ns = metav1.NamespaceAll
	}
	list, err := listServices(ctx, cs, ns)
	if err != nil {
		return nil, err
	}
	var out []corev1.Service
	for _, s := range list {
		if hasNodePort(s) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	if len(out) > maxDiffServices {
		fmt.Fprintf(o.root.Streams.ErrOut, "note: probing the first %d of %d NodePort Services; pick others with --service or -n\n", maxDiffServices, len(out))
		out = out[:maxDiffServices]
	}
	return out, nil
}
