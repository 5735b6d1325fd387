package reconcile

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/cilium"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/textutil"
)

// The agent-side inputs below are cilium.Service values as the parsers
// return them; their shapes follow `service list` (see
// /work/shared/facts/cilium-formats.md §4–5), written by hand per test.

func ptr(b bool) *bool { return &b }

func web() Service {
	return Service{
		Namespace: "default", Name: "web", Type: "ClusterIP",
		ClusterIPs: []string{"10.96.0.10"}, IPFamilies: []string{"IPv4"},
		Ports: []ServicePort{{Name: "http", Protocol: "TCP", Port: 80}},
	}
}

func webSlice(eps ...Endpoint) EndpointSlice {
	return EndpointSlice{
		Namespace: "default", Service: "web", AddressType: "IPv4",
		Ports:     []EndpointPort{{Name: "http", Protocol: "TCP", Port: 8080}},
		Endpoints: eps,
	}
}

func ready(ip, node string) Endpoint {
	return Endpoint{Addresses: []string{ip}, Ready: ptr(true), NodeName: node}
}

func terminating(ip, node string) Endpoint {
	return Endpoint{Addresses: []string{ip}, Ready: ptr(false), Serving: ptr(true), Terminating: ptr(true), NodeName: node}
}

func fe(id, ip string, port uint16, proto, typ string, backends ...string) cilium.Service {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		panic(err)
	}
	s := cilium.Service{ID: n, IP: ip, Port: port, Protocol: proto, Type: typ}
	if strings.Contains(ip, ":") {
		s.Frontend = fmt.Sprintf("[%s]:%d", ip, port)
	} else {
		s.Frontend = fmt.Sprintf("%s:%d", ip, port)
	}
	for _, b := range backends {
		addr, state, _ := strings.Cut(b, " ")
		s.Backends = append(s.Backends, cilium.Backend{Address: addr, State: state})
	}
	return s
}

var nodeA = Node{Name: "node-a", Addresses: []string{"192.168.1.10"}}

