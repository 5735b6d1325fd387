package e2e

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// verifyResult is the part of `verify -o json` the tests read.
type verifyResult struct {
	Classes []struct {
		Name   string   `json:"name"`
		Nodes  []string `json:"nodes"`
		Chosen []string `json:"chosen"`
	} `json:"classes"`
	Nodes []struct {
		Name  string `json:"name"`
		Class string `json:"class"`
	} `json:"nodes"`
	Targets []struct {
		Service        string   `json:"service"`
		Deployed       bool     `json:"deployed"`
		BackendNodes   []string `json:"backendNodes"`
		BackendClasses []string `json:"backendClasses"`
		NodePort       int      `json:"nodePort"`
	} `json:"targets"`
	Checks []struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Node     string `json:"node"`
		Service  string `json:"service"`
		Target   string `json:"target"`
		Via      string `json:"via"`
		Case     string `json:"case"`
		Result   string `json:"result"`
		Reason   string `json:"reason"`
		Evidence struct {
			Probe *struct {
				Outcome        string         `json:"outcome"`
				Attempts       int            `json:"attempts"`
				ServedBy       string         `json:"servedBy"`
				ServedByReason string         `json:"servedByReason"`
				Requests       int            `json:"requests"`
				Backends       map[string]int `json:"backends"`
				Counters       []struct {
					Chain string `json:"chain"`
				} `json:"counters"`
			} `json:"probe"`
			Rules *struct {
				KubeServiceChains int      `json:"kubeServiceChains"`
				Findings          []string `json:"findings"`
			} `json:"rules"`
		} `json:"evidence"`
		Reproduce string `json:"reproduce"`
	} `json:"checks"`
	Summary struct {
		Checks int    `json:"checks"`
		Fail   int    `json:"fail"`
		Warn   int    `json:"warn"`
		Result string `json:"result"`
	} `json:"summary"`
	Created   []string `json:"created"`
	CleanedUp bool     `json:"cleanedUp"`
	Options   struct {
		Namespace string `json:"namespace"`
		Seed      int64  `json:"seed"`
	} `json:"options"`
}

func decodeVerify(t *testing.T, r result) verifyResult {
	t.Helper()
	var v verifyResult
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("verify -o json is not JSON: %v\n%s", err, r)
	}
	return v
}

// verifyNamespaces lists the kpr-verify-* namespaces in the lab.
func verifyNamespaces(t *testing.T) []string {
	t.Helper()
	r := kubectl(t, "get", "namespaces", "-l", "app.kubernetes.io/component=verify", "-o", "name")
	if r.code != 0 {
		t.Fatalf("listing namespaces: %s", r)
	}
	return strings.Fields(r.stdout)
}

