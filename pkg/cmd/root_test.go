package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestNoKubeconfigIsAClearError(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	t.Setenv("KUBECONFIG", missing)
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	code := Execute(streams, []string{"status"})
	if code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "no kubeconfig found (looked at "+missing+")") || !strings.Contains(errOut.String(), "set KUBECONFIG") {
		t.Fatalf("stderr = %q", errOut.String())
	}
	if out.Len() != 0 {
		t.Fatalf("stdout not empty: %q", out.String())
	}
}

func TestUnreachableServerReadsLikeKubectl(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	// Port 1 on loopback: nothing listens, the connection is refused at once.
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: x, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: x, context: {cluster: x, user: x}}]
current-context: x
users: [{name: x, user: {token: t}}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	code := Execute(streams, []string{"status", "--kubeconfig", kc})
	if code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	want := "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?"
	if strings.TrimSpace(errOut.String()) != want {
		t.Fatalf("stderr = %q, want %q", errOut.String(), want)
	}
}

func TestBadColorFlag(t *testing.T) {
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "nope"))
	if code := Execute(streams, []string{"status", "--color", "sometimes"}); code != 1 || !strings.Contains(errOut.String(), `invalid --color "sometimes"`) {
		t.Fatalf("status --color sometimes: exit %d, stderr %q", code, errOut.String())
	}
}
