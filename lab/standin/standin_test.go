package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/cilium/cilium/api/v1/models"
	"github.com/cilium/cilium/pkg/client"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func labPorts() []ServicePort {
	return []ServicePort{
		{
			Namespace: "kube-system", Name: "nm-nginx", Type: corev1.ServiceTypeNodePort,
			Protocol: corev1.ProtocolTCP, ClusterIPs: []string{"10.96.100.10"}, Port: 80, NodePort: 30080,
			Backends: []Backend{{IP: "172.30.0.11", Port: 80, NodeName: "node-cilium", State: "active"}},
		},
		{
			Namespace: "demo", Name: "two", Type: corev1.ServiceTypeClusterIP,
			Protocol: corev1.ProtocolTCP, ClusterIPs: []string{"10.96.0.20"}, Port: 8080,
			Backends: []Backend{
				{IP: "172.30.0.11", Port: 80, NodeName: "node-cilium", State: "active"},
				{IP: "172.30.0.13", Port: 80, NodeName: "node-bare", State: "terminating"},
			},
		},
		{
			Namespace: "demo", Name: "empty", Type: corev1.ServiceTypeClusterIP,
			Protocol: corev1.ProtocolUDP, ClusterIPs: []string{"10.96.0.21"}, Port: 53,
		},
	}
}

func TestServiceListText(t *testing.T) {
	list := ciliumServices(labPorts(), []string{"172.30.0.11"}, "node-cilium")
	var b bytes.Buffer
	printServiceList(tabwriter.NewWriter(&b, 5, 0, 3, ' ', 0), list)
	// tabwriter(5,0,3,' '): columns padded to the widest cell + 3; every
	// cell is tab-terminated, so every line ends in padding.
	got := b.String()
	if !strings.HasPrefix(got, "ID   Frontend                Service Type   Backend") {
		t.Fatalf("header:\n%q", got)
	}
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 7 { // header, 1-3 nm-nginx, 4 two (+1 continuation), 5 empty
		t.Fatalf("want 7 lines, got %d:\n%s", len(lines), got)
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, " ") {
			t.Errorf("line without trailing padding: %q", l)
		}
	}
	fields := func(i int) []string { return strings.Fields(lines[i]) }
	if f := fields(1); f[0] != "1" || f[1] != "10.96.100.10:80/TCP" || f[2] != "ClusterIP" || strings.Join(f[3:], " ") != "1 => 172.30.0.11:80/TCP (active)" {
		t.Errorf("ClusterIP row: %q", lines[1])
	}
	if f := fields(3); f[1] != "0.0.0.0:30080/TCP" || f[2] != "NodePort" {
		t.Errorf("0.0.0.0 NodePort surrogate row: %q", lines[3])
	}
	if f := fields(5); strings.Join(f, " ") != "2 => 172.30.0.13:80/TCP (terminating)" {
		t.Errorf("continuation row: %q", lines[5])
	}
	if f := fields(6); len(f) != 3 || f[1] != "10.96.0.21:53/UDP" {
		t.Errorf("service without backends: %q", lines[6])
	}
}

func TestServiceListBreakSwitch(t *testing.T) {
	ports := labPorts()[:1]
	ports[0].Break = "missing-frontend"
	for _, s := range ciliumServices(ports, []string{"172.30.0.11"}, "node-cilium") {
		if s.Spec.Flags.Type == "ClusterIP" {
			t.Errorf("missing-frontend still lists the ClusterIP %+v", s.Spec.FrontendAddress)
		}
	}
	ports[0].Break = "wrong-backend"
	list := ciliumServices(ports, []string{"172.30.0.11"}, "node-cilium")
	if len(list) != 3 {
		t.Fatalf("want ClusterIP + 2 NodePort frontends, got %d", len(list))
	}
	for _, s := range list {
		if ip := *s.Spec.BackendAddresses[0].IP; ip != unusedBackend {
			t.Errorf("wrong-backend: backend %s, want %s", ip, unusedBackend)
		}
	}
}

