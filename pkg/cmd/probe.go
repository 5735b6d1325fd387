package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/probe"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/nodecheck"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/render"
)

// ProbeOptions are `kubectl kpr probe`'s flags.
type ProbeOptions struct {
	root *RootOptions
	Pods *DebugPodFlags

	Service  string
	From     []string
	AllNodes bool
	Remote   int
	// HostPorts also probes the namespace's pods' hostPorts.
	HostPorts bool
	// NoServedBy: one exec per node, as before servedBy.
	NoServedBy bool
	ProbeFlags
	Output string

	format render.Format
}

func newProbeCmd(root *RootOptions) *cobra.Command {
	o := &ProbeOptions{root: root, Pods: newDebugPodFlags(), Remote: 1, ProbeFlags: defaultProbeFlags()}
	c := &cobra.Command{
		Use:   "probe [SERVICE] (--from NODE... | --all-nodes)",
		Short: "Probe a Service's ClusterIP, NodePorts, LoadBalancer and external IPs from nodes' host network",
		Long: `probe runs a debug pod on each chosen node and, from the node's host network
namespace, connects to the Service's ClusterIP:port, its NodePort on the
node's own InternalIP, on 127.0.0.1 and on 0.0.0.0, on other nodes' IPs
(--remote N of them), on the node's other addresses, and its LoadBalancer
ingress and external IPs; a ClientIP-affinity Service is asked 10 times
(which backends answered), and --host-ports adds the namespace's pods'
hostPorts. Every answer says who served it (servedBy: Cilium's socket-LB
or BPF, kube-proxy from its rule counters, portmap), read from the node's
rules and its Cilium agent.

Each probe is a TCP connect (default) or an HTTP GET (--http) with a
per-probe timeout; outcomes are ok (with latency), refused, timeout,
unreachable, reset or error. SERVICE is NAME (in -n's namespace) or NAMESPACE/NAME.
Without SERVICE, every NodePort Service of the namespace is probed.`,
		Example: `  kubectl kpr probe nm-nginx -n kube-system --from node-cilium --from node-bare
  kubectl kpr probe -n kube-system --all-nodes --http
  kubectl kpr probe my-svc --from node-1 --remote 3 -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: runCommand(o),
	}
	f := c.Flags()
	f.StringSliceVar(&o.From, "from", nil, "Probe from these nodes (repeatable or comma-separated)")
	f.BoolVar(&o.AllNodes, "all-nodes", false, "Probe from every node")
	f.IntVar(&o.Remote, "remote", o.Remote, "Also probe NodePorts on this many other nodes' InternalIPs")
	f.BoolVar(&o.NoServedBy, "no-served-by", false, "Do not read the nodes' rules and agents to say who served each probe (one exec per node instead of up to three)")
	f.BoolVar(&o.HostPorts, "host-ports", false, "Also probe the hostPorts of the namespace's Running pods, on their node's IP, from every chosen node")
	o.ProbeFlags.AddFlags(f)
	f.StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml")
	o.Pods.AddFlags(f)
	registerOutputCompletion(c, "json", "yaml")
	return c
}

// Complete records the Service.
func (o *ProbeOptions) Complete(_ *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.Service = args[0]
	}
	return nil
}

// Validate checks flag values.
func (o *ProbeOptions) Validate() error {
	f, err := render.ParseFormat(o.Output, render.FormatTable, render.FormatJSON, render.FormatYAML)
	if err != nil {
		return err
	}
	o.format = f
	if o.Remote < 0 {
		return fmt.Errorf("--remote must be 0 or more, got %d", o.Remote)
	}
	return validateNodeChecks(o.root, &o.ProbeFlags, o.Pods)
}

// Run probes and prints the matrix.
func (o *ProbeOptions) Run(ctx context.Context) error {
	cs, ex, err := o.root.ClusterAccess()
	if err != nil {
		return err
	}
	return o.run(ctx, cs, ex)
}

func (o *ProbeOptions) run(ctx context.Context, cs kubernetes.Interface, ex collect.Executor) error {
	ns, _, err := o.root.Namespace()
	if err != nil {
		return err
	}
	svcs, err := collect.ProbeServices(ctx, cs, ns, o.Service)
	if err != nil && !(o.HostPorts && o.Service == "" && errors.Is(err, collect.ErrNoNodePortServices)) {
		return err
	}
	from, all, err := collect.ChooseNodes(ctx, cs, o.From, o.AllNodes, "--from NODE")
	if err != nil {
		return err
	}
	runner := o.Pods.Runner(cs, ex)
	prog := o.Pods.nodeProgress(o.root, runner.Pods, "probe", len(from))
	var status map[string]*report.NodeStatus
	if !o.NoServedBy {
		status, err = nodecheck.ProbeStatus(ctx, cs, ex, from, all, o.Remote, o.Pods.Timeout)
		if err != nil {
			fmt.Fprintf(o.root.Streams.ErrOut, "note: the agents were not read (%v): servedBy rests on the nodes' rules\n", err)
		}
	}
	var hostPorts []probe.Target
	if o.HostPorts {
		pods, err := collect.HostPortPods(ctx, cs, ns)
		if err != nil {
			return err
		}
		ips := map[string]string{}
		for _, n := range all {
			ips[n.Name] = n.InternalIP
		}
		hostPorts = probe.HostPortTargets(pods, ips)
	}
	rep := nodecheck.Probe(ctx, runner, from, all, svcs, nodecheck.ProbeSettings{Remote: o.Remote, Probe: o.ProbeFlags.Options(), Status: status, HostPorts: hostPorts, NoServedBy: o.NoServedBy})
	prog.End()
	if err := finishPods(ctx, o.root, runner); err != nil {
		return err
	}
	if o.format.IsStructured() {
		if err := render.Structured(o.root.Streams.Out, o.format, rep); err != nil {
			return err
		}
	} else {
		p, _ := o.root.Palette()
		if len(rep.Errors) < len(from) {
			if err := render.Probe(o.root.Streams.Out, rep, collect.NodeNames(from), p); err != nil {
				return err
			}
		}
		printNodeErrors(o.root.Streams.ErrOut, rep.Errors)
	}
	return partialFailure(rep.Errors, len(from), o.format.IsStructured())
}
