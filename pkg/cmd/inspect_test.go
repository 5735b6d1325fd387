package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-kpr/kubectl-kpr/internal/fakelab"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/debugpod"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/probe"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/hostdump"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/nodecheck"
)

// The lab's scenario in miniature: node-iptables runs kube-proxy,
// node-stale has Cilium KPR and leftover kube-proxy rules, node-bare has
// nothing. Rule dumps come from pkg/interpret/findings/testdata (fixtures
// constructed from kube-proxy's and Cilium's formats; see their headers).

func findingsFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../interpret/findings/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type labNode struct {
	ip       string
	iptables string
	legacy   string
	proxy    hostdump.Section
	nft      string
	ipvs     string
	ipvs0    bool
	// probes answers probe targets: address → "rc code tConnect".
	probes map[string]string
}

// debugExec answers execs into kpr's debug pods by node.
type debugExec struct {
	mu    sync.Mutex
	nodes map[string]labNode
	execs []string
}

func (d *debugExec) Exec(_ context.Context, ns, pod, container string, cmd []string) (collect.ExecResult, error) {
	d.mu.Lock()
	d.execs = append(d.execs, pod)
	d.mu.Unlock()
	if container != debugpod.ContainerName {
		return collect.ExecResult{Stderr: []byte("executable file not found in $PATH"), ExitCode: 127}, nil
	}
	var n labNode
	var found bool
	for name, ln := range d.nodes {
		if strings.HasPrefix(pod, "kpr-"+name+"-") {
			n, found = ln, true
		}
	}
	if !found {
		return collect.ExecResult{}, fmt.Errorf("no such pod %s", pod)
	}
	boundary := cmd[4]
	switch cmd[3] {
	case "kpr-dump":
		host := debugpod.SourceChroot
		ipvs := hostdump.Section{Name: debugpod.SecIPVS, Source: debugpod.SourceSkipped, Stderr: "ip_vs is not loaded"}
		if n.ipvs != "" {
			ipvs = hostdump.Section{Name: debugpod.SecIPVS, Source: host, Stdout: n.ipvs}
		}
		ipvs0 := hostdump.Section{Name: debugpod.SecKubeIPVS0, Source: host, Stderr: `Device "kube-ipvs0" does not exist.`, ExitCode: 1}
		if n.ipvs0 {
			ipvs0 = hostdump.Section{Name: debugpod.SecKubeIPVS0, Source: host, Stdout: "5: kube-ipvs0: <BROADCAST,NOARP> mtu 1500 qdisc noop state DOWN\n    link/ether 3e:1f:9c:10:2a:11 brd ff:ff:ff:ff:ff:ff\n    dummy"}
		}
		return collect.ExecResult{Stdout: fakelab.Frame(boundary, host,
			hostdump.Section{Name: debugpod.SecIPTablesNFT, Source: host, Stdout: n.iptables},
			hostdump.Section{Name: debugpod.SecIPTablesLegacy, Source: host, Stdout: n.legacy},
			hostdump.Section{Name: debugpod.SecIP6TablesNFT, Source: host},
			hostdump.Section{Name: debugpod.SecIP6TablesLegacy, Source: host, Stderr: "ip6tables-legacy-save: can't initialize ip6tables table `filter'", ExitCode: 1},
			hostdump.Section{Name: debugpod.SecNFT, Source: host, Stdout: n.nft},
			ipvs, ipvs0,
			n.proxy,
		)}, nil
	case "kpr-probe":
		var out strings.Builder
		for i, url := range cmd[9:] {
			addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
			ans, ok := n.probes[addr]
			if !ok {
				ans = "7 000 0"
			}
			f := strings.Fields(ans)
			fmt.Fprintf(&out, "%s probe %d\n", boundary, i)
			if f[0] == "7" {
				fmt.Fprintf(&out, "* connect to %s failed: Connection refused\n", addr)
			}
			fmt.Fprintf(&out, "%s w %s %s 0.01\n%s rc %s\n", boundary, f[1], f[2], boundary, f[0])
		}
		return collect.ExecResult{Stdout: []byte(out.String())}, nil
	}
	return collect.ExecResult{ExitCode: 2}, nil
}

