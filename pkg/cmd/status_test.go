package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-kpr/kubectl-kpr/internal/fakelab"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
)

// agentStatusJSON is a minimal `cilium-dbg status -o json`: only keys of
// Cilium's models.StatusResponse (api/v1/models, 1.16) that kpr reads.
// Constructed for this test; the parser's own tests use rendered fixtures.
const agentStatusJSON = `{
  "cilium": {"state": "Ok", "msg": "Cilium 1.16.5 (v1.16.5-ad688277)"},
  "kubernetes": {"state": "Ok", "msg": "1.37 (v1.37.2) [linux/amd64]"},
  "cni-chaining": {"mode": "generic-veth"},
  "kube-proxy-replacement": {
    "mode": "True",
    "devices": ["eth0"],
    "deviceList": [{"name": "eth0", "ip": ["", "172.30.0.11"]}],
    "directRoutingDevice": "eth0",
    "features": {"nodePort": {"enabled": true, "mode": "SNAT", "portMin": 30000, "portMax": 32767}}
  }
}`

// fakeExec answers execs from a table keyed by pod name.
type fakeExec struct {
	byPod map[string]func(cmd []string) (collect.ExecResult, error)
	calls atomic.Int32
}

func (f *fakeExec) Exec(ctx context.Context, ns, pod, container string, cmd []string) (collect.ExecResult, error) {
	f.calls.Add(1)
	if h, ok := f.byPod[pod]; ok {
		return h(cmd)
	}
	return collect.ExecResult{Stderr: []byte("executable file not found in $PATH"), ExitCode: 127}, nil
}

func node(name, ip, kernel string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
			NodeInfo:   corev1.NodeSystemInfo{KernelVersion: kernel, OSImage: "Debian GNU/Linux 12", OperatingSystem: "linux"},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
}

func pod(ns, name, nodeName, container, image string, labels map[string]string, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: container, Image: image}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
}

// seedCluster is the chained cluster of the seed: one Cilium node with
// KPR, one kube-proxy node, one bare (Contiv-only) node with an old
// kernel, one Cilium node whose agent hangs, and a Windows node.
func seedCluster(extraBareNodes int) []runtime.Object {
	ciliumLabels := map[string]string{"k8s-app": "cilium"}
	objs := []runtime.Object{
		node("node-cilium", "172.30.0.11", "6.1.0-18-amd64", nil, corev1.Taint{Key: "key", Value: "cilium", Effect: corev1.TaintEffectNoExecute}),
		node("node-iptables", "172.30.0.12", "6.1.0-18-amd64", nil),
		node("node-bare", "172.30.0.13", "4.14.0-1-amd64", nil),
		node("node-hung", "172.30.0.14", "6.1.0-18-amd64", nil),
		node("win-1", "172.30.0.15", "10.0.20348", map[string]string{"kubernetes.io/os": "windows"}),
		pod("kube-system", "cilium-abcde", "node-cilium", "cilium-agent", "quay.io/cilium/cilium:v1.16.5", ciliumLabels, true),
		pod("kube-system", "cilium-hung1", "node-hung", "cilium-agent", "quay.io/cilium/cilium:v1.16.5", ciliumLabels, true),
		pod("kube-system", "kube-proxy-x1", "node-iptables", "kube-proxy", "registry.k8s.io/kube-proxy:v1.37.2", map[string]string{"k8s-app": "kube-proxy"}, true),
		&appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "cilium"},
			Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				NodeSelector: map[string]string{"cilium": "true"},
				Containers:   []corev1.Container{{Name: "cilium-agent", Image: "quay.io/cilium/cilium:v1.16.5"}},
			}}},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, NumberReady: 2},
		},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "cilium-config"},
			Data:       map[string]string{"kube-proxy-replacement": "true", "cni-chaining-mode": "generic-veth", "unrelated": "x"},
		},
		&appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy"},
			Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "kube-proxy", Image: "registry.k8s.io/kube-proxy:v1.37.2", Command: []string{"/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf"}}},
			}}},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, NumberReady: 1},
		},
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy"},
			Data:       map[string]string{"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: \"\"\n"},
		},
	}
	for i := 0; i < extraBareNodes; i++ {
		objs = append(objs, node(fmt.Sprintf("node-extra-%03d", i), fmt.Sprintf("172.30.1.%d", i%250+1), "6.1.0", nil))
	}
	return objs
}

func seedExec() *fakeExec {
	return &fakeExec{byPod: map[string]func([]string) (collect.ExecResult, error){
		"cilium-abcde": func(cmd []string) (collect.ExecResult, error) {
			if strings.Join(cmd, " ") == "cilium-dbg status -o json" {
				return collect.ExecResult{Stdout: []byte(agentStatusJSON)}, nil
			}
			return collect.ExecResult{}, errors.New("unexpected command " + strings.Join(cmd, " "))
		},
		"cilium-hung1": func([]string) (collect.ExecResult, error) {
			return collect.ExecResult{}, collect.ExplainExecError(context.DeadlineExceeded, "kube-system", "cilium-hung1")
		},
	}}
}

