package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/nodecheck"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/render"
)

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
		RunE: runCommand(o),
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

// Complete records the two nodes.
func (o *DiffOptions) Complete(_ *cobra.Command, args []string) error {
	o.A, o.B = args[0], args[1]
	return nil
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
	dyn, err := o.root.Dynamic()
	if err != nil {
		return err
	}
	return o.run(ctx, cs, dyn, ex)
}

func (o *DiffOptions) run(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, ex collect.Executor) error {
	nodes, _, err := collect.ChooseNodes(ctx, cs, []string{o.A, o.B}, false, "NODE-A NODE-B")
	if err != nil {
		return err
	}
	// -n matters only when no Service is named.
	var ns string
	var explicit bool
	if len(o.Services) == 0 && !o.NoProbe {
		if ns, explicit, err = o.root.Namespace(); err != nil {
			return err
		}
	}
	runner := o.Pods.Runner(cs, ex)
	runner.Concurrency = 2
	prog := o.Pods.nodeProgress(o.root, runner.Pods, "diff", len(nodes))
	d, err := nodecheck.Diff(ctx, cs, ex, runner, [2]collect.NodeInfo{nodes[0], nodes[1]}, nodecheck.DiffOptions{
		Services: o.Services, Namespace: ns, NamespaceExplicit: explicit, NoProbe: o.NoProbe,
		Probe: o.ProbeFlags.Options(), StatusTimeout: o.Pods.Timeout, Dynamic: dyn,
		Warn: func(kind, msg string) { prog.End(); fmt.Fprintf(o.root.Streams.ErrOut, "%s: %s\n", kind, msg) },
	})
	prog.End()
	if ferr := finishPods(ctx, o.root, runner); ferr != nil {
		return ferr
	}
	if err != nil {
		return err
	}
	if o.format.IsStructured() {
		if err := render.Structured(o.root.Streams.Out, o.format, d); err != nil {
			return err
		}
	} else {
		p, _ := o.root.Palette()
		if err := render.Diff(o.root.Streams.Out, d, p); err != nil {
			return err
		}
		printNodeErrors(o.root.Streams.ErrOut, d.Errors)
	}
	if len(d.Errors) > 0 {
		return partialFailure(d.Errors, 2, o.format.IsStructured())
	}
	if o.ExitCode && d.Differs {
		return &ExitError{Code: 1}
	}
	return nil
}
