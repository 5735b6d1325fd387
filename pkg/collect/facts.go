package collect

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/cilium"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/findings"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/inspect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/textutil"
)

// ReadClusterFacts reads what inspecting a node needs beside its dump:
// kube-proxy pods, Cilium agents and cilium-config's KPR level, and the
// Services. A failure costs a fact (with a warning), never the whole
// inspection.
func ReadClusterFacts(ctx context.Context, cs kubernetes.Interface) inspect.ClusterFacts {
	f := inspect.ClusterFacts{KubeProxyPod: map[string]string{}, CiliumAgent: map[string]string{}}
	if kp, err := FindKubeProxy(ctx, cs); err != nil {
		f.Warnings = append(f.Warnings, "kube-proxy pods not read: "+err.Error())
	} else {
		for node, pod := range kp.PodByNode {
			f.KubeProxyPod[node] = pod
		}
	}
	if ci, err := FindCilium(ctx, cs, ""); err != nil {
		f.Warnings = append(f.Warnings, "Cilium agents not read: "+err.Error())
	} else {
		for node, a := range ci.AgentByNode {
			f.CiliumAgent[node] = a.Namespace + "/" + a.Name
		}
		if v := strings.TrimSpace(ci.Install.Config["kube-proxy-replacement"]); v != "" {
			f.CiliumKPR = cilium.Replacement(v)
		}
	}
	svcs, err := ListServices(ctx, cs, metav1.NamespaceAll)
	if err != nil {
		f.Warnings = append(f.Warnings, "Services not read, stale chains cannot be told from live ones: "+err.Error())
	} else {
		f.ServicesKnown = true
		for _, s := range svcs {
			for _, p := range s.Spec.Ports {
				f.Services = append(f.Services, findings.ServicePort{Namespace: s.Namespace, Name: s.Name, PortName: p.Name, Protocol: string(p.Protocol)})
			}
		}
	}
	return f
}

// ListServices lists a namespace's Services ("" for all), in pages.
func ListServices(ctx context.Context, cs kubernetes.Interface, namespace string) ([]corev1.Service, error) {
	var out []corev1.Service
	opts := metav1.ListOptions{Limit: 500}
	for {
		l, err := cs.CoreV1().Services(namespace).List(ctx, opts)
		if err != nil {
			where := "namespace " + namespace
			if namespace == "" {
				where = "all namespaces"
			}
			return nil, fmt.Errorf("listing Services in %s: %w", where, err)
		}
		out = append(out, l.Items...)
		if l.Continue == "" {
			return out, nil
		}
		opts.Continue = l.Continue
	}
}

// ErrNoNodePortServices: a namespace has no Service to probe from nodes.
var ErrNoNodePortServices = errors.New("no NodePort Services")

// ProbeServices returns the named Service (NAME, NAMESPACE/NAME, svc/NAME),
// or, without a name, every NodePort (and LoadBalancer) Service of ns.
func ProbeServices(ctx context.Context, cs kubernetes.Interface, ns, name string) ([]corev1.Service, error) {
	if name != "" {
		name = strings.TrimPrefix(strings.TrimPrefix(name, "service/"), "svc/")
		// NAMESPACE/NAME overrides -n.
		if n, rest, ok := strings.Cut(name, "/"); ok && n != "" && rest != "" {
			ns, name = n, rest
		}
		s, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			msg := fmt.Sprintf("Service %q not found in namespace %s", name, ns)
			if list, lerr := ListServices(ctx, cs, ns); lerr == nil {
				var names []string
				for _, s := range list {
					names = append(names, s.Name)
				}
				msg += textutil.DidYouMean(name, names)
			}
			return nil, fmt.Errorf("%s (use -n to pick the namespace)", msg)
		}
		if err != nil {
			return nil, fmt.Errorf("reading Service %s/%s: %w", ns, name, err)
		}
		return []corev1.Service{*s}, nil
	}
	list, err := ListServices(ctx, cs, ns)
	if err != nil {
		return nil, err
	}
	out := NodePortServices(list)
	if len(out) == 0 {
		return nil, fmt.Errorf("%w in namespace %s: name a SERVICE, or pick the namespace with -n", ErrNoNodePortServices, ns)
	}
	return out, nil
}

// NodePortServices keeps the Services with at least one NodePort.
func NodePortServices(list []corev1.Service) []corev1.Service {
	var out []corev1.Service
	for _, s := range list {
		for _, p := range s.Spec.Ports {
			if p.NodePort != 0 {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// ReadyEndpoints returns the nodes and addresses of a Service's ready
// endpoints.
func ReadyEndpoints(ctx context.Context, cs kubernetes.Interface, svc corev1.Service) (nodes, addrs []string, err error) {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name}).String()
	list, err := cs.DiscoveryV1().EndpointSlices(svc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, nil, fmt.Errorf("listing EndpointSlices of %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	seen := map[string]bool{}
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			if ep.NodeName != nil && !seen[*ep.NodeName] {
				seen[*ep.NodeName] = true
				nodes = append(nodes, *ep.NodeName)
			}
			for _, a := range ep.Addresses {
				for _, p := range s.Ports {
					if p.Port != nil {
						addrs = append(addrs, fmt.Sprintf("%s:%d", a, *p.Port))
					}
				}
			}
		}
	}
	sort.Strings(nodes)
	sort.Strings(addrs)
	return nodes, addrs, nil
}

// ChooseNodes resolves NODE... or --all-nodes (flag names the way to give
// nodes, for the error) against the cluster's nodes. It returns the chosen
// nodes and all nodes (probes need the others' addresses).
func ChooseNodes(ctx context.Context, cs kubernetes.Interface, names []string, all bool, flag string) (chosen, everyNode []NodeInfo, err error) {
	if all && len(names) > 0 {
		return nil, nil, fmt.Errorf("give node names or --all-nodes, not both")
	}
	if !all && len(names) == 0 {
		return nil, nil, fmt.Errorf("no nodes chosen: name them (%s) or pass --all-nodes", flag)
	}
	everyNode, err = ListNodes(ctx, cs)
	if err != nil {
		return nil, nil, err
	}
	if all {
		if len(everyNode) == 0 {
			return nil, nil, errors.New("the cluster has no nodes")
		}
		return everyNode, everyNode, nil
	}
	chosen, err = SelectNodes(everyNode, Dedupe(names))
	return chosen, everyNode, err
}

// Dedupe keeps the first of each name, in order.
func Dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// NodeNames are the nodes' names, in order.
func NodeNames(ns []NodeInfo) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Name
	}
	return out
}

// HostPortPods lists namespace's Running pods that declare a hostPort
// ("" for every namespace).
func HostPortPods(ctx context.Context, cs kubernetes.Interface, namespace string) ([]corev1.Pod, error) {
	list, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Running"})
	if err != nil {
		return nil, fmt.Errorf("listing pods with hostPorts: %w", err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.HostPort != 0 && !p.Spec.HostNetwork {
					out = append(out, p)
					goto next
				}
			}
		}
	next:
	}
	return out, nil
}
