package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// The agent side of these tests is the service-list fixtures that
// tools/fixturegen renders with each Cilium release's own code (see
// pkg/interpret/cilium/testdata/<version>/README.md). They are one node's
// view: node kind-worker (10.0.0.11, fd00:10::11). svcCluster below is the
// cluster side, built so that most of the fixture matches and a known set
// of frontends does not.
const svcFixtures = "../interpret/cilium/testdata"

func svcFixture(t *testing.T, version, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(svcFixtures, version, name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return b
}

func i32(v int32) *int32   { return &v }
func str(s string) *string { return &s }
func boolp(b bool) *bool   { return &b }
func proto(p string) *corev1.Protocol {
	pp := corev1.Protocol(p)
	return &pp
}

type svcPort struct {
	name, proto    string
	port, nodePort int32
	targetPort     int32
}

func svc(ns, name string, typ corev1.ServiceType, clusterIPs []string, ports ...svcPort) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: typ, ClusterIP: clusterIPs[0], ClusterIPs: clusterIPs},
	}
	for _, ip := range clusterIPs {
		fam := corev1.IPv4Protocol
		if strings.Contains(ip, ":") {
			fam = corev1.IPv6Protocol
		}
		s.Spec.IPFamilies = append(s.Spec.IPFamilies, fam)
	}
	for _, p := range ports {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: p.name, Protocol: corev1.Protocol(p.proto), Port: p.port, NodePort: p.nodePort})
	}
	return s
}

type ep struct {
	ip, node           string
	ready, terminating bool
}

func slice(ns, svcName, name string, addrType discoveryv1.AddressType, ports []svcPort, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svcName}},
		AddressType: addrType,
	}
	for _, p := range ports {
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: str(p.name), Protocol: proto(p.proto), Port: i32(p.targetPort)})
	}
	for _, e := range eps {
		x := discoveryv1.Endpoint{Addresses: []string{e.ip}, Conditions: discoveryv1.EndpointConditions{
			Ready: boolp(e.ready), Serving: boolp(e.ready || e.terminating), Terminating: boolp(e.terminating)}}
		if e.node != "" {
			x.NodeName = str(e.node)
		}
		s.Endpoints = append(s.Endpoints, x)
	}
	return s
}

func dualStackNode(name, ip4, ip6 string) *corev1.Node {
	n := node(name, ip4, "6.1.0", nil)
	n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip6})
	return n
}

