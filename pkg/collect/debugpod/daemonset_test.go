package debugpod

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
)

// fakeDaemonSetController plays the DaemonSet controller, the scheduler and
// the kubelets of a fake API server: when kpr creates its DaemonSet, it
// creates one pod per node named in the affinity, bound to the node, with
// the status podFor returns (nil: no pod at all, as when the controller
// cannot create it). It also implements DeleteCollection, which the fake
// object tracker lacks.
type fakeDaemonSetController struct {
	cs       *fake.Clientset
	mu       sync.Mutex
	dryRuns  int
	podFor   func(node string) *corev1.PodStatus
	created  *appsv1.DaemonSet
	execs    map[string]int // pod name -> execs
	podNodes map[string]string
}

func newFakeDaemonSetController(t *testing.T, podFor func(node string) *corev1.PodStatus, objs ...runtime.Object) *fakeDaemonSetController {
	t.Helper()
	f := &fakeDaemonSetController{cs: fake.NewClientset(objs...), podFor: podFor, execs: map[string]int{}, podNodes: map[string]string{}}
	f.cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca := a.(k8stesting.CreateActionImpl)
		if len(ca.CreateOptions.DryRun) > 0 {
			f.mu.Lock()
			f.dryRuns++
			f.mu.Unlock()
			return true, ca.GetObject(), nil
		}
		return false, nil, nil
	})
	f.cs.PrependReactor("create", "daemonsets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ds := a.(k8stesting.CreateAction).GetObject().(*appsv1.DaemonSet).DeepCopy()
		f.mu.Lock()
		f.created = ds
		f.mu.Unlock()
		go f.makePods(t, ds)
		return false, nil, nil
	})
	f.cs.PrependReactor("delete-collection", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sel := a.(k8stesting.DeleteCollectionAction).GetListRestrictions().Labels
		list, err := f.cs.Tracker().List(corev1.SchemeGroupVersion.WithResource("pods"), corev1.SchemeGroupVersion.WithKind("Pod"), a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		for _, p := range list.(*corev1.PodList).Items {
			if sel.Matches(labels.Set(p.Labels)) {
				_ = f.cs.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), p.Namespace, p.Name)
			}
		}
		return true, nil, nil
	})
	return f
}

func (f *fakeDaemonSetController) makePods(t *testing.T, ds *appsv1.DaemonSet) {
	for _, term := range ds.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		node := term.MatchFields[0].Values[0]
		st := f.podFor(node)
		if st == nil {
			continue
		}
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: ds.Name + "-" + node, Namespace: ds.Namespace, Labels: ds.Spec.Template.Labels},
			Spec:       *ds.Spec.Template.Spec.DeepCopy(),
			Status:     *st,
		}
		p.Spec.NodeName = node
		f.mu.Lock()
		f.podNodes[p.Name] = node
		f.mu.Unlock()
		if _, err := f.cs.CoreV1().Pods(ds.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Errorf("fake controller: %v", err)
		}
	}
}

func (f *fakeDaemonSetController) Exec(_ context.Context, ns, pod, container string, cmd []string) (collect.ExecResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execs[pod]++
	return collect.ExecResult{Stdout: []byte("on " + f.podNodes[pod])}, nil
}

func running() *corev1.PodStatus {
	return &corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
		Name: ContainerName, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}
}

func notReadyNode(name string) *corev1.Node {
	n := readyNode(name)
	n.Status.Conditions[0].Status = corev1.ConditionFalse
	return n
}