func TestStatusKeepsCiliumsPadding(t *testing.T) {
	sr := statusFor([]Device{{Name: "eth0", Addrs: []string{"172.30.0.11", "fe80::1"}}},
		&models.K8sStatus{State: "Ok", Msg: "1.37 (v1.37.2) [linux/amd64]"}, "node-cilium")
	dl := sr.KubeProxyReplacement.DeviceList
	if len(dl) != 1 || strings.Join(dl[0].IP, ",") != ",,172.30.0.11,fe80::1" {
		t.Fatalf("deviceList %+v, want eth0 with [\"\", \"\", 172.30.0.11, fe80::1]", dl)
	}
	// Rendered by Cilium's own formatter through the CLI's writer.
	var b bytes.Buffer
	w := tabwriter.NewWriter(&b, 2, 0, 3, ' ', 0)
	client.FormatStatusResponse(w, sr, client.StatusAllDetails)
	_ = w.Flush()
	out := b.String()
	// Column widths depend on the whole block: match with \s+.
	for _, want := range []string{
		`KubeProxyReplacement:\s+True   \[eth0   172\.30\.0\.11 fe80::1 \(Direct Routing\)\]\n`,
		`CNI Chaining:\s+generic-veth\n`,
		`Cilium:\s+Ok   1\.18\.8 \(v1\.18\.8-standin\)\n`,
		`Socket LB Coverage:\s+Hostns-only\n`,
		`- NodePort:\s+Enabled \(Range: 30000-32767\) \n`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("status does not match %s:\n%s", want, out)
		}
	}
}

func TestRenderNft(t *testing.T) {
	ports := labPorts()
	local := ServicePort{
		Namespace: "demo", Name: "local", Protocol: corev1.ProtocolTCP, ClusterIPs: []string{"10.96.0.30"},
		Port: 80, NodePort: 30090, ExtLocal: true,
		Backends: []Backend{{IP: "172.30.0.13", Port: 80, NodeName: "node-bare", State: "active"}},
	}
	script := renderNft(append(ports, local), "node-cilium")
	for _, want := range []string{
		"table ip kpr-lab-ebpf-standin\ndelete table ip kpr-lab-ebpf-standin\n",
		`ip daddr 10.96.100.10 tcp dport 80 dnat to 172.30.0.11:80 comment "kube-system/nm-nginx:80"`,
		`fib daddr type local tcp dport 30080 dnat to 172.30.0.11:80`,
		`ip daddr 10.96.0.20 tcp dport 8080 dnat ip to numgen random mod 2 map { 0 : 172.30.0.11 . 80, 1 : 172.30.0.13 . 80 }`,
		`ip daddr 10.96.0.30 tcp dport 80 dnat to 172.30.0.13:80`,
		"type nat hook output priority -110;",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	// No backends: no rule. externalTrafficPolicy=Local without a local
	// backend: no NodePort rule. Nothing named like kube-proxy.
	for _, not := range []string{"10.96.0.21", "dport 30090", "KUBE-", "kube-proxy"} {
		if strings.Contains(script, not) {
			t.Errorf("script should not contain %q:\n%s", not, script)
		}
	}
}

func TestNonCiliumContainerHasNoCLI(t *testing.T) {
	t.Setenv("KPR_LAB_CONTAINER", "other")
	if code := run("cilium-dbg", []string{"status"}); code != 127 {
		t.Errorf("exit %d, want 127 (not found)", code)
	}
}

// Only Running pod-network pods with an IPv4 and TCP ports get a body.
func TestPodEndpoints(t *testing.T) {
	pod := func(name, ip string, host bool, phase corev1.PodPhase, ports ...corev1.ContainerPort) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
			Spec:   corev1.PodSpec{HostNetwork: host, Containers: []corev1.Container{{Name: "c", Ports: ports}}},
			Status: corev1.PodStatus{Phase: phase, PodIP: ip}}
	}
	tcp := corev1.ContainerPort{ContainerPort: 8080}
	udp := corev1.ContainerPort{ContainerPort: 53, Protocol: corev1.ProtocolUDP}
	got := podEndpoints([]corev1.Pod{
		pod("backend", "10.244.11.5", false, corev1.PodRunning, tcp, udp),
		pod("agent", "172.30.0.11", true, corev1.PodRunning, tcp),
		pod("pending", "", false, corev1.PodPending, tcp),
		pod("v6", "fd00::5", false, corev1.PodRunning, tcp),
	})
	if len(got) != 1 || got[0].Pod != "ns/backend" || got[0].addr() != "10.244.11.5:8080" {
		t.Fatalf("endpoints %+v", got)
	}
}
