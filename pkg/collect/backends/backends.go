// Package backends deploys `kubectl kpr verify --deploy-backends`' test
// workloads, the shape of cilium-cli's connectivity test: a namespace of
// kpr's own (kpr-verify-<random>), two small HTTP backend pods pinned to
// one node of each class, the Services the checks probe (NodePort with
// externalTrafficPolicy Cluster and Local, ClusterIP with ClientIP session
// affinity, optionally ClusterIP with an externalIP) and optionally a
// hostPort pod, a wait until all of it is ready, and the deletion of all
// of it.
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
	// HostPortValue is the hostPort pod's ComponentLabel: not BackendValue,
	// so that no class Service selects it.
	HostPortValue = "verify-hostport"
	// ClassLabel selects a class's backends for its Services.
	ClassLabel = "kpr.verify/class"
	// HostPortClassLabel carries the hostPort pod's class (under another
	// key than ClassLabel, for the same reason as HostPortValue).
	HostPortClassLabel = "kpr.verify/hostport-class"
	// CheckLabel tells the check-specific objects apart: on the local-,
	// affinity- and externalip- Services and on the hostPort pod.
	CheckLabel           = "kpr.verify/check"
	CheckETPLocal        = "etp-local"
	CheckSessionAffinity = "session-affinity"
	CheckExternalIP      = "externalip"
	CheckHostPort        = "hostport"
	// NamespacePrefix starts every verify namespace's name.
	NamespacePrefix = "kpr-verify-"
	// Port is the backends' container port; ServicePort their Services' port.
	Port        = 8080
	ServicePort = 80
	// ExternalIPPort is the externalip-<class> Service's port (on the
	// node's InternalIP, next to whatever the node itself listens on).
	ExternalIPPort = 18081
	// DefaultHostPort is the hostPort pod's default host port. Outside the
	// NodePort range (30000-32767) on purpose: Cilium ignores, with a
	// warning, hostPorts inside the NodePort range.
	DefaultHostPort = 18080
	// AffinityTimeoutSeconds is the affinity-<class> Service's ClientIP
	// session affinity timeout.
	AffinityTimeoutSeconds = 600
	// ContainerName is the backend's only container.
	ContainerName = "backend"
)

// Pod Security admission labels of the namespace.
const (
	psaEnforce = "pod-security.kubernetes.io/enforce"
	psaAudit   = "pod-security.kubernetes.io/audit"
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
	// HostPort, when not 0, adds a hostport-<class> pod per class whose
	// port is also bound to this host port (DefaultHostPort is the usual
	// value); the namespace is then labelled Pod Security "privileged".
	HostPort int32
	// ExternalIPs adds an externalip-<class> Service per class, whose
	// externalIP is the backend node's InternalIP.
	ExternalIPs bool
}

// Backend is one class's deployed (or planned) backends and Services. A
// name is "" when that object is not (to be) created.
type Backend struct {
	Class string
	Node  string
	// Pod and Service are backend-<class>, the NodePort Service with
	// externalTrafficPolicy Cluster.
	Pod     string
	Service string
	// Namespace and Image are where and what the pods run (for Objects).
	Namespace string
	Image     string
	// Pods are both backend pods, Pod first; every class Service selects
	// both.
	Pods []string
	// LocalService: NodePort, externalTrafficPolicy Local.
	LocalService string
	// AffinityService: ClusterIP, sessionAffinity ClientIP.
	AffinityService string
	// ExternalIPService: ClusterIP with spec.externalIPs [ExternalIP] on
	// ExternalIPPort; "" when not asked for or skipped (Deployment.Skipped
	// says why).
	ExternalIPService string
	// ExternalIP is the node's InternalIP; "" in a Plan (unknown yet) and
	// without the Service.
	ExternalIP     string
	ExternalIPPort int32
	// HostPortPod is hostport-<class>, not selected by any Service; "" without
	// a hostPort pod.
	HostPortPod string
	HostPort    int32
}

