package e2e

import (
	"strings"
	"testing"
)

// The lab's "nobody" identity is authenticated but bound to nothing: kpr
// must say what it may not do, exit 1, and not dump a stack.
func TestNobodyGetsPermissionError(t *testing.T) {
	needLab(t)
	for _, args := range [][]string{
		{"status", "--kubeconfig", labFile(t, "kubeconfig-nobody")},
		{"status", "--context", "kpr-lab-nobody"},
		{"services", "-A", "--context", "kpr-lab-nobody"},
	} {
		r := kpr(t, args...)
		if r.code != 1 {
			t.Errorf("%v: exit %d, want 1: %s", args, r.code, r)
		}
		msg := strings.ToLower(r.stderr)
		if !strings.Contains(msg, "forbidden") && !strings.Contains(msg, "permission") {
			t.Errorf("%v: stderr does not name the permission problem: %s", args, r)
		}
		if !strings.Contains(r.stderr, "nobody") && !strings.Contains(msg, "list") {
			t.Errorf("%v: stderr should say who or what was refused: %s", args, r)
		}
		noStackTrace(t, r)
	}
}

// Plain bad input: a kubeconfig that points nowhere gives kubectl's kind of
// error, exit 1.
func TestMissingKubeconfig(t *testing.T) {
	needLab(t)
	r := kpr(t, "status", "--kubeconfig", t.TempDir()+"/none")
	if r.code != 1 || r.stderr == "" {
		t.Errorf("missing kubeconfig: %s", r)
	}
	noStackTrace(t, r)
}
