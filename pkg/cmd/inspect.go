package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the command lands.
func newInspectCmd(o *RootOptions) *cobra.Command {
	_ = o
	return &cobra.Command{
		Use:    "inspect",
		Short:  "(not implemented yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("inspect: not implemented yet") },
	}
}