// svcCluster mirrors the fixture's scenario, except that:
//   - demo/web is IPv4-only, so its NodePort on fd00:10::11 is unexpected;
//   - demo/local, demo/web-lb and demo/web-ext have ClusterIPs (and local a
//     NodePort on 10.0.0.11) that the fixture lacks: missing frontends;
//   - monitoring/no-endpoints does not exist: its frontend is stale;
//   - web6's second endpoint is ready, the agent says quarantined.
func svcCluster(extraNodes int) []runtime.Object {
	cl := map[string]string{"k8s-app": "cilium"}
	web := []svcPort{{name: "http", proto: "TCP", port: 80, nodePort: 30080, targetPort: 8080}}
	webEps := []ep{{"10.244.1.21", "kind-worker", true, false}, {"10.244.2.33", "kind-worker2", false, true}, {"10.244.2.34", "kind-worker2", false, true}}
	dns := []svcPort{{name: "dns", proto: "UDP", port: 53, targetPort: 53}, {name: "dns-tcp", proto: "TCP", port: 53, targetPort: 53}}
	local := []svcPort{{name: "https", proto: "TCP", port: 443, nodePort: 31443, targetPort: 8443}}
	localSvc := svc("demo", "local", corev1.ServiceTypeNodePort, []string{"10.96.31.43"}, local...)
	localSvc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	lb := svc("demo", "web-lb", corev1.ServiceTypeLoadBalancer, []string{"10.96.80.80"}, svcPort{name: "http", proto: "TCP", port: 80, targetPort: 8080})
	lb.Spec.AllocateLoadBalancerNodePorts = boolp(false)
	lb.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "172.18.255.200"}, {Hostname: "lb.example.com"}}
	ext := svc("demo", "web-ext", corev1.ServiceTypeClusterIP, []string{"10.96.80.81"}, svcPort{name: "http", proto: "TCP", port: 8080, targetPort: 8080})
	ext.Spec.ExternalIPs = []string{"198.51.100.10"}
	headless := svc("demo", "headless", corev1.ServiceTypeClusterIP, []string{"None"}, svcPort{name: "http", proto: "TCP", port: 80, targetPort: 8080})

	objs := []runtime.Object{
		dualStackNode("kind-worker", "10.0.0.11", "fd00:10::11"),
		dualStackNode("kind-worker2", "10.0.0.12", "fd00:10::12"),
		node("kind-control-plane", "10.0.0.10", "6.1.0", nil),
		pod("kube-system", "cilium-w1", "kind-worker", "cilium-agent", "quay.io/cilium/cilium:v1.20.2", cl, true),
		pod("kube-system", "cilium-w2", "kind-worker2", "cilium-agent", "quay.io/cilium/cilium:v1.20.2", cl, true),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "cilium-config"}, Data: map[string]string{"kube-proxy-replacement": "true"}},

		svc("default", "kubernetes", corev1.ServiceTypeClusterIP, []string{"10.96.0.1"}, svcPort{name: "https", proto: "TCP", port: 443, targetPort: 6443}),
		slice("default", "kubernetes", "kubernetes", discoveryv1.AddressTypeIPv4, []svcPort{{name: "https", proto: "TCP", targetPort: 6443}}, ep{"172.18.0.2", "", true, false}),
		svc("kube-system", "kube-dns", corev1.ServiceTypeClusterIP, []string{"10.96.0.10"}, dns...),
		slice("kube-system", "kube-dns", "kube-dns-x", discoveryv1.AddressTypeIPv4, dns, ep{"10.244.0.5", "kind-control-plane", true, false}, ep{"10.244.1.201", "kind-worker", true, false}),
		svc("demo", "web6", corev1.ServiceTypeClusterIP, []string{"fd00:10:96::a"}, svcPort{name: "http", proto: "TCP", port: 80, targetPort: 8080}),
		slice("demo", "web6", "web6-x", discoveryv1.AddressTypeIPv6, web, ep{"fd00:10:244:1::21", "kind-worker", true, false}, ep{"fd00:10:244:2::33", "kind-worker2", true, false}),
		svc("demo", "web", corev1.ServiceTypeNodePort, []string{"10.96.120.7"}, web...),
		slice("demo", "web", "web-x", discoveryv1.AddressTypeIPv4, web, webEps...),
		localSvc,
		slice("demo", "local", "local-x", discoveryv1.AddressTypeIPv4, local, ep{"10.244.1.40", "kind-worker", true, false}, ep{"10.244.2.41", "kind-worker2", true, false}),
		lb,
		slice("demo", "web-lb", "web-lb-x", discoveryv1.AddressTypeIPv4, web, webEps[0]),
		ext,
		slice("demo", "web-ext", "web-ext-x", discoveryv1.AddressTypeIPv4, []svcPort{{name: "http", proto: "TCP", targetPort: 8080}}, webEps[0]),
		headless,
		svc("cache", "redis", corev1.ServiceTypeClusterIP, []string{"10.96.77.77"}, svcPort{name: "redis", proto: "TCP", port: 6379, targetPort: 6379}),
	}
	for i := 0; i < extraNodes; i++ {
		name := fmt.Sprintf("extra-%03d", i)
		objs = append(objs, node(name, fmt.Sprintf("10.0.1.%d", i%250+1), "6.1.0", nil),
			pod("kube-system", "cilium-x"+name, name, "cilium-agent", "quay.io/cilium/cilium:v1.20.2", cl, true))
	}
	return objs
}

