package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-kpr/kubectl-kpr/internal/fakelab"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/debugpod"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/probe"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/acceptance"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/hostdump"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

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

func runVerify(t *testing.T, ctx context.Context, l *fakelab.Lab, o Options) (*report.Verify, *phases, error) {
	t.Helper()
	p := &phases{}
	res, err := Run(ctx, Deps{Client: l.CS, Dynamic: fakelab.Dynamic(), Exec: l.Ex, Progress: p, Warn: func(kind, msg string) {
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

func debugPodsLeft(t *testing.T, l *fakelab.Lab) int {
	t.Helper()
	pods, err := l.CS.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: debugpod.ManagedByLabel + "=" + debugpod.ManagedByValue})
	if err != nil {
		t.Fatal(err)
	}
	return len(pods.Items)
}

func TestVerifyClassifiesChoosesAndJudges(t *testing.T) {
	l := fakelab.New(t)
	res, p, err := runVerify(t, context.Background(), l, baseOptions())
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
	l := fakelab.New(t)
	o := baseOptions()
	o.Strict = true
	res, _, err := runVerify(t, context.Background(), l, o)
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
	l := fakelab.New(t)
	delete(l.Ex.Nodes["node-cilium"].Probes, "0.0.0.0:30080")
	res, _, err := runVerify(t, context.Background(), l, baseOptions())
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
	l := fakelab.New(t)
	l.Ex.Nodes["node-cilium"].FirstProbes = map[string]string{"127.0.0.1:30080": "7 000 0"}
	o := baseOptions()
	o.Settle = 3 * time.Second
	res, _, err := runVerify(t, context.Background(), l, o)
	if err != nil {
		t.Fatal(err)
	}
	c := check(t, res, "node-cilium", report.CheckNodePortLoopback, "127.0.0.1:30080")
	if c.Result != report.ResultPass || c.Evidence.Probe.Attempts != 2 {
		t.Errorf("settled probe: %s after %d attempt(s)", c.Result, c.Evidence.Probe.Attempts)
	}
	// Without settle time, the first answer stands.
	l = fakelab.New(t)
	l.Ex.Nodes["node-cilium"].FirstProbes = map[string]string{"127.0.0.1:30080": "7 000 0"}
	res, _, _ = runVerify(t, context.Background(), l, baseOptions())
	if c := check(t, res, "node-cilium", report.CheckNodePortLoopback, "127.0.0.1:30080"); c.Result != report.ResultFail || c.Evidence.Probe.Attempts != 1 {
		t.Errorf("unsettled probe: %s after %d attempt(s)", c.Result, c.Evidence.Probe.Attempts)
	}
}

// An agent that has not yet seen a Service is asked again until --settle.
func TestVerifySettlesTheAgentTable(t *testing.T) {
	l := fakelab.New(t)
	l.Ex.ServiceListFirst = "[]"
	o := baseOptions()
	o.Settle = 3 * time.Second
	res, _, err := runVerify(t, context.Background(), l, o)
	if err != nil {
		t.Fatal(err)
	}
	if l.Ex.ServiceLists != 2 {
		t.Errorf("service list read %d time(s), want 2", l.Ex.ServiceLists)
	}
	if !strings.Contains(res.Phases[1].Detail, "(2 attempt(s))") || !strings.Contains(res.Phases[1].Detail, "0 problem(s)") {
		t.Errorf("services phase: %q", res.Phases[1].Detail)
	}
	// Without settle, the empty table's missing frontends are failures.
	l = fakelab.New(t)
	l.Ex.ServiceListFirst = "[]"
	res, _, _ = runVerify(t, context.Background(), l, baseOptions())
	if l.Ex.ServiceLists != 1 || res.Summary.Result != report.ResultFail {
		t.Errorf("unsettled table: %d read(s), summary %+v", l.Ex.ServiceLists, res.Summary)
	}
}

func TestVerifySampleAndNodeChoice(t *testing.T) {
	l := fakelab.New(t)
	o := baseOptions()
	o.AllNodes, o.Nodes = false, []string{"node-bare", "node-bare"}
	res, _, err := runVerify(t, context.Background(), l, o)
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
	res, _, err = runVerify(t, context.Background(), l, o)
	if err != nil || res.Options.Sample != 1 || len(res.Phases) == 0 || !strings.Contains(res.Phases[0].Detail, "cilium 1/1") {
		t.Errorf("sample: %v %+v", err, res.Options)
	}
}

func TestVerifyCannotRun(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Options, *fakelab.Lab)
		want string
	}{
		{"unknown node", func(o *Options, _ *fakelab.Lab) { o.AllNodes, o.Nodes = false, []string{"node-ciliun"} }, "--node node-ciliun: no such node; did you mean node-cilium"},
		{"unknown service", func(o *Options, _ *fakelab.Lab) { o.Services = []string{"kube-system/nm-ngin"} }, `--service kube-system/nm-ngin: Service "nm-ngin" not found in namespace kube-system; did you mean nm-nginx`},
		{"no TCP port", func(o *Options, l *fakelab.Lab) {
			s, _ := l.CS.CoreV1().Services("kube-system").Get(context.Background(), "nm-nginx", metav1.GetOptions{})
			s.Spec.Ports[0].Protocol = corev1.ProtocolUDP
			_, _ = l.CS.CoreV1().Services("kube-system").Update(context.Background(), s, metav1.UpdateOptions{})
		}, "no TCP Service port to probe"},
		{"no Ready node", func(o *Options, l *fakelab.Lab) {
			o.AllNodes = false
			for _, n := range []string{"node-cilium", "node-iptables", "node-bare"} {
				nd, _ := l.CS.CoreV1().Nodes().Get(context.Background(), n, metav1.GetOptions{})
				nd.Status.Conditions[0].Status = corev1.ConditionFalse
				_, _ = l.CS.CoreV1().Nodes().UpdateStatus(context.Background(), nd, metav1.UpdateOptions{})
			}
		}, "no node can be checked from"},
	} {
		l := fakelab.New(t)
		o := baseOptions()
		c.edit(&o, l)
		_, _, err := runVerify(t, context.Background(), l, o)
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
	_, err := Run(context.Background(), Deps{Client: cs, Exec: &fakelab.Exec{}}, baseOptions())
	var cr *CannotRunError
	if !errors.As(err, &cr) || !strings.Contains(err.Error(), "the cluster has no nodes") {
		t.Errorf("empty cluster: %v", err)
	}
}

func TestVerifyDryRunCreatesNothing(t *testing.T) {
	l := fakelab.New(t)
	o := baseOptions()
	o.DryRun, o.DeployBackends, o.BackendImage = true, true, "registry.k8s.io/e2e-test-images/agnhost:2.53"
	res, _, err := runVerify(t, context.Background(), l, o)
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
	for _, a := range l.CS.Actions() {
		if a.GetVerb() == "create" {
			t.Errorf("dry run created %s", a.GetResource().Resource)
		}
	}
}

func TestVerifyNodeFailureIsReportedAndOthersGoOn(t *testing.T) {
	l := fakelab.New(t)
	l.Ex.Nodes["node-iptables"].DumpErr = errors.New("exec refused by the kubelet")
	res, _, err := runVerify(t, context.Background(), l, baseOptions())
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
	l := fakelab.New(t)
	o := baseOptions()
	o.Pods.Keep = true
	_, p, err := runVerify(t, context.Background(), l, o)
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
	l := fakelab.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel as the first debug pod is created: the run stops, and says so.
	l.CS.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		cancel()
		return false, nil, nil
	})
	_, _, err := runVerify(t, ctx, l, baseOptions())
	if !errors.Is(err, ErrInterrupted) {
		t.Errorf("err %v, want ErrInterrupted", err)
	}
	if n := debugPodsLeft(t, l); n != 0 {
		t.Errorf("%d debug pods left after the interrupt", n)
	}
}

