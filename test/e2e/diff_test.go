package e2e

import (
	"strings"
	"testing"
)

func containsText(s, sub string) bool { return strings.Contains(s, sub) }

type diffJSON struct {
	Nodes []string `json:"nodes"`
	Rows  []struct {
		Section string `json:"section"`
		Fact    string `json:"fact"`
		A       string `json:"a"`
		B       string `json:"b"`
		Differs bool   `json:"differs"`
	} `json:"rows"`
	Differs bool `json:"differs"`
}

func TestDiffCiliumVersusBare(t *testing.T) {
	needLab(t)
	r := kpr(t, "diff", "node-cilium", "node-bare", "--service", "kube-system/nm-nginx", "-o", "json")
	var d diffJSON
	mustJSON(t, r, &d)
	if len(d.Nodes) != 2 || d.Nodes[0] != "node-cilium" || d.Nodes[1] != "node-bare" || !d.Differs {
		t.Fatalf("nodes %v differs %v", d.Nodes, d.Differs)
	}
	rows := map[string][2]string{}
	for _, row := range d.Rows {
		rows[row.Fact] = [2]string{row.A, row.B}
	}
	if got := rows["services by"]; got != [2]string{"cilium", "none"} {
		t.Errorf("services by = %v, want cilium | none", got)
	}
	if got := rows["kube-system/nm-nginx:http clusterip (10.96.100.10:80)"]; got[0] != "ok (cilium-socket-lb)" || got[1] != "timeout" {
		var facts []string
		for f := range rows {
			facts = append(facts, f)
		}
		t.Errorf("clusterip probe row = %v (rows: %v)", got, facts)
	}
	waitNoKprPods(t)
}

func TestDiffExitCodeAndTable(t *testing.T) {
	needLab(t)
	r := kpr(t, "diff", "node-cilium", "node-bare", "--no-probe", "--exit-code")
	if r.code != 1 {
		t.Fatalf("--exit-code on differing nodes: want exit 1, got %s", r)
	}
	for _, want := range []string{"node-cilium:", "node-bare:", "services by", "cilium", "none", "*"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("diff table lacks %q:\n%s", want, r.stdout)
		}
	}
	r = kpr(t, "diff", "node-cilium", "node-cilium")
	if r.code == 0 || !strings.Contains(r.stderr, "two different nodes") {
		t.Errorf("same node twice: %s", r)
	}
	r = kpr(t, "diff", "node-cilium", "node-stale", "--no-probe", "--color", "always")
	if !strings.Contains(r.stdout, "\x1b[32m") {
		t.Errorf("--color always: want green cells:\n%s", r.stdout)
	}
	waitNoKprPods(t)
}