// svcExec answers `service list` from a fixture: JSON for "-o json", text
// otherwise; cilium-dbg is missing when oldBinary (before 1.15).
type svcExec struct {
	json, text []byte
	oldBinary  bool
	forbidden  map[string]bool // pod names
	delay      time.Duration

	mu       sync.Mutex
	commands []string
	inflight atomic.Int32
	maxSeen  atomic.Int32
}

func (f *svcExec) Exec(ctx context.Context, ns, pod, container string, cmd []string) (collect.ExecResult, error) {
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	f.commands = append(f.commands, strings.Join(cmd, " "))
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return collect.ExecResult{}, ctx.Err()
		}
	}
	if f.forbidden[pod] {
		return collect.ExecResult{}, apierrors.NewForbidden(schema.GroupResource{Resource: "pods/exec"}, pod, errors.New(`User "viewer" cannot create resource "pods/exec"`))
	}
	if container != "cilium-agent" || strings.Join(cmd[1:3], " ") != "service list" {
		return collect.ExecResult{}, fmt.Errorf("unexpected exec %v in %s", cmd, container)
	}
	if cmd[0] == "cilium-dbg" && f.oldBinary {
		return collect.ExecResult{Stderr: []byte(`exec: "cilium-dbg": executable file not found in $PATH`), ExitCode: 127}, nil
	}
	if len(cmd) == 5 && cmd[4] == "json" {
		if f.json == nil {
			return collect.ExecResult{Stderr: []byte("Error: unknown shorthand flag: 'o' in -o"), ExitCode: 1}, nil
		}
		return collect.ExecResult{Stdout: f.json}, nil
	}
	return collect.ExecResult{Stdout: f.text}, nil
}

type svcRun struct {
	out    string
	err    error
	listed map[string]int // LIST calls by resource
	cs     *fake.Clientset
}

func runServices(t *testing.T, objs []runtime.Object, ex collect.Executor, args ...string) svcRun {
	t.Helper()
	cs := fake.NewSimpleClientset(objs...)
	var mu sync.Mutex
	listed := map[string]int{}
	cs.PrependReactor("list", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		listed[a.GetResource().Resource]++
		mu.Unlock()
		return false, nil, nil
	})
	// Hermetic: no kubeconfig of the machine decides the namespace.
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "absent"))
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	flags := genericclioptions.NewConfigFlags(false)
	o := &ServicesOptions{root: &RootOptions{ConfigFlags: flags, Streams: streams, Color: "never"}, AgentFlags: AgentFlags{Concurrency: 4, Timeout: 5 * time.Second}}
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-o":
			o.Output = args[i+1]
			i++
		case "--node":
			o.Nodes = append(o.Nodes, args[i+1])
			i++
		case "-n":
			flags.Namespace = str(args[i+1])
			i++
		case "-A":
			o.AllNamespaces = true
		case "--exit-code":
			o.ExitCode = true
		case "--concurrency":
			fmt.Sscan(args[i+1], &o.Concurrency)
			i++
		default:
			t.Fatalf("unknown test arg %q", args[i])
		}
	}
	r := svcRun{listed: listed, cs: cs}
	if r.err = o.Complete(nil, nil); r.err != nil {
		return r
	}
	if r.err = o.Validate(); r.err != nil {
		return r
	}
	r.err = o.run(context.Background(), cs, ex)
	r.out = out.String()
	return r
}

func decodeServices(t *testing.T, out string) report.Services {
	t.Helper()
	var rep report.Services
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	return rep
}

