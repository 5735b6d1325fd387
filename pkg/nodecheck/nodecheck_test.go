package nodecheck

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-kpr/kubectl-kpr/internal/fakelab"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/debugpod"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/probe"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

func runner(l *fakelab.Lab, keep bool) Runner {
	return Runner{Pods: debugpod.NewManager(l.CS, l.Ex, debugpod.Options{Namespace: "kube-system", Image: "img", Timeout: 5 * time.Second, Mode: debugpod.ModePods, Keep: keep}), Concurrency: 2}
}

func nodes(t *testing.T, l *fakelab.Lab, names ...string) (chosen, all []collect.NodeInfo) {
	t.Helper()
	chosen, all, err := collect.ChooseNodes(context.Background(), l.CS, names, false, "NODE")
	if err != nil {
		t.Fatal(err)
	}
	return chosen, all
}

func TestInspectReadsEveryNodeAndKeepsGoing(t *testing.T) {
	l := fakelab.New(t)
	l.Ex.Nodes["node-bare"].DumpErr = errors.New("exec refused")
	facts := collect.ReadClusterFacts(context.Background(), l.CS)
	r := runner(l, false)
	rep := Inspect(context.Background(), r, []string{"node-cilium", "node-iptables", "node-bare"}, facts, true)
	if len(rep.Nodes) != 2 || len(rep.Errors) != 1 || rep.Errors[0].Node != "node-bare" || !strings.Contains(rep.Errors[0].Message, "exec refused") {
		t.Fatalf("nodes %d, errors %+v", len(rep.Nodes), rep.Errors)
	}
	cil, kp := rep.Nodes[0], rep.Nodes[1]
	// inspect reads no agent: the KPR level is cilium-config's.
	if cil.Name != "node-cilium" || cil.CiliumAgent != "kube-system/cilium-abcde" || cil.CiliumKPR != "full" || cil.CiliumKPRFrom != "cilium-config" {
		t.Errorf("node-cilium: agent %q KPR %q from %q", cil.CiliumAgent, cil.CiliumKPR, cil.CiliumKPRFrom)
	}
	if len(cil.Netfilter.CiliumChains) == 0 || len(cil.Netfilter.KubeServiceChains) != 0 || cil.Raw == nil {
		t.Errorf("node-cilium rules: %d Cilium chains, %d KUBE-SVC, raw %v", len(cil.Netfilter.CiliumChains), len(cil.Netfilter.KubeServiceChains), cil.Raw != nil)
	}
	if kp.KubeProxyMode != "iptables" || kp.KubeProxyPod != "kube-system/kube-proxy-x1" || len(kp.Netfilter.KubeServiceChains) == 0 {
		t.Errorf("node-iptables: mode %q pod %q chains %d", kp.KubeProxyMode, kp.KubeProxyPod, len(kp.Netfilter.KubeServiceChains))
	}
	errs, kept := r.Finish()
	if len(errs) != 0 || len(kept) != 0 {
		t.Errorf("finish: %v, kept %v", errs, kept)
	}
}

func TestFinishSaysWhatKeepKept(t *testing.T) {
	l := fakelab.New(t)
	r := runner(l, true)
	_ = Inspect(context.Background(), r, []string{"node-cilium"}, collect.ReadClusterFacts(context.Background(), l.CS), false)
	_, kept := r.Finish()
	if len(kept) != 1 || !strings.HasPrefix(kept[0], "kube-system/kpr-node-cilium-") {
		t.Fatalf("kept %v", kept)
	}
	if n := KeptNotice(kept); !strings.Contains(n, "kept debug pods (--keep): kube-system/kpr-node-cilium-") || !strings.Contains(n, "kubectl kpr cleanup") {
		t.Errorf("notice %q", n)
	}
}