// Objects names every object b names, in creation order, for dry-run
// lists: "pod/NS/NAME (node N, image I)", "service/NS/NAME (NodePort,
// externalTrafficPolicy Local)", ...
func (b Backend) Objects() []string {
	ns := b.Namespace
	image := orDefault(b.Image, DefaultImage)
	var out []string
	pods := b.Pods
	if len(pods) == 0 && b.Pod != "" {
		pods = []string{b.Pod}
	}
	for _, p := range pods {
		out = append(out, fmt.Sprintf("pod/%s/%s (node %s, image %s)", ns, p, b.Node, image))
	}
	if b.HostPortPod != "" {
		out = append(out, fmt.Sprintf("pod/%s/%s (node %s, image %s, hostPort %d)", ns, b.HostPortPod, b.Node, image, b.HostPort))
	}
	if b.Service != "" {
		out = append(out, fmt.Sprintf("service/%s/%s (NodePort)", ns, b.Service))
	}
	if b.LocalService != "" {
		out = append(out, fmt.Sprintf("service/%s/%s (NodePort, externalTrafficPolicy Local)", ns, b.LocalService))
	}
	if b.AffinityService != "" {
		out = append(out, fmt.Sprintf("service/%s/%s (ClusterIP, sessionAffinity ClientIP)", ns, b.AffinityService))
	}
	if b.ExternalIPService != "" {
		ip := b.ExternalIP
		if ip == "" {
			ip = "InternalIP of node " + b.Node
		}
		out = append(out, fmt.Sprintf("service/%s/%s (ClusterIP, externalIPs [%s], port %d)", ns, b.ExternalIPService, ip, b.ExternalIPPort))
	}
	return out
}

// Deployment is what one verify run created.
type Deployment struct {
	Client    kubernetes.Interface
	Namespace string
	Backends  []Backend
	// Created lists the objects in creation order ("namespace/x", ...).
	Created []string
	// Skipped says, one line each, what was asked for but not created
	// because the cluster refuses it (externalIPs, hostPorts) or the node
	// lacks what it needs; the checks that need it should be skipped.
	Skipped []string
}

// NamespaceName returns a fresh kpr-verify-<random> name.
func NamespaceName() string { return NamespacePrefix + utilrand.String(5) }

// Plan is what Deploy with zero Options would create (both backend pods,
// the backend-, local- and affinity- Services), for --dry-run.
func Plan(namespace string, nodeByClass map[string]string) []Backend {
	return PlanWith(namespace, nodeByClass, Options{})
}

// PlanWith is what Deploy with o would create, for --dry-run and for Deploy
// itself. ExternalIP stays "" (the node's address is read by Deploy) and
// Deploy may still skip the externalIP Service or the hostPort pod.
func PlanWith(namespace string, nodeByClass map[string]string, o Options) []Backend {
	var out []Backend
	for class, node := range nodeByClass {
		name := ObjectName(class)
		b := Backend{Class: class, Node: node, Pod: name, Service: name,
			Namespace: namespace, Image: orDefault(o.Image, DefaultImage),
			Pods:            []string{name, objectName("backend-", class, "-2")},
			LocalService:    objectName("local-", class, ""),
			AffinityService: objectName("affinity-", class, ""),
		}
		if o.ExternalIPs {
			b.ExternalIPService, b.ExternalIPPort = objectName("externalip-", class, ""), ExternalIPPort
		}
		if o.HostPort != 0 {
			b.HostPortPod, b.HostPort = objectName("hostport-", class, ""), o.HostPort
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Class < out[j].Class })
	return out
}

// ObjectName is the (first) backend pod's and the backend Service's name
// for a class.
func ObjectName(class string) string { return objectName("backend-", class, "") }

