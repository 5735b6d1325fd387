package cmd

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/debugpod"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/nodecheck"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/render"
)

// DebugPodFlags are the flags of every command that runs node debug pods
// (inspect, probe, diff).
type DebugPodFlags struct {
	Image            string
	ImagePullSecrets []string
	Namespace        string
	Timeout          time.Duration
	Keep             bool
	Concurrency      int
	Mode             string
	Quiet            bool
}

func newDebugPodFlags() *DebugPodFlags {
	return &DebugPodFlags{
		Image:       debugpod.DefaultImage,
		Namespace:   debugpod.DefaultNamespace,
		Timeout:     debugpod.DefaultTimeout,
		Concurrency: 8,
		Mode:        string(debugpod.ModeAuto),
	}
}

// AddFlags registers the flags on fs.
func (f *DebugPodFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.Image, "image", f.Image, "Debug pod image (needs sh, curl, iptables, nft; mirror it for air-gapped registries)")
	fs.StringSliceVar(&f.ImagePullSecrets, "image-pull-secret", nil, "Image pull secret(s) in --debug-namespace for a private --image registry")
	fs.StringVar(&f.Namespace, "debug-namespace", f.Namespace, "Namespace for the debug pods (must allow privileged pods)")
	fs.DurationVar(&f.Timeout, "timeout", f.Timeout, "How long to wait for each debug pod to run, and for each command in it")
	fs.BoolVar(&f.Keep, "keep", false, "Leave the debug pods behind for debugging (remove them later with \"kubectl kpr cleanup\")")
	fs.IntVar(&f.Concurrency, "concurrency", f.Concurrency, "How many nodes to work on at once")
	if fs.Lookup("quiet") == nil { // verify has its own, which also silences its phase lines
		addQuietFlag(fs, &f.Quiet)
	}
	fs.StringVar(&f.Mode, "mode", f.Mode, fmt.Sprintf("How pods reach the nodes: pods (one debug pod per node, created by kpr), daemonset (one short-lived DaemonSet on exactly the chosen nodes), or auto (daemonset above %d nodes)", debugpod.AutoDaemonSetAbove))
}

// Validate checks the values.
func (f *DebugPodFlags) Validate() error {
	if err := validateFanOut(f.Concurrency, f.Timeout); err != nil {
		return err
	}
	if strings.TrimSpace(f.Image) == "" {
		return fmt.Errorf("--image must not be empty")
	}
	if strings.TrimSpace(f.Namespace) == "" {
		return fmt.Errorf("--debug-namespace must not be empty")
	}
	if _, err := debugpod.ParseMode(f.Mode); err != nil {
		return err
	}
	return nil
}

// Runner returns the node-check runner of one run: its debug pods as the
// flags say.
func (f *DebugPodFlags) Runner(cs kubernetes.Interface, ex collect.Executor) nodecheck.Runner {
	return nodecheck.Runner{Pods: debugpod.NewManager(cs, ex, f.Options()), Concurrency: f.Concurrency}
}

// Options are the debug pods' settings the flags select.
func (f *DebugPodFlags) Options() debugpod.Options {
	return debugpod.Options{
		Namespace:        f.Namespace,
		Image:            f.Image,
		ImagePullSecrets: f.ImagePullSecrets,
		Timeout:          f.Timeout,
		Keep:             f.Keep,
		Mode:             debugpod.Mode(f.Mode),
	}
}

// addQuietFlag registers --quiet/-q: no progress line on stderr.
func addQuietFlag(fs *pflag.FlagSet, quiet *bool) {
	fs.BoolVarP(quiet, "quiet", "q", false, "No progress line on stderr (it only shows when stderr is a terminal)")
}

// progress returns the live progress line of a many-node command: on
// stderr only when stderr is a terminal, never with --quiet, and never on
// stdout, whose bytes stay the same either way.
func (o *RootOptions) progress(quiet bool) *render.Progress {
	live := false
	if f, ok := o.Streams.ErrOut.(*os.File); ok {
		live = term.IsTerminal(int(f.Fd()))
	}
	return render.NewProgress(o.Streams.ErrOut, live, quiet)
}

// nodeProgress starts the progress line of a debug-pod command over n
// nodes and hooks it to m; call End before printing the report.
func (f *DebugPodFlags) nodeProgress(root *RootOptions, m *debugpod.Manager, command string, n int) *render.Progress {
	p := root.progress(f.Quiet)
	how := "debug pods"
	if m.UsesDaemonSet(n) {
		how = "daemonset"
	}
	p.Start(command, fmt.Sprintf("%d node(s) through %s", n, how))
	m.Progress = p.Count
	m.Warn = noteTo(root, p)
	return p
}

// noteTo prints a note on stderr below the progress line.
func noteTo(root *RootOptions, p *render.Progress) func(string) {
	return func(msg string) {
		p.End()
		fmt.Fprintf(root.Streams.ErrOut, "note: %s\n", msg)
	}
}

// finishPods deletes the run's pods (with a fresh context: the run's may
// be cancelled), says what --keep left, and turns an interrupt into an
// error.
func finishPods(ctx context.Context, root *RootOptions, r nodecheck.Runner) error {
	interrupted := ctx.Err() != nil
	if interrupted {
		fmt.Fprintln(root.Streams.ErrOut, "interrupted: deleting kpr's debug pods")
	}
	cleanupErrs, kept := r.Finish()
	for _, err := range cleanupErrs {
		fmt.Fprintf(root.Streams.ErrOut, "warning: %v\n", err)
	}
	if len(kept) > 0 {
		fmt.Fprintln(root.Streams.ErrOut, nodecheck.KeptNotice(kept))
	}
	if interrupted {
		return &ExitError{Code: 130, Err: fmt.Errorf("interrupted; debug pods deleted")}
	}
	return nil
}
