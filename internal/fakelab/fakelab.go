// Package fakelab is the lab in miniature for unit tests of the engines
// (pkg/verify, pkg/nodecheck): a fake clientset and a fake exec transport
// that answer as the real lab's nodes do.
package fakelab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-kpr/kubectl-kpr/internal/reporoot"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/debugpod"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/hostdump"
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

// AgentCaptured holds the outputs captured from the lab's real 1.18.8
// agent.
const AgentCaptured = "pkg/interpret/cilium/testdata/v1.18.8/captured/kpr-true/"

// ReadFile reads a fixture relative to the repository root.
func ReadFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(reporoot.Dir(t), path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// frame renders sections the way debugpod's dump script prints them.
func Frame(boundary, hostAccess string, secs ...hostdump.Section) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s host %s\n", boundary, hostAccess)
	for _, s := range secs {
		fmt.Fprintf(&b, "%s begin %s %s\n%s\n%s stderr %s\n%s\n%s end %s %d\n", boundary, s.Name, s.Source, s.Stdout, boundary, s.Name, s.Stderr, boundary, s.Name, s.ExitCode)
	}
	return []byte(b.String())
}

// Node is a fake node: its rules and how probes from it are answered.
type Node struct {
	IP       string
	IPTables string
	Legacy   string
	Proxy    hostdump.Section
	// Probes: address → "rc code tConnect"; a missing address is refused.
	Probes map[string]string
	// firstProbes answer the first probe of an address instead (a
	// datapath that has not caught up yet).
	FirstProbes map[string]string
	DumpErr     error
	// Addresses are the node's global IPv4 addresses besides IP.
	Addresses []string
}

// Exec answers agent execs and kpr's debug-pod execs.
type Exec struct {
	mu          sync.Mutex
	Nodes       map[string]*Node
	Status      string
	ServiceList string
	// ServiceListFirst answers the first `service list` instead.
	ServiceListFirst string
	ServiceLists     int
	Probed           map[string]int
}

func (f *Exec) Exec(_ context.Context, ns, pod, container string, cmd []string) (collect.ExecResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if container == "cilium-agent" {
		line := strings.Join(cmd, " ")
		switch {
		case strings.HasPrefix(line, "cilium-dbg status -o json"):
			return collect.ExecResult{Stdout: []byte(f.Status)}, nil
		case strings.HasPrefix(line, "cilium-dbg service list -o json"):
			f.ServiceLists++
			if f.ServiceLists == 1 && f.ServiceListFirst != "" {
				return collect.ExecResult{Stdout: []byte(f.ServiceListFirst)}, nil
			}
			return collect.ExecResult{Stdout: []byte(f.ServiceList)}, nil
		}
		return collect.ExecResult{Stderr: []byte("unknown command " + line), ExitCode: 1}, nil
	}
	if container != debugpod.ContainerName {
		return collect.ExecResult{Stderr: []byte("executable file not found in $PATH"), ExitCode: 127}, nil
	}
	var n *Node
	for name, fn := range f.Nodes {
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
		if n.DumpErr != nil {
			return collect.ExecResult{}, n.DumpErr
		}
		host := debugpod.SourceChroot
		return collect.ExecResult{Stdout: Frame(boundary, host,
			hostdump.Section{Name: debugpod.SecIPTablesNFT, Source: host, Stdout: n.IPTables},
			hostdump.Section{Name: debugpod.SecIPTablesLegacy, Source: host, Stdout: n.Legacy},
			hostdump.Section{Name: debugpod.SecIP6TablesNFT, Source: host},
			hostdump.Section{Name: debugpod.SecNFT, Source: host},
			hostdump.Section{Name: debugpod.SecIPVS, Source: debugpod.SourceSkipped, Stderr: "ip_vs is not loaded"},
			hostdump.Section{Name: debugpod.SecAddresses, Source: host, Stdout: ipAddrShow(n)},
			n.Proxy,
		)}, nil
	case "kpr-probe":
		var out strings.Builder
		for i, url := range cmd[9:] {
			addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
			key := pod + " " + addr
			f.Probed[key]++
			ans, ok := n.Probes[addr]
			if first, has := n.FirstProbes[addr]; has && f.Probed[key] == 1 {
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
	case "kpr-repeat":
		// Every answered request names the address it went to, so one
		// client always meets one "backend".
		var out strings.Builder
		count, _ := strconv.Atoi(cmd[7])
		for t, url := range cmd[8:] {
			addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/hostname")
			ans, ok := n.Probes[addr]
			for i := 0; i < count; i++ {
				if ok && strings.HasPrefix(ans, "0 ") {
					fmt.Fprintf(&out, "%s r %d %d 0 %s\n", boundary, t, i, addr)
				} else {
					fmt.Fprintf(&out, "%s r %d %d 7 \n", boundary, t, i)
				}
			}
		}
		return collect.ExecResult{Stdout: []byte(out.String())}, nil
	}
	return collect.ExecResult{ExitCode: 2}, nil
}

// ipAddrShow is `ip -o -4 addr show scope global` for the node's IP and
// Addresses, as iproute2 prints it.
func ipAddrShow(n *Node) string {
	var b strings.Builder
	for i, a := range append([]string{n.IP}, n.Addresses...) {
		sec := ""
		if i > 0 {
			sec = "secondary "
		}
		fmt.Fprintf(&b, "2: eth0    inet %s/16 scope global %seth0\\       valid_lft forever preferred_lft forever\n", a, sec)
	}
	return b.String()
}

// K8sNode is a Ready Linux node with one InternalIP.
func K8sNode(name, ip string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
		NodeInfo:   corev1.NodeSystemInfo{KernelVersion: "6.1.0", OperatingSystem: "linux"},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
}

// RunningPod is a Ready pod of one container.
func RunningPod(ns, name, node, container, image string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: container, Image: image}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: container, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
}

// NodePortService has one TCP port.
func NodePortService(ns, name, clusterIP string, port, nodePort int32) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, ClusterIP: clusterIP, ClusterIPs: []string{clusterIP},
		Ports: []corev1.ServicePort{{Port: port, NodePort: nodePort, Protocol: corev1.ProtocolTCP}}}}
}

