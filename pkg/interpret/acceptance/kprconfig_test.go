package acceptance

import (
	"strings"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

func TestKPRConfigCheck(t *testing.T) {
	cfg := func(value, origin string, configured *string) *report.NodeConfig {
		return &report.NodeConfig{ReadFrom: "agent", Keys: []report.ConfigKey{{Key: "kube-proxy-replacement", Value: value, Origin: origin, Found: "agent", Configured: configured, ConfiguredOrigin: "node annotation"}}}
	}
	row := func(nc *report.NodeConfig, mode, replaces string) *report.NodeStatus {
		return &report.NodeStatus{Name: "n", CiliumAgent: &report.AgentRef{Pod: "cilium-x", Namespace: "kube-system"},
			KubeProxyReplacement: &report.KPR{Mode: mode, ReplacesKubeProxy: replaces}, NodeConfig: nc}
	}
	falseV := "false"
	for _, c := range []struct {
		name       string
		st         *report.NodeStatus
		want       string
		reasonPart string
	}{
		{"rollout done", row(cfg("true", "CiliumNodeConfig kube-system/kube-proxy-replacement", nil), "True", report.ReplacesFull), report.ResultPass, "from CiliumNodeConfig kube-system/kube-proxy-replacement"},
		{"agent off", row(cfg("true", "cilium-config", nil), "False", report.ReplacesNone), report.ResultFail, "runs without full KPR"},
		{"flag wins", row(cfg("false", "cilium-config", nil), "True", report.ReplacesFull), report.ResultWarn, "its flags or an older configuration decide"},
		{"pending", row(cfg("true", "cilium-config", &falseV), "True", report.ReplacesFull), report.ResultWarn, "node annotation now sets \"false\""},
		{"both off", row(cfg("false", "cilium-config", nil), "False", report.ReplacesNone), report.ResultPass, "agent reports False"},
	} {
		got, ok := kprConfigCheck(c.st)
		if !ok || got.Result != c.want || !strings.Contains(got.Reason, c.reasonPart) {
			t.Errorf("%s: %v %s %q", c.name, ok, got.Result, got.Reason)
		}
	}
	if _, ok := kprConfigCheck(&report.NodeStatus{Name: "no-agent"}); ok {
		t.Error("a node without an agent got a kpr-config check")
	}
	// JudgeNode adds it, and leaves config-kpr-agent-disabled to it.
	st := row(cfg("true", "cilium-config", nil), "False", report.ReplacesNone)
	st.Warnings = nil
	checks := JudgeNode(Node{Name: "n", Class: "none", Status: st}, false, Reproducer{})
	found := false
	for _, c := range checks {
		found = found || c.Name == report.CheckKPRConfig
	}
	if !found {
		t.Errorf("JudgeNode gave no %s check: %+v", report.CheckKPRConfig, checks)
	}
}
