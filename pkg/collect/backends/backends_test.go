package backends

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
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
	cs := fake.NewClientset(taintedNode())
	// The fake API has no kubelet and no EndpointSlice controller: play them.
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		ready := true
		slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: p.Name + "-x", Namespace: p.Namespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: p.Name}},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.11.5"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}}}
		// Not inline: the fake holds its lock while a reactor runs.
		go func() {
			_, _ = cs.DiscoveryV1().EndpointSlices(p.Namespace).Create(context.Background(), slice, metav1.CreateOptions{})
		}()
		return false, nil, nil
	})
	d, err := Deploy(context.Background(), cs, "kpr-verify-t", map[string]string{"cilium": "node-cilium"}, Options{RunID: "r", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.Created, ","); got != "namespace/kpr-verify-t,pod/kpr-verify-t/backend-cilium,service/kpr-verify-t/backend-cilium" {
		t.Errorf("created %s", got)
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
	if len(d.Created) != 3 {
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