func waitNoVerifyNamespace(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := verifyNamespaces(t)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("verify namespaces left behind: %v", left)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// The acceptance test on the whole lab, with its own backends: every
// node's class, node-bare's warnings, node-stale's stale-rules failure,
// JUnit, Markdown and HTML reports, and nothing left afterwards.
func TestVerifyDeployBackends(t *testing.T) {
	needLab(t)
	waitNoKprPods(t)
	dir := t.TempDir()
	junit, md, html := filepath.Join(dir, "kpr.xml"), filepath.Join(dir, "kpr.md"), filepath.Join(dir, "kpr.html")
	// Every node, not a sample: each of the lab's verdicts is checked.
	r := kpr(t, "verify", "--deploy-backends", "--all-nodes", "--http", "--junit", junit, "--report", md, "--report", html, "-o", "json")
	noStackTrace(t, r)
	if r.code != 1 {
		t.Fatalf("verify on the lab must fail (node-stale's leftovers), exit 1: %s", r)
	}
	v := decodeVerify(t, r)

	wantClass := map[string]string{}
	skipped := labSkipped(t)
	for name, n := range labScenario {
		if _, ok := skipped[name]; !ok {
			wantClass[name] = n.servicesBy
		}
	}
	for _, n := range v.Nodes {
		if want, ok := wantClass[n.Name]; ok && n.Class != want {
			t.Errorf("node %s: class %s, want %s", n.Name, n.Class, want)
		}
	}
	if len(v.Nodes) < len(wantClass) {
		t.Errorf("nodes: %+v", v.Nodes)
	}
	deployed := map[string]bool{}
	for _, tg := range v.Targets {
		if tg.Deployed {
			if len(tg.BackendClasses) != 1 {
				t.Errorf("target %s: backends %v", tg.Service, tg.BackendNodes)
				continue
			}
			deployed[tg.BackendClasses[0]] = true
		}
	}
	for _, c := range []string{"cilium", "kube-proxy-iptables", "none"} {
		if !deployed[c] {
			t.Errorf("no backend deployed on a %s node: %+v", c, v.Targets)
		}
	}

	byID := map[string]int{}
	for i, c := range v.Checks {
		byID[c.ID] = i
	}
	check := func(id, result, reasonPart string) {
		t.Helper()
		i, ok := byID[id]
		if !ok {
			t.Errorf("no check %s", id)
			return
		}
		c := v.Checks[i]
		if c.Result != result || !strings.Contains(c.Reason, reasonPart) {
			t.Errorf("check %s: %s (%s), want %s with %q", id, c.Result, c.Reason, result, reasonPart)
		}
		if c.Reproduce == "" && result != "pass" {
			t.Errorf("check %s: no reproduce command", id)
		}
	}
	check("node-stale/no-kube-proxy-rules", "fail", "stale kube-proxy rules")
	check("node-cilium/no-kube-proxy-rules", "pass", "no KUBE-SVC")
	check("node-iptables/kube-proxy-rules", "pass", "proxyMode iptables")
	check("node-bare/service-datapath", "warn", "no Service datapath on this node")
	check("node-cilium/agent-kpr", "pass", "full")
	// The bigger lab's verdicts.
	check("node-both/single-datapath", "fail", "kube-proxy and Cilium's full KPR both program Services")
	check("node-partial/agent-kpr", "warn", "Partial")
	check("node-kpr-off/agent-kpr", "warn", "nothing serves Services on this node")
	// config-kpr-agent-disabled has a check of its own; what is left is the
	// CiliumNodeConfig created after node-kpr-off's agent pod.
	check("node-kpr-off/status-warnings", "warn", "node-config-not-applied")
	check("node-agent-unready/status-warnings", "warn", "agent-not-ready")
	check("node-notready/node-checked", "fail", "NotReady")
	ns := v.Options.Namespace
	if !strings.HasPrefix(ns, "kpr-verify-") {
		t.Fatalf("namespace %q", ns)
	}
	for _, class := range []string{"cilium", "kube-proxy-iptables", "none"} {
		svc := ns + "/backend-" + class + ":http"
		for _, from := range []string{"node-cilium", "node-iptables", "node-stale"} {
			check(from+"/clusterip/"+svc, "pass", "answered")
			check(from+"/nodeport-local/"+svc, "pass", "answered")
			check(from+"/nodeport-any/"+svc, "pass", "answered")
		}
		check("node-cilium/nodeport-loopback/"+svc, "pass", "answered")
		check("node-bare/clusterip/"+svc, "warn", "no Service datapath on this node")
		check("node-bare/nodeport-local/"+svc, "warn", "no Service datapath on this node")
		// Remote NodePorts follow the remote node's class.
		check("node-bare/nodeport-remote/"+svc+"/node-cilium", "pass", "answered")
		check("node-cilium/nodeport-remote/"+svc+"/node-iptables", "pass", "answered")
		check("node-cilium/nodeport-remote/"+svc+"/node-bare", "warn", "refused")
		check("node-cilium/cilium-frontends/"+svc, "pass", "frontend")
	}
	checkBehaviours(t, v)
	if v.Summary.Result != "fail" || v.Summary.Fail == 0 || v.Summary.Warn == 0 || v.Summary.Checks != len(v.Checks) {
		t.Errorf("summary %+v", v.Summary)
	}
	if !v.CleanedUp || len(v.Created) < 7 {
		t.Errorf("created %v, cleanedUp %v", v.Created, v.CleanedUp)
	}
	waitNoVerifyNamespace(t, 5*time.Second)
	waitNoKprPods(t)

	// JUnit: one testsuite per class, one testcase per check.
	raw, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var ju struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Cases    []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(raw, &ju); err != nil {
		t.Fatalf("JUnit does not parse: %v\n%s", err, raw)
	}
	cases, failures, suites := 0, 0, map[string]bool{}
	for _, s := range ju.Suites {
		suites[s.Name] = true
		if s.Name == "not-checked" {
			continue // nodes verify could not check: res.Errors, not checks
		}
		cases += len(s.Cases)
		for _, c := range s.Cases {
			if c.Failure != nil {
				failures++
			}
		}
	}
	if cases != len(v.Checks) || failures != v.Summary.Fail || !suites["cilium"] || !suites["none"] || !suites["kube-proxy-iptables"] {
		t.Errorf("JUnit: %d cases (want %d), %d failures (want %d), suites %v", cases, len(v.Checks), failures, v.Summary.Fail, suites)
	}
	if xsd := os.Getenv("KPR_JUNIT_XSD"); xsd == "" {
		t.Error("KPR_JUNIT_XSD is not set: run the e2e tests through `make e2e`")
	} else if out, err := exec.Command("xmllint", "--noout", "--schema", xsd, junit).CombinedOutput(); err != nil {
		t.Errorf("JUnit does not validate against the JUnit schema: %v\n%s", err, out)
	}

	mdText, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for n := range wantClass {
		if !strings.Contains(string(mdText), n) {
			t.Errorf("Markdown report lacks node %s", n)
		}
	}
	if !strings.Contains(string(mdText), "iptables-save") {
		t.Error("Markdown report has no reproduce command for the stale rules")
	}
	shot := filepath.Join(dir, "verify-report.png")
	if d := os.Getenv("KPR_E2E_SCREENSHOT_DIR"); d != "" {
		shot = filepath.Join(d, "verify-report.png")
	}
	dom := openInChromium(t, html, shot)
	for n := range wantClass {
		if !strings.Contains(dom, n) {
			t.Errorf("the HTML report, rendered by Chromium, does not show node %s", n)
		}
	}
}

// --service without backends: nothing is created, the lab's own Service is
// probed from every class.
func TestVerifyServiceCreatesNothing(t *testing.T) {
	needLab(t)
	waitNoKprPods(t)
	// --sample 3: every node of the lab's largest class (cilium: node-cilium,
	// node-stale, node-agent-unready), so that node-cilium, whose check
	// is asserted below, is always among the chosen; with the default 2 a
	// random seed left it out one run in three.
	r := kpr(t, "verify", "--service", "kube-system/nm-nginx", "--sample", "3", "-o", "json")
	noStackTrace(t, r)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (node-stale): %s", r.code, r)
	}
	v := decodeVerify(t, r)
	if len(v.Targets) != 1 || v.Targets[0].Deployed || v.Targets[0].Service != "kube-system/nm-nginx" {
		t.Errorf("targets %+v", v.Targets)
	}
	if len(v.Created) != 0 || v.Options.Namespace != "" {
		t.Errorf("created %v in %q", v.Created, v.Options.Namespace)
	}
	found := false
	for _, c := range v.Checks {
		if c.ID == "node-cilium/clusterip/kube-system/nm-nginx:http" {
			found = c.Result == "pass"
		}
	}
	if !found {
		t.Errorf("node-cilium's ClusterIP check did not pass")
	}
	if left := verifyNamespaces(t); len(left) != 0 {
		t.Errorf("namespaces created: %v", left)
	}
}

