// Package backends deploys `kubectl kpr verify --deploy-backends`' test
// workloads, the shape of cilium-cli's connectivity test: a namespace of
// kpr's own (kpr-verify-<random>), one small HTTP backend pod pinned to one
// node of each class, a NodePort Service for each, a wait until their
// EndpointSlices list them ready, and the deletion of all of it.
package backends

import (
	"context"
	"errors"
	"fmt"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/transient"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/debugpod"
)

const (
	// DefaultImage answers HTTP 200 on every path with `netexec`: the
	// Kubernetes e2e suite's own test server, mirrored by most private
	// registries that run conformance tests.
	DefaultImage = "registry.k8s.io/e2e-test-images/agnhost:2.53"
	// ComponentLabel marks what verify created; ComponentValue on the
	// namespace and on every object in it.
	ComponentLabel = "app.kubernetes.io/component"
	NamespaceValue = "verify"
	BackendValue   = "verify-backend"
	// ClassLabel selects a class's backend for its Service.
	ClassLabel = "kpr.verify/class"
	// NamespacePrefix starts every verify namespace's name.
	NamespacePrefix = "kpr-verify-"
	// Port is the backends' container port; ServicePort their Services' port.
	Port        = 8080
	ServicePort = 80
	// ContainerName is the backend's only container.
	ContainerName = "backend"
)

// Options shape one deployment.
type Options struct {
	Image string
	// PullSecrets are copied from SecretsFrom into the new namespace.
	PullSecrets []string
	SecretsFrom string
	RunID       string
	// Lifetime becomes the pods' activeDeadlineSeconds: a killed kpr's
	// backends end by themselves; the namespace goes with `kpr cleanup`.
	Lifetime time.Duration
	// Timeout bounds the wait for the backends and their EndpointSlices.
	Timeout time.Duration
}

// Backend is one deployed backend and its Service.
type Backend struct {
	Class   string
	Node    string
	Pod     string
	Service string
}

// Deployment is what one verify run created.
type Deployment struct {
	Client    kubernetes.Interface
	Namespace string
	Backends  []Backend
	// Created lists the objects in creation order ("namespace/x", ...).
	Created []string
}

// NamespaceName returns a fresh kpr-verify-<random> name.
func NamespaceName() string { return NamespacePrefix + utilrand.String(5) }

// Plan is what Deploy would create, for --dry-run and for Deploy itself.
func Plan(namespace string, nodeByClass map[string]string) []Backend {
	var out []Backend
	for class, node := range nodeByClass {
		name := ObjectName(class)
		out = append(out, Backend{Class: class, Node: node, Pod: name, Service: name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Class < out[j].Class })
	return out
}

// ObjectName is the backend pod's and Service's name for a class.
func ObjectName(class string) string {
	n := "backend-" + strings.ToLower(class)
	if len(n) > 63 {
		n = n[:63]
	}
	return strings.TrimRight(n, "-")
}

// Deploy creates the namespace, the backends and their Services, and waits
// until every Service has a ready endpoint. On error the caller still
// owns the returned Deployment and must Delete it (it holds what was
// created so far).
func Deploy(ctx context.Context, cs kubernetes.Interface, namespace string, nodeByClass map[string]string, o Options) (*Deployment, error) {
	d := &Deployment{Client: cs, Namespace: namespace}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
		debugpod.ManagedByLabel: debugpod.ManagedByValue,
		debugpod.RunIDLabel:     o.RunID,
		ComponentLabel:          NamespaceValue,
		// The backends comply with the restricted profile: say so, so that
		// a cluster default of "privileged" does not matter and a stricter
		// admission does not surprise.
		"pod-security.kubernetes.io/enforce": "restricted",
	}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return d, explain(err, "create", "namespaces", "")
	}
	d.Created = append(d.Created, "namespace/"+namespace)
	for _, s := range o.PullSecrets {
		src, err := cs.CoreV1().Secrets(o.SecretsFrom).Get(ctx, s, metav1.GetOptions{})
		if err != nil {
			return d, fmt.Errorf("image pull secret %s/%s for the backends: %w", o.SecretsFrom, s, explain(err, "get", "secrets", o.SecretsFrom))
		}
		cp := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s, Namespace: namespace, Labels: ns.Labels}, Type: src.Type, Data: src.Data}
		delete(cp.Labels, "pod-security.kubernetes.io/enforce")
		if _, err := cs.CoreV1().Secrets(namespace).Create(ctx, cp, metav1.CreateOptions{}); err != nil {
			return d, explain(err, "create", "secrets", namespace)
		}
		d.Created = append(d.Created, "secret/"+namespace+"/"+s)
	}
	for _, b := range Plan(namespace, nodeByClass) {
		node, err := cs.CoreV1().Nodes().Get(ctx, b.Node, metav1.GetOptions{})
		if err != nil {
			return d, explain(err, "get", "nodes", "")
		}
		pod := BuildPod(namespace, b.Class, node, o)
		if err := createInNewNamespace(ctx, func() error {
			_, err := cs.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
			return err
		}); err != nil {
			return d, explain(err, "create", "pods", namespace)
		}
		d.Created = append(d.Created, "pod/"+namespace+"/"+pod.Name)
		svc := BuildService(namespace, b.Class, o.RunID)
		if _, err := cs.CoreV1().Services(namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return d, explain(err, "create", "services", namespace)
		}
		d.Created = append(d.Created, "service/"+namespace+"/"+svc.Name)
		d.Backends = append(d.Backends, b)
	}
	return d, d.wait(ctx, o.Timeout)
}

