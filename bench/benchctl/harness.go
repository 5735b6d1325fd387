package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Case is one command the harness times.
type Case struct {
	Name string `json:"name"`
	// UserAgent prefix of the case's API requests in the audit log.
	UserAgent string   `json:"userAgent,omitempty"`
	Argv      []string `json:"argv"`
	Runs      int      `json:"runs"`
	Warmup    int      `json:"warmup"`
	// Check validates one run's stdout; nil accepts anything.
	Check func(stdout []byte) error `json:"-"`
	// FailedChecksOK accepts exit code 1 (kpr verify: some checks
	// failed, the report is complete) when Check passes.
	FailedChecksOK bool `json:"-"`
}

// Run is one timed execution.
type Run struct {
	Wall     time.Duration  `json:"wallNs"`
	CPU      time.Duration  `json:"cpuNs"`
	MaxRSSKB int64          `json:"maxRssKiB"`
	API      map[string]int `json:"api,omitempty"`
	Err      string         `json:"error,omitempty"`
}

// Result is a case's runs at one N.
type Result struct {
	Case  string `json:"case"`
	Nodes int    `json:"nodes"`
	Argv  string `json:"argv"`
	Runs  []Run  `json:"runs"`
	// Note is a free-form remark (the hang run's outcome).
	Note string `json:"note,omitempty"`
	// Limit is a wall-clock bound the case must meet (the hang run).
	Limit time.Duration `json:"limitNs,omitempty"`
	// Load is the machine's 1-minute load average when the case started:
	// the machine is shared, and a busy one skews every number.
	Load float64 `json:"load1"`
}

// Results is one `benchctl run`.
type Results struct {
	Machine string   `json:"machine"`
	Date    string   `json:"date"`
	Nodes   int      `json:"nodes"`
	Results []Result `json:"results"`
}

