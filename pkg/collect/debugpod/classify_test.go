package debugpod

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func podWith(phase corev1.PodPhase, state corev1.ContainerState) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "kpr-n1-abcde", Namespace: "kube-system"},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: ContainerName, Image: "example/img:1"}}},
		Status: corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{
			{Name: ContainerName, State: state},
		}},
	}
}

func TestPodState(t *testing.T) {
	waiting := func(reason, msg string) corev1.ContainerState {
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
	}
	now := metav1.Now()
	deleting := podWith(corev1.PodPending, waiting("ContainerCreating", ""))
	deleting.DeletionTimestamp = &now
	failedNoStatus := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "DeadlineExceeded", Message: "Pod was active on the node longer than the specified deadline"}}
	cases := []struct {
		name      string
		pod       *corev1.Pod
		done      bool
		reason    Reason
		detailHas string
		hintHas   string
	}{
		{"running", podWith(corev1.PodRunning, corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}), true, "", "", ""},
		{"creating", podWith(corev1.PodPending, waiting("ContainerCreating", "")), false, "", "", ""},
		{"not yet scheduled by kubelet", &corev1.Pod{}, false, "", "", ""},
		{"err image pull", podWith(corev1.PodPending, waiting("ErrImagePull", "rpc error: pull access denied\nmore")), true, ReasonImagePull, "cannot pull image example/img:1: ErrImagePull: rpc error: pull access denied", "--image"},
		{"backoff", podWith(corev1.PodPending, waiting("ImagePullBackOff", "Back-off pulling image")), true, ReasonImagePull, "ImagePullBackOff", "--image-pull-secret"},
		{"invalid name", podWith(corev1.PodPending, waiting("InvalidImageName", "")), true, ReasonImagePull, "InvalidImageName", ""},
		{"config error", podWith(corev1.PodPending, waiting("CreateContainerConfigError", "secret not found")), true, ReasonContainer, "CreateContainerConfigError: secret not found", ""},
		{"exited", podWith(corev1.PodFailed, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 127, Message: "sh: not found"}}), true, ReasonPodFailed, "exit code 127", "sh"},
		{"deadline", failedNoStatus, true, ReasonPodFailed, "DeadlineExceeded", ""},
		{"deleting", deleting, true, ReasonPodDeleted, "being deleted", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			done, err := PodState(c.pod)
			if done != c.done {
				t.Fatalf("done = %v, want %v (err %v)", done, c.done, err)
			}
			if c.reason == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var se *StartError
			if !errors.As(err, &se) {
				t.Fatalf("want *StartError, got %T %v", err, err)
			}
			if se.Reason != c.reason || !strings.Contains(se.Detail, c.detailHas) || !strings.Contains(se.Hint, c.hintHas) {
				t.Errorf("got reason %q detail %q hint %q; want %q, detail containing %q, hint containing %q", se.Reason, se.Detail, se.Hint, c.reason, c.detailHas, c.hintHas)
			}
			if strings.Contains(se.Error(), "\n") {
				t.Errorf("error must be one line: %q", se.Error())
			}
		})
	}
}

func TestClassifyCreateError(t *testing.T) {
	gr := schema.GroupResource{Resource: "pods"}
	// The API server's own wording: pod-security-admission admission.go
	// ("violates PodSecurity %q: %s") and RBAC's "cannot create resource".
	psa := apierrors.NewForbidden(gr, "kpr-n1-abcde", errors.New(`violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true, hostPID=true), privileged (container "kpr" must not set securityContext.privileged=true), hostPath volumes (volume "host-root")`))
	rbac := apierrors.NewForbidden(gr, "", errors.New(`User "viewer" cannot create resource "pods" in API group "" in the namespace "kube-system"`))
	quota := apierrors.NewForbidden(gr, "kpr-n1-abcde", errors.New("exceeded quota: q, requested: pods=1, used: pods=10, limited: pods=10"))
	webhook := apierrors.NewForbidden(gr, "kpr-n1-abcde", errors.New(`admission webhook "deny.example" denied the request: no privileged pods`))
	cases := []struct {
		err    error
		reason Reason
		has    []string
	}{
		{psa, ReasonPodSecurity, []string{`namespace kube-system enforces Pod Security "baseline"`, "pod-security.kubernetes.io/enforce=privileged", "--debug-namespace"}},
		{rbac, ReasonForbidden, []string{"missing permission `create pods` in namespace kube-system"}},
		{quota, ReasonQuota, []string{"exceeded quota"}},
		{webhook, ReasonAdmission, []string{"deny.example", "--debug-namespace"}},
		{apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "kube-system"), ReasonNamespace, []string{"namespace kube-system does not exist"}},
	}
	for _, c := range cases {
		err := ClassifyCreateError(c.err, "n1", "kube-system")
		var se *StartError
		if !errors.As(err, &se) {
			t.Fatalf("%v: want *StartError, got %T", c.err, err)
		}
		if se.Reason != c.reason {
			t.Errorf("%v: reason %q, want %q", c.err, se.Reason, c.reason)
		}
		for _, h := range c.has {
			if !strings.Contains(se.Error(), h) {
				t.Errorf("%v: message %q lacks %q", c.err, se.Error(), h)
			}
		}
	}
	other := ClassifyCreateError(errors.New("connection refused"), "n1", "kube-system")
	var se *StartError
	if errors.As(other, &se) || !strings.Contains(other.Error(), "connection refused") {
		t.Errorf("transport errors pass through wrapped, got %v", other)
	}
}

func TestNodeState(t *testing.T) {
	ready := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	if err := NodeState(ready); err != nil {
		t.Errorf("ready node: %v", err)
	}
	notReady := ready.DeepCopy()
	notReady.Status.Conditions[0] = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown"}
	var se *StartError
	if err := NodeState(notReady); !errors.As(err, &se) || se.Reason != ReasonNodeNotReady || !strings.Contains(se.Detail, "NodeStatusUnknown") {
		t.Errorf("NotReady node: got %v", err)
	}
	windows := ready.DeepCopy()
	windows.Labels = map[string]string{"kubernetes.io/os": "windows"}
	if err := NodeState(windows); !errors.As(err, &se) || se.Reason != ReasonUnsupportedNode {
		t.Errorf("Windows node: got %v", err)
	}
}
