package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

// kubectlCompletionShim is the kubectl_complete-kpr script. kubectl (1.26+)
// runs it from PATH to complete `kubectl kpr ...`; krew cannot install it
// (kubernetes-sigs/krew#812), so `completion kubectl` prints it. The copy at
// the repository top, shipped in the release archives, must stay identical
// (a test compares them).
const kubectlCompletionShim = `#!/usr/bin/env sh
# kubectl_complete-kpr: shell completion for "kubectl kpr".
# kubectl >= 1.26 runs this from PATH with the words typed after
# "kubectl kpr"; cobra's hidden __complete command answers with one
# candidate per line and a final ":<directive>" line.
exec kubectl-kpr __complete "$@"
`

const completionLong = `Print a shell completion script.

"kubectl kpr <TAB>" is completed by kubectl itself (1.26 or newer), which
asks an executable named kubectl_complete-kpr on PATH. Install it once
(kubectl's own completion must be set up too):

  kubectl kpr completion kubectl > ~/.local/bin/kubectl_complete-kpr
  chmod +x ~/.local/bin/kubectl_complete-kpr      # any directory on PATH

The release archives contain the same file. krew does not install it.

The shell scripts complete the kubectl-kpr binary when it is run directly:

  bash:       source <(kubectl kpr completion bash)
              (permanently: kubectl kpr completion bash > /etc/bash_completion.d/kubectl-kpr)
  zsh:        kubectl kpr completion zsh > "${fpath[1]}/_kubectl-kpr"
  fish:       kubectl kpr completion fish > ~/.config/fish/completions/kubectl-kpr.fish
  powershell: kubectl kpr completion powershell | Out-String | Invoke-Expression

Node names, namespaces and Service names are completed from the cluster
(each lookup gives up after 2 seconds).`

func newCompletionCmd(o *RootOptions) *cobra.Command {
	return &cobra.Command{
		Use:                   "completion bash|zsh|fish|powershell|kubectl",
		Short:                 "Print a shell completion script (or the kubectl_complete-kpr shim)",
		Long:                  completionLong,
		DisableFlagsInUseLine: true,
		ValidArgs:             []string{"bash", "zsh", "fish", "powershell", "kubectl"},
		Args:                  cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE:                  runCommand(&CompletionOptions{root: o}),
	}
}

// CompletionOptions are `kubectl kpr completion`'s arguments.
type CompletionOptions struct {
	root  *RootOptions
	shell string
	// command is kpr's root command, whose completion is generated.
	command *cobra.Command
}

// Complete records the shell and the command tree.
func (o *CompletionOptions) Complete(cmd *cobra.Command, args []string) error {
	o.shell, o.command = args[0], cmd.Root()
	return nil
}

// Validate has nothing to check: cobra checked the shell's name.
func (o *CompletionOptions) Validate() error { return nil }

// Run prints the script.
func (o *CompletionOptions) Run(context.Context) error {
	root, out := o.command, o.root.Streams.Out
	switch o.shell {
	case "bash":
		return root.GenBashCompletionV2(out, true)
	case "zsh":
		return root.GenZshCompletion(out)
	case "fish":
		return root.GenFishCompletion(out, true)
	case "powershell":
		return root.GenPowerShellCompletionWithDesc(out)
	case "kubectl":
		_, err := fmt.Fprint(out, kubectlCompletionShim)
		return err
	}
	return fmt.Errorf("unsupported shell %q: use bash, zsh, fish, powershell or kubectl", o.shell)
}
