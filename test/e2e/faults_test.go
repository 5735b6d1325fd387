package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The fault matrix (issue 11, docs/reliability.md): every command under
// every fault the lab can produce. Each cell records the exit code,
// whether the nodes that worked were still reported, whether the error
// names its cause, and how many kpr objects (pods, DaemonSets, namespaces,
// Services with kpr's label) are left afterwards. Hard invariants, checked
// in every cell: no panic, no hang past the deadline, nothing left behind.
// The whole table is printed at the end, and written to $KPR_FAULTS_OUT
// (`make faults`).

// faultColumn is one command, run against two nodes so that a fault on
// one of them still leaves the other to report.
type faultColumn struct {
	name string
	args []string
	// agents: the command execs into Cilium agents; pods: it starts debug
	// pods (or, for verify, backends).
	agents, pods bool
}

var faultColumns = []faultColumn{
	{"status", []string{"status"}, true, false},
	{"services", []string{"services", "-A"}, true, false},
	{"inspect", []string{"inspect", "node-cilium", "node-stale"}, false, true},
	{"probe", []string{"probe", "nm-nginx", "-n", "kube-system", "--from", "node-cilium", "--from", "node-stale"}, false, true},
	{"diff", []string{"diff", "node-cilium", "node-stale"}, true, true},
	{"verify", []string{"verify", "--deploy-backends", "--node", "node-cilium", "--node", "node-stale", "-q"}, true, true},
}

type faultCell struct {
	code    int
	partial string // "yes", "no" or "-" (not applicable)
	cause   string // "yes", "no" or "-"
	left    int
	took    time.Duration
	note    string // why a cell could not be produced
}

func (c faultCell) String() string {
	if c.note != "" {
		return "n/a (" + c.note + ")"
	}
	code := fmt.Sprint(c.code)
	if c.code < 0 {
		code = "signal"
	}
	return fmt.Sprintf("exit %s, partial %s, cause %s, left %d, %.1fs", code, c.partial, c.cause, c.left, c.took.Seconds())
}

// kprObjectsLeft counts what kpr may create, anywhere in the cluster.
func kprObjectsLeft(t *testing.T) int {
	t.Helper()
	n := 0
	for _, kind := range []string{"pods", "daemonsets", "services"} {
		r := kubectl(t, "get", kind, "-A", "-l", kprPodSelector, "-o", "name")
		n += len(strings.Fields(r.stdout))
	}
	r := kubectl(t, "get", "namespaces", "-l", kprPodSelector, "-o", "name")
	for _, ns := range strings.Fields(r.stdout) {
		// A namespace being deleted is gone for good; count only live ones.
		if ph := kubectl(t, "get", ns, "-o", "jsonpath={.status.phase}"); strings.TrimSpace(ph.stdout) != "Terminating" {
			n++
		}
	}
	return n
}

// waitLeft waits up to d for kpr's objects to be gone and returns how many
// are still there.
func waitLeft(t *testing.T, d time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		n := kprObjectsLeft(t)
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// proc is a kpr run in the background.
type proc struct {
	cmd   *exec.Cmd
	out   bytes.Buffer
	err   bytes.Buffer
	done  chan struct{}
	start time.Time
}

func startKpr(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{done: make(chan struct{}), start: time.Now()}
	p.cmd = exec.Command(kprBin, args...)
	p.cmd.Env = []string{"KUBECONFIG=" + needLab(t), "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TERM=dumb"}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return p
}

// wait waits for the run to end, killing it (and failing) past deadline.
func (p *proc) wait(t *testing.T, deadline time.Duration) result {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(deadline):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%v did not end within %s: a hang", p.cmd.Args[1:], deadline)
	}
	return result{p.out.String(), p.err.String(), p.cmd.ProcessState.ExitCode()}
}

