package debugpod

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	clientfeatures "k8s.io/client-go/features"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// The tests of what wait.go's comment lists; the others are in
// manager_test.go and daemonset_test.go.

// scriptedAPI is a fake API server that counts the pod LISTs, records the
// pod WATCHes' options and answers each WATCH with the next scripted reply
// (an open, silent watch when none is left).
type scriptedAPI struct {
	cs      *fake.Clientset
	mu      sync.Mutex
	lists   int
	watches []metav1.ListOptions
	replies []watchReply
	// onList runs before the nth LIST (from 1); an error answers it. It
	// may change the objects through cs.Tracker() (not through cs).
	onList func(n int) error
}

// watchReply is one WATCH's answer: err, or a watch that sends events
// (after delay) and then, with closed, ends.
type watchReply struct {
	events []watch.Event
	closed bool
	err    error
	delay  time.Duration
}

func newScriptedAPI(objs ...runtime.Object) *scriptedAPI {
	s := &scriptedAPI{cs: fake.NewClientset(objs...)}
	s.cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		s.mu.Lock()
		s.lists++
		n, f := s.lists, s.onList
		s.mu.Unlock()
		if f != nil {
			if err := f(n); err != nil {
				return true, nil, err
			}
		}
		return false, nil, nil
	})
	s.cs.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		s.mu.Lock()
		s.watches = append(s.watches, a.(k8stesting.WatchActionImpl).ListOptions)
		var r watchReply
		if len(s.replies) > 0 {
			r, s.replies = s.replies[0], s.replies[1:]
		}
		s.mu.Unlock()
		if r.err != nil {
			return true, nil, r.err
		}
		w := watch.NewRaceFreeFake()
		send := func() {
			for _, ev := range r.events {
				w.Action(ev.Type, ev.Object)
			}
			if r.closed {
				w.Stop()
			}
		}
		if r.delay > 0 {
			time.AfterFunc(r.delay, send)
		} else {
			send()
		}
		return true, w, nil
	})
	return s
}

func (s *scriptedAPI) script(replies ...watchReply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, replies...)
}

func (s *scriptedAPI) calls() (lists int, watches []metav1.ListOptions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists, append([]metav1.ListOptions(nil), s.watches...)
}

var podsGVR = corev1.SchemeGroupVersion.WithResource("pods")

// createPod stores a debug pod for node n1 as Start's create would.
func createPod(t *testing.T, cs kubernetes.Interface, o Options) *corev1.Pod {
	t.Helper()
	p, err := cs.CoreV1().Pods(o.Namespace).Create(context.Background(), Build("n1", o), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func withStatus(p *corev1.Pod, st corev1.PodStatus) *corev1.Pod {
	p = p.DeepCopy()
	p.Status = st
	return p
}

func runningStatus() corev1.PodStatus { return *running() }

func statusEvent(code int32, reason metav1.StatusReason, msg string) watch.Event {
	return watch.Event{Type: watch.Error, Object: &metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: msg}}
}

func forbidden(res string) error {
	return apierrors.NewForbidden(schema.GroupResource{Resource: res}, "", errors.New("User \"u\" cannot "+res))
}

func TestWaitRunningAtCreateMakesNoCalls(t *testing.T) {
	s := newScriptedAPI(readyNode("n1"))
	m := NewManager(s.cs, nil, opts())
	p := withStatus(Build("n1", m.Opts), runningStatus())
	if err := m.wait(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if len(s.cs.Actions()) != 0 {
		t.Errorf("calls %v for a pod that runs already", s.cs.Actions())
	}
}

func TestWaitEndsOnEveryPodStateVerdict(t *testing.T) {
	waiting := func(reason string) corev1.PodStatus {
		return corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: ContainerName,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}}}
	}
	for _, c := range []struct {
		name     string
		st       corev1.PodStatus
		deleting bool
		want     Reason // "" = runs
	}{
		{"phase Running before any container status", corev1.PodStatus{Phase: corev1.PodRunning}, false, ""},
		{"ImagePullBackOff", waiting("ImagePullBackOff"), false, ReasonImagePull},
		{"CrashLoopBackOff", waiting("CrashLoopBackOff"), false, ReasonContainer},
		{"pod Failed", corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}, false, ReasonPodFailed},
		{"being deleted", corev1.PodStatus{Phase: corev1.PodPending}, true, ReasonPodDeleted},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newScriptedAPI(readyNode("n1"))
			o := opts()
			o.Timeout = 30 * time.Second
			m := NewManager(s.cs, nil, o)
			pod := createPod(t, s.cs, m.Opts)
			next := withStatus(pod, c.st)
			if c.deleting {
				now := metav1.Now()
				next.DeletionTimestamp = &now
			}
			s.script(watchReply{events: []watch.Event{{Type: watch.Modified, Object: next}}})
			start := time.Now()
			err := m.wait(context.Background(), pod)
			var se *StartError
			switch {
			case c.want == "" && err != nil:
				t.Errorf("want running, got %v", err)
			case c.want != "" && (!errors.As(err, &se) || se.Reason != c.want || se.Pod != pod.Name):
				t.Errorf("want a %s StartError naming the pod, got %v", c.want, err)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %s: must not wait for --timeout", time.Since(start))
			}
		})
	}
}