// objectName is prefix+class+suffix, lower case, cut to a DNS label's 63
// characters (the class part is cut, the suffix kept).
func objectName(prefix, class, suffix string) string {
	n := prefix + strings.ToLower(class)
	if len(n) > 63-len(suffix) {
		n = n[:63-len(suffix)]
	}
	return strings.TrimRight(n, "-") + suffix
}

// runLabels are on every object of a run.
func runLabels(runID string, extra map[string]string) map[string]string {
	l := map[string]string{
		debugpod.ManagedByLabel: debugpod.ManagedByValue,
		debugpod.RunIDLabel:     runID,
	}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// Deploy creates the namespace, the backends, the hostPort pods and the
// Services, and waits until every pod is ready and every Service lists
// its class's backends ready. On error the caller still owns the returned
// Deployment and must Delete it (it holds what was created so far).
func Deploy(ctx context.Context, cs kubernetes.Interface, namespace string, nodeByClass map[string]string, o Options) (*Deployment, error) {
	d := &Deployment{Client: cs, Namespace: namespace}
	nsLabels := runLabels(o.RunID, map[string]string{ComponentLabel: NamespaceValue})
	if o.HostPort == 0 {
		// The backends comply with the restricted profile: say so, so that
		// a cluster default of "privileged" does not matter and a stricter
		// admission does not surprise.
		nsLabels[psaEnforce] = "restricted"
	} else {
		// Both baseline and restricted forbid hostPort, and only the
		// hostPort pod needs it: enforce "privileged" for that pod alone,
		// and audit against "restricted", which every other pod (and the
		// hostPort pod's securityContext) still complies with. No "warn":
		// the API server would print a warning for the one hostPort pod
		// on every run.
		nsLabels[psaEnforce] = "privileged"
		nsLabels[psaAudit] = "restricted"
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: nsLabels}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return d, explain(err, "create", "namespaces", "")
	}
	d.Created = append(d.Created, "namespace/"+namespace)
	for _, s := range o.PullSecrets {
		src, err := cs.CoreV1().Secrets(o.SecretsFrom).Get(ctx, s, metav1.GetOptions{})
		if err != nil {
			return d, fmt.Errorf("image pull secret %s/%s for the backends: %w", o.SecretsFrom, s, explain(err, "get", "secrets", o.SecretsFrom))
		}
		cp := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s, Namespace: namespace,
			Labels: runLabels(o.RunID, map[string]string{ComponentLabel: NamespaceValue})}, Type: src.Type, Data: src.Data}
		if _, err := cs.CoreV1().Secrets(namespace).Create(ctx, cp, metav1.CreateOptions{}); err != nil {
			return d, explain(err, "create", "secrets", namespace)
		}
		d.Created = append(d.Created, "secret/"+namespace+"/"+s)
	}
	for _, b := range PlanWith(namespace, nodeByClass, o) {
		node, err := cs.CoreV1().Nodes().Get(ctx, b.Node, metav1.GetOptions{})
		if err != nil {
			return d, explain(err, "get", "nodes", "")
		}
		for _, name := range b.Pods {
			pod := BuildPod(namespace, b.Class, node, o)
			pod.Name = name
			if err := d.createPod(ctx, pod); err != nil {
				return d, err
			}
		}
		if b.HostPortPod != "" {
			pod := BuildHostPortPod(namespace, b.Class, node, o)
			if err := d.createPod(ctx, pod); err != nil {
				if why := admissionRefusal(err); why != "" {
					d.Skipped = append(d.Skipped, fmt.Sprintf("hostPort pod %s/%s: the cluster refuses it (%s); the hostPort check cannot run", namespace, pod.Name, why))
					b.HostPortPod, b.HostPort = "", 0
				} else {
					return d, err
				}
			}
		}
		for _, svc := range []*corev1.Service{
			BuildService(namespace, b.Class, o.RunID),
			BuildLocalService(namespace, b.Class, o.RunID),
			BuildAffinityService(namespace, b.Class, o.RunID),
		} {
			if err := d.createService(ctx, svc); err != nil {
				return d, err
			}
		}
		if b.ExternalIPService != "" {
			ip := InternalIP(node)
			if ip == "" {
				d.Skipped = append(d.Skipped, fmt.Sprintf("Service %s/%s: node %s has no InternalIP address to use as externalIP; the externalIP check cannot run", namespace, b.ExternalIPService, node.Name))
				b.ExternalIPService, b.ExternalIPPort = "", 0
			} else {
				svc := BuildExternalIPService(namespace, b.Class, o.RunID, ip)
				if err := d.createService(ctx, svc); err != nil {
					why := admissionRefusal(err)
					if why == "" {
						return d, err
					}
					d.Skipped = append(d.Skipped, fmt.Sprintf("Service %s/%s: the cluster refuses Services with externalIPs (%s); the externalIP check cannot run", namespace, svc.Name, why))
					b.ExternalIPService, b.ExternalIPPort = "", 0
				} else {
					b.ExternalIP = ip
				}
			}
		}
		d.Backends = append(d.Backends, b)
	}
	return d, d.wait(ctx, o.Timeout)
}

