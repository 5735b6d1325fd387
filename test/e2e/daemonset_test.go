package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// Daemonset mode on the lab: the real DaemonSet controller and scheduler
// place the pods, kwok runs them on the lab's nodes, and kpr execs into
// them. Each test works in a namespace of its own, so that what is left
// behind can be checked without other tests' pods blurring it.

// dsNamespace creates a namespace for one test and returns a function
// that lists every kpr object (DaemonSet, Job, pod) left in it.
func dsNamespace(t *testing.T, ns string) func() []string {
	t.Helper()
	kubectl(t, "create", "namespace", ns)
	t.Cleanup(func() { kubectl(t, "delete", "namespace", ns, "--wait=false") })
	return func() []string {
		r := kubectl(t, "get", "daemonsets,jobs,pods", "-n", ns, "-l", kprPodSelector, "-o", "name")
		if r.code != 0 {
			t.Fatalf("listing kpr objects: %s", r)
		}
		return strings.Fields(r.stdout)
	}
}

func waitNothingLeft(t *testing.T, left func() []string, within time.Duration, why string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		l := left()
		if len(l) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: left behind: %v", why, l)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

type dsInspectJSON struct {
	Nodes []struct {
		Name         string `json:"name"`
		ServicesBy   string `json:"servicesBy"`
		KubeProxyPod string `json:"kubeProxyPod"`
	} `json:"nodes"`
	Errors []struct {
		Node    string `json:"node"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"errors"`
}

// The same report through a DaemonSet as through per-node pods: byte for
// byte, and the NotReady node named with its reason in both.
func TestDaemonSetModeInspectMatchesPodsMode(t *testing.T) {
	needLab(t)
	left := dsNamespace(t, "kpr-e2e-ds-inspect")
	ds := kpr(t, "inspect", "--all-nodes", "--mode", "daemonset", "--debug-namespace", "kpr-e2e-ds-inspect", "-o", "json")
	waitNothingLeft(t, left, 15*time.Second, "after a daemonset-mode inspect")
	pods := kpr(t, "inspect", "--all-nodes", "--mode", "pods", "--debug-namespace", "kpr-e2e-ds-inspect", "-o", "json")
	if ds.code != pods.code || ds.code != 1 {
		t.Errorf("exit codes: daemonset %d, pods %d; want 1 for both (node-notready cannot be read)", ds.code, pods.code)
	}
	if maskSaveTimes(ds.stdout) != maskSaveTimes(pods.stdout) {
		t.Errorf("daemonset mode's report differs from pods mode's:\n--- daemonset\n%s\n--- pods\n%s", ds.stdout, pods.stdout)
	}
	var rep dsInspectJSON
	partialJSON(t, ds, &rep)
	if len(rep.Nodes) < 9 {
		t.Errorf("daemonset mode reported %d nodes, want every Ready lab node", len(rep.Nodes))
	}
	named := false
	for _, e := range rep.Errors {
		named = named || (e.Node == "node-notready" && e.Reason == "NodeNotReady")
	}
	if !named {
		t.Errorf("errors %+v do not name node-notready as NodeNotReady", rep.Errors)
	}
}

// One node whose pod cannot start (its image pull fails there, the lab's
// stage lab/kwok-stages/pod-image-pull-failure-one-node.yaml): that node
// is named with the reason at once, every other node's result still comes.
func TestDaemonSetModeNamesTheNodeThatCannotRunThePod(t *testing.T) {
	needLab(t)
	left := dsNamespace(t, "kpr-e2e-ds-pull")
	start := time.Now()
	r := kpr(t, "inspect", "--all-nodes", "--mode", "daemonset", "--debug-namespace", "kpr-e2e-ds-pull",
		"--image", "kpr.invalid/simulated-pull-failure-on-node-bare:v0", "--timeout", "60s", "-o", "json")
	took := time.Since(start)
	var rep dsInspectJSON
	partialJSON(t, r, &rep)
	if r.code != 1 {
		t.Errorf("exit %d, want 1 (partial results)", r.code)
	}
	reasons := map[string]string{}
	for _, e := range rep.Errors {
		reasons[e.Node] = e.Reason
		if e.Node == "node-bare" && !strings.Contains(e.Message, "ErrImagePull") {
			t.Errorf("node-bare's error says nothing of the pull: %s", e.Message)
		}
	}
	if reasons["node-bare"] != "ImagePull" || reasons["node-notready"] != "NodeNotReady" || len(reasons) != 2 {
		t.Errorf("errors by node %v, want exactly node-bare ImagePull and node-notready NodeNotReady", reasons)
	}
	got := map[string]string{}
	for _, n := range rep.Nodes {
		got[n.Name] = n.ServicesBy
	}
	if _, ok := got["node-cilium"]; !ok || len(got) < 8 {
		t.Errorf("the other nodes' results are missing: %v", got)
	}
	// Fail fast: a pull failure is final, no wait for --timeout.
	if took > 40*time.Second {
		t.Errorf("took %s: the pull failure should end node-bare's wait at once", took)
	}
	waitNothingLeft(t, left, 15*time.Second, "after a run with a failing node")
}

// SIGINT while every node's probe hangs: kpr deletes its DaemonSet, the
// anchor Job and the pods before it exits.
func TestDaemonSetModeInterruptLeavesNothing(t *testing.T) {
	const ns = "kpr-e2e-ds-interrupt"
	left := dsNamespace(t, ns)
	p := startHangingDaemonSetProbe(t, ns, left)
	time.Sleep(2 * time.Second) // into the hanging probes
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if r := p.wait(t, 30*time.Second); r.code != 130 {
		t.Errorf("interrupted run exited %d, want 130\n%s", r.code, r.stderr)
	}
	waitNothingLeft(t, left, 15*time.Second, "after SIGINT")
}

// startHangingDaemonSetProbe starts a daemonset-mode probe whose probes
// hang (nm-nginx-ovs from node-bare), and returns once its DaemonSet, Job
// and pods exist.
func startHangingDaemonSetProbe(t *testing.T, ns string, left func() []string) *proc {
	t.Helper()
	p := startKpr(t, "probe", "nm-nginx-ovs", "-n", "kube-system", "--from", "node-bare,node-iptables", "--mode", "daemonset",
		"--probe-timeout", "60s", "--debug-namespace", ns)
	deadline := time.Now().Add(60 * time.Second)
	for {
		l := strings.Join(left(), " ")
		if strings.Contains(l, "daemonset.apps/") && strings.Contains(l, "job.batch/") && strings.Contains(l, "pod/") {
			return p
		}
		if time.Now().After(deadline) {
			_ = p.cmd.Process.Kill()
			t.Fatalf("no DaemonSet, Job and pods appeared (have %q); kpr output:\n%s\n%s", l, p.out.String(), p.err.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// --keep leaves the DaemonSet; `kpr cleanup` finds and deletes it, its
// Job and its pods.
func TestCleanupRemovesKeptDaemonSet(t *testing.T) {
	needLab(t)
	const ns = "kpr-e2e-ds-keep"
	left := dsNamespace(t, ns)
	r := kpr(t, "inspect", "node-cilium", "node-iptables", "--mode", "daemonset", "--keep", "--debug-namespace", ns)
	if r.code != 0 || !strings.Contains(r.stderr, "daemonset "+ns+"/kpr-nodes-") {
		t.Fatalf("inspect --keep: %s", r)
	}
	if l := strings.Join(left(), " "); !strings.Contains(l, "daemonset.apps/") || !strings.Contains(l, "job.batch/") {
		t.Fatalf("--keep left %q, want the DaemonSet and its Job", l)
	}
	c := kpr(t, "cleanup", "-o", "json")
	var rep struct {
		Controllers []struct{ Kind, Namespace, Name string } `json:"controllers"`
	}
	mustJSON(t, c, &rep)
	kinds := map[string]bool{}
	for _, x := range rep.Controllers {
		if x.Namespace == ns {
			kinds[x.Kind] = true
		}
	}
	if !kinds["daemonset"] || !kinds["job"] {
		t.Errorf("cleanup deleted %+v, want the DaemonSet and the Job in %s", rep.Controllers, ns)
	}
	waitNothingLeft(t, left, 20*time.Second, "after kpr cleanup")
}

// Probes from every node through the DaemonSet give what per-node pods
// give: the Cilium node reaches the Service, the bare node does not.
func TestDaemonSetModeProbe(t *testing.T) {
	needLab(t)
	left := dsNamespace(t, "kpr-e2e-ds-probe")
	r := kpr(t, "probe", "nm-nginx", "-n", "kube-system", "--from", "node-cilium,node-bare", "--mode", "daemonset",
		"--probe-timeout", "2s", "--debug-namespace", "kpr-e2e-ds-probe", "-o", "json")
	var rep probeJSON
	mustJSON(t, r, &rep)
	got := map[string]string{}
	for _, p := range rep.Results {
		got[p.From+"/"+p.Kind] = p.Outcome
	}
	for k, v := range map[string]string{"node-cilium/clusterip": "ok", "node-cilium/nodeport-local": "ok", "node-bare/clusterip": "timeout"} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	waitNothingLeft(t, left, 15*time.Second, "after a daemonset-mode probe")
}

// runWithTTYStderr runs kpr with stderr on a pseudo-terminal (the way a
// person runs it) and stdout on a pipe; it returns both.
func runWithTTYStderr(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	cmd := exec.Command(kprBin, args...)
	cmd.Env = []string{"KUBECONFIG=" + needLab(t), "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TERM=xterm"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var errOut bytes.Buffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&errOut, ptmx); close(copied) }()
	_ = cmd.Wait()
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
	}
	return out.String(), errOut.String()
}

var progressLine = regexp.MustCompile(`\r\x1b\[K(status|services|inspect): (\d+)/(\d+) nodes`)

// On a terminal, many-node commands show a progress line on stderr,
// updated in place; with --quiet or without a terminal nothing; stdout is
// byte-identical in all three cases.
func TestProgressOnTerminalOnly(t *testing.T) {
	needLab(t)
	for _, args := range [][]string{
		{"status", "-o", "json"},
		{"services", "-A"},
		{"inspect", "--all-nodes", "--mode", "daemonset", "-o", "json"},
	} {
		t.Run(args[0], func(t *testing.T) {
			plain := kpr(t, args...)
			ttyOut, ttyErr := runWithTTYStderr(t, args...)
			quietOut, quietErr := runWithTTYStderr(t, append(args, "--quiet")...)
			if m := progressLine.FindAllStringSubmatch(ttyErr, -1); len(m) == 0 {
				t.Errorf("no progress line on a terminal's stderr: %q", ttyErr)
			} else if last := m[len(m)-1]; last[2] != last[3] {
				t.Errorf("last progress line %q does not reach the total", last[0])
			}
			if strings.Contains(plain.stderr, "\x1b[K") || strings.Contains(quietErr, "\x1b[K") {
				t.Errorf("progress shown without a terminal (%q) or with --quiet (%q)", plain.stderr, quietErr)
			}
			if maskSaveTimes(ttyOut) != maskSaveTimes(plain.stdout) || maskSaveTimes(quietOut) != maskSaveTimes(plain.stdout) {
				t.Errorf("stdout differs with a terminal stderr:\n--- plain\n%s\n--- tty\n%s\n--- quiet\n%s", plain.stdout, ttyOut, quietOut)
			}
		})
	}
}

// saveTime is the clock in iptables-save's header ("... on Thu Dec  3
// 23:54:24 2026"): the only bytes of an inspect report that change between
// two runs a second apart.
var saveTime = regexp.MustCompile(` on [A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}`)

func maskSaveTimes(s string) string { return saveTime.ReplaceAllString(s, " on <time>") }

// partialJSON is mustJSON for a run that exits 1 with partial results.
func partialJSON(t *testing.T, r result, v any) {
	t.Helper()
	if r.code != 0 && r.code != 1 {
		t.Fatalf("command failed: %s", r)
	}
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("stdout is not the expected JSON: %v\n%s", err, r)
	}
}

// SIGKILL: kpr cannot delete anything. What bounds the DaemonSet's life
// then is its anchor Job: the DaemonSet must be owned by it, and the Job
// must carry the deadline and a zero TTL (the Job controller fails it at
// the deadline, the TTL controller deletes it, the garbage collector the
// DaemonSet and its pods; waiting the 5 minutes is left to the unit of
// Kubernetes itself). `kpr cleanup` removes all of it at once.
func TestDaemonSetModeSIGKILLIsBoundedAndCleanedUp(t *testing.T) {
	const ns = "kpr-e2e-ds-kill"
	left := dsNamespace(t, ns)
	p := startHangingDaemonSetProbe(t, ns, left)
	_ = p.cmd.Process.Kill()
	<-p.done

	var ds struct {
		Items []struct {
			Metadata struct {
				OwnerReferences []struct{ Kind, Name, UID string } `json:"ownerReferences"`
			} `json:"metadata"`
		} `json:"items"`
	}
	mustJSON(t, kubectl(t, "get", "daemonsets", "-n", ns, "-l", kprPodSelector, "-o", "json"), &ds)
	var jobs struct {
		Items []struct {
			Metadata struct{ Name, UID string } `json:"metadata"`
			Spec     struct {
				Parallelism             *int `json:"parallelism"`
				ActiveDeadlineSeconds   *int `json:"activeDeadlineSeconds"`
				TTLSecondsAfterFinished *int `json:"ttlSecondsAfterFinished"`
			} `json:"spec"`
		} `json:"items"`
	}
	mustJSON(t, kubectl(t, "get", "jobs", "-n", ns, "-l", kprPodSelector, "-o", "json"), &jobs)
	if len(ds.Items) != 1 || len(jobs.Items) != 1 {
		t.Fatalf("after SIGKILL: %d DaemonSets, %d Jobs; want one of each", len(ds.Items), len(jobs.Items))
	}
	owners, job := ds.Items[0].Metadata.OwnerReferences, jobs.Items[0]
	if len(owners) != 1 || owners[0].Kind != "Job" || owners[0].UID != job.Metadata.UID {
		t.Errorf("DaemonSet owners %+v, want the anchor Job %s (%s)", owners, job.Metadata.Name, job.Metadata.UID)
	}
	if s := job.Spec; s.Parallelism == nil || *s.Parallelism != 0 || s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds < 300 || s.TTLSecondsAfterFinished == nil || *s.TTLSecondsAfterFinished != 0 {
		t.Errorf("anchor Job spec %+v: want parallelism 0, a deadline of at least 5 minutes, TTL 0", s)
	}
	if r := kpr(t, "cleanup"); r.code != 0 {
		t.Errorf("cleanup: %s", r)
	}
	waitNothingLeft(t, left, 20*time.Second, "after SIGKILL and kpr cleanup")
}