func TestWaitPodDeletedUnderUs(t *testing.T) {
	s := newScriptedAPI(readyNode("n1"))
	m := NewManager(s.cs, nil, opts())
	pod := createPod(t, s.cs, m.Opts)
	other := withStatus(pod, corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: ContainerName,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}}})
	other.Name = "kpr-n1-other"
	// Another pod's events (the fake ignores field selectors) change nothing.
	s.script(watchReply{events: []watch.Event{{Type: watch.Modified, Object: other}, {Type: watch.Deleted, Object: other}, {Type: watch.Deleted, Object: pod}}})
	err := m.wait(context.Background(), pod)
	var se *StartError
	if !errors.As(err, &se) || se.Reason != ReasonPodDeleted || se.Pod != pod.Name || !strings.Contains(se.Detail, "deleted while starting") {
		t.Fatalf("want PodDeleted naming the pod, got %v", err)
	}
}

func TestWaitPodGoneBeforeTheList(t *testing.T) {
	s := newScriptedAPI(readyNode("n1"))
	m := NewManager(s.cs, nil, opts())
	pod := Build("n1", m.Opts) // created and deleted again before the LIST
	err := m.wait(context.Background(), pod)
	var se *StartError
	if !errors.As(err, &se) || se.Reason != ReasonPodDeleted || se.Pod != pod.Name {
		t.Fatalf("want PodDeleted, got %v", err)
	}
}

// A LIST from the API server's watch cache may lag behind the create: the
// pod missing from it is checked with a GET before it counts as deleted.
func TestWaitStaleListIsCheckedWithAGet(t *testing.T) {
	s := newScriptedAPI(readyNode("n1"))
	m := NewManager(s.cs, nil, opts())
	pod := createPod(t, s.cs, m.Opts)
	s.cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &corev1.PodList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}}, nil
	})
	// Its create reaches the watch only after the LIST was judged.
	s.script(watchReply{events: []watch.Event{{Type: watch.Added, Object: withStatus(pod, runningStatus())}}, delay: 500 * time.Millisecond})
	if err := m.wait(context.Background(), pod); err != nil {
		t.Fatalf("a pod missing from a stale LIST but there: %v", err)
	}
}

