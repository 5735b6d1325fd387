package cmd

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

const (
	offlineTestdata   = "../collect/offline/testdata/"
	netfilterTestdata = "../interpret/netfilter/testdata/"
)

func readFixture(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runAnalyze runs `kubectl kpr analyze` through cobra with test streams.
func runAnalyze(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	streams, in, out, errOut := genericiooptions.NewTestIOStreams()
	in.WriteString(stdin)
	code = Execute(streams, append([]string{"analyze", "--color", "never"}, args...))
	return out.String(), errOut.String(), code
}

// A support ticket as pasted: CRLF, prompts, kubectl's container notice,
// a code fence, and the status pasted twice (the second one counts).
func messyTicket(t *testing.T) string {
	status := readFixture(t, offlineTestdata+"cilium-v1.20.2-status-kpr-true-verbose.txt")
	oldStatus := readFixture(t, offlineTestdata+"cilium-v1.14.19-status-kpr-false.txt")
	svc := readFixture(t, offlineTestdata+"cilium-v1.20.2-service-list.txt")
	rules := readFixture(t, netfilterTestdata+"iptables-cilium-kpr-dual.txt")
	s := "Hi, NodePorts fail on node-b. Before the upgrade:\n\n" +
		"```\nroot@node-b:~# kubectl -n kube-system exec ds/cilium -- cilium status\n" +
		"Defaulted container \"cilium-agent\" out of: cilium-agent, config (init), mount-cgroup (init)\n" + oldStatus + "```\n\nand now:\n\n" +
		"```\nroot@node-b:~# kubectl -n kube-system exec ds/cilium -- cilium-dbg status --verbose\n" + status +
		"root@node-b:~# kubectl -n kube-system exec ds/cilium -- cilium-dbg service list\n" + svc +
		"root@node-b:~# iptables-save; ip6tables-save\n" + rules + "```\n"
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func TestAnalyzeMessyPasteJSON(t *testing.T) {
	out, stderr, code := runAnalyze(t, messyTicket(t), "-", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	// Decode generically: the schema is the contract, not the Go types.
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	inputs := doc["inputs"].([]any)
	if len(inputs) != 3 {
		t.Fatalf("inputs = %d\n%s", len(inputs), out)
	}
	byKind := map[string]map[string]any{}
	for _, raw := range inputs {
		in := raw.(map[string]any)
		if in["source"] != "-" {
			t.Errorf("source = %v", in["source"])
		}
		byKind[in["kind"].(string)] = in
	}
	st := byKind["cilium-status"]
	cs := st["ciliumStatus"].(map[string]any)
	kpr := cs["kubeProxyReplacement"].(map[string]any)
	if cs["version"] != "1.20.2" || kpr["mode"] != "True" || kpr["replacesKubeProxy"] != "full" || cs["cniChaining"] != "none" {
		t.Errorf("ciliumStatus = %v", cs)
	}
	dev := kpr["devices"].([]any)[0].(map[string]any)
	if dev["name"] != "eth0" || dev["directRouting"] != true || len(dev["addresses"].([]any)) != 2 {
		t.Errorf("device = %v", dev)
	}
	if st["superseded"] != float64(1) {
		t.Errorf("the older status must be superseded: %v", st["superseded"])
	}
	for _, k := range []string{"services", "netfilter"} {
		if _, ok := st[k]; ok {
			t.Errorf("status input has a %q section", k)
		}
	}
	svcs := byKind["cilium-service-list"]["services"].([]any)
	first := svcs[0].(map[string]any)
	for _, k := range []string{"id", "frontend", "protocol", "type", "backends"} {
		if _, ok := first[k]; !ok {
			t.Errorf("service lacks %q: %v", k, first)
		}
	}
	var v6 bool
	for _, raw := range svcs {
		s := raw.(map[string]any)
		if s["frontend"] == "[fd00:10:96::a]:80" && s["protocol"] == "TCP" {
			v6 = true
			b := s["backends"].([]any)[1].(map[string]any)
			if b["address"] != "[fd00:10:244:2::33]:8080" || b["state"] != "quarantined" {
				t.Errorf("backend = %v", b)
			}
		}
	}
	if !v6 {
		t.Errorf("no IPv6 frontend [fd00:10:96::a]:80 in %v", svcs)
	}
	nf := byKind["iptables-save"]["netfilter"].(map[string]any)
	if len(nf["ciliumChains"].([]any)) != 10 || len(nf["kubeServiceChains"].([]any)) != 0 {
		t.Errorf("netfilter = %v", nf)
	}
	agents := doc["agents"].([]any)
	if len(agents) != 1 || agents[0].(map[string]any)["servicesBy"] != "cilium" {
		t.Errorf("agents = %v", agents)
	}
}

func TestAnalyzeSysdumpTable(t *testing.T) {
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "cilium-sysdump-20261127-174800.zip")
	bt := "cilium-sysdump-20261127-174800/cilium-bugtool-%s-20261127-174801/cilium-bugtool-20261127-174801.1+0000-UTC-1/cmd/"
	md := func(prompt, body string) string { return "# " + prompt + "\n\n```\n" + body + "\n```\n" }
	files := map[string]string{
		strings.ReplaceAll(bt, "%s", "cilium-node1") + "cilium-dbg-status---verbose.md": md("cilium-dbg status --verbose", readFixture(t, offlineTestdata+"cilium-v1.20.2-status-kpr-true-verbose.txt")),
		strings.ReplaceAll(bt, "%s", "cilium-node1") + "iptables-nft-save--c.md":        md("iptables-nft-save -c", readFixture(t, netfilterTestdata+"iptables-cilium-stale-kube-proxy.txt")),
		strings.ReplaceAll(bt, "%s", "cilium-node2") + "cilium-dbg-status---verbose.md": md("cilium-dbg status --verbose", readFixture(t, offlineTestdata+"cilium-v1.20.2-status-kpr-true-verbose.txt")),
		strings.ReplaceAll(bt, "%s", "cilium-node2") + "iptables-nft-save--c.md":        md("iptables-nft-save -c", readFixture(t, netfilterTestdata+"iptables-cilium-kpr-dual.txt")),
		"cilium-sysdump-20261127-174800/cilium-daemonset-20261127-174800.yaml":          "kind: DaemonSet\n",
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, _ := zw.Create(n)
		w.Write([]byte(files[n]))
	}
	zw.Close()
	if err := os.WriteFile(zipPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runAnalyze(t, "", zipPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("--color never printed escapes")
	}
	var node1, node2 string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "cilium-node1 "):
			node1 = l
		case strings.HasPrefix(l, "cilium-node2 "):
			node2 = l
		}
	}
	if !strings.HasSuffix(node1, "both") || !strings.Contains(node1, "iptables") || !strings.HasSuffix(node2, "cilium") {
		t.Errorf("agent rows:\n%s\n%s\n\n%s", node1, node2, out)
	}
	if !strings.Contains(out, "warning: cilium-node1 [kube-proxy-and-cilium-kpr]") || !strings.Contains(out, "stale") {
		t.Errorf("no stale-rules warning:\n%s", out)
	}
	if !strings.Contains(out, "cilium-node1/iptables-nft-save--c.md") {
		t.Errorf("bundle entries should be labelled <agent>/<file>:\n%s", out)
	}
	if strings.Contains(out, "daemonset") {
		t.Errorf("non-agent sysdump files must be skipped:\n%s", out)
	}
}

