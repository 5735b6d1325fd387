package debugpod

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// How kpr waits for its pods. client-go's watch tools do the watching, as
// in `kubectl debug` and `kubectl wait`: watchtools.UntilWithSync over a
// cache.ListWatch (an informer) makes the LIST (or a streaming watch-list
// where the server has it), the WATCH with bookmarks from the listed
// resource version, resumes a closed watch from the last resource version
// (a bookmark's included) and re-lists after an expired watch (410) or an
// error, pausing with backoff (0.8 s, doubling up to 30 s) between tries.
// What is kpr's own sits around them. Each item names the tests that hold
// it (manager_test.go, daemonset_test.go, wait_test.go).
//
// Pods mode, (*Manager).wait, one pod (a metadata.name field selector):
//   - a pod already running in the create response needs no call at all
//     (TestWaitRunningAtCreateMakesNoCalls, TestForNodesDeletesEveryPod);
//   - running: its container runs (TestStartRunningThenRelease), or phase
//     Running before any container status (TestWaitEndsOnEveryPodStateVerdict);
//   - PodState's verdicts end the wait at once with its *StartError: image
//     pull errors, a failing container, a pod that ended, one being deleted
//     (TestStartImagePullFailsFastAndDeletes, TestStartKeepLeavesFailedPod,
//     TestWaitEndsOnEveryPodStateVerdict);
//   - the pod deleted under us: a Deleted event, or absent from the synced
//     LIST and NotFound on a GET (which rules out a LIST from a watch cache
//     that has not seen the create yet) → ReasonPodDeleted
//     (TestWaitPodDeletedUnderUs, TestWaitPodGoneBeforeTheList,
//     TestWaitStaleListIsCheckedWithAGet); other pods' events are ignored
//     (TestWaitPodDeletedUnderUs, TestInterruptedStartThenCleanup);
//   - the node re-read every NodeCheckInterval (2 s when unset): deleted or
//     NotReady → that *StartError, naming the pod; a node read forbidden is
//     skipped (TestStartNodeGoesNotReadyWhileWaiting,
//     TestWaitNodeDeletedWhileWaiting, TestWaitNodeReadForbiddenIsSkipped,
//     TestNodeCheckIntervalDefault);
//   - --timeout → ReasonTimeout naming the pod and its last known state
//     (phase, the scheduler's Unschedulable reason, a waiting reason)
//     (TestStartTimesOut, TestWaitTimeoutNamesTheLastState);
//   - the run's context cancelled (Ctrl-C) → "interrupted while waiting
//     for debug pod ..." (TestInterruptedStartThenCleanup);
//   - as before, every API error but an expired watch ends the wait at
//     once, with the texts of before: WATCH forbidden → ReasonForbidden
//     naming `watch pods` (LIST forbidden: `list pods`); another WATCH
//     error or an error event → "watching debug pod ..."; a LIST or GET
//     error → "reading debug pod ..." (TestWaitAPIErrorsEndTheWait);
//   - what the old loop recovered from, the tools recover from: a closed
//     watch resumes, an expired one (410, as an event or as the WATCH's
//     answer) re-lists (TestWaitResumesAfterExpiryAndClose); bookmarks
//     move the resume point (TestWaitBookmarkMovesTheResumePoint); a
//     watch-list the server refuses falls back to a LIST
//     (TestWaitWatchListRefusedFallsBack).
//
// Daemonset mode, waitDaemonSetPods, the run's pods (a run-id label
// selector), one LIST and one WATCH for all nodes:
//   - each node's pod (TargetNode: spec.nodeName, or the affinity before
//     binding) goes to ready once it runs, each node as soon as its pod
//     does (TestDaemonSetModeChecksEveryNodeItCan);
//   - a pod that cannot start settles its node with PodState's *StartError,
//     its Node set to the node (same test: ErrImagePull);
//   - a pod being deleted is not judged (the controller replaces it) but
//     is the node's last known pod; Deleted events change nothing, whatever
//     state their object shows; pods of nodes not waited for are ignored
//     (TestDaemonSetWaitIgnoresTerminatingPods);
//   - the idle bound: the wait gives up when --timeout passes without any
//     node's pod settling; every settled node starts the bound afresh
//     (TestDaemonSetWaitIdleBoundRestartsOnEachNode); the nodes still
//     pending are returned with their last pod for explainPending, which
//     names the pod's state (the scheduler's Unschedulable reason
//     included) or the controller's FailedCreate event
//     (TestDaemonSetWaitNamesUnschedulablePod,
//     TestDaemonSetModeChecksEveryNodeItCan: quota);
//   - the run's context cancelled → pending returned, each node then
//     "interrupted while waiting for the daemonset's pod on node ..."
//     (TestDaemonSetWaitInterrupted);
//   - all nodes settled → returns at once, not at the bound
//     (TestDaemonSetWaitReturnsWhenAllSettled);
//   - a LIST forbidden fails every pending node with ReasonForbidden naming
//     `list pods`; another LIST error that is not transient fails them
//     with "listing the daemonset's pods: ..."; a transient one is retried
//     (TestDaemonSetWaitListErrors);
//   - WATCH errors (any, forbidden too) and error events re-list, a
//     closed watch resumes, bookmarks move the resume point
//     (TestDaemonSetWaitRelistsAndResumes);
//   - the Progress hook hears of every settled node through finish
//     (TestDaemonSetModeChecksEveryNodeItCan; pods mode:
//     TestForNodesPodsModeProgress), the Warn hook of auto mode's fallback
//     to pods (TestAutoModeFallsBackToPodsWhenDaemonSetsAreForbidden).
//
// Where the tools differ from the hand-written loops: pods mode LISTs
// before it watches (`list pods`, which deploy/rbac.yaml grants) and
// re-lists after an expiry where it re-watched from "now"; the pauses
// before a retry follow the informer's backoff instead of a flat second;
// a node check cut short by the wait's own end no longer reports its
// "context canceled" but why the wait ended.