func TestWaitNodeDeletedWhileWaiting(t *testing.T) {
	s := newScriptedAPI(readyNode("n1"))
	m := NewManager(s.cs, nil, opts())
	m.NodeCheckInterval = 20 * time.Millisecond
	pod := createPod(t, s.cs, m.Opts)
	if err := s.cs.CoreV1().Nodes().Delete(context.Background(), "n1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err := m.wait(context.Background(), pod)
	var se *StartError
	if !errors.As(err, &se) || se.Reason != ReasonNodeNotFound || se.Pod != pod.Name {
		t.Fatalf("want NodeNotFound naming the pod, got %v", err)
	}
}

func TestWaitNodeReadForbiddenIsSkipped(t *testing.T) {
	s := newScriptedAPI()
	s.cs.PrependReactor("get", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, forbidden("nodes")
	})
	m := NewManager(s.cs, nil, opts())
	m.NodeCheckInterval = 10 * time.Millisecond
	pod := createPod(t, s.cs, m.Opts)
	go func() {
		time.Sleep(200 * time.Millisecond) // some node checks first
		if err := s.cs.Tracker().Update(podsGVR, withStatus(pod, runningStatus()), pod.Namespace); err != nil {
			t.Error(err)
		}
	}()
	s.script(watchReply{closed: true}) // re-watched: sees the update
	if err := m.wait(context.Background(), pod); err != nil {
		t.Fatalf("who may not read nodes relies on the timeout: %v", err)
	}
}

func TestNodeCheckIntervalDefault(t *testing.T) {
	m := &Manager{}
	if got := m.nodeCheckInterval(); got != 2*time.Second {
		t.Errorf("unset NodeCheckInterval = %s, want 2s", got)
	}
}

func TestWaitTimeoutNamesTheLastState(t *testing.T) {
	s := newScriptedAPI(readyNode("n1"))
	o := opts()
	o.Timeout = 300 * time.Millisecond
	m := NewManager(s.cs, nil, o)
	pod := createPod(t, s.cs, m.Opts)
	s.script(watchReply{events: []watch.Event{{Type: watch.Modified, Object: withStatus(pod, corev1.PodStatus{Phase: corev1.PodPending,
		Conditions:        []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/3 nodes are available"}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: ContainerName, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}},
	})}}})
	err := m.wait(context.Background(), pod)
	var se *StartError
	if !errors.As(err, &se) || se.Reason != ReasonTimeout || se.Pod != pod.Name ||
		se.Detail != "not running after 300ms (phase Pending, not scheduled: Unschedulable: 0/3 nodes are available, waiting: ContainerCreating)" {
		t.Fatalf("want a Timeout with the pod's last state, got %v", err)
	}
}

func TestWaitAPIErrorsEndTheWait(t *testing.T) {
	for _, c := range []struct {
		name    string
		setup   func(s *scriptedAPI, pod *corev1.Pod)
		reason  Reason // a StartError of this reason, or
		message string // an error with this text (%s: the pod)
	}{
		{"watch forbidden", func(s *scriptedAPI, _ *corev1.Pod) { s.script(watchReply{err: forbidden("pods")}) },
			ReasonForbidden, "missing permission `watch pods` in namespace kube-system"},
		{"list forbidden", func(s *scriptedAPI, _ *corev1.Pod) { s.onList = func(int) error { return forbidden("pods") } },
			ReasonForbidden, "missing permission `list pods` in namespace kube-system"},
		{"watch refused", func(s *scriptedAPI, _ *corev1.Pod) {
			s.script(watchReply{err: apierrors.NewBadRequest("no watch today")})
		},
			"", "watching debug pod %s: no watch today"},
		{"error event", func(s *scriptedAPI, _ *corev1.Pod) {
			s.script(watchReply{events: []watch.Event{statusEvent(400, metav1.StatusReasonBadRequest, "bad watch")}})
		}, "", "watching debug pod %s: bad watch"},
		{"list refused", func(s *scriptedAPI, _ *corev1.Pod) {
			s.onList = func(int) error { return apierrors.NewBadRequest("no list today") }
		}, "", "reading debug pod %s: no list today"},
		{"get refused", func(s *scriptedAPI, pod *corev1.Pod) {
			_ = s.cs.Tracker().Delete(podsGVR, pod.Namespace, pod.Name)
			s.cs.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewBadRequest("no get today")
			})
		}, "", "reading debug pod %s: no get today"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newScriptedAPI(readyNode("n1"))
			o := opts()
			o.Timeout = 30 * time.Second
			m := NewManager(s.cs, nil, o)
			pod := createPod(t, s.cs, m.Opts)
			c.setup(s, pod)
			start := time.Now()
			err := m.wait(context.Background(), pod)
			var se *StartError
			if c.reason != "" {
				if !errors.As(err, &se) || se.Reason != c.reason || se.Detail != c.message || se.Pod != pod.Name || se.Hint == "" {
					t.Errorf("want a %s StartError %q naming the pod, got %v", c.reason, c.message, err)
				}
			} else if want := strings.ReplaceAll(c.message, "%s", describe(pod)); err == nil || err.Error() != want || errors.As(err, &se) {
				t.Errorf("want %q, got %v", want, err)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %s: must not wait for --timeout", time.Since(start))
			}
		})
	}
}

