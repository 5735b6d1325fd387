package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/nodecheck"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/render"
)

// InspectOptions are `kubectl kpr inspect`'s flags.
type InspectOptions struct {
	root *RootOptions
	Pods *DebugPodFlags

	Nodes    []string
	AllNodes bool
	Raw      bool
	Output   string

	format render.Format
}

func newInspectCmd(root *RootOptions) *cobra.Command {
	o := &InspectOptions{root: root, Pods: newDebugPodFlags()}
	c := &cobra.Command{
		Use:   "inspect (NODE... | --all-nodes)",
		Short: "Read each node's iptables, nftables and IPVS rules through a debug pod and explain them",
		Long: `inspect runs a short-lived privileged host-network pod on each node (like
"kubectl debug node/NAME --profile=sysadmin"), reads the node's rules with
the host's own binaries (chroot /host, else nsenter into PID 1, else the
image's tools) and deletes the pod again, also on Ctrl-C.

For every node it shows kube-proxy's iptables chains (KUBE-SERVICES,
KUBE-SVC-*, KUBE-SVL-*, KUBE-NODEPORTS, KUBE-SEP-*) in both backends and
both families, kube-proxy's nftables tables, IPVS, Cilium's chains, other
replacements' markers (Contiv, Calico, Antrea, kube-router), kube-proxy's
answer on 127.0.0.1:10249/proxyMode, and findings:

  stale-kube-proxy-rules     kube-proxy rules that nothing syncs any more
  kube-proxy-and-cilium-kpr  kube-proxy runs next to Cilium's full KPR
  no-service-datapath        nothing implements Services on the node`,
		Example: `  kubectl kpr inspect node-1
  kubectl kpr inspect --all-nodes -o wide
  kubectl kpr inspect node-1 --raw
  kubectl kpr inspect node-1 -o json | jq '.nodes[].findings'
  kubectl kpr inspect node-1 --image registry.local/netshoot:v0.13 --debug-namespace kpr`,
		RunE: runCommand(o),
	}
	f := c.Flags()
	f.BoolVar(&o.AllNodes, "all-nodes", false, "Inspect every node")
	f.BoolVar(&o.Raw, "raw", false, "Also print the raw dumps (iptables-save, nft, ipvsadm, ...)")
	f.StringVarP(&o.Output, "output", "o", "", "Output format: wide, json or yaml")
	o.Pods.AddFlags(f)
	registerOutputCompletion(c, "wide", "json", "yaml")
	return c
}

// Complete records the nodes.
func (o *InspectOptions) Complete(_ *cobra.Command, args []string) error {
	o.Nodes = args
	return nil
}

// Validate checks flag values.
func (o *InspectOptions) Validate() error {
	f, err := render.ParseFormat(o.Output, render.FormatTable, render.FormatWide, render.FormatJSON, render.FormatYAML)
	if err != nil {
		return err
	}
	o.format = f
	if err := o.Pods.Validate(); err != nil {
		return err
	}
	_, err = o.root.Palette()
	return err
}

// Run inspects the nodes and prints the report.
func (o *InspectOptions) Run(ctx context.Context) error {
	cs, ex, err := o.root.ClusterAccess()
	if err != nil {
		return err
	}
	return o.run(ctx, cs, ex)
}

func (o *InspectOptions) run(ctx context.Context, cs kubernetes.Interface, ex collect.Executor) error {
	nodes, _, err := collect.ChooseNodes(ctx, cs, o.Nodes, o.AllNodes, "kubectl kpr inspect NODE...")
	if err != nil {
		return err
	}
	facts := collect.ReadClusterFacts(ctx, cs)
	for _, w := range facts.Warnings {
		fmt.Fprintf(o.root.Streams.ErrOut, "warning: %s\n", w)
	}
	runner := o.Pods.Runner(cs, ex)
	prog := o.Pods.nodeProgress(o.root, runner.Pods, "inspect", len(nodes))
	rep := nodecheck.Inspect(ctx, runner, collect.NodeNames(nodes), facts, o.Raw)
	prog.End()
	if err := finishPods(ctx, o.root, runner); err != nil {
		return err
	}
	// A table without rows says nothing when every node failed.
	if len(rep.Nodes) > 0 || o.format.IsStructured() {
		if err := o.print(rep); err != nil {
			return err
		}
	}
	if !o.format.IsStructured() {
		printNodeErrors(o.root.Streams.ErrOut, rep.Errors)
	}
	return partialFailure(rep.Errors, len(nodes), o.format.IsStructured())
}

func (o *InspectOptions) print(rep *report.Inspect) error {
	if o.format.IsStructured() {
		return render.Structured(o.root.Streams.Out, o.format, rep)
	}
	p, _ := o.root.Palette()
	return render.Inspect(o.root.Streams.Out, rep, p, render.InspectOptions{Wide: o.format == render.FormatWide, Raw: o.Raw})
}
