package collect

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/reconcile"
)

func TestServiceFromAPI(t *testing.T) {
	local := corev1.ServiceInternalTrafficPolicyLocal
	proxy := corev1.LoadBalancerIPModeProxy
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web", Labels: map[string]string{"service.kubernetes.io/service-proxy-name": "other"}},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.96.0.5", ClusterIPs: []string{"10.96.0.5", "fd00::5"},
			IPFamilies:  []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol},
			ExternalIPs: []string{"203.0.113.1"}, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			InternalTrafficPolicy: &local, HealthCheckNodePort: 32000,
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, NodePort: 30080}},
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
			{IP: "198.51.100.1"}, {Hostname: "lb.example.com"}, {IP: "198.51.100.2", IPMode: &proxy}}}},
	}
	want := reconcile.Service{
		Namespace: "demo", Name: "web", Type: "LoadBalancer", ClusterIPs: []string{"10.96.0.5", "fd00::5"},
		IPFamilies: []string{"IPv4", "IPv6"}, ExternalIPs: []string{"203.0.113.1"},
		LoadBalancerIngress:   []reconcile.LBIngress{{IP: "198.51.100.1"}, {IP: "198.51.100.2", IPMode: "Proxy"}},
		ExternalTrafficPolicy: "Local", InternalTrafficPolicy: "Local", HealthCheckNodePort: 32000,
		Ports:     []reconcile.ServicePort{{Name: "http", Protocol: "TCP", Port: 80, NodePort: 30080}},
		ProxyName: "other",
	}
	if got := ServiceFromAPI(s); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	// Old objects: only spec.clusterIP, no type.
	old := ServiceFromAPI(&corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.9"}})
	if old.Type != "ClusterIP" || !reflect.DeepEqual(old.ClusterIPs, []string{"10.96.0.9"}) {
		t.Errorf("old = %+v", old)
	}
}

func TestEndpointSliceFromAPI(t *testing.T) {
	name, port, tcp, node := "http", int32(8080), corev1.ProtocolTCP, "n1"
	yes, no := true, false
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "demo", Name: "web-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &tcp}, {}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.0.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: &no, Serving: &yes, Terminating: &yes}, NodeName: &node},
			{Addresses: []string{"10.0.0.6"}},
		},
	}
	got := EndpointSliceFromAPI(s)
	if got.Service != "web" || got.Namespace != "demo" || got.AddressType != "IPv4" {
		t.Errorf("slice = %+v", got)
	}
	if !reflect.DeepEqual(got.Ports, []reconcile.EndpointPort{{Name: "http", Protocol: "TCP", Port: 8080}, {}}) {
		t.Errorf("ports = %+v", got.Ports)
	}
	e := got.Endpoints[0]
	if e.NodeName != "n1" || *e.Ready || !*e.Serving || !*e.Terminating {
		t.Errorf("endpoint = %+v", e)
	}
	if e := got.Endpoints[1]; e.Ready != nil || e.NodeName != "" {
		t.Errorf("nil conditions must stay nil (the API's 'unknown'): %+v", e)
	}
}

func TestReconcileOptionsFromConfig(t *testing.T) {
	cases := []struct {
		config map[string]string
		want   reconcile.Options
	}{
		{nil, reconcile.Options{}},
		{map[string]string{"kube-proxy-replacement": "true"}, reconcile.Options{}},
		{map[string]string{"kube-proxy-replacement": "strict", "enable-node-port": "false"}, reconcile.Options{}},
		{map[string]string{"kube-proxy-replacement": "false"}, reconcile.Options{SkipNodePort: true, SkipLoadBalancer: true, SkipExternalIPs: true}},
		{map[string]string{"kube-proxy-replacement": "partial", "enable-node-port": "true"}, reconcile.Options{SkipExternalIPs: true}},
	}
	for _, c := range cases {
		if got := reconcileOptions(c.config); got != c.want {
			t.Errorf("%v: got %+v, want %+v", c.config, got, c.want)
		}
	}
}

func TestNodePortAddresses(t *testing.T) {
	cases := []struct {
		n    NodeInfo
		want []string
	}{
		{NodeInfo{InternalIP: "10.0.0.1", Addresses: []string{"10.0.0.1", "34.1.2.3"}}, []string{"10.0.0.1"}},
		{NodeInfo{InternalIP: "10.0.0.1", Addresses: []string{"10.0.0.1", "fd00::1"}}, []string{"10.0.0.1", "fd00::1"}},
		{NodeInfo{Addresses: []string{"10.0.0.1", "bogus"}}, []string{"10.0.0.1"}},
		{NodeInfo{}, []string{}},
	}
	for _, c := range cases {
		if got := nodePortAddresses(c.n); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v: got %v, want %v", c.n, got, c.want)
		}
	}
}

// scriptedExec answers by the joined command line.
type scriptedExec struct {
	mu      sync.Mutex
	answers map[string]func() (ExecResult, error)
	calls   []string
}

func (s *scriptedExec) Exec(_ context.Context, _, _, _ string, cmd []string) (ExecResult, error) {
	line := strings.Join(cmd, " ")
	s.mu.Lock()
	s.calls = append(s.calls, line)
	s.mu.Unlock()
	if f, ok := s.answers[line]; ok {
		return f()
	}
	return ExecResult{Stderr: []byte(fmt.Sprintf("exec: %q: executable file not found in $PATH", cmd[0])), ExitCode: 127}, nil
}

