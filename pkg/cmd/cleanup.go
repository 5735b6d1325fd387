package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/backends"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/debugpod"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/render"
)

// CleanupOptions are `kubectl kpr cleanup`'s flags.
type CleanupOptions struct {
	root   *RootOptions
	DryRun bool
	Output string

	format render.Format
	now    func() time.Time
}

func newCleanupCmd(root *RootOptions) *cobra.Command {
	o := &CleanupOptions{root: root, now: time.Now}
	c := &cobra.Command{
		Use:   "cleanup",
		Short: "Delete every debug pod, daemonset-mode DaemonSet and verify namespace kpr left behind, in all namespaces",
		Long: `cleanup deletes every pod labelled ` + debugpod.ManagedByLabel + `=` + debugpod.ManagedByValue + `
in every namespace: pods kept with --keep, and pods of a kpr that was
killed before it could delete them (those also end by themselves after
their activeDeadlineSeconds). It deletes the DaemonSets and anchor Jobs
of "--mode daemonset" runs with the same label first (those also end by
themselves when the Job's deadline passes). It also deletes the namespaces of killed
"kpr verify --deploy-backends" runs (kpr-verify-*, labelled
` + backends.ComponentLabel + `=` + backends.NamespaceValue + `) with everything in them.`,
		Example: `  kubectl kpr cleanup
  kubectl kpr cleanup --dry-run`,
		Args: cobra.NoArgs,
		RunE: runCommand(o),
	}
	c.Flags().BoolVar(&o.DryRun, "dry-run", false, "Only list the pods that would be deleted")
	c.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml")
	registerOutputCompletion(c, "json", "yaml")
	return c
}

// Complete has nothing to fill in: cleanup takes no arguments.
func (o *CleanupOptions) Complete(*cobra.Command, []string) error { return nil }

// Validate checks flag values.
func (o *CleanupOptions) Validate() error {
	f, err := render.ParseFormat(o.Output, render.FormatTable, render.FormatJSON, render.FormatYAML)
	if err != nil {
		return err
	}
	o.format = f
	return nil
}

// Run deletes what kpr left and says what it deleted.
func (o *CleanupOptions) Run(ctx context.Context) error {
	_, cs, err := o.root.Clientset()
	if err != nil {
		return err
	}
	return o.run(ctx, cs)
}

func (o *CleanupOptions) run(ctx context.Context, cs kubernetes.Interface) error {
	// Controllers first: a live DaemonSet would replace the pods deleted next.
	ctrls, ctrlErr := debugpod.CleanupControllers(ctx, cs, o.DryRun)
	left, err := debugpod.CleanupAll(ctx, cs, o.DryRun)
	err = errors.Join(ctrlErr, err)
	rep := &report.Cleanup{DryRun: o.DryRun, Deleted: []report.CleanedPod{}, Namespaces: []report.CleanedNamespace{}, Controllers: []report.CleanedController{}}
	for _, c := range ctrls {
		rep.Controllers = append(rep.Controllers, report.CleanedController{Kind: c.Kind, Namespace: c.Namespace, Name: c.Name, RunID: c.RunID, Age: duration.HumanDuration(o.now().Sub(c.Created))})
	}
	nsLeft, nsErr := cleanupVerifyNamespaces(ctx, cs, o.DryRun)
	var perm *backends.PermissionError
	if errors.As(nsErr, &perm) && perm.Verb == "list" {
		// Who may not list namespaces may not create them either, so
		// verify cannot have left one of theirs: say so, not fail.
		fmt.Fprintf(o.root.Streams.ErrOut, "note: verify namespaces not checked (%s %s not granted); a cluster admin's `kubectl kpr cleanup` removes those\n", perm.Verb, perm.Resource)
		nsErr = nil
	}
	for _, n := range nsLeft {
		rep.Namespaces = append(rep.Namespaces, report.CleanedNamespace{Name: n.Name, RunID: n.RunID, Phase: n.Phase, Age: duration.HumanDuration(o.now().Sub(n.Created))})
	}
	err = errors.Join(err, nsErr)
	for _, p := range left {
		rep.Deleted = append(rep.Deleted, report.CleanedPod{
			Namespace: p.Namespace, Name: p.Name, Node: p.Node, RunID: p.RunID, Phase: p.Phase,
			Age: duration.HumanDuration(o.now().Sub(p.Created)),
		})
	}
	if err != nil && len(left) == 0 && len(nsLeft) == 0 && len(ctrls) == 0 {
		// Nothing could be listed or deleted: the error says it all.
		return err
	}
	if err != nil {
		rep.Errors = append(rep.Errors, err.Error())
	}
	if o.format.IsStructured() {
		if perr := render.Structured(o.root.Streams.Out, o.format, rep); perr != nil {
			return perr
		}
	} else {
		p, _ := o.root.Palette()
		if perr := render.Cleanup(o.root.Streams.Out, rep, p); perr != nil {
			return perr
		}
	}
	if err != nil {
		return &ExitError{Code: 1, Err: fmt.Errorf("some kpr pods could not be deleted: %w", err)}
	}
	return nil
}

// cleanupVerifyNamespaces deletes (or lists, with dryRun) the namespaces
// of verify runs that were killed before they could delete them.
func cleanupVerifyNamespaces(ctx context.Context, cs kubernetes.Interface, dryRun bool) ([]backends.LeftNamespace, error) {
	left, err := backends.FindNamespaces(ctx, cs)
	if err != nil || dryRun {
		return left, err
	}
	var errs []error
	for _, n := range left {
		if err := backends.DeleteNamespace(ctx, cs, n.Name, 20*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	return left, errors.Join(errs...)
}