func runStatus(t *testing.T, objs []runtime.Object, ex collect.Executor, args ...string) (string, *fake.Clientset, error) {
	t.Helper()
	cs := fake.NewSimpleClientset(objs...)
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	o := &StatusOptions{root: &RootOptions{Streams: streams, Color: "never"}, AgentFlags: AgentFlags{Concurrency: 4, Timeout: 5 * time.Second}}
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-o":
			o.Output = args[i+1]
			i++
		case "--node":
			o.Nodes = append(o.Nodes, args[i+1])
			i++
		}
	}
	if err := o.Validate(); err != nil {
		return "", cs, err
	}
	err := o.run(context.Background(), cs, fakelab.Dynamic(), ex)
	return out.String(), cs, err
}

type jsonStatus struct {
	Cilium struct {
		Found     bool              `json:"found"`
		Namespace string            `json:"namespace"`
		Version   string            `json:"version"`
		Config    map[string]string `json:"config"`
	} `json:"cilium"`
	KubeProxy struct {
		Found bool   `json:"found"`
		Mode  string `json:"mode"`
	} `json:"kubeProxy"`
	Nodes []struct {
		Name        string `json:"name"`
		InternalIP  string `json:"internalIP"`
		CiliumAgent *struct {
			Pod   string `json:"pod"`
			Ready bool   `json:"ready"`
		} `json:"ciliumAgent"`
		KubeProxyReplacement *struct {
			Mode              string `json:"mode"`
			ReplacesKubeProxy string `json:"replacesKubeProxy"`
			Devices           []struct {
				Name          string   `json:"name"`
				Addresses     []string `json:"addresses"`
				DirectRouting bool     `json:"directRouting"`
			} `json:"devices"`
		} `json:"kubeProxyReplacement"`
		KubeProxyPod *string `json:"kubeProxyPod"`
		ServicesBy   string  `json:"servicesBy"`
		Warnings     []struct {
			Code string `json:"code"`
		} `json:"warnings"`
		Errors []string `json:"errors"`
	} `json:"nodes"`
}

func TestStatusJSONVerdictsPerNode(t *testing.T) {
	out, _, err := runStatus(t, seedCluster(0), seedExec(), "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got jsonStatus
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("status -o json is not JSON: %v\n%s", err, out)
	}
	if !got.Cilium.Found || got.Cilium.Namespace != "kube-system" || got.Cilium.Version != "1.16.5" {
		t.Errorf("cilium header = %+v", got.Cilium)
	}
	if got.Cilium.Config["kube-proxy-replacement"] != "true" || got.Cilium.Config["cni-chaining-mode"] != "generic-veth" {
		t.Errorf("cilium-config keys = %v", got.Cilium.Config)
	}
	if _, ok := got.Cilium.Config["unrelated"]; ok {
		t.Errorf("cilium-config shows keys that do not decide KPR: %v", got.Cilium.Config)
	}
	if !got.KubeProxy.Found || got.KubeProxy.Mode != "iptables" {
		t.Errorf("kube-proxy = %+v, want found, mode iptables (unset mode defaults to iptables)", got.KubeProxy)
	}
	want := map[string]string{
		"node-cilium":   "cilium",
		"node-iptables": "kube-proxy-iptables",
		"node-bare":     "none",
		"node-hung":     "unknown",
		"win-1":         "unknown",
	}
	if len(got.Nodes) != len(want) {
		t.Fatalf("got %d nodes, want %d", len(got.Nodes), len(want))
	}
	for _, n := range got.Nodes {
		if n.ServicesBy != want[n.Name] {
			t.Errorf("%s: servicesBy = %q, want %q", n.Name, n.ServicesBy, want[n.Name])
		}
		switch n.Name {
		case "node-cilium":
			k := n.KubeProxyReplacement
			if k == nil || k.Mode != "True" || k.ReplacesKubeProxy != "full" {
				t.Fatalf("node-cilium KPR = %+v", k)
			}
			if len(k.Devices) != 1 || k.Devices[0].Name != "eth0" || !k.Devices[0].DirectRouting || strings.Join(k.Devices[0].Addresses, ",") != "172.30.0.11" {
				t.Errorf("node-cilium devices = %+v (empty padding must be dropped)", k.Devices)
			}
			if n.KubeProxyPod != nil {
				t.Errorf("node-cilium kubeProxyPod = %v, want null", *n.KubeProxyPod)
			}
		case "node-iptables":
			if n.CiliumAgent != nil || n.KubeProxyReplacement != nil || n.KubeProxyPod == nil || *n.KubeProxyPod != "kube-system/kube-proxy-x1" {
				t.Errorf("node-iptables = %+v", n)
			}
		case "node-bare":
			codes := map[string]bool{}
			for _, w := range n.Warnings {
				codes[w.Code] = true
			}
			if !codes["no-service-datapath"] || !codes["kernel-too-old-for-kpr"] {
				t.Errorf("node-bare warnings = %v, want no-service-datapath and kernel-too-old-for-kpr", n.Warnings)
			}
		case "node-hung":
			if len(n.Errors) == 0 || !strings.Contains(n.Errors[0], "timed out") {
				t.Errorf("node-hung errors = %v, want a timeout that names the pod", n.Errors)
			}
		case "win-1":
			if len(n.Errors) == 0 || !strings.Contains(n.Errors[0], "Windows") {
				t.Errorf("win-1 errors = %v", n.Errors)
			}
		}
	}
}

