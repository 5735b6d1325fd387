package verify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/debugpod"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/probe"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// The lab in miniature, as verify's engine meets it through a fake
// clientset and a fake exec transport:
//   - node-cilium runs a Cilium agent that answers with the outputs
//     captured from the lab's real 1.18.8 agent (KPR true, socket-LB and
//     NodePort on): kube-system/nm-nginx (ClusterIP 10.96.100.10:80,
//     NodePort 30080, backend on node-cilium) is in its table;
//   - node-iptables runs kube-proxy in iptables mode;
//   - node-bare runs neither (class none).
// Rule dumps are pkg/interpret/findings/testdata's; probes answer from a
// table per node (address → curl's exit code, HTTP code, connect time).

const agentCaptured = "../interpret/cilium/testdata/v1.18.8/captured/kpr-true/"

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type sec struct {
	name, source, stdout, stderr string
	code                         int
}

// frame renders sections the way debugpod's dump script prints them.
func frame(boundary, hostAccess string, secs ...sec) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s host %s\n", boundary, hostAccess)
	for _, s := range secs {
		fmt.Fprintf(&b, "%s begin %s %s\n%s\n%s stderr %s\n%s\n%s end %s %d\n", boundary, s.name, s.source, s.stdout, boundary, s.name, s.stderr, boundary, s.name, s.code)
	}
	return []byte(b.String())
}

type fakeNode struct {
	ip       string
	iptables string
	legacy   string
	proxy    sec
	// probes: address → "rc code tConnect"; a missing address is refused.
	probes map[string]string
	// firstProbes answer the first probe of an address instead (a
	// datapath that has not caught up yet).
	firstProbes map[string]string
	dumpErr     error
}

// fakeExec answers agent execs and kpr's debug-pod execs.
type fakeExec struct {
	mu          sync.Mutex
	nodes       map[string]*fakeNode
	status      string
	serviceList string
	// serviceListFirst answers the first `service list` instead.
	serviceListFirst string
	serviceLists     int
	probed           map[string]int
}

func (f *fakeExec) Exec(_ context.Context, ns, pod, container string, cmd []string) (collect.ExecResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if container == "cilium-agent" {
		line := strings.Join(cmd, " ")
		switch {
		case strings.HasPrefix(line, "cilium-dbg status -o json"):
			return collect.ExecResult{Stdout: []byte(f.status)}, nil
		case strings.HasPrefix(line, "cilium-dbg service list -o json"):
			f.serviceLists++
			if f.serviceLists == 1 && f.serviceListFirst != "" {
				return collect.ExecResult{Stdout: []byte(f.serviceListFirst)}, nil
			}
			return collect.ExecResult{Stdout: []byte(f.serviceList)}, nil
		}
		return collect.ExecResult{Stderr: []byte("unknown command " + line), ExitCode: 1}, nil
	}
	if container != debugpod.ContainerName {
		return collect.ExecResult{Stderr: []byte("executable file not found in $PATH"), ExitCode: 127}, nil
	}
	var n *fakeNode
	for name, fn := range f.nodes {
		if strings.HasPrefix(pod, "kpr-"+name+"-") {
			n = fn
		}
	}
	if n == nil {
		return collect.ExecResult{}, fmt.Errorf("no such pod %s", pod)
	}
	boundary := cmd[4]
	switch cmd[3] {
	case "kpr-dump":
		if n.dumpErr != nil {
			return collect.ExecResult{}, n.dumpErr
		}
		host := debugpod.SourceChroot
		return collect.ExecResult{Stdout: frame(boundary, host,
			sec{name: debugpod.SecIPTablesNFT, source: host, stdout: n.iptables},
			sec{name: debugpod.SecIPTablesLegacy, source: host, stdout: n.legacy},
			sec{name: debugpod.SecIP6TablesNFT, source: host},
			sec{name: debugpod.SecNFT, source: host},
			sec{name: debugpod.SecIPVS, source: debugpod.SourceSkipped, stderr: "ip_vs is not loaded"},
			n.proxy,
		)}, nil
	case "kpr-probe":
		var out strings.Builder
		for i, url := range cmd[8:] {
			addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
			key := pod + " " + addr
			f.probed[key]++
			ans, ok := n.probes[addr]
			if first, has := n.firstProbes[addr]; has && f.probed[key] == 1 {
				ans, ok = first, true
			}
			if !ok {
				ans = "7 000 0"
			}
			fs := strings.Fields(ans)
			fmt.Fprintf(&out, "%s probe %d\n", boundary, i)
			if fs[0] == "7" {
				fmt.Fprintf(&out, "* connect to %s failed: Connection refused\n", addr)
			}
			fmt.Fprintf(&out, "%s w %s %s 0.01\n%s rc %s\n", boundary, fs[1], fs[2], boundary, fs[0])
		}
		return collect.ExecResult{Stdout: []byte(out.String())}, nil
	}
	return collect.ExecResult{ExitCode: 2}, nil
}

