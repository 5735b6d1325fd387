package backends

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/debugpod"
)

func taintedNode() *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-cilium"}, Spec: corev1.NodeSpec{Taints: []corev1.Taint{
		{Key: "key", Value: "cilium", Effect: corev1.TaintEffectNoExecute},
		{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule},
	}}}
}

func TestBuildPodPinsToleratesAndIsRestricted(t *testing.T) {
	p := BuildPod("kpr-verify-x", "cilium", taintedNode(), Options{RunID: "r1", PullSecrets: []string{"reg"}})
	terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || terms[0].MatchFields[0].Key != "metadata.name" || terms[0].MatchFields[0].Values[0] != "node-cilium" {
		t.Errorf("affinity %+v", terms)
	}
	if len(p.Spec.Tolerations) != 2 || p.Spec.Tolerations[0].Value != "cilium" || p.Spec.Tolerations[0].Operator != corev1.TolerationOpEqual ||
		p.Spec.Tolerations[1].Operator != corev1.TolerationOpExists || p.Spec.Tolerations[1].Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("tolerations %+v", p.Spec.Tolerations)
	}
	c := p.Spec.Containers[0]
	if c.Image != DefaultImage || c.Ports[0].ContainerPort != Port || strings.Join(c.Args, " ") != "netexec --http-port=8080" {
		t.Errorf("container %+v", c)
	}
	sc := p.Spec.SecurityContext
	if !*sc.RunAsNonRoot || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || *c.SecurityContext.AllowPrivilegeEscalation ||
		c.SecurityContext.Capabilities.Drop[0] != "ALL" || p.Spec.HostNetwork {
		t.Errorf("not restricted-compliant: %+v %+v", sc, c.SecurityContext)
	}
	if p.Labels["app.kubernetes.io/managed-by"] != "kubectl-kpr" || p.Labels[ComponentLabel] != BackendValue || *p.Spec.ActiveDeadlineSeconds <= 0 {
		t.Errorf("labels/deadline %+v %v", p.Labels, *p.Spec.ActiveDeadlineSeconds)
	}
	if p.Spec.ImagePullSecrets[0].Name != "reg" {
		t.Errorf("pull secrets %+v", p.Spec.ImagePullSecrets)
	}
	s := BuildService("kpr-verify-x", "kube-proxy-iptables", "r1")
	if s.Spec.Type != corev1.ServiceTypeNodePort || s.Spec.Selector[ClassLabel] != "kube-proxy-iptables" || s.Name != "backend-kube-proxy-iptables" {
		t.Errorf("service %+v", s)
	}
}

func TestDeployWaitsForEndpointsAndDeleteRemovesAll(t *testing.T) {
	cs := fakeCluster(t, taintedNode())
	d, err := Deploy(context.Background(), cs, "kpr-verify-t", map[string]string{"cilium": "node-cilium"}, Options{RunID: "r", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := "namespace/kpr-verify-t,pod/kpr-verify-t/backend-cilium,pod/kpr-verify-t/backend-cilium-2," +
		"service/kpr-verify-t/backend-cilium,service/kpr-verify-t/local-cilium,service/kpr-verify-t/affinity-cilium"
	if got := strings.Join(d.Created, ","); got != want {
		t.Errorf("created %s\nwant    %s", got, want)
	}
	ns, err := cs.CoreV1().Namespaces().Get(context.Background(), "kpr-verify-t", metav1.GetOptions{})
	if err != nil || ns.Labels[ComponentLabel] != NamespaceValue || ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Fatalf("namespace %+v %v", ns, err)
	}
	left, err := FindNamespaces(context.Background(), cs)
	if err != nil || len(left) != 1 || left[0].RunID != "r" {
		t.Errorf("FindNamespaces %+v %v", left, err)
	}
	if err := d.Delete(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "kpr-verify-t", metav1.GetOptions{}); err == nil {
		t.Error("namespace still there")
	}
}

func TestDeployNamesAPodThatCannotStart(t *testing.T) {
	cs := fake.NewClientset(taintedNode())
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: ContainerName, Image: p.Spec.Containers[0].Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "no route to registry"}}}}
		return false, nil, nil
	})
	d, err := Deploy(context.Background(), cs, "kpr-verify-u", map[string]string{"none": "node-cilium"}, Options{Image: "example.invalid/x:1", Timeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "cannot pull image example.invalid/x:1") || !strings.Contains(err.Error(), "--backend-image") {
		t.Fatalf("err = %v", err)
	}
	if len(d.Created) != 6 {
		t.Errorf("the caller must still know what to delete: %v", d.Created)
	}
}

