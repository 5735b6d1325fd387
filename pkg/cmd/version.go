package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/render"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/version"
)

// VersionOptions are `kubectl kpr version`'s flags.
type VersionOptions struct {
	root   *RootOptions
	Output string

	format render.Format
}

func newVersionCmd(root *RootOptions) *cobra.Command {
	o := &VersionOptions{root: root}
	c := &cobra.Command{
		Use:   "version",
		Short: "Print kpr's version, commit and build date",
		Args:  cobra.NoArgs,
		RunE:  runCommand(o),
	}
	c.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml")
	return c
}

// Complete has nothing to fill in: version takes no arguments.
func (o *VersionOptions) Complete(*cobra.Command, []string) error { return nil }

// Validate checks -o.
func (o *VersionOptions) Validate() error {
	f, err := render.ParseFormat(o.Output, render.FormatTable, render.FormatJSON, render.FormatYAML)
	o.format = f
	return err
}

// Run prints the build's metadata.
func (o *VersionOptions) Run(context.Context) error {
	info := version.Get()
	if o.format.IsStructured() {
		return render.Structured(o.root.Streams.Out, o.format, report.VersionFrom(info))
	}
	_, err := fmt.Fprintf(o.root.Streams.Out, "kubectl-kpr %s (commit %s, built %s, %s, %s)\n", info.Version, info.Commit, info.Date, info.GoVersion, info.Platform)
	return err
}