func k8sNode(name, ip string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
		NodeInfo:   corev1.NodeSystemInfo{KernelVersion: "6.1.0", OperatingSystem: "linux"},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
}

func runningPod(ns, name, node, container, image string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: container, Image: image}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: container, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
}

func nodePortService(ns, name, clusterIP string, port, nodePort int32) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, ClusterIP: clusterIP, ClusterIPs: []string{clusterIP},
		Ports: []corev1.ServicePort{{Port: port, NodePort: nodePort, Protocol: corev1.ProtocolTCP}}}}
}

func endpointSlice(ns, svc, node, ip string, port int32) *discoveryv1.EndpointSlice {
	ready := true
	proto := corev1.ProtocolTCP
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: svc + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, NodeName: &node, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Port: &port, Protocol: &proto}},
	}
}

// allAnswer: every probe of nm-nginx answers from this node.
func allAnswer(selfIP string) map[string]string {
	return map[string]string{
		"10.96.100.10:80": "0 200 0.0004", selfIP + ":30080": "0 200 0.0005", "127.0.0.1:30080": "0 200 0.0003", "0.0.0.0:30080": "0 200 0.0003",
		"172.30.0.11:30080": "0 200 0.0005", "172.30.0.12:30080": "0 200 0.0005",
	}
}

type lab struct {
	cs *fake.Clientset
	ex *fakeExec
}

func newLab(t *testing.T) *lab {
	t.Helper()
	findings := "../interpret/findings/testdata/"
	cs := fake.NewClientset(
		k8sNode("node-cilium", "172.30.0.11"), k8sNode("node-iptables", "172.30.0.12"), k8sNode("node-bare", "172.30.0.13"),
		runningPod("kube-system", "cilium-abcde", "node-cilium", "cilium-agent", "quay.io/cilium/cilium:v1.18.8", map[string]string{"k8s-app": "cilium"}),
		runningPod("kube-system", "kube-proxy-x1", "node-iptables", "kube-proxy", "registry.k8s.io/kube-proxy:v1.37.2", map[string]string{"k8s-app": "kube-proxy"}),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "cilium-config"}, Data: map[string]string{"kube-proxy-replacement": "true"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
		nodePortService("kube-system", "nm-nginx", "10.96.100.10", 80, 30080),
		endpointSlice("kube-system", "nm-nginx", "node-cilium", "172.30.0.11", 80),
		nodePortService("kube-system", "nm-nginx-ovs", "10.96.100.11", 80, 30081),
		endpointSlice("kube-system", "nm-nginx-ovs", "node-bare", "172.30.0.13", 80),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}, Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.1", ClusterIPs: []string{"10.96.0.1"}, Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}}},
	)
	// No kubelet: a debug pod runs as soon as it is created.
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: p.Spec.Containers[0].Name, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		return false, nil, nil
	})
	refused := sec{name: debugpod.SecProxyMode, source: debugpod.SourceImage, code: 7}
	kp := readFile(t, findings+"kube-proxy-iptables.txt")
	ex := &fakeExec{
		status:      readFile(t, agentCaptured+"status.json"),
		serviceList: readFile(t, agentCaptured+"service-list.json"),
		probed:      map[string]int{},
		nodes: map[string]*fakeNode{
			"node-cilium": {ip: "172.30.0.11", iptables: readFile(t, findings+"cilium-kpr.txt"), proxy: refused, probes: allAnswer("172.30.0.11")},
			"node-iptables": {ip: "172.30.0.12", iptables: kp, proxy: sec{name: debugpod.SecProxyMode, source: debugpod.SourceImage, stdout: "iptables"},
				probes: allAnswer("172.30.0.12")},
			// Nothing serves Services here: the ClusterIP hangs, NodePorts
			// are refused; the other nodes' NodePorts answer.
			"node-bare": {ip: "172.30.0.13", legacy: readFile(t, findings+"contiv-legacy.txt"), proxy: refused,
				probes: map[string]string{"10.96.100.10:80": "28 000 0", "172.30.0.11:30080": "0 200 0.0005", "172.30.0.12:30080": "0 200 0.0005"}},
		},
	}
	return &lab{cs: cs, ex: ex}
}