// BuildPod is class's backend pod, pinned to node by a node affinity on
// its name (as DaemonSets pin theirs: the hostname label may differ from
// the name) and tolerating exactly the node's taints.
func BuildPod(namespace, class string, node *corev1.Node, o Options) *corev1.Pod {
	if o.Image == "" {
		o.Image = DefaultImage
	}
	deadline := int64(o.Lifetime / time.Second)
	if deadline <= 0 {
		deadline = 1800
	}
	var tol []corev1.Toleration
	for _, t := range node.Spec.Taints {
		tt := corev1.Toleration{Key: t.Key, Effect: t.Effect, Operator: corev1.TolerationOpEqual, Value: t.Value}
		if t.Value == "" {
			tt.Operator, tt.Value = corev1.TolerationOpExists, ""
		}
		tol = append(tol, tt)
	}
	var secrets []corev1.LocalObjectReference
	for _, s := range o.PullSecrets {
		secrets = append(secrets, corev1.LocalObjectReference{Name: s})
	}
	no, yes := false, true
	nobody := int64(65534)
	name := ObjectName(class)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{
			debugpod.ManagedByLabel: debugpod.ManagedByValue,
			debugpod.RunIDLabel:     o.RunID,
			ComponentLabel:          BackendValue,
			ClassLabel:              class,
		}, Annotations: map[string]string{debugpod.NodeAnnotation: node.Name}},
		Spec: corev1.PodSpec{
			Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
					Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node.Name},
				}}}},
			}}},
			Tolerations:                  tol,
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &no,
			ActiveDeadlineSeconds:        &deadline,
			ImagePullSecrets:             secrets,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: &yes, RunAsUser: &nobody,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:  ContainerName,
				Image: o.Image,
				Args:  []string{"netexec", fmt.Sprintf("--http-port=%d", Port)},
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: Port, Protocol: corev1.ProtocolTCP}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: "/healthz", Port: intstr.FromInt32(Port)}}, PeriodSeconds: 2},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: &no,
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				},
				ImagePullPolicy: corev1.PullIfNotPresent,
			}},
		},
	}
}

// BuildService is class's NodePort Service (externalTrafficPolicy Cluster:
// every node's NodePort must reach the backend, wherever it runs).
func BuildService(namespace, class, runID string) *corev1.Service {
	name := ObjectName(class)
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{
			debugpod.ManagedByLabel: debugpod.ManagedByValue,
			debugpod.RunIDLabel:     runID,
			ComponentLabel:          BackendValue,
			ClassLabel:              class,
		}},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeNodePort,
			Selector: map[string]string{ComponentLabel: BackendValue, ClassLabel: class},
			Ports:    []corev1.ServicePort{{Name: "http", Port: ServicePort, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	}
}