var proxyRefused = hostdump.Section{Name: debugpod.SecProxyMode, Source: debugpod.SourceImage, ExitCode: 7}

func scenario(t *testing.T) (*fake.Clientset, *debugExec) {
	t.Helper()
	kp := findingsFixture(t, "kube-proxy-iptables.txt")
	cil := findingsFixture(t, "cilium-kpr.txt")
	kprNode := func(name, ip string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
			NodeInfo:   corev1.NodeSystemInfo{KernelVersion: "6.1.0", OperatingSystem: "linux"},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	}
	kprPod := func(ns, name, nodeName string, labels map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
			Spec:   corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "c", Image: "quay.io/cilium/cilium:v1.18.4"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "svc1"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.50", ClusterIPs: []string{"10.96.0.50"},
		Ports: []corev1.ServicePort{{Name: "p80", Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP}}}}
	cs := fake.NewClientset(
		kprNode("node-iptables", "172.30.0.12"), kprNode("node-stale", "172.30.0.14"), kprNode("node-bare", "172.30.0.13"),
		kprPod("kube-system", "kube-proxy-abcde", "node-iptables", map[string]string{"k8s-app": "kube-proxy"}),
		kprPod("kube-system", "cilium-stale", "node-stale", map[string]string{"k8s-app": "cilium"}),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "cilium-config"}, Data: map[string]string{"kube-proxy-replacement": "true"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
		svc,
	)
	// No kubelet here: the debug pod is Running as soon as it is created.
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: debugpod.ContainerName, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		return false, nil, nil
	})
	ex := &debugExec{nodes: map[string]labNode{
		"node-iptables": {ip: "172.30.0.12", iptables: kp, proxy: hostdump.Section{Name: debugpod.SecProxyMode, Source: debugpod.SourceImage, Stdout: "iptables"},
			probes: map[string]string{"10.96.0.50:80": "0 200 0.0004", "172.30.0.12:30080": "0 200 0.0005", "127.0.0.1:30080": "0 200 0.0003", "0.0.0.0:30080": "0 200 0.0003"}},
		"node-stale": {ip: "172.30.0.14", iptables: kp + cil, proxy: proxyRefused,
			probes: map[string]string{"10.96.0.50:80": "0 200 0.0004", "172.30.0.14:30080": "0 200 0.0005", "127.0.0.1:30080": "0 200 0.0003", "0.0.0.0:30080": "0 200 0.0003"}},
		"node-bare": {ip: "172.30.0.13", legacy: findingsFixture(t, "contiv-legacy.txt"), proxy: proxyRefused,
			probes: map[string]string{"10.96.0.50:80": "28 000 0"}},
	}}
	return cs, ex
}

func testRoot() (*RootOptions, *bytes.Buffer, *bytes.Buffer) {
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	return &RootOptions{Streams: streams, Color: "never"}, out, errOut
}