func problemKeys(n report.NodeServices) []string {
	var out []string
	for _, p := range n.Problems {
		k := p.Code + " " + p.Frontend
		if p.Backend != "" {
			k += " " + p.Backend
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func findNode(t *testing.T, rep report.Services, name string) report.NodeServices {
	t.Helper()
	for _, n := range rep.Nodes {
		if n.Node == name {
			return n
		}
	}
	t.Fatalf("node %s not in report: %+v", name, rep.Nodes)
	return report.NodeServices{}
}

// The findings every version shares (see svcCluster).
var commonFindings = []string{
	"missing-frontend 10.96.31.43:443",
	"missing-frontend 10.96.80.80:80",
	"missing-frontend 10.96.80.81:8080",
	"stale-frontend 10.96.200.200:9090",
}

// nodePortFindings are the NodePort findings by release. Up to 1.17 the
// agent lists NodePorts per node address: demo/local's on 10.0.0.11 is
// missing, demo/web's on fd00:10::11 is unexpected (web is IPv4-only).
// 1.18+ lists NodePorts on 0.0.0.0 / :: only, so no per-address row is
// missing, and demo/web's [::] row is the unexpected one.
func nodePortFindings(minor int) []string {
	if minor <= 17 {
		return []string{"missing-frontend 10.0.0.11:31443", "unexpected-frontend [fd00:10::11]:30080"}
	}
	return []string{"unexpected-frontend [::]:30080"}
}

// Every release's JSON and text listing, 1.10 to 1.20, against the same
// cluster: the findings differ only where the release's format or features
// do (backend states from 1.12, the ClusterMesh frontend from 1.14).
func TestServicesReconcilesFixturesOfEveryFormat(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(svcFixtures, "v1.*"))
	if err != nil || len(dirs) < 4 {
		t.Fatalf("fixtures: %v %v", dirs, err)
	}
	for _, dir := range dirs {
		version := filepath.Base(dir)
		var minor int
		if _, err := fmt.Sscanf(version, "v1.%d", &minor); err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		for _, file := range []string{"service-list.json", "service-list.txt"} {
			t.Run(version+"/"+file, func(t *testing.T) {
				want := append(append([]string{}, commonFindings...), nodePortFindings(minor)...)
				if minor >= 12 {
					want = append(want, "backend-not-active [fd00:10:96::a]:80 [fd00:10:244:2::33]:8080")
				}
				if minor < 14 {
					want = append(want, "missing-frontend 10.96.77.77:6379")
				}
				sort.Strings(want)
				binary := "cilium-dbg"
				ex := &svcExec{oldBinary: minor < 15}
				if minor < 15 {
					binary = "cilium"
				}
				source := binary + " service list"
				if strings.HasSuffix(file, ".json") {
					ex.json = svcFixture(t, version, file)
					source += " -o json"
				} else {
					ex.text = svcFixture(t, version, file)
				}
				objs := svcCluster(0)
				for _, o := range objs {
					if p, ok := o.(*corev1.Pod); ok {
						p.Spec.Containers[0].Image = "quay.io/cilium/cilium:" + version
					}
				}
				r := runServices(t, objs, ex, "-A", "-o", "json", "--node", "kind-worker")
				if r.err != nil {
					t.Fatal(r.err)
				}
				rep := decodeServices(t, r.out)
				n := findNode(t, rep, "kind-worker")
				if len(n.Errors) > 0 {
					t.Fatalf("errors: %v", n.Errors)
				}
				if got := problemKeys(n); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("problems:\n got  %q\n want %q", got, want)
				}
				if n.CiliumAgent == nil || n.CiliumAgent.Source != source {
					t.Errorf("agent = %+v, want source %q", n.CiliumAgent, source)
				}
				// HostPort and LocalRedirect are unmanaged, never problems.
				if n.Counts.Unmanaged != 2 {
					t.Errorf("unmanaged = %d; counts %+v", n.Counts.Unmanaged, n.Counts)
				}
				missing := 0
				for _, w := range want {
					if strings.HasPrefix(w, "missing-frontend") {
						missing++
					}
				}
				if n.Counts.Missing != missing || n.Counts.Expected != n.Counts.OK+n.Counts.Missing+n.Counts.Mismatch || n.Counts.Stale != 2 {
					t.Errorf("counts = %+v", n.Counts)
				}
				if rep.Summary.Nodes != 1 || rep.Summary.NodesWithProblems != 1 || rep.Summary.Problems != len(want) {
					t.Errorf("summary = %+v", rep.Summary)
				}
			})
		}
	}
}

// Which NodePort rows kpr expects follows the agent's release: the agent
// pod's image tag for `services`, what the agent reported in `status` when
// verify passes it (AgentVersions), and, with neither, the listing itself
// (a NODE-IP:PORT row only exists in a 1.17-or-older listing).
func TestServicesNodePortRowsFollowTheAgentRelease(t *testing.T) {
	withImage := func(image string) []runtime.Object {
		objs := svcCluster(0)
		for _, o := range objs {
			if p, ok := o.(*corev1.Pod); ok {
				p.Spec.Containers[0].Image = image
			}
		}
		return objs
	}
	for _, c := range []struct {
		name, fixture, image string
		reported             string // AgentVersions["kind-worker"]
		want                 []string
	}{
		// A 1.20 listing (NodePorts on 0.0.0.0 / :: only) is complete for a
		// 1.20 agent, and for an agent of unknown release.
		{"1.20 listing, 1.20 image", "v1.20.2", "quay.io/cilium/cilium:v1.20.2", "", nodePortFindings(20)},
		{"1.20 listing, untagged image", "v1.20.2", "quay.io/cilium/cilium:latest", "", nodePortFindings(20)},
		{"1.20 listing, 1.20 reported over a 1.16 image", "v1.20.2", "quay.io/cilium/cilium:v1.16.19", "1.20.2", nodePortFindings(20)},
		// The same listing from an agent that is 1.17 or older lacks every
		// per-address row.
		{"1.20 listing, 1.16 image", "v1.20.2", "quay.io/cilium/cilium:v1.16.19", "", []string{
			"missing-frontend 10.0.0.11:30080", "missing-frontend 10.0.0.11:31443", "unexpected-frontend [::]:30080"}},
		{"1.20 listing, 1.16 reported", "v1.20.2", "quay.io/cilium/cilium:v1.20.2", "1.16.19", []string{
			"missing-frontend 10.0.0.11:30080", "missing-frontend 10.0.0.11:31443", "unexpected-frontend [::]:30080"}},
		// A legacy listing from an agent of unknown release: its
		// 10.0.0.11:30080 row shows it lists per address.
		{"1.16 listing, untagged image", "v1.16.19", "quay.io/cilium/cilium:latest", "", nodePortFindings(16)},
		// A legacy listing from an agent said to be 1.18+: its per-address
		// rows are checked, never extra, and none is required.
		{"1.16 listing, 1.18 image", "v1.16.19", "quay.io/cilium/cilium:v1.18.8", "", []string{"unexpected-frontend [fd00:10::11]:30080"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ex := &svcExec{json: svcFixture(t, c.fixture, "service-list.json")}
			opts := collect.ServicesOptions{Nodes: []string{"kind-worker"}, Timeout: 5 * time.Second}
			if c.reported != "" {
				opts.AgentVersions = map[string]string{"kind-worker": c.reported}
			}
			got := nodePortProblems(t, withImage(c.image), ex, opts)
			want := append([]string{}, c.want...)
			sort.Strings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("NodePort problems:\n got  %q\n want %q", got, want)
			}
		})
	}
}

