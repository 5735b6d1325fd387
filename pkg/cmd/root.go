// Package cmd holds kubectl-kpr's cobra commands. Each command has an
// options struct with Complete, Validate and Run (kubectl's and stern's
// pattern); Run calls into pkg/collect, pkg/interpret and pkg/render and
// writes only to the IOStreams it was given.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/render"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/version"
)

// command is the shape of every kpr command, as in kubectl and stern:
// Complete fills in what the arguments and the kubeconfig decide,
// Validate checks the flags, Run does the work and writes only to the
// IOStreams.
type command interface {
	Complete(cmd *cobra.Command, args []string) error
	Validate() error
	Run(ctx context.Context) error
}

// runCommand is every command's RunE.
func runCommand(o command) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(cmd, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
}

// RootOptions are the flags every command shares.
type RootOptions struct {
	ConfigFlags *genericclioptions.ConfigFlags
	Streams     genericiooptions.IOStreams
	Color       string
}

// ExitError carries a specific exit code (e.g. `diff --exit-code`). A nil
// Err exits silently: the command already printed what it had to say.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// NewRootCmd builds `kubectl kpr` and its subcommands.
func NewRootCmd(streams genericiooptions.IOStreams) *cobra.Command {
	o := &RootOptions{
		ConfigFlags: genericclioptions.NewConfigFlags(true),
		Streams:     streams,
		Color:       string(render.ColorAuto),
	}
	root := &cobra.Command{
		Use:   "kubectl-kpr",
		Short: "Who implements Kubernetes Services on each node: Cilium KPR, kube-proxy, or nobody",
		Long: `kubectl kpr tells, node by node, who implements Kubernetes Services:
Cilium's eBPF kube-proxy replacement (KPR), kube-proxy (iptables, ipvs,
nftables), both, or nobody, and proves it by reading agents and node rules
and by probing ClusterIPs and NodePorts.`,
		Version:       version.Get().Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations: map[string]string{
			// Help and usage say "kubectl kpr", as kubectl plugins should.
			cobra.CommandDisplayNameAnnotation: "kubectl kpr",
		},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetVersionTemplate("kubectl-kpr {{.Version}}\n")
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) { setSoftMemoryLimit(cmd.Name()) }

	o.ConfigFlags.AddFlags(root.PersistentFlags())
	root.PersistentFlags().StringVar(&o.Color, "color", o.Color, "Color output: auto, always or never (NO_COLOR is honoured)")
	_ = root.RegisterFlagCompletionFunc("color", cobra.FixedCompletions([]string{"auto", "always", "never"}, cobra.ShellCompDirectiveNoFileComp))

	root.AddCommand(
		newVerifyCmd(o),
		newStatusCmd(o),
		newServicesCmd(o),
		newAnalyzeCmd(o),
		newInspectCmd(o),
		newProbeCmd(o),
		newDiffCmd(o),
		newCleanupCmd(o),
		newVersionCmd(o),
		newCompletionCmd(o),
	)
	registerCompletions(root, o)
	return root
}

// Execute runs the command line and returns the process exit code. It
// sets what is process-wide, once for every command: klog, the signal
// handling and (in the root's hook) the soft memory limit.
func Execute(streams genericiooptions.IOStreams, args []string) int {
	// client-go logs through klog what kpr reports itself, and more: an
	// exec cancelled at --timeout makes remotecommand log "Copying stdout
	// failed ... use of closed network connection" with its source line.
	// kpr's errors and warnings say what happened; klog's lines go nowhere.
	klog.SetLogger(logr.Discard())
	ctx, stop := interruptible(context.Background())
	defer stop()
	root := NewRootCmd(streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(streams.ErrOut, "error: %v\n", ee.Err)
		}
		return ee.Code
	}
	// kubectl's wording for unreachable servers and API errors
	// ("The connection to the server ... was refused - did you specify the
	// right host or port?").
	if msg, ok := standardErrorMessage(err); ok {
		fmt.Fprintln(streams.ErrOut, msg)
		return 1
	}
	fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
	return 1
}