func debugPods(t *testing.T, cs *fake.Clientset) []corev1.Pod {
	t.Helper()
	l, err := cs.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: debugpod.ManagedByLabel + "=" + debugpod.ManagedByValue})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func TestInspectScenario(t *testing.T) {
	cs, ex := scenario(t)
	root, out, errOut := testRoot()
	o := &InspectOptions{root: root, Pods: newDebugPodFlags(), Nodes: []string{"node-iptables", "node-stale", "node-bare"}, Output: "json"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.run(context.Background(), cs, ex); err != nil {
		t.Fatalf("inspect: %v\n%s", err, errOut)
	}
	var rep struct {
		Nodes []struct {
			Name        string
			RulesSource string
			Netfilter   struct {
				KubeServiceChains []string
				CiliumChains      []string
				KubeProxyModes    []string
			}
			KubeProxyMode      string
			StaleServiceChains []struct{ Chain, ServicePort string }
			Findings           []struct{ Code, Message string }
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	byName := map[string]int{}
	for i, n := range rep.Nodes {
		byName[n.Name] = i
		if n.RulesSource != debugpod.SourceChroot {
			t.Errorf("%s: rulesSource %q", n.Name, n.RulesSource)
		}
	}
	codes := func(name string) string {
		var c []string
		for _, f := range rep.Nodes[byName[name]].Findings {
			c = append(c, f.Code)
		}
		return strings.Join(c, ",")
	}
	ipt := rep.Nodes[byName["node-iptables"]]
	if len(ipt.Netfilter.KubeServiceChains) != 2 || ipt.KubeProxyMode != "iptables" || codes("node-iptables") != "stale-kube-proxy-rules" {
		t.Errorf("node-iptables: %+v findings %s", ipt, codes("node-iptables"))
	}
	// kube-proxy runs there: only the chain of the deleted Service is stale.
	if msg := ipt.Findings[0].Message; strings.Contains(msg, "no kube-proxy runs") || !strings.Contains(msg, "default/gone") {
		t.Errorf("node-iptables finding: %s", msg)
	}
	stale := rep.Nodes[byName["node-stale"]]
	if !strings.Contains(codes("node-stale"), "stale-kube-proxy-rules") || stale.KubeProxyMode != "none" || len(stale.Netfilter.CiliumChains) == 0 {
		t.Errorf("node-stale: %+v findings %s", stale, codes("node-stale"))
	}
	if len(stale.StaleServiceChains) != 1 || stale.StaleServiceChains[0].ServicePort != "default/gone" {
		t.Errorf("node-stale stale chains = %+v", stale.StaleServiceChains)
	}
	bare := rep.Nodes[byName["node-bare"]]
	if len(bare.Netfilter.KubeServiceChains) != 0 || !strings.Contains(codes("node-bare"), "no-service-datapath") {
		t.Errorf("node-bare: %+v findings %s", bare, codes("node-bare"))
	}
	if left := debugPods(t, cs); len(left) != 0 {
		t.Errorf("%d debug pods left after inspect", len(left))
	}
	if len(ex.execs) != 3 {
		t.Errorf("%d execs, want one per node", len(ex.execs))
	}
}

func TestInspectTableAndRaw(t *testing.T) {
	cs, ex := scenario(t)
	root, out, _ := testRoot()
	o := &InspectOptions{root: root, Pods: newDebugPodFlags(), Nodes: []string{"node-stale"}, Raw: true, Output: "wide"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.run(context.Background(), cs, ex); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"NODE", "RULES FROM", "node-stale", "chroot /host", "stale-kube-proxy-rules:", "KUBE-SVC-NOZ62LFLXQMHSLBW -> default/gone", "(Service gone)", "=== node-stale: iptables-nft (chroot /host) ===", ":KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "\x1b[") {
		t.Error("--color never must print no escape codes")
	}
}

func TestInspectPartialFailure(t *testing.T) {
	cs, ex := scenario(t)
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.CreateAction).GetObject().(*corev1.Pod).Spec.NodeName == "node-bare" {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "x",
				errors.New(`violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true, hostPID=true)`))
		}
		return false, nil, nil
	})
	root, out, errOut := testRoot()
	o := &InspectOptions{root: root, Pods: newDebugPodFlags(), Nodes: []string{"node-iptables", "node-bare"}}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	err := o.run(context.Background(), cs, ex)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Fatalf("want exit 1 for a failed node, got %v", err)
	}
	if !strings.Contains(out.String(), "node-iptables") {
		t.Errorf("the readable node must still be shown:\n%s", out)
	}
	if !strings.Contains(errOut.String(), "pod-security.kubernetes.io/enforce=privileged") {
		t.Errorf("stderr must name the namespace label:\n%s", errOut)
	}
}

func TestInspectNeedsNodes(t *testing.T) {
	cs, ex := scenario(t)
	root, _, _ := testRoot()
	o := &InspectOptions{root: root, Pods: newDebugPodFlags()}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.run(context.Background(), cs, ex); err == nil || !strings.Contains(err.Error(), "--all-nodes") {
		t.Errorf("want a hint about --all-nodes, got %v", err)
	}
	o.Nodes = []string{"node-iptabels"}
	if err := o.run(context.Background(), cs, ex); err == nil || !strings.Contains(err.Error(), "did you mean node-iptables") {
		t.Errorf("want did-you-mean, got %v", err)
	}
}