// midRun waits until the command has created something (pods, a verify
// namespace) or, for commands that create nothing, a moment into the run.
func (p *proc) midRun(t *testing.T, col faultColumn) {
	t.Helper()
	if !col.pods {
		// The caller made node-stale's agent hang (hangAgent): the
		// command is inside that exec by now.
		time.Sleep(time.Second)
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return
		default:
		}
		if kprObjectsLeft(t) > 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// slowStart is the lab's kwok stage image whose pods become Ready 8 s late
// (lab/lab.sh kwok_slow_start_stage): a signal or an API server restart
// then surely lands while kpr waits for its pods.
const slowStart = "kpr.invalid/simulated-slow-start:v0"

// midRunArgs makes a column's run last long enough to be hit mid-run.
func midRunArgs(t *testing.T, col faultColumn) []string {
	t.Helper()
	args := append([]string{}, col.args...)
	switch {
	case col.name == "verify":
		args = append(args, "--image", slowStart, "--backend-image", slowStart)
	case col.pods:
		args = append(args, "--image", slowStart)
	default:
		hangAgent(t, 60*time.Second)
	}
	return args
}

// hangAgent makes node-stale's REAL cilium-agent stall for d as a stuck
// agent does: SIGSTOP, so that its API (and every `cilium-dbg` exec'd into
// its pod) blocks while its BPF programs keep serving; SIGCONT after d, or
// at the end of the test, whichever comes first (lab-down kills it anyway).
func hangAgent(t *testing.T, d time.Duration) {
	t.Helper()
	pid := realAgentPID(t, "node-stale")
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP node-stale's agent (pid %d): %v", pid, err)
	}
	resume := time.AfterFunc(d, func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	t.Cleanup(func() {
		resume.Stop()
		_ = syscall.Kill(pid, syscall.SIGCONT)
	})
}

// realAgentPID finds the machine PID of a node's real cilium-agent
// (lab/cilium-agent.sh exports K8S_NODE_NAME for it).
func realAgentPID(t *testing.T, node string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		exe, _ := os.Readlink(p + "/exe")
		if filepath.Base(exe) != "cilium-agent" {
			continue
		}
		env, _ := os.ReadFile(p + "/environ")
		if strings.Contains("\x00"+string(env)+"\x00", "\x00K8S_NODE_NAME="+node+"\x00") {
			pid, err := strconv.Atoi(filepath.Base(p))
			if err == nil {
				return pid
			}
		}
	}
	t.Fatalf("no real cilium-agent process for %s", node)
	return 0
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func TestFaultMatrix(t *testing.T) {
	needLab(t)
	for _, c := range faultColumns {
		if !commandExists(t, c.name) {
			t.Fatalf("kubectl kpr %s is missing", c.name)
		}
	}
	bindRBAC(t)
	waitLeft(t, 30*time.Second)

	// A namespace where Pod Security rejects privileged debug pods.
	const restricted = "kpr-faults-restricted"
	kubectl(t, "create", "namespace", restricted)
	kubectl(t, "label", "namespace", restricted, "pod-security.kubernetes.io/enforce=restricted", "--overwrite")
	t.Cleanup(func() { kubectl(t, "delete", "namespace", restricted, "--wait=false") })

	type row struct {
		name string
		run  func(t *testing.T, col faultColumn) faultCell
	}
	// plain runs the column with extra flags and judges it.
	plain := func(extra []string, wantOK bool, cause []string) func(t *testing.T, col faultColumn) faultCell {
		return func(t *testing.T, col faultColumn) faultCell {
			start := time.Now()
			r := kpr(t, append(append([]string{}, col.args...), extra...)...)
			c := faultCell{code: r.code, took: time.Since(start), partial: "-", cause: "-"}
			noStackTrace(t, r)
			if wantOK && r.code != 0 && !(col.name == "verify" && r.code == 1) {
				t.Errorf("%s: exit %d:\n%s", col.name, r.code, r)
			}
			if len(cause) > 0 {
				msg := strings.ToLower(r.stdout + r.stderr)
				named := false
				for _, w := range cause {
					named = named || strings.Contains(msg, strings.ToLower(w))
				}
				c.cause = yesNo(named)
				if !named {
					t.Errorf("%s: the output names none of %q:\n%s", col.name, cause, r)
				}
			}
			c.left = waitLeft(t, 20*time.Second)
			return c
		}
	}
	signal := func(sig syscall.Signal) func(t *testing.T, col faultColumn) faultCell {
		return func(t *testing.T, col faultColumn) faultCell {
			p := startKpr(t, midRunArgs(t, col)...)
			p.midRun(t, col)
			_ = p.cmd.Process.Signal(sig)
			r := p.wait(t, 90*time.Second)
			noStackTrace(t, r)
			c := faultCell{code: r.code, took: time.Since(p.start), partial: "-", cause: "-"}
			if sig == syscall.SIGKILL {
				// Nothing runs after SIGKILL: cleanup is the user's step.
				cr := kpr(t, "cleanup")
				noStackTrace(t, cr)
			}
			c.left = waitLeft(t, 30*time.Second)
			// Commands that create something catch SIGINT/SIGTERM, delete it
			// and exit 130; status and services create nothing and die as
			// kubectl does.
			if col.pods && sig != syscall.SIGKILL && r.code != 130 {
				t.Errorf("%s after %v: exit %d, want 130:\n%s", col.name, sig, r.code, r)
			}
			return c
		}
	}

	rows := []row{
		{"clean run", plain(nil, true, nil)},
		{"command error (unknown --context)", plain([]string{"--context", "no-such-context"}, false, []string{"no-such-context"})},
		{"SIGINT", signal(syscall.SIGINT)},
		{"SIGTERM", signal(syscall.SIGTERM)},
		{"SIGKILL, then kubectl kpr cleanup", signal(syscall.SIGKILL)},
		{"API server restarted mid-run", func(t *testing.T, col faultColumn) faultCell {
			p := startKpr(t, append(midRunArgs(t, col), "--request-timeout", "10s")...)
			p.midRun(t, col)
			lab := exec.Command(filepath.Join(repoRoot(), "lab", "lab.sh"), "restart-apiserver", "3")
			if out, err := lab.CombinedOutput(); err != nil {
				t.Fatalf("restarting the API server: %v\n%s", err, out)
			}
			r := p.wait(t, 120*time.Second)
			noStackTrace(t, r)
			c := faultCell{code: r.code, took: time.Since(p.start), partial: "-", cause: "-"}
			if r.code != 0 {
				msg := strings.ToLower(r.stdout + r.stderr)
				c.cause = yesNo(strings.Contains(msg, "connection refused") || strings.Contains(msg, "eof") || strings.Contains(msg, "timeout") ||
					strings.Contains(msg, "unavailable") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "dial tcp"))
			}
			c.left = waitLeft(t, 60*time.Second)
			// The lab's own clients (kwok, controllers) re-list after the
			// restart: wait until a debug pod runs again before the next cell.
			for deadline := time.Now().Add(90 * time.Second); ; {
				if kpr(t, "inspect", "node-cilium", "node-stale").code == 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(2 * time.Second)
			}
			waitLeft(t, 30*time.Second)
			return c
		}},
		{"agent exec hangs past --timeout (node-stale)", func(t *testing.T, col faultColumn) faultCell {
			if !col.agents {
				return faultCell{note: "no agent exec"}
			}
			hangAgent(t, 120*time.Second)
			start := time.Now()
			p := startKpr(t, append(append([]string{}, col.args...), "--timeout", "4s")...)
			// The agent stays stopped for 120 s: ending well before that is
			// what shows no command waits on it. verify deploys and probes
			// every behaviour check meanwhile (49 s measured in make e2e).
			r := p.wait(t, 90*time.Second)
			noStackTrace(t, r)
			c := faultCell{code: r.code, took: time.Since(start)}
			msg := strings.ToLower(r.stdout + r.stderr)
			c.cause = yesNo(strings.Contains(msg, "deadline") || strings.Contains(msg, "timed out") || strings.Contains(msg, "timeout"))
			c.partial = yesNo(strings.Contains(r.stdout, "node-cilium"))
			if c.cause == "no" || c.partial == "no" {
				t.Errorf("%s with a hanging agent: cause %s, partial %s:\n%s", col.name, c.cause, c.partial, r)
			}
			c.left = waitLeft(t, 30*time.Second)
			return c
		}},
		{"image pull failure (simulated)", func(t *testing.T, col faultColumn) faultCell {
			if !col.pods {
				return faultCell{note: "starts no pod"}
			}
			flag := "--image"
			if col.name == "verify" {
				flag = "--backend-image"
			}
			return plain([]string{flag, "kpr.invalid/simulated-pull-failure:v0", "--timeout", "60s"}, false, []string{"ImagePull", "pull"})(t, col)
		}},
		{"PodSecurity rejects the debug pod", func(t *testing.T, col faultColumn) faultCell {
			if !col.pods {
				return faultCell{note: "starts no pod"}
			}
			return plain([]string{"--debug-namespace", restricted}, false, []string{"PodSecurity", "violates", "forbidden"})(t, col)
		}},
		{"RBAC: kpr-reader", func(t *testing.T, col faultColumn) faultCell {
			want := []string{"forbidden", "permission", "cannot"}
			if !col.pods {
				return plain([]string{"--context", readerContext}, true, nil)(t, col)
			}
			return plain([]string{"--context", readerContext}, false, want)(t, col)
		}},
		{"RBAC: kpr-inspector", func(t *testing.T, col faultColumn) faultCell {
			if col.name == "verify" {
				// --deploy-backends needs create namespaces: no shipped role has it.
				return plain([]string{"--context", inspectorContext}, false, []string{"missing permission `create namespaces`"})(t, col)
			}
			return plain([]string{"--context", inspectorContext}, true, nil)(t, col)
		}},
		{"target node deleted / NotReady mid-run", func(t *testing.T, col faultColumn) faultCell {
			return faultCell{note: "not produced, see below"}
		}},
	}

	cells := map[[2]string]faultCell{}
	for _, r := range rows {
		for _, col := range faultColumns {
			t.Run(r.name+"/"+col.name, func(t *testing.T) {
				c := r.run(t, col)
				if c.note == "" && c.left != 0 {
					t.Errorf("%d kpr object(s) left behind", c.left)
					// Clean up for the next cells; the cell stays red.
					kpr(t, "cleanup")
					waitLeft(t, 30*time.Second)
				}
				cells[[2]string{r.name, col.name}] = c
			})
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "| fault \\ command |")
	for _, col := range faultColumns {
		fmt.Fprintf(&b, " %s |", col.name)
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(faultColumns)) + "\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s |", r.name)
		for _, col := range faultColumns {
			fmt.Fprintf(&b, " %s |", cells[[2]string{r.name, col.name}])
		}
		b.WriteString("\n")
	}
	b.WriteString("\nCells read: exit code (\"signal\": killed by it), partial results for the node that worked, the error names its cause, kpr objects left afterwards (pods, DaemonSets, Services, namespaces with kpr's label; after `kubectl kpr cleanup` for SIGKILL), wall time.\n\n" +
		"Not produced: deleting a lab node mid-run cannot be undone without a new lab-up (kwok serves the node, but the Node object and its pods would be gone for every later test), and a node goes NotReady only after the controller-manager's 120 s node-monitor grace period, longer than any command here runs; a node that is NotReady when the run starts is the lab's node-notready, which every scenario test meets (TestScenarioInspectEveryNode: named with the reason, the other nodes still reported; TestVerifyDeployBackends: its node-checked check fails with the reason), and missing nodes are covered by debugpod.NodeState's unit tests and TestInspectAllNodesAndUnknownNode.\n")
	t.Logf("fault matrix (%s):\n%s", time.Now().UTC().Format("2006-01-02"), b.String())
	if out := os.Getenv("KPR_FAULTS_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}