func TestStatusTableShowsHeaderAndRows(t *testing.T) {
	out, _, err := runStatus(t, seedCluster(0), seedExec(), "-o", "wide")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Cilium:        1.16.5 in namespace kube-system, DaemonSet cilium 2/2 ready, nodeSelector cilium=true",
		"cilium-config: kube-proxy-replacement=true cni-chaining-mode=generic-veth",
		"kube-proxy:    iptables",
		"NODE", "KPR-CONFIG", "SERVICES-BY", "KERNEL",
		"eth0 172.30.0.11 (Direct Routing)",
		"key=cilium:NoExecute",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("--color never printed ANSI escapes")
	}
	lines := strings.Split(out, "\n")
	found := false
	for _, l := range lines {
		if strings.HasPrefix(l, "node-cilium ") {
			found = true
			if !strings.Contains(l, "cilium-abcde") || !strings.Contains(l, "True") || !strings.HasSuffix(strings.Fields(l)[7], "cilium") || strings.Fields(l)[5] != "true" {
				t.Errorf("node-cilium row = %q", l)
			}
		}
	}
	if !found {
		t.Errorf("no node-cilium row:\n%s", out)
	}
}

func TestStatusListCallsDoNotGrowWithNodes(t *testing.T) {
	count := func(extra int) int {
		cs := fake.NewSimpleClientset(seedCluster(extra)...)
		var lists atomic.Int32
		cs.PrependReactor("list", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
			lists.Add(1)
			return false, nil, nil
		})
		streams, _, _, _ := genericiooptions.NewTestIOStreams()
		o := &StatusOptions{root: &RootOptions{Streams: streams, Color: "never"}, AgentFlags: AgentFlags{Concurrency: 8, Timeout: 5 * time.Second}, Output: "json"}
		if err := o.Validate(); err != nil {
			t.Fatal(err)
		}
		if err := o.run(context.Background(), cs, fakelab.Dynamic(), seedExec()); err != nil {
			t.Fatal(err)
		}
		return int(lists.Load())
	}
	small, large := count(0), count(300)
	if small != large {
		t.Fatalf("LIST calls grew with nodes: %d for 5 nodes, %d for 305", small, large)
	}
	if small > 4 {
		t.Fatalf("%d LIST calls; expected nodes + cilium pods + 2 kube-proxy selectors", small)
	}
}

func TestStatusUnknownNodeSuggestsClosest(t *testing.T) {
	_, _, err := runStatus(t, seedCluster(0), seedExec(), "--node", "node-cilum")
	if err == nil || !strings.Contains(err.Error(), `node "node-cilum" not found`) || !strings.Contains(err.Error(), "node-cilium") {
		t.Fatalf("err = %v, want not found + suggestion node-cilium", err)
	}
}

func TestStatusNoCiliumStillShowsNodes(t *testing.T) {
	objs := []runtime.Object{node("a", "10.0.0.1", "6.1", nil), node("b", "10.0.0.2", "6.1", nil)}
	out, _, err := runStatus(t, objs, &fakeExec{}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Cilium:        not found (looked at pods labelled k8s-app=cilium in all namespaces", "kube-proxy:    absent", "a ", "b ", "none"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestStatusForbiddenExecNamesPermission(t *testing.T) {
	ex := &fakeExec{byPod: map[string]func([]string) (collect.ExecResult, error){
		"cilium-abcde": func([]string) (collect.ExecResult, error) {
			return collect.ExecResult{}, collect.ExplainExecError(errors.New(`pods "cilium-abcde" is forbidden: User "bob" cannot create resource "pods/exec"`), "kube-system", "cilium-abcde")
		},
	}}
	out, _, err := runStatus(t, seedCluster(0), ex, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "create pods/exec") {
		t.Fatalf("forbidden exec does not name the permission:\n%s", out)
	}
}

func TestStatusBadOutputFormat(t *testing.T) {
	_, _, err := runStatus(t, seedCluster(0), seedExec(), "-o", "xml")
	if err == nil || !strings.Contains(err.Error(), "unsupported output format") {
		t.Fatalf("err = %v", err)
	}
}