func TestWaitResumesAfterExpiryAndClose(t *testing.T) {
	s := newScriptedAPI(readyNode("n1"))
	o := opts()
	o.Timeout = 30 * time.Second
	m := NewManager(s.cs, nil, o)
	pod := createPod(t, s.cs, m.Opts)
	pending := withStatus(pod, corev1.PodStatus{Phase: corev1.PodPending})
	pending.ResourceVersion = "5"
	expired := apierrors.NewResourceExpired("too old resource version")
	s.script(
		// Closed by the server after an event: resumed from its version.
		watchReply{events: []watch.Event{{Type: watch.Modified, Object: pending}}, closed: true},
		// Expired as an event, then as the WATCH's answer: re-listed.
		watchReply{events: []watch.Event{{Type: watch.Error, Object: &expired.ErrStatus}}},
		watchReply{err: expired},
	)
	s.onList = func(n int) error {
		if n == 3 { // the second re-list finds it running
			err := s.cs.Tracker().Update(podsGVR, withStatus(pod, runningStatus()), pod.Namespace)
			return err
		}
		return nil
	}
	if err := m.wait(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	lists, watches := s.calls()
	if lists != 3 || len(watches) < 3 || watches[1].ResourceVersion != "5" {
		t.Errorf("%d LISTs, WATCHes %+v: want a resume from version 5, then a re-list after each expiry", lists, watches)
	}
}

func TestWaitBookmarkMovesTheResumePoint(t *testing.T) {
	s := newScriptedAPI(readyNode("n1"))
	m := NewManager(s.cs, nil, opts())
	pod := createPod(t, s.cs, m.Opts)
	mark := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "42"}}
	s.script(
		watchReply{events: []watch.Event{{Type: watch.Bookmark, Object: mark}}, closed: true},
		watchReply{events: []watch.Event{{Type: watch.Modified, Object: withStatus(pod, runningStatus())}}},
	)
	if err := m.wait(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	lists, watches := s.calls()
	if lists != 1 || len(watches) != 2 || !watches[0].AllowWatchBookmarks || watches[1].ResourceVersion != "42" {
		t.Errorf("%d LISTs, WATCHes %+v: want bookmarks asked for and the next WATCH from the bookmark's version", lists, watches)
	}
}

// noWatchListOptOut hides the fake clientset's "no watch-list here", as a
// real clientset does: the tools then try a streaming watch-list first.
type noWatchListOptOut struct{ kubernetes.Interface }