// phases records what verify tells its progress and warnings.
type phases struct {
	mu     sync.Mutex
	names  []string
	warned []string
}

func (p *phases) Start(string, string) {}
func (p *phases) Count(int, int, int)  {}
func (p *phases) Phase(name, _ string, _ time.Duration) {
	p.mu.Lock()
	p.names = append(p.names, name)
	p.mu.Unlock()
}
func (p *phases) End() {}

func baseOptions() Options {
	return Options{
		Services: []string{"kube-system/nm-nginx"}, AllNodes: true, Sample: 2, SeedSet: true, Seed: 1,
		Settle: 0, Probe: probe.Options{Timeout: time.Second}, Concurrency: 4,
		Pods: debugpod.Options{Namespace: "kube-system", Image: "nicolaka/netshoot:v0.13", Timeout: 5 * time.Second, Mode: debugpod.ModePods},
	}
}

func (l *lab) run(t *testing.T, ctx context.Context, o Options) (*report.Verify, *phases, error) {
	t.Helper()
	p := &phases{}
	res, err := Run(ctx, Deps{Client: l.cs, Exec: l.ex, Progress: p, Warn: func(kind, msg string) {
		p.mu.Lock()
		p.warned = append(p.warned, kind+": "+msg)
		p.mu.Unlock()
	}}, o)
	return res, p, err
}

// check finds one check by node, check id and (for probes) target.
func check(t *testing.T, res *report.Verify, node, id, target string) report.VerifyCheck {
	t.Helper()
	var ids []string
	for _, c := range res.Checks {
		if c.Node == node && c.Name == id && (target == "" || c.Target == target) {
			return c
		}
		if c.Node == node {
			ids = append(ids, c.Name+" "+c.Target)
		}
	}
	t.Fatalf("no check %s %s on %s; the node has: %v", id, target, node, ids)
	return report.VerifyCheck{}
}

func debugPodsLeft(t *testing.T, l *lab) int {
	t.Helper()
	pods, err := l.cs.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: debugpod.ManagedByLabel + "=" + debugpod.ManagedByValue})
	if err != nil {
		t.Fatal(err)
	}
	return len(pods.Items)
}