func TestServicesNamespaceScope(t *testing.T) {
	for _, file := range []string{"service-list.json", "service-list.txt"} {
		t.Run(file, func(t *testing.T) {
			ex := &svcExec{}
			if strings.HasSuffix(file, ".json") {
				ex.json = svcFixture(t, "v1.20.2", file)
			} else {
				ex.text = svcFixture(t, "v1.20.2", file)
			}
			r := runServices(t, svcCluster(0), ex, "-n", "demo", "-o", "json", "--node", "kind-worker")
			if r.err != nil {
				t.Fatal(r.err)
			}
			rep := decodeServices(t, r.out)
			if rep.Namespace != "demo" {
				t.Errorf("namespace = %q", rep.Namespace)
			}
			// monitoring's stale frontend and kube-dns are out of scope.
			want := []string{
				"backend-not-active [fd00:10:96::a]:80 [fd00:10:244:2::33]:8080",
				"missing-frontend 10.96.31.43:443",
				"missing-frontend 10.96.80.80:80", "missing-frontend 10.96.80.81:8080",
				"unexpected-frontend [::]:30080",
			}
			if got := problemKeys(findNode(t, rep, "kind-worker")); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("problems:\n got  %q\n want %q", got, want)
			}
		})
	}
}

func TestServicesForbiddenExecIsARowAndExitCode(t *testing.T) {
	ex := &svcExec{json: svcFixture(t, "v1.20.2", "service-list.json"), forbidden: map[string]bool{"cilium-w2": true}}
	r := runServices(t, svcCluster(0), ex, "-A", "-o", "json")
	if r.err != nil {
		t.Fatalf("a forbidden exec on one node must not fail the run: %v", r.err)
	}
	rep := decodeServices(t, r.out)
	// kind-control-plane has no agent and was not asked for: no row.
	if len(rep.Nodes) != 2 {
		t.Fatalf("nodes = %+v", rep.Nodes)
	}
	w2 := findNode(t, rep, "kind-worker2")
	if len(w2.Errors) != 1 || !strings.Contains(w2.Errors[0], "create pods/exec") {
		t.Errorf("errors = %q, want the missing permission named", w2.Errors)
	}
	if len(findNode(t, rep, "kind-worker").Problems) == 0 {
		t.Error("the readable node lost its findings")
	}
	if rep.Summary.NodesFailed != 1 {
		t.Errorf("summary = %+v", rep.Summary)
	}

	r = runServices(t, svcCluster(0), ex, "-A", "--exit-code")
	var ee *ExitError
	if !errors.As(r.err, &ee) || ee.Code != 1 {
		t.Fatalf("--exit-code with problems: err = %v", r.err)
	}
	if !strings.Contains(r.out, "create pods/exec") {
		t.Errorf("table lacks the permission:\n%s", r.out)
	}
}