func (d *Deployment) createPod(ctx context.Context, pod *corev1.Pod) error {
	if err := createInNewNamespace(ctx, func() error {
		_, err := d.Client.CoreV1().Pods(d.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		return err
	}); err != nil {
		return explain(err, "create", "pods", d.Namespace)
	}
	d.Created = append(d.Created, "pod/"+d.Namespace+"/"+pod.Name)
	return nil
}

func (d *Deployment) createService(ctx context.Context, svc *corev1.Service) error {
	if _, err := d.Client.CoreV1().Services(d.Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return explain(err, "create", "services", d.Namespace)
	}
	d.Created = append(d.Created, "service/"+d.Namespace+"/"+svc.Name)
	return nil
}

// InternalIP is node's first InternalIP address, or "".
func InternalIP(node *corev1.Node) string {
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && a.Address != "" {
			return a.Address
		}
	}
	return ""
}

// admissionRefusal is, on one line, why an admission control refused a
// create (the DenyServiceExternalIPs plugin, Pod Security, a policy engine's
// webhook or a ValidatingAdmissionPolicy: Forbidden, Invalid, or a webhook's
// denial, 400 by default), or "" for any other error, a missing RBAC
// permission included.
func admissionRefusal(err error) string {
	var perm *PermissionError
	if errors.As(err, &perm) {
		err = perm.Err
	}
	msg := err.Error()
	switch {
	case apierrors.IsForbidden(err):
		if rbacDenied(msg) {
			return ""
		}
	case apierrors.IsInvalid(err):
	case apierrors.IsBadRequest(err) && strings.Contains(msg, "denied the request"):
	default:
		return ""
	}
	return strings.Join(strings.Fields(msg), " ")
}

// rbacDenied recognises the RBAC authorizer's wording (`User "u" cannot
// create resource "services" in API group ""...`), which no admission uses.
func rbacDenied(msg string) bool {
	return strings.Contains(msg, " cannot ") && strings.Contains(msg, ` resource "`)
}

// BuildPod is class's (first) backend pod, pinned to node by a node
// affinity on its name (as DaemonSets pin theirs: the hostname label may
// differ from the name) and tolerating exactly the node's taints.
func BuildPod(namespace, class string, node *corev1.Node, o Options) *corev1.Pod {
	return buildPod(namespace, ObjectName(class), node, o, map[string]string{
		ComponentLabel: BackendValue,
		ClassLabel:     class,
	}, 0)
}

// BuildHostPortPod is class's hostPort pod: BuildPod's, on the same node,
// with its port also bound to o.HostPort on the node, and labels no class
// Service selects.
func BuildHostPortPod(namespace, class string, node *corev1.Node, o Options) *corev1.Pod {
	return buildPod(namespace, objectName("hostport-", class, ""), node, o, map[string]string{
		ComponentLabel:     HostPortValue,
		HostPortClassLabel: class,
		CheckLabel:         CheckHostPort,
	}, o.HostPort)
}

