package debugpod

import (
	"context"
	"errors"
	"fmt"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/transient"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
)

// Manager creates, tracks and deletes the debug pods of one kpr run.
type Manager struct {
	Client kubernetes.Interface
	Exec   collect.Executor
	Opts   Options

	// NodeCheckInterval is how often a pending pod's node is re-read.
	NodeCheckInterval time.Duration

	// Progress, when set, hears of every node whose check ended (done of
	// total, failed of them), in either mode.
	Progress func(done, total, failed int)
	// Warn, when set, hears what the user should know but is no error
	// (auto mode falling back to pods).
	Warn func(msg string)

	mu      sync.Mutex
	created map[string]bool // pod names this run created and not yet deleted
	ds      *daemonSetRun   // the run's DaemonSet, in daemonset mode
}

// NewManager returns a manager; opts get their defaults (and a run id).
func NewManager(client kubernetes.Interface, exec collect.Executor, opts Options) *Manager {
	return &Manager{
		Client:            client,
		Exec:              exec,
		Opts:              opts.WithDefaults(),
		NodeCheckInterval: 2 * time.Second,
		created:           map[string]bool{},
	}
}

// Pod is a running debug pod.
type Pod struct {
	Name      string
	Namespace string
	Node      string
	m         *Manager
}

// Exec runs command in the pod's container. Without a deadline of the
// caller's, the run's --timeout bounds it: a hung tool on the node must
// not hang kpr.
func (p *Pod) Exec(ctx context.Context, command []string) (collect.ExecResult, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.m.Opts.Timeout)
		defer cancel()
	}
	res, err := p.m.Exec.Exec(ctx, p.Namespace, p.Name, ContainerName, command)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		return res, fmt.Errorf("command in debug pod %s/%s did not finish in time (raise --timeout): %w", p.Namespace, p.Name, err)
	}
	return res, err
}

// Start creates a debug pod on node and waits until its container runs.
// On any failure the pod is deleted again (unless Keep) and the error is a
// *StartError that says why and what to do.
func (m *Manager) Start(ctx context.Context, node string) (*Pod, error) {
	if err := m.checkNode(ctx, node); err != nil {
		return nil, err
	}
	pod := Build(node, m.Opts)
	created, err := m.Client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, ClassifyCreateError(err, node, pod.Namespace)
	}
	m.track(created.Name, true)
	if err := m.wait(ctx, created); err != nil {
		if !m.Opts.Keep {
			m.deleteFresh(created.Name)
		}
		return nil, err
	}
	return &Pod{Name: created.Name, Namespace: created.Namespace, Node: node, m: m}, nil
}

// Release deletes p unless --keep. It uses a fresh context so that it
// still works after the run's context was cancelled.
func (m *Manager) Release(p *Pod) error {
	if p == nil || m.Opts.Keep {
		return nil
	}
	return m.deleteFresh(p.Name)
}

