package cmd

import (
	"context"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/render"
)

// StatusOptions are `kubectl kpr status`'s flags.
type StatusOptions struct {
	root *RootOptions

	AgentFlags
	Output string

	format render.Format
}

func newStatusCmd(root *RootOptions) *cobra.Command {
	o := &StatusOptions{root: root, AgentFlags: defaultAgentFlags()}
	c := &cobra.Command{
		Use:   "status",
		Short: "Show, for every node, who implements Services: Cilium KPR, kube-proxy, both or nobody",
		Long: `status reads nodes, the Cilium agents (DaemonSet, cilium-config, and each
agent's own "cilium-dbg status") and kube-proxy (DaemonSet, ConfigMap, pods),
and gives every node a verdict:

  cilium               the agent reports full KPR and no kube-proxy runs there
  kube-proxy-iptables  kube-proxy in iptables mode (also -ipvs, -nftables)
  both                 kube-proxy and full Cilium KPR on one node: a conflict
  partial              Cilium KPR Partial or Probe
  none                 no agent and no kube-proxy: nothing serves ClusterIPs
  unknown              the agent could not be read (the row says why)`,
		Example: `  kubectl kpr status
  kubectl kpr status -o wide
  kubectl kpr status -o json | jq '.nodes[] | {name, servicesBy}'
  kubectl kpr status --cilium-namespace cilium --timeout 10s`,
		Args: cobra.NoArgs,
		RunE: runCommand(o),
	}
	f := c.Flags()
	o.AgentFlags.AddFlags(f)
	f.StringVarP(&o.Output, "output", "o", "", "Output format: wide, json or yaml")
	registerOutputCompletion(c, "wide", "json", "yaml")
	return c
}

// Complete has nothing to fill in: status takes no arguments.
func (o *StatusOptions) Complete(*cobra.Command, []string) error { return nil }

// Validate checks flag values.
func (o *StatusOptions) Validate() error {
	f, err := render.ParseFormat(o.Output, render.FormatTable, render.FormatWide, render.FormatJSON, render.FormatYAML)
	if err != nil {
		return err
	}
	o.format = f
	if err := o.AgentFlags.Validate(); err != nil {
		return err
	}
	_, err = o.root.Palette()
	return err
}

// Run collects and prints the report.
func (o *StatusOptions) Run(ctx context.Context) error {
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

// run is Run with the cluster access injected (fake clientset and executor
// in unit tests).
func (o *StatusOptions) run(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, ex collect.Executor) error {
	prog := o.root.progress(o.Quiet)
	prog.Start("status", "reading the Cilium agents")
	rep, err := collect.CollectStatus(ctx, cs, ex, collect.StatusOptions{
		CiliumNamespace: o.CiliumNamespace,
		Concurrency:     o.Concurrency,
		Timeout:         o.Timeout,
		Nodes:           o.Nodes,
		Progress:        prog.Count,
		Dynamic:         dyn,
	})
	prog.End()
	if err != nil {
		return err
	}
	return o.print(rep)
}

func (o *StatusOptions) print(rep *report.Status) error {
	if o.format.IsStructured() {
		return render.Structured(o.root.Streams.Out, o.format, rep)
	}
	p, _ := o.root.Palette()
	return render.Status(o.root.Streams.Out, rep, p, o.format == render.FormatWide)
}