func TestWaitWatchListRefusedFallsBack(t *testing.T) {
	if !clientfeatures.FeatureGates().Enabled(clientfeatures.WatchListClient) {
		t.Skip("client-go's WatchListClient is off: the tools never try a watch-list")
	}
	s := newScriptedAPI(readyNode("n1"))
	m := NewManager(noWatchListOptOut{s.cs}, nil, opts())
	pod := createPod(t, s.cs, m.Opts)
	s.script(
		// An API server without watch-list refuses the streaming LIST.
		watchReply{err: apierrors.NewBadRequest("sendInitialEvents is not supported")},
		watchReply{events: []watch.Event{{Type: watch.Modified, Object: withStatus(pod, runningStatus())}}},
	)
	if err := m.wait(context.Background(), pod); err != nil {
		t.Fatalf("a refused watch-list must fall back to a LIST, got %v", err)
	}
	lists, watches := s.calls()
	if lists != 1 || len(watches) != 2 || watches[0].SendInitialEvents == nil {
		t.Errorf("%d LISTs, WATCHes %+v: want a watch-list, a LIST and a WATCH", lists, watches)
	}
}

func TestForNodesPodsModeProgress(t *testing.T) {
	h := newHarness(t, readyNode("n1"))
	h.cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		a.(k8stesting.CreateAction).GetObject().(*corev1.Pod).Status = runningStatus()
		return false, nil, nil
	})
	o := opts()
	o.Mode = ModePods
	m := NewManager(h.cs, nil, o)
	var mu sync.Mutex
	var calls [][3]int
	m.Progress = func(done, total, failed int) {
		mu.Lock()
		calls = append(calls, [3]int{done, total, failed})
		mu.Unlock()
	}
	m.ForNodes(context.Background(), []string{"n1", "ghost"}, 1, func(context.Context, int, *Pod) error { return nil })
	if len(calls) != 2 || calls[1] != [3]int{2, 2, 1} {
		t.Errorf("progress %v, want one call per node ending at 2 of 2, 1 failed", calls)
	}
}

// Daemonset mode.

func dsOpts(timeout time.Duration) Options {
	return Options{Mode: ModeDaemonSet, Namespace: "kube-system", RunID: "run1", Timeout: timeout}
}

// dsPod is the run's DaemonSet pod for node.
func dsPod(node string, st corev1.PodStatus) *corev1.Pod {
	o := dsOpts(time.Minute)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: DaemonSetName(o.RunID) + "-" + node, Namespace: o.Namespace,
			Labels: map[string]string{ManagedByLabel: ManagedByValue, RunIDLabel: o.RunID}},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: st,
	}
}

// dsWait runs waitDaemonSetPods and collects what it hands on.
type dsWait struct {
	ready   map[string]string // node -> pod
	settled map[string]error
	pending map[string]*corev1.Pod
	took    time.Duration
}

func runDSWait(ctx context.Context, m *Manager, nodes ...string) dsWait {
	ready := make(chan *Pod, len(nodes))
	r := dsWait{ready: map[string]string{}, settled: map[string]error{}}
	start := time.Now()
	r.pending = m.waitDaemonSetPods(ctx, nodes, ready, func(n string, err error) { r.settled[n] = err })
	r.took = time.Since(start)
	close(ready)
	for p := range ready {
		r.ready[p.Node] = p.Name
	}
	return r
}

func TestDaemonSetWaitReturnsWhenAllSettled(t *testing.T) {
	cs := fake.NewClientset(dsPod("a", runningStatus()), dsPod("b", runningStatus()))
	m := NewManager(cs, nil, dsOpts(30*time.Second))
	r := runDSWait(context.Background(), m, "a", "b")
	if len(r.ready) != 2 || r.pending != nil || len(r.settled) != 0 || r.took > 10*time.Second {
		t.Errorf("ready %v, pending %v, settled %v after %s: want both ready at once", r.ready, r.pending, r.settled, r.took)
	}
}

