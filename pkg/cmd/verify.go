package cmd

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/backends"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/render"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/verify"
)

// Exit codes of verify.
const (
	verifyExitFail   = 1
	verifyExitCannot = 2
)

// VerifyOptions are `kubectl kpr verify`'s flags.
type VerifyOptions struct {
	root *RootOptions
	Pods *DebugPodFlags
	ProbeFlags

	Services        []string
	DeployBackends  bool
	BackendImage    string
	HostPort        int32
	NoExternalIPs   bool
	Sample          int
	AllNodes        bool
	Nodes           []string
	Seed            int64
	Strict          bool
	JUnit           string
	Reports         []string
	Output          string
	DryRun          bool
	Quiet           bool
	CiliumNamespace string
	Settle          time.Duration

	format      render.Format
	seedSet     bool
	commandLine string
}

func newVerifyCmd(root *RootOptions) *cobra.Command {
	o := &VerifyOptions{root: root, Pods: newDebugPodFlags(), ProbeFlags: defaultProbeFlags(), Sample: 2, BackendImage: backends.DefaultImage, HostPort: backends.DefaultHostPort, Settle: 15 * time.Second}
	c := &cobra.Command{
		Use:   "verify (--service NS/NAME... | --deploy-backends) [--sample N | --all-nodes | --node NODE...]",
		Short: "Run the whole KPR acceptance test: classify nodes, reconcile agents, read rules and probe from every class",
		Long: `verify is the KPR acceptance test in one command, ending in a verdict and
reports:

 1. status on every node, grouped into classes by servicesBy (cilium,
    kube-proxy-*, both, partial, none, unknown);
 2. the services reconciliation on the chosen nodes' Cilium agents;
 3. from the chosen nodes (--sample N per class, default 2, reproducible
    with --seed; or --all-nodes; or --node): their rules (inspect) and
    probes of every target's ClusterIP and NodePort on the node's IP,
    127.0.0.1 and 0.0.0.0, and of its NodePort on one node of every class;
 4. the Service behaviour checks: hostport, nodeport-every-address,
    etp-local (externalTrafficPolicy Local), session-affinity (ClientIP)
    and externalip, each probe with servedBy: which datapath translated
    it (kube-proxy's rule counters are read around the probe where both
    kube-proxy and Cilium are on the path).

Targets are the Services named with --service (each gets the behaviour
checks that apply to it), and with --deploy-backends kpr's own on one node
of each class (namespace kpr-verify-<random>: two backend pods, a
hostPort pod, NodePort Services with externalTrafficPolicy Cluster and
Local, a ClientIP-affinity Service and an externalIP Service per class,
deleted at the end, also on Ctrl-C; "kubectl kpr cleanup" removes a killed
run's). The hostPort pod needs the namespace's Pod Security level
"privileged" (--host-port 0 leaves it out); clusters that forbid
externalIPs skip that check with a note.

Every check expects what the node's class implies: a cilium node must
answer everything and hold no KUBE-SVC rules; a kube-proxy node must have
kube-proxy's rules; on a node without Service datapath ("none") the
ClusterIP hangs and NodePorts are refused: a warning, a failure with
--strict. Checks end in pass, fail, warn or skip with a reason, evidence
and the command that repeats them by hand.

Exit status: 0 every check passed (warnings allowed), 1 a check failed,
2 verify could not run (no cluster, a missing permission: it says which).`,
		Example: `  kubectl kpr verify --deploy-backends
  kubectl kpr verify --service kube-system/nm-nginx --all-nodes
  kubectl kpr verify --deploy-backends --junit kpr.xml --report kpr.html --report kpr.md
  kubectl kpr verify --deploy-backends --strict -o json | jq '.checks[] | select(.result=="fail")'
  kubectl kpr verify --deploy-backends --dry-run`,
		Args: cobra.NoArgs,
		RunE: runCommand(o),
	}
	f := c.Flags()
	f.StringSliceVar(&o.Services, "service", nil, "Probe these Services (NAMESPACE/NAME, repeatable)")
	f.BoolVar(&o.DeployBackends, "deploy-backends", false, "Deploy a test backend and NodePort Service on one node of each class (deleted at the end)")
	f.StringVar(&o.BackendImage, "backend-image", o.BackendImage, "Image of the deployed backends (an HTTP server on :8080 started with `netexec --http-port=8080`, as agnhost)")
	f.Int32Var(&o.HostPort, "host-port", o.HostPort, "Host port of the deployed hostPort pod (0: no hostport check); keep it outside the NodePort range")
	f.BoolVar(&o.NoExternalIPs, "no-external-ips", false, "Do not deploy the externalIP Services (for clusters whose policy forbids externalIPs)")
	f.IntVar(&o.Sample, "sample", o.Sample, "Check from this many nodes of each class (chosen reproducibly, see --seed)")
	f.BoolVar(&o.AllNodes, "all-nodes", false, "Check from every node")
	f.StringSliceVar(&o.Nodes, "node", nil, "Check from these nodes only (repeatable or comma-separated)")
	f.Int64Var(&o.Seed, "seed", 0, "Seed of the --sample choice (default: random, printed; pass it to pick the same nodes again)")
	f.BoolVar(&o.Strict, "strict", false, "Fail, not warn, on nodes without Service datapath")
	f.StringVar(&o.JUnit, "junit", "", "Write JUnit XML to this file (one testsuite per node class)")
	f.StringArrayVar(&o.Reports, "report", nil, "Write a report for people: FILE.md or FILE.html (repeatable)")
	f.StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml")
	f.BoolVar(&o.DryRun, "dry-run", false, "Print what would be created and probed; create nothing")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "No phase lines or progress on stderr")
	f.StringVar(&o.CiliumNamespace, "cilium-namespace", "", "Namespace of the Cilium agents (default: found by label k8s-app=cilium in all namespaces)")
	f.DurationVar(&o.Settle, "settle", o.Settle, "How long probes and agent tables that disagree with their expectation are retried while datapaths catch up")
	o.ProbeFlags.AddFlags(f)
	o.Pods.AddFlags(f)
	registerOutputCompletion(c, "json", "yaml")
	return c
}