// Right after the namespace is created its "default" ServiceAccount may not
// exist yet, and the ServiceAccount admission refuses pods with a 403: that
// is waited out, not reported as a missing `create pods`. A real refusal
// still is.
func TestDeployWaitsForTheNewNamespacesServiceAccount(t *testing.T) {
	cs := fake.NewClientset(taintedNode())
	refusals := 2
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if refusals > 0 {
			refusals--
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "backend-cilium",
				errors.New(`error looking up service account kpr-verify-s/default: serviceaccount "default" not found`))
		}
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: ContainerName, Image: p.Spec.Containers[0].Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}}
		return false, nil, nil
	})
	_, err := Deploy(context.Background(), cs, "kpr-verify-s", map[string]string{"cilium": "node-cilium"}, Options{Timeout: 5 * time.Second})
	if refusals != 0 || err == nil || !strings.Contains(err.Error(), "cannot pull image") {
		t.Fatalf("refusals left %d, err %v: want the pod created after the ServiceAccount appeared (and then its pull failure)", refusals, err)
	}
	if serviceAccountPending(apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "x", errors.New(`User "u" cannot create resource "pods"`))) {
		t.Error("an RBAC refusal taken for a missing ServiceAccount")
	}
}

// fakeCluster is a fake API with a kubelet that makes every pod ready at
// once (unless a reactor prepended later set its phase) and an EndpointSlice controller that lists a new Service's
// selected pods (as they are then) ready.
func fakeCluster(t *testing.T, objs ...runtime.Object) *fake.Clientset {
	t.Helper()
	cs := fake.NewClientset(objs...)
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Status.Phase != "" { // a test's reactor decided
			return false, nil, nil
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		return false, nil, nil
	})
	cs.PrependReactor("create", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		svc := a.(k8stesting.CreateAction).GetObject().(*corev1.Service)
		name, ns, sel := svc.Name, svc.Namespace, labels.SelectorFromSet(svc.Spec.Selector).String()
		// Not inline: the fake holds its lock while a reactor runs.
		go func() {
			pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				return
			}
			ready := true
			slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name + "-x", Namespace: ns,
				Labels: map[string]string{discoveryv1.LabelServiceName: name}}}
			for i, p := range pods.Items {
				slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.244.11.%d", i+5)},
					Conditions: discoveryv1.EndpointConditions{Ready: &ready}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: p.Name}})
			}
			_, _ = cs.DiscoveryV1().EndpointSlices(ns).Create(context.Background(), slice, metav1.CreateOptions{})
		}()
		return false, nil, nil
	})
	return cs
}

func nodeWithIP(name, ip string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeExternalIP, Address: "203.0.113.9"}}
	if ip != "" {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	return n
}