func TestProbeMatrixAndJSON(t *testing.T) {
	cs, ex := scenario(t)
	root, _, _ := testRoot()
	o := &ProbeOptions{root: root, Pods: newDebugPodFlags(), Service: "svc1", From: []string{"node-iptables", "node-bare"}, Remote: 1, ProbeFlags: ProbeFlags{ProbeTimeout: time.Second}, Output: "json"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	svcs, err := collect.ProbeServices(context.Background(), cs, "ns1", "svc1")
	if err != nil {
		t.Fatal(err)
	}
	from, all, err := collect.ChooseNodes(context.Background(), cs, o.From, false, "--from")
	if err != nil {
		t.Fatal(err)
	}
	runner := o.Pods.Runner(cs, ex)
	runner.Concurrency = 2
	rep := nodecheck.Probe(context.Background(), runner, from, all, svcs, nodecheck.ProbeSettings{Remote: 1, Probe: probe.Options{Timeout: o.ProbeTimeout}})
	got := map[string]string{}
	for _, r := range rep.Results {
		got[r.From+" "+r.Kind+" "+r.Target] = r.Outcome
	}
	want := map[string]string{
		"node-iptables clusterip 10.96.0.50:80":           "ok",
		"node-iptables nodeport-local 172.30.0.12:30080":  "ok",
		"node-iptables nodeport-loopback 127.0.0.1:30080": "ok",
		"node-iptables nodeport-any 0.0.0.0:30080":        "ok",
		"node-iptables nodeport-remote 172.30.0.13:30080": "refused",
		"node-bare clusterip 10.96.0.50:80":               "timeout",
		"node-bare nodeport-local 172.30.0.13:30080":      "refused",
		"node-bare nodeport-remote 172.30.0.12:30080":     "refused",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if left := debugPods(t, cs); len(left) != 0 {
		t.Errorf("%d debug pods left", len(left))
	}
}

func TestCleanupDeletesOnlyKprPods(t *testing.T) {
	cs, _ := scenario(t)
	for _, ns := range []string{"kube-system", "kpr"} {
		p := debugpod.Build("node-bare", debugpod.Options{Namespace: ns, RunID: "old"})
		if _, err := cs.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	root, out, _ := testRoot()
	o := &CleanupOptions{root: root, now: time.Now}
	if err := o.run(context.Background(), cs); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "deleted pod "); n != 2 {
		t.Errorf("want 2 deleted pods reported:\n%s", out)
	}
	if left := debugPods(t, cs); len(left) != 0 {
		t.Errorf("%d kpr pods left", len(left))
	}
	all, _ := cs.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
	if len(all.Items) != 2 {
		t.Errorf("cleanup must leave other pods alone: %d pods left, want kube-proxy and cilium", len(all.Items))
	}
	out.Reset()
	if err := o.run(context.Background(), cs); err != nil || !strings.Contains(out.String(), "No kpr pods found.") {
		t.Errorf("second cleanup: %v %q", err, out)
	}
}

func TestProbeRender(t *testing.T) {
	cs, ex := scenario(t)
	root, out, _ := testRoot()
	root.ConfigFlags = genericclioptions.NewConfigFlags(false)
	ns := "ns1"
	root.ConfigFlags.Namespace = &ns
	o := &ProbeOptions{root: root, Pods: newDebugPodFlags(), From: []string{"node-iptables", "node-bare"}, Remote: 0, ProbeFlags: ProbeFlags{ProbeTimeout: time.Second}}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.run(context.Background(), cs, ex); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	if !strings.HasPrefix(lines[0], "SERVICE") || !strings.Contains(lines[0], "NODE-IPTABLES") || !strings.Contains(lines[0], "NODE-BARE") {
		t.Fatalf("header: %q", lines[0])
	}
	var row string
	for _, l := range lines {
		if strings.Contains(l, "clusterip") {
			row = l
		}
	}
	if !strings.Contains(row, "ns1/svc1:p80") || !strings.Contains(row, "ok 0.4ms") || !strings.HasSuffix(strings.TrimSpace(row), "timeout") {
		t.Errorf("clusterip row: %q\n%s", row, out)
	}
}

func TestDiffScenario(t *testing.T) {
	cs, ex := scenario(t)
	root, out, errOut := testRoot()
	o := &DiffOptions{root: root, Pods: newDebugPodFlags(), A: "node-iptables", B: "node-bare", Services: []string{"ns1/svc1"}, ProbeFlags: ProbeFlags{ProbeTimeout: time.Second}, ExitCode: true, Output: "json"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	err := o.run(context.Background(), cs, fakelab.Dynamic(), ex)
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 || ee.Err != nil {
		t.Fatalf("--exit-code with differing nodes: want silent exit 1, got %v\n%s", err, errOut)
	}
	var d struct {
		Nodes []string
		Rows  []struct {
			Fact, A, B string
			Differs    bool
		}
		Verdicts []string
	}
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Nodes) != 2 || d.Nodes[0] != "node-iptables" || len(d.Verdicts) != 2 {
		t.Errorf("nodes %v verdicts %v", d.Nodes, d.Verdicts)
	}
	row := func(fact string) (string, string, bool) {
		for _, r := range d.Rows {
			if r.Fact == fact {
				return r.A, r.B, r.Differs
			}
		}
		t.Fatalf("no row %q in %+v", fact, d.Rows)
		return "", "", false
	}
	if a, b, diff := row("services by"); a != "kube-proxy-iptables" || b != "none" || !diff {
		t.Errorf("services by: %s | %s", a, b)
	}
	// Who served it: node-iptables' kube-proxy (no Cilium there).
	if a, b, diff := row("ns1/svc1:p80 clusterip (10.96.0.50:80)"); a != "ok (kube-proxy)" || b != "timeout" || !diff {
		t.Errorf("clusterip probe: %s | %s", a, b)
	}
	if a, b, _ := row("ns1/svc1:p80 nodeport-local (own IP:30080)"); a != "ok (kube-proxy)" || b != "refused" {
		t.Errorf("nodeport-local probe: %s | %s", a, b)
	}
	if a, b, _ := row("hostPort served by"); a != "none" || b != "none" {
		t.Errorf("hostPort served by: %s | %s", a, b)
	}
	if a, b, _ := row("NodePort addresses"); a != "every local address" || b != "none" {
		t.Errorf("NodePort addresses: %s | %s", a, b)
	}
	if left := debugPods(t, cs); len(left) != 0 {
		t.Errorf("%d debug pods left", len(left))
	}
}

func TestDiffNoProbeCreatesOnlyInspectWork(t *testing.T) {
	cs, ex := scenario(t)
	root, out, _ := testRoot()
	o := &DiffOptions{root: root, Pods: newDebugPodFlags(), A: "node-iptables", B: "node-bare", NoProbe: true, ProbeFlags: ProbeFlags{ProbeTimeout: time.Second}}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	root.ConfigFlags = genericclioptions.NewConfigFlags(false)
	if err := o.run(context.Background(), cs, fakelab.Dynamic(), ex); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "probe") && strings.Contains(out.String(), "clusterip") {
		t.Errorf("--no-probe printed probe rows:\n%s", out)
	}
	if len(ex.execs) != 2 {
		t.Errorf("--no-probe: %d debug-pod execs, want 2 (one dump per node)", len(ex.execs))
	}
	for _, want := range []string{"node-iptables:", "node-bare:", "services by", "kube-proxy-iptables", "*"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("diff table lacks %q:\n%s", want, out)
		}
	}
}