func TestServicesUnknownNodeSuggestsClosest(t *testing.T) {
	r := runServices(t, svcCluster(0), &svcExec{}, "-A", "--node", "kind-wroker")
	if r.err == nil || !strings.Contains(r.err.Error(), `"kind-wroker" not found`) || !strings.Contains(r.err.Error(), "kind-worker") {
		t.Fatalf("err = %v", r.err)
	}
}

func TestServicesListCallsDoNotGrowWithNodes(t *testing.T) {
	text := svcFixture(t, "v1.20.2", "service-list.txt")
	small := runServices(t, svcCluster(0), &svcExec{text: text}, "-A", "-o", "json")
	large := runServices(t, svcCluster(60), &svcExec{text: text}, "-A", "-o", "json")
	if small.err != nil || large.err != nil {
		t.Fatal(small.err, large.err)
	}
	if fmt.Sprint(small.listed) != fmt.Sprint(large.listed) {
		t.Errorf("LIST calls grew with nodes: %v vs %v", small.listed, large.listed)
	}
	for _, res := range []string{"nodes", "pods", "services", "endpointslices"} {
		if large.listed[res] != 1 {
			t.Errorf("LIST %s = %d, want 1 (%v)", res, large.listed[res], large.listed)
		}
	}
	if n := len(decodeServices(t, large.out).Nodes); n != 62 {
		t.Errorf("nodes checked = %d, want 62", n)
	}
}

