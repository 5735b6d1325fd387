package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLabDownLeftNothing runs after `make lab-down` (make test sets
// KPR_E2E_AFTER_LABDOWN=1). It checks, independently of lab/lab.sh, that
// no network namespace, bridge, veth, mount or process of the lab is left.
func TestLabDownLeftNothing(t *testing.T) {
	if os.Getenv("KPR_E2E_AFTER_LABDOWN") == "" {
		t.Skip("e2e: runs after `make lab-down` (make test sets KPR_E2E_AFTER_LABDOWN=1)")
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	if strings.Contains(string(out), "kprlab-") {
		t.Errorf("network namespaces left:\n%s", out)
	}
	links, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatalf("ip link: %v", err)
	}
	for _, l := range strings.Split(string(links), "\n") {
		f := strings.SplitN(l, ": ", 3)
		if len(f) > 1 && (f[1] == "kprlab0" || strings.HasPrefix(f[1], "kpr-")) {
			t.Errorf("link left: %s", l)
		}
	}
	mounts, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer mounts.Close()
	sc := bufio.NewScanner(mounts)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 4 && (strings.Contains(f[4], "/run/netns/kprlab-") || f[4] == "/host" || strings.HasPrefix(f[4], "/host/")) {
			t.Errorf("mount left: %s", sc.Text())
		}
	}
	// Processes: anything running a binary from .lab/bin, or a binary from
	// the lab's cache with this lab's files (.lab/) on its command line, or
	// the lab's node init. (Others may run the cached binaries with their
	// own files, e.g. the scale bench: not the lab's.)
	home, _ := os.UserHomeDir()
	cache := filepath.Join(home, ".cache", "kubectl-kpr", "lab")
	labDir := filepath.Join(repoRoot(), ".lab")
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		exe, _ := os.Readlink(p + "/exe")
		cmdline, _ := os.ReadFile(p + "/cmdline")
		if strings.HasPrefix(exe, labDir+"/bin/") ||
			(strings.HasPrefix(exe, cache) && strings.Contains(string(cmdline), labDir+"/")) ||
			// The real Cilium agents (cached apart, ~/.cache/kubectl-kpr/cilium).
			(filepath.Base(exe) == "cilium-agent" && strings.Contains(string(cmdline), labDir+"/")) ||
			strings.Contains(string(cmdline), "lab/node-init.sh") {
			t.Errorf("process left: %s %s %q", p, exe, strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	if _, err := os.Stat(filepath.Join(repoRoot(), ".lab", "run")); err == nil {
		t.Errorf(".lab/run left behind")
	}
	// The real-agent nodes' cgroup2 subtrees (socket-LB's attach points).
	for _, root := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		if left, _ := filepath.Glob(filepath.Join(root, "kprlab-*")); len(left) > 0 {
			t.Errorf("cgroups left: %v", left)
		}
	}
	checkGlobalStateUnchanged(t)
}