func TestProbeFromNodes(t *testing.T) {
	l := fakelab.New(t)
	from, all := nodes(t, l, "node-iptables", "node-bare")
	svcs, err := collect.ProbeServices(context.Background(), l.CS, "kube-system", "nm-nginx")
	if err != nil {
		t.Fatal(err)
	}
	svcs[0].Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	status, err := ProbeStatus(context.Background(), l.CS, l.Ex, from, all, 1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if status["node-cilium"] == nil || status["node-iptables"] == nil {
		t.Errorf("status read for %v, want the probing nodes and node-cilium (the first other node by name)", status)
	}
	// node-iptables' secondary address, and a hostPort pod on node-cilium.
	l.Ex.Nodes["node-iptables"].Addresses = []string{"172.30.0.112"}
	l.Ex.Nodes["node-iptables"].Probes["172.30.0.112:30080"] = "0 200 0.001"
	l.Ex.Nodes["node-bare"].Probes["172.30.0.11:18080"] = "0 200 0.001"
	hostPorts := probe.HostPortTargets([]corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Namespace: "v", Name: "hp"}, Spec: corev1.PodSpec{NodeName: "node-cilium",
		Containers: []corev1.Container{{Ports: []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 18080}}}}}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}},
		map[string]string{"node-cilium": "172.30.0.11"})
	rep := Probe(context.Background(), runner(l, false), from, all, svcs, ProbeSettings{Remote: 1, Probe: probe.Options{Timeout: time.Second, HTTP: true}, Status: status, HostPorts: hostPorts})
	served := map[string]string{}
	for _, r := range rep.Results {
		served[r.From+" "+r.Kind+" "+r.Target] = r.ServedBy
	}
	for k, v := range map[string]string{
		"node-iptables clusterip 10.96.100.10:80":           "kube-proxy",
		"node-bare nodeport-remote 172.30.0.11:30080":       "cilium-bpf",
		"node-bare clusterip 10.96.100.10:80":               "none",
		"node-iptables session-affinity 10.96.100.10:80":    "kube-proxy",
		"node-iptables nodeport-address 172.30.0.112:30080": "kube-proxy",
		"node-bare hostport 172.30.0.11:18080":              "cilium-bpf",
	} {
		if served[k] != v {
			t.Errorf("%s served by %q, want %q", k, served[k], v)
		}
	}
	got := map[string]string{}
	for _, r := range rep.Results {
		got[r.From+" "+r.Kind+" "+r.Target] = r.Outcome
	}
	want := map[string]string{
		"node-iptables clusterip 10.96.100.10:80":         "ok",
		"node-iptables nodeport-local 172.30.0.12:30080":  "ok",
		"node-iptables nodeport-remote 172.30.0.13:30080": "refused",
		"node-bare clusterip 10.96.100.10:80":             "timeout",
		"node-bare nodeport-local 172.30.0.13:30080":      "refused",
		"node-bare nodeport-remote 172.30.0.11:30080":     "ok",
		"node-iptables nodeport-loopback 127.0.0.1:30080": "ok",
		"node-bare nodeport-loopback 127.0.0.1:30080":     "refused",
		"node-iptables nodeport-any 0.0.0.0:30080":        "ok",
		"node-bare nodeport-any 0.0.0.0:30080":            "refused",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if rep.Mode != "http" || len(rep.Errors) != 0 {
		t.Errorf("mode %q errors %v", rep.Mode, rep.Errors)
	}
	// --no-served-by: no rules read, no servedBy.
	rep = Probe(context.Background(), runner(l, false), from, all, svcs, ProbeSettings{Remote: 1, Probe: probe.Options{Timeout: time.Second}, NoServedBy: true})
	for _, r := range rep.Results {
		if r.ServedBy != "" || r.Kind == string(probe.KindNodePortAddress) {
			t.Errorf("--no-served-by: %s %s served by %q", r.From, r.Target, r.ServedBy)
		}
	}
	// A node whose pod fails is an error; the other's results stay.
	l2 := fakelab.New(t)
	delete(l2.Ex.Nodes, "node-bare")
	rep = Probe(context.Background(), runner(l2, false), from, all, svcs, ProbeSettings{Remote: 1, Probe: probe.Options{Timeout: time.Second}, Status: nil})
	if len(rep.Errors) != 1 || rep.Errors[0].Node != "node-bare" || len(rep.Results) == 0 {
		t.Errorf("errors %+v, %d results", rep.Errors, len(rep.Results))
	}
}

