package offline

import (
	"archive/zip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/nodeconfig"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

const nodeConfigSysdump = "testdata/sysdump-nodeconfig/cilium-sysdump-20260401-120000"

// zipDir writes dir as a zip whose entries sit under dir's base name, as
// cilium sysdump writes it.
func zipDir(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), filepath.Base(dir)+".zip")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	err = filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(dir), path)
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// codesByNode maps each node (agents by their node) to its warning codes.
func codesByNode(out *report.Analyze) map[string][]string {
	m := map[string][]string{}
	add := func(node string, ws []verdict.Warning) {
		for _, w := range ws {
			m[node] = append(m[node], w.Code)
		}
	}
	for _, a := range out.Agents {
		add(a.Node, a.Warnings)
	}
	for _, n := range out.Nodes {
		add(n.Name, n.Warnings)
	}
	return m
}

func TestSysdumpNodeConfig(t *testing.T) {
	for name, arg := range map[string]string{"dir": nodeConfigSysdump, "zip": zipDir(t, nodeConfigSysdump)} {
		t.Run(name, func(t *testing.T) {
			out, st := Analyze([]string{arg}, Options{})
			if len(st.Errors) > 0 {
				t.Fatal(st.Errors)
			}
			nc := out.NodeConfig
			if nc == nil || !nc.Resolved || nc.Note != "" || len(nc.Files) != 5 || len(nc.Missing) != 0 {
				t.Fatalf("nodeConfig = %+v", nc)
			}
			// Each of the four warnings on its node, and on no other.
			want := map[string]string{
				"node-late":    nodeconfig.CodeNotApplied,
				"node-ignored": nodeconfig.CodeIgnored,
				"node-rollout": nodeconfig.CodeRolloutInconsistent,
				"node-clash":   nodeconfig.CodeHealthzPortClash,
			}
			got := codesByNode(out)
			for node, codes := range got {
				for _, c := range codes {
					for wn, wc := range want {
						if c == wc && node != wn {
							t.Errorf("%s on %s, want it on %s only", c, node, wn)
						}
					}
				}
			}
			for node, code := range want {
				n := 0
				for _, c := range got[node] {
					if c == code {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%s: %d× %s in %v", node, n, code, got[node])
				}
			}

			// Agents with bugtool output carry their node's configuration.
			late := agentByName(t, out, "cilium-late1")
			if late.Node != "node-late" || late.NodeConfig == nil || late.NodeConfig.DaemonSet != "kube-system/cilium" || late.NodeConfig.ReadFrom != nodeconfig.FoundComputed {
				t.Fatalf("cilium-late1: node %q config %+v", late.Node, late.NodeConfig)
			}
			// late-sock is a cilium.io/v2alpha1 CNC.
			if k, ok := late.NodeConfig.Get("bpf-lb-sock"); !ok || k.Value != "false" || k.Origin != "CiliumNodeConfig kube-system/late-sock" {
				t.Errorf("node-late bpf-lb-sock = %+v", k)
			}
			for _, w := range late.Warnings {
				if w.Code == nodeconfig.CodeNotApplied && !strings.Contains(w.Message, "its init container config finished at 2026-04-01T09:00:30Z") {
					t.Errorf("not-applied does not name the init container's finish: %s", w.Message)
				}
			}
			plain := agentByName(t, out, "cilium-plain1")
			if k, ok := plain.NodeConfig.Get(nodeconfig.KeyKPR); plain.Node != "node-plain" || !ok || k.Value != "false" || k.Origin != "cilium-config" {
				t.Errorf("node-plain: %q %+v", plain.Node, k)
			}

			// Nodes without agent output: the rollout CNC is cilium.io/v2.
			var rollout *report.AnalyzeNode
			for i := range out.Nodes {
				if out.Nodes[i].Name == "node-rollout" {
					rollout = &out.Nodes[i]
				}
			}
			if rollout == nil || rollout.NodeConfig == nil || rollout.NodeConfig.Rollout == nil || rollout.NodeConfig.Rollout.State != "inconsistent" {
				t.Fatalf("node-rollout: %+v", rollout)
			}
			if k, _ := rollout.NodeConfig.Get(nodeconfig.KeyKPR); k.Value != "true" || k.Origin != "CiliumNodeConfig kube-system/kube-proxy-replacement" {
				t.Errorf("node-rollout KPR = %+v", k)
			}
			if len(out.Nodes) != 4 { // node-ignored, node-rollout, node-clash, node-noagent
				t.Errorf("nodes = %d, want 4: %+v", len(out.Nodes), out.Nodes)
			}
		})
	}
}

// A sysdump without the node list or the CNC list: a note names them, and
// nothing else changes.
func TestSysdumpNodeConfigMissing(t *testing.T) {
	out, _ := Analyze([]string{writeSysdumpZip(t, t.TempDir())}, Options{})
	nc := out.NodeConfig
	if nc == nil || nc.Resolved {
		t.Fatalf("nodeConfig = %+v", nc)
	}
	for _, want := range []string{"could not be resolved", "k8s-nodes-<ts>.yaml", "ciliumnodeconfigs-<ts>.yaml"} {
		if !strings.Contains(nc.Note, want) {
			t.Errorf("note %q lacks %q", nc.Note, want)
		}
	}
	if len(nc.Missing) != 5 {
		t.Errorf("missing = %q", nc.Missing)
	}
	for _, a := range out.Agents {
		if a.NodeConfig != nil || a.Node != "" {
			t.Errorf("%s: node config without the files: %+v", a.Name, a.NodeConfig)
		}
	}
	if out.Nodes != nil {
		t.Errorf("nodes = %+v", out.Nodes)
	}

	// Only the CNC list missing: still not resolved, and it says which.
	dir := t.TempDir()
	sd := filepath.Join(dir, "cilium-sysdump-20260401-120000")
	if err := os.CopyFS(sd, os.DirFS(nodeConfigSysdump)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(sd, "ciliumnodeconfigs-20260401-120000.yaml")); err != nil {
		t.Fatal(err)
	}
	out, _ = Analyze([]string{sd}, Options{})
	if nc := out.NodeConfig; nc == nil || nc.Resolved || !strings.Contains(nc.Note, "lacks ciliumnodeconfigs-<ts>.yaml (") {
		t.Errorf("nodeConfig = %+v", nc)
	}
}

// Pastes are not a sysdump: no nodeConfig at all.
func TestNoSysdumpNoNodeConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "status.txt")
	if err := os.WriteFile(p, []byte(fixture(t, "testdata/cilium-v1.14.19-status-kpr-false.txt")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := Analyze([]string{p}, Options{})
	if out.NodeConfig != nil || out.Nodes != nil {
		t.Errorf("nodeConfig %+v nodes %+v", out.NodeConfig, out.Nodes)
	}
}

func TestObjectFile(t *testing.T) {
	for src, want := range map[string]string{
		"x.zip!cilium-sysdump-1/k8s-nodes-20260401-120000.yaml":  fileNodes,
		"d/ciliumnodeconfigs-20991231-235959.yaml":               fileCNCs,
		"cilium-configmap-20260401-120000.yaml":                  fileConfigMap,
		"cilium-daemonset-20260401-120000.yaml":                  fileDaemonSet,
		"k8s-pods-20260401-120000.yaml":                          filePods,
		"cilium-envoy-daemonset-20260401-120000.yaml":            "",
		"cilium-envoy-configmap-20260401-120000.yaml":            "",
		"k8s-pods-20260401-120000.txt":                           "",
		"cilium-config-configmap-20261127-174800.yaml":           "",
		"cilium-bugtool-x-20260401-120000/k8s-nodes-latest.yaml": "",
	} {
		if got := objectFile(src); got != want {
			t.Errorf("objectFile(%q) = %q, want %q", src, got, want)
		}
	}
}
