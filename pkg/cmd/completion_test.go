package cmd

import (
	"os"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func runCompletionCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	root := NewRootCmd(streams)
	root.SetArgs(append([]string{"completion"}, args...))
	err := root.Execute()
	return out.String(), err
}

func TestCompletionScripts(t *testing.T) {
	// Each generator's own marker: proof the right one ran for the right
	// program name, not just that something was printed.
	for shell, marker := range map[string]string{
		"bash":       "__start_kubectl-kpr()",
		"zsh":        "#compdef kubectl-kpr",
		"fish":       "complete -c kubectl-kpr",
		"powershell": "Register-ArgumentCompleter -CommandName 'kubectl-kpr'",
	} {
		out, err := runCompletionCmd(t, shell)
		if err != nil {
			t.Errorf("completion %s: %v", shell, err)
			continue
		}
		if !strings.Contains(out, marker) {
			t.Errorf("completion %s: output lacks %q", shell, marker)
		}
	}
}

func TestCompletionKubectlShimMatchesShippedFile(t *testing.T) {
	out, err := runCompletionCmd(t, "kubectl")
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile("../../kubectl_complete-kpr")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(shipped) {
		t.Errorf("`completion kubectl` and ./kubectl_complete-kpr differ:\n--- printed\n%s--- file\n%s", out, shipped)
	}
	if !strings.Contains(out, `exec kubectl-kpr __complete "$@"`) {
		t.Errorf("shim does not hand its arguments to kubectl-kpr __complete:\n%s", out)
	}
	info, err := os.Stat("../../kubectl_complete-kpr")
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm()&0o111 == 0 {
		t.Errorf("kubectl_complete-kpr is not executable (%v): kubectl only runs executables", info.Mode())
	}
}

func TestCompletionRejectsUnknownShell(t *testing.T) {
	for _, args := range [][]string{{"tcsh"}, {}, {"bash", "zsh"}} {
		if _, err := runCompletionCmd(t, args...); err == nil {
			t.Errorf("completion %q: want an error", args)
		}
	}
}