// EndpointSlice holds one ready endpoint.
func EndpointSlice(ns, svc, node, ip string, port int32) *discoveryv1.EndpointSlice {
	ready := true
	proto := corev1.ProtocolTCP
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: svc + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, NodeName: &node, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Port: &port, Protocol: &proto}},
	}
}

// AllAnswer: every probe of nm-nginx answers from this node.
func AllAnswer(selfIP string) map[string]string {
	return map[string]string{
		"10.96.100.10:80": "0 200 0.0004", selfIP + ":30080": "0 200 0.0005", "127.0.0.1:30080": "0 200 0.0003", "0.0.0.0:30080": "0 200 0.0003",
		"172.30.0.11:30080": "0 200 0.0005", "172.30.0.12:30080": "0 200 0.0005",
	}
}

// Lab is the fake cluster and exec transport.
type Lab struct {
	CS *fake.Clientset
	Ex *Exec
}

// New builds the lab described above.
func New(t testing.TB) *Lab {
	t.Helper()
	findings := "pkg/interpret/findings/testdata/"
	cs := fake.NewClientset(
		K8sNode("node-cilium", "172.30.0.11"), K8sNode("node-iptables", "172.30.0.12"), K8sNode("node-bare", "172.30.0.13"),
		RunningPod("kube-system", "cilium-abcde", "node-cilium", "cilium-agent", "quay.io/cilium/cilium:v1.18.8", map[string]string{"k8s-app": "cilium"}),
		RunningPod("kube-system", "kube-proxy-x1", "node-iptables", "kube-proxy", "registry.k8s.io/kube-proxy:v1.37.2", map[string]string{"k8s-app": "kube-proxy"}),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "cilium-config"}, Data: map[string]string{"kube-proxy-replacement": "true"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
		NodePortService("kube-system", "nm-nginx", "10.96.100.10", 80, 30080),
		EndpointSlice("kube-system", "nm-nginx", "node-cilium", "172.30.0.11", 80),
		NodePortService("kube-system", "nm-nginx-ovs", "10.96.100.11", 80, 30081),
		EndpointSlice("kube-system", "nm-nginx-ovs", "node-bare", "172.30.0.13", 80),
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
	refused := hostdump.Section{Name: debugpod.SecProxyMode, Source: debugpod.SourceImage, ExitCode: 7}
	kp := ReadFile(t, findings+"kube-proxy-iptables.txt")
	ex := &Exec{
		Status:      ReadFile(t, AgentCaptured+"status.json"),
		ServiceList: ReadFile(t, AgentCaptured+"service-list.json"),
		Probed:      map[string]int{},
		Nodes: map[string]*Node{
			"node-cilium": {IP: "172.30.0.11", IPTables: ReadFile(t, findings+"cilium-kpr.txt"), Proxy: refused, Probes: AllAnswer("172.30.0.11")},
			"node-iptables": {IP: "172.30.0.12", IPTables: kp, Proxy: hostdump.Section{Name: debugpod.SecProxyMode, Source: debugpod.SourceImage, Stdout: "iptables"},
				Probes: AllAnswer("172.30.0.12")},
			// Nothing serves Services here: the ClusterIP hangs, NodePorts
			// are refused; the other nodes' NodePorts answer.
			"node-bare": {IP: "172.30.0.13", Legacy: ReadFile(t, findings+"contiv-legacy.txt"), Proxy: refused,
				Probes: map[string]string{"10.96.100.10:80": "28 000 0", "172.30.0.11:30080": "0 200 0.0005", "172.30.0.12:30080": "0 200 0.0005"}},
		},
	}
	return &Lab{CS: cs, Ex: ex}
}

// Dynamic is a dynamic client that serves CiliumNodeConfigs at both API
// versions (objs are unstructured CNCs), as a Cilium 1.16–1.19 cluster does.
func Dynamic(objs ...runtime.Object) *dynfake.FakeDynamicClient {
	return dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		collect.CNCResourceV2:      "CiliumNodeConfigList",
		collect.CNCResourceV2Alpha: "CiliumNodeConfigList",
	}, objs...)
}
