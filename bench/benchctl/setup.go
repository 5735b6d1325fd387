package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

func cmdSetup(args []string) error {
	fs := flag.NewFlagSet("setup", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the scale lab")
	nodes := fs.Int("nodes", 200, "number of kwok nodes")
	services := fs.Int("services", defaultServices, "number of Services")
	image := fs.String("cilium-image", "quay.io/cilium/cilium:v1.18.0", "agent image (its tag is the version kpr reports)")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for every agent to run")
	_ = fs.Parse(args)

	cs, err := client(*kubeconfig, "kpr-bench-setup")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	start := time.Now()
	for _, ns := range []string{hangNamespace, appsNamespace, benchDebugNamespace} {
		if err := create(ctx, cs.CoreV1().Namespaces().Create, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	if err := parallel(*nodes, 32, func(i int) error {
		return create(ctx, cs.CoreV1().Nodes().Create, benchNode(i))
	}); err != nil {
		return fmt.Errorf("creating nodes: %w", err)
	}
	for _, obj := range []*corev1.ConfigMap{ciliumConfig(), kubeProxyConfig()} {
		if err := create(ctx, cs.CoreV1().ConfigMaps(obj.Namespace).Create, obj); err != nil {
			return err
		}
	}
	for _, ds := range []*appsv1.DaemonSet{
		ciliumDaemonSet("kube-system", *image, corev1.NodeSelectorOpNotIn),
		ciliumDaemonSet(hangNamespace, *image, corev1.NodeSelectorOpIn),
		kubeProxyDaemonSet(),
	} {
		if err := create(ctx, cs.AppsV1().DaemonSets(ds.Namespace).Create, ds); err != nil {
			return err
		}
	}
	svcs := benchServices(*services)
	if err := parallel(len(svcs), 32, func(i int) error {
		svc, slice := serviceObjects(svcs[i])
		// A re-run: creating it again would fail on its ClusterIP, which
		// the API server checks before the name.
		if _, err := cs.CoreV1().Services(appsNamespace).Get(ctx, svc.Name, metav1.GetOptions{}); err == nil {
			return nil
		}
		if err := create(ctx, cs.CoreV1().Services(appsNamespace).Create, svc); err != nil {
			return err
		}
		return create(ctx, cs.DiscoveryV1().EndpointSlices(appsNamespace).Create, slice)
	}); err != nil {
		return fmt.Errorf("creating services: %w", err)
	}
	fmt.Fprintf(os.Stderr, "benchctl: created %d nodes, %d services in %s; waiting for the agents\n", *nodes, len(svcs), time.Since(start).Round(time.Millisecond))
	return waitAgents(ctx, cs, *nodes)
}

// waitAgents waits until every node is Ready and runs a Ready agent pod.
func waitAgents(ctx context.Context, cs kubernetes.Interface, nodes int) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		ready, agents, err := readiness(ctx, cs)
		if err == nil && ready >= nodes && agents >= nodes {
			fmt.Fprintf(os.Stderr, "benchctl: %d nodes ready, %d agents running\n", ready, agents)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up waiting: %d/%d nodes ready, %d/%d agents ready (last error: %v)", ready, nodes, agents, nodes, err)
		case <-tick.C:
		}
	}
}

func readiness(ctx context.Context, cs kubernetes.Interface) (ready, agents int, err error) {
	nl, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, 0, err
	}
	for _, n := range nl.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	pl, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=cilium"})
	if err != nil {
		return ready, 0, err
	}
	for _, p := range pl.Items {
		for _, c := range p.Status.Conditions {
			if p.Status.Phase == corev1.PodRunning && c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				agents++
			}
		}
	}
	return ready, agents, nil
}

func client(kubeconfig, agent string) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst, cfg.UserAgent = 200, 400, agent
	return kubernetes.NewForConfig(cfg)
}

// create creates obj, treating AlreadyExists as done.
func create[T any](ctx context.Context, fn func(context.Context, T, metav1.CreateOptions) (T, error), obj T) error {
	_, err := fn(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// parallel runs fn(0..n-1) with `width` in flight and returns the first error.
func parallel(n, width int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, width)
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

func benchNode(i int) *corev1.Node {
	name := nodeName(i)
	labels := map[string]string{
		"kubernetes.io/hostname": name,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     "amd64",
		"type":                   "kwok",
		hangLabel:                fmt.Sprint(hangs(i)),
		kubeProxyLabel:           fmt.Sprint(runsKubeProxy(i)),
	}
	// kwok's node-initialize stage keeps a nodeInfo it finds and fills in
	// the addresses (--node-ip) and the kubelet port.
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{
			KernelVersion: kernelVersion, OSImage: osImage, OperatingSystem: "linux", Architecture: "amd64",
		}},
	}
}

func ciliumConfig() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cilium-config", Namespace: "kube-system"},
		Data: map[string]string{
			"kube-proxy-replacement": "true",
			"cni-chaining-mode":      "none",
			"routing-mode":           "tunnel",
			"tunnel-protocol":        "vxlan",
			"bpf-lb-sock":            "false",
			"enable-health-checking": "true",
		},
	}
}

func kubeProxyConfig() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy", Namespace: "kube-system"},
		Data:       map[string]string{"config.conf": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\n"},
	}
}

// ciliumDaemonSet: the kube-system one runs on every node but the hanging
// ones (op NotIn), the cilium-hang one only there (op In). kwok's
// ClusterExec tells the two apart by namespace.
func ciliumDaemonSet(ns, image string, op corev1.NodeSelectorOperator) *appsv1.DaemonSet {
	labels := map[string]string{"k8s-app": "cilium"}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "cilium", Namespace: ns, Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromString("100%"))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					HostNetwork: true,
					Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
						RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
							MatchExpressions: []corev1.NodeSelectorRequirement{{Key: hangLabel, Operator: op, Values: []string{"true"}}},
						}}},
					}},
					Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					Containers: []corev1.Container{{
						Name: "cilium-agent", Image: image,
						Command: []string{"cilium-agent"}, Args: []string{"--config-dir=/tmp/cilium/config-map"},
					}},
				},
			},
		},
	}
}

func kubeProxyDaemonSet() *appsv1.DaemonSet {
	labels := map[string]string{"k8s-app": "kube-proxy"}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-proxy", Namespace: "kube-system", Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					HostNetwork:  true,
					NodeSelector: map[string]string{kubeProxyLabel: "true"},
					Tolerations:  []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					Containers: []corev1.Container{{
						Name: "kube-proxy", Image: "registry.k8s.io/kube-proxy:v1.37.2",
						Command: []string{"/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=$(NODE_NAME)"},
					}},
				},
			},
		},
	}
}

// serviceObjects returns a selector-less Service with a fixed ClusterIP and
// its hand-made EndpointSlice (no pods behind it: the backends only need
// to exist in the API and in the agents' tables).
func serviceObjects(s benchService) (*corev1.Service, *discoveryv1.EndpointSlice) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: appsNamespace},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: s.ClusterIP.String(),
			Ports:     []corev1.ServicePort{{Name: "http", Port: servicePort, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(backendPort)}},
		},
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: s.Name + "-bench", Namespace: appsNamespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: s.Name, discoveryv1.LabelManagedBy: "kpr-bench"},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](backendPort), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, b := range s.Backends {
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{b.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
		})
	}
	return svc, slice
}