// Cleanup deletes every pod of this run: the ones it knows it created and,
// by label, any whose create response was lost to an interrupt. It uses its
// own short context, so call it after the run's context is done.
func (m *Manager) Cleanup() []error {
	if m.Opts.Keep {
		return nil
	}
	errs := m.cleanupDaemonSet()
	m.mu.Lock()
	names := make([]string, 0, len(m.created))
	for n := range m.created {
		names = append(names, n)
	}
	m.mu.Unlock()
	for _, n := range names {
		if err := m.deleteFresh(n); err != nil {
			errs = append(errs, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sel := labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue, RunIDLabel: m.Opts.RunID}).String()
	list, err := m.Client.CoreV1().Pods(m.Opts.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return append(errs, fmt.Errorf("listing this run's debug pods in %s: %w", m.Opts.Namespace, err))
	}
	for _, p := range list.Items {
		if err := m.deleteFresh(p.Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Kept lists the pods left behind with --keep.
func (m *Manager) Kept() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for n := range m.created {
		out = append(out, m.Opts.Namespace+"/"+n)
	}
	if m.ds != nil && m.ds.created {
		out = append(out, "daemonset "+m.Opts.Namespace+"/"+m.ds.name+" and its pods (its job "+m.ds.name+" deletes them at its deadline)")
	}
	return out
}

func (m *Manager) track(name string, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if on {
		m.created[name] = true
	} else {
		delete(m.created, name)
	}
}

func (m *Manager) deleteFresh(name string) error {
	// Long enough to outlast an API server restart (transient.Backoff):
	// a delete refused while the server is away is retried, not given up.
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	// Grace 0: the pod holds no state, and a kubelet that is slow to kill
	// it must not keep kpr waiting.
	zero := int64(0)
	err := transient.Do(ctx, func() error {
		return m.Client.CoreV1().Pods(m.Opts.Namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting debug pod %s/%s: %w (remove it with `kubectl kpr cleanup`)", m.Opts.Namespace, name, err)
	}
	m.track(name, false)
	return nil
}

// checkNode fails fast for a node that does not exist or is not Ready: the
// pod would wait forever for a kubelet that never starts it. A user who
// may not read nodes skips the check and relies on the timeout.
func (m *Manager) checkNode(ctx context.Context, name string) error {
	node, err := m.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return &StartError{Reason: ReasonNodeNotFound, Node: name, Namespace: m.Opts.Namespace,
			Detail: "node does not exist", Hint: "check the name with `kubectl get nodes`"}
	case apierrors.IsForbidden(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading node %s: %w", name, err)
	}
	return NodeState(node)
}

// NodeState returns a *StartError when node cannot run a new pod.
func NodeState(node *corev1.Node) error {
	if node.DeletionTimestamp != nil {
		return &StartError{Reason: ReasonNodeNotFound, Node: node.Name, Detail: "node is being deleted"}
	}
	if os := node.Labels[corev1.LabelOSStable]; strings.EqualFold(os, "windows") || strings.EqualFold(node.Status.NodeInfo.OperatingSystem, "windows") {
		return &StartError{Reason: ReasonUnsupportedNode, Node: node.Name, Detail: "Windows node: the debug pod is a Linux pod",
			Hint: "kpr inspects Linux datapaths only; leave this node out"}
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
			detail := fmt.Sprintf("node is NotReady (Ready=%s", c.Status)
			if c.Reason != "" {
				detail += ", " + c.Reason
			}
			detail += ")"
			return &StartError{Reason: ReasonNodeNotReady, Node: node.Name, Detail: detail,
				Hint: "its kubelet cannot start the debug pod; fix the node or leave it out"}
		}
	}
	return nil
}

// wait waits until pod's container runs, with client-go's watch tools
// (podWatch; wait.go lists what it keeps of kpr's own and the tests).
func (m *Manager) wait(parent context.Context, pod *corev1.Pod) error {
	if done, err := PodState(pod); done {
		return err
	}
	ctx, cancel := context.WithTimeout(parent, m.Opts.Timeout)
	defer cancel()
	w := newPodWatch(ctx, m.Client, pod.Namespace, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", pod.Name).String(),
	}, func(call string, err error) error { return podWaitError(pod, call, err) })
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); m.watchNode(w, pod) }()
	defer func() { w.stop(); wg.Wait() }()

	last := pod
	decided, err := w.until(func(store cache.Store) (bool, error) {
		obj, ok, _ := store.GetByKey(pod.Namespace + "/" + pod.Name)
		if !ok {
			// Gone, or a LIST served by a cache that has not seen the
			// create yet: the API server itself says which.
			got, err := m.Client.CoreV1().Pods(pod.Namespace).Get(w.ctx, pod.Name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				return true, deletedError(pod)
			case err != nil && w.ctx.Err() == nil:
				return true, fmt.Errorf("reading debug pod %s: %w", describe(pod), err)
			case err != nil:
				return false, nil // the wait is ending: waitEnded says why
			}
			obj = got
		}
		last = obj.(*corev1.Pod)
		return PodState(last)
	}, func(ev watch.Event) (bool, error) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok || p.Name != pod.Name {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			return true, deletedError(pod)
		}
		last = p
		return PodState(p)
	})
	if decided {
		return err
	}
	if err := w.failed(); err != nil && parent.Err() == nil {
		return err
	}
	return m.waitEnded(parent, last)
}

// podWaitError judges an API error of pod's wait (podWatch.onError): what
// the tools recover from (an expired watch) goes on, anything else ends
// the wait at once.
func podWaitError(pod *corev1.Pod, call string, err error) error {
	if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
		return nil
	}
	forbidden := func(verb string) error {
		return &StartError{Reason: ReasonForbidden, Node: pod.Spec.NodeName, Namespace: pod.Namespace, Pod: pod.Name,
			Detail: "missing permission `" + verb + " pods` in namespace " + pod.Namespace, Hint: firstLine(err.Error())}
	}
	switch {
	case call == "event":
		return fmt.Errorf("watching debug pod %s: %v", describe(pod), err)
	case call == "list" && apierrors.IsForbidden(err):
		return forbidden("list")
	case call == "list":
		return fmt.Errorf("reading debug pod %s: %w", describe(pod), err)
	case apierrors.IsForbidden(err):
		return forbidden("watch")
	}
	return fmt.Errorf("watching debug pod %s: %w", describe(pod), err)
}

// watchNode re-reads pod's node every NodeCheckInterval while w waits: a
// node deleted or NotReady meanwhile would never start the pod.
func (m *Manager) watchNode(w *podWatch, pod *corev1.Pod) {
	t := time.NewTicker(m.nodeCheckInterval())
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
			if err := m.checkNode(w.ctx, pod.Spec.NodeName); err != nil {
				if w.ctx.Err() == nil {
					w.fail(withPod(err, pod))
				}
				return
			}
		}
	}
}