// wait polls until every backend pod is ready and listed ready in its
// Service's EndpointSlices; a pod that cannot start is named with why.
func (d *Deployment) wait(ctx context.Context, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 90 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pending := map[string]Backend{}
	for _, b := range d.Backends {
		pending[b.Service] = b
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var last map[string]string
	for {
		last = map[string]string{}
		for name, b := range pending {
			why, fatal, err := d.backendState(ctx, b)
			if err != nil && ctx.Err() == nil && !nearDeadline(err) {
				return err
			}
			if fatal {
				return fmt.Errorf("backend %s/%s on node %s cannot run: %s", d.Namespace, b.Pod, b.Node, why)
			}
			if why == "" {
				delete(pending, name)
			} else {
				last[name] = why
			}
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), context.Canceled) || ctx.Err() == context.Canceled {
				return fmt.Errorf("interrupted while waiting for the backends: %w", ctx.Err())
			}
			var msgs []string
			for name, why := range last {
				b := pending[name]
				msgs = append(msgs, fmt.Sprintf("%s on %s: %s", b.Pod, b.Node, why))
			}
			sort.Strings(msgs)
			return fmt.Errorf("backends not ready after %s (raise --timeout, or pick another --backend-image): %s", timeout, strings.Join(msgs, "; "))
		case <-tick.C:
		}
	}
}

// backendState is "" when b serves, else why not; fatal when waiting
// longer cannot help (image pull errors, a failed pod).
func (d *Deployment) backendState(ctx context.Context, b Backend) (why string, fatal bool, err error) {
	pod, err := d.Client.CoreV1().Pods(d.Namespace).Get(ctx, b.Pod, metav1.GetOptions{})
	if err != nil {
		return "", false, explain(err, "get", "pods", d.Namespace)
	}
	if why, fatal := podProblem(pod); why != "" {
		return why, fatal, nil
	}
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: b.Service}).String()
	slices, err := d.Client.DiscoveryV1().EndpointSlices(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return "", false, explain(err, "list", "endpointslices.discovery.k8s.io", d.Namespace)
	}
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && *ep.Conditions.Ready && len(ep.Addresses) > 0 {
				return "", false, nil
			}
		}
	}
	return "no ready endpoint in the Service's EndpointSlices yet", false, nil
}

func podProblem(pod *corev1.Pod) (string, bool) {
	switch pod.Status.Phase {
	case corev1.PodFailed, corev1.PodSucceeded:
		return "pod ended: " + orDefault(pod.Status.Reason, string(pod.Status.Phase)) + suffix(pod.Status.Message), true
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull":
				return fmt.Sprintf("cannot pull image %s: %s%s (mirror it and pass --backend-image, and --image-pull-secret for a private registry)", cs.Image, w.Reason, suffix(w.Message)), true
			case "CreateContainerConfigError", "CreateContainerError", "CrashLoopBackOff":
				return w.Reason + suffix(w.Message), true
			}
			return "container waiting: " + w.Reason, false
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return "not scheduled: " + orDefault(c.Message, c.Reason), false
		}
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return "", false
		}
	}
	return "pod " + orDefault(string(pod.Status.Phase), "Pending") + ", not ready", false
}

