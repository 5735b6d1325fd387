package cmd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// completionTimeout bounds every API call made while the user waits for a
// TAB: a slow or unreachable cluster must not freeze their shell.
const completionTimeout = 2 * time.Second

// completionClient builds the client the completion helpers use; tests swap
// it for a fake clientset.
var completionClient = func(o *RootOptions) (kubernetes.Interface, error) {
	cfg, err := o.RESTConfig()
	if err != nil {
		return nil, err
	}
	cfg.Timeout = completionTimeout
	return kubernetes.NewForConfig(cfg)
}

// completeNodeNames completes node names (for --node, --from and the
// NODE... arguments of inspect and diff). Names already on the command line
// are not offered again.
func completeNodeNames(o *RootOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return o.completeNames(cmd, args, toComplete, func(ctx context.Context, cs kubernetes.Interface) ([]string, error) {
			list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, err
			}
			return objectNames(list.Items), nil
		})
	}
}

// completeNamespaces completes namespace names (for -n/--namespace).
func completeNamespaces(o *RootOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		// args are positional arguments, not namespaces: never filter by them.
		return o.completeNames(cmd, nil, toComplete, func(ctx context.Context, cs kubernetes.Interface) ([]string, error) {
			list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, err
			}
			return objectNames(list.Items), nil
		})
	}
}

// completeServiceNames completes Service names in the namespace that -n (or
// the kubeconfig context) selects, for `probe SERVICE`.
func completeServiceNames(o *RootOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return o.completeNames(cmd, args, toComplete, func(ctx context.Context, cs kubernetes.Interface) ([]string, error) {
			ns, _, err := o.Namespace()
			if err != nil {
				return nil, err
			}
			list, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, err
			}
			return objectNames(list.Items), nil
		})
	}
}

// completeKubeconfigContexts completes --context from the kubeconfig, as
// kubectl does; it needs no API call.
func completeKubeconfigContexts(o *RootOptions) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		raw, err := o.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names := make([]string, 0, len(raw.Contexts))
		for name := range raw.Contexts {
			names = append(names, name)
		}
		return matchingNames(names, nil, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeNames runs list with the completion timeout and keeps the names
// that start with what the user typed and are not already in exclude. An
// API error is reported on stderr (which shells hide unless debugging) and
// yields no candidates rather than file names.
func (o *RootOptions) completeNames(cmd *cobra.Command, exclude []string, toComplete string,
	list func(context.Context, kubernetes.Interface) ([]string, error)) ([]string, cobra.ShellCompDirective) {
	cs, err := completionClient(o)
	if err != nil {
		completionError(cmd, err)
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(commandContext(cmd), completionTimeout)
	defer cancel()
	names, err := list(ctx, cs)
	if err != nil {
		completionError(cmd, err)
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return matchingNames(names, exclude, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// matchingNames returns the sorted names with the prefix, minus exclude.
func matchingNames(names, exclude []string, prefix string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && !slices.Contains(exclude, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func commandContext(cmd *cobra.Command) context.Context {
	if cmd != nil && cmd.Context() != nil {
		return cmd.Context()
	}
	return context.Background()
}

// completionError writes in cobra's "[Error]" style to the command's stderr:
// never stdout, which the shell would read as candidates.
func completionError(cmd *cobra.Command, err error) {
	if cmd == nil {
		return
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "[Error] kubectl-kpr completion: %v\n", err)
}

// Flags and positional arguments whose values are cluster objects, by name.
// registerCompletions attaches a helper to every one that exists anywhere in
// the command tree and has no completion yet, so commands added later get
// completion without touching this file; a command that registers its own
// function keeps it.
var (
	flagCompletions = map[string]func(*RootOptions) cobra.CompletionFunc{
		"namespace":        completeNamespaces,
		"debug-namespace":  completeNamespaces,
		"cilium-namespace": completeNamespaces,
		"context":          completeKubeconfigContexts,
		"node":             completeNodeNames,
		"from":             completeNodeNames,
		"service":          completeServiceNames,
	}
	argCompletions = map[string]func(*RootOptions) cobra.CompletionFunc{
		"inspect": completeNodeNames,                   // inspect NODE...
		"diff":    atMostArgs(2, completeNodeNames),    // diff NODE-A NODE-B
		"probe":   atMostArgs(1, completeServiceNames), // probe [SERVICE]
	}
)

// atMostArgs offers candidates only while fewer than n positional
// arguments have been given.
func atMostArgs(n int, complete func(*RootOptions) cobra.CompletionFunc) func(*RootOptions) cobra.CompletionFunc {
	return func(o *RootOptions) cobra.CompletionFunc {
		fn := complete(o)
		return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) >= n {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return fn(cmd, args, toComplete)
		}
	}
}

// registerCompletions wires the dynamic completions onto root and its
// subcommands. Call it once, after every subcommand has been added.
func registerCompletions(root *cobra.Command, o *RootOptions) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for name, fn := range flagCompletions {
			// Only flags this command defines itself (local or persistent):
			// inherited ones were registered on their owner.
			if c.LocalNonPersistentFlags().Lookup(name) == nil && c.PersistentFlags().Lookup(name) == nil {
				continue
			}
			if _, done := c.GetFlagCompletionFunc(name); done {
				continue
			}
			_ = c.RegisterFlagCompletionFunc(name, fn(o))
		}
		if fn, ok := argCompletions[c.Name()]; ok && c.Parent() == root && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = fn(o)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// objectNames returns the names of listed API objects.
func objectNames[T any, PT interface {
	*T
	GetName() string
}](items []T) []string {
	names := make([]string, 0, len(items))
	for i := range items {
		names = append(names, PT(&items[i]).GetName())
	}
	return names
}
