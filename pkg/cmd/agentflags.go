package cmd

import (
	"time"

	"github.com/spf13/pflag"
)

// AgentFlags are the flags of the commands that exec into the Cilium
// agents (status, services).
type AgentFlags struct {
	CiliumNamespace string
	Concurrency     int
	Timeout         time.Duration
	Nodes           []string
	Quiet           bool
}

func defaultAgentFlags() AgentFlags {
	return AgentFlags{Concurrency: 16, Timeout: 30 * time.Second}
}

// AddFlags registers the flags on fs.
func (f *AgentFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.CiliumNamespace, "cilium-namespace", f.CiliumNamespace, "Namespace of the Cilium agents (default: found by label k8s-app=cilium in all namespaces)")
	fs.IntVar(&f.Concurrency, "concurrency", f.Concurrency, "How many agents to exec into at once")
	fs.DurationVar(&f.Timeout, "timeout", f.Timeout, "Deadline for each agent exec (and for the agent phase as a whole)")
	fs.StringSliceVar(&f.Nodes, "node", f.Nodes, "Only these nodes (repeatable or comma-separated)")
	addQuietFlag(fs, &f.Quiet)
}

// Validate checks the values.
func (f *AgentFlags) Validate() error { return validateFanOut(f.Concurrency, f.Timeout) }