func TestAnalyzeNothingRecognised(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "notes.txt")
	os.WriteFile(junk, []byte("the cluster is broken\n"), 0o644)
	out, stderr, code := runAnalyze(t, "", junk, filepath.Join(dir, "missing.txt"), "-o", "yaml")
	if code != 1 {
		t.Errorf("exit = %d, want 1", code)
	}
	if !strings.Contains(stderr, "nothing in the inputs was recognised") || !strings.Contains(stderr, "missing.txt") {
		t.Errorf("stderr = %s", stderr)
	}
	if !strings.Contains(out, "kind: unknown") || !strings.Contains(out, `first line: \"the cluster is broken\"`) && !strings.Contains(out, `first line: "the cluster is broken"`) {
		t.Errorf("yaml = %s", out)
	}
}

func TestAnalyzeFlags(t *testing.T) {
	if _, stderr, code := runAnalyze(t, "", "-o", "xml", "x"); code != 1 || !strings.Contains(stderr, "unsupported output format") {
		t.Errorf("bad -o: %d %s", code, stderr)
	}
	if _, stderr, code := runAnalyze(t, "", "-", "-"); code != 1 || !strings.Contains(stderr, "only once") {
		t.Errorf("stdin twice: %d %s", code, stderr)
	}
	if _, stderr, code := runAnalyze(t, ""); code != 1 || !strings.Contains(stderr, "requires at least 1 arg") {
		t.Errorf("no args: %d %s", code, stderr)
	}
}

// An empty folder, an empty archive, a folder of links only: the message
// says there was nothing to read, not "see the reasons above".
func TestAnalyzeEmptyInputs(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	links := filepath.Join(dir, "links")
	os.Mkdir(links, 0o755)
	os.Symlink("/etc/hostname", filepath.Join(links, "l"))
	var zb bytes.Buffer
	zip.NewWriter(&zb).Close()
	emptyZip := filepath.Join(dir, "empty.zip")
	os.WriteFile(emptyZip, zb.Bytes(), 0o644)
	for arg, want := range map[string]string{
		empty:    "the inputs hold no file: an empty folder or archive",
		emptyZip: "the inputs hold no file: an empty folder or archive",
		links:    "1 file(s) or entries skipped",
	} {
		_, stderr, code := runAnalyze(t, "", arg)
		if code != 1 || !strings.Contains(stderr, want) || strings.Contains(stderr, "reasons above") {
			t.Errorf("%s: exit %d, stderr %q", arg, code, stderr)
		}
	}
}