// Delete removes everything the deployment created, with a fresh context
// (the run's may be cancelled): pods with grace 0, then the namespace;
// it waits up to wait for the namespace to be gone.
func (d *Deployment) Delete(wait time.Duration) error {
	if d == nil || len(d.Created) == 0 {
		return nil
	}
	// Extra time for transient.Do to outlast an API server restart.
	ctx, cancel := context.WithTimeout(context.Background(), wait+40*time.Second)
	defer cancel()
	var errs []error
	zero := int64(0)
	for _, b := range d.Backends {
		err := transient.Do(ctx, func() error {
			return d.Client.CoreV1().Pods(d.Namespace).Delete(ctx, b.Pod, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if err := DeleteNamespace(ctx, d.Client, d.Namespace, wait); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// DeleteNamespace deletes a verify namespace and waits up to wait for it
// to be gone; pods still in it are force-deleted (grace 0) so that a
// slow kubelet does not hold the namespace.
func DeleteNamespace(ctx context.Context, cs kubernetes.Interface, namespace string, wait time.Duration) error {
	zero := int64(0)
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, p := range pods.Items {
			_ = cs.CoreV1().Pods(namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		}
	}
	bg := metav1.DeletePropagationBackground
	err = transient.Do(ctx, func() error {
		return cs.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{PropagationPolicy: &bg})
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting namespace %s: %w (remove it with `kubectl kpr cleanup`)", namespace, explain(err, "delete", "namespaces", ""))
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		_, err := cs.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		// Another error (the API server away) just means: ask again.
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s still terminating: %w", namespace, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
	return fmt.Errorf("namespace %s still terminating after %s (the namespace controller removes it; `kubectl kpr cleanup` retries)", namespace, wait)
}

// LeftNamespace is a verify namespace found by FindNamespaces.
type LeftNamespace struct {
	Name    string
	RunID   string
	Phase   string
	Created time.Time
}

// FindNamespaces lists every verify namespace (a killed run's).
func FindNamespaces(ctx context.Context, cs kubernetes.Interface) ([]LeftNamespace, error) {
	sel := labels.SelectorFromSet(labels.Set{debugpod.ManagedByLabel: debugpod.ManagedByValue, ComponentLabel: NamespaceValue}).String()
	list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, explain(err, "list", "namespaces", "")
	}
	var out []LeftNamespace
	for _, n := range list.Items {
		out = append(out, LeftNamespace{Name: n.Name, RunID: n.Labels[debugpod.RunIDLabel], Phase: string(n.Status.Phase), Created: n.CreationTimestamp.Time})
	}
	return out, nil
}

// serviceAccountWait bounds how long a new namespace may lack its
// "default" ServiceAccount.
const serviceAccountWait = 30 * time.Second

// createInNewNamespace runs create, retrying while the namespace just made
// has no "default" ServiceAccount yet: until the controller-manager's
// service-account controller adds it (usually within a second, longer on
// a busy control plane), the ServiceAccount admission refuses every pod
// with a 403 that is no missing permission.
func createInNewNamespace(ctx context.Context, create func() error) error {
	deadline := time.Now().Add(serviceAccountWait)
	for {
		err := create()
		if !serviceAccountPending(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// serviceAccountPending recognises the ServiceAccount admission's refusal
// (k8s.io/kubernetes plugin/pkg/admission/serviceaccount: "error looking
// up service account NS/NAME").
func serviceAccountPending(err error) bool {
	return apierrors.IsForbidden(err) && strings.Contains(err.Error(), "error looking up service account")
}

// explain names the missing permission of a Forbidden error.
func explain(err error, verb, resource, namespace string) error {
	if apierrors.IsForbidden(err) {
		where := "cluster-wide"
		if namespace != "" {
			where = "in namespace " + namespace
		}
		return &PermissionError{Verb: verb, Resource: resource, Where: where, Err: err}
	}
	return err
}

// PermissionError is a missing RBAC permission: verify cannot run (exit 2).
type PermissionError struct {
	Verb, Resource, Where string
	Err                   error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("missing permission `%s %s` %s: %v", e.Verb, e.Resource, e.Where, e.Err)
}

func (e *PermissionError) Unwrap() error { return e.Err }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// nearDeadline: client-go's rate limiter refuses a call whose wait would
// pass the context's deadline before the deadline itself; that is the
// timeout coming, to be reported as such ("backends not ready after ..."),
// not as "rate: Wait(n=1) would exceed context deadline".
func nearDeadline(err error) bool {
	return strings.Contains(err.Error(), "would exceed context deadline")
}
