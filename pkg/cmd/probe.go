package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/debugpod"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/probe"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
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
(--remote N of them), and its LoadBalancer ingress and external IPs.

Each probe is a TCP connect (default) or an HTTP GET (--http) with a
per-probe timeout; outcomes are ok (with latency), refused, timeout,
unreachable, reset or error. SERVICE is NAME (in -n's namespace) or NAMESPACE/NAME.
Without SERVICE, every NodePort Service of the namespace is probed.`,
		Example: `  kubectl kpr probe nm-nginx -n kube-system --from node-cilium --from node-bare
  kubectl kpr probe -n kube-system --all-nodes --http
  kubectl kpr probe my-svc --from node-1 --remote 3 -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Service = args[0]
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := c.Flags()
	f.StringSliceVar(&o.From, "from", nil, "Probe from these nodes (repeatable or comma-separated)")
	f.BoolVar(&o.AllNodes, "all-nodes", false, "Probe from every node")
	f.IntVar(&o.Remote, "remote", o.Remote, "Also probe NodePorts on this many other nodes' InternalIPs")
	o.ProbeFlags.AddFlags(f)
	f.StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml")
	o.Pods.AddFlags(f)
	registerOutputCompletion(c, "json", "yaml")
	return c
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

func (o *ProbeOptions) run(parent context.Context, cs kubernetes.Interface, ex collect.Executor) error {
	ctx, stop := interruptible(parent)
	defer stop()
	ns, _, err := o.root.Namespace()
	if err != nil {
		return err
	}
	svcs, err := probeServices(ctx, cs, ns, o.Service)
	if err != nil {
		return err
	}
	from, all, err := chooseNodes(ctx, cs, o.From, o.AllNodes, "--from NODE")
	if err != nil {
		return err
	}
	m := o.Pods.Manager(cs, ex)
	prog := o.Pods.nodeProgress(o.root, m, "probe", len(from))
	rep := runProbes(ctx, m, from, all, svcs, o.Remote, o.Pods.Concurrency, o.ProbeFlags.Options())
	prog.End()
	if err := finishPods(ctx, o.root, m); err != nil {
		return err
	}
	if o.format.IsStructured() {
		if err := render.Structured(o.root.Streams.Out, o.format, rep); err != nil {
			return err
		}
	} else {
		p, _ := o.root.Palette()
		if len(rep.Errors) < len(from) {
			if err := render.Probe(o.root.Streams.Out, rep, nodeNames(from), p); err != nil {
				return err
			}
		}
		printNodeErrors(o.root.Streams.ErrOut, rep.Errors)
	}
	return partialFailure(rep.Errors, len(from), o.format.IsStructured())
}

// probeServices returns the named Service, or every NodePort (and
// LoadBalancer) Service of the namespace.
func probeServices(ctx context.Context, cs kubernetes.Interface, ns, name string) ([]corev1.Service, error) {
	if name != "" {
		name = strings.TrimPrefix(strings.TrimPrefix(name, "service/"), "svc/")
		// NAMESPACE/NAME overrides -n.
		if n, rest, ok := strings.Cut(name, "/"); ok && n != "" && rest != "" {
			ns, name = n, rest
		}
		s, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			msg := fmt.Sprintf("Service %q not found in namespace %s", name, ns)
			if list, lerr := listServices(ctx, cs, ns); lerr == nil {
				var names []string
				for _, s := range list {
					names = append(names, s.Name)
				}
				if c := collect.Closest(name, names, 3); len(c) > 0 {
					msg += "; did you mean " + strings.Join(c, ", ") + "?"
				}
			}
			return nil, fmt.Errorf("%s (use -n to pick the namespace)", msg)
		}
		if err != nil {
			return nil, fmt.Errorf("reading Service %s/%s: %w", ns, name, err)
		}
		return []corev1.Service{*s}, nil
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
	if len(out) == 0 {
		return nil, fmt.Errorf("no NodePort Services in namespace %s: name a SERVICE, or pick the namespace with -n", ns)
	}
	return out, nil
}

func hasNodePort(s corev1.Service) bool {
	for _, p := range s.Spec.Ports {
		if p.NodePort != 0 {
			return true
		}
	}
	return false
}

func probeNodes(ns []collect.NodeInfo) []probe.Node {
	out := make([]probe.Node, 0, len(ns))
	for _, n := range ns {
		pn := probe.Node{Name: n.Name}
		if n.InternalIP != "" {
			pn.InternalIPs = []string{n.InternalIP}
		}
		out = append(out, pn)
	}
	return out
}

// runProbes probes from each node of `from` through its debug pod.
func runProbes(ctx context.Context, m *debugpod.Manager, from, all []collect.NodeInfo, svcs []corev1.Service, remote, concurrency int, po probe.Options) *report.Probe {
	rep := &report.Probe{Mode: "tcp", Results: []report.ProbeResult{}}
	if po.HTTP {
		rep.Mode = "http"
	}
	everyNode := probeNodes(all)
	plans := make([][]probe.Target, len(from))
	for i, n := range probeNodes(from) {
		var skipped []string
		plans[i], skipped = probe.Plan(n, everyNode, svcs, remote)
		if i == 0 {
			rep.Skipped = skipped
		}
	}
	results := make([][]probe.Result, len(from))
	errs := m.ForNodes(ctx, nodeNames(from), concurrency, func(ctx context.Context, i int, p *debugpod.Pod) error {
		rs, err := probe.Run(ctx, p, plans[i], po)
		results[i] = rs
		return err
	})
	for i, n := range from {
		if errs[i] != nil {
			rep.Errors = append(rep.Errors, nodeError(n.Name, errs[i]))
			continue
		}
		for _, r := range results[i] {
			rep.Results = append(rep.Results, probeResult(n.Name, r))
		}
	}
	return rep
}

func probeResult(from string, r probe.Result) report.ProbeResult {
	return report.ProbeResult{
		From: from, Target: r.Address(), Kind: string(r.Kind), Service: r.Service + ":" + r.Port, Via: r.Via,
		Outcome: r.Outcome, LatencyMs: r.LatencyMs, HTTPStatus: r.HTTPStatus, Detail: r.Detail,
	}
}