func buildPod(namespace, name string, node *corev1.Node, o Options, extra map[string]string, hostPort int32) *corev1.Pod {
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
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: runLabels(o.RunID, extra),
			Annotations: map[string]string{debugpod.NodeAnnotation: node.Name}},
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
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: Port, HostPort: hostPort, Protocol: corev1.ProtocolTCP}},
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
	return buildService(namespace, ObjectName(class), class, runID, "", ServicePort, corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort,
	})
}

// BuildLocalService is class's NodePort Service with externalTrafficPolicy
// Local: only the backends' node answers on its NodePort.
func BuildLocalService(namespace, class, runID string) *corev1.Service {
	return buildService(namespace, objectName("local-", class, ""), class, runID, CheckETPLocal, ServicePort, corev1.ServiceSpec{
		Type:                  corev1.ServiceTypeNodePort,
		ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
	})
}

// BuildAffinityService is class's ClusterIP Service with ClientIP session
// affinity (AffinityTimeoutSeconds): one client, one backend.
func BuildAffinityService(namespace, class, runID string) *corev1.Service {
	timeout := int32(AffinityTimeoutSeconds)
	return buildService(namespace, objectName("affinity-", class, ""), class, runID, CheckSessionAffinity, ServicePort, corev1.ServiceSpec{
		Type:                  corev1.ServiceTypeClusterIP,
		SessionAffinity:       corev1.ServiceAffinityClientIP,
		SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &timeout}},
	})
}

// BuildExternalIPService is class's ClusterIP Service with externalIP ip
// (the backends' node's InternalIP) on ExternalIPPort.
func BuildExternalIPService(namespace, class, runID, ip string) *corev1.Service {
	return buildService(namespace, objectName("externalip-", class, ""), class, runID, CheckExternalIP, ExternalIPPort, corev1.ServiceSpec{
		Type:        corev1.ServiceTypeClusterIP,
		ExternalIPs: []string{ip},
	})
}

// buildService completes spec with the selector of class's backends and
// port -> their "http" port.
func buildService(namespace, name, class, runID, check string, port int32, spec corev1.ServiceSpec) *corev1.Service {
	extra := map[string]string{ComponentLabel: BackendValue, ClassLabel: class}
	if check != "" {
		extra[CheckLabel] = check
	}
	spec.Selector = map[string]string{ComponentLabel: BackendValue, ClassLabel: class}
	spec.Ports = []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: runLabels(runID, extra)},
		Spec:       spec,
	}
}

// waitItem is one thing wait waits for: a pod's readiness, or a Service's
// ready endpoints (want: every backend pod of its class).
type waitItem struct {
	pod     string // a pod's name, or "" for a Service
	service string
	what    string // "backend", "hostPort pod"
	class   string
	node    string
	want    int
}

func (w waitItem) key() string {
	if w.pod != "" {
		return "pod/" + w.pod
	}
	return "service/" + w.service
}

func (w waitItem) String() string {
	if w.pod != "" {
		return fmt.Sprintf("%s on %s", w.pod, w.node)
	}
	return fmt.Sprintf("Service %s (backends on %s)", w.service, w.node)
}

