package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/docs from the current code")

func rel(t *testing.T, v string) release {
	t.Helper()
	r, err := parseRelease(v)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// roundTrip gives the document as the renderer receives it.
func roundTrip(t *testing.T, doc any) any {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// get walks a decoded JSON document: "a.b.0.c".
func get(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i := 0
			for _, c := range p {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

var labDevs = []Device{{Name: "eth0", Addrs: []string{"172.30.0.11", "fd00::11", "fe80::1"}}}

func labKube() map[string]any {
	return map[string]any{"state": "Ok", "msg": "1.37 (v1.37.2) [linux/amd64]", "k8s-api-versions": []string{"core/v1::Service"}}
}

func statusOf(t *testing.T, v, envMode string) any {
	t.Helper()
	r := rel(t, v)
	mode, level, err := r.kprMode(envMode)
	if err != nil {
		t.Fatal(err)
	}
	return roundTrip(t, statusDoc(r, mode, level, labDevs, labKube(), "node-cilium"))
}

func TestKPRModePerRelease(t *testing.T) {
	for _, c := range []struct {
		version, env, want string
		level              int
	}{
		{"1.12.19", "", "Strict", kprFull},
		{"1.12.19", "partial", "Partial", kprPartial},
		{"1.12.19", "Probe", "Probe", kprFull},
		{"1.12.19", "DISABLED", "Disabled", kprOff},
		{"1.13.18", "", "Strict", kprFull},
		{"1.14.19", "", "True", kprFull},
		{"1.14.19", "Strict", "Strict", kprFull},
		{"1.14.19", "Partial", "Partial", kprPartial},
		{"1.14.19", "false", "False", kprOff},
		{"1.14.19", "Disabled", "Disabled", kprOff},
		{"1.16.19", "", "True", kprFull},
		{"1.18.8", "False", "False", kprOff},
		{"1.20.2", "true", "True", kprFull},
	} {
		mode, level, err := rel(t, c.version).kprMode(c.env)
		if err != nil || mode != c.want || level != c.level {
			t.Errorf("%s %q: got %q level %d (%v), want %q level %d", c.version, c.env, mode, level, err, c.want, c.level)
		}
	}
	for _, c := range []struct{ version, env string }{
		{"1.12.19", "True"}, {"1.13.18", "Probe"}, {"1.14.19", "Probe"}, {"1.16.19", "Partial"},
		{"1.18.8", "Disabled"}, {"1.20.2", "Strict"}, {"1.18.8", "yes"},
	} {
		if _, _, err := rel(t, c.version).kprMode(c.env); err == nil || !strings.Contains(err.Error(), "KPR_LAB_CILIUM_KPR_MODE") {
			t.Errorf("%s %q: want an error naming KPR_LAB_CILIUM_KPR_MODE, got %v", c.version, c.env, err)
		}
	}
}

func TestParseRelease(t *testing.T) {
	if r := rel(t, "v1.14.19"); r.Version != "1.14.19" || r.Minor != 14 {
		t.Errorf("%+v", r)
	}
	for _, bad := range []string{"1.18", "2.0.0", "latest", "1.x.3"} {
		if _, err := parseRelease(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestBinaryNamesPerRelease(t *testing.T) {
	for _, c := range []struct {
		version string
		dbg     bool
	}{{"1.12.19", false}, {"1.14.19", false}, {"1.15.19", true}, {"1.16.19", true}, {"1.18.8", true}, {"1.20.2", true}} {
		r := rel(t, c.version)
		if !r.hasCLI("cilium") || r.hasCLI("cilium-dbg") != c.dbg || r.hasCLI("bash") {
			t.Errorf("%s: cilium %v, cilium-dbg %v (want %v)", c.version, r.hasCLI("cilium"), r.hasCLI("cilium-dbg"), c.dbg)
		}
	}
	t.Setenv("KPR_LAB_CONTAINER", "cilium-agent")
	t.Setenv("KPR_LAB_CILIUM_VERSION", "1.14.19")
	var code int
	stderr := captureStderr(t, func() { code = run("cilium-dbg", []string{"status"}) })
	if code != 127 || stderr != "exec: \"cilium-dbg\": executable file not found in $PATH\n" {
		t.Errorf("cilium-dbg on 1.14: exit %d, stderr %q", code, stderr)
	}
}

func TestStatusShapePerRelease(t *testing.T) {
	// Padding: 1.15+ one empty string per address, then the addresses;
	// before, the NodePort addresses (one IPv4, one non-link-local IPv6).
	for v, want := range map[string]string{
		"1.12.19": "172.30.0.11,fd00::11",
		"1.14.19": "172.30.0.11,fd00::11",
		"1.16.19": ",,,172.30.0.11,fd00::11,fe80::1",
		"1.20.2":  ",,,172.30.0.11,fd00::11,fe80::1",
	} {
		sr := statusOf(t, v, "")
		var ips []string
		for _, ip := range get(sr, "kube-proxy-replacement.deviceList.0.ip").([]any) {
			ips = append(ips, ip.(string))
		}
		if strings.Join(ips, ",") != want {
			t.Errorf("%s: deviceList ip %q, want %q", v, ips, want)
		}
		if get(sr, "kube-proxy-replacement.directRoutingDevice") != "eth0" || get(sr, "cilium.msg") != v+" (v"+v+"-standin)" {
			t.Errorf("%s: %v", v, sr)
		}
	}
	f := "kube-proxy-replacement.features."
	for _, c := range []struct {
		version, mode string
		checks        map[string]any
	}{
		{"1.12.19", "", map[string]any{
			"kube-proxy-replacement.mode": "Strict", f + "hostReachableServices.enabled": true,
			f + "socketLBTracing.enabled": false, f + "gracefulTermination.enabled": true, f + "annotations": nil,
			f + "nodePort.enabled": true, f + "bpfSocketLBHostnsOnly": true,
		}},
		{"1.12.19", "Disabled", map[string]any{
			"kube-proxy-replacement.mode": "Disabled", f + "hostReachableServices.enabled": nil, f + "gracefulTermination.enabled": true,
			f + "nodePort.enabled": nil, f + "socketLB.enabled": false, f + "hostPort.enabled": false,
		}},
		{"1.14.19", "Partial", map[string]any{
			"kube-proxy-replacement.mode": "Partial", f + "socketLBTracing.enabled": true, f + "hostReachableServices": nil,
			f + "nodePort.enabled": true, f + "gracefulTermination.enabled": true,
		}},
		{"1.18.8", "", map[string]any{
			"kube-proxy-replacement.mode": "True", f + "gracefulTermination": nil, f + "hostReachableServices": nil,
			f + "annotations.0": "service.cilium.io/node", f + "nodePort.mode": "SNAT",
			"cni-chaining.mode": "generic-veth", "kubernetes.msg": "1.37 (v1.37.2) [linux/amd64]",
		}},
		{"1.20.2", "False", map[string]any{
			"kube-proxy-replacement.mode": "False", f + "annotations": nil, f + "socketLB.enabled": false,
			f + "bpfSocketLBHostnsOnly": true, "kube-proxy-replacement.devices.0": "eth0",
		}},
	} {
		sr := statusOf(t, c.version, c.mode)
		for path, want := range c.checks {
			if got := get(sr, path); got != want {
				t.Errorf("%s %q: %s = %v, want %v", c.version, c.mode, path, got, want)
			}
		}
	}
}

func servicesOf(t *testing.T, v string, level int, ports []ServicePort) []any {
	t.Helper()
	return roundTrip(t, servicesDoc(rel(t, v), level, ports, []string{"172.30.0.11"}, "node-cilium")).([]any)
}

func frontends(list []any) []string {
	var out []string
	for _, s := range list {
		fe := get(s, "status.realized.frontend-address")
		out = append(out, get(fe, "ip").(string)+":"+jsonNum(get(fe, "port"))+"/"+get(fe, "protocol").(string)+" "+get(s, "spec.flags.type").(string))
	}
	return out
}

func jsonNum(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestServicesShapePerRelease(t *testing.T) {
	dns := []ServicePort{
		{Namespace: "kube-system", Name: "kube-dns", Type: corev1.ServiceTypeClusterIP, Protocol: corev1.ProtocolUDP,
			ClusterIPs: []string{"10.96.0.10"}, Port: 53, Backends: []Backend{{IP: "10.244.11.5", Port: 53, NodeName: "node-cilium", State: "active"}}},
		{Namespace: "kube-system", Name: "kube-dns", Type: corev1.ServiceTypeClusterIP, Protocol: corev1.ProtocolTCP,
			ClusterIPs: []string{"10.96.0.10"}, Port: 53, Backends: []Backend{{IP: "10.244.11.5", Port: 53, NodeName: "node-cilium", State: "active"}}},
	}
	ports := append(labPorts(), dns...)
	// Up to 1.17 a NodePort is listed on the node's address and on 0.0.0.0.
	legacy := strings.Join([]string{
		"10.96.100.10:80/TCP ClusterIP", "172.30.0.11:30080/TCP NodePort", "0.0.0.0:30080/TCP NodePort",
		"10.96.0.20:8080/TCP ClusterIP", "10.96.0.21:53/UDP ClusterIP",
	}, ", ")
	// From 1.18 only on 0.0.0.0; the node address's frontend (BPF maps
	// only) took ID 3.
	surrogateOnly := strings.Join([]string{
		"10.96.100.10:80/TCP ClusterIP", "0.0.0.0:30080/TCP NodePort",
		"10.96.0.20:8080/TCP ClusterIP", "10.96.0.21:53/UDP ClusterIP",
	}, ", ")
	// Before 1.17 TCP and UDP on one port are one frontend (the first's).
	for _, c := range []struct {
		version, want string
		ids           []float64
	}{
		{"1.12.19", legacy + ", 10.96.0.10:53/UDP ClusterIP", []float64{1, 2, 3, 4, 5, 6}},
		{"1.14.19", legacy + ", 10.96.0.10:53/UDP ClusterIP", []float64{1, 2, 3, 4, 5, 6}},
		{"1.16.19", legacy + ", 10.96.0.10:53/UDP ClusterIP", []float64{1, 2, 3, 4, 5, 6}},
		{"1.17.14", legacy + ", 10.96.0.10:53/UDP ClusterIP, 10.96.0.10:53/TCP ClusterIP", []float64{1, 2, 3, 4, 5, 6, 7}},
		{"1.18.8", surrogateOnly + ", 10.96.0.10:53/UDP ClusterIP, 10.96.0.10:53/TCP ClusterIP", []float64{1, 2, 4, 5, 6, 7}},
		{"1.20.2", surrogateOnly + ", 10.96.0.10:53/UDP ClusterIP, 10.96.0.10:53/TCP ClusterIP", []float64{1, 2, 4, 5, 6, 7}},
	} {
		list := servicesOf(t, c.version, kprFull, ports)
		if got := strings.Join(frontends(list), ", "); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.version, got, c.want)
		}
		var ids []float64
		for _, s := range list {
			id, _ := get(s, "spec.id").(float64)
			if get(s, "status.realized.id") != id {
				t.Errorf("%s: spec.id %v, status.realized.id %v", c.version, id, get(s, "status.realized.id"))
			}
			ids = append(ids, id)
		}
		if jsonNum(ids) != jsonNum(c.ids) {
			t.Errorf("%s: ids %v, want %v", c.version, ids, c.ids)
		}
	}
	// Off: the agent still does ClusterIP, nothing on node ports.
	off := strings.Join(frontends(servicesOf(t, "1.18.8", kprOff, labPorts())), ", ")
	if off != "10.96.100.10:80/TCP ClusterIP, 10.96.0.20:8080/TCP ClusterIP, 10.96.0.21:53/UDP ClusterIP" {
		t.Errorf("off: %s", off)
	}
	list := servicesOf(t, "1.18.8", kprFull, labPorts())
	if be := get(list[2], "spec.backend-addresses.1"); get(be, "state") != "terminating" || get(be, "nodeName") != "node-bare" ||
		get(be, "protocol") != "TCP" || get(be, "weight") != float64(100) || get(be, "preferred") != true {
		t.Errorf("second backend of demo/two: %v", be)
	}
	if bes := get(list[3], "spec.backend-addresses").([]any); len(bes) != 0 {
		t.Errorf("demo/empty has backends %v", bes)
	}
}

func TestServiceBreakSwitch(t *testing.T) {
	ports := labPorts()[:1]
	ports[0].Break = "missing-frontend"
	if got := strings.Join(frontends(servicesOf(t, "1.18.8", kprFull, ports)), ", "); strings.Contains(got, "ClusterIP") {
		t.Errorf("missing-frontend still lists the ClusterIP: %s", got)
	}
	ports[0].Break = "wrong-backend"
	list := servicesOf(t, "1.18.8", kprFull, ports)
	if len(list) != 2 {
		t.Fatalf("want the ClusterIP and the 0.0.0.0 NodePort frontend, got %d", len(list))
	}
	for _, s := range list {
		if ip := get(s, "spec.backend-addresses.0.ip"); ip != unusedBackend {
			t.Errorf("wrong-backend: backend %v, want %s", ip, unusedBackend)
		}
	}
}

func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	tmp, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = tmp
	defer func() { os.Stderr = old }()
	f()
	os.Stderr = old
	b, _ := os.ReadFile(tmp.Name())
	return string(b)
}

// fakeRenderer lays out a bin directory as lab.sh does (kpr-lab-node,
// cilium-node/cilium-dbg -> ../kpr-lab-node, cilium-render/<version>) with
// a renderer that records its arguments and stdin.
func fakeRenderer(t *testing.T, version string) (dir string) {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"cilium-node", "cilium-render"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "kpr-lab-node"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../kpr-lab-node", filepath.Join(dir, "cilium-node", "cilium-dbg")); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho \"$@\" >" + dir + "/args\ncat >" + dir + "/stdin\necho rendered\necho oops >&2\nexit 3\n"
	if err := os.WriteFile(filepath.Join(dir, "cilium-render", version), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	old := executable
	executable = func() (string, error) { return filepath.Join(dir, "cilium-node", "cilium-dbg"), nil }
	t.Cleanup(func() { executable = old })
	return dir
}

func TestRendererContract(t *testing.T) {
	dir := fakeRenderer(t, "1.16.19")
	t.Setenv("KPR_LAB_CONTAINER", "cilium-agent")
	t.Setenv("KPR_LAB_CILIUM_VERSION", "1.16.19")
	t.Setenv("KPR_LAB_CILIUM_KPR_MODE", "false")
	t.Setenv("KPR_LAB_KUBECONFIG", "")
	t.Setenv("KPR_LAB_NODE", "node-cilium")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"status"}, "status text"},
		{[]string{"status", "--verbose"}, "status verbose"},
		{[]string{"status", "-o", "json", "--verbose"}, "status json"},
		{[]string{"version", "-ojson"}, "version json"},
		{[]string{"version"}, "version text"},
	} {
		var code int
		stderr := captureStderr(t, func() { code = run("cilium-dbg", c.args) })
		args, _ := os.ReadFile(filepath.Join(dir, "args"))
		if code != 3 || stderr != "oops\n" || strings.TrimSpace(string(args)) != c.want {
			t.Errorf("%v: exit %d, stderr %q, renderer args %q (want %q)", c.args, code, stderr, args, c.want)
		}
	}
	// The last status call's document: the release's shape, the env's mode,
	// the real devices of this machine, kube status failing without a
	// kubeconfig (the renderer prints it as the agent would).
	captureStderr(t, func() { run("cilium-dbg", []string{"status"}) })
	b, _ := os.ReadFile(filepath.Join(dir, "stdin"))
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("stdin %q: %v", b, err)
	}
	if get(doc, "kube-proxy-replacement.mode") != "False" || get(doc, "kubernetes.state") != "Failure" || get(doc, "cluster.self") != "default/node-cilium" {
		t.Errorf("status document %s", b)
	}
	// A mode the release does not have is the lab's mistake: said, exit 1.
	t.Setenv("KPR_LAB_CILIUM_KPR_MODE", "Partial")
	var code int
	stderr := captureStderr(t, func() { code = run("cilium-dbg", []string{"status"}) })
	if code != 1 || !strings.Contains(stderr, `KPR_LAB_CILIUM_KPR_MODE="Partial": a Cilium 1.16.19 agent reports one of True, False`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestMissingRenderer(t *testing.T) {
	dir := fakeRenderer(t, "1.16.19")
	t.Setenv("KPR_LAB_CONTAINER", "cilium-agent")
	t.Setenv("KPR_LAB_CILIUM_VERSION", "1.12.19")
	var code int
	stderr := captureStderr(t, func() { code = run("cilium", []string{"version"}) })
	want := "no Cilium 1.12.19 renderer at " + filepath.Join(dir, "cilium-render", "1.12.19") + ": build it with `lab/standin/build.sh " + dir + "`"
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q, want it to contain %q", code, stderr, want)
	}
}

// testdata/docs/v<release>/ holds the documents the stand-in sends for a
// fixed node: the renderer modules' tests render them with the release's
// code (lab/standin/releases/_common/render_test.go). `go test -update`
// rewrites them.
func TestDocsGolden(t *testing.T) {
	for _, v := range CiliumReleases {
		r := rel(t, v)
		docs := map[string]any{"service-list.json": servicesDoc(r, kprFull, labPorts(), []string{"172.30.0.11"}, "node-cilium")}
		for _, m := range r.kprModes() {
			mode, level, _ := r.kprMode(m)
			docs["status-"+strings.ToLower(m)+".json"] = statusDoc(r, mode, level, labDevs, labKube(), "node-cilium")
		}
		dir := filepath.Join("testdata", "docs", "v"+v)
		for name, doc := range docs {
			b, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, '\n')
			path := filepath.Join(dir, name)
			if *update {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			old, err := os.ReadFile(path)
			if err != nil || string(old) != string(b) {
				t.Errorf("%s is not what the stand-in sends (%v): go test -run TestDocsGolden -update", path, err)
			}
		}
	}
}

// CiliumReleases is the list of renderer modules (releases/v1_XX/compat.go
// ciliumTag), and each module's go.mod pins that release.
func TestCiliumReleasesHaveRenderers(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("releases", "v1_*", "compat.go"))
	var tags []string
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, rest, ok := strings.Cut(string(b), "\nconst ciliumTag = \"v")
		tag, _, _ := strings.Cut(rest, "\"")
		if !ok || tag == "" {
			t.Fatalf("%s: no ciliumTag", f)
		}
		tags = append(tags, tag)
		mod, err := os.ReadFile(filepath.Join(filepath.Dir(f), "go.mod"))
		if err != nil || !strings.Contains(string(mod), "github.com/cilium/cilium v"+tag+"\n") {
			t.Errorf("%s/go.mod does not require github.com/cilium/cilium v%s (%v)", filepath.Dir(f), tag, err)
		}
		if r := rel(t, tag); "v1_"+jsonNum(r.Minor) != filepath.Base(filepath.Dir(f)) {
			t.Errorf("%s holds %s", filepath.Dir(f), tag)
		}
	}
	if strings.Join(tags, " ") != strings.Join(CiliumReleases, " ") {
		t.Errorf("renderer modules %v, CiliumReleases %v", tags, CiliumReleases)
	}
}