// node-bare alone: warnings pass (exit 0), --strict makes them failures.
func TestVerifyStrictFailsNodeWithoutDatapath(t *testing.T) {
	needLab(t)
	r := kpr(t, "verify", "--service", "kube-system/nm-nginx", "--node", "node-bare")
	noStackTrace(t, r)
	if r.code != 0 || !strings.Contains(r.stdout, "no Service datapath on this node") {
		t.Errorf("without --strict: want exit 0 and the warning: %s", r)
	}
	r = kpr(t, "verify", "--service", "kube-system/nm-nginx", "--node", "node-bare", "--strict", "-o", "json")
	if r.code != 1 {
		t.Fatalf("--strict: exit %d, want 1: %s", r.code, r)
	}
	v := decodeVerify(t, r)
	for _, c := range v.Checks {
		if c.Name == "clusterip" && c.Result != "fail" {
			t.Errorf("--strict: %s is %s", c.ID, c.Result)
		}
	}
}

func TestVerifyBadInputExitsTwo(t *testing.T) {
	needLab(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"verify"}, "--deploy-backends"},
		{[]string{"verify", "--service", "kube-system/no-such-svc"}, "not found"},
		{[]string{"verify", "--service", "nm-nginx"}, "NAMESPACE/NAME"},
		{[]string{"verify", "--deploy-backends", "--node", "node-nope"}, "no such node"},
		{[]string{"verify", "--deploy-backends", "--report", "x.pdf"}, ".md or .html"},
	} {
		r := kpr(t, c.args...)
		noStackTrace(t, r)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: want exit 2 with %q: %s", c.args, c.want, r)
		}
	}
	if left := verifyNamespaces(t); len(left) != 0 {
		t.Errorf("namespaces created by bad input: %v", left)
	}
}