func TestVerifyClassifiesChoosesAndJudges(t *testing.T) {
	l := newLab(t)
	res, p, err := l.run(t, context.Background(), baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	classOf := map[string]string{}
	for _, n := range res.Nodes {
		classOf[n.Name] = n.Class
		if !n.Chosen {
			t.Errorf("%s not chosen with --all-nodes", n.Name)
		}
	}
	if classOf["node-cilium"] != "cilium" || classOf["node-iptables"] != "kube-proxy-iptables" || classOf["node-bare"] != "none" {
		t.Errorf("classes %v", classOf)
	}
	if got := strings.Join(p.names, ","); got != "status,services,nodes" {
		t.Errorf("phases %s", got)
	}
	if res.Options.Sample != 0 || res.Options.Seed != 1 || !res.CleanedUp {
		t.Errorf("options %+v, cleaned up %v", res.Options, res.CleanedUp)
	}
	if len(res.Targets) != 1 || res.Targets[0].Port != "80" || res.Targets[0].NodePort != 30080 || strings.Join(res.Targets[0].BackendNodes, ",") != "node-cilium" ||
		strings.Join(res.Targets[0].BackendClasses, ",") != "cilium" || strings.Join(res.Targets[0].Endpoints, ",") != "172.30.0.11:80" {
		t.Errorf("targets %+v", res.Targets)
	}

	// The Cilium node: its agent's table holds the target, every probe
	// answers, and no KUBE-SVC rules.
	for _, c := range []struct{ node, id, target, want string }{
		{"node-cilium", report.CheckClusterIP, "10.96.100.10:80", report.ResultPass},
		{"node-cilium", report.CheckNodePortLocal, "172.30.0.11:30080", report.ResultPass},
		{"node-cilium", report.CheckNodePortLoopback, "127.0.0.1:30080", report.ResultPass},
		{"node-cilium", report.CheckNodePortAny, "0.0.0.0:30080", report.ResultPass},
		{"node-iptables", report.CheckClusterIP, "10.96.100.10:80", report.ResultPass},
		// Nothing serves Services on node-bare: a warning without --strict.
		{"node-bare", report.CheckClusterIP, "10.96.100.10:80", report.ResultWarn},
		{"node-bare", report.CheckNodePortLocal, "172.30.0.13:30080", report.ResultWarn},
	} {
		if got := check(t, res, c.node, c.id, c.target); got.Result != c.want {
			t.Errorf("%s %s %s: %s (%s), want %s", c.node, c.id, c.target, got.Result, got.Reason, c.want)
		}
	}
	// The agent's table: the frontend check passes on node-cilium.
	var agentChecks int
	for _, c := range res.Checks {
		if c.Node == "node-cilium" && (c.Name == report.CheckCiliumFrontends || c.Name == report.CheckAgentKPR) {
			agentChecks++
			if c.Result != report.ResultPass {
				t.Errorf("agent check %s: %s (%s)", c.Name, c.Result, c.Reason)
			}
		}
	}
	if agentChecks != 2 {
		t.Errorf("%d agent checks on node-cilium, want agent-kpr and the target's cilium-frontends", agentChecks)
	}
	// Every chosen node probes the NodePort on one node of every other
	// class and of its own where there is another.
	remote := map[string][]string{}
	for _, c := range res.Checks {
		if c.Name == report.CheckNodePortRemote {
			remote[c.Node] = append(remote[c.Node], c.Target)
		}
	}
	want := map[string]string{
		"node-cilium":   "172.30.0.12:30080,172.30.0.13:30080",
		"node-iptables": "172.30.0.11:30080,172.30.0.13:30080",
		"node-bare":     "172.30.0.11:30080,172.30.0.12:30080",
	}
	for n, w := range want {
		if got := strings.Join(sorted(remote[n]), ","); got != w {
			t.Errorf("%s probes remote NodePorts %s, want %s", n, got, w)
		}
	}
	// node-cilium's socket-LB answers node-bare's NodePort itself? No:
	// node-bare runs no agent, so its NodePort is judged by its class.
	if c := check(t, res, "node-cilium", report.CheckNodePortRemote, "172.30.0.13:30080"); c.Result != report.ResultWarn {
		t.Errorf("node-bare's NodePort from node-cilium: %s (%s)", c.Result, c.Reason)
	}
	if res.Summary.Result != report.ResultPass || res.Summary.Fail != 0 || res.Summary.Warn == 0 {
		t.Errorf("summary %+v", res.Summary)
	}
	if n := debugPodsLeft(t, l); n != 0 {
		t.Errorf("%d debug pods left", n)
	}
	// Checks are sorted by node.
	for i := 1; i < len(res.Checks); i++ {
		if res.Checks[i-1].Node > res.Checks[i].Node {
			t.Fatalf("checks not sorted by node at %d", i)
		}
	}
}

func sorted(xs []string) []string {
	out := append([]string{}, xs...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestVerifyStrictFailsNodesWithoutDatapath(t *testing.T) {
	l := newLab(t)
	o := baseOptions()
	o.Strict = true
	res, _, err := l.run(t, context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if c := check(t, res, "node-bare", report.CheckClusterIP, "10.96.100.10:80"); c.Result != report.ResultFail {
		t.Errorf("--strict: %s", c.Result)
	}
	if res.Summary.Result != report.ResultFail {
		t.Errorf("summary %+v", res.Summary)
	}
}

// A Cilium node that does not answer its own NodePort fails, and the
// check says so.
func TestVerifyFailsABrokenCiliumNode(t *testing.T) {
	l := newLab(t)
	delete(l.ex.nodes["node-cilium"].probes, "0.0.0.0:30080")
	res, _, err := l.run(t, context.Background(), baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	c := check(t, res, "node-cilium", report.CheckNodePortAny, "0.0.0.0:30080")
	if c.Result != report.ResultFail || c.Evidence.Probe.Outcome != "refused" {
		t.Errorf("0.0.0.0:30080 on node-cilium: %s %s (%s)", c.Result, c.Evidence.Probe.Outcome, c.Reason)
	}
	if res.Summary.Result != report.ResultFail || res.Summary.Fail == 0 {
		t.Errorf("summary %+v", res.Summary)
	}
}

// Probes that disagree are retried until --settle: a datapath that
// catches up passes, on its second attempt.
func TestVerifySettlesProbes(t *testing.T) {
	l := newLab(t)
	l.ex.nodes["node-cilium"].firstProbes = map[string]string{"127.0.0.1:30080": "7 000 0"}
	o := baseOptions()
	o.Settle = 3 * time.Second
	res, _, err := l.run(t, context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	c := check(t, res, "node-cilium", report.CheckNodePortLoopback, "127.0.0.1:30080")
	if c.Result != report.ResultPass || c.Evidence.Probe.Attempts != 2 {
		t.Errorf("settled probe: %s after %d attempt(s)", c.Result, c.Evidence.Probe.Attempts)
	}
	// Without settle time, the first answer stands.
	l = newLab(t)
	l.ex.nodes["node-cilium"].firstProbes = map[string]string{"127.0.0.1:30080": "7 000 0"}
	res, _, _ = l.run(t, context.Background(), baseOptions())
	if c := check(t, res, "node-cilium", report.CheckNodePortLoopback, "127.0.0.1:30080"); c.Result != report.ResultFail || c.Evidence.Probe.Attempts != 1 {
		t.Errorf("unsettled probe: %s after %d attempt(s)", c.Result, c.Evidence.Probe.Attempts)
	}
}

// An agent that has not yet seen a Service is asked again until --settle.
func TestVerifySettlesTheAgentTable(t *testing.T) {
	l := newLab(t)
	l.ex.serviceListFirst = "[]"
	o := baseOptions()
	o.Settle = 3 * time.Second
	res, _, err := l.run(t, context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if l.ex.serviceLists != 2 {
		t.Errorf("service list read %d time(s), want 2", l.ex.serviceLists)
	}
	if !strings.Contains(res.Phases[1].Detail, "(2 attempt(s))") || !strings.Contains(res.Phases[1].Detail, "0 problem(s)") {
		t.Errorf("services phase: %q", res.Phases[1].Detail)
	}
	// Without settle, the empty table's missing frontends are failures.
	l = newLab(t)
	l.ex.serviceListFirst = "[]"
	res, _, _ = l.run(t, context.Background(), baseOptions())
	if l.ex.serviceLists != 1 || res.Summary.Result != report.ResultFail {
		t.Errorf("unsettled table: %d read(s), summary %+v", l.ex.serviceLists, res.Summary)
	}
}

func TestVerifySampleAndNodeChoice(t *testing.T) {
	l := newLab(t)
	o := baseOptions()
	o.AllNodes, o.Nodes = false, []string{"node-bare", "node-bare"}
	res, _, err := l.run(t, context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range res.Nodes {
		if n.Chosen != (n.Name == "node-bare") {
			t.Errorf("%s chosen=%v", n.Name, n.Chosen)
		}
	}
	for _, c := range res.Checks {
		if c.Node != "node-bare" {
			t.Fatalf("check from an unchosen node: %+v", c)
		}
	}
	// --sample keeps its value in the report.
	o = baseOptions()
	o.AllNodes, o.Sample = false, 1
	res, _, err = l.run(t, context.Background(), o)
	if err != nil || res.Options.Sample != 1 || len(res.Phases) == 0 || !strings.Contains(res.Phases[0].Detail, "cilium 1/1") {
		t.Errorf("sample: %v %+v", err, res.Options)
	}
}

func TestVerifyCannotRun(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Options, *lab)
		want string
	}{
		{"unknown node", func(o *Options, _ *lab) { o.AllNodes, o.Nodes = false, []string{"node-ciliun"} }, "--node node-ciliun: no such node; did you mean node-cilium"},
		{"unknown service", func(o *Options, _ *lab) { o.Services = []string{"kube-system/nm-ngin"} }, `--service kube-system/nm-ngin: Service "nm-ngin" not found in namespace kube-system; did you mean nm-nginx`},
		{"no TCP port", func(o *Options, l *lab) {
			s, _ := l.cs.CoreV1().Services("kube-system").Get(context.Background(), "nm-nginx", metav1.GetOptions{})
			s.Spec.Ports[0].Protocol = corev1.ProtocolUDP
			_, _ = l.cs.CoreV1().Services("kube-system").Update(context.Background(), s, metav1.UpdateOptions{})
		}, "no TCP Service port to probe"},
		{"no Ready node", func(o *Options, l *lab) {
			o.AllNodes = false
			for _, n := range []string{"node-cilium", "node-iptables", "node-bare"} {
				nd, _ := l.cs.CoreV1().Nodes().Get(context.Background(), n, metav1.GetOptions{})
				nd.Status.Conditions[0].Status = corev1.ConditionFalse
				_, _ = l.cs.CoreV1().Nodes().UpdateStatus(context.Background(), nd, metav1.UpdateOptions{})
			}
		}, "no node can be checked from"},
	} {
		l := newLab(t)
		o := baseOptions()
		c.edit(&o, l)
		_, _, err := l.run(t, context.Background(), o)
		var cr *CannotRunError
		if !errors.As(err, &cr) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want CannotRunError %q", c.name, err, c.want)
		}
		if n := debugPodsLeft(t, l); n != 0 {
			t.Errorf("%s: %d debug pods left", c.name, n)
		}
	}
	// No nodes at all.
	cs := fake.NewClientset()
	_, err := Run(context.Background(), Deps{Client: cs, Exec: &fakeExec{}}, baseOptions())
	var cr *CannotRunError
	if !errors.As(err, &cr) || !strings.Contains(err.Error(), "the cluster has no nodes") {
		t.Errorf("empty cluster: %v", err)
	}
}

func TestVerifyDryRunCreatesNothing(t *testing.T) {
	l := newLab(t)
	o := baseOptions()
	o.DryRun, o.DeployBackends, o.BackendImage = true, true, "registry.k8s.io/e2e-test-images/agnhost:2.53"
	res, _, err := l.run(t, context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.DryRun || len(res.Checks) != 0 {
		t.Errorf("dry run: %+v", res)
	}
	created := strings.Join(res.Created, "\n")
	for _, w := range []string{"namespace/kpr-verify-<random>", "(node node-cilium, image registry.k8s.io/e2e-test-images/agnhost:2.53)", "service/kpr-verify-<random>/", "pod/kube-system/kpr-node-bare-<random> (debug pod, image nicolaka/netshoot:v0.13)"} {
		if !strings.Contains(created, w) {
			t.Errorf("created lacks %q:\n%s", w, created)
		}
	}
	for _, a := range l.cs.Actions() {
		if a.GetVerb() == "create" {
			t.Errorf("dry run created %s", a.GetResource().Resource)
		}
	}
}

func TestVerifyNodeFailureIsReportedAndOthersGoOn(t *testing.T) {
	l := newLab(t)
	l.ex.nodes["node-iptables"].dumpErr = errors.New("exec refused by the kubelet")
	res, _, err := l.run(t, context.Background(), baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 1 || res.Errors[0].Node != "node-iptables" || !strings.Contains(res.Errors[0].Message, "exec refused") {
		t.Errorf("errors %+v", res.Errors)
	}
	if c := check(t, res, "node-cilium", report.CheckClusterIP, "10.96.100.10:80"); c.Result != report.ResultPass {
		t.Errorf("node-cilium after node-iptables failed: %s", c.Result)
	}
	if res.Summary.Result != report.ResultFail {
		t.Errorf("a node that could not be checked must fail the run: %+v", res.Summary)
	}
}

func TestVerifyKeepSaysWhichPodsStay(t *testing.T) {
	l := newLab(t)
	o := baseOptions()
	o.Pods.Keep = true
	_, p, err := l.run(t, context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if n := debugPodsLeft(t, l); n != 3 {
		t.Errorf("--keep left %d pods, want 3", n)
	}
	joined := strings.Join(p.warned, "\n")
	if !strings.Contains(joined, "kept debug pods (--keep): ") || !strings.Contains(joined, "kubectl kpr cleanup") {
		t.Errorf("no --keep notice: %q", joined)
	}
}

func TestVerifyInterrupted(t *testing.T) {
	l := newLab(t)
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel as the first debug pod is created: the run stops, and says so.
	l.cs.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		cancel()
		return false, nil, nil
	})
	_, _, err := l.run(t, ctx, baseOptions())
	if !errors.Is(err, ErrInterrupted) {
		t.Errorf("err %v, want ErrInterrupted", err)
	}
	if n := debugPodsLeft(t, l); n != 0 {
		t.Errorf("%d debug pods left after the interrupt", n)
	}
}
