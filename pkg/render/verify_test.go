package render

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/internal/browser"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// verifyResult is a small run over three classes: a passing Cilium node, a
// stale node that fails, a bare node with warnings and a skipped check,
// plus a node whose debug pod did not run. Hostile text (markup, pipes,
// a terminal escape) sits where cluster data can put it.
func verifyResult() *report.Verify {
	probe := func(outcome string, ms float64) report.VerifyEvidence {
		return report.VerifyEvidence{Probe: &report.ProbeEvidence{Outcome: outcome, LatencyMs: ms, Attempts: 1}}
	}
	return &report.Verify{
		Cluster: report.VerifyCluster{Context: "lab", Server: "https://127.0.0.1:6443", ServerVersion: "v1.37.2", CiliumVersion: "1.18.8",
			CiliumNamespace: "kube-system", CiliumConfig: map[string]string{"kube-proxy-replacement": "true"}, KubeProxyMode: "iptables", KubeProxyVersion: "v1.37.2"},
		Options:   report.VerifyOptions{Sample: 2, Seed: 42, DeployBackends: true, ProbeMode: "tcp", Namespace: "kpr-verify-abcde", CommandLine: "kubectl kpr verify --deploy-backends"},
		StartedAt: "2026-12-03T10:00:00Z", DurationMs: 12345,
		Phases: []report.VerifyPhase{{Name: "status", DurationMs: 800, Detail: "4 nodes, 3 classes"}, {Name: "nodes", DurationMs: 9000}},
		Classes: []report.VerifyClass{
			{Name: "cilium", Nodes: []string{"node-cilium", "node-stale"}, Chosen: []string{"node-cilium", "node-stale"}},
			{Name: "none", Nodes: []string{"node-<b>bare</b>"}, Chosen: []string{"node-<b>bare</b>"}},
			{Name: "kube-proxy-iptables", Nodes: []string{"node-iptables", "node-unchecked"}, Chosen: []string{"node-iptables"}},
		},
		Nodes: []report.VerifyNode{
			{Name: "node-cilium", Class: "cilium", Ready: true, Chosen: true, CiliumAgent: "kube-system/cilium-a", KPRMode: "True", Warnings: []string{}},
			{Name: "node-stale", Class: "cilium", Ready: true, Chosen: true, CiliumAgent: "kube-system/cilium-b", KPRMode: "True", Warnings: []string{"stale-kube-proxy-rules"}},
			{Name: "node-<b>bare</b>", Class: "none", Ready: true, Chosen: true, Warnings: []string{}},
			{Name: "node-iptables", Class: "kube-proxy-iptables", Ready: true, Chosen: true, KubeProxyPod: "kube-proxy-x", Warnings: []string{}},
			{Name: "node-unchecked", Class: "kube-proxy-iptables", Ready: true, Warnings: []string{}},
		},
		Targets: []report.VerifyTarget{{Service: "kpr-verify-abcde/backend-cilium", Port: "http", ClusterIP: "10.96.5.5", PortNumber: 80, NodePort: 31000,
			Deployed: true, BackendNodes: []string{"node-cilium"}, BackendClasses: []string{"cilium"}, Endpoints: []string{"10.244.11.5:8080"}}},
		Checks: []report.VerifyCheck{
			{ID: "node-cilium/no-kube-proxy-rules", Name: report.CheckNoKubeProxyRules, Node: "node-cilium", Class: "cilium", Expect: report.ExpectAbsent, Result: report.ResultPass,
				Reason: "no KUBE-SVC chain", Evidence: report.VerifyEvidence{Rules: &report.RulesEvidence{CiliumChains: 3, Findings: []string{}}}, Reproduce: "kubectl debug node/node-cilium -- iptables-save"},
			{ID: "node-cilium/clusterip/kpr-verify-abcde/backend-cilium:http", Name: report.CheckClusterIP, Node: "node-cilium", Class: "cilium", Service: "kpr-verify-abcde/backend-cilium:http",
				Target: "10.96.5.5:80", Expect: report.ExpectAnswer, Result: report.ResultPass, Reason: "answered in 0.4ms", Evidence: probe("open", 0.4), Reproduce: "kubectl debug node/node-cilium -- curl http://10.96.5.5:80/"},
			{ID: "node-cilium/nodeport-remote/kpr-verify-abcde/backend-cilium:http/node-iptables", Name: report.CheckNodePortRemote, Node: "node-cilium", Class: "cilium",
				Service: "kpr-verify-abcde/backend-cilium:http", Target: "172.30.0.12:31000", Via: "node-iptables", ViaClass: "kube-proxy-iptables", Expect: report.ExpectAnswer, Result: report.ResultPass, Reason: "answered in 1ms", Evidence: probe("open", 1)},
			{ID: "node-cilium/nodeport-remote/kpr-verify-abcde/backend-cilium:http/node-bare", Name: report.CheckNodePortRemote, Node: "node-cilium", Class: "cilium",
				Service: "kpr-verify-abcde/backend-cilium:http", Target: "172.30.0.13:31000", Via: "node-<b>bare</b>", ViaClass: "none", Expect: report.ExpectNoAnswer, Result: report.ResultWarn, Reason: "refused, as expected: no Service datapath on node-bare", Evidence: probe("refused", 0.2)},
			{ID: "node-stale/no-kube-proxy-rules", Name: report.CheckNoKubeProxyRules, Node: "node-stale", Class: "cilium", Expect: report.ExpectAbsent, Result: report.ResultFail,
				Reason: "2 KUBE-SVC chains | left by kube-proxy", Evidence: report.VerifyEvidence{Rules: &report.RulesEvidence{KubeServiceChains: 2, KubeSEPChains: 2, Findings: []string{"stale-kube-proxy-rules"}}},
				Reproduce: "kubectl debug node/node-stale -- sh -c 'iptables-save | grep KUBE-SVC'"},
			{ID: "node-<b>bare</b>/clusterip/x", Name: report.CheckClusterIP, Node: "node-<b>bare</b>", Class: "none", Target: "10.96.5.5:80", Expect: report.ExpectNoAnswer, Result: report.ResultWarn,
				Reason: "timeout, as expected: no Service datapath on this node \x1b[31m", Evidence: probe("timeout", 2000)},
			{ID: "node-<b>bare</b>/nodeport-any/x", Name: report.CheckNodePortAny, Node: "node-<b>bare</b>", Class: "none", Target: "0.0.0.0:31000", Expect: report.ExpectNoAnswer, Result: report.ResultSkip,
				Reason: "the probe could not run: no route", Evidence: probe("error", 0)},
			{ID: "node-iptables/kube-proxy-rules", Name: report.CheckKubeProxyRules, Node: "node-iptables", Class: "kube-proxy-iptables", Expect: report.ExpectPresent, Result: report.ResultPass, Reason: "12 KUBE-SVC chains"},
		},
		Summary:   report.VerifySummary{Checks: 8, Pass: 4, Fail: 1, Warn: 2, Skip: 1, Result: report.ResultFail},
		Created:   []string{"namespace/kpr-verify-abcde", "pod/kpr-verify-abcde/backend-cilium"},
		CleanedUp: true,
		Errors:    []report.NodeError{{Node: "node-gone", Reason: "debug-pod", Message: "pod did not start: ImagePullBackOff"}},
	}
}

