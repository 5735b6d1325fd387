package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the command lands.
func newCleanupCmd(o *RootOptions) *cobra.Command {
	_ = o
	return &cobra.Command{
		Use:    "cleanup",
		Short:  "(not implemented yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("cleanup: not implemented yet") },
	}
}