func cmdRun(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	nodes := fs.Int("nodes", 0, "number of nodes in the lab (for the report)")
	kpr := fs.String("kpr", "bin/kubectl-kpr", "kubectl-kpr binary")
	kubectl := fs.String("kubectl", "kubectl", "kubectl binary")
	floor := fs.String("floor", "", "floor binary")
	kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the lab")
	audit := fs.String("audit-log", "", "API server audit log (for request counts)")
	data := fs.String("data", "", "the stand-in's data directory (for the hang run)")
	cases := fs.String("cases", "floor,status,xargs,seq,services,hang", "cases to run, comma-separated")
	runs := fs.Int("runs", 5, "timed runs per fast case")
	slowRuns := fs.Int("slow-runs", 3, "timed runs for the xargs and sequential cases")
	hangTimeout := fs.Duration("hang-timeout", 10*time.Second, "kpr --timeout in the hang run")
	sysdump := fs.String("sysdump", "", "sysdump-like folder for the analyze case")
	out := fs.String("out", "", "write results JSON here")
	_ = fs.Parse(args)

	if _, err := os.Stat(gnuTime); err != nil {
		return fmt.Errorf("%s is needed to measure peak RSS (Debian package \"time\"): %v", gnuTime, err)
	}
	env := append(os.Environ(), "KUBECONFIG="+*kubeconfig)
	// kpr's node checks: the bench's debug namespace, a --timeout that
	// covers 1000 pods starting on 2 cores, JSON to check.
	nodeFlags := []string{"--debug-namespace", benchDebugNamespace, "--timeout", "120s", "--concurrency", "16", "-o", "json"}
	podList := *kubectl + ` get pods -A -l k8s-app=cilium -o go-template='{{range .items}}-n {{.metadata.namespace}} {{.metadata.name}} -- cilium-dbg status -o json{{"\n"}}{{end}}'`
	all := map[string]Case{
		"floor": {Name: "floor (client-go, 32 WebSocket execs in flight)", UserAgent: "kpr-bench-floor", Argv: []string{*floor}, Runs: *runs, Warmup: 1},
		"status": {Name: "kubectl kpr status -o json", UserAgent: "kubectl-kpr", Argv: []string{*kpr, "status", "-o", "json"}, Runs: *runs, Warmup: 1,
			Check: checkStatus(*nodes, 0)},
		// Not in the default list: how much of the gap to the floor is
		// the default --concurrency (16) against the floor's 32.
		"status32": {Name: "kubectl kpr status -o json --concurrency 32", UserAgent: "kubectl-kpr", Argv: []string{*kpr, "status", "-o", "json", "--concurrency", "32"}, Runs: *runs, Warmup: 1,
			Check: checkStatus(*nodes, 0)},
		"xargs": {Name: "xargs -P16 kubectl exec", UserAgent: "kubectl/", Runs: *slowRuns, Warmup: 1,
			Argv: []string{"sh", "-c", podList + ` | xargs -P16 -L1 ` + *kubectl + ` exec -c cilium-agent`}},
		"seq": {Name: "kubectl exec, one after another", UserAgent: "kubectl/", Runs: *slowRuns, Warmup: 0,
			Argv: []string{"sh", "-c", podList + ` | while read -r _ ns p _; do ` + *kubectl + ` exec -n "$ns" "$p" -c cilium-agent -- cilium-dbg status -o json </dev/null; done`}},
		"services": {Name: "kubectl kpr services -o json", UserAgent: "kubectl-kpr", Argv: []string{*kpr, "services", "-A", "-o", "json"}, Runs: *runs, Warmup: 1},
		"analyze":  {Name: "kubectl kpr analyze (100 MB sysdump-like folder)", Argv: []string{*kpr, "analyze", "-o", "json", *sysdump}, Runs: *runs, Warmup: 1},

		// Node checks (debug pods in kpr-nodes, whose execs the stand-in
		// node tools answer: bench/standin/nodetools.go).
		"inspect-ds": {Name: "kubectl kpr inspect --all-nodes --mode daemonset", UserAgent: "kubectl-kpr", Runs: *slowRuns, Warmup: 0,
			Argv: append([]string{*kpr, "inspect", "--all-nodes", "--mode", "daemonset"}, nodeFlags...), Check: checkRows("nodes", *nodes)},
		"inspect-pods": {Name: "kubectl kpr inspect --all-nodes --mode pods", UserAgent: "kubectl-kpr", Runs: *slowRuns, Warmup: 0,
			Argv: append([]string{*kpr, "inspect", "--all-nodes", "--mode", "pods"}, nodeFlags...), Check: checkRows("nodes", *nodes)},
		"probe-ds": {Name: "kubectl kpr probe SERVICE --all-nodes --mode daemonset", UserAgent: "kubectl-kpr", Runs: *slowRuns, Warmup: 0,
			Argv: append([]string{*kpr, "probe", "svc-0000", "-n", appsNamespace, "--all-nodes", "--mode", "daemonset"}, nodeFlags...), Check: checkRows("results", *nodes)},
		"probe-pods": {Name: "kubectl kpr probe SERVICE --all-nodes --mode pods", UserAgent: "kubectl-kpr", Runs: *slowRuns, Warmup: 0,
			Argv: append([]string{*kpr, "probe", "svc-0000", "-n", appsNamespace, "--all-nodes", "--mode", "pods"}, nodeFlags...), Check: checkRows("results", *nodes)},
		// The way users check nodes today: one `kubectl debug node/...`
		// after another, each waited for, exec'd into and deleted.
		"debug-seq": {Name: "kubectl debug node/..., one node after another", UserAgent: "kubectl/", Runs: 1, Warmup: 0,
			Argv: []string{"sh", "-c", debugLoop(*kubectl)}},
		"verify": {Name: "kubectl kpr verify --service SVC --all-nodes", UserAgent: "kubectl-kpr", Runs: 1, Warmup: 0,
			Argv: []string{*kpr, "verify", "--service", appsNamespace + "/svc-0000", "--all-nodes", "--debug-namespace", benchDebugNamespace, "--timeout", "120s", "-q", "-o", "json"},
			// Every 10th bench node runs kube-proxy next to Cilium's KPR:
			// verify rightly fails those nodes (exit 1); the report must
			// still have every node.
			FailedChecksOK: true, Check: checkRows("nodes", *nodes)},
	}
	res := Results{Machine: machine(), Date: time.Now().UTC().Format(time.RFC3339), Nodes: *nodes}
	var timed []Case
	hang := false
	for _, name := range strings.Split(*cases, ",") {
		switch name = strings.TrimSpace(name); name {
		case "":
		case "hang":
			hang = true
		default:
			c, ok := all[name]
			if !ok {
				return fmt.Errorf("unknown case %q", name)
			}
			timed = append(timed, c)
		}
	}
	results, err := runRounds(timed, env, *audit)
	if err != nil {
		return err
	}
	if hang {
		load := loadAvg()
		r, err := runHang(*kpr, env, *audit, *data, *nodes, *hangTimeout)
		if err != nil {
			return fmt.Errorf("hang: %w", err)
		}
		r.Load = load
		results = append(results, r)
	}
	for _, r := range results {
		r.Nodes = *nodes
		med := medianRun(r.Runs)
		fmt.Fprintf(os.Stderr, "benchctl: N=%d %-50s wall %8s  cpu %8s  rss %6.1f MiB  api %v\n", *nodes, r.Case, med.Wall.Round(time.Millisecond), med.CPU.Round(time.Millisecond), float64(med.MaxRSSKB)/1024, med.API)
		res.Results = append(res.Results, r)
	}
	if *out != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		return os.WriteFile(*out, append(b, '\n'), 0o644)
	}
	return nil
}