func TestVerifyDryRunCreatesNothing(t *testing.T) {
	needLab(t)
	r := kpr(t, "verify", "--deploy-backends", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "would create") || !strings.Contains(r.stdout, "backend-cilium") || !strings.Contains(r.stdout, "node-bare") {
		t.Fatalf("dry run: %s", r)
	}
	if left := verifyNamespaces(t); len(left) != 0 {
		t.Errorf("--dry-run created namespaces: %v", left)
	}
	if left := kprPodsLeft(t); len(left) != 0 {
		t.Errorf("--dry-run created pods: %v", left)
	}
}

// startVerify starts verify --deploy-backends and waits until its
// backends exist.
func startVerify(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, chan error) {
	t.Helper()
	kc := needLab(t)
	cmd := exec.Command(kprBin, append([]string{"verify", "--deploy-backends"}, args...)...)
	cmd.Env = []string{"KUBECONFIG=" + kc, "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := kubectl(t, "get", "pods", "-A", "-l", "app.kubernetes.io/component=verify-backend", "-o", "name")
		if len(strings.Fields(r.stdout)) > 0 {
			return cmd, &out, done
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("verify created no backend within 60s:\n%s", out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestVerifyInterruptLeavesNothing(t *testing.T) {
	needLab(t)
	waitNoKprPods(t)
	cmd, out, done := startVerify(t)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("verify did not exit within 60s of SIGINT:\n%s", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("interrupted verify exited %d, want 130:\n%s", code, out.String())
	}
	// verify waits for its namespace to be gone before it exits.
	if left := verifyNamespaces(t); len(left) != 0 {
		t.Errorf("namespaces left after SIGINT: %v\n%s", left, out.String())
	}
	waitNoKprPods(t)
}

// SIGKILL leaves the namespace behind; `kpr cleanup` removes it.
func TestCleanupRemovesKilledVerifyNamespace(t *testing.T) {
	needLab(t)
	waitNoKprPods(t)
	cmd, out, done := startVerify(t)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	left := verifyNamespaces(t)
	if len(left) != 1 {
		t.Fatalf("after SIGKILL: namespaces %v (want the killed run's)\n%s", left, out.String())
	}
	r := kpr(t, "cleanup", "--dry-run")
	name := strings.TrimPrefix(left[0], "namespace/")
	if r.code != 0 || !strings.Contains(r.stdout, "would delete namespace "+name) {
		t.Errorf("cleanup --dry-run: %s", r)
	}
	r = kpr(t, "cleanup")
	if r.code != 0 || !strings.Contains(r.stdout, "deleted namespace "+name) {
		t.Errorf("cleanup: %s", r)
	}
	waitNoVerifyNamespace(t, 30*time.Second)
	waitNoKprPods(t)
}

// verify with its backends pinned to the real-agent nodes (issue 18): the
// cilium, both and none classes' backends land on node-cilium / node-stale,
// node-both and node-kpr-off, whose real agents serve (or, KPR off, do not
// serve) them. From a real KPR node every local probe passes, and a remote
// NodePort on a node that runs an agent is answered by the probing node's
// own socket-LB, which the check says.
func TestVerifyRealAgents(t *testing.T) {
	needLab(t)
	waitNoKprPods(t)
	var real []string
	for name, n := range labScenario {
		if n.realAgent {
			real = append(real, name)
		}
	}
	r := kpr(t, "verify", "--deploy-backends", "--node", strings.Join(sortedCopy(real), ","), "--http", "-o", "json")
	noStackTrace(t, r)
	v := decodeVerify(t, r)
	isReal := map[string]bool{}
	for _, n := range real {
		isReal[n] = true
	}
	for _, tg := range v.Targets {
		if !tg.Deployed || len(tg.BackendClasses) != 1 {
			continue
		}
		switch tg.BackendClasses[0] {
		case "cilium", "both", "none":
			if len(tg.BackendNodes) != 1 || !isReal[tg.BackendNodes[0]] {
				t.Errorf("target %s (%s): backend on %v, want a real-agent node", tg.Service, tg.BackendClasses[0], tg.BackendNodes)
			}
		}
	}
	seen := map[string]int{}
	for _, c := range v.Checks {
		if !isReal[c.Node] {
			continue
		}
		kprOn := labScenario[c.Node].mode == "True"
		switch {
		case kprOn && (c.Name == "clusterip" || c.Name == "nodeport-local" || c.Name == "nodeport-loopback" || c.Name == "nodeport-any"):
			seen[c.Name]++
			if c.Result != "pass" {
				t.Errorf("%s: %s (%s), want pass through the real agent's datapath", c.ID, c.Result, c.Reason)
			}
		case kprOn && c.Name == "nodeport-remote" && c.Via == "node-kpr-off":
			seen["remote-socket-lb"]++
			if c.Result != "pass" || !strings.Contains(c.Reason, "socket-LB") {
				t.Errorf("%s: %s (%s), want pass, answered by the probing node's own socket-LB", c.ID, c.Result, c.Reason)
			}
		}
	}
	for _, k := range []string{"clusterip", "nodeport-local", "nodeport-loopback", "nodeport-any", "remote-socket-lb"} {
		if seen[k] == 0 {
			t.Errorf("no %s check from a real KPR node: %v", k, seen)
		}
	}
	// kpr-config: the configured KPR (with its per-node source) against
	// the running one (issue 20; lab/README.md "Per-node configuration").
	wantConfig := map[string]struct{ result, reason string }{
		"node-cilium":  {"pass", "from CiliumNodeConfig kube-system/kube-proxy-replacement"},
		"node-stale":   {"pass", "from CiliumNodeConfig kube-system/kube-proxy-replacement"},
		"node-both":    {"pass", "from cilium-config"},
		"node-kpr-off": {"fail", "runs without full KPR"},
	}
	for _, c := range v.Checks {
		if c.Name != "kpr-config" {
			continue
		}
		w, ok := wantConfig[c.Node]
		if !ok {
			continue
		}
		delete(wantConfig, c.Node)
		if c.Result != w.result || !strings.Contains(c.Reason, w.reason) {
			t.Errorf("%s: %s (%s), want %s, %q", c.ID, c.Result, c.Reason, w.result, w.reason)
		}
	}
	for n := range wantConfig {
		t.Errorf("%s: no kpr-config check", n)
	}
	waitNoKprPods(t)
}

// checkBehaviours asserts the Service behaviour checks of a
// --deploy-backends --all-nodes run on the lab: each runs on every class,
// passes where the lab's datapath serves the behaviour and fails where it
// does not, for the reason the lab was built with (lab/README.md
// "Service behaviours"); and node-both's probes say who served them.
func checkBehaviours(t *testing.T, v verifyResult) {
	t.Helper()
	type key struct{ node, name, cs, svc, target string }
	find := func(node, name, cs, svcPart, target string) (res, reason string, served string, ok bool) {
		for _, c := range v.Checks {
			if c.Node == node && c.Name == name && (cs == "" || c.Case == cs) && strings.Contains(c.Service, svcPart) && strings.HasPrefix(c.Target, target) {
				by := ""
				if c.Evidence.Probe != nil {
					by = c.Evidence.Probe.ServedBy + " " + c.Evidence.Probe.ServedByReason
				}
				return c.Result, c.Reason, by, true
			}
		}
		return "", "", "", false
	}
	expect := func(node, name, cs, svcPart, target, result, reasonPart string) {
		t.Helper()
		res, reason, _, ok := find(node, name, cs, svcPart, target)
		if !ok {
			t.Errorf("no %s [%s] %s %s check on %s", name, cs, svcPart, target, node)
			return
		}
		if res != result || !strings.Contains(reason, reasonPart) {
			t.Errorf("%s [%s] %s %s on %s: %s (%s), want %s with %q", name, cs, svcPart, target, node, res, reason, result, reasonPart)
		}
	}
	// Every check on every class that was checked.
	classesOf := map[string]map[string]bool{}
	for _, c := range v.Checks {
		if classesOf[c.Name] == nil {
			classesOf[c.Name] = map[string]bool{}
		}
		for _, n := range v.Nodes {
			if n.Name == c.Node {
				classesOf[c.Name][n.Class] = true
			}
		}
	}
	for _, name := range []string{"hostport", "nodeport-every-address", "etp-local", "session-affinity", "externalip"} {
		for _, class := range []string{"cilium", "kube-proxy-iptables", "kube-proxy-nftables", "both", "partial", "none"} {
			if !classesOf[name][class] {
				t.Errorf("check %s never ran on a %s node", name, class)
			}
		}
	}
	// hostport: portmap on node-iptables, Cilium's own on node-cilium and
	// node-both, nothing on node-nftables (kube-proxy never serves it).
	expect("node-bare", "hostport", "other-node", "hostport-kube-proxy-iptables", "", "pass", "served by portmap")
	expect("node-bare", "hostport", "other-node", "hostport-cilium", "", "pass", "served by cilium-bpf")
	expect("node-cilium", "hostport", "same-node", "hostport-cilium", "", "pass", "served by cilium-socket-lb")
	expect("node-both", "hostport", "same-node", "hostport-both", "", "pass", "")
	expect("node-nftables", "hostport", "same-node", "hostport-kube-proxy-nftables", "", "fail", "no hostPort support")
	expect("node-bare", "hostport", "other-node", "hostport-kube-proxy-nftables", "", "fail", "kube-proxy never serves hostPorts")
	// NodePort on every address: node-cilium's secondary 172.30.0.111 is
	// not a NodePort address of its agent; node-iptables' 172.30.0.112 is
	// served by kube-proxy.
	expect("node-bare", "nodeport-every-address", "another-address", "", "172.30.0.111:", "fail", "is not one of the agent's NodePort addresses (172.30.0.11)")
	expect("node-bare", "nodeport-every-address", "another-address", "", "172.30.0.112:", "pass", "served by kube-proxy")
	expect("node-cilium", "nodeport-every-address", "own-address", "", "172.30.0.111:", "pass", "own socket-LB")
	// externalTrafficPolicy Local, backends on node-iptables: its own host
	// and other nodes' answers; an empty node's own host answers too.
	expect("node-iptables", "etp-local", "same-node", "local-kube-proxy-iptables", "", "pass", "answered")
	expect("node-bare", "etp-local", "other-node", "local-kube-proxy-iptables", "", "pass", "answered")
	expect("node-bare", "etp-local", "empty-node", "local-kube-proxy-iptables", "172.30.0.11:", "pass", "as expected")
	expect("node-cilium", "etp-local", "empty-node-own", "local-kube-proxy-iptables", "", "pass", "cilium/cilium#11746")
	expect("node-nftables", "etp-local", "empty-node-own", "local-cilium", "", "pass", "route LOCAL traffic")
	// Session affinity: one backend of two for every request.
	for _, n := range []string{"node-cilium", "node-iptables", "node-both", "node-stale"} {
		expect(n, "session-affinity", "one-client", "affinity-cilium", "", "pass", "all 10 requests went to one backend")
	}
	// externalIPs: node-cilium's own address from node-cilium, and a
	// kube-proxy node translating it itself.
	expect("node-cilium", "externalip", "same-node", "externalip-cilium", "", "pass", "served by cilium-socket-lb")
	expect("node-iptables", "externalip", "other-node", "externalip-cilium", "", "pass", "served by kube-proxy")
	// node-both: Cilium served its ClusterIP, NodePort and loopback
	// NodePort, measured with kube-proxy's counters around each probe.
	for _, kind := range []string{"clusterip", "nodeport-local", "nodeport-loopback"} {
		_, reason, by, ok := find("node-both", kind, "", "backend-cilium", "")
		if !ok || !strings.HasPrefix(by, "cilium-socket-lb ") || !strings.Contains(by, "kube-proxy's counters for this Service did not move") {
			t.Errorf("node-both %s: served by %q (%s)", kind, by, reason)
		}
	}
}