// podWatch is one wait on pods through watchtools.UntilWithSync. Its
// context ends the wait; fail ends it with an error.
type podWatch struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	client kubernetes.Interface
	ns     string
	sel    metav1.ListOptions // FieldSelector and LabelSelector only
	// onError judges an error of the tools' calls: call is "list", "watch"
	// or "event" (an error event in a watch). It returns the error that
	// ends the wait, or nil to let the tools retry (re-watch, re-list).
	onError func(call string, err error) error

	mu  sync.Mutex
	err error
}

func newPodWatch(parent context.Context, client kubernetes.Interface, ns string, sel metav1.ListOptions, onError func(call string, err error) error) *podWatch {
	ctx, cancel := context.WithCancelCause(parent)
	return &podWatch{ctx: ctx, cancel: cancel, client: client, ns: ns, sel: sel, onError: onError}
}

// stop ends the wait without an error of its own.
func (w *podWatch) stop() { w.cancel(nil) }

// fail ends the wait with err (the first one counts).
func (w *podWatch) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.cancel(err)
}

// failed is the error fail ended the wait with, if any.
func (w *podWatch) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *podWatch) judge(ctx context.Context, call string, err error) {
	if err == nil || ctx.Err() != nil || w.ctx.Err() != nil {
		return // the wait is ending anyway: not the API's fault
	}
	if end := w.onError(call, err); end != nil {
		w.fail(end)
	}
}

// listWatch is the tools' ListWatch of the selected pods, its errors shown
// to onError.
func (w *podWatch) listWatch() cache.ListerWatcher {
	pods := w.client.CoreV1().Pods(w.ns)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector, o.LabelSelector = w.sel.FieldSelector, w.sel.LabelSelector
			list, err := pods.List(ctx, o)
			if err != nil {
				w.judge(ctx, "list", err)
				return nil, err
			}
			return list, nil
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector, o.LabelSelector = w.sel.FieldSelector, w.sel.LabelSelector
			wi, err := pods.Watch(ctx, o)
			if err != nil {
				// A refused watch-list (a streaming LIST) is no error of
				// ours: the tools fall back to a LIST, which is judged.
				if o.SendInitialEvents == nil {
					w.judge(ctx, "watch", err)
				}
				return nil, err
			}
			return judgeEvents(wi, func(err error) { w.judge(ctx, "event", err) }), nil
		},
	}
	// The fake clientset of the tests cannot stream a watch-list; a real
	// API server can (client-go's default since 1.35) or says it cannot.
	return cache.ToListWatcherWithWatchListSemantics(lw, w.client)
}

// until runs watchtools.UntilWithSync over the pods until pre (when set,
// on the synced LIST) or cond (on each event) is done or fails, or the
// wait's context ends. decided says pre or cond ended it, err then being
// theirs; otherwise the caller asks the contexts and failed why it ended.
func (w *podWatch) until(pre func(cache.Store) (bool, error), cond func(watch.Event) (bool, error)) (decided bool, err error) {
	var precondition watchtools.PreconditionFunc
	if pre != nil {
		precondition = func(store cache.Store) (bool, error) {
			done, err := pre(store)
			decided = done || err != nil
			return done, err
		}
	}
	_, err = watchtools.UntilWithSync(w.ctx, w.listWatch(), &corev1.Pod{}, precondition, func(ev watch.Event) (bool, error) {
		done, err := cond(ev)
		decided = done || err != nil
		return done, err
	})
	return decided, err
}

// judgeEvents passes in's events on, showing each error event to judge
// first. (watch.Filter would do but may block forever once its reader
// stops.)
func judgeEvents(in watch.Interface, judge func(error)) watch.Interface {
	out := make(chan watch.Event)
	pw := watch.NewProxyWatcher(out)
	go func() {
		defer close(out)
		defer in.Stop()
		for {
			select {
			case <-pw.StopChan():
				return
			case ev, ok := <-in.ResultChan():
				if !ok {
					return
				}
				if ev.Type == watch.Error {
					judge(apierrors.FromObject(ev.Object))
				}
				select {
				case out <- ev:
				case <-pw.StopChan():
					return
				}
			}
		}
	}()
	return pw
}
