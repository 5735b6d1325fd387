package debugpod

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
)

func readyNode(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
}

// harness is a fake API server whose pod watch the test drives: after the
// debug pod is created, next(pod) is sent as a Modified event.
type harness struct {
	cs      *fake.Clientset
	watcher *watch.FakeWatcher
	created chan *corev1.Pod
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	h := &harness{cs: fake.NewClientset(objs...), watcher: watch.NewFakeWithChanSize(10, false), created: make(chan *corev1.Pod, 10)}
	h.cs.PrependWatchReactor("pods", k8stesting.DefaultWatchReactor(h.watcher, nil))
	h.cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		h.created <- a.(k8stesting.CreateAction).GetObject().(*corev1.Pod).DeepCopy()
		return false, nil, nil
	})
	return h
}

func (h *harness) podCount(t *testing.T) int {
	t.Helper()
	l, err := h.cs.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return len(l.Items)
}

// afterCreate sends mutate(pod) as the pod's next watch event.
func (h *harness) afterCreate(mutate func(*corev1.Pod)) {
	go func() {
		p := <-h.created
		mutate(p)
		h.watcher.Modify(p)
	}()
}

func opts() Options {
	return Options{Namespace: "kube-system", Timeout: 2 * time.Second, RunID: "run1"}
}

func TestStartRunningThenRelease(t *testing.T) {
	h := newHarness(t, readyNode("n1"))
	h.afterCreate(func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: ContainerName, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	})
	m := NewManager(h.cs, nil, opts())
	p, err := m.Start(context.Background(), "n1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Node != "n1" || p.Namespace != "kube-system" || !strings.HasPrefix(p.Name, "kpr-n1-") {
		t.Errorf("pod handle %+v", p)
	}
	if n := h.podCount(t); n != 1 {
		t.Fatalf("%d pods while running, want 1", n)
	}
	if err := m.Release(p); err != nil {
		t.Fatal(err)
	}
	if n := h.podCount(t); n != 0 {
		t.Errorf("%d pods after release, want 0", n)
	}
}

func TestStartImagePullFailsFastAndDeletes(t *testing.T) {
	h := newHarness(t, readyNode("n1"))
	h.afterCreate(func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodPending
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: ContainerName, State: corev1.ContainerState{
			Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "pull access denied"}}}}
	})
	o := opts()
	o.Timeout = 30 * time.Second
	m := NewManager(h.cs, nil, o)
	start := time.Now()
	_, err := m.Start(context.Background(), "n1")
	var se *StartError
	if !errors.As(err, &se) || se.Reason != ReasonImagePull {
		t.Fatalf("want ImagePull StartError, got %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("image pull failure took %v: must fail fast, not wait for --timeout", time.Since(start))
	}
	if n := h.podCount(t); n != 0 {
		t.Errorf("%d pods left after a failed start, want 0", n)
	}
}

func TestStartKeepLeavesFailedPod(t *testing.T) {
	h := newHarness(t, readyNode("n1"))
	h.afterCreate(func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: ContainerName, State: corev1.ContainerState{
			Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}}
	})
	o := opts()
	o.Keep = true
	m := NewManager(h.cs, nil, o)
	if _, err := m.Start(context.Background(), "n1"); err == nil {
		t.Fatal("want error")
	}
	if n := h.podCount(t); n != 1 {
		t.Errorf("--keep: %d pods, want the failed one kept", n)
	}
	if len(m.Kept()) != 1 || len(m.Cleanup()) != 0 || h.podCount(t) != 1 {
		t.Errorf("--keep: Cleanup must leave the pod, Kept() = %v", m.Kept())
	}
}

func TestStartNodeMissingCreatesNothing(t *testing.T) {
	h := newHarness(t)
	m := NewManager(h.cs, nil, opts())
	_, err := m.Start(context.Background(), "ghost")
	var se *StartError
	if !errors.As(err, &se) || se.Reason != ReasonNodeNotFound {
		t.Fatalf("want NodeNotFound, got %v", err)
	}
	if n := h.podCount(t); n != 0 {
		t.Errorf("%d pods created for a missing node", n)
	}
}

func TestStartNodeGoesNotReadyWhileWaiting(t *testing.T) {
	h := newHarness(t, readyNode("n1"))
	go func() {
		<-h.created
		n := readyNode("n1")
		n.Status.Conditions[0].Status = corev1.ConditionFalse
		n.Status.Conditions[0].Reason = "KubeletNotReady"
		_, _ = h.cs.CoreV1().Nodes().UpdateStatus(context.Background(), n, metav1.UpdateOptions{})
	}()
	m := NewManager(h.cs, nil, opts())
	m.NodeCheckInterval = 20 * time.Millisecond
	_, err := m.Start(context.Background(), "n1")
	var se *StartError
	if !errors.As(err, &se) || se.Reason != ReasonNodeNotReady || se.Pod == "" {
		t.Fatalf("want NodeNotReady naming the pod, got %v", err)
	}
	if n := h.podCount(t); n != 0 {
		t.Errorf("%d pods left", n)
	}
}