func TestPlanAndObjects(t *testing.T) {
	p := Plan("ns", map[string]string{"kube-proxy": "n2", "cilium": "n1"})
	if len(p) != 2 || p[0].Class != "cilium" || p[0].Pod != "backend-cilium" || p[0].Service != "backend-cilium" || p[0].Node != "n1" ||
		strings.Join(p[0].Pods, ",") != "backend-cilium,backend-cilium-2" || p[0].LocalService != "local-cilium" || p[0].AffinityService != "affinity-cilium" ||
		p[0].ExternalIPService != "" || p[0].HostPortPod != "" || p[1].Class != "kube-proxy" {
		t.Fatalf("Plan %+v", p)
	}
	want := []string{
		"pod/ns/backend-cilium (node n1, image " + DefaultImage + ")",
		"pod/ns/backend-cilium-2 (node n1, image " + DefaultImage + ")",
		"service/ns/backend-cilium (NodePort)",
		"service/ns/local-cilium (NodePort, externalTrafficPolicy Local)",
		"service/ns/affinity-cilium (ClusterIP, sessionAffinity ClientIP)",
	}
	if got := p[0].Objects(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Objects\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	p = PlanWith("ns", map[string]string{"cilium": "n1"}, Options{Image: "img:1", HostPort: DefaultHostPort, ExternalIPs: true})
	b := p[0]
	if b.ExternalIPService != "externalip-cilium" || b.ExternalIPPort != 18081 || b.ExternalIP != "" || b.HostPortPod != "hostport-cilium" || b.HostPort != 18080 {
		t.Fatalf("PlanWith %+v", b)
	}
	want = []string{
		"pod/ns/backend-cilium (node n1, image img:1)",
		"pod/ns/backend-cilium-2 (node n1, image img:1)",
		"pod/ns/hostport-cilium (node n1, image img:1, hostPort 18080)",
		"service/ns/backend-cilium (NodePort)",
		"service/ns/local-cilium (NodePort, externalTrafficPolicy Local)",
		"service/ns/affinity-cilium (ClusterIP, sessionAffinity ClientIP)",
		"service/ns/externalip-cilium (ClusterIP, externalIPs [InternalIP of node n1], port 18081)",
	}
	if got := b.Objects(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Objects\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	b.ExternalIP = "10.0.0.7"
	if got := b.Objects()[6]; got != "service/ns/externalip-cilium (ClusterIP, externalIPs [10.0.0.7], port 18081)" {
		t.Errorf("with the IP: %s", got)
	}
	// Long classes: every name stays a DNS label, suffix kept.
	long := strings.Repeat("x", 70)
	lb := PlanWith("ns", map[string]string{long: "n"}, Options{HostPort: 1, ExternalIPs: true})[0]
	for _, n := range append(lb.Pods, lb.Service, lb.LocalService, lb.AffinityService, lb.ExternalIPService, lb.HostPortPod) {
		if len(n) > 63 {
			t.Errorf("%s: %d characters", n, len(n))
		}
	}
	if !strings.HasSuffix(lb.Pods[1], "-2") || lb.Pods[0] == lb.Pods[1] {
		t.Errorf("second pod %q vs %q", lb.Pods[1], lb.Pods[0])
	}
}

func TestDeployCreatesEveryCheckTarget(t *testing.T) {
	ctx := context.Background()
	cs := fakeCluster(t, nodeWithIP("node-a", "10.0.0.7"))
	d, err := Deploy(ctx, cs, "kpr-verify-c", map[string]string{"cilium": "node-a"},
		Options{RunID: "r", Timeout: 5 * time.Second, HostPort: DefaultHostPort, ExternalIPs: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Skipped) != 0 || len(d.Backends) != 1 {
		t.Fatalf("skipped %v, backends %+v", d.Skipped, d.Backends)
	}
	b := d.Backends[0]
	if b.ExternalIP != "10.0.0.7" || b.ExternalIPService != "externalip-cilium" || b.ExternalIPPort != ExternalIPPort || b.HostPortPod != "hostport-cilium" || b.HostPort != DefaultHostPort {
		t.Errorf("backend %+v", b)
	}
	// Created is the namespace, then what Objects lists, in that order.
	want := []string{"namespace/kpr-verify-c"}
	for _, o := range b.Objects() {
		want = append(want, strings.SplitN(o, " ", 2)[0])
	}
	if strings.Join(d.Created, ",") != strings.Join(want, ",") || len(want) != 8 {
		t.Errorf("created %v\nwant    %v", d.Created, want)
	}

	ns, _ := cs.CoreV1().Namespaces().Get(ctx, "kpr-verify-c", metav1.GetOptions{})
	if l := ns.Labels; l["pod-security.kubernetes.io/enforce"] != "privileged" || l["pod-security.kubernetes.io/warn"] != "" || l["pod-security.kubernetes.io/audit"] != "restricted" {
		t.Errorf("namespace labels %v", l)
	}

	svc := func(name string) *corev1.Service {
		s, err := cs.CoreV1().Services("kpr-verify-c").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("service %s: %v", name, err)
		}
		if s.Spec.Selector[ComponentLabel] != BackendValue || s.Spec.Selector[ClassLabel] != "cilium" || len(s.Spec.Selector) != 2 ||
			s.Labels["app.kubernetes.io/managed-by"] != "kubectl-kpr" || s.Labels[ComponentLabel] != BackendValue || s.Labels[ClassLabel] != "cilium" ||
			len(s.Spec.Ports) != 1 || s.Spec.Ports[0].TargetPort.StrVal != "http" {
			t.Errorf("service %s: labels %v selector %v ports %+v", name, s.Labels, s.Spec.Selector, s.Spec.Ports)
		}
		return s
	}
	if s := svc("backend-cilium"); s.Spec.Type != corev1.ServiceTypeNodePort || s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal || s.Labels[CheckLabel] != "" {
		t.Errorf("backend service %+v %v", s.Spec, s.Labels)
	}
	if s := svc("local-cilium"); s.Spec.Type != corev1.ServiceTypeNodePort || s.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal ||
		s.Labels[CheckLabel] != "etp-local" || s.Spec.Ports[0].Port != ServicePort {
		t.Errorf("local service %+v %v", s.Spec, s.Labels)
	}
	if s := svc("affinity-cilium"); s.Spec.Type != corev1.ServiceTypeClusterIP || s.Spec.SessionAffinity != corev1.ServiceAffinityClientIP ||
		*s.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds != 600 || s.Labels[CheckLabel] != "session-affinity" || s.Spec.Ports[0].Port != ServicePort {
		t.Errorf("affinity service %+v %v", s.Spec, s.Labels)
	}
	if s := svc("externalip-cilium"); s.Spec.Type != corev1.ServiceTypeClusterIP || strings.Join(s.Spec.ExternalIPs, ",") != "10.0.0.7" ||
		s.Spec.Ports[0].Port != 18081 || s.Labels[CheckLabel] != "externalip" {
		t.Errorf("externalIP service %+v %v", s.Spec, s.Labels)
	}

	pods, _ := cs.CoreV1().Pods("kpr-verify-c").List(ctx, metav1.ListOptions{LabelSelector: ComponentLabel + "=" + BackendValue + "," + ClassLabel + "=cilium"})
	if len(pods.Items) != 2 {
		t.Errorf("the class Services select %d pods, want both backends", len(pods.Items))
	}
	for _, p := range pods.Items {
		if p.Spec.Containers[0].Ports[0].HostPort != 0 || p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Values[0] != "node-a" {
			t.Errorf("backend pod %s: %+v", p.Name, p.Spec)
		}
	}
	hp, err := cs.CoreV1().Pods("kpr-verify-c").Get(ctx, "hostport-cilium", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := hp.Spec.Containers[0]
	if c.Ports[0].HostPort != 18080 || c.Ports[0].ContainerPort != Port || c.Ports[0].Name != "http" ||
		hp.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Values[0] != "node-a" {
		t.Errorf("hostPort pod %+v", hp.Spec)
	}
	if l := hp.Labels; l[ComponentLabel] != HostPortValue || l[ClassLabel] != "" || l[HostPortClassLabel] != "cilium" || l[CheckLabel] != "hostport" ||
		l["app.kubernetes.io/managed-by"] != "kubectl-kpr" || l[debugpod.RunIDLabel] != "r" {
		t.Errorf("hostPort pod labels %v", l)
	}
	if !*hp.Spec.SecurityContext.RunAsNonRoot || *c.SecurityContext.AllowPrivilegeEscalation || c.SecurityContext.Capabilities.Drop[0] != "ALL" {
		t.Errorf("hostPort pod not restricted-compliant apart from its hostPort: %+v", c.SecurityContext)
	}

	// Delete removes every pod by name (grace 0) before the namespace.
	cs.ClearActions()
	if err := d.Delete(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, a := range cs.Actions() {
		if a.Matches("list", "pods") {
			break
		}
		if da, ok := a.(k8stesting.DeleteAction); ok && a.GetResource().Resource == "pods" {
			deleted = append(deleted, da.GetName())
		}
	}
	if strings.Join(deleted, ",") != "backend-cilium,backend-cilium-2,hostport-cilium" {
		t.Errorf("pods deleted first: %v", deleted)
	}
}

func TestDeployWithoutHostPortOrExternalIPs(t *testing.T) {
	ctx := context.Background()
	cs := fakeCluster(t, nodeWithIP("node-a", "10.0.0.7"))
	d, err := Deploy(ctx, cs, "kpr-verify-n", map[string]string{"cilium": "node-a"}, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := cs.CoreV1().Namespaces().Get(ctx, "kpr-verify-n", metav1.GetOptions{})
	if l := ns.Labels; l["pod-security.kubernetes.io/enforce"] != "restricted" || l["pod-security.kubernetes.io/warn"] != "" || l["pod-security.kubernetes.io/audit"] != "" {
		t.Errorf("namespace labels %v", l)
	}
	pods, _ := cs.CoreV1().Pods("kpr-verify-n").List(ctx, metav1.ListOptions{})
	svcs, _ := cs.CoreV1().Services("kpr-verify-n").List(ctx, metav1.ListOptions{})
	if len(pods.Items) != 2 || len(svcs.Items) != 3 {
		t.Errorf("%d pods, %d services", len(pods.Items), len(svcs.Items))
	}
	for _, p := range pods.Items {
		if p.Labels[ComponentLabel] != BackendValue || p.Spec.Containers[0].Ports[0].HostPort != 0 {
			t.Errorf("pod %s labels %v", p.Name, p.Labels)
		}
	}
	if b := d.Backends[0]; b.HostPortPod != "" || b.HostPort != 0 || b.ExternalIPService != "" || b.ExternalIP != "" || len(d.Skipped) != 0 {
		t.Errorf("backend %+v, skipped %v", b, d.Skipped)
	}
}

func TestDeploySkipsARefusedExternalIP(t *testing.T) {
	gr := schema.GroupResource{Resource: "services"}
	for _, tc := range []struct {
		name string
		err  error
		want string // in the reason
	}{
		{"DenyServiceExternalIPs", apierrors.NewForbidden(gr, "externalip-cilium", errors.New("use of external IPs is denied by admission control")), "use of external IPs is denied"},
		{"policy webhook", apierrors.NewBadRequest(`admission webhook "validate.kyverno.svc-fail" denied the request:
policy Service/kpr-verify-x/externalip-cilium for resource violation: restrict-external-ips`), "restrict-external-ips"},
		{"ValidatingAdmissionPolicy", apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, "externalip-cilium", nil), "is invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cs := fakeCluster(t, nodeWithIP("node-a", "10.0.0.7"))
			cs.PrependReactor("create", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if len(a.(k8stesting.CreateAction).GetObject().(*corev1.Service).Spec.ExternalIPs) > 0 {
					return true, nil, tc.err
				}
				return false, nil, nil
			})
			d, err := Deploy(ctx, cs, "kpr-verify-x", map[string]string{"cilium": "node-a"},
				Options{Timeout: 5 * time.Second, ExternalIPs: true, HostPort: DefaultHostPort})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Skipped) != 1 || !strings.Contains(d.Skipped[0], "externalip-cilium") || !strings.Contains(d.Skipped[0], tc.want) ||
				!strings.Contains(d.Skipped[0], "refuses Services with externalIPs") || strings.Contains(d.Skipped[0], "\n") {
				t.Errorf("skipped %q", d.Skipped)
			}
			b := d.Backends[0]
			if b.ExternalIPService != "" || b.ExternalIP != "" || b.HostPortPod != "hostport-cilium" || b.LocalService != "local-cilium" {
				t.Errorf("backend %+v", b)
			}
			for _, o := range b.Objects() {
				if strings.Contains(o, "externalip") {
					t.Errorf("Objects lists the skipped Service: %s", o)
				}
			}
			if strings.Contains(strings.Join(d.Created, ","), "externalip") || len(d.Created) != 7 {
				t.Errorf("created %v", d.Created)
			}
			svcs, _ := cs.CoreV1().Services("kpr-verify-x").List(ctx, metav1.ListOptions{})
			if len(svcs.Items) != 3 {
				t.Errorf("%d services, want the other 3", len(svcs.Items))
			}
		})
	}
}

// A missing permission is no policy: the deployment fails, named.
func TestDeployFailsOnAnRBACRefusalOfTheExternalIPService(t *testing.T) {
	cs := fakeCluster(t, nodeWithIP("node-a", "10.0.0.7"))
	cs.PrependReactor("create", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if len(a.(k8stesting.CreateAction).GetObject().(*corev1.Service).Spec.ExternalIPs) > 0 {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "services"}, "externalip-cilium",
				errors.New(`User "u" cannot create resource "services" in API group "" in the namespace "kpr-verify-y"`))
		}
		return false, nil, nil
	})
	d, err := Deploy(context.Background(), cs, "kpr-verify-y", map[string]string{"cilium": "node-a"}, Options{Timeout: 5 * time.Second, ExternalIPs: true})
	var perm *PermissionError
	if !errors.As(err, &perm) || len(d.Skipped) != 0 {
		t.Fatalf("err %v, skipped %v", err, d.Skipped)
	}
}

