package cmd

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func completionFixture() *fake.Clientset {
	return fake.NewSimpleClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-cilium"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-bare"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-1"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "nm-nginx", Namespace: "kube-system"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "nm-nginx-ovs", Namespace: "kube-system"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"}},
	)
}

// useCompletionClient makes the completion helpers talk to cs for one test.
func useCompletionClient(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	saved := completionClient
	completionClient = func(*RootOptions) (kubernetes.Interface, error) { return cs, nil }
	t.Cleanup(func() { completionClient = saved })
}

// runComplete runs cobra's hidden __complete command on root the way a
// shell (or kubectl_complete-kpr) does and returns the candidates, the
// directive line and stderr.
func runComplete(t *testing.T, root *cobra.Command, out, errOut *bytes.Buffer, args ...string) (candidates []string, directive string, stderr string) {
	t.Helper()
	root.SetArgs(append([]string{cobra.ShellCompRequestCmd}, args...))
	if err := root.Execute(); err != nil {
		t.Fatalf("__complete %q: %v", args, err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], ":") {
		t.Fatalf("__complete %q: no directive line in %q", args, out.String())
	}
	return lines[:len(lines)-1], lines[len(lines)-1], errOut.String()
}

func newCompletionTestRoot() (*cobra.Command, *bytes.Buffer, *bytes.Buffer) {
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	return NewRootCmd(streams), out, errOut
}

const noFileComp = ":4" // cobra.ShellCompDirectiveNoFileComp

func TestCompletionNodeNamesForInspect(t *testing.T) {
	useCompletionClient(t, completionFixture())
	root, out, errOut := newCompletionTestRoot()
	got, directive, _ := runComplete(t, root, out, errOut, "inspect", "node-")
	if want := []string{"node-bare", "node-cilium"}; !slices.Equal(got, want) {
		t.Errorf("candidates = %q, want %q", got, want)
	}
	if directive != noFileComp {
		t.Errorf("directive = %q, want %q (never fall back to file names)", directive, noFileComp)
	}
}

func TestCompletionSkipsNodesAlreadyGiven(t *testing.T) {
	useCompletionClient(t, completionFixture())
	root, out, errOut := newCompletionTestRoot()
	got, _, _ := runComplete(t, root, out, errOut, "inspect", "node-cilium", "")
	if want := []string{"node-bare", "worker-1"}; !slices.Equal(got, want) {
		t.Errorf("candidates = %q, want %q", got, want)
	}
}

func TestCompletionDiffStopsAfterTwoNodes(t *testing.T) {
	useCompletionClient(t, completionFixture())
	root, out, errOut := newCompletionTestRoot()
	got, directive, _ := runComplete(t, root, out, errOut, "diff", "node-cilium", "node-bare", "")
	if len(got) != 0 || directive != noFileComp {
		t.Errorf("third diff argument: candidates %q directive %q, want none and %q", got, directive, noFileComp)
	}
}

func TestCompletionNamespaces(t *testing.T) {
	useCompletionClient(t, completionFixture())
	root, out, errOut := newCompletionTestRoot()
	got, _, _ := runComplete(t, root, out, errOut, "status", "-n", "kube")
	if want := []string{"kube-system"}; !slices.Equal(got, want) {
		t.Errorf("candidates = %q, want %q", got, want)
	}
}

func TestCompletionServiceNamesRespectNamespace(t *testing.T) {
	useCompletionClient(t, completionFixture())
	root, out, errOut := newCompletionTestRoot()
	got, _, _ := runComplete(t, root, out, errOut, "probe", "-n", "kube-system", "")
	if want := []string{"nm-nginx", "nm-nginx-ovs"}; !slices.Equal(got, want) {
		t.Errorf("-n kube-system: candidates = %q, want %q", got, want)
	}

	root, out, errOut = newCompletionTestRoot()
	got, _, _ = runComplete(t, root, out, errOut, "probe", "--namespace=default", "")
	if want := []string{"kubernetes"}; !slices.Equal(got, want) {
		t.Errorf("--namespace=default: candidates = %q, want %q", got, want)
	}

	root, out, errOut = newCompletionTestRoot()
	got, _, _ = runComplete(t, root, out, errOut, "probe", "-n", "kube-system", "nm-nginx", "")
	if len(got) != 0 {
		t.Errorf("probe takes one SERVICE, second argument offered %q", got)
	}
}

