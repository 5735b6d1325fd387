package collect

import (
	"context"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A cluster moving off iptables: the kubeadm kube-proxy (ConfigMap mode
// iptables) on two nodes, a second DaemonSet with --proxy-mode=nftables on
// one, and a third mounting a ConfigMap of its own with mode ipvs.
func TestFindKubeProxyModeByNode(t *testing.T) {
	pod := func(name, node string, args []string, cm string) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: name, Labels: map[string]string{"k8s-app": "kube-proxy"}},
			Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "kube-proxy", Command: append([]string{"/usr/local/bin/kube-proxy"}, args...)}}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning},
		}
		if cm != "" {
			p.Spec.Volumes = []corev1.Volume{{Name: "kube-proxy", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm}}}}}
		}
		return p
	}
	cm := func(name, mode string) *corev1.ConfigMap {
		return &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: name},
			Data:       map[string]string{"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: " + mode + "\n"},
		}
	}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy"},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "kube-proxy", Command: []string{"/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf"},
		}}}}},
	}
	cs := fake.NewSimpleClientset(ds, cm("kube-proxy", "iptables"), cm("kube-proxy-ipvs", "ipvs"),
		pod("kube-proxy-a", "node-a", []string{"--config=/var/lib/kube-proxy/config.conf"}, "kube-proxy"),
		pod("kube-proxy-b", "node-b", nil, ""),
		pod("kube-proxy-nft-c", "node-c", []string{"--proxy-mode=nftables"}, ""),
		pod("kube-proxy-ipvs-d", "node-d", []string{"--config=/var/lib/kube-proxy/config.conf"}, "kube-proxy-ipvs"),
	)
	info, err := FindKubeProxy(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"node-a": "iptables", "node-b": "iptables", "node-c": "nftables", "node-d": "ipvs"}
	if !reflect.DeepEqual(info.ModeByNode, want) {
		t.Errorf("ModeByNode = %v, want %v", info.ModeByNode, want)
	}
	if info.Install.Mode != "iptables" {
		t.Errorf("cluster mode %q, want iptables (ConfigMap kube-proxy)", info.Install.Mode)
	}
	if want := map[string]int{"iptables": 2, "nftables": 1, "ipvs": 1}; !reflect.DeepEqual(info.Install.PodsByMode, want) {
		t.Errorf("PodsByMode = %v, want %v", info.Install.PodsByMode, want)
	}
}

// One mode everywhere: no per-mode counts in the report.
func TestFindKubeProxyOneMode(t *testing.T) {
	cs := fake.NewSimpleClientset(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy-x", Labels: map[string]string{"k8s-app": "kube-proxy"}},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "kube-proxy", Args: []string{"--proxy-mode", "IPVS"}}}},
	})
	info, err := FindKubeProxy(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	if info.Install.Mode != "ipvs" || info.ModeByNode["n1"] != "ipvs" || info.Install.PodsByMode != nil {
		t.Errorf("mode %q, by node %v, by mode %v", info.Install.Mode, info.ModeByNode, info.Install.PodsByMode)
	}
}