// interruptible returns a context cancelled by SIGINT or SIGTERM: every
// command then deletes what it created and exits 130. After the first
// signal the default handling is restored, so a second Ctrl-C kills kpr at
// once (the pods then end by activeDeadlineSeconds).
func interruptible(parent context.Context) (context.Context, func()) {
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

// softMemoryLimits are the Go heap soft limits of the commands that hold
// many agents' tables or big inputs; GOMEMLIMIT set by the user wins.
var softMemoryLimits = map[string]int64{
	// Every agent's table is ~0.5 MB of JSON at 300 Services; with the
	// default GC pacing the heap ran to 2× the live rows (290 MB at 1000
	// nodes). A soft limit makes the GC work harder instead: 185 MB, same
	// wall (BENCHMARKS.md).
	"services": 128 << 20,
	// Big inputs are streamed: the live heap stays small, but with the
	// default GOGC the garbage of a 100 MB sysdump lets the heap double
	// before each collection. A soft limit makes the GC collect sooner
	// (no slower here: 1.1 s and 88 MiB RSS instead of 1.3 s and 115 MiB
	// on the bench's 100 MB folder); a larger real need still gets memory.
	"analyze": 64 << 20,
}

func setSoftMemoryLimit(command string) {
	if limit, ok := softMemoryLimits[command]; ok && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
}

// Palette returns the color palette for w according to --color.
func (o *RootOptions) Palette() (render.Palette, error) {
	mode, err := render.ParseColorMode(o.Color)
	if err != nil {
		return render.Palette{}, err
	}
	return render.Palette{Enabled: render.UseColor(mode, o.Streams.Out)}, nil
}

// RESTConfig returns the client config from the kubeconfig flags, with an
// error that reads like kubectl's when there is none.
func (o *RootOptions) RESTConfig() (*rest.Config, error) {
	// client-go silently falls back to localhost:8080 when there is no
	// kubeconfig at all; say what is missing instead.
	if raw, err := o.ConfigFlags.ToRawKubeConfigLoader().RawConfig(); err == nil && len(raw.Contexts) == 0 && len(raw.Clusters) == 0 &&
		(o.ConfigFlags.APIServer == nil || *o.ConfigFlags.APIServer == "") {
		return nil, fmt.Errorf("no kubeconfig found (looked at %s): set KUBECONFIG or pass --kubeconfig to point kpr at a cluster", kubeconfigPaths(o))
	}
	cfg, err := o.ConfigFlags.ToRESTConfig()
	if err != nil {
		return nil, kubeconfigError(err)
	}
	// kpr fans out many execs at once; client-go's default 5 QPS would
	// serialise them behind the rate limiter.
	cfg.QPS = 100
	cfg.Burst = 200
	return cfg, nil
}

// Clientset returns a typed client built from RESTConfig.
func (o *RootOptions) Clientset() (*rest.Config, kubernetes.Interface, error) {
	cfg, err := o.RESTConfig()
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, cs, nil
}

// ClusterAccess returns what every cluster command needs: a typed client and
// the exec transport (WebSocket, falling back to SPDY) built on the same
// config.
func (o *RootOptions) ClusterAccess() (kubernetes.Interface, collect.Executor, error) {
	cfg, cs, err := o.Clientset()
	if err != nil {
		return nil, nil, err
	}
	return cs, collect.NewRemoteExecutor(cfg, cs), nil
}

// Dynamic is a dynamic client on the same config, for the CRDs kpr
// reads (CiliumNodeConfigs).
func (o *RootOptions) Dynamic() (dynamic.Interface, error) {
	cfg, err := o.RESTConfig()
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(cfg)
}

// validateFanOut checks the flags that bound parallel work on nodes.
func validateFanOut(concurrency int, timeout time.Duration) error {
	if concurrency < 1 {
		return fmt.Errorf("--concurrency must be at least 1, got %d", concurrency)
	}
	if timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, got %s", timeout)
	}
	return nil
}

// Namespace returns -n, or the kubeconfig context's namespace.
func (o *RootOptions) Namespace() (string, bool, error) {
	return o.ConfigFlags.ToRawKubeConfigLoader().Namespace()
}

func kubeconfigError(err error) error {
	if clientcmdIsEmptyConfig(err) {
		return fmt.Errorf("no kubeconfig found: set KUBECONFIG or pass --kubeconfig (and --context) to point kpr at a cluster: %w", err)
	}
	return err
}

func kubeconfigPaths(o *RootOptions) string {
	if o.ConfigFlags.KubeConfig != nil && *o.ConfigFlags.KubeConfig != "" {
		return *o.ConfigFlags.KubeConfig
	}
	rules := o.ConfigFlags.ToRawKubeConfigLoader().ConfigAccess().GetLoadingPrecedence()
	if len(rules) == 0 {
		return "the default locations"
	}
	return strings.Join(rules, ", ")
}
