package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The lab changes nothing global (issue 18): across lab-up and lab-down
// the machine's sysctls, root mount table, links and net.ipv4.ip_forward
// stay identical. lab/test.sh takes this snapshot before lab-up
// (TestGlobalStateSnapshot) and TestLabDownLeftNothing compares after
// lab-down, independently of lab/lab.sh's own check.

// kernelCounters change by themselves (dentries, inodes, open files, the
// last PID, a random UUID): not state anybody set.
var kernelCounters = regexp.MustCompile(`^(fs\.(dentry-state|file-nr|inode-nr|inode-state|aio-nr)|kernel\.(ns_last_pid|random\.(uuid|boot_id|entropy_avail)|pty\.nr)|net\.netfilter\.nf_conntrack_count) `)

func globalState() (string, error) {
	var b strings.Builder
	out, err := exec.Command("sysctl", "-a").Output()
	if err != nil && len(out) == 0 {
		return "", fmt.Errorf("sysctl -a: %v", err)
	}
	b.WriteString("## sysctl -a\n")
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && !kernelCounters.MatchString(l) {
			b.WriteString(l + "\n")
		}
	}
	fwd, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		return "", err
	}
	b.WriteString("## net.ipv4.ip_forward\n" + string(fwd))
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// mount point, then after the " - " separator the type and source.
		fields := strings.Fields(sc.Text())
		for i := 6; i < len(fields)-2; i++ {
			if fields[i] == "-" {
				mounts = append(mounts, fields[4]+" "+fields[i+1]+" "+fields[i+2])
				break
			}
		}
	}
	sort.Strings(mounts)
	b.WriteString("## root mount table\n" + strings.Join(mounts, "\n") + "\n")
	links, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		return "", fmt.Errorf("ip link: %v", err)
	}
	var names []string
	for _, l := range strings.Split(string(links), "\n") {
		if f := strings.SplitN(l, ": ", 3); len(f) > 1 {
			names = append(names, strings.SplitN(f[1], "@", 2)[0])
		}
	}
	sort.Strings(names)
	b.WriteString("## links\n" + strings.Join(names, "\n") + "\n")
	return b.String(), nil
}

// TestGlobalStateSnapshot writes the machine's global state to
// $KPR_E2E_GLOBAL_STATE (lab/test.sh runs it before lab-up).
func TestGlobalStateSnapshot(t *testing.T) {
	path := os.Getenv("KPR_E2E_GLOBAL_STATE")
	if path == "" || os.Getenv("KPR_E2E_BEFORE_LABUP") == "" {
		t.Skip("e2e: runs before lab-up (lab/test.sh sets KPR_E2E_BEFORE_LABUP=1 and KPR_E2E_GLOBAL_STATE)")
	}
	s, err := globalState()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, "kernel.unprivileged_bpf_disabled") {
		t.Fatalf("sysctl -a lists no kernel.unprivileged_bpf_disabled: the snapshot would not see the change a real agent makes")
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkGlobalStateUnchanged compares the machine's state now with the
// snapshot taken before lab-up, line by line.
func checkGlobalStateUnchanged(t *testing.T) {
	path := os.Getenv("KPR_E2E_GLOBAL_STATE")
	if path == "" {
		t.Log("no KPR_E2E_GLOBAL_STATE snapshot: global state not compared")
		return
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the snapshot taken before lab-up: %v", err)
	}
	now, err := globalState()
	if err != nil {
		t.Fatal(err)
	}
	gone, added := lineDiff(string(before), now)
	for _, l := range gone {
		t.Errorf("global state: before lab-up %q, not after lab-down", l)
	}
	for _, l := range added {
		t.Errorf("global state: after lab-down %q, not before lab-up", l)
	}
}

// lineDiff: the lines only in a, and only in b (as multisets).
func lineDiff(a, b string) (onlyA, onlyB []string) {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	for l, c := range count {
		for ; c > 0; c-- {
			onlyA = append(onlyA, l)
		}
		for ; c < 0; c++ {
			onlyB = append(onlyB, l)
		}
	}
	sort.Strings(onlyA)
	sort.Strings(onlyB)
	return onlyA, onlyB
}

func TestLineDiff(t *testing.T) {
	a, b := lineDiff("x = 1\ny = 2\n", "x = 1\ny = 1\nz\n")
	if strings.Join(a, "|") != "y = 2" || strings.Join(b, "|") != "y = 1|z" {
		t.Errorf("lineDiff: %q %q", a, b)
	}
}