func TestProbeServicesNamespacedName(t *testing.T) {
	cs, _ := scenario(t)
	got, err := collect.ProbeServices(context.Background(), cs, "default", "ns1/svc1")
	if err != nil || len(got) != 1 || got[0].Namespace != "ns1" {
		t.Errorf("NAMESPACE/NAME: %v %v", got, err)
	}
	if _, err := collect.ProbeServices(context.Background(), cs, "ns1", "svc2"); err == nil || !strings.Contains(err.Error(), "did you mean svc1") {
		t.Errorf("unknown Service: %v", err)
	}
	if _, err := collect.ProbeServices(context.Background(), cs, "kube-system", ""); err == nil || !strings.Contains(err.Error(), "no NodePort Services in namespace kube-system") {
		t.Errorf("namespace without NodePort Services: %v", err)
	}
}

// kube-proxy's other modes, from pkg/interpret/netfilter's fixtures (their
// headers say how each was made): nftables live and left behind, and ipvs.
func TestInspectOtherKubeProxyModes(t *testing.T) {
	cs, ex := scenario(t)
	fixture := func(name string) string {
		b, err := os.ReadFile("../interpret/netfilter/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	nft, ipvs := fixture("nft-kube-proxy.txt"), fixture("ipvsadm-kube-proxy.txt")
	cil := findingsFixture(t, "cilium-kpr.txt")
	ex.nodes["node-iptables"] = labNode{iptables: cil, nft: nft, proxy: hostdump.Section{Name: debugpod.SecProxyMode, Source: debugpod.SourceImage, Stdout: "nftables"}}
	ex.nodes["node-stale"] = labNode{iptables: cil, nft: nft, proxy: proxyRefused}
	ex.nodes["node-bare"] = labNode{ipvs: ipvs, ipvs0: true, proxy: proxyRefused}
	root, out, errOut := testRoot()
	o := &InspectOptions{root: root, Pods: newDebugPodFlags(), Nodes: []string{"node-iptables", "node-stale", "node-bare"}, Output: "json"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.run(context.Background(), cs, ex); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var rep struct {
		Nodes []struct {
			Name      string
			KubeIPVS0 bool
			Netfilter struct {
				KubeProxyModes    []string
				KubeProxyNFTables []struct{ Family, Name string }
				CiliumChains      []string
				IPVS              *struct{ VirtualServices int }
			}
			StaleServiceChains []struct{ Chain, ServicePort string }
			Findings           []struct{ Code, Message string }
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	for _, n := range rep.Nodes {
		var codes []string
		for _, f := range n.Findings {
			codes = append(codes, f.Code)
		}
		modes := strings.Join(n.Netfilter.KubeProxyModes, ",")
		switch n.Name {
		case "node-iptables": // live kube-proxy, nftables mode
			if modes != "nftables" || len(n.Netfilter.KubeProxyNFTables) != 1 || len(n.Netfilter.CiliumChains) == 0 {
				t.Errorf("%s: modes %q tables %v", n.Name, modes, n.Netfilter.KubeProxyNFTables)
			}
			// ns1/svc1 exists; the fixture's other Services do not.
			for _, s := range n.StaleServiceChains {
				if strings.HasPrefix(s.ServicePort, "ns1/svc1") {
					t.Errorf("chain of an existing Service flagged stale: %+v", s)
				}
			}
			if len(n.StaleServiceChains) == 0 || strings.Contains(strings.Join(codes, ","), "no-service-datapath") {
				t.Errorf("%s: stale %v findings %v", n.Name, n.StaleServiceChains, codes)
			}
		case "node-stale": // table ip kube-proxy left behind
			if modes != "nftables" || !strings.Contains(strings.Join(codes, ","), "stale-kube-proxy-rules") {
				t.Errorf("%s: modes %q findings %v", n.Name, modes, codes)
			}
		case "node-bare": // ipvs leftovers: kube-ipvs0 and virtual services
			if !n.KubeIPVS0 || n.Netfilter.IPVS == nil || n.Netfilter.IPVS.VirtualServices == 0 || modes != "ipvs" {
				t.Errorf("%s: ipvs0 %v ipvs %+v modes %q", n.Name, n.KubeIPVS0, n.Netfilter.IPVS, modes)
			}
			if !strings.Contains(strings.Join(codes, ","), "stale-kube-proxy-rules") {
				t.Errorf("%s: findings %v", n.Name, codes)
			}
		}
	}
}