func TestDiffCiliumAgainstKubeProxy(t *testing.T) {
	l := fakelab.New(t)
	chosen, _ := nodes(t, l, "node-cilium", "node-iptables")
	var warned []string
	d, err := Diff(context.Background(), l.CS, l.Ex, runner(l, false), [2]collect.NodeInfo{chosen[0], chosen[1]}, DiffOptions{
		Services: []string{"kube-system/nm-nginx"}, Probe: probe.Options{Timeout: time.Second}, StatusTimeout: 5 * time.Second,
		Warn: func(kind, msg string) { warned = append(warned, kind+": "+msg) },
	})
	if err != nil {
		t.Fatal(err)
	}
	row := func(fact string) report.DiffRow {
		for _, r := range d.Rows {
			if r.Fact == fact {
				return r
			}
		}
		t.Fatalf("no row %q in %v", fact, d.Rows)
		return report.DiffRow{}
	}
	if r := row("services by"); r.A != "cilium" || !strings.HasPrefix(r.B, "kube-proxy") || !r.Differs {
		t.Errorf("services by: %+v", r)
	}
	if r := row("kube-proxy /proxyMode"); r.A != "none" || r.B != "iptables" {
		t.Errorf("proxyMode: %+v", r)
	}
	if !d.Differs || len(d.Errors) != 0 {
		t.Errorf("differs %v, errors %v", d.Differs, d.Errors)
	}
	var probeRows int
	for _, r := range d.Rows {
		if r.Section == "probe" {
			probeRows++
		}
	}
	if probeRows == 0 {
		t.Error("no probe rows")
	}
	for _, w := range warned {
		if strings.HasPrefix(w, "warning: node-cilium") {
			t.Errorf("unexpected status warning %q", w)
		}
	}
}

func TestDiffPicksServices(t *testing.T) {
	l := fakelab.New(t)
	chosen, _ := nodes(t, l, "node-cilium", "node-bare")
	pair := [2]collect.NodeInfo{chosen[0], chosen[1]}
	var warned []string
	warn := func(kind, msg string) { warned = append(warned, kind+": "+msg) }
	// -n with no NodePort Service: status and rules only, with a warning.
	d, err := Diff(context.Background(), l.CS, l.Ex, runner(l, false), pair, DiffOptions{Namespace: "default", NamespaceExplicit: true, StatusTimeout: time.Second, Warn: warn})
	if err != nil || !strings.Contains(strings.Join(warned, "\n"), "no NodePort Services found to probe") {
		t.Fatalf("%v; warned %v", err, warned)
	}
	for _, r := range d.Rows {
		if r.Section == "probe" {
			t.Errorf("probe row without Services: %+v", r)
		}
	}
	// Across the cluster, more than MaxDiffServices: the first ones, noted.
	for i := 0; i < MaxDiffServices; i++ {
		s := fakelab.NodePortService("extra", fmt.Sprintf("svc-%02d", i), fmt.Sprintf("10.96.200.%d", i+1), 80, int32(31000+i))
		if _, err := l.CS.CoreV1().Services("extra").Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	warned = nil
	svcs, err := diffServices(context.Background(), l.CS, DiffOptions{Warn: warn})
	if err != nil || len(svcs) != MaxDiffServices || svcs[0].Namespace != "extra" {
		t.Fatalf("%d services, %v", len(svcs), err)
	}
	if !strings.Contains(strings.Join(warned, "\n"), fmt.Sprintf("note: probing the first %d of %d NodePort Services", MaxDiffServices, MaxDiffServices+2)) {
		t.Errorf("no note: %v", warned)
	}
	// A named Service that does not exist stops the diff.
	if _, err := Diff(context.Background(), l.CS, l.Ex, runner(l, false), pair, DiffOptions{Services: []string{"kube-system/nope"}, StatusTimeout: time.Second}); err == nil || !strings.Contains(err.Error(), `Service "nope" not found`) {
		t.Errorf("missing service: %v", err)
	}
}