// A 1.11-style table (constructed by hand after cilium/cmd/service_list.go
// of that release: no protocol, no backend state).
const oldServiceList = "ID   Frontend        Service Type   Backend             \n1    10.96.0.1:443   ClusterIP      1 => 172.18.0.2:6443   \n"

func TestReadAgentServicesFallbacks(t *testing.T) {
	agent := AgentPod{Name: "cilium-1", Namespace: "kube-system", Container: "cilium-agent"}

	// Old agent: no cilium-dbg; its JSON flag fails; text works.
	ex := &scriptedExec{answers: map[string]func() (ExecResult, error){
		"cilium service list -o json": func() (ExecResult, error) {
			return ExecResult{Stderr: []byte("Error: unknown shorthand flag"), ExitCode: 1}, nil
		},
		"cilium service list": func() (ExecResult, error) { return ExecResult{Stdout: []byte(oldServiceList)}, nil },
	}}
	probe := &binaryProbe{}
	got := ReadAgentServices(context.Background(), ex, agent, false, probe)
	if got.Err != nil || got.Source != "cilium service list" || len(got.Services) != 1 || got.Services[0].Frontend != "10.96.0.1:443" {
		t.Fatalf("got %+v", got)
	}
	want := []string{"cilium-dbg service list -o json", "cilium service list -o json", "cilium service list"}
	if !reflect.DeepEqual(ex.calls, want) {
		t.Errorf("calls = %q, want %q", ex.calls, want)
	}
	// The next agent skips the binary known to be missing.
	ex.calls = nil
	ReadAgentServices(context.Background(), ex, agent, false, probe)
	if len(ex.calls) == 0 || strings.HasPrefix(ex.calls[0], "cilium-dbg") {
		t.Errorf("probe not used: %q", ex.calls)
	}

	// RBAC: the first failure ends the agent, naming the permission.
	forbidden := &scriptedExec{answers: map[string]func() (ExecResult, error){
		"cilium-dbg service list -o json": func() (ExecResult, error) {
			return ExecResult{}, apierrors.NewForbidden(schema.GroupResource{Resource: "pods/exec"}, "cilium-1", errors.New("nope"))
		},
	}}
	got = ReadAgentServices(context.Background(), forbidden, agent, false, nil)
	if got.Err == nil || !strings.Contains(got.Err.Error(), "create pods/exec") || len(forbidden.calls) != 1 {
		t.Errorf("got %+v after %q", got, forbidden.calls)
	}

	// Nothing parses: every attempt is in the error.
	junk := &scriptedExec{answers: map[string]func() (ExecResult, error){}}
	for _, c := range agentCommands(false, "service", "list") {
		junk.answers[strings.Join(c, " ")] = func() (ExecResult, error) {
			return ExecResult{Stdout: []byte("Error: cannot reach the agent\n"), ExitCode: 1}, nil
		}
	}
	got = ReadAgentServices(context.Background(), junk, agent, false, nil)
	if got.Err == nil || len(junk.calls) != 4 || !strings.Contains(got.Err.Error(), "exit 1") {
		t.Errorf("got %+v after %q", got, junk.calls)
	}
}

func TestAgentVersion(t *testing.T) {
	agent := &AgentPod{Image: "quay.io/cilium/cilium:v1.16.19@sha256:0123"}
	latest := &AgentPod{Image: "quay.io/cilium/cilium:latest"}
	reported := map[string]string{"n1": "1.18.8", "n2": " "}
	for _, c := range []struct {
		node    string
		agent   *AgentPod
		install string
		want    string
	}{
		{"n1", agent, "1.20.2", "1.18.8"},  // the agent's own word first
		{"n2", agent, "1.20.2", "1.16.19"}, // then its pod's image tag
		{"n3", latest, "1.20.2", "1.20.2"}, // then the DaemonSet's
		{"n3", nil, "1.20.2", "1.20.2"},
		{"n3", latest, "", ""}, // unknown
	} {
		if got := agentVersion(c.node, c.agent, reported, c.install); got != c.want {
			t.Errorf("%s %+v %q: got %q, want %q", c.node, c.agent, c.install, got, c.want)
		}
	}
}

// One agent without the CLI (broken image, or older than the others) must
// not make kpr skip that binary on every other agent: it is tried last
// there, not dropped.
func TestMissingBinaryOnOneAgentIsNotSkippedOnOthers(t *testing.T) {
	broken := AgentPod{Name: "cilium-broken", Namespace: "kube-system", Container: "cilium-agent"}
	good := AgentPod{Name: "cilium-good", Namespace: "kube-system", Container: "cilium-agent"}
	probe := &binaryProbe{}
	none := &scriptedExec{answers: map[string]func() (ExecResult, error){}}
	if got := ReadAgentServices(context.Background(), none, broken, false, probe); got.Err == nil {
		t.Fatalf("agent without any CLI: got %+v, want an error", got)
	}
	ok := &scriptedExec{answers: map[string]func() (ExecResult, error){
		"cilium-dbg service list -o json": func() (ExecResult, error) { return ExecResult{Stdout: []byte(oldServiceList)}, nil },
	}}
	got := ReadAgentServices(context.Background(), ok, good, false, probe)
	if got.Err != nil || got.Source != "cilium-dbg service list -o json" || len(got.Services) != 1 {
		t.Fatalf("healthy agent after a broken one: got %+v after %q", got, ok.calls)
	}
}