func TestVerifyTerminal(t *testing.T) {
	var b bytes.Buffer
	if err := Verify(&b, verifyResult(), Palette{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Cluster: lab (https://127.0.0.1:6443), Kubernetes v1.37.2",
		"Cilium: 1.18.8 in kube-system; cilium-config kube-proxy-replacement=true",
		"seed 42 (--seed 42 picks the same nodes)",
		"cilium: 2 nodes, checked node-cilium, node-stale",
		"kube-proxy-iptables: 2 nodes, checked node-iptables",
		"Failures:\n  ✗ node-stale no-kube-proxy-rules: 2 KUBE-SVC chains | left by kube-proxy\n      evidence: rules: 2 KUBE-SVC/SVL chains, 2 KUBE-SEP chains",
		"reproduce: kubectl debug node/node-stale -- sh -c 'iptables-save | grep KUBE-SVC'",
		"Warnings:\n  ! node-cilium nodeport-remote kpr-verify-abcde/backend-cilium:http → 172.30.0.13:31000 via node-<b>bare</b> (none)",
		"Not checked:\n  ! node-gone: pod did not start: ImagePullBackOff",
		"Created for this run (deleted): namespace/kpr-verify-abcde",
		"verify: FAIL (8 checks: 4 pass, 1 fail, 2 warn, 1 skip) in 12.3s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, out)
		}
	}
	// Two remote checks on node-cilium share one row, counted.
	if !strings.Contains(out, "1 warn, 1 pass") {
		t.Errorf("the nodeport-remote cell is not counted:\n%s", out)
	}
	if strings.Contains(out, "\x1b[31m") {
		t.Error("a terminal escape from the cluster reached the terminal")
	}
	b.Reset()
	if err := Verify(&b, verifyResult(), Palette{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), ansiRed+"FAIL"+ansiReset) {
		t.Errorf("colored verdict missing:\n%s", b.String())
	}
}

func TestVerifyTerminalPass(t *testing.T) {
	res := verifyResult()
	res.Summary = report.VerifySummary{Checks: 3, Pass: 3, Result: report.ResultPass}
	res.CleanedUp = false
	var b bytes.Buffer
	if err := Verify(&b, res, Palette{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"verify: PASS", "NOT all deleted: run `kubectl kpr cleanup`"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("lacks %q:\n%s", want, b.String())
		}
	}
}

// junitDoc is what a CI reporter reads back.
type junitDoc struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Cases    []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Body    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped   *string `xml:"skipped"`
			SystemOut string  `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := JUnit(&b, verifyResult()); err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	// Three classes plus the nodes that could not be checked.
	if len(doc.Suites) != 4 || doc.Suites[0].Name != "cilium" || doc.Suites[1].Name != "none" || doc.Suites[3].Name != "not-checked" {
		t.Fatalf("suites %+v", doc.Suites)
	}
	if doc.Tests != 9 || doc.Failures != 2 {
		t.Errorf("totals tests=%d failures=%d, want 9 and 2", doc.Tests, doc.Failures)
	}
	cil := doc.Suites[0]
	if cil.Tests != 5 || cil.Failures != 1 {
		t.Errorf("cilium suite tests=%d failures=%d", cil.Tests, cil.Failures)
	}
	var failed, warned bool
	for _, c := range cil.Cases {
		if c.Classname != "kpr.verify.cilium" {
			t.Errorf("classname %q", c.Classname)
		}
		if c.Name == "node-stale/no-kube-proxy-rules" {
			failed = c.Failure != nil && c.Failure.Type == "no-kube-proxy-rules" && strings.Contains(c.Failure.Body, "reproduce: kubectl debug node/node-stale") &&
				strings.Contains(c.Failure.Body, "evidence: rules: 2 KUBE-SVC/SVL chains")
		}
		if strings.HasSuffix(c.Name, "/node-bare") {
			warned = c.Failure == nil && strings.HasPrefix(c.SystemOut, "WARN: refused, as expected")
		}
	}
	if !failed || !warned {
		t.Errorf("failure carried=%v, warning carried=%v:\n%s", failed, warned, b.String())
	}
	none := doc.Suites[1]
	if none.Skipped != 1 || none.Cases[1].Skipped == nil || !strings.Contains(*none.Cases[1].Skipped, "no route") {
		t.Errorf("skipped check: %+v", none)
	}
	if strings.Contains(b.String(), "\x1b") {
		t.Error("an escape character is in the XML")
	}
	validateJUnit(t, b.Bytes())
}

// validateJUnit checks the XML against the common JUnit schema (Jenkins'
// junit-4.xsd) with xmllint. make unit fetches the schema and sets
// KPR_JUNIT_XSD; then a missing xmllint or schema is a failure.
func validateJUnit(t *testing.T, doc []byte) {
	t.Helper()
	xsd := os.Getenv("KPR_JUNIT_XSD")
	if xsd == "" {
		home, _ := os.UserHomeDir()
		xsd = filepath.Join(home, ".cache", "kubectl-kpr", "junit-xsd", "jenkins-junit.xsd")
		if _, err := os.Stat(xsd); err != nil {
			t.Skip("no JUnit schema: run through `make unit` (hack/junit-xsd.sh fetches it)")
		}
	}
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint not found (apt-get install libxml2-utils)")
	}
	f := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(f, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(xmllint, "--noout", "--schema", xsd, f).CombinedOutput()
	if err != nil {
		t.Fatalf("the JUnit XML does not validate against %s: %v\n%s", xsd, err, out)
	}
}

// The validator must reject what the schema forbids, or the test above
// proves nothing.
func TestJUnitSchemaRejectsBadDocument(t *testing.T) {
	xsd := os.Getenv("KPR_JUNIT_XSD")
	if xsd == "" {
		t.Skip("KPR_JUNIT_XSD is set by `make unit`")
	}
	f := filepath.Join(t.TempDir(), "bad.xml")
	// A testcase without its required name, and failure before skipped.
	os.WriteFile(f, []byte(`<testsuites><testsuite name="x" tests="1"><testcase><failure/><skipped/></testcase></testsuite></testsuites>`), 0o644)
	if out, err := exec.Command("xmllint", "--noout", "--schema", xsd, f).CombinedOutput(); err == nil {
		t.Fatalf("xmllint accepted an invalid document:\n%s", out)
	}
}

func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := Markdown(&b, verifyResult()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# kubectl kpr verify: FAIL",
		"| Kubernetes | v1.37.2 |",
		"| cilium-config | kube-proxy-replacement=true |",
		"| Node | Class | no-kube-proxy-rules | kube-proxy-rules | clusterip | nodeport-any | nodeport-remote |",
		"| node-stale | cilium | ❌ |",
		"| node-cilium | cilium | ✅ | | ✅ | | ⚠️ 1 warn, 1 pass |",
		"- **node-stale** `no-kube-proxy-rules`: 2 KUBE-SVC chains \\| left by kube-proxy",
		"  - reproduce: `kubectl debug node/node-stale -- sh -c 'iptables-save | grep KUBE-SVC'`",
		"| node-stale | no-kube-proxy-rules | absent | ❌ fail | 2 KUBE-SVC chains \\| left by kube-proxy | `kubectl debug node/node-stale -- sh -c 'iptables-save \\| grep KUBE-SVC'` |",
		"node-&lt;b&gt;bare&lt;/b&gt;",
		"## Not checked",
		"- command: `kubectl kpr verify --deploy-backends`",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, out)
		}
	}
	// Outside code spans (where text is literal) markup must be escaped.
	if strings.Contains(regexp.MustCompile("`[^`]*`").ReplaceAllString(out, ""), "<b>") {
		t.Error("markup from the cluster is not escaped")
	}
	// Every table row has as many cells as its header.
	checkMarkdownTables(t, out)
}