func codes(r Result) []string {
	var out []string
	for _, p := range r.Problems {
		s := p.Code + " " + p.Frontend
		if p.Backend != "" {
			s += " " + p.Backend
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func wantCodes(t *testing.T, r Result, want ...string) {
	t.Helper()
	got := codes(r)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n got  %q\n want %q\nfrontends: %+v", got, want, r.Frontends)
	}
}

func TestClusterIPOK(t *testing.T) {
	ix := NewIndex([]Service{web()}, []EndpointSlice{webSlice(ready("10.0.1.5", "node-a"), ready("10.0.2.5", "node-b"))})
	r := ix.Reconcile(nodeA, []cilium.Service{
		fe("1", "10.96.0.10", 80, "TCP", "ClusterIP", "10.0.1.5:8080 active", "10.0.2.5:8080 active"),
	}, Options{})
	wantCodes(t, r)
	if r.Counts != (report.Counts{Expected: 1, Found: 1, OK: 1}) {
		t.Errorf("counts = %+v", r.Counts)
	}
	if len(r.Frontends) != 1 || r.Frontends[0].Service != "default/web" || r.Frontends[0].Port != "http" || r.Frontends[0].CiliumID != 1 {
		t.Errorf("frontend = %+v", r.Frontends)
	}
}

func TestMissingAndExtraBackend(t *testing.T) {
	ix := NewIndex([]Service{web()}, []EndpointSlice{webSlice(ready("10.0.1.5", "node-a"), ready("10.0.2.5", "node-b"))})
	r := ix.Reconcile(nodeA, []cilium.Service{
		fe("1", "10.96.0.10", 80, "TCP", "ClusterIP", "10.0.1.5:8080 active", "10.0.9.9:8080 active"),
	}, Options{})
	wantCodes(t, r,
		"missing-backend 10.96.0.10:80 10.0.2.5:8080",
		"extra-backend 10.96.0.10:80 10.0.9.9:8080")
	if r.Counts.Mismatch != 1 || r.Counts.OK != 0 {
		t.Errorf("counts = %+v", r.Counts)
	}
}

func TestNodePortOnEveryAddressAndSurrogate(t *testing.T) {
	s := web()
	s.Type = "NodePort"
	s.Ports[0].NodePort = 30080
	ix := NewIndex([]Service{s}, []EndpointSlice{webSlice(ready("10.0.1.5", "node-a"))})
	node := Node{Name: "node-a", Addresses: []string{"192.168.1.10", "172.16.0.10", "192.168.1.10"}}
	b := "10.0.1.5:8080 active"
	agent := []cilium.Service{
		fe("1", "10.96.0.10", 80, "TCP", "ClusterIP", b),
		fe("2", "0.0.0.0", 30080, "TCP", "NodePort", b),
		fe("3", "192.168.1.10", 30080, "TCP", "NodePort", b),
	}
	r := ix.Reconcile(node, agent, Options{})
	wantCodes(t, r, "missing-frontend 172.16.0.10:30080")
	if r.Counts.Expected != 4 || r.Counts.OK != 3 || r.Counts.Missing != 1 {
		t.Errorf("counts = %+v", r.Counts)
	}
	// A NodePort on an address kpr was not told about (a KPR device) is the
	// Service's, not stale.
	agent = append(agent, fe("4", "172.16.0.10", 30080, "TCP", "NodePort", b), fe("5", "10.10.10.10", 30080, "TCP", "NodePort", b))
	r = ix.Reconcile(node, agent, Options{})
	wantCodes(t, r)
	// Skipping NodePort (KPR without NodePort) expects only the ClusterIP.
	r = ix.Reconcile(node, agent[:1], Options{SkipNodePort: true})
	wantCodes(t, r)
}

// nodePortWeb is web as a NodePort Service on 30080, with one ready
// endpoint on node-a.
func nodePortWeb() *Index {
	s := web()
	s.Type = "NodePort"
	s.Ports[0].NodePort = 30080
	return NewIndex([]Service{s}, []EndpointSlice{webSlice(ready("10.0.1.5", "node-a"))})
}

// Cilium 1.18+ answers GET /service from pkg/loadbalancer's frontends
// table, which holds a NodePort only as 0.0.0.0:PORT: `service list` has no
// NODE-IP:PORT rows (seen on real 1.18.8 and 1.20.2 agents), and the IDs
// have gaps where the BPF-only per-address frontends took theirs.
func TestNodePortSurrogateOnlyFrom118(t *testing.T) {
	ix := nodePortWeb()
	b := "10.0.1.5:8080 active"
	surrogateOnly := []cilium.Service{
		fe("1", "10.96.0.10", 80, "TCP", "ClusterIP", b),
		fe("3", "0.0.0.0", 30080, "TCP", "NodePort", b),
	}
	for _, v := range []string{"1.18.8", "1.19.3", "1.20.2", "v1.18.0-rc.1", "1.18", "2.0.0"} {
		r := ix.Reconcile(nodeA, surrogateOnly, Options{AgentVersion: v})
		wantCodes(t, r)
		if r.Counts != (report.Counts{Expected: 2, Found: 2, OK: 2}) {
			t.Errorf("%s: counts = %+v", v, r.Counts)
		}
	}
	// Without the surrogate the NodePort is missing, once.
	r := ix.Reconcile(nodeA, surrogateOnly[:1], Options{AgentVersion: "1.18.8"})
	wantCodes(t, r, "missing-frontend 0.0.0.0:30080")

	// A per-address row a 1.18+ agent does list is checked like any other,
	// and is neither extra nor stale.
	withRow := append(append([]cilium.Service{}, surrogateOnly...), fe("4", "192.168.1.10", 30080, "TCP", "NodePort", b))
	r = ix.Reconcile(nodeA, withRow, Options{AgentVersion: "1.20.2"})
	wantCodes(t, r)
	if r.Counts != (report.Counts{Expected: 3, Found: 3, OK: 3}) {
		t.Errorf("counts = %+v", r.Counts)
	}
	withRow[2] = fe("4", "192.168.1.10", 30080, "TCP", "NodePort", b, "10.0.9.9:8080 active")
	r = ix.Reconcile(nodeA, withRow, Options{AgentVersion: "1.20.2"})
	wantCodes(t, r, "extra-backend 192.168.1.10:30080 10.0.9.9:8080")
}

// Up to 1.17 the legacy service manager lists one NodePort row per node
// address besides the surrogate: a missing one is a missing frontend.
func TestNodePortPerAddressUpTo117(t *testing.T) {
	ix := nodePortWeb()
	b := "10.0.1.5:8080 active"
	node := Node{Name: "node-a", Addresses: []string{"192.168.1.10", "172.16.0.10"}}
	legacy := []cilium.Service{
		fe("1", "10.96.0.10", 80, "", "ClusterIP", b),
		fe("2", "0.0.0.0", 30080, "", "NodePort", b),
		fe("3", "192.168.1.10", 30080, "", "NodePort", b),
		fe("4", "172.16.0.10", 30080, "", "NodePort", b),
	}
	for _, v := range []string{"1.10.0", "1.14.19", "1.16.19", "1.17.14", "v1.17.0"} {
		r := ix.Reconcile(node, legacy, Options{AgentVersion: v})
		wantCodes(t, r)
		// One NODE-IP row gone.
		r = ix.Reconcile(node, legacy[:3], Options{AgentVersion: v})
		wantCodes(t, r, "missing-frontend 172.16.0.10:30080")
		// Every NODE-IP row gone: the release says they must be there.
		r = ix.Reconcile(node, legacy[:2], Options{AgentVersion: v})
		wantCodes(t, r, "missing-frontend 172.16.0.10:30080", "missing-frontend 192.168.1.10:30080")
		if r.Counts != (report.Counts{Expected: 4, Found: 2, OK: 2, Missing: 2}) {
			t.Errorf("%s: counts = %+v", v, r.Counts)
		}
	}
}

// An agent of unknown release: either form passes, and a listed
// NODE-IP:PORT row (which only a legacy listing has) makes every node
// address expected.
func TestNodePortUnknownReleaseAcceptsEitherForm(t *testing.T) {
	ix := nodePortWeb()
	b := "10.0.1.5:8080 active"
	node := Node{Name: "node-a", Addresses: []string{"192.168.1.10", "172.16.0.10"}}
	cip := fe("1", "10.96.0.10", 80, "TCP", "ClusterIP", b)
	wildcard := fe("2", "0.0.0.0", 30080, "TCP", "NodePort", b)
	for _, v := range []string{"", "latest", "sha256", "x.y"} {
		r := ix.Reconcile(node, []cilium.Service{cip, wildcard}, Options{AgentVersion: v})
		wantCodes(t, r)
		r = ix.Reconcile(node, []cilium.Service{cip, wildcard, fe("3", "192.168.1.10", 30080, "TCP", "NodePort", b), fe("4", "172.16.0.10", 30080, "TCP", "NodePort", b)}, Options{AgentVersion: v})
		wantCodes(t, r)
		r = ix.Reconcile(node, []cilium.Service{cip, wildcard, fe("3", "192.168.1.10", 30080, "TCP", "NodePort", b)}, Options{AgentVersion: v})
		wantCodes(t, r, "missing-frontend 172.16.0.10:30080")
		r = ix.Reconcile(node, []cilium.Service{cip}, Options{AgentVersion: v})
		wantCodes(t, r, "missing-frontend 0.0.0.0:30080")
	}
}

// Dual stack on 1.18+: the 0.0.0.0 and :: surrogates, nothing per address.
func TestNodePortDualStackSurrogatesFrom118(t *testing.T) {
	ix, node, b4, b6 := dualStackNodePort()
	agent := []cilium.Service{
		fe("1", "10.96.0.10", 80, "TCP", "ClusterIP", b4),
		fe("2", "fd00:96::10", 80, "TCP", "ClusterIP", b6),
		fe("3", "0.0.0.0", 30080, "TCP", "NodePort", b4),
		fe("5", "::", 30080, "TCP", "NodePort", b6),
	}
	r := ix.Reconcile(node, agent, Options{AgentVersion: "1.18.8"})
	wantCodes(t, r)
	r = ix.Reconcile(node, agent[:3], Options{AgentVersion: "1.18.8"})
	wantCodes(t, r, "missing-frontend [::]:30080")
	r = ix.Reconcile(node, agent, Options{AgentVersion: "1.17.14"})
	wantCodes(t, r, "missing-frontend 192.168.1.10:30080", "missing-frontend [fd00:1::10]:30080")
}

func TestMajorMinor(t *testing.T) {
	for in, want := range map[string][2]int{
		"1.18.8": {1, 18}, "v1.16.19": {1, 16}, "1.18.0-rc.1": {1, 18}, "1.20": {1, 20}, " v1.9.3 ": {1, 9}, "1.18-dev": {1, 18},
	} {
		maj, min, ok := textutil.MajorMinor(in)
		if !ok || maj != want[0] || min != want[1] {
			t.Errorf("majorMinor(%q) = %d, %d, %v; want %v", in, maj, min, ok, want)
		}
	}
	for _, in := range []string{"", "latest", "1", "v", "1.x", "-1.18", "1.-2", ".18"} {
		if _, _, ok := textutil.MajorMinor(in); ok {
			t.Errorf("majorMinor(%q) ok", in)
		}
	}
}

func TestLoadBalancerAndExternalIPs(t *testing.T) {
	s := web()
	s.Type = "LoadBalancer"
	s.Ports[0].NodePort = 30080
	s.ExternalIPs = []string{"203.0.113.7"}
	s.LoadBalancerIngress = []LBIngress{{IP: "198.51.100.1"}, {IP: "198.51.100.2", IPMode: "Proxy"}}
	ix := NewIndex([]Service{s}, []EndpointSlice{webSlice(ready("10.0.1.5", "node-a"))})
	b := "10.0.1.5:8080 active"
	r := ix.Reconcile(nodeA, []cilium.Service{
		fe("1", "10.96.0.10", 80, "TCP", "ClusterIP", b),
		fe("2", "0.0.0.0", 30080, "TCP", "NodePort", b),
		fe("3", "192.168.1.10", 30080, "TCP", "NodePort", b),
		fe("4", "198.51.100.1", 80, "TCP", "LoadBalancer", b),
	}, Options{})
	// The Proxy-mode IP is optional; the externalIP is not.
	wantCodes(t, r, "missing-frontend 203.0.113.7:80")
	for _, f := range r.Frontends {
		if f.Frontend == "203.0.113.7:80" && f.Type != TypeExternalIPs {
			t.Errorf("externalIP frontend type = %q", f.Type)
		}
	}
	r = ix.Reconcile(nodeA, []cilium.Service{fe("1", "10.96.0.10", 80, "TCP", "ClusterIP", b)}, Options{SkipExternalIPs: true, SkipLoadBalancer: true, SkipNodePort: true})
	wantCodes(t, r)
}

func TestIPv6DualStack(t *testing.T) {
	ix, node, b4, b6 := dualStackNodePort()
	agent := []cilium.Service{
		fe("1", "10.96.0.10", 80, "TCP", "ClusterIP", b4),
		fe("2", "fd00:96::10", 80, "TCP", "ClusterIP", b6),
		fe("3", "0.0.0.0", 30080, "TCP", "NodePort", b4),
		fe("4", "192.168.1.10", 30080, "TCP", "NodePort", b4),
		fe("5", "::", 30080, "TCP", "NodePort", b6),
		// The agent may spell addresses differently; they still match.
		fe("6", "fd00:1:0::10", 30080, "TCP", "NodePort", "[fd00:10:1:0::5]:8080 active"),
	}
	r := ix.Reconcile(node, agent, Options{})
	wantCodes(t, r)
	if r.Counts.Expected != 6 || r.Counts.OK != 6 {
		t.Errorf("counts = %+v", r.Counts)
	}
	// An IPv4 backend on the IPv6 frontend is extra; the IPv6 one is missing.
	agent[1] = fe("2", "fd00:96::10", 80, "TCP", "ClusterIP", b4)
	r = ix.Reconcile(node, agent, Options{})
	wantCodes(t, r, "extra-backend [fd00:96::10]:80 10.0.1.5:8080", "missing-backend [fd00:96::10]:80 [fd00:10:1::5]:8080")
}

func TestExternalTrafficPolicyLocal(t *testing.T) {
	s := web()
	s.Type = "NodePort"
	s.ExternalTrafficPolicy = "Local"
	s.Ports[0].NodePort = 30080
	ix := NewIndex([]Service{s}, []EndpointSlice{webSlice(ready("10.0.1.5", "node-a"), ready("10.0.2.5", "node-b"))})
	both := []string{"10.0.1.5:8080 active", "10.0.2.5:8080 active"}
	np := fe("3", "192.168.1.10", 30080, "TCP", "NodePort", both...)
	npInternal := fe("4", "192.168.1.10", 30080, "TCP", "NodePort", both...)
	npInternal.Internal = true
	agent := []cilium.Service{
		fe("1", "10.96.0.10", 80, "TCP", "ClusterIP", both...),
		fe("2", "0.0.0.0", 30080, "TCP", "NodePort", "10.0.1.5:8080 active"),
		np, npInternal,
	}
	r := ix.Reconcile(nodeA, agent, Options{})
	// ClusterIP and the /i NodePort keep every endpoint; the external
	// NodePort must only have node-a's.
	wantCodes(t, r, "extra-backend 192.168.1.10:30080 10.0.2.5:8080")

	// On node-b the local endpoint is 10.0.2.5.
	nodeB := Node{Name: "node-b", Addresses: []string{"192.168.1.11"}}
	r = ix.Reconcile(nodeB, []cilium.Service{
		fe("1", "10.96.0.10", 80, "TCP", "ClusterIP", both...),
		fe("2", "0.0.0.0", 30080, "TCP", "NodePort", "10.0.2.5:8080 active"),
		fe("3", "192.168.1.11", 30080, "TCP", "NodePort"),
	}, Options{})
	wantCodes(t, r, "missing-backend 192.168.1.11:30080 10.0.2.5:8080")
}

func TestInternalTrafficPolicyLocal(t *testing.T) {
	s := web()
	s.InternalTrafficPolicy = "Local"
	ix := NewIndex([]Service{s}, []EndpointSlice{webSlice(ready("10.0.1.5", "node-a"), ready("10.0.2.5", "node-b"))})
	r := ix.Reconcile(nodeA, []cilium.Service{
		fe("1", "10.96.0.10", 80, "TCP", "ClusterIP", "10.0.1.5:8080 active"),
	}, Options{})
	wantCodes(t, r)
}

func TestStaleFrontends(t *testing.T) {
	ix := NewIndex([]Service{web()}, []EndpointSlice{webSlice(ready("10.0.1.5", "node-a"))})
	ok := fe("1", "10.96.0.10", 80, "TCP", "ClusterIP", "10.0.1.5:8080 active")
	named := fe("7", "10.96.5.5", 80, "TCP", "ClusterIP", "10.0.3.3:80 active")
	named.Namespace, named.Name = "default", "gone"
	text := fe("8", "10.96.6.6", 443, "", "ClusterIP", "10.0.4.4:443")
	otherNS := fe("9", "10.96.7.7", 80, "TCP", "ClusterIP")
	otherNS.Namespace, otherNS.Name = "kube-system", "gone-too"
	wrongPort := fe("10", "10.96.0.10", 81, "TCP", "ClusterIP")

	r := ix.Reconcile(nodeA, []cilium.Service{ok, named, text, otherNS, wrongPort}, Options{})
	wantCodes(t, r,
		"stale-frontend 10.96.5.5:80", "stale-frontend 10.96.6.6:443", "stale-frontend 10.96.7.7:80",
		"unexpected-frontend 10.96.0.10:81")
	if r.Counts.Stale != 4 || r.Counts.Found != 5 {
		t.Errorf("counts = %+v", r.Counts)
	}
	for _, f := range r.Frontends {
		if f.Frontend == "10.96.5.5:80" && (f.Service != "default/gone" || !strings.Contains(f.Reason, "no longer exists")) {
			t.Errorf("named stale frontend = %+v", f)
		}
	}

	// Scoped to "default": the other namespace's frontend and the one that
	// cannot be tied to a namespace are left out, not called stale.
	r = ix.Reconcile(nodeA, []cilium.Service{ok, named, text, otherNS, wrongPort}, Options{Namespace: "default"})
	wantCodes(t, r, "stale-frontend 10.96.5.5:80", "unexpected-frontend 10.96.0.10:81")
}

func TestBackendStates(t *testing.T) {
	ix := NewIndex([]Service{web()}, []EndpointSlice{webSlice(
		ready("10.0.1.5", "node-a"),
		ready("10.0.1.6", "node-a"),
		terminating("10.0.1.7", "node-a"),
		terminating("10.0.1.8", "node-a"),
		Endpoint{Addresses: []string{"10.0.1.9"}, Ready: ptr(false), NodeName: "node-a"}, // starting
		Endpoint{Addresses: []string{"10.0.1.10"}, NodeName: "node-a"},                   // nil conditions: ready
	)})
	r := ix.Reconcile(nodeA, []cilium.Service{
		fe("1", "10.96.0.10", 80, "TCP", "ClusterIP",
			"10.0.1.5:8080 active",
			"10.0.1.6:8080 quarantined",
			"10.0.1.7:8080 terminating",
			// 10.0.1.8 (terminating) already gone: fine
			"10.0.1.10:8080", // no state before 1.12: active
		),
	}, Options{})
	wantCodes(t, r, "backend-not-active 10.96.0.10:80 10.0.1.6:8080")
	if p := r.Problems[0]; p.State != "quarantined" {
		t.Errorf("state = %q", p.State)
	}
	// A starting (not ready) endpoint must not be a backend.
	r = ix.Reconcile(nodeA, []cilium.Service{
		fe("1", "10.96.0.10", 80, "TCP", "ClusterIP", "10.0.1.5:8080 active", "10.0.1.6:8080 active", "10.0.1.9:8080 active", "10.0.1.10:8080 active"),
	}, Options{})
	wantCodes(t, r, "extra-backend 10.96.0.10:80 10.0.1.9:8080")
}

func TestNoProtocolTextInput(t *testing.T) {
	dns := Service{
		Namespace: "kube-system", Name: "kube-dns", Type: "ClusterIP", ClusterIPs: []string{"10.96.0.10"},
		Ports: []ServicePort{{Name: "dns", Protocol: "UDP", Port: 53}, {Name: "dns-tcp", Protocol: "TCP", Port: 53}},
	}
	sl := EndpointSlice{Namespace: "kube-system", Service: "kube-dns", AddressType: "IPv4",
		Ports:     []EndpointPort{{Name: "dns", Protocol: "UDP", Port: 53}, {Name: "dns-tcp", Protocol: "TCP", Port: 53}},
		Endpoints: []Endpoint{ready("10.0.0.2", "node-a")}}
	ix := NewIndex([]Service{dns}, []EndpointSlice{sl})
	// Before 1.17 one protocol-less frontend stands for both ports.
	r := ix.Reconcile(nodeA, []cilium.Service{fe("1", "10.96.0.10", 53, "", "ClusterIP", "10.0.0.2:53 active")}, Options{})
	wantCodes(t, r)
	// 1.17+ prints the protocol: UDP alone leaves TCP missing.
	r = ix.Reconcile(nodeA, []cilium.Service{fe("1", "10.96.0.10", 53, "UDP", "ClusterIP", "10.0.0.2:53 active")}, Options{})
	wantCodes(t, r, "missing-frontend 10.96.0.10:53")
	if r.Problems[0].Protocol != "TCP" {
		t.Errorf("missing protocol = %q", r.Problems[0].Protocol)
	}
	// Before 1.17 the JSON shows one protocol for the shared frontend.
	r = ix.Reconcile(nodeA, []cilium.Service{fe("1", "10.96.0.10", 53, "UDP", "ClusterIP", "10.0.0.2:53 active")}, Options{IgnoreProtocol: true})
	wantCodes(t, r)
}

func TestUnmanagedFrontends(t *testing.T) {
	s := web()
	s.Type = "LoadBalancer"
	s.ExternalTrafficPolicy = "Local"
	s.HealthCheckNodePort = 32000
	s.LoadBalancerIngress = []LBIngress{{IP: "198.51.100.1"}}
	ix := NewIndex([]Service{s}, []EndpointSlice{webSlice(ready("10.0.1.5", "node-a"))})
	hc := fe("5", "198.51.100.1", 32000, "TCP", "LoadBalancer", "192.168.1.10:32000 active")
	hc.Namespace, hc.Name = "default", "web-healthCheck"
	hcText := fe("6", "198.51.100.1", 32000, "", "LoadBalancer", "192.168.1.10:32000")
	lrp := fe("7", "169.254.169.254", 80, "TCP", "LocalRedirect", "10.0.1.99:8080 active")
	// LocalRedirect takes over the Service's own ClusterIP frontend.
	lrpOnService := fe("1", "10.96.0.10", 80, "TCP", "LocalRedirect", "10.0.1.99:8080 active")
	hostPort := fe("8", "192.168.1.10", 8443, "TCP", "HostPort", "10.0.1.20:443 active")
	b := "10.0.1.5:8080 active"
	r := ix.Reconcile(nodeA, []cilium.Service{lrpOnService, hc, hcText, lrp, hostPort,
		fe("2", "198.51.100.1", 80, "TCP", "LoadBalancer", b)}, Options{SkipNodePort: true})
	wantCodes(t, r)
	if r.Counts.Unmanaged != 5 {
		t.Errorf("counts = %+v; frontends %+v", r.Counts, r.Frontends)
	}
}

func TestWrongType(t *testing.T) {
	ix := NewIndex([]Service{web()}, []EndpointSlice{webSlice(ready("10.0.1.5", "node-a"))})
	r := ix.Reconcile(nodeA, []cilium.Service{fe("1", "10.96.0.10", 80, "TCP", "ExternalIPs", "10.0.1.5:8080 active")}, Options{})
	wantCodes(t, r, "wrong-type 10.96.0.10:80")
}

func TestServicesWithoutFrontends(t *testing.T) {
	headless := web()
	headless.Name, headless.ClusterIPs = "headless", []string{"None"}
	ext := Service{Namespace: "default", Name: "ext", Type: "ExternalName"}
	other := web()
	other.Name, other.ClusterIPs, other.ProxyName = "other", []string{"10.96.0.20"}, "my-proxy"
	ix := NewIndex([]Service{headless, ext, other}, nil)
	r := ix.Reconcile(nodeA, nil, Options{})
	wantCodes(t, r)
	if r.Counts.Expected != 0 {
		t.Errorf("counts = %+v", r.Counts)
	}
	// Cilium programming a Service meant for another proxy is reported.
	r = ix.Reconcile(nodeA, []cilium.Service{fe("1", "10.96.0.20", 80, "TCP", "ClusterIP")}, Options{})
	wantCodes(t, r, "unexpected-frontend 10.96.0.20:80")
}

func TestMalformedInputDoesNotPanic(t *testing.T) {
	svcs := []Service{{Namespace: "x", Name: "y", Type: "NodePort", ClusterIPs: []string{"bogus", ""},
		Ports: []ServicePort{{Port: -1, NodePort: 70000}, {Port: 80, NodePort: 30000}}}}
	slices := []EndpointSlice{{Namespace: "x", Service: "y", Ports: []EndpointPort{{Port: 99999}, {Port: 80}},
		Endpoints: []Endpoint{{Addresses: []string{"not-an-ip", ""}}}}}
	ix := NewIndex(svcs, slices)
	r := ix.Reconcile(Node{Addresses: []string{"", "garbage", "0.0.0.0"}}, []cilium.Service{
		{Frontend: "garbage"}, {IP: "1.2.3.4"}, {Frontend: "[::1]:80", Backends: []cilium.Backend{{Address: "??"}}},
	}, Options{})
	if len(r.Frontends) == 0 {
		t.Fatal("expected the malformed frontends to be reported")
	}
}

func BenchmarkReconcile(b *testing.B) {
	const nsvc = 2000
	var svcs []Service
	var slices []EndpointSlice
	var agent []cilium.Service
	for i := 0; i < nsvc; i++ {
		ip := fmt.Sprintf("10.96.%d.%d", i/250, i%250+1)
		s := Service{Namespace: "ns", Name: fmt.Sprintf("s%d", i), Type: "NodePort", ClusterIPs: []string{ip},
			Ports: []ServicePort{{Name: "http", Port: 80, NodePort: int32(30000 + i)}}}
		svcs = append(svcs, s)
		sl := EndpointSlice{Namespace: "ns", Service: s.Name, AddressType: "IPv4", Ports: []EndpointPort{{Name: "http", Port: 8080}}}
		var bes []string
		for j := 0; j < 3; j++ {
			a := fmt.Sprintf("10.%d.%d.%d", j, i/250, i%250+1)
			sl.Endpoints = append(sl.Endpoints, ready(a, "node-a"))
			bes = append(bes, a+":8080 active")
		}
		slices = append(slices, sl)
		agent = append(agent,
			fe(strconv.Itoa(3*i+1), ip, 80, "TCP", "ClusterIP", bes...),
			fe(strconv.Itoa(3*i+2), "0.0.0.0", uint16(30000+i), "TCP", "NodePort", bes...),
			fe(strconv.Itoa(3*i+3), "192.168.1.10", uint16(30000+i), "TCP", "NodePort", bes...))
	}
	ix := NewIndex(svcs, slices)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := ix.Reconcile(nodeA, agent, Options{})
		if len(r.Problems) > 0 {
			b.Fatalf("unexpected problems: %v", r.Problems[:1])
		}
	}
}

// dualStackNodePort: a dual-stack NodePort Service (30080) with one ready
// endpoint per family on node-a, node-a with an address per family, and
// the backend cells of the two endpoints.
func dualStackNodePort() (ix *Index, node Node, b4, b6 string) {
	s := web()
	s.Type = "NodePort"
	s.ClusterIPs = []string{"10.96.0.10", "fd00:96::10"}
	s.IPFamilies = []string{"IPv4", "IPv6"}
	s.Ports[0].NodePort = 30080
	v6 := webSlice(ready("fd00:10:1::5", "node-a"))
	v6.AddressType = "IPv6"
	ix = NewIndex([]Service{s}, []EndpointSlice{webSlice(ready("10.0.1.5", "node-a")), v6})
	node = Node{Name: "node-a", Addresses: []string{"192.168.1.10", "fd00:1::10"}}
	return ix, node, "10.0.1.5:8080 active", "[fd00:10:1::5]:8080 active"
}
