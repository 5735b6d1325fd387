package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
)

func nodePortSvc() corev1.Service {
	return corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "nm-nginx"},
		Spec: corev1.ServiceSpec{
			Type:        corev1.ServiceTypeNodePort,
			ClusterIP:   "10.96.0.50",
			ClusterIPs:  []string{"10.96.0.50", "fd00:10:96::50"},
			ExternalIPs: []string{"172.30.0.200"},
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP},
				{Name: "dns", Port: 53, NodePort: 30053, Protocol: corev1.ProtocolUDP},
			},
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "172.30.0.100"}}}},
	}
}

func TestPlan(t *testing.T) {
	from := Node{Name: "node-cilium", InternalIPs: []string{"172.30.0.11"}}
	others := []Node{
		{Name: "node-z", InternalIPs: []string{"172.30.0.19"}},
		{Name: "node-bare", InternalIPs: []string{"172.30.0.13"}},
		{Name: "node-noip"},
		from,
	}
	headless := corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "headless"},
		Spec: corev1.ServiceSpec{ClusterIP: "None", Ports: []corev1.ServicePort{{Port: 80}}}}
	ext := corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ext"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName}}
	got, skipped := Plan(from, others, []corev1.Service{nodePortSvc(), headless, ext}, 1)
	type row struct {
		kind Kind
		addr string
		via  string
	}
	var rows []row
	for _, tg := range got {
		rows = append(rows, row{tg.Kind, tg.Address(), tg.Via})
		if tg.Service != "kube-system/nm-nginx" || tg.Port != "http" {
			t.Errorf("target %+v: wrong service/port", tg)
		}
	}
	want := []row{
		{KindClusterIP, "10.96.0.50:80", ""},
		{KindClusterIP, "[fd00:10:96::50]:80", ""},
		{KindNodePortLocal, "172.30.0.11:30080", ""},
		{KindNodePortLoopback, "127.0.0.1:30080", ""},
		{KindNodePortAny, "0.0.0.0:30080", ""},
		{KindNodePortRemote, "172.30.0.13:30080", "node-bare"}, // first peer by name, --remote 1
		{KindLoadBalancer, "172.30.0.100:80", ""},
		{KindExternalIP, "172.30.0.200:80", ""},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("plan:\n got %v\nwant %v", rows, want)
	}
	if len(skipped) != 2 || !strings.Contains(skipped[0], "53/UDP") || !strings.Contains(skipped[1], "ExternalName") {
		t.Errorf("skipped = %q", skipped)
	}
	if got[1].URL() != "http://[fd00:10:96::50]:80/" {
		t.Errorf("IPv6 URL = %s", got[1].URL())
	}
	none, _ := Plan(from, others, []corev1.Service{nodePortSvc()}, 0)
	for _, tg := range none {
		if tg.Kind == KindNodePortRemote {
			t.Errorf("--remote 0 must plan no remote targets, got %+v", tg)
		}
	}
}

func TestCommand(t *testing.T) {
	tg := []Target{{Host: "10.0.0.1", PortNum: 80}, {Host: "127.0.0.1", PortNum: 30080}}
	c := Command("@@b", tg, Options{Timeout: 1500 * time.Millisecond, Parallel: 4})
	want := []string{"@@b", "1.5", "2.5", "4", "no", "http://10.0.0.1:80/", "http://127.0.0.1:30080/"}
	if !reflect.DeepEqual(c[4:], want) || c[0] != "sh" {
		t.Errorf("command args = %q", c[4:])
	}
	if c := Command("@@b", tg, Options{Counters: true}); c[8] != "yes" {
		t.Errorf("counted mode flag = %q, want yes", c[8])
	}
	if c := Command("@@b", tg, Options{HTTP: true, Timeout: time.Second}); c[6] != "2" {
		t.Errorf("HTTP max-time = %s, want 2", c[6])
	}
}