func TestDeploySkipsTheExternalIPWithoutAnInternalIP(t *testing.T) {
	cs := fakeCluster(t, nodeWithIP("node-a", ""))
	d, err := Deploy(context.Background(), cs, "kpr-verify-z", map[string]string{"cilium": "node-a"}, Options{Timeout: 5 * time.Second, ExternalIPs: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Skipped) != 1 || !strings.Contains(d.Skipped[0], "node node-a has no InternalIP") || d.Backends[0].ExternalIPService != "" {
		t.Errorf("skipped %v, backend %+v", d.Skipped, d.Backends[0])
	}
	if strings.Contains(strings.Join(d.Created, ","), "externalip") {
		t.Errorf("created %v", d.Created)
	}
}

// Both backends must be listed: one is not enough for the checks that
// need two (session affinity).
func TestDeployWaitsForBothBackendsInTheEndpoints(t *testing.T) {
	cs := fake.NewClientset(nodeWithIP("node-a", "10.0.0.7"))
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		return false, nil, nil
	})
	cs.PrependReactor("create", "services", func(a k8stesting.Action) (bool, runtime.Object, error) {
		svc := a.(k8stesting.CreateAction).GetObject().(*corev1.Service)
		ready := true
		slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: svc.Name + "-x", Namespace: svc.Namespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "backend-cilium"}}}}
		go func() {
			_, _ = cs.DiscoveryV1().EndpointSlices(svc.Namespace).Create(context.Background(), slice, metav1.CreateOptions{})
		}()
		return false, nil, nil
	})
	_, err := Deploy(context.Background(), cs, "kpr-verify-w", map[string]string{"cilium": "node-a"}, Options{Timeout: 1500 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "Service local-cilium (backends on node-a): 1 of 2 backends ready") {
		t.Fatalf("err = %v", err)
	}
}

