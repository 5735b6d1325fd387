package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder until the command lands.
func newStatusCmd(o *RootOptions) *cobra.Command {
	_ = o
	return &cobra.Command{
		Use:    "status",
		Short:  "(not implemented yet)",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("status: not implemented yet") },
	}
}