func TestDaemonSetWaitIgnoresTerminatingPods(t *testing.T) {
	now := metav1.Now()
	old := func(node string) *corev1.Pod {
		p := dsPod(node, runningStatus())
		p.Name += "-old"
		p.DeletionTimestamp = &now
		return p
	}
	pendingC := dsPod("c", corev1.PodStatus{Phase: corev1.PodPending})
	s := newScriptedAPI(old("a"), old("b"), pendingC, dsPod("not-ours", corev1.PodStatus{Phase: corev1.PodFailed}))
	// A Deleted event's object may say Running (its last state): still gone.
	goneC := withStatus(pendingC, runningStatus())
	s.script(watchReply{events: []watch.Event{
		{Type: watch.Deleted, Object: old("a")}, {Type: watch.Deleted, Object: old("b")}, {Type: watch.Deleted, Object: goneC},
		{Type: watch.Added, Object: dsPod("a", runningStatus())}, // a's replacement
	}})
	m := NewManager(s.cs, nil, dsOpts(time.Second))
	r := runDSWait(context.Background(), m, "a", "b", "c")
	if r.ready["a"] != dsPod("a", corev1.PodStatus{}).Name || len(r.ready) != 1 || len(r.settled) != 0 {
		t.Errorf("ready %v, settled %v: want only a, through its replacement pod", r.ready, r.settled)
	}
	if len(r.pending) != 2 || r.pending["b"] == nil || r.pending["b"].Name != old("b").Name ||
		r.pending["c"] == nil || r.pending["c"].Status.Phase != corev1.PodPending {
		t.Errorf("pending %v: want b and c, each with its last pod as listed", r.pending)
	}
}

func TestDaemonSetWaitIdleBoundRestartsOnEachNode(t *testing.T) {
	cs := fake.NewClientset()
	const bound = time.Second
	m := NewManager(cs, nil, dsOpts(bound))
	go func() {
		// Each node's pod half a bound after the last: 1.5 bounds in all.
		for _, n := range []string{"a", "b", "c"} {
			time.Sleep(bound / 2)
			if _, err := cs.CoreV1().Pods("kube-system").Create(context.Background(), dsPod(n, runningStatus()), metav1.CreateOptions{}); err != nil {
				t.Error(err)
			}
		}
	}()
	r := runDSWait(context.Background(), m, "a", "b", "c", "never")
	if len(r.ready) != 3 {
		t.Errorf("ready %v: every settled node must start the bound afresh", r.ready)
	}
	if _, ok := r.pending["never"]; !ok || len(r.pending) != 1 || r.took < 2*bound {
		t.Errorf("pending %v after %s: want the node without a pod, given up a bound after the last node", r.pending, r.took)
	}
}

func TestDaemonSetWaitNamesUnschedulablePod(t *testing.T) {
	f := newFakeDaemonSetController(t, func(node string) *corev1.PodStatus {
		if node == "full" {
			return &corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled,
				Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/3 nodes are available: 1 Insufficient memory."}}}
		}
		return running()
	}, readyNode("a"), readyNode("full"))
	m := NewManager(f.cs, f, Options{Mode: ModeDaemonSet, RunID: "run1", Timeout: 300 * time.Millisecond})
	errs := m.ForNodes(context.Background(), []string{"a", "full"}, 2, func(context.Context, int, *Pod) error { return nil })
	var se *StartError
	if errs[0] != nil || !errors.As(errs[1], &se) || se.Reason != ReasonTimeout || se.Node != "full" || se.Pod != DaemonSetName("run1")+"-full" ||
		!strings.Contains(se.Detail, "not scheduled: Unschedulable: 0/3 nodes are available: 1 Insufficient memory.") {
		t.Errorf("errs %v: want node full's Timeout naming its pod and the scheduler's reason", errs)
	}
	m.Cleanup()
}

