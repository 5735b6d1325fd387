package main

import (
	"fmt"
	"strings"
	"testing"

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
	// No backends: no rule. Nothing named like kube-proxy.
	for _, not := range []string{"10.96.0.21", "KUBE-", "kube-proxy"} {
		if strings.Contains(script, not) {
			t.Errorf("script should not contain %q:\n%s", not, script)
		}
	}
	// externalTrafficPolicy=Local without a local backend: the node's own
	// connections are answered (internal scope, as the real agents did,
	// cilium/cilium#11746), packets arriving are not.
	in := chainBody(t, script, "services_in")
	out := chainBody(t, script, "services_out")
	if strings.Contains(in, "dport 30090") || !strings.Contains(out, "fib daddr type local tcp dport 30090 dnat to 172.30.0.13:80") {
		t.Errorf("ETP Local NodePort: in %q, out %q", in, out)
	}
}

func chainBody(t *testing.T, script, chain string) string {
	t.Helper()
	i := strings.Index(script, "chain "+chain+" {")
	if i < 0 {
		t.Fatalf("no chain %s:\n%s", chain, script)
	}
	return script[i : i+strings.Index(script[i:], "\n\t}")]
}

// An externalIP is translated for the node's own connections only when it
// is a local address; ClientIP affinity keeps a client's backend in
// kube-proxy nftables mode's shape.
func TestRenderNftExternalIPAndAffinity(t *testing.T) {
	sp := ServicePort{Namespace: "v", Name: "aff", Protocol: corev1.ProtocolTCP, ClusterIPs: []string{"10.96.0.40"}, Port: 80,
		ExternalIPs: []string{"172.30.0.11"}, Affinity: true, AffinitySeconds: 600,
		Backends: []Backend{{IP: "10.244.11.5", Port: 8080, NodeName: "node-cilium"}, {IP: "10.244.11.6", Port: 8080, NodeName: "node-cilium"}}}
	script := renderNft([]ServicePort{sp}, "node-cilium")
	for _, want := range []string{
		"set aff0i_s0 { type ipv4_addr; flags dynamic,timeout; timeout 600s; }",
		"chain aff0i_e1 { update @aff0i_s1 { ip saddr } meta l4proto tcp dnat to 10.244.11.6:8080; }",
		"chain aff0i { ip saddr @aff0i_s0 goto aff0i_e0; ip saddr @aff0i_s1 goto aff0i_e1; numgen random mod 2 vmap { 0 : goto aff0i_e0, 1 : goto aff0i_e1 }; }",
		"ip daddr 10.96.0.40 tcp dport 80 goto aff0i",
		"fib daddr type local ip daddr 172.30.0.11 tcp dport 80 goto aff0i",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	if strings.Count(script, "set aff0i_s0 ") != 1 {
		t.Errorf("the affinity chain is declared once:\n%s", script)
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

// The node's own connections to another registered Cilium node's NodePort
// are translated here, as socket-LB does; CiliumNode looks like an agent's.
func TestRemoteNodePortsAndCiliumNode(t *testing.T) {
	script := renderNft(labPorts(), "node-partial", "172.30.0.11", "172.30.0.14")
	out := chainBody(t, script, "services_out")
	if !strings.Contains(out, "ip daddr { 172.30.0.11, 172.30.0.14 } tcp dport 30080 dnat to 172.30.0.11:80") || strings.Contains(chainBody(t, script, "services_in"), "172.30.0.14") {
		t.Errorf("remote NodePorts:\n%s", script)
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-partial", UID: "u1", Labels: map[string]string{"kubernetes.io/hostname": "node-partial"}},
		Spec:   corev1.NodeSpec{PodCIDRs: []string{"10.244.15.0/24"}},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.30.0.15"}, {Type: corev1.NodeHostName, Address: "node-partial"}}}}
	cn := ciliumNodeFor(n, "10.244.15.1")
	if cn.GetKind() != "CiliumNode" || cn.GetName() != "node-partial" || cn.GetLabels()["kubernetes.io/hostname"] != "node-partial" || cn.GetOwnerReferences()[0].UID != "u1" {
		t.Errorf("metadata: %+v", cn.Object["metadata"])
	}
	spec := cn.Object["spec"].(map[string]any)
	if fmt.Sprint(spec["addresses"]) != "[map[ip:172.30.0.15 type:InternalIP] map[ip:10.244.15.1 type:CiliumInternalIP]]" || fmt.Sprint(spec["ipam"]) != "map[podCIDRs:[10.244.15.0/24]]" {
		t.Errorf("spec: %v", spec)
	}
}
