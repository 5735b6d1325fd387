package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/offline"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/render"
)

// AnalyzeOptions are `kubectl kpr analyze`'s flags.
type AnalyzeOptions struct {
	root   *RootOptions
	Output string
	Inputs []string

	format render.Format
}

func newAnalyzeCmd(root *RootOptions) *cobra.Command {
	o := &AnalyzeOptions{root: root}
	c := &cobra.Command{
		Use:   "analyze FILE|DIR|ZIP|- ...",
		Short: "Read pasted agent and node outputs or a Cilium sysdump offline and say who implements Services",
		Long: `analyze works without cluster access. It reads files, directories, zip and
tar(.gz) archives, or stdin ("-"), finds the command outputs in them and reads
each one:

  - cilium status / cilium-dbg status (text, --verbose or -o json, 1.10-1.20)
  - cilium service list (text or -o json)
  - iptables-save / ip6tables-save (legacy or nf_tables, with -c counters,
    several dumps in one file), nft list ruleset (text or -j), ipvsadm -Ln

Pastes may be messy: shell prompts and command lines, kubectl's "Defaulted
container" notice, CI-log timestamps, markdown fences and emphasis, CRLF and
truncated last lines are dealt with; several outputs in one paste are split,
and of several listings of one kind the last one wins.

A Cilium sysdump (cilium-sysdump-*.zip or its extracted folder) is read per
agent: each cilium-bugtool's status, service list and iptables dumps give one
verdict per agent. A dump cannot tell whether kube-proxy still runs, so
kube-proxy rules next to full KPR are reported as "both" with a warning that
they may be stale.

From the sysdump's cluster objects (k8s-nodes, ciliumnodeconfigs,
cilium-configmap, cilium-daemonset and k8s-pods) analyze also resolves each
node's Cilium configuration as the agent's config init container does, shows
the KPR keys a CiliumNodeConfig or node label/annotation sets, and warns
node-config-not-applied, node-config-ignored, kpr-rollout-inconsistent and
healthz-port-clash; when the sysdump lacks the node or CiliumNodeConfig list
it says so.

The exit code is 1 when nothing in the inputs was recognised.`,
		Example: `  kubectl kpr analyze ticket-1234.txt
  kubectl kpr analyze cilium-sysdump-20240501-120000.zip -o json
  pbpaste | kubectl kpr analyze -
  kubectl kpr analyze node-a-iptables.txt node-b-nft.json status.txt`,
		Args: cobra.MinimumNArgs(1),
		RunE: runCommand(o),
	}
	c.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: wide, json or yaml")
	registerOutputCompletion(c, "wide", "json", "yaml")
	return c
}

// Complete records the inputs.
func (o *AnalyzeOptions) Complete(_ *cobra.Command, args []string) error {
	o.Inputs = args
	return nil
}

// Validate checks flag values.
func (o *AnalyzeOptions) Validate() error {
	f, err := render.ParseFormat(o.Output, render.FormatTable, render.FormatWide, render.FormatJSON, render.FormatYAML)
	if err != nil {
		return err
	}
	o.format = f
	stdin := 0
	for _, in := range o.Inputs {
		if in == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return errors.New(`"-" (stdin) can be given only once`)
	}
	_, err = o.root.Palette()
	return err
}

// Run reads the inputs, prints the result and sets the exit code.
func (o *AnalyzeOptions) Run(context.Context) error {
	rep, st := offline.Analyze(o.Inputs, offline.Options{Stdin: o.root.Streams.In})
	if err := o.print(rep); err != nil {
		return err
	}
	for _, err := range st.Errors {
		fmt.Fprintf(o.root.Streams.ErrOut, "warning: %v\n", err)
	}
	if st.Recognised == 0 {
		if len(rep.Inputs) == 0 {
			// No reason is printed above when there was nothing to read.
			msg := "the inputs hold no file: an empty folder or archive"
			if st.Skipped > 0 {
				msg = fmt.Sprintf("the inputs hold no command output: %d file(s) or entries skipped (links, devices, or bundle entries that are not agent output)", st.Skipped)
			}
			return &ExitError{Code: 1, Err: errors.New(msg + "; give cilium status, cilium service list, iptables-save, nft or ipvsadm output")}
		}
		return &ExitError{Code: 1, Err: errors.New("nothing in the inputs was recognised as cilium status, cilium service list, iptables-save, nft or ipvsadm output (see the reasons above)")}
	}
	return nil
}

func (o *AnalyzeOptions) print(rep *report.Analyze) error {
	if o.format.IsStructured() {
		if o.format == render.FormatJSON {
			return render.AnalyzeJSON(o.root.Streams.Out, rep)
		}
		return render.Structured(o.root.Streams.Out, o.format, rep)
	}
	p, _ := o.root.Palette()
	return render.Analyze(o.root.Streams.Out, rep, p, o.format == render.FormatWide)
}
