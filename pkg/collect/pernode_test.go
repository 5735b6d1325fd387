package collect

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/nodeconfig"
)

// scriptExec answers by the command's first word, per pod; status execs
// run in parallel, so calls is guarded.
type scriptExec struct {
	out   map[string]string // pod + " " + first word → stdout
	mu    sync.Mutex
	calls []string
}

func (s *scriptExec) Exec(_ context.Context, _, pod, _ string, cmd []string) (ExecResult, error) {
	s.mu.Lock()
	s.calls = append(s.calls, pod+" "+strings.Join(cmd, " "))
	s.mu.Unlock()
	if o, ok := s.out[pod+" "+cmd[0]]; ok {
		return ExecResult{Stdout: []byte(o)}, nil
	}
	return ExecResult{Stderr: []byte(`exec: "` + cmd[0] + `": executable file not found in $PATH`), ExitCode: 127}, nil
}

const statusJSON = `{"cilium":{"state":"Ok","msg":"Cilium 1.18.8"},"kube-proxy-replacement":{"mode":"True","features":{"nodePort":{"enabled":true}}}}`

func statusOf(pod string) map[string]string {
	return map[string]string{pod + " cilium-dbg": statusJSON}
}

// TestCollectStatusPerNode: the rollout node's agent is asked for its
// config dir and rules; a node no per-node source touches costs no exec
// beyond its status.
func TestCollectStatusPerNode(t *testing.T) {
	objs := standardCluster(
		&corev1.Node{ObjectMeta: migrated("node-a").ObjectMeta},
		&corev1.Node{ObjectMeta: plain("node-b").ObjectMeta},
	)
	ex := &scriptExec{out: map[string]string{}}
	for k, v := range statusOf("cilium-a") {
		ex.out[k] = v
	}
	for k, v := range statusOf("cilium-b") {
		ex.out[k] = v
	}
	ex.out["cilium-a grep"] = "/tmp/cilium/config-map/kube-proxy-replacement:true\n" +
		"/tmp/cilium/config-map/kube-proxy-replacement-healthz-bind-address:0.0.0.0:10256\n" +
		`/tmp/cilium/config-map/config-sources:[{"kind":"config-map","namespace":"kube-system","name":"cilium-config"},{"kind":"cilium-node-config","namespace":"kube-system","name":"kube-proxy-replacement"}]` + "\n"
	ex.out["cilium-a iptables-save"] = "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j KUBE-SVC-ABCDEF\nCOMMIT\n"
	dyn := newDynamic([]string{"v2", "v2alpha1"}, nil, rolloutCNC(nodeconfig.APIVersionV2, 0))
	rep, err := CollectStatus(context.Background(), fake.NewSimpleClientset(objs...), ex, StatusOptions{Dynamic: dyn, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]int{}
	for i, n := range rep.Nodes {
		byName[n.Name] = i
	}
	a := rep.Nodes[byName["node-a"]]
	if a.NodeConfig == nil || a.NodeConfig.ReadFrom != "agent" {
		t.Fatalf("node-a nodeConfig = %+v", a.NodeConfig)
	}
	k, _ := a.NodeConfig.Get("kube-proxy-replacement")
	if k.Value != "true" || k.Origin != "CiliumNodeConfig kube-system/kube-proxy-replacement" || k.Found != "agent" {
		t.Errorf("node-a KPR = %+v", k)
	}
	if r := a.NodeConfig.Rollout; r == nil || r.State != "inconsistent" {
		t.Errorf("node-a rollout = %+v, want inconsistent (rules left, kube-proxy gone)", r)
	}
	codes := map[string]bool{}
	for _, w := range a.Warnings {
		codes[w.Code] = true
	}
	if !codes[nodeconfig.CodeRolloutInconsistent] {
		t.Errorf("node-a warnings = %+v", a.Warnings)
	}
	// cilium-config says false, the CNC true, the agent True: no
	// config-kpr-agent-disabled, no agent-kpr-false.
	if codes["config-kpr-agent-disabled"] {
		t.Errorf("node-a compared with cilium-config instead of its own configuration: %+v", a.Warnings)
	}

	b := rep.Nodes[byName["node-b"]]
	if b.NodeConfig == nil || b.NodeConfig.ReadFrom != "computed" {
		t.Fatalf("node-b nodeConfig = %+v", b.NodeConfig)
	}
	if k, _ := b.NodeConfig.Get("kube-proxy-replacement"); k.Value != "false" || k.Origin != "cilium-config" {
		t.Errorf("node-b KPR = %+v", k)
	}
	// CNCs exist, so node-b's agent is asked too, but its rules are not
	// (it is not in the rollout).
	var bCalls []string
	for _, c := range ex.calls {
		if strings.HasPrefix(c, "cilium-b ") {
			bCalls = append(bCalls, c)
		}
	}
	if strings.Contains(strings.Join(bCalls, "|"), "iptables-save") {
		t.Errorf("node-b's rules were read: %q", bCalls)
	}
}

// Without CiliumNodeConfigs, node keys or the rollout, status execs only
// `status` (the 1000-node bench stays as it was).
func TestCollectStatusNoPerNodeCostsNoExec(t *testing.T) {
	objs := []runtime.Object{
		agentDS("cilium", []corev1.Container{chartInit()}, chartAgent()),
		agentPod("cilium-b", "node-b", "cilium"), ciliumConfig(clusterKPRFalse),
		&corev1.Node{ObjectMeta: plain("node-b").ObjectMeta},
	}
	ex := &scriptExec{out: statusOf("cilium-b")}
	rep, err := CollectStatus(context.Background(), fake.NewSimpleClientset(objs...), ex, StatusOptions{Dynamic: newDynamic([]string{"v2"}, nil), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ex.calls {
		if !strings.Contains(c, " status") {
			t.Errorf("extra exec %q", c)
		}
	}
	if nc := rep.Nodes[0].NodeConfig; nc == nil || nc.ReadFrom != "computed" {
		t.Errorf("nodeConfig = %+v", nc)
	}
}
