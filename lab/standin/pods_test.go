package main

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodHostPortsAndPortmapConfig(t *testing.T) {
	running := corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.12.7"}
	pods := []corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hp", UID: "u1"}, Status: running,
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{
				{ContainerPort: 8080, HostPort: 18080}, {ContainerPort: 9090}}}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "nohp", UID: "u2"}, Status: running,
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hostnet", UID: "u3"}, Status: running,
			Spec: corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "pending", UID: "u4"}, Status: corev1.PodStatus{Phase: corev1.PodPending},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 81}}}}}},
	}
	got := podHostPorts(pods)
	if len(got) != 1 || got[0].UID != "u1" || len(got[0].Maps) != 1 || got[0].Maps[0] != (portMapping{HostPort: 18080, ContainerPort: 8080, Protocol: "tcp"}) {
		t.Fatalf("podHostPorts = %+v", got)
	}
	var conf struct {
		CNIVersion    string `json:"cniVersion"`
		Type          string
		SNAT          bool
		Capabilities  map[string]bool
		RuntimeConfig struct {
			PortMappings []portMapping
		}
		PrevResult struct {
			Interfaces []struct{ Name, Sandbox string }
			IPs        []struct {
				Address   string
				Interface int
			}
		}
	}
	if err := json.Unmarshal(portmapConfig(got[0], "/proc/9/ns/net"), &conf); err != nil {
		t.Fatal(err)
	}
	if conf.CNIVersion != "1.0.0" || conf.Type != "portmap" || !conf.SNAT || !conf.Capabilities["portMappings"] ||
		len(conf.RuntimeConfig.PortMappings) != 1 || conf.PrevResult.IPs[0].Address != "10.244.12.7/32" ||
		conf.PrevResult.Interfaces[0].Sandbox != "/proc/9/ns/net" {
		t.Fatalf("portmapConfig = %+v", conf)
	}
}