// runRounds times the cases interleaved, one run of each per round
// (warm-ups first), so that a change in the shared machine's load hits
// every case alike and the ratios stay fair.
func runRounds(cases []Case, env []string, audit string) ([]Result, error) {
	results := make([]Result, len(cases))
	rounds := 0
	for i, c := range cases {
		results[i] = Result{Case: c.Name, Argv: strings.Join(c.Argv, " "), Load: loadAvg()}
		rounds = max(rounds, c.Warmup+c.Runs)
	}
	for round := 0; round < rounds; round++ {
		for i, c := range cases {
			// Warm-ups line up at the start; a case with fewer runs
			// sits out the last rounds.
			if round >= c.Warmup+c.Runs {
				continue
			}
			run, stdout, err := timeOnce(c.Argv, env, audit, c.UserAgent)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.Name, err)
			}
			if c.FailedChecksOK && strings.HasPrefix(run.Err, "exit status 1:") {
				run.Err = ""
			}
			if run.Err == "" && c.Check != nil {
				if err := c.Check(stdout); err != nil {
					run.Err = err.Error()
				}
			}
			if run.Err != "" {
				return nil, fmt.Errorf("%s: run %d failed: %s", c.Name, round, run.Err)
			}
			if round >= c.Warmup {
				results[i].Runs = append(results[i].Runs, run)
			}
		}
	}
	return results, nil
}