// commandLine is the invocation as a user would retype it.
func commandLine(cmd *cobra.Command) string {
	parts := []string{"kubectl kpr " + cmd.Name()}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				parts = append(parts, "--"+f.Name+"="+v)
			}
			return
		}
		if f.Value.Type() == "bool" {
			parts = append(parts, "--"+f.Name)
			return
		}
		parts = append(parts, "--"+f.Name+"="+f.Value.String())
	})
	return strings.Join(parts, " ")
}

// Complete records whether --seed was given, and the command line for
// the reports.
func (o *VerifyOptions) Complete(cmd *cobra.Command, _ []string) error {
	o.seedSet = cmd.Flags().Changed("seed")
	o.commandLine = commandLine(cmd)
	return nil
}

// Validate checks flag values; a bad one is verify's exit 2, as every
// other reason it cannot run.
func (o *VerifyOptions) Validate() error {
	if err := o.validate(); err != nil {
		return &ExitError{Code: verifyExitCannot, Err: err}
	}
	return nil
}

func (o *VerifyOptions) validate() error {
	f, err := render.ParseFormat(o.Output, render.FormatTable, render.FormatJSON, render.FormatYAML)
	if err != nil {
		return err
	}
	o.format = f
	if len(o.Services) == 0 && !o.DeployBackends {
		return errors.New("verify needs targets: name Services with --service NAMESPACE/NAME, or pass --deploy-backends to let kpr deploy its own")
	}
	if err := validateServiceRefs(o.Services); err != nil {
		return err
	}
	if o.AllNodes && len(o.Nodes) > 0 {
		return errors.New("give --all-nodes or --node, not both")
	}
	if o.Sample < 1 {
		return fmt.Errorf("--sample must be at least 1, got %d", o.Sample)
	}
	if o.Settle < 0 {
		return fmt.Errorf("--settle must not be negative, got %s", o.Settle)
	}
	if o.HostPort < 0 || o.HostPort > 65535 {
		return fmt.Errorf("--host-port must be 0 (no hostport check) or a port number, got %d", o.HostPort)
	}
	if o.DeployBackends && strings.TrimSpace(o.BackendImage) == "" {
		return errors.New("--backend-image must not be empty")
	}
	for _, r := range o.Reports {
		switch strings.ToLower(filepath.Ext(r)) {
		case ".md", ".markdown", ".html", ".htm":
		default:
			return fmt.Errorf("--report %q: the file name must end in .md or .html (it picks the format)", r)
		}
	}
	return validateNodeChecks(o.root, &o.ProbeFlags, o.Pods)
}