// Flags named node/from/service on any subcommand get completion without
// the command registering it; a command's own registration wins.
func TestRegisterCompletionsByFlagName(t *testing.T) {
	useCompletionClient(t, completionFixture())
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	o := &RootOptions{ConfigFlags: genericclioptions.NewConfigFlags(true), Streams: streams}
	root := &cobra.Command{Use: "kubectl-kpr"}
	root.SetOut(out)
	root.SetErr(errOut)
	o.ConfigFlags.AddFlags(root.PersistentFlags())

	services := &cobra.Command{Use: "services", Run: func(*cobra.Command, []string) {}}
	services.Flags().String("node", "", "")
	services.Flags().String("cilium-namespace", "", "")
	probe := &cobra.Command{Use: "probe", Run: func(*cobra.Command, []string) {}}
	probe.Flags().StringSlice("from", nil, "")
	probe.Flags().String("service", "", "")
	custom := &cobra.Command{Use: "custom", Run: func(*cobra.Command, []string) {}}
	custom.Flags().String("node", "", "")
	_ = custom.RegisterFlagCompletionFunc("node", cobra.FixedCompletions([]string{"mine"}, cobra.ShellCompDirectiveNoFileComp))
	root.AddCommand(services, probe, custom)
	registerCompletions(root, o)

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"services", "--node", "node-c"}, []string{"node-cilium"}},
		{[]string{"probe", "--from", "w"}, []string{"worker-1"}},
		{[]string{"probe", "-n", "kube-system", "--service", ""}, []string{"nm-nginx", "nm-nginx-ovs"}},
		{[]string{"custom", "--node", ""}, []string{"mine"}},
		{[]string{"services", "--namespace", "d"}, []string{"default"}},
		{[]string{"services", "--cilium-namespace", "kube"}, []string{"kube-system"}},
	} {
		out.Reset()
		errOut.Reset()
		got, _, _ := runComplete(t, root, out, errOut, tc.args...)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: candidates = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestCompletionAPIErrorGivesNoCandidates(t *testing.T) {
	cs := completionFixture()
	cs.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New(`nodes is forbidden: User "bob" cannot list resource "nodes"`)
	})
	useCompletionClient(t, cs)
	root, out, errOut := newCompletionTestRoot()
	got, directive, stderr := runComplete(t, root, out, errOut, "inspect", "")
	if len(got) != 0 || directive != noFileComp {
		t.Errorf("candidates %q directive %q, want none and %q", got, directive, noFileComp)
	}
	if !strings.Contains(stderr, "cannot list resource \"nodes\"") {
		t.Errorf("stderr %q does not explain the failure", stderr)
	}
}

// A server that never answers must not hang the shell: the lookup gives up
// after completionTimeout. The server is an httptest listener on loopback.
func TestCompletionGivesUpOnSlowServer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	root, out, errOut := newCompletionTestRoot()
	start := time.Now()
	got, directive, _ := runComplete(t, root, out, errOut, "--server", srv.URL, "--kubeconfig", os.DevNull, "inspect", "")
	elapsed := time.Since(start)
	if len(got) != 0 || directive != noFileComp {
		t.Errorf("candidates %q directive %q, want none and %q", got, directive, noFileComp)
	}
	// Generous bound: this checks that the timeout exists, not its speed.
	if elapsed > 5*completionTimeout {
		t.Errorf("completion took %v against a silent server, want it to give up after about %v", elapsed, completionTimeout)
	}
}

func TestCompletionContextsFromKubeconfig(t *testing.T) {
	kubeconfig := t.TempDir() + "/config"
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {}}]
contexts:
- {name: lab, context: {cluster: c, user: u}}
- {name: prod-eu, context: {cluster: c, user: u}}
- {name: prod-us, context: {cluster: c, user: u}}
current-context: lab
`), 0o600); err != nil {
		t.Fatal(err)
	}
	root, out, errOut := newCompletionTestRoot()
	got, _, _ := runComplete(t, root, out, errOut, "--kubeconfig", kubeconfig, "status", "--context", "prod")
	if want := []string{"prod-eu", "prod-us"}; !slices.Equal(got, want) {
		t.Errorf("candidates = %q, want %q", got, want)
	}
}

func TestMatchingNames(t *testing.T) {
	got := matchingNames([]string{"b", "a2", "a1", "c"}, []string{"a2"}, "a")
	if want := []string{"a1"}; !slices.Equal(got, want) {
		t.Errorf("matchingNames = %q, want %q", got, want)
	}
	if got := matchingNames(nil, nil, ""); len(got) != 0 {
		t.Errorf("matchingNames(nil) = %q, want empty", got)
	}
}

// The real commands' flags: each one that names a node or a namespace has
// a completion function once NewRootCmd returns.
func TestCompletionRegisteredOnRealFlags(t *testing.T) {
	root, _, _ := newCompletionTestRoot()
	for _, tc := range []struct{ cmd, flag string }{
		{"status", "node"}, {"status", "cilium-namespace"}, {"services", "node"},
		{"probe", "from"}, {"inspect", "debug-namespace"}, {"status", "namespace"},
	} {
		c, _, err := root.Find([]string{tc.cmd})
		if err != nil || c.Name() != tc.cmd {
			t.Errorf("no command %s: %v", tc.cmd, err)
			continue
		}
		if c.Flag(tc.flag) == nil {
			t.Errorf("%s has no --%s any more: update flagCompletions", tc.cmd, tc.flag)
			continue
		}
		if _, ok := c.GetFlagCompletionFunc(tc.flag); !ok {
			t.Errorf("%s --%s has no completion", tc.cmd, tc.flag)
		}
	}
	for _, name := range []string{"inspect", "diff", "probe"} {
		c, _, err := root.Find([]string{name})
		if err != nil || c.ValidArgsFunction == nil {
			t.Errorf("%s: positional arguments not completed (%v)", name, err)
		}
	}
}