func TestDaemonSetModeChecksEveryNodeItCan(t *testing.T) {
	f := newFakeDaemonSetController(t, func(node string) *corev1.PodStatus {
		switch node {
		case "pull-fails":
			return &corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
				Name: ContainerName, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "no such host"}}}}}
		case "no-pod":
			return nil
		}
		return running()
	}, readyNode("a"), readyNode("b"), readyNode("pull-fails"), readyNode("no-pod"), notReadyNode("down"),
		&corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "ev", Namespace: "kube-system"}, Type: corev1.EventTypeWarning, Reason: "FailedCreate",
			InvolvedObject: corev1.ObjectReference{Kind: "DaemonSet", Name: DaemonSetName("run1"), Namespace: "kube-system"},
			Message:        `pods "x" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=3, limited: pods=3`, LastTimestamp: metav1.Now()})
	m := NewManager(f.cs, f, Options{Mode: ModeDaemonSet, RunID: "run1", Timeout: 300 * time.Millisecond})
	var progress []int
	m.Progress = func(done, total, failed int) { progress = append(progress, done) }
	nodes := []string{"a", "b", "pull-fails", "no-pod", "down", "gone"}
	var mu sync.Mutex
	got := map[string]string{}
	errs := m.ForNodes(context.Background(), nodes, 2, func(ctx context.Context, i int, p *Pod) error {
		res, err := p.Exec(ctx, []string{"true"})
		mu.Lock()
		got[nodes[i]] = string(res.Stdout)
		mu.Unlock()
		if p.Node != nodes[i] {
			t.Errorf("fn(%d) got the pod of %s", i, p.Node)
		}
		return err
	})
	if got["a"] != "on a" || got["b"] != "on b" || len(got) != 2 {
		t.Errorf("checked %v, want exactly a and b, each through its own pod", got)
	}
	want := map[string]Reason{"pull-fails": ReasonImagePull, "no-pod": ReasonQuota, "down": ReasonNodeNotReady, "gone": ReasonNodeNotFound}
	for i, n := range nodes {
		var se *StartError
		if r, bad := want[n]; bad {
			if !errors.As(errs[i], &se) || se.Reason != r || se.Node != n {
				t.Errorf("node %s: err %v, want a %s StartError naming it", n, errs[i], r)
			}
		} else if errs[i] != nil {
			t.Errorf("node %s: %v", n, errs[i])
		}
	}
	if len(progress) != len(nodes) || progress[len(progress)-1] != len(nodes) {
		t.Errorf("progress calls %v, want one per node ending at %d", progress, len(nodes))
	}
	if f.dryRuns != 1 {
		t.Errorf("%d dry-run pod creates, want 1", f.dryRuns)
	}
	ds := f.created
	if ds == nil {
		t.Fatal("no DaemonSet created")
	}
	if n := len(ds.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms); n != 4 {
		t.Errorf("affinity names %d nodes, want the 4 Ready ones", n)
	}
	if len(ds.OwnerReferences) != 1 || ds.OwnerReferences[0].Kind != "Job" {
		t.Errorf("DaemonSet owners %+v, want the anchor Job", ds.OwnerReferences)
	}
	if errs := m.Cleanup(); len(errs) > 0 {
		t.Fatal(errs)
	}
	ctx := context.Background()
	if l, _ := f.cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("daemonsets left: %d", len(l.Items))
	}
	if l, _ := f.cs.BatchV1().Jobs("").List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("jobs left: %d", len(l.Items))
	}
	if l, _ := f.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("pods left: %d", len(l.Items))
	}
}

func TestDaemonSetModeRefusedPodFailsEveryNodeAtOnce(t *testing.T) {
	f := newFakeDaemonSetController(t, func(string) *corev1.PodStatus { return running() }, readyNode("a"), readyNode("b"))
	f.cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "x", errors.New(`violates PodSecurity "baseline:latest": privileged`))
	})
	m := NewManager(f.cs, f, Options{Mode: ModeDaemonSet, RunID: "run2", Timeout: time.Minute})
	start := time.Now()
	errs := m.ForNodes(context.Background(), []string{"a", "b"}, 2, func(context.Context, int, *Pod) error {
		t.Error("fn called although no pod may be created")
		return nil
	})
	for i, err := range errs {
		var se *StartError
		if !errors.As(err, &se) || se.Reason != ReasonPodSecurity {
			t.Errorf("node %d: %v, want PodSecurity", i, err)
		}
	}
	if time.Since(start) > 10*time.Second || f.created != nil {
		t.Errorf("waited %s / created a DaemonSet although the dry run was refused", time.Since(start))
	}
}

func TestBuildDaemonSetKeepsThePodShape(t *testing.T) {
	o := Options{RunID: "r", Namespace: "ns", Timeout: time.Minute}
	ds := BuildDaemonSet([]string{"b", "a"}, o, nil)
	spec := ds.Spec.Template.Spec
	if spec.RestartPolicy != corev1.RestartPolicyAlways || spec.ActiveDeadlineSeconds != nil {
		t.Errorf("restart %s deadline %v: a DaemonSet needs Always and no deadline", spec.RestartPolicy, spec.ActiveDeadlineSeconds)
	}
	if !spec.HostNetwork || !spec.HostPID || !*spec.Containers[0].SecurityContext.Privileged || spec.Tolerations[0].Operator != corev1.TolerationOpExists {
		t.Error("the DaemonSet's pods lost the debug pod's privileges or tolerations")
	}
	terms := spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 2 || terms[0].MatchFields[0].Values[0] != "a" || terms[0].MatchFields[0].Key != "metadata.name" {
		t.Errorf("terms %+v, want one metadata.name term per node, sorted", terms)
	}
	if ds.Labels[RunIDLabel] != "r" || ds.Spec.Template.Labels[ManagedByLabel] != ManagedByValue || ds.Spec.Selector.MatchLabels[RunIDLabel] != "r" {
		t.Errorf("labels %v / template %v: cleanup and the run's watch select on them", ds.Labels, ds.Spec.Template.Labels)
	}
	job := BuildAnchorJob(o)
	if *job.Spec.Parallelism != 0 || *job.Spec.TTLSecondsAfterFinished != 0 || *job.Spec.ActiveDeadlineSeconds != int64(o.WithDefaults().Lifetime/time.Second) {
		t.Errorf("anchor job %+v: wants parallelism 0, TTL 0 and the pods' lifetime as deadline", job.Spec)
	}
}