// timeOnce runs argv once under GNU time and measures it like
// `/usr/bin/time -v`: wall clock, user+system CPU of the process and every
// child it waited for, and the peak RSS (of the largest process in the
// tree). The peak RSS must come from time(1), a small C program: a child
// forked from this (much larger) Go process inherits its RSS high-water
// mark through exec, so wait4's ru_maxrss here would report the harness.
// API requests come from the audit log lines the run added.
func timeOnce(argv, env []string, audit, userAgent string) (Run, []byte, error) {
	var off int64
	if audit != "" {
		if st, err := os.Stat(audit); err == nil {
			off = st.Size()
		}
	}
	tmp, err := os.MkdirTemp("", "benchctl-run-")
	if err != nil {
		return Run{}, nil, err
	}
	defer os.RemoveAll(tmp)
	rssFile, outFile := filepath.Join(tmp, "maxrss"), filepath.Join(tmp, "stdout")
	out, err := os.Create(outFile)
	if err != nil {
		return Run{}, nil, err
	}
	defer out.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(gnuTime, append([]string{"-f", "%M", "-o", rssFile, "--"}, argv...)...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, out, &stderr
	start := time.Now()
	err = cmd.Run()
	run := Run{Wall: time.Since(start)}
	if cmd.ProcessState == nil {
		return run, nil, err
	}
	run.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if b, rerr := os.ReadFile(rssFile); rerr == nil {
		// On failure time(1) writes "Command exited with non-zero
		// status N" first; the figure is the last line.
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		fmt.Sscanf(lines[len(lines)-1], "%d", &run.MaxRSSKB)
	}
	if err != nil {
		run.Err = fmt.Sprintf("%v: %s", err, lastLines(stderr.String(), 5))
	}
	if audit != "" && userAgent != "" {
		// The log backend writes when a request completes; give the last
		// ones a moment.
		time.Sleep(300 * time.Millisecond)
		counts, err := countAudit(audit, off, userAgent)
		if err != nil {
			return run, nil, err
		}
		run.API = counts
	}
	stdout, err := os.ReadFile(outFile)
	return run, stdout, err
}

// gnuTime is GNU time(1) (Debian package "time").
const gnuTime = "/usr/bin/time"

// countAudit counts the requests (one ResponseComplete event each) logged
// after offset whose user agent starts with prefix, by kind: list, get,
// exec, watch, other.
func countAudit(path string, offset int64, prefix string) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev struct {
			Stage     string `json:"stage"`
			Verb      string `json:"verb"`
			UserAgent string `json:"userAgent"`
			ObjectRef *struct {
				Subresource string `json:"subresource"`
			} `json:"objectRef"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Stage != "ResponseComplete" || !strings.HasPrefix(ev.UserAgent, prefix) {
			continue
		}
		switch {
		case ev.ObjectRef != nil && ev.ObjectRef.Subresource == "exec":
			counts["exec"]++
		case ev.Verb != "":
			counts[ev.Verb]++
		default:
			counts["other"]++
		}
	}
	return counts, sc.Err()
}

// benchDebugNamespace holds the bench's debug pods; the scale lab's kwok
// answers execs there with the stand-in node tools.
const benchDebugNamespace = "kpr-nodes"

// debugLoop is the sequential `kubectl debug node` loop over every node.
func debugLoop(kubectl string) string {
	ns := benchDebugNamespace
	return kubectl + ` get nodes -o name | while read -r n; do
  p=$(` + kubectl + ` debug "$n" -n ` + ns + ` --image=docker.io/nicolaka/netshoot:v0.13 --profile=sysadmin -- sleep 600 2>&1 | sed -n 's/^Creating debugging pod \([^ ]*\) .*/\1/p')
  [ -n "$p" ] || { echo "no debug pod for $n" >&2; exit 1; }
  ` + kubectl + ` wait -n ` + ns + ` --for=condition=Ready "pod/$p" --timeout=120s >/dev/null || exit 1
  ` + kubectl + ` exec -n ` + ns + ` "$p" -- sh -c 'iptables-save; ip6tables-save; nft list ruleset; ipset list -n' >/dev/null </dev/null || exit 1
  ` + kubectl + ` delete -n ` + ns + ` "pod/$p" --wait=false >/dev/null || exit 1
done`
}

// checkRows checks that the JSON's top-level array field has want
// entries or more (kpr exits 1 on partial results, which fails the run
// anyway; this catches a report that silently lost nodes).
func checkRows(field string, want int) func([]byte) error {
	return func(b []byte) error {
		var rep map[string]json.RawMessage
		if err := json.Unmarshal(b, &rep); err != nil {
			return fmt.Errorf("output is not JSON: %v", err)
		}
		var rows []json.RawMessage
		if err := json.Unmarshal(rep[field], &rows); err != nil {
			return fmt.Errorf("%q is not a list: %v", field, err)
		}
		if len(rows) < want {
			return fmt.Errorf("%d %s, want %d", len(rows), field, want)
		}
		return nil
	}
}

// checkStatus checks kpr's JSON: one row per node, and exactly `failing`
// rows with errors.
func checkStatus(nodes, failing int) func([]byte) error {
	return func(b []byte) error {
		var rep struct {
			Nodes []struct {
				Name       string   `json:"name"`
				ServicesBy string   `json:"servicesBy"`
				Errors     []string `json:"errors"`
			} `json:"nodes"`
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			return fmt.Errorf("status output is not JSON: %v", err)
		}
		if nodes > 0 && len(rep.Nodes) != nodes {
			return fmt.Errorf("status has %d node rows, want %d", len(rep.Nodes), nodes)
		}
		bad := 0
		for _, n := range rep.Nodes {
			if len(n.Errors) > 0 {
				bad++
			}
		}
		if bad != failing {
			return fmt.Errorf("%d rows with errors, want %d", bad, failing)
		}
		return nil
	}
}

// runHang makes the agents in the hang group stuck (5% of the nodes) and
// checks that `status` still ends within --timeout plus a second, with
// exactly those rows marked.
func runHang(kpr string, env []string, audit, data string, nodes int, timeout time.Duration) (Result, error) {
	argv := []string{kpr, "status", "-o", "json", "--timeout", timeout.String()}
	r := Result{Case: fmt.Sprintf("kubectl kpr status, 5%% of agents hanging (--timeout %s)", timeout), Argv: strings.Join(argv, " "), Limit: timeout + time.Second}
	if data == "" {
		return r, errors.New("hang: -data is required")
	}
	flag := filepath.Join(data, "hang")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		return r, err
	}
	defer os.Remove(flag)
	hung := 0
	for i := 0; i < nodes; i++ {
		if hangs(i) {
			hung++
		}
	}
	check := checkStatus(nodes, hung)
	for i := 0; i < 2; i++ {
		run, stdout, err := timeOnce(argv, env, audit, "kubectl-kpr")
		if err != nil {
			return r, err
		}
		if run.Err == "" {
			if err := check(stdout); err != nil {
				run.Err = err.Error()
			}
		}
		if run.Err == "" && run.Wall > r.Limit {
			run.Err = fmt.Sprintf("took %s, more than --timeout + 1s", run.Wall.Round(time.Millisecond))
		}
		if run.Err != "" {
			return r, fmt.Errorf("hang run failed: %s", run.Err)
		}
		r.Runs = append(r.Runs, run)
	}
	r.Note = fmt.Sprintf("%d of %d agents hanging, all %d rows marked", hung, nodes, hung)
	return r, nil
}

func medianRun(runs []Run) Run {
	if len(runs) == 0 {
		return Run{}
	}
	pick := func(get func(Run) int64) int64 {
		v := make([]int64, len(runs))
		for i, r := range runs {
			v[i] = get(r)
		}
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	m := Run{
		Wall:     time.Duration(pick(func(r Run) int64 { return int64(r.Wall) })),
		CPU:      time.Duration(pick(func(r Run) int64 { return int64(r.CPU) })),
		MaxRSSKB: pick(func(r Run) int64 { return r.MaxRSSKB }),
	}
	if runs[0].API != nil {
		m.API = map[string]int{}
		for k := range runs[0].API {
			m.API[k] = int(pick(func(r Run) int64 { return int64(r.API[k]) }))
		}
	}
	return m
}

func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(l[strings.IndexByte(l, ':')+1:])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
	}
	var u syscall.Utsname
	kernel := ""
	if syscall.Uname(&u) == nil {
		var sb strings.Builder
		for _, c := range u.Release {
			if c == 0 {
				break
			}
			sb.WriteByte(byte(c))
		}
		kernel = ", Linux " + sb.String()
	}
	return fmt.Sprintf("%d × %s%s%s", numCPU(), cpu, mem, kernel)
}

func loadAvg() float64 {
	var l float64
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscanf(string(b), "%f", &l)
	}
	return l
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
