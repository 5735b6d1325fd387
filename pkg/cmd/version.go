package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/render"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/version"
)

func newVersionCmd(o *RootOptions) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "version",
		Short: "Print kpr's version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := render.ParseFormat(output, render.FormatTable, render.FormatJSON, render.FormatYAML)
			if err != nil {
				return err
			}
			info := version.Get()
			if f.IsStructured() {
				return render.Structured(o.Streams.Out, f, info)
			}
			_, err = fmt.Fprintf(o.Streams.Out, "kubectl-kpr %s (commit %s, built %s, %s, %s)\n", info.Version, info.Commit, info.Date, info.GoVersion, info.Platform)
			return err
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "Output format: json or yaml")
	return c
}
