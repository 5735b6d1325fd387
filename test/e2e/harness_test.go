// Package e2e drives the built kubectl-kpr binary against the local lab
// (lab/README.md), the way krew's integration tests drive theirs: one build
// in TestMain, then the binary runs as a process, directly and through a
// pinned kubectl's plugin discovery.
//
// The tests need the lab. `make test` (as root) brings it up, runs them with
// KPR_E2E_KUBECONFIG set, and tears it down; without that variable every
// test skips.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

const skipMsg = "e2e: run `make test` as root (brings the lab up) or set KPR_E2E_KUBECONFIG"

var (
	// binDir holds the built kubectl-kpr (and nothing else), for PATH.
	binDir string
	kprBin string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	kc := os.Getenv("KPR_E2E_KUBECONFIG")
	if kc == "" {
		return m.Run() // every test skips with skipMsg
	}
	if _, err := os.Stat(kc); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: KPR_E2E_KUBECONFIG=%s: %v (is the lab up? sudo make lab-up)\n", kc, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "kpr-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = filepath.Join(dir, "bin")
	kprBin = filepath.Join(binDir, "kubectl-kpr")
	build := exec.Command("go", "build", "-o", kprBin, "./cmd/kubectl-kpr")
	build.Dir = repoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building kubectl-kpr: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// needLab skips unless the lab's kubeconfig was given.
func needLab(t *testing.T) string {
	t.Helper()
	kc := os.Getenv("KPR_E2E_KUBECONFIG")
	if kc == "" {
		t.Skip(skipMsg)
	}
	return kc
}

// labFile returns a file next to the lab's kubeconfig (.lab/...).
func labFile(t *testing.T, name string) string {
	return filepath.Join(filepath.Dir(needLab(t)), name)
}

// kubectlPath is the pinned kubectl the lab built (make sets KPR_E2E_KUBECTL).
func kubectlPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KPR_E2E_KUBECTL"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache", "kubectl-kpr", "lab", "v1.37.2", "bin", "kubectl")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("e2e: the lab's kubectl is not at %s; set KPR_E2E_KUBECTL", p)
	}
	return p
}

// result of one process run.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s\n--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// run runs name with args and a clean environment: KUBECONFIG from the
// lab, PATH with the built plugin first, no color hints from the caller.
func run(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fullEnv := append([]string{
		"KUBECONFIG=" + needLab(t),
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"TERM=dumb",
	}, env...)
	// Resolve a bare name with the child's PATH (the last PATH= wins, as
	// in exec.Cmd.Env), not the test process's.
	if !strings.Contains(name, "/") {
		name = lookPath(t, name, fullEnv)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = fullEnv
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running %s %v: %v", name, args, err)
		}
		code = ee.ExitCode()
	}
	return result{stdout.String(), stderr.String(), code}
}

func lookPath(t *testing.T, name string, env []string) string {
	t.Helper()
	path := ""
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			path = strings.TrimPrefix(kv, "PATH=")
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("%s not found on PATH %s", name, path)
	return ""
}

// kpr runs the built binary.
func kpr(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, nil, kprBin, args...)
}

// kubectl runs the pinned kubectl against the lab as admin.
func kubectl(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, nil, kubectlPath(t), args...)
}

// mustJSON decodes r's stdout into v or fails with the whole run.
func mustJSON(t *testing.T, r result, v any) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("command failed: %s", r)
	}
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("stdout is not the expected JSON: %v\n%s", err, r)
	}
}

// commandExists reports whether the built kpr has a working subcommand:
// `kubectl-kpr <sub> --help` succeeds and the command is not a placeholder.
func commandExists(t *testing.T, sub string) bool {
	t.Helper()
	r := kpr(t, sub, "--help")
	return r.code == 0 && !strings.Contains(r.stdout, "not implemented yet")
}

// noStackTrace fails if output looks like a Go panic or a stack dump.
func noStackTrace(t *testing.T, r result) {
	t.Helper()
	for _, marker := range []string{"goroutine ", "panic:", ".go:", "runtime/debug"} {
		if strings.Contains(r.stderr, marker) || strings.Contains(r.stdout, marker) {
			t.Errorf("output contains %q, want a clean error:\n%s", marker, r)
		}
	}
}