func TestStartTimesOut(t *testing.T) {
	h := newHarness(t, readyNode("n1"))
	o := opts()
	o.Timeout = 150 * time.Millisecond
	m := NewManager(h.cs, nil, o)
	_, err := m.Start(context.Background(), "n1")
	var se *StartError
	if !errors.As(err, &se) || se.Reason != ReasonTimeout || !strings.Contains(se.Detail, "150ms") {
		t.Fatalf("want Timeout naming the duration, got %v", err)
	}
	if n := h.podCount(t); n != 0 {
		t.Errorf("%d pods left after timeout", n)
	}
}

func TestInterruptedStartThenCleanup(t *testing.T) {
	h := newHarness(t, readyNode("n1"), readyNode("n2"))
	// A pod of another run must survive this run's cleanup.
	other := Build("n2", Options{Namespace: "kube-system", RunID: "other"})
	if _, err := h.cs.CoreV1().Pods("kube-system").Create(context.Background(), other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	<-h.created
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-h.created; cancel() }()
	m := NewManager(h.cs, nil, Options{Namespace: "kube-system", Timeout: 10 * time.Second, RunID: "run1"})
	_, err := m.Start(ctx, "n1")
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("want interrupted error, got %v", err)
	}
	if errs := m.Cleanup(); len(errs) > 0 {
		t.Fatal(errs)
	}
	l, _ := h.cs.CoreV1().Pods("kube-system").List(context.Background(), metav1.ListOptions{})
	if len(l.Items) != 1 || l.Items[0].Labels[RunIDLabel] != "other" {
		t.Errorf("after cleanup: %d pods, want only the other run's", len(l.Items))
	}
}

func TestCleanupFindsPodsByRunLabel(t *testing.T) {
	h := newHarness(t)
	// Created by this run but its create response was lost (interrupt).
	lost := Build("n1", Options{Namespace: "kube-system", RunID: "run1"})
	if _, err := h.cs.CoreV1().Pods("kube-system").Create(context.Background(), lost, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	m := NewManager(h.cs, nil, opts())
	if errs := m.Cleanup(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if n := h.podCount(t); n != 0 {
		t.Errorf("%d pods left", n)
	}
}

func TestStartPodSecurityRejection(t *testing.T) {
	h := newHarness(t, readyNode("n1"))
	h.cs.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "x",
			errors.New(`violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)`))
	})
	m := NewManager(h.cs, nil, opts())
	_, err := m.Start(context.Background(), "n1")
	var se *StartError
	if !errors.As(err, &se) || se.Reason != ReasonPodSecurity || !strings.Contains(err.Error(), "pod-security.kubernetes.io/enforce=privileged") {
		t.Fatalf("want PodSecurity error with the label, got %v", err)
	}
}

type hangingExec struct{}

func (hangingExec) Exec(ctx context.Context, _, _, _ string, _ []string) (collect.ExecResult, error) {
	<-ctx.Done()
	return collect.ExecResult{}, ctx.Err()
}

func TestExecIsBoundedByTimeout(t *testing.T) {
	m := NewManager(fake.NewClientset(), hangingExec{}, Options{Timeout: 100 * time.Millisecond})
	p := &Pod{Name: "kpr-n1-x", Namespace: "kube-system", Node: "n1", m: m}
	start := time.Now()
	_, err := ReadHost(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "raise --timeout") {
		t.Fatalf("want a timeout error, got %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("a hung exec took %s", time.Since(start))
	}
}

func TestForNodesDeletesEveryPod(t *testing.T) {
	h := newHarness(t, readyNode("n1"), readyNode("n2"))
	h.cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: ContainerName, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		return false, nil, nil
	})
	m := NewManager(h.cs, nil, opts())
	seen := make([]string, 2)
	errs := m.ForNodes(context.Background(), []string{"n1", "ghost", "n2"}, 2, func(_ context.Context, i int, p *Pod) error {
		if h.podCount(t) == 0 {
			t.Error("pod must exist while fn runs")
		}
		if i != 1 {
			seen[i/2] = p.Node
		}
		if p.Node == "n2" {
			return errors.New("boom")
		}
		return nil
	})
	if errs[0] != nil || errs[2] == nil || errs[2].Error() != "boom" {
		t.Errorf("errs = %v", errs)
	}
	var se *StartError
	if !errors.As(errs[1], &se) || se.Reason != ReasonNodeNotFound {
		t.Errorf("ghost node: %v", errs[1])
	}
	if seen[0] != "n1" || seen[1] != "n2" {
		t.Errorf("fn saw %v", seen)
	}
	if n := h.podCount(t); n != 0 {
		t.Errorf("%d pods left", n)
	}
}