// wait polls until every pod (backends and hostPort pods) is ready and
// every Service lists its class's backends ready in its EndpointSlices; a
// pod that cannot start is named with why.
func (d *Deployment) wait(ctx context.Context, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 90 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pending := map[string]waitItem{}
	add := func(w waitItem) { pending[w.key()] = w }
	for _, b := range d.Backends {
		pods := b.Pods
		if len(pods) == 0 {
			pods = []string{b.Pod}
		}
		for _, p := range pods {
			add(waitItem{pod: p, what: "backend", class: b.Class, node: b.Node})
		}
		if b.HostPortPod != "" {
			add(waitItem{pod: b.HostPortPod, what: "hostPort pod", class: b.Class, node: b.Node})
		}
		for _, s := range []string{b.Service, b.LocalService, b.AffinityService, b.ExternalIPService} {
			if s != "" {
				add(waitItem{service: s, class: b.Class, node: b.Node, want: len(pods)})
			}
		}
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var last map[string]string
	for {
		last = map[string]string{}
		podsPending := map[string]bool{} // class -> a backend pod not ready
		for _, key := range sortedKeys(pending) {
			w := pending[key]
			if w.pod == "" {
				continue
			}
			why, fatal, err := d.podState(ctx, w.pod)
			if err != nil && ctx.Err() == nil && !nearDeadline(err) {
				return err
			}
			if fatal {
				return fmt.Errorf("%s %s/%s on node %s cannot run: %s", w.what, d.Namespace, w.pod, w.node, why)
			}
			if why == "" && err == nil {
				delete(pending, key)
				continue
			}
			if w.what == "backend" {
				podsPending[w.class] = true
			}
			if why != "" {
				last[key] = why
			}
		}
		for _, key := range sortedKeys(pending) {
			w := pending[key]
			// Its endpoints follow its backends: wait for those first.
			if w.pod != "" || podsPending[w.class] {
				continue
			}
			why, err := d.serviceState(ctx, w.service, w.want)
			if err != nil && ctx.Err() == nil && !nearDeadline(err) {
				return err
			}
			if why == "" && err == nil {
				delete(pending, key)
			} else if why != "" {
				last[key] = why
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
			for key, why := range last {
				msgs = append(msgs, fmt.Sprintf("%s: %s", pending[key], why))
			}
			sort.Strings(msgs)
			return fmt.Errorf("backends not ready after %s (raise --timeout, or pick another --backend-image): %s", timeout, strings.Join(msgs, "; "))
		case <-tick.C:
		}
	}
}

func sortedKeys(m map[string]waitItem) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// podState is "" when the pod is ready, else why not; fatal when waiting
// longer cannot help (image pull errors, a failed pod).
func (d *Deployment) podState(ctx context.Context, name string) (why string, fatal bool, err error) {
	pod, err := d.Client.CoreV1().Pods(d.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", false, explain(err, "get", "pods", d.Namespace)
	}
	why, fatal = podProblem(pod)
	return why, fatal, nil
}

// serviceState is "" when service's EndpointSlices list want ready
// endpoints (each backend of the class once), else why not.
func (d *Deployment) serviceState(ctx context.Context, service string, want int) (string, error) {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: service}).String()
	slices, err := d.Client.DiscoveryV1().EndpointSlices(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return "", explain(err, "list", "endpointslices.discovery.k8s.io", d.Namespace)
	}
	ready := map[string]bool{}
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready == nil || !*ep.Conditions.Ready || len(ep.Addresses) == 0 {
				continue
			}
			// An endpoint may be in two slices for a while: count pods.
			id := ep.Addresses[0]
			if ep.TargetRef != nil && ep.TargetRef.Name != "" {
				id = ep.TargetRef.Name
			}
			ready[id] = true
		}
	}
	if want < 1 {
		want = 1
	}
	switch {
	case len(ready) >= want:
		return "", nil
	case len(ready) == 0:
		return "no ready endpoint in the Service's EndpointSlices yet", nil
	}
	return fmt.Sprintf("%d of %d backends ready in the Service's EndpointSlices", len(ready), want), nil
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
		pods := append([]string{}, b.Pods...)
		if len(pods) == 0 {
			pods = []string{b.Pod}
		}
		if b.HostPortPod != "" {
			pods = append(pods, b.HostPortPod)
		}
		for _, p := range pods {
			err := transient.Do(ctx, func() error {
				return d.Client.CoreV1().Pods(d.Namespace).Delete(ctx, p, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
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