func TestServicesExecsRunConcurrently(t *testing.T) {
	ex := &svcExec{text: svcFixture(t, "v1.20.2", "service-list.txt"), delay: 50 * time.Millisecond}
	r := runServices(t, svcCluster(20), ex, "-A", "--concurrency", "8", "-o", "json")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if m := ex.maxSeen.Load(); m < 2 || m > 8*4 {
		t.Errorf("max concurrent execs = %d, want between 2 and the bound", m)
	}
}

func TestServicesTableAndWide(t *testing.T) {
	ex := &svcExec{json: svcFixture(t, "v1.20.2", "service-list.json")}
	r := runServices(t, svcCluster(0), ex, "-A", "--node", "kind-worker")
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, want := range []string{
		"kind-worker (kube-system/cilium-w1): ",
		"frontends expected",
		"missing-frontend",
		"10.96.31.43:443/TCP",
		"stale-frontend",
		"Service monitoring/no-endpoints no longer exists",
		"1 node(s) checked, 1 with problems (6 problems)",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("table lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, "\nok ") || strings.Contains(r.out, "\x1b[") {
		t.Errorf("plain table shows ok rows or colors:\n%s", r.out)
	}
	wide := runServices(t, svcCluster(0), ex, "-A", "--node", "kind-worker", "-o", "wide")
	if wide.err != nil {
		t.Fatal(wide.err)
	}
	if testing.Verbose() {
		t.Log("\n" + r.out + "\n" + wide.out)
	}
	for _, want := range []string{"\nok ", "default/kubernetes", "unmanaged", "Cilium-internal HostPort frontend", "internal scope (/i)"} {
		if !strings.Contains(wide.out, want) {
			t.Errorf("wide lacks %q:\n%s", want, wide.out)
		}
	}
}

func TestServicesNoCiliumIsAnError(t *testing.T) {
	r := runServices(t, []runtime.Object{node("n1", "10.0.0.1", "6.1.0", nil)}, &svcExec{}, "-A")
	if r.err == nil || !strings.Contains(r.err.Error(), "no Cilium agents found") {
		t.Fatalf("err = %v", r.err)
	}
}

func TestServicesAgentWithoutParsableOutput(t *testing.T) {
	ex := &svcExec{text: []byte("Error: cannot get services list: Get \"http:///var/run/cilium/cilium.sock/v1/service\": dial unix: connect: no such file or directory\n")}
	r := runServices(t, svcCluster(0), ex, "-A", "-o", "json", "--node", "kind-worker")
	if r.err != nil {
		t.Fatal(r.err)
	}
	n := findNode(t, decodeServices(t, r.out), "kind-worker")
	if len(n.Errors) != 1 || len(n.Problems) != 0 {
		t.Fatalf("row = %+v", n)
	}
	// Every fallback was tried, and the error says what each gave.
	if !strings.Contains(n.Errors[0], "cilium-dbg service list") {
		t.Errorf("error = %q", n.Errors[0])
	}
}

func TestServicesDefaultsToTheContextNamespace(t *testing.T) {
	ex := &svcExec{json: svcFixture(t, "v1.20.2", "service-list.json")}
	// No -n, no -A: like kubectl, the kubeconfig context's namespace
	// ("default" without one) is checked.
	r := runServices(t, svcCluster(0), ex, "-o", "json", "--node", "kind-worker")
	if r.err != nil {
		t.Fatal(r.err)
	}
	rep := decodeServices(t, r.out)
	if rep.Namespace != "default" {
		t.Fatalf("namespace = %q", rep.Namespace)
	}
	n := findNode(t, rep, "kind-worker")
	if len(n.Problems) != 0 || n.Counts.Expected != 1 || n.Counts.OK != 1 {
		t.Errorf("default namespace holds only the kubernetes Service, which is fine: %+v %+v", n.Counts, n.Problems)
	}
}

func TestServicesColors(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	ex := &svcExec{json: svcFixture(t, "v1.20.2", "service-list.json")}
	cs := fake.NewSimpleClientset(svcCluster(0)...)
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	o := &ServicesOptions{root: &RootOptions{ConfigFlags: genericclioptions.NewConfigFlags(false), Streams: streams, Color: "always"},
		AllNamespaces: true, AgentFlags: AgentFlags{Nodes: []string{"kind-worker"}, Concurrency: 2, Timeout: 5 * time.Second}}
	if err := o.Complete(nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.run(context.Background(), cs, ex); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\x1b[31mmissing-frontend\x1b[0m") {
		t.Errorf("--color always: missing-frontend not red:\n%q", out.String())
	}
}

// BenchmarkServices500Nodes is a whole run (LISTs from the fake clientset,
// 502 execs answered from the 1.20 JSON fixture, parse, reconcile, JSON
// out), to watch the per-node cost.
func BenchmarkServices500Nodes(b *testing.B) {
	js, err := os.ReadFile(filepath.Join(svcFixtures, "v1.20.2", "service-list.json"))
	if err != nil {
		b.Fatal(err)
	}
	objs := svcCluster(500)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		cs := fake.NewSimpleClientset(objs...)
		streams, _, out, _ := genericiooptions.NewTestIOStreams()
		o := &ServicesOptions{root: &RootOptions{ConfigFlags: genericclioptions.NewConfigFlags(false), Streams: streams, Color: "never"},
			AllNamespaces: true, Output: "json", AgentFlags: AgentFlags{Concurrency: 16, Timeout: 5 * time.Second}}
		if err := o.Complete(nil, nil); err != nil {
			b.Fatal(err)
		}
		if err := o.Validate(); err != nil {
			b.Fatal(err)
		}
		if err := o.run(context.Background(), cs, &svcExec{json: js}); err != nil {
			b.Fatal(err)
		}
		if out.Len() == 0 {
			b.Fatal("no output")
		}
	}
}

// An agent that reported NodePort off (KPR false: a flag or a per-node
// setting, cilium-config notwithstanding) has no NodePort or LoadBalancer
// frontends; verify tells the reconciliation so (AgentNodePort), and their
// absence is no problem. Without that word the same table is missing them.
func TestServicesAgentWithNodePortOff(t *testing.T) {
	var list []map[string]any
	if err := json.Unmarshal(svcFixture(t, "v1.20.2", "service-list.json"), &list); err != nil {
		t.Fatal(err)
	}
	var noNodePort []map[string]any
	for _, s := range list {
		typ := s["spec"].(map[string]any)["flags"].(map[string]any)["type"]
		if typ != "NodePort" && typ != "LoadBalancer" {
			noNodePort = append(noNodePort, s)
		}
	}
	js, _ := json.Marshal(noNodePort)
	run := func(nodePort map[string]bool) []string {
		ex := &svcExec{json: js}
		opts := collect.ServicesOptions{Nodes: []string{"kind-worker"}, Timeout: 5 * time.Second, AgentVersions: map[string]string{"kind-worker": "1.20.2"}, AgentNodePort: nodePort}
		return nodePortProblems(t, svcCluster(0), ex, opts)
	}
	if got := run(map[string]bool{"kind-worker": false}); len(got) != 0 {
		t.Errorf("NodePort off: problems %q", got)
	}
	if got := run(nil); len(got) == 0 {
		t.Error("without the agent's word, the missing NodePort frontends must be problems")
	}
}

// nodePortProblems reconciles kind-worker's agent table (ex) against objs
// and keeps the problems of the fixtures' NodePorts (30080, 31443).
func nodePortProblems(t *testing.T, objs []runtime.Object, ex collect.Executor, opts collect.ServicesOptions) []string {
	t.Helper()
	rep, err := collect.CollectServices(context.Background(), fake.NewSimpleClientset(objs...), ex, opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range problemKeys(findNode(t, *rep, "kind-worker")) {
		if strings.Contains(k, ":30080") || strings.Contains(k, ":31443") {
			got = append(got, k)
		}
	}
	return got
}