// The hostPort pod has no Service but must be ready, and its failures are
// named as its own.
func TestDeployWaitsForTheHostPortPod(t *testing.T) {
	cs := fakeCluster(t, nodeWithIP("node-a", "10.0.0.7"))
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "hostport-cilium" {
			p.Status.Phase = corev1.PodPending
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
				Message: "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports."}}
		}
		return false, nil, nil
	})
	_, err := Deploy(context.Background(), cs, "kpr-verify-h", map[string]string{"cilium": "node-a"}, Options{Timeout: 1500 * time.Millisecond, HostPort: DefaultHostPort})
	if err == nil || !strings.Contains(err.Error(), "hostport-cilium on node-a: not scheduled: 0/1 nodes are available: 1 node(s) didn't have free ports") ||
		strings.Contains(err.Error(), "backend-cilium") || strings.Contains(err.Error(), "Service") {
		t.Fatalf("err = %v", err)
	}

	cs = fakeCluster(t, nodeWithIP("node-a", "10.0.0.7"))
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "hostport-cilium" {
			p.Status.Phase, p.Status.Reason, p.Status.Message = corev1.PodFailed, "DeadlineExceeded", "too long"
		}
		return false, nil, nil
	})
	_, err = Deploy(context.Background(), cs, "kpr-verify-h", map[string]string{"cilium": "node-a"}, Options{Timeout: 5 * time.Second, HostPort: DefaultHostPort})
	if err == nil || !strings.Contains(err.Error(), "hostPort pod kpr-verify-h/hostport-cilium on node node-a cannot run: pod ended: DeadlineExceeded") {
		t.Fatalf("err = %v", err)
	}
}

