package main

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// ciliumNodes is the CiliumNode resource every agent registers its node
// with (cilium.io/v2). The real agents' ipcache holds the nodes listed
// there as remote nodes: their socket-LB translates those nodes'
// NodePorts at connect() (bpf_sock.c sock4_wildcard_lookup). A stand-in
// agent registers its node too, as a real one would, and translates the
// other registered nodes' NodePorts the same way.
var ciliumNodes = schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumnodes"}

func dynamicClient() (dynamic.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", envOr("KPR_LAB_KUBECONFIG", ""))
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(cfg)
}

// ciliumNodeFor is node's CiliumNode as an agent writes it: the Node's
// labels and InternalIP, the cilium_host address as CiliumInternalIP, the
// podCIDR, owned by the Node.
func ciliumNodeFor(n *corev1.Node, routerIP string) *unstructured.Unstructured {
	var addrs []any
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			addrs = append(addrs, map[string]any{"ip": a.Address, "type": "InternalIP"})
		}
	}
	if routerIP != "" {
		addrs = append(addrs, map[string]any{"ip": routerIP, "type": "CiliumInternalIP"})
	}
	labels := map[string]any{}
	for k, v := range n.Labels {
		labels[k] = v
	}
	var cidrs []any
	for _, c := range n.Spec.PodCIDRs {
		cidrs = append(cidrs, c)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cilium.io/v2", "kind": "CiliumNode",
		"metadata": map[string]any{"name": n.Name, "labels": labels,
			"ownerReferences": []any{map[string]any{"apiVersion": "v1", "kind": "Node", "name": n.Name, "uid": string(n.UID)}}},
		"spec": map[string]any{"addresses": addrs, "ipam": map[string]any{"podCIDRs": cidrs}},
	}}
}

// registerCiliumNode creates node's CiliumNode unless it exists.
func registerCiliumNode(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, node, routerIP string) error {
	n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("node %s: %w", node, err)
	}
	_, err = dyn.Resource(ciliumNodes).Create(ctx, ciliumNodeFor(n, routerIP), metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("CiliumNode %s: %w", node, err)
	}
	return nil
}

// remoteCiliumNodeIPs are the InternalIPs of the other registered nodes.
func remoteCiliumNodeIPs(ctx context.Context, dyn dynamic.Interface, self string) ([]string, error) {
	list, err := dyn.Resource(ciliumNodes).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, cn := range list.Items {
		if cn.GetName() == self {
			continue
		}
		addrs, _, _ := unstructured.NestedSlice(cn.Object, "spec", "addresses")
		for _, a := range addrs {
			m, _ := a.(map[string]any)
			if m["type"] == "InternalIP" {
				if ip, _ := m["ip"].(string); ip != "" {
					out = append(out, ip)
				}
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
