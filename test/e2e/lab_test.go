package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// These tests check the lab itself: a pod exec lands on its node (network,
// PID and mount namespaces), only Cilium agents have the Cilium CLI, and
// the datapaths are what the scenario says. If they fail, kpr's results on
// the lab mean nothing.

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// podOn returns the kube-system pod with the label selector on node.
func podOn(t *testing.T, selector, node string) string {
	t.Helper()
	r := kubectl(t, "get", "pods", "-n", "kube-system", "-l", selector,
		"--field-selector", "spec.nodeName="+node, "-o", "jsonpath={.items[0].metadata.name}")
	if r.code != 0 || r.stdout == "" {
		t.Fatalf("no pod %s on %s: %s", selector, node, r)
	}
	return r.stdout
}

func execIn(t *testing.T, pod, container string, cmd ...string) result {
	t.Helper()
	args := append([]string{"exec", "-n", "kube-system", pod, "-c", container, "--"}, cmd...)
	return kubectl(t, args...)
}

func TestLabCiliumAgentAnswers(t *testing.T) {
	needLab(t)
	pod := podOn(t, "k8s-app=cilium", "node-cilium")
	r := execIn(t, pod, "cilium-agent", "cilium-dbg", "status", "-o", "json")
	var st struct {
		KPR struct {
			Mode       string `json:"mode"`
			DeviceList []struct {
				Name string   `json:"name"`
				IP   []string `json:"ip"`
			} `json:"deviceList"`
		} `json:"kube-proxy-replacement"`
		Chaining struct {
			Mode string `json:"mode"`
		} `json:"cni-chaining"`
	}
	mustJSON(t, r, &st)
	if st.KPR.Mode != "True" || st.Chaining.Mode != "generic-veth" {
		t.Errorf("agent status: KPR %q chaining %q, want True, generic-veth", st.KPR.Mode, st.Chaining.Mode)
	}
	if len(st.KPR.DeviceList) == 0 || st.KPR.DeviceList[0].Name != "eth0" || !contains(st.KPR.DeviceList[0].IP, "172.30.0.11") {
		t.Errorf("agent devices %+v, want eth0 with 172.30.0.11 (the node's own interface)", st.KPR.DeviceList)
	}
	text := execIn(t, pod, "cilium-agent", "cilium", "status")
	if text.code != 0 || !strings.Contains(text.stdout, "KubeProxyReplacement:") || !strings.Contains(text.stdout, "CNI Chaining:") {
		t.Errorf("cilium status (text): %s", text)
	}
	list := execIn(t, pod, "cilium-agent", "cilium-dbg", "service", "list")
	// The real 1.18.8 agent lists a NodePort only as 0.0.0.0:PORT; its
	// node-address frontend lives in the BPF map alone.
	if list.code != 0 || !strings.Contains(list.stdout, "10.96.100.10:80/TCP") || !strings.Contains(list.stdout, "0.0.0.0:30080/TCP") {
		t.Errorf("service list lacks nm-nginx's frontends: %s", list)
	}
	if strings.Contains(list.stdout, "172.30.0.11:30080") {
		t.Errorf("service list has a node-address NodePort row, which a real 1.18 agent does not print: %s", list)
	}
	if bpf := execIn(t, pod, "cilium-agent", "cilium-dbg", "bpf", "lb", "list"); bpf.code != 0 || !strings.Contains(bpf.stdout, "172.30.0.11:30080") {
		t.Errorf("bpf lb list lacks the node-address NodePort frontend 172.30.0.11:30080: %s", bpf)
	}
	var svcs []json.RawMessage
	mustJSON(t, execIn(t, pod, "cilium-agent", "cilium-dbg", "service", "list", "-o", "json"), &svcs)
	if len(svcs) < 5 {
		t.Errorf("service list -o json has %d entries, want the lab's Services' frontends", len(svcs))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestLabOnlyCiliumPodsHaveCiliumCLI(t *testing.T) {
	needLab(t)
	nginx := podOn(t, "app=nm-nginx", "node-cilium")
	proxy := podOn(t, "k8s-app=kube-proxy", "node-iptables")
	for _, c := range []struct{ pod, container string }{{nginx, "nginx"}, {proxy, "kube-proxy"}} {
		r := execIn(t, c.pod, c.container, "cilium-dbg", "status")
		if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "executable file not found") {
			t.Errorf("%s/%s: cilium-dbg should not exist there: %s", c.pod, c.container, r)
		}
	}
}

func TestLabExecLandsOnItsNode(t *testing.T) {
	needLab(t)
	cases := []struct {
		node, selector, container string
		wantKubeSvc               bool
	}{
		{"node-cilium", "k8s-app=cilium", "cilium-agent", false},
		{"node-iptables", "k8s-app=kube-proxy", "kube-proxy", true},
		{"node-stale", "k8s-app=cilium", "cilium-agent", true},
		{"node-bare", "app=nm-nginx-ovs", "nginx", false},
	}
	for _, c := range cases {
		t.Run(c.node, func(t *testing.T) {
			pod := podOn(t, c.selector, c.node)
			// The debug-pod way into the node: chroot into /host ...
			r := execIn(t, pod, c.container, "chroot", "/host", "iptables-save")
			if r.code != 0 {
				t.Fatalf("chroot /host iptables-save: %s", r)
			}
			if got := strings.Contains(r.stdout, "-A KUBE-SVC-"); got != c.wantKubeSvc {
				t.Errorf("KUBE-SVC rules present = %v, want %v", got, c.wantKubeSvc)
			}
			// ... or nsenter into PID 1's network namespace.
			a := execIn(t, pod, c.container, "nsenter", "-t", "1", "-n", "ip", "-4", "-o", "addr", "show", "dev", "eth0")
			if a.code != 0 || !strings.Contains(a.stdout, nodeIPs[c.node]+"/") {
				t.Errorf("nsenter -t 1 -n ip addr: want %s: %s", nodeIPs[c.node], a)
			}
			// PID 1 is the node's init, not the machine's.
			p := execIn(t, pod, c.container, "cat", "/proc/1/cmdline")
			if !strings.Contains(p.stdout, "node-init.sh") || !strings.Contains(p.stdout, c.node) {
				t.Errorf("/proc/1/cmdline = %q, want the node's init", p.stdout)
			}
		})
	}
}

func TestLabStandinDatapathTable(t *testing.T) {
	needLab(t)
	// On a stand-in node (node-agent-unready's 1.16.19) ...
	pod := podOn(t, "k8s-app=cilium", "node-agent-unready")
	r := execIn(t, pod, "cilium-agent", "nft", "list", "table", "ip", "kpr-lab-ebpf-standin")
	if r.code != 0 || !strings.Contains(r.stdout, "10.96.100.10") || strings.Contains(r.stdout, "kube-proxy") {
		t.Errorf("stand-in nft table: %s", r)
	}
	// ... and never on a real-agent node, where the agent's eBPF alone does
	// Services.
	for name, n := range labScenario {
		if !n.realAgent {
			continue
		}
		r := execIn(t, podOn(t, "k8s-app=cilium", name), "cilium-agent", "nft", "list", "tables")
		if r.code != 0 || strings.Contains(r.stdout, "kpr-lab") {
			t.Errorf("%s (real agent): nft tables %s", name, r)
		}
	}
}

// The lab refuses to start on a machine that cannot run it, in one
// sentence naming what is missing, and leaves nothing behind: not root,
// and a kernel without nftables (a stand-in nft that fails as the kernel
// would is put first on PATH).
func TestLabPreflightSaysWhatIsMissing(t *testing.T) {
	needLab(t)
	lab := filepath.Join(repoRoot(), "lab", "lab.sh")
	if _, err := exec.LookPath("setpriv"); err == nil {
		r := run(t, nil, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", lab, "preflight", "demo")
		if r.code == 0 || !strings.Contains(r.stderr, "the lab needs root") || !strings.Contains(r.stderr, "sudo make demo") {
			t.Errorf("preflight as nobody: want a non-zero exit saying root is needed, got %s", r)
		}
	}
	fake := t.TempDir()
	writeFile(t, filepath.Join(fake, "nft"), "#!/bin/sh\necho 'Error: Could not process rule: Operation not supported' >&2\nexit 1\n")
	if err := os.Chmod(filepath.Join(fake, "nft"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := run(t, []string{"PATH=" + fake + ":" + os.Getenv("PATH")}, lab, "preflight")
	want := "this machine cannot run the lab: the kernel (or this container) does not allow nftables: Error: Could not process rule: Operation not supported"
	if r.code == 0 || strings.TrimSpace(r.stderr) != "[lab] error: "+want {
		t.Errorf("preflight without nftables: want exit 1 and exactly %q, got %s", want, r)
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), "kprlab-preflight") {
		t.Errorf("preflight left its namespace behind: %s", out)
	}
}
