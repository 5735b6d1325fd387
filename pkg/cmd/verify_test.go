package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// verify's own failures to run exit 2, whatever the cause: bad flags, no
// kubeconfig, no server.
func TestVerifyCannotRunExitsTwo(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: x, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: x, context: {cluster: x, user: x}}]
current-context: x
users: [{name: x, user: {token: t}}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"verify"}, "verify needs targets"},
		{[]string{"verify", "--service", "nm-nginx"}, `--service "nm-nginx": want NAMESPACE/NAME`},
		{[]string{"verify", "--deploy-backends", "--sample", "0"}, "--sample must be at least 1"},
		{[]string{"verify", "--deploy-backends", "--all-nodes", "--node", "a"}, "not both"},
		{[]string{"verify", "--deploy-backends", "--report", "r.pdf"}, "must end in .md or .html"},
		{[]string{"verify", "--deploy-backends", "-o", "wide"}, "unsupported output format"},
		{[]string{"verify", "--deploy-backends", "--settle", "-1s"}, "--settle must not be negative"},
		{[]string{"verify", "--deploy-backends", "--kubeconfig", kc}, "refused"},
	} {
		streams, _, out, errOut := genericiooptions.NewTestIOStreams()
		code := Execute(streams, c.args)
		if code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errOut.String(), c.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: stdout %q", c.args, out.String())
		}
	}
}