// externalTrafficPolicy=Local: only the node with a ready endpoint answers
// its NodePort; the others must not. The endpoints decide which is which.
func TestVerifyExternalTrafficPolicyLocal(t *testing.T) {
	l := fakelab.New(t)
	s, err := l.CS.CoreV1().Services("kube-system").Get(context.Background(), "nm-nginx", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	if _, err := l.CS.CoreV1().Services("kube-system").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// kube-proxy drops node-iptables' NodePort from outside: no local
	// endpoint there.
	delete(l.Ex.Nodes["node-bare"].Probes, "172.30.0.12:30080")
	res, _, err := runVerify(t, context.Background(), l, baseOptions())
	if err != nil {
		t.Fatal(err)
	}
	if c := check(t, res, "node-cilium", report.CheckNodePortLocal, "172.30.0.11:30080"); c.Result != report.ResultPass || c.Expect != report.ExpectAnswer {
		t.Errorf("node-cilium, with the endpoint: %s, expect %s (%s)", c.Result, c.Expect, c.Reason)
	}
	if c := check(t, res, "node-bare", report.CheckNodePortRemote, "172.30.0.12:30080"); c.Result != report.ResultPass || c.Expect != report.ExpectNoAnswer {
		t.Errorf("node-iptables' NodePort from node-bare, without endpoint: %s, expect %s (%s)", c.Result, c.Expect, c.Reason)
	}
	if c := check(t, res, "node-bare", report.CheckNodePortRemote, "172.30.0.11:30080"); c.Result != report.ResultPass || c.Expect != report.ExpectAnswer {
		t.Errorf("node-cilium's NodePort from node-bare, with the endpoint: %s, expect %s (%s)", c.Result, c.Expect, c.Reason)
	}
	if res.Targets[0].ExternalTrafficPolicy != "Local" {
		t.Errorf("target %+v", res.Targets[0])
	}
}

// A user Service with externalTrafficPolicy Local, ClientIP affinity and
// an externalIP gets those behaviour checks; a NodePort gets
// nodeport-every-address on every address of the node, the other nodes'
// secondary addresses included; every answered probe says who served it.
func TestVerifyBehaviourChecksOnAUserService(t *testing.T) {
	l := fakelab.New(t)
	ctx := context.Background()
	s, err := l.CS.CoreV1().Services("kube-system").Get(ctx, "nm-nginx", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	s.Spec.ExternalIPs = []string{"172.30.0.12"}
	if _, err := l.CS.CoreV1().Services("kube-system").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// node-cilium has a secondary address; node-bare reaches it.
	l.Ex.Nodes["node-cilium"].Addresses = []string{"172.30.1.11"}
	l.Ex.Nodes["node-bare"].Probes["172.30.1.11:30081"] = "7 000 0"
	l.Ex.Nodes["node-iptables"].Probes["172.30.0.12:80"] = "0 200 0.001"
	o := baseOptions()
	// nm-nginx-ovs is a NodePort Service with externalTrafficPolicy Cluster.
	o.Services = append(o.Services, "kube-system/nm-nginx-ovs")
	res, _, err := runVerify(t, ctx, l, o)
	if err != nil {
		t.Fatal(err)
	}
	byCase := map[string]report.VerifyCheck{}
	for _, c := range res.Checks {
		if c.Case != "" {
			byCase[c.Node+" "+c.Name+" "+c.Case+" "+c.Target] = c
		}
	}
	for key, want := range map[string]string{
		// The backend's own node answers its ETP-Local NodePort.
		"node-cilium etp-local same-node 172.30.0.11:30080": report.ResultPass,
		// kube-proxy's node without a local backend: its own host is
		// answered (route LOCAL traffic), the fake answers.
		"node-iptables etp-local empty-node-own 172.30.0.12:30080": report.ResultPass,
		// From node-bare (no datapath) at node-iptables, which has no
		// backend: the fake answers, which it must not.
		"node-bare etp-local empty-node 172.30.0.12:30080": report.ResultFail,
		// The externalIP is node-iptables' address: its own kube-proxy.
		"node-iptables externalip same-node 172.30.0.12:80": report.ResultPass,
		// node-cilium's secondary address, from node-bare: refused; the
		// address is not among the agent's NodePort addresses (its KPR
		// devices'), which kube-proxy users expect to answer: a failure.
		"node-bare nodeport-every-address another-address 172.30.1.11:30081": report.ResultFail,
		"node-cilium nodeport-every-address own-address 172.30.1.11:30081":   report.ResultPass,
	} {
		c, ok := byCase[key]
		if !ok {
			var keys []string
			for k := range byCase {
				keys = append(keys, k)
			}
			t.Fatalf("no check %q; have:\n%s", key, strings.Join(keys, "\n"))
		}
		if c.Result != want {
			t.Errorf("%s: %s (%s), want %s", key, c.Result, c.Reason, want)
		}
	}
	if c := byCase["node-bare nodeport-every-address another-address 172.30.1.11:30081"]; !strings.Contains(c.Reason, "is not one of the agent's NodePort addresses (172.30.0.11)") {
		t.Errorf("secondary address: %s", c.Reason)
	}
	aff := check(t, res, "node-cilium", report.CheckSessionAffinity, "10.96.100.10:80")
	if ev := aff.Evidence.Probe; ev == nil || ev.Requests != AffinityRequests || ev.Backends["10.96.100.10:80"] != AffinityRequests || aff.Result != report.ResultPass {
		t.Errorf("session-affinity on node-cilium: %s (%s) %+v", aff.Result, aff.Reason, aff.Evidence.Probe)
	}
	if c := check(t, res, "node-cilium", report.CheckClusterIP, "10.96.100.10:80"); c.Evidence.Probe.ServedBy != "cilium-socket-lb" {
		t.Errorf("node-cilium's ClusterIP served by %q (%s)", c.Evidence.Probe.ServedBy, c.Evidence.Probe.ServedByReason)
	}
	if c := check(t, res, "node-iptables", report.CheckClusterIP, "10.96.100.10:80"); c.Evidence.Probe.ServedBy != "kube-proxy" || !strings.Contains(c.Reason, "served by kube-proxy") {
		t.Errorf("node-iptables' ClusterIP served by %q: %s", c.Evidence.Probe.ServedBy, c.Reason)
	}
	ids := map[string]bool{}
	for _, c := range res.Checks {
		if ids[c.ID] {
			t.Errorf("duplicate check id %s", c.ID)
		}
		ids[c.ID] = true
	}
}

// cannedPod answers one exec with fixed output.
type cannedPod struct{ out string }

func (c cannedPod) Exec(_ context.Context, cmd []string) (collect.ExecResult, error) {
	return collect.ExecResult{Stdout: []byte(strings.ReplaceAll(c.out, "@@B", cmd[4]))}, nil
}

// On a node with kube-proxy's iptables rules and Cilium's socket-LB,
// kube-proxy's counters decide who served each of the node's own probes:
// the ClusterIP's chains moved (kube-proxy), the NodePort's did not
// (socket-LB); another Service's chains moving is not this probe's.
func TestCountedLocalNamesTheTranslator(t *testing.T) {
	dump := func(svc, sep uint64, other uint64) string {
		return fmt.Sprintf("*nat\n[%d:60] -A KUBE-SVC-AAA -m comment --comment \"v/backend:http -> 10.244.1.5:8080\" -j KUBE-SEP-AAA\n"+
			"[%d:60] -A KUBE-SEP-AAA -p tcp -m comment --comment v/backend:http -j DNAT --to-destination 10.244.1.5:8080\n"+
			"[%d:60] -A KUBE-SVC-OTHER -m comment --comment \"v/other:http\" -j KUBE-SEP-OTHER\nCOMMIT\n", svc, sep, other)
	}
	out := "@@B nat 0\n" + dump(3, 3, 0) + "@@B nat 1\n" + dump(4, 4, 0) + "@@B nat 2\n" + dump(4, 4, 9) +
		"@@B probe 0\n\n@@B w 000 0.001 0.002\n@@B rc 0\n@@B probe 1\n\n@@B w 000 0.001 0.002\n@@B rc 0\n"
	r := &run{opts: Options{Probe: probe.Options{Timeout: time.Second}},
		paths: map[string]acceptance.PathFacts{"node-both": {KubeProxy: true, KubeProxyMode: "iptables", SocketLB: true, BPF: true}}}
	if !r.countedNeeded("node-both") {
		t.Fatal("node-both needs counters")
	}
	probes := []acceptance.Probe{
		{Check: report.CheckClusterIP, Service: "v/backend:http", Target: "10.96.0.20:80", Outcome: "ok"},
		{Check: report.CheckNodePortLoopback, Service: "v/backend:http", Target: "127.0.0.1:30080", Outcome: "ok"},
		{Check: report.CheckNodePortRemote, Service: "v/backend:http", Target: "172.30.0.12:30080", Outcome: "ok"},
	}
	if err := r.countedLocal(context.Background(), cannedPod{out}, "node-both", probes); err != nil {
		t.Fatal(err)
	}
	if p := probes[0]; p.ServedBy != acceptance.ServedByKubeProxy || len(p.Counters) != 2 || p.Counters[0].Chain != "KUBE-SEP-AAA" {
		t.Errorf("ClusterIP: %s (%s) %+v", p.ServedBy, p.ServedByReason, p.Counters)
	}
	if p := probes[1]; p.ServedBy != acceptance.ServedByCiliumSocketLB || len(p.Counters) != 0 {
		t.Errorf("loopback NodePort: %s (%s) %+v", p.ServedBy, p.ServedByReason, p.Counters)
	}
	if probes[2].ServedBy != "" {
		t.Errorf("a remote probe is not re-probed with the node's counters: %+v", probes[2])
	}
}

// A node's rules decide who serves hostPorts there when its agent does not:
// portmap's CNI-HOSTPORT-DNAT chain; its addresses come from the dump too.
func TestDumpFactsFindPortmap(t *testing.T) {
	r := &run{datapaths: map[string]acceptance.Datapath{"node-iptables": {Name: "node-iptables", Class: "kube-proxy-iptables"}, "node-nftables": {Name: "node-nftables"}},
		paths: map[string]acceptance.PathFacts{}, addrs: map[string][]string{}, statusOf: map[string]*report.NodeStatus{}}
	withPortmap := &hostdump.Dump{Sections: map[string]hostdump.Section{
		hostdump.SecIPTablesNFT: {Stdout: "*nat\n:CNI-HOSTPORT-DNAT - [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\nCOMMIT\n"},
		hostdump.SecAddresses:   {Stdout: "2: eth0    inet 172.30.0.12/24 scope global eth0\n2: eth0    inet 172.30.0.112/24 scope global secondary eth0\n"}}}
	r.addDumpFacts("node-iptables", withPortmap, nil)
	r.addDumpFacts("node-nftables", &hostdump.Dump{}, nil)
	if d := r.datapaths["node-iptables"]; d.HostPortBy != acceptance.HostPortPortmap || !d.RulesRead {
		t.Errorf("node-iptables: %+v, want portmap, rules read", d)
	}
	if d := r.datapaths["node-nftables"]; d.HostPortBy != "" || !d.RulesRead {
		t.Errorf("node-nftables: %+v, want nobody, rules read", d)
	}
	if a := r.addrs["node-iptables"]; len(a) != 2 || a[1] != "172.30.0.112" {
		t.Errorf("addresses %v", a)
	}
}
