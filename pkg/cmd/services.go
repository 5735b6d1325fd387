package cmd

import (
	"context"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/render"
)

// ServicesOptions are `kubectl kpr services`'s flags.
type ServicesOptions struct {
	root *RootOptions

	AllNamespaces bool
	AgentFlags
	Output   string
	ExitCode bool

	namespace string
	format    render.Format
}

func newServicesCmd(root *RootOptions) *cobra.Command {
	o := &ServicesOptions{root: root, AgentFlags: defaultAgentFlags()}
	c := &cobra.Command{
		Use:   "services",
		Short: "Compare each Cilium agent's service table with the cluster's Services and EndpointSlices",
		Long: `services execs "cilium-dbg service list" in the Cilium agents (falling back to
"cilium service list", then to text) and compares it, node by node, with
what the cluster's Services and EndpointSlices say Cilium should have there:

  - frontends: every ClusterIP; NodePorts on the 0.0.0.0 / :: surrogate
    and, for agents up to Cilium 1.17, on the node's InternalIP(s) (1.18+
    agents list NodePorts only as 0.0.0.0 / ::); LoadBalancer ingress IPs;
    externalIPs (headless and ExternalName Services have none);
  - backends: the ready endpoints (only the node's own for
    externalTrafficPolicy=Local on NodePort/LoadBalancer/externalIPs and for
    internalTrafficPolicy=Local on ClusterIPs); terminating endpoints may
    linger as "terminating".

Problems: missing-frontend, stale-frontend (no Service explains it),
unexpected-frontend (the Service exists but does not define it), wrong-type,
missing-backend, extra-backend, backend-not-active. Cilium-internal
frontends (HostPort, LocalRedirect, load-balancer health checks) are
"unmanaged", not problems.

Like kubectl, it looks at the current namespace unless given -n or -A.
The exit code is 0 when the check ran, whatever it found; --exit-code
makes it 1 when there are problems or unreadable agents.`,
		Example: `  kubectl kpr services -A
  kubectl kpr services -n demo --node worker-1 -o wide
  kubectl kpr services -A -o json | jq '.nodes[].problems[]'
  kubectl kpr services -A --exit-code >/dev/null || echo "Cilium and the cluster disagree"`,
		Args: cobra.NoArgs,
		RunE: runCommand(o),
	}
	f := c.Flags()
	f.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Check Services in all namespaces (stale frontends are only reported for namespaces in scope)")
	o.AgentFlags.AddFlags(f)
	f.StringVarP(&o.Output, "output", "o", "", "Output format: wide, json or yaml")
	f.BoolVar(&o.ExitCode, "exit-code", false, "Exit 1 when any node has problems or its agent could not be read")
	registerOutputCompletion(c, "wide", "json", "yaml")
	return c
}

// Complete resolves the namespace: -A, else -n, else the context's.
func (o *ServicesOptions) Complete(*cobra.Command, []string) error {
	if o.AllNamespaces {
		o.namespace = ""
		return nil
	}
	ns, _, err := o.root.Namespace()
	if err != nil {
		return kubeconfigError(err)
	}
	o.namespace = ns
	return nil
}

// Validate checks flag values.
func (o *ServicesOptions) Validate() error {
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

// Run collects, reconciles and prints.
func (o *ServicesOptions) Run(ctx context.Context) error {
	cs, ex, err := o.root.ClusterAccess()
	if err != nil {
		return err
	}
	return o.run(ctx, cs, ex)
}

// run is Run with the cluster access injected (fake clientset and executor
// in unit tests).
func (o *ServicesOptions) run(ctx context.Context, cs kubernetes.Interface, ex collect.Executor) error {
	prog := o.root.progress(o.Quiet)
	prog.Start("services", "reading the Cilium agents' service tables")
	rep, err := collect.CollectServices(ctx, cs, ex, collect.ServicesOptions{
		Namespace:       o.namespace,
		CiliumNamespace: o.CiliumNamespace,
		Concurrency:     o.Concurrency,
		Timeout:         o.Timeout,
		Nodes:           o.Nodes,
		Progress:        prog.Count,
	})
	prog.End()
	if err != nil {
		return err
	}
	if err := o.print(rep); err != nil {
		return err
	}
	if o.ExitCode && (rep.Summary.Problems > 0 || rep.Summary.NodesFailed > 0) {
		return &ExitError{Code: 1}
	}
	return nil
}

func (o *ServicesOptions) print(rep *report.Services) error {
	if o.format == render.FormatJSON {
		return render.ServicesJSON(o.root.Streams.Out, rep)
	}
	if o.format.IsStructured() {
		return render.Structured(o.root.Streams.Out, o.format, rep)
	}
	p, _ := o.root.Palette()
	return render.Services(o.root.Streams.Out, rep, p, o.format == render.FormatWide)
}