func (m *Manager) nodeCheckInterval() time.Duration {
	if m.NodeCheckInterval <= 0 {
		return 2 * time.Second
	}
	return m.NodeCheckInterval
}

// waitEnded explains why waiting stopped: the run was interrupted, or the
// pod did not come up within --timeout (with its last known state).
func (m *Manager) waitEnded(parent context.Context, last *corev1.Pod) error {
	if err := parent.Err(); err != nil {
		return fmt.Errorf("interrupted while waiting for debug pod %s: %w", describe(last), err)
	}
	return &StartError{Reason: ReasonTimeout, Node: last.Spec.NodeName, Namespace: last.Namespace, Pod: last.Name,
		Detail: fmt.Sprintf("not running after %s (%s)", m.Opts.Timeout, pendingState(last)),
		Hint:   "raise --timeout if the image is large, or look at `kubectl describe pod` with --keep"}
}

func deletedError(pod *corev1.Pod) error {
	return &StartError{Reason: ReasonPodDeleted, Node: pod.Spec.NodeName, Namespace: pod.Namespace, Pod: pod.Name,
		Detail: "the debug pod was deleted while starting", Hint: "the node may have gone away, or another `kpr cleanup` ran"}
}

func withPod(err error, pod *corev1.Pod) error {
	var se *StartError
	if errors.As(err, &se) {
		se.Namespace, se.Pod = pod.Namespace, pod.Name
	}
	return err
}

// ForNodes starts a debug pod on each node (at most concurrency at once),
// calls fn with it and deletes it again. errs[i] is nodes[i]'s failure (a
// *StartError when the pod never ran); one node's failure never stops the
// others.
//
// Above AutoDaemonSetAbove nodes (or with ModeDaemonSet) the pods come
// from one DaemonSet instead (forNodesDaemonSet); fn sees the same *Pod.
func (m *Manager) ForNodes(ctx context.Context, nodes []string, concurrency int, fn func(ctx context.Context, i int, p *Pod) error) []error {
	if m.UsesDaemonSet(len(nodes)) {
		return m.forNodesDaemonSet(ctx, nodes, concurrency, fn)
	}
	return m.forNodesPods(ctx, nodes, concurrency, fn)
}

// forNodesPods is ForNodes in ModePods.
func (m *Manager) forNodesPods(ctx context.Context, nodes []string, concurrency int, fn func(ctx context.Context, i int, p *Pod) error) []error {
	errs := make([]error, len(nodes))
	count := collect.NewDoneCounter(len(nodes), m.Progress)
	collect.ForEach(ctx, len(nodes), concurrency, func(ctx context.Context, i int) {
		defer func() { count.Done(errs[i] != nil) }()
		if ctx.Err() != nil {
			errs[i] = fmt.Errorf("node %s: not started: %w", nodes[i], ctx.Err())
			return
		}
		p, err := m.Start(ctx, nodes[i])
		if err != nil {
			errs[i] = err
			return
		}
		defer func() {
			if err := m.Release(p); err != nil && errs[i] == nil {
				errs[i] = err
			}
		}()
		errs[i] = fn(ctx, i, p)
	})
	return errs
}

// CleanupAll deletes every pod kpr left in any namespace (selected by
// ManagedByLabel), whichever run made it; with dryRun it only lists them.
func CleanupAll(ctx context.Context, client kubernetes.Interface, dryRun bool) ([]LeftPod, error) {
	sel := labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue}).String()
	list, err := client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		if apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("missing permission `list pods` in all namespaces (cleanup looks for %s everywhere): %w", sel, err)
		}
		return nil, fmt.Errorf("listing kpr's pods (%s): %w", sel, err)
	}
	var out []LeftPod
	var errs []error
	zero := int64(0)
	for _, p := range list.Items {
		lp := LeftPod{Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName, RunID: p.Labels[RunIDLabel], Phase: string(p.Status.Phase), Created: p.CreationTimestamp.Time}
		if !dryRun {
			err := transient.Do(ctx, func() error {
				return client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			})
			if err != nil && !apierrors.IsNotFound(err) {
				if apierrors.IsForbidden(err) {
					err = fmt.Errorf("missing permission `delete pods` in namespace %s: %w", p.Namespace, err)
				}
				errs = append(errs, fmt.Errorf("pod %s/%s: %w", p.Namespace, p.Name, err))
				continue
			}
		}
		out = append(out, lp)
	}
	return out, errors.Join(errs...)
}

// LeftPod is a kpr pod found by CleanupAll.
type LeftPod struct {
	Namespace string
	Name      string
	Node      string
	RunID     string
	Phase     string
	Created   time.Time
}