// Run verifies the cluster.
func (o *VerifyOptions) Run(ctx context.Context) error {
	cfg, err := o.root.RESTConfig()
	if err != nil {
		return &ExitError{Code: verifyExitCannot, Err: err}
	}
	cs, ex, err := o.root.ClusterAccess()
	if err != nil {
		return &ExitError{Code: verifyExitCannot, Err: err}
	}
	cluster := report.VerifyCluster{Server: cfg.Host}
	if raw, err := o.root.ConfigFlags.ToRawKubeConfigLoader().RawConfig(); err == nil {
		cluster.Context = raw.CurrentContext
		if o.root.ConfigFlags.Context != nil && *o.root.ConfigFlags.Context != "" {
			cluster.Context = *o.root.ConfigFlags.Context
		}
	}
	dyn, err := o.root.Dynamic()
	if err != nil {
		return &ExitError{Code: verifyExitCannot, Err: err}
	}
	return o.run(ctx, cs, dyn, ex, cluster)
}

func (o *VerifyOptions) run(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, ex collect.Executor, cluster report.VerifyCluster) error {
	progress := o.root.progress(o.Quiet)
	errOut := o.root.Streams.ErrOut
	res, err := verify.Run(ctx, verify.Deps{
		Client: cs, Dynamic: dyn, Exec: ex, Cluster: cluster, Progress: progress,
		Warn: func(kind, msg string) {
			progress.End()
			if kind != "" {
				msg = kind + ": " + msg
			}
			fmt.Fprintln(errOut, msg)
		},
	}, verify.Options{
		Services: o.Services, DeployBackends: o.DeployBackends, BackendImage: o.BackendImage,
		HostPort: o.HostPort, NoExternalIPs: o.NoExternalIPs,
		Nodes: o.Nodes, AllNodes: o.AllNodes, Sample: o.Sample, Seed: o.Seed, SeedSet: o.seedSet,
		Strict: o.Strict, DryRun: o.DryRun, CiliumNamespace: o.CiliumNamespace, Settle: o.Settle,
		Probe: o.ProbeFlags.Options(), Pods: o.Pods.Options(), Concurrency: o.Pods.Concurrency, CommandLine: o.commandLine,
	})
	var cannot *verify.CannotRunError
	switch {
	case errors.As(err, &cannot):
		return &ExitError{Code: verifyExitCannot, Err: err}
	case errors.Is(err, verify.ErrInterrupted):
		return &ExitError{Code: 130, Err: err}
	case err != nil:
		return err
	}
	if res.DryRun {
		if o.format.IsStructured() {
			return render.Structured(o.root.Streams.Out, o.format, res)
		}
		return render.VerifyDryRun(o.root.Streams.Out, res)
	}
	writeErr := render.WriteVerifyReports(res, o.JUnit, o.Reports)
	if o.format.IsStructured() {
		if err := render.Structured(o.root.Streams.Out, o.format, res); err != nil {
			return err
		}
	} else {
		p, _ := o.root.Palette()
		if err := render.Verify(o.root.Streams.Out, res, p); err != nil {
			return err
		}
	}
	if writeErr != nil {
		return &ExitError{Code: verifyExitCannot, Err: fmt.Errorf("writing the reports: %w", writeErr)}
	}
	if res.Summary.Result == report.ResultFail {
		return &ExitError{Code: verifyExitFail}
	}
	return nil
}