// A cluster policy against hostPorts (Pod Security aside: kpr labels the
// namespace) skips the hostPort pod, not the run.
func TestDeploySkipsARefusedHostPortPod(t *testing.T) {
	cs := fakeCluster(t, nodeWithIP("node-a", "10.0.0.7"))
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.CreateAction).GetObject().(*corev1.Pod).Spec.Containers[0].Ports[0].HostPort != 0 {
			return true, nil, apierrors.NewBadRequest(`admission webhook "validation.gatekeeper.sh" denied the request: [host-ports] hostPort 18080 is not allowed`)
		}
		return false, nil, nil
	})
	d, err := Deploy(context.Background(), cs, "kpr-verify-k", map[string]string{"cilium": "node-a"}, Options{Timeout: 5 * time.Second, HostPort: DefaultHostPort})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Skipped) != 1 || !strings.Contains(d.Skipped[0], "hostport-cilium") || !strings.Contains(d.Skipped[0], "hostPort 18080 is not allowed") ||
		d.Backends[0].HostPortPod != "" || d.Backends[0].HostPort != 0 || strings.Contains(strings.Join(d.Created, ","), "hostport") {
		t.Errorf("skipped %v, backend %+v, created %v", d.Skipped, d.Backends[0], d.Created)
	}
}