func TestModeChoice(t *testing.T) {
	for _, c := range []struct {
		mode Mode
		n    int
		want bool
	}{{ModeAuto, AutoDaemonSetAbove, false}, {ModeAuto, AutoDaemonSetAbove + 1, true}, {ModePods, 1000, false}, {ModeDaemonSet, 1, true}} {
		m := NewManager(fake.NewClientset(), nil, Options{Mode: c.mode})
		if got := m.UsesDaemonSet(c.n); got != c.want {
			t.Errorf("%s at %d nodes: daemonset %v, want %v", c.mode, c.n, got, c.want)
		}
	}
	if _, err := ParseMode("ds"); err == nil || !strings.Contains(err.Error(), "auto, pods or daemonset") {
		t.Errorf("ParseMode(ds) = %v", err)
	}
}

func TestTargetNodeBeforeBinding(t *testing.T) {
	ds := BuildDaemonSet([]string{"n1"}, Options{RunID: "r"}, nil)
	p := &corev1.Pod{Spec: ds.Spec.Template.Spec}
	if got := TargetNode(p); got != "n1" {
		t.Errorf("TargetNode = %q, want n1 from the affinity", got)
	}
}

// Auto mode picked the DaemonSet for speed: a user who may create pods but
// not Jobs/DaemonSets still gets every node checked, through per-node pods,
// and is told so.
func TestAutoModeFallsBackToPodsWhenDaemonSetsAreForbidden(t *testing.T) {
	var objs []runtime.Object
	var nodes []string
	for i := 0; i <= AutoDaemonSetAbove; i++ {
		n := fmt.Sprintf("n%02d", i)
		nodes = append(nodes, n)
		objs = append(objs, readyNode(n))
	}
	f := newFakeDaemonSetController(t, func(string) *corev1.PodStatus { return running() }, objs...)
	forbid := func(res string) k8stesting.ReactionFunc {
		return func(a k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: res}, "", errors.New(`User "u" cannot create resource "`+res+`" in API group "" in the namespace "kube-system"`))
		}
	}
	f.cs.PrependReactor("create", "jobs", forbid("jobs"))
	// Per-node pods come up Running at once (the fake has no kubelet).
	f.cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca := a.(k8stesting.CreateActionImpl)
		if len(ca.CreateOptions.DryRun) > 0 {
			return false, nil, nil
		}
		p := ca.GetObject().(*corev1.Pod)
		p.Status = *running()
		f.mu.Lock()
		f.podNodes[p.Name] = p.Spec.NodeName
		f.mu.Unlock()
		return false, nil, nil
	})
	m := NewManager(f.cs, f, Options{Mode: ModeAuto, RunID: "run3", Timeout: 5 * time.Second})
	var warned []string
	m.Warn = func(s string) { warned = append(warned, s) }
	errs := m.ForNodes(context.Background(), nodes, 4, func(ctx context.Context, i int, p *Pod) error {
		res, err := p.Exec(ctx, []string{"true"})
		if string(res.Stdout) != "on "+nodes[i] {
			t.Errorf("node %s ran in the pod of %q", nodes[i], res.Stdout)
		}
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %s: %v", nodes[i], err)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "create jobs") || !strings.Contains(warned[0], "--mode pods") {
		t.Errorf("warnings %q, want one naming the missing permission and the fallback", warned)
	}
	if f.created != nil {
		t.Error("a DaemonSet was created although its anchor Job was refused")
	}
}

func TestPendingStateSaysWhyTheSchedulerRefused(t *testing.T) {
	p := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/3 nodes are available: 1 Insufficient memory."}}}}
	if got := pendingState(p); !strings.Contains(got, "not scheduled: Unschedulable: 0/3 nodes are available: 1 Insufficient memory.") {
		t.Errorf("pendingState = %q", got)
	}
}

func TestCleanupControllersFindsAndDeletesDaemonSetsAndJobs(t *testing.T) {
	o := Options{RunID: "left", Namespace: "kube-system"}
	job := BuildAnchorJob(o)
	ds := BuildDaemonSet([]string{"n1"}, o, job)
	other := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "cilium", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "cilium"}}}
	cs := fake.NewClientset(job, ds, other)
	// kpr-inspector: Jobs listable in kube-system only.
	cs.PrependReactor("list", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetNamespace() == "" {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "batch", Resource: "jobs"}, "", errors.New("cluster-wide list forbidden"))
		}
		return false, nil, nil
	})
	ctx := context.Background()
	left, err := CleanupControllers(ctx, cs, true)
	if err != nil || len(left) != 2 || left[0].Kind != "daemonset" || left[1].Kind != "job" || left[0].RunID != "left" {
		t.Fatalf("dry run: %+v, %v; want kpr's DaemonSet and Job", left, err)
	}
	if l, _ := cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{}); len(l.Items) != 2 {
		t.Fatal("the dry run deleted something")
	}
	if left, err = CleanupControllers(ctx, cs, false); err != nil || len(left) != 2 {
		t.Fatalf("cleanup: %+v, %v", left, err)
	}
	if l, _ := cs.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{}); len(l.Items) != 1 || l.Items[0].Name != "cilium" {
		t.Errorf("DaemonSets left %+v: want only Cilium's", l.Items)
	}
	if l, _ := cs.BatchV1().Jobs("kube-system").List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("jobs left: %d", len(l.Items))
	}
}