// Counted mode: the "nat <i>" sections come back in order, between and
// around the probes' own framing, and never leak into a probe's lines.
func TestParseCounted(t *testing.T) {
	tg := []Target{{Host: "10.0.0.1", PortNum: 80}, {Host: "10.0.0.2", PortNum: 80}}
	out := "@@b nat 0\n*nat\n[0:0] -A KUBE-SVC-A -j KUBE-SEP-A\nCOMMIT\n" +
		"@@b nat 1\n*nat\n[1:60] -A KUBE-SVC-A -j KUBE-SEP-A\nCOMMIT\n" +
		"@@b nat 2\n*nat\n[1:60] -A KUBE-SVC-A -j KUBE-SEP-A\nCOMMIT\n" +
		"@@b probe 0\n\n@@b w 000 0.001 0.002\n@@b rc 0\n" +
		"@@b probe 1\n* connect to 10.0.0.2 port 80 from 10.0.0.9 port 4 failed: Connection refused\ncurl: (7) Failed to connect\n\n@@b w 000 0 0.001\n@@b rc 7\n"
	res, dumps, err := parse(collect.ExecResult{Stdout: []byte(out)}, "@@b", tg, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(dumps) != 3 || !strings.Contains(dumps[1], "[1:60] -A KUBE-SVC-A") || !strings.Contains(dumps[0], "[0:0]") || strings.Contains(dumps[2], "probe") {
		t.Errorf("dumps = %q", dumps)
	}
	if res[0].Outcome != OK || res[1].Outcome != Refused {
		t.Errorf("outcomes = %s, %s", res[0].Outcome, res[1].Outcome)
	}
}

// Canned script output. The curl lines are curl 8.x's own wording
// (lib/cf-socket.c "connect to %s port %u from %s port %u failed: %s",
// lib/connect.c "Failed to connect to %s port %u after %ld ms: %s",
// lib/multi.c timeouts), constructed by hand from curl's source; the
// strerror texts are glibc's.
func TestParseOutcomes(t *testing.T) {
	targets := make([]Target, 8)
	for i := range targets {
		targets[i] = Target{Kind: KindClusterIP, Service: "ns/s", Host: "10.0.0." + strconv.Itoa(i), PortNum: 80}
	}
	B := "@@b"
	out := strings.Join([]string{
		B + " probe 0",
		"*   Trying 10.0.0.0:80...",
		"* Connected to 10.0.0.0 (10.0.0.0) port 80",
		B + " w 200 0.000412 0.001901",
		B + " rc 0",
		B + " probe 1",
		"* connect to 10.0.0.1 port 80 from 172.30.0.13 port 40112 failed: Connection refused",
		"curl: (7) Failed to connect to 10.0.0.1 port 80 after 0 ms: Couldn't connect to server",
		B + " w 000 0.000000 0.000388",
		B + " rc 7",
		B + " probe 2",
		"curl: (28) Connection timed out after 2002 milliseconds",
		B + " w 000 0.000000 2.002113",
		B + " rc 28",
		B + " probe 3",
		"* connect to 10.0.0.3 port 80 from 172.30.0.13 port 40114 failed: No route to host",
		"curl: (7) Failed to connect to 10.0.0.3 port 80 after 3071 ms: Couldn't connect to server",
		B + " w 000 0.000000 3.071000",
		B + " rc 7",
		B + " probe 4",
		"curl: (56) Recv failure: Connection reset by peer",
		B + " w 000 0.000301 0.000500",
		B + " rc 56",
		B + " probe 5",
		"curl: (6) Could not resolve host: lb.example",
		B + " w 000 0.000000 0.000100",
		B + " rc 6",
		B + " probe 6",
		"curl: (28) Operation timed out after 2001 milliseconds with 0 bytes received",
		B + " w 000 0.000250 2.001000",
		B + " rc 28",
		// probe 7 never printed: the script was cut short.
	}, "\n")
	check := func(http bool, want []string) {
		t.Helper()
		got, err := Parse(collect.ExecResult{Stdout: []byte(out)}, B, targets, http)
		if err != nil {
			t.Fatal(err)
		}
		var outcomes []string
		for _, r := range got {
			outcomes = append(outcomes, r.Outcome)
		}
		if !reflect.DeepEqual(outcomes, want) {
			t.Errorf("http=%v outcomes:\n got %v\nwant %v", http, outcomes, want)
		}
	}
	// TCP mode: connected counts as ok, even if the server then resets or stalls.
	check(false, []string{OK, Refused, Timeout, Unreachable, OK, Error, OK, Error})
	check(true, []string{OK, Refused, Timeout, Unreachable, Reset, Error, Timeout, Error})
	got, _ := Parse(collect.ExecResult{Stdout: []byte(out)}, B, targets, true)
	if got[0].HTTPStatus != 200 || got[0].LatencyMs != 1.9 {
		t.Errorf("ok result = %+v, want status 200, 1.9 ms", got[0])
	}
	if !strings.Contains(got[5].Detail, "Could not resolve host") {
		t.Errorf("error detail = %q", got[5].Detail)
	}
	tcp, _ := Parse(collect.ExecResult{Stdout: []byte(out)}, B, targets, false)
	if tcp[0].LatencyMs != 0.41 {
		t.Errorf("TCP latency is the connect time: %v", tcp[0].LatencyMs)
	}
}

func TestParseFailures(t *testing.T) {
	tg := []Target{{Host: "10.0.0.1", PortNum: 80}}
	if _, err := Parse(collect.ExecResult{Stdout: []byte("@@b nocurl\n")}, "@@b", tg, false); err == nil || !strings.Contains(err.Error(), "--image") {
		t.Errorf("nocurl: %v", err)
	}
	res, err := Parse(collect.ExecResult{Stderr: []byte("OCI runtime exec failed: sh not found"), ExitCode: 126}, "@@b", tg, false)
	if err == nil || !strings.Contains(err.Error(), "sh not found") || res[0].Outcome != Error {
		t.Errorf("no output: %v %+v", err, res)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("@@b probe 0\n@@b w 200 0.1 0.2\n@@b rc 0\n"), 2)
	f.Add([]byte("@@b probe -1\n@@b w x y\n@@b rc\n@@b probe 99\n"), 1)
	f.Fuzz(func(t *testing.T, out []byte, n int) {
		if n < 0 || n > 64 {
			return
		}
		tg := make([]Target, n)
		res, _ := Parse(collect.ExecResult{Stdout: out}, "@@b", tg, n%2 == 0)
		if res != nil && len(res) != n {
			t.Fatalf("%d results for %d targets", len(res), n)
		}
		for _, r := range res {
			switch r.Outcome {
			case OK, Refused, Timeout, Unreachable, Reset, Error:
			default:
				t.Fatalf("outcome %q outside the documented set", r.Outcome)
			}
		}
	})
}

// localRunner runs the probe script on this machine. Only loopback
// addresses are probed (the network rule for tests).
type localRunner struct{}

func (localRunner) Exec(ctx context.Context, command []string) (collect.ExecResult, error) {
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := collect.ExecResult{Stdout: []byte(stdout.String()), Stderr: []byte(stderr.String())}
	if ee, ok := err.(*exec.ExitError); ok {
		res.ExitCode = ee.ExitCode()
		return res, nil
	}
	return res, err
}

// The shipped script with the real curl against loopback listeners: one
// that answers HTTP, a closed port, one that accepts and never answers,
// and one that resets.
func TestRunScriptAgainstLoopback(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	defer web.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	silent, _ := net.Listen("tcp", "127.0.0.1:0")
	defer silent.Close()
	var held []net.Conn
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	resetter, _ := net.Listen("tcp", "127.0.0.1:0")
	defer resetter.Close()
	go func() {
		for {
			c, err := resetter.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 1)
			_, _ = c.Read(buf)
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	port := func(l net.Listener) int32 { return int32(l.Addr().(*net.TCPAddr).Port) }
	webPort, _ := strconv.Atoi(web.URL[strings.LastIndex(web.URL, ":")+1:])
	targets := []Target{
		{Kind: KindNodePortLoopback, Host: "127.0.0.1", PortNum: int32(webPort)},
		{Kind: KindNodePortLoopback, Host: "127.0.0.1", PortNum: int32(closedPort)},
		{Kind: KindNodePortLoopback, Host: "127.0.0.1", PortNum: port(silent)},
		{Kind: KindNodePortLoopback, Host: "127.0.0.1", PortNum: port(resetter)},
	}
	ctx := context.Background()
	httpRes, err := Run(ctx, localRunner{}, targets, Options{HTTP: true, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{OK, Refused, Timeout, Reset}
	for i, r := range httpRes {
		if r.Outcome != want[i] {
			t.Errorf("HTTP probe %s: %s (%s), want %s", r.Address(), r.Outcome, r.Detail, want[i])
		}
	}
	if httpRes[0].HTTPStatus != http.StatusTeapot || httpRes[0].LatencyMs <= 0 {
		t.Errorf("HTTP ok result = %+v", httpRes[0])
	}
	tcpRes, err := Run(ctx, localRunner{}, targets, Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []string{OK, Refused, OK, OK} {
		if tcpRes[i].Outcome != w {
			t.Errorf("TCP probe %s: %s (%s), want %s", tcpRes[i].Address(), tcpRes[i].Outcome, tcpRes[i].Detail, w)
		}
	}
}

func TestBudget(t *testing.T) {
	o := Options{Timeout: 2 * time.Second, Parallel: 16}
	if got := o.Budget(16); got != 18*time.Second {
		t.Errorf("one batch: %s", got)
	}
	if got := o.Budget(17); got != 21*time.Second {
		t.Errorf("two batches: %s", got)
	}
	if got := (Options{HTTP: true, Timeout: time.Second, Parallel: 1}).Budget(3); got != 21*time.Second {
		t.Errorf("HTTP: %s", got)
	}
}

// Repeat and RunCounted with the real script and curl against loopback: a
// server that names one of two backends by turns, and a closed port.
func TestRepeatAndCountedAgainstLoopback(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	var mu sync.Mutex
	n := 0
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		name := []string{"backend-a", "backend-b"}[n%2]
		mu.Unlock()
		if r.URL.Path == "/hostname" {
			fmt.Fprint(w, name)
		}
	}))
	defer web.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedURL := "http://" + closed.Addr().String() + "/hostname"
	closed.Close()
	ans, err := Repeat(context.Background(), localRunner{}, []string{web.URL + "/hostname", closedURL}, 4, Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if ans[0].ByBody["backend-a"] != 2 || ans[0].ByBody["backend-b"] != 2 || ans[0].Failed != 0 {
		t.Errorf("answers = %+v", ans[0])
	}
	if len(ans[1].ByBody) != 0 || ans[1].Failed != 4 {
		t.Errorf("closed port answers = %+v", ans[1])
	}
	port, _ := strconv.Atoi(web.URL[strings.LastIndex(web.URL, ":")+1:])
	tg := []Target{{Kind: KindClusterIP, Host: "127.0.0.1", PortNum: int32(port)}, {Kind: KindClusterIP, Host: "127.0.0.1", PortNum: int32(closed.Addr().(*net.TCPAddr).Port)}}
	res, dumps, err := RunCounted(context.Background(), localRunner{}, tg, Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Outcome != OK || res[1].Outcome != Refused || len(dumps) != 3 {
		t.Errorf("counted: %+v, %d dumps", res, len(dumps))
	}
}

func TestParseRepeatMissingLines(t *testing.T) {
	out := "@@r r 0 0 0 backend-a\n@@r r 0 1 7 \n@@r r 9 0 0 x\n"
	ans, err := ParseRepeat(collect.ExecResult{Stdout: []byte(out)}, "@@r", 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if ans[0].ByBody["backend-a"] != 1 || ans[0].Failed != 2 {
		t.Errorf("answers = %+v, want 1 answer and 2 failed (one refused, one missing)", ans[0])
	}
	if _, err := ParseRepeat(collect.ExecResult{Stderr: []byte("sh: not found")}, "@@r", 1, 3); err == nil {
		t.Error("no output: want an error")
	}
}

func TestAddressAndHostPortTargets(t *testing.T) {
	local := []Target{{Kind: KindNodePortLocal, Service: "ns/s", Port: "http", Host: "10.0.0.1", PortNum: 30080}, {Kind: KindClusterIP, Host: "10.96.0.1", PortNum: 80}}
	got := AddressTargets(local, "10.0.0.1", []string{"10.0.0.1", "10.0.1.1"})
	if len(got) != 1 || got[0].Address() != "10.0.1.1:30080" || got[0].Kind != KindNodePortAddress || got[0].Service != "ns/s" {
		t.Errorf("address targets %+v", got)
	}
	pod := func(name, node string, phase corev1.PodPhase, cp corev1.ContainerPort) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Ports: []corev1.ContainerPort{cp}}}},
			Status: corev1.PodStatus{Phase: phase}}
	}
	hp := HostPortTargets([]corev1.Pod{
		pod("a", "n1", corev1.PodRunning, corev1.ContainerPort{Name: "http", ContainerPort: 8080, HostPort: 18080}),
		pod("b", "n1", corev1.PodPending, corev1.ContainerPort{ContainerPort: 8080, HostPort: 18081}),
		pod("c", "n2", corev1.PodRunning, corev1.ContainerPort{ContainerPort: 8080}),
		pod("d", "n2", corev1.PodRunning, corev1.ContainerPort{ContainerPort: 53, HostPort: 53, Protocol: corev1.ProtocolUDP}),
		pod("e", "n2", corev1.PodRunning, corev1.ContainerPort{ContainerPort: 9, HostPort: 19, HostIP: "127.0.0.1"}),
	}, map[string]string{"n1": "10.0.0.1", "n2": "10.0.0.2"})
	var addrs []string
	for _, t := range hp {
		addrs = append(addrs, t.Service+" "+t.Port+" "+t.Address()+" "+t.Via)
	}
	if strings.Join(addrs, ";") != "ns/a http 10.0.0.1:18080 n1;ns/e 19 127.0.0.1:19 n2" {
		t.Errorf("hostPort targets %q", addrs)
	}
}