func TestDaemonSetWaitInterrupted(t *testing.T) {
	f := newFakeDaemonSetController(t, func(string) *corev1.PodStatus { return nil }, readyNode("a"), readyNode("b"))
	m := NewManager(f.cs, f, Options{Mode: ModeDaemonSet, RunID: "run1", Timeout: 30 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	errs := m.ForNodes(ctx, []string{"a", "b"}, 2, func(context.Context, int, *Pod) error { return nil })
	for i, n := range []string{"a", "b"} {
		if errs[i] == nil || !strings.Contains(errs[i].Error(), "interrupted while waiting for the daemonset's pod on node "+n) || !errors.Is(errs[i], context.Canceled) {
			t.Errorf("node %s: %v, want interrupted", n, errs[i])
		}
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %s after Ctrl-C", time.Since(start))
	}
	m.Cleanup()
}

func TestDaemonSetWaitListErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		err   error
		check func(t *testing.T, r dsWait)
	}{
		{"forbidden", forbidden("pods"), func(t *testing.T, r dsWait) {
			for _, n := range []string{"a", "b"} {
				var se *StartError
				if !errors.As(r.settled[n], &se) || se.Reason != ReasonForbidden || se.Node != n ||
					se.Detail != "missing permission `list pods` in namespace kube-system" {
					t.Errorf("node %s: %v, want a Forbidden StartError naming `list pods` and the node", n, r.settled[n])
				}
			}
		}},
		{"refused", apierrors.NewBadRequest("no list today"), func(t *testing.T, r dsWait) {
			for _, n := range []string{"a", "b"} {
				if err := r.settled[n]; err == nil || err.Error() != "listing the daemonset's pods: no list today" {
					t.Errorf("node %s: %v", n, err)
				}
			}
		}},
		{"transient", apierrors.NewServiceUnavailable("restarting"), func(t *testing.T, r dsWait) {
			if len(r.ready) != 2 || len(r.settled) != 0 {
				t.Errorf("ready %v, settled %v: a transient LIST error is retried", r.ready, r.settled)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newScriptedAPI(dsPod("a", runningStatus()), dsPod("b", runningStatus()))
			s.onList = func(n int) error {
				if n == 1 || c.name != "transient" {
					return c.err
				}
				return nil
			}
			m := NewManager(s.cs, nil, dsOpts(30*time.Second))
			r := runDSWait(context.Background(), m, "a", "b")
			c.check(t, r)
			if r.pending != nil || r.took > 10*time.Second {
				t.Errorf("pending %v after %s: want every node settled without waiting for the bound", r.pending, r.took)
			}
		})
	}
}

func TestDaemonSetWaitRelistsAndResumes(t *testing.T) {
	s := newScriptedAPI()
	mark := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "42"}}
	s.script(
		watchReply{events: []watch.Event{{Type: watch.Bookmark, Object: mark}}, closed: true}, // resumed from 42
		watchReply{err: forbidden("pods")}, // a WATCH error: re-listed
		watchReply{events: []watch.Event{statusEvent(500, metav1.StatusReasonInternalError, "etcd hiccup")}}, // re-listed
	)
	s.onList = func(n int) error {
		if n == 3 {
			for _, node := range []string{"a", "b"} {
				if err := s.cs.Tracker().Create(podsGVR, dsPod(node, runningStatus()), "kube-system"); err != nil {
					return err
				}
			}
		}
		return nil
	}
	m := NewManager(s.cs, nil, dsOpts(30*time.Second))
	r := runDSWait(context.Background(), m, "a", "b")
	lists, watches := s.calls()
	if len(r.ready) != 2 || len(r.settled) != 0 || r.pending != nil {
		t.Errorf("ready %v, settled %v, pending %v: want both found by the last re-list", r.ready, r.settled, r.pending)
	}
	if lists != 3 || len(watches) < 3 || !watches[0].AllowWatchBookmarks || watches[1].ResourceVersion != "42" || watches[0].LabelSelector == "" {
		t.Errorf("%d LISTs, WATCHes %+v: want a resume from the bookmark, then a re-list after each error", lists, watches)
	}
}
