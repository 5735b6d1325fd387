package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// SIGINT while kpr waits on a probe that hangs (node-bare's ClusterIP):
// kpr must delete its debug pod before it exits. The pod goes to a
// namespace of its own, so that other runs against the same lab cannot
// blur what is checked.
func TestInterruptDeletesDebugPods(t *testing.T) {
	kc := needLab(t)
	const ns = "kpr-e2e-interrupt"
	kubectl(t, "create", "namespace", ns)
	t.Cleanup(func() { kubectl(t, "delete", "namespace", ns, "--wait=false") })
	podsHere := func() []string {
		r := kubectl(t, "get", "pods", "-n", ns, "-l", kprPodSelector, "-o", "name")
		if r.code != 0 {
			t.Fatalf("listing kpr pods: %s", r)
		}
		return strings.Fields(r.stdout)
	}
	cmd := exec.Command(kprBin, "probe", "nm-nginx-ovs", "-n", "kube-system", "--from", "node-bare", "--probe-timeout", "60s", "--debug-namespace", ns)
	cmd.Env = []string{"KUBECONFIG=" + kc, "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Wait until the debug pod exists, then give kpr a moment to be in the probe.
	deadline := time.Now().Add(60 * time.Second)
	for len(podsHere()) == 0 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no debug pod appeared; kpr output:\n%s\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("kpr did not exit within 30s of SIGINT")
	}
	if code := cmd.ProcessState.ExitCode(); code == 0 {
		t.Errorf("interrupted run exited 0")
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr should say it was interrupted:\n%s", stderr.String())
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		left := podsHere()
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("debug pods left after SIGINT: %v\nkpr stderr:\n%s", left, stderr.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestCleanupRemovesKeptPods(t *testing.T) {
	needLab(t)
	waitNoKprPods(t)
	r := kpr(t, "inspect", "node-cilium", "--keep", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stderr, "kept debug pods") {
		t.Fatalf("inspect --keep: %s", r)
	}
	if left := kprPodsLeft(t); len(left) != 1 {
		t.Fatalf("--keep: %d kpr pods, want 1", len(left))
	}
	r = kpr(t, "cleanup", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "would delete pod kube-system/kpr-node-cilium-") || len(kprPodsLeft(t)) != 1 {
		t.Errorf("cleanup --dry-run: %s", r)
	}
	r = kpr(t, "cleanup")
	if r.code != 0 || !strings.Contains(r.stdout, "deleted pod kube-system/kpr-node-cilium-") {
		t.Errorf("cleanup: %s", r)
	}
	waitNoKprPods(t)
	r = kpr(t, "cleanup", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"deleted": []`) {
		t.Errorf("cleanup with nothing left: %s", r)
	}
}