func checkMarkdownTables(t *testing.T, md string) {
	t.Helper()
	cols := -1
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = -1
			continue
		}
		n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") - 1
		if cols < 0 {
			cols = n
		} else if n != cols {
			t.Errorf("row has %d cells, header %d: %s", n, cols, line)
		}
	}
}

func TestHTMLEscapesAndIsSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := HTML(&b, verifyResult()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "node-<b>bare</b>") || !strings.Contains(out, "node-&lt;b&gt;bare&lt;/b&gt;") {
		t.Error("a node name's markup is not escaped")
	}
	for _, bad := range []string{"<script", "<link", "src=", "href=", "url(", "@import"} {
		if strings.Contains(out, bad) {
			t.Errorf("the report has %q: it must not need anything outside the file", bad)
		}
	}
	for _, want := range []string{`<td class="r fail" title="2 KUBE-SVC chains | left by kube-proxy">fail</td>`, `<td class="r warn"`, `id="verdict">FAIL<`} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

// The HTML report in a real headless Chromium: it loads with no error and
// no request, and a reader sees the verdict, every node and the
// reproduce commands.
func TestHTMLInChromium(t *testing.T) {
	if os.Getenv("KPR_SKIP_BROWSER") == "1" {
		t.Skip("KPR_SKIP_BROWSER=1")
	}
	var b bytes.Buffer
	if err := HTML(&b, verifyResult()); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := browser.Open(context.Background(), f, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) > 0 || len(p.Requests) > 0 {
		t.Errorf("errors %q, requests %q", p.Errors, p.Requests)
	}
	for _, n := range verifyResult().Nodes {
		if !strings.Contains(p.Text, n.Name) {
			t.Errorf("a reader does not see node %q", n.Name)
		}
	}
	for _, want := range []string{"kubectl kpr verify: FAIL", "kubectl debug node/node-stale -- sh -c 'iptables-save | grep KUBE-SVC'", "Node × check"} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("page text lacks %q:\n%s", want, p.Text)
		}
	}
}

// The same warning for several targets is one entry naming them all.
func TestVerifyGroupsRepeatedWarnings(t *testing.T) {
	res := verifyResult()
	second := res.Checks[5]
	second.ID, second.Target = "node-<b>bare</b>/clusterip/y", "10.96.6.6:80"
	res.Checks = append(res.Checks, second)
	for name, write := range map[string]func(*bytes.Buffer) error{
		"terminal": func(b *bytes.Buffer) error { return Verify(b, res, Palette{}) },
		"markdown": func(b *bytes.Buffer) error { return Markdown(b, res) },
		"html":     func(b *bytes.Buffer) error { return HTML(b, res) },
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(b.String(), "clusterip (2 targets: 10.96.5.5:80, 10.96.6.6:80)"); n != 1 {
			t.Errorf("%s: grouped entry appears %d times:\n%s", name, n, b.String())
		}
	}
}
