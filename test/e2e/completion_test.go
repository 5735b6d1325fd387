package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The lab's nodes (lab/config.env LAB_NODES).
// labNodeNames are the scenario's nodes the lab runs, sorted.
func labNodeNames(t *testing.T) []string {
	t.Helper()
	skipped := labSkipped(t)
	var out []string
	for name := range labScenario {
		if _, ok := skipped[name]; !ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func without(names []string, drop string) []string {
	var out []string
	for _, n := range names {
		if n != drop {
			out = append(out, n)
		}
	}
	return out
}

// candidates splits cobra's __complete output into candidates (descriptions
// after a tab dropped) and the final ":<directive>" line.
func candidates(t *testing.T, r result) ([]string, string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("completion failed: %s", r)
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], ":") {
		t.Fatalf("no directive line: %s", r)
	}
	var out []string
	for _, l := range lines[:len(lines)-1] {
		out = append(out, strings.SplitN(l, "\t", 2)[0])
	}
	return out, lines[len(lines)-1]
}

func wantCandidates(t *testing.T, r result, want []string) {
	t.Helper()
	got, directive := candidates(t, r)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("candidates %q, want %q\n%s", got, want, r)
	}
	if directive != ":4" { // ShellCompDirectiveNoFileComp
		t.Errorf("directive %s, want :4 (no file names)", directive)
	}
}

// shimPath returns a PATH holding the repository's kubectl_complete-kpr
// next to the built kubectl-kpr, as the release archive lays them out.
func shimPath(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	shim, err := os.ReadFile(filepath.Join(repoRoot(), "kubectl_complete-kpr"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kubectl_complete-kpr"), shim, 0o755); err != nil {
		t.Fatal(err)
	}
	return "PATH=" + dir + string(os.PathListSeparator) + binDir + string(os.PathListSeparator) + os.Getenv("PATH")
}

func TestCompletionNodeNamesFromLab(t *testing.T) {
	needLab(t)
	wantCandidates(t, kpr(t, "__complete", "inspect", "node-"), labNodeNames(t))
	// Names already typed are not offered again.
	wantCandidates(t, kpr(t, "__complete", "inspect", "node-cilium", "node-"), without(labNodeNames(t), "node-cilium"))
}

func TestCompletionNamespacesAndServicesFromLab(t *testing.T) {
	needLab(t)
	got, _ := candidates(t, kpr(t, "__complete", "status", "-n", "kube-"))
	if !slices.Contains(got, "kube-system") || slices.Contains(got, "default") {
		t.Errorf("-n kube-<TAB>: %q, want kube-system and no default", got)
	}
	got, _ = candidates(t, kpr(t, "__complete", "probe", "-n", "kube-system", "nm-"))
	for _, svc := range []string{"nm-nginx", "nm-nginx-ovs"} {
		if !slices.Contains(got, svc) {
			t.Errorf("probe -n kube-system nm-<TAB>: %q lacks %s", got, svc)
		}
	}
}

// kubectl_complete-kpr is what kubectl runs; call it directly first...
func TestCompletionThroughShim(t *testing.T) {
	needLab(t)
	path := shimPath(t)
	wantCandidates(t, run(t, []string{path}, "kubectl_complete-kpr", "inspect", "node-"), labNodeNames(t))
}

// ...then through kubectl's own plugin completion (kubectl >= 1.26), which
// finds kubectl-kpr and kubectl_complete-kpr on PATH.
func TestCompletionThroughKubectl(t *testing.T) {
	needLab(t)
	path := shimPath(t)
	r := run(t, []string{path}, kubectlPath(t), "__complete", "kpr", "inspect", "node-")
	got, _ := candidates(t, r)
	slices.Sort(got)
	if want := labNodeNames(t); !slices.Equal(got, want) {
		t.Errorf("kubectl __complete kpr inspect node-: %q, want %q\n%s", got, want, r)
	}
	// The subcommands themselves.
	got, _ = candidates(t, run(t, []string{path}, kubectlPath(t), "__complete", "kpr", ""))
	for _, sub := range []string{"status", "completion", "version"} {
		if !slices.Contains(got, sub) {
			t.Errorf("kubectl __complete kpr \"\": %q lacks %s", got, sub)
		}
	}
}
