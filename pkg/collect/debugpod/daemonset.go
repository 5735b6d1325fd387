package debugpod

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/transient"
)

// Mode says how a run gets its pods onto the nodes.
type Mode string

const (
	// ModeAuto uses pods for a few nodes and a DaemonSet above
	// AutoDaemonSetAbove nodes.
	ModeAuto Mode = "auto"
	// ModePods creates one debug pod per node from the client, at most
	// --concurrency at a time (the shape of `kubectl debug node/...`).
	ModePods Mode = "pods"
	// ModeDaemonSet creates one DaemonSet restricted to the chosen nodes:
	// the DaemonSet controller and the scheduler create and place the
	// pods, kpr makes O(1) API calls plus one exec per node.
	ModeDaemonSet Mode = "daemonset"
)

// AutoDaemonSetAbove is where ModeAuto switches to the DaemonSet: below
// it, per-node pods start as fast and leave no controller-made objects.
const AutoDaemonSetAbove = 20

// Modes lists the values of --mode, for flags and completion.
var Modes = []Mode{ModeAuto, ModePods, ModeDaemonSet}

// ParseMode checks a --mode value.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("--mode must be auto, pods or daemonset, not %q", s)
}

// UsesDaemonSet says whether a run over n nodes uses the DaemonSet.
func (m *Manager) UsesDaemonSet(n int) bool {
	switch m.Opts.Mode {
	case ModeDaemonSet:
		return true
	case ModePods:
		return false
	}
	return n > AutoDaemonSetAbove
}

// DaemonSetName is the name of a run's DaemonSet and of the Job that
// anchors it.
func DaemonSetName(runID string) string { return "kpr-nodes-" + runID }

// BuildDaemonSet returns the run's DaemonSet: the debug pod's spec, on
// exactly the given nodes (a required node affinity on metadata.name, the
// form the DaemonSet controller itself gives each of its pods), owned by
// anchor.
func BuildDaemonSet(nodes []string, o Options, anchor *batchv1.Job) *appsv1.DaemonSet {
	o = o.WithDefaults()
	pod := Build("", o)
	spec := pod.Spec
	spec.NodeName = ""
	// A DaemonSet's pods must restart Always and may not carry
	// activeDeadlineSeconds: the anchor Job holds the deadline instead.
	spec.RestartPolicy = corev1.RestartPolicyAlways
	spec.ActiveDeadlineSeconds = nil
	grace := int64(1)
	spec.TerminationGracePeriodSeconds = &grace
	names := append([]string(nil), nodes...)
	sort.Strings(names)
	// One term per node: a matchFields requirement on metadata.name may
	// hold a single value, and terms are ORed.
	terms := make([]corev1.NodeSelectorTerm, 0, len(names))
	for _, n := range names {
		terms = append(terms, corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{
			Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{n},
		}}})
	}
	spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
	}}
	runLabels := map[string]string{ManagedByLabel: ManagedByValue, RunIDLabel: o.RunID}
	ds := &appsv1.DaemonSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      DaemonSetName(o.RunID),
			Namespace: o.Namespace,
			Labels:    runLabels,
		},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: runLabels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: runLabels},
				Spec:       spec,
			},
			// Every pod at once: there is no old version to keep serving.
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType},
		},
	}
	if anchor != nil {
		ds.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: "batch/v1", Kind: "Job", Name: anchor.Name, UID: anchor.UID,
		}}
	}
	return ds
}

// BuildAnchorJob returns the Job that bounds the DaemonSet's life when kpr
// is killed before it can delete it (SIGKILL, a lost laptop): it runs no
// pod (parallelism 0), fails at activeDeadlineSeconds = Lifetime, the TTL
// controller then deletes it at once, and the garbage collector deletes
// the DaemonSet it owns and the DaemonSet's pods — the same bound a debug
// pod's own activeDeadlineSeconds gives in pods mode.
func BuildAnchorJob(o Options) *batchv1.Job {
	o = o.WithDefaults()
	zero := int32(0)
	deadline := int64(o.Lifetime / time.Second)
	noToken := false
	runLabels := map[string]string{ManagedByLabel: ManagedByValue, RunIDLabel: o.RunID}
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      DaemonSetName(o.RunID),
			Namespace: o.Namespace,
			Labels:    runLabels,
		},
		Spec: batchv1.JobSpec{
			Parallelism:             &zero,
			ActiveDeadlineSeconds:   &deadline,
			TTLSecondsAfterFinished: &zero,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{ManagedByLabel: ManagedByValue}},
				Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyNever,
					AutomountServiceAccountToken: &noToken,
					Containers: []corev1.Container{{
						Name: "anchor", Image: o.Image, Command: []string{"true"},
					}},
				},
			},
		},
	}
}

// daemonSetRun is what the manager remembers of the DaemonSet it made.
type daemonSetRun struct {
	name    string
	created bool // the DaemonSet exists (or may: its create was sent)
	anchor  bool // the anchor Job exists
}

// forNodesDaemonSet is ForNodes in ModeDaemonSet.
func (m *Manager) forNodesDaemonSet(ctx context.Context, nodes []string, concurrency int, fn func(ctx context.Context, i int, p *Pod) error) []error {
	errs := make([]error, len(nodes))
	byNode := map[string][]int{}
	for i, n := range nodes {
		byNode[n] = append(byNode[n], i)
	}
	count := collect.NewDoneCounter(len(nodes), m.Progress)
	// finish settles a node, and every index it is listed at; each node
	// is settled once, so the indexes written never overlap.
	finish := func(node string, err error) {
		for _, i := range byNode[node] {
			errs[i] = err
			count.Done(err != nil)
		}
	}

	eligible := m.precheckNodes(ctx, byNode, finish)
	if len(eligible) == 0 {
		return errs
	}
	failAll := func(err func(node string) error) []error {
		for _, n := range eligible {
			finish(n, err(n))
		}
		return errs
	}
	// A server-side dry run of one pod meets Pod Security, quotas and
	// admission webhooks now, with the error pods mode would give, instead
	// of after a wait for pods the DaemonSet controller cannot create.
	probe := Build(eligible[0], m.Opts)
	if _, err := m.Client.CoreV1().Pods(m.Opts.Namespace).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		return failAll(func(node string) error { return ClassifyCreateError(err, node, m.Opts.Namespace) })
	}
	if err := m.createDaemonSet(ctx, eligible); err != nil {
		var se *StartError
		if m.Opts.Mode == ModeAuto && errors.As(err, &se) && se.Reason == ReasonForbidden {
			// Auto chose the DaemonSet for speed, not for its own sake:
			// who may create pods but not DaemonSets still gets the check.
			m.cleanupDaemonSet()
			if m.Warn != nil {
				m.Warn(se.Detail + ": using one debug pod per node instead (--mode pods)")
			}
			return m.forNodesPods(ctx, nodes, concurrency, fn)
		}
		return failAll(func(node string) error {
			return fmt.Errorf("node %s: %w", node, err)
		})
	}

	ready := make(chan *Pod, len(eligible))
	var wg sync.WaitGroup
	if concurrency < 1 {
		concurrency = 1
	}
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range ready {
				if ctx.Err() != nil {
					finish(p.Node, fmt.Errorf("node %s: not checked: %w", p.Node, ctx.Err()))
					continue
				}
				finish(p.Node, fn(ctx, byNode[p.Node][0], p))
			}
		}()
	}
	pending := m.waitDaemonSetPods(ctx, eligible, ready, finish)
	close(ready)
	wg.Wait()
	if len(pending) > 0 {
		m.explainPending(pending, finish, ctx.Err())
	}
	return errs
}

// precheckNodes reads the nodes once (one LIST, not one GET per node) and
// settles at once the ones that cannot run a pod: missing, NotReady,
// Windows. It returns the others, sorted.
func (m *Manager) precheckNodes(ctx context.Context, byNode map[string][]int, finish func(string, error)) []string {
	var eligible []string
	list, err := m.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		// Who may not list nodes relies on the wait's bound, as in pods mode.
		for n := range byNode {
			eligible = append(eligible, n)
		}
		sort.Strings(eligible)
		return eligible
	}
	known := map[string]*corev1.Node{}
	for i := range list.Items {
		known[list.Items[i].Name] = &list.Items[i]
	}
	for n := range byNode {
		node, ok := known[n]
		if !ok {
			finish(n, &StartError{Reason: ReasonNodeNotFound, Node: n, Namespace: m.Opts.Namespace,
				Detail: "node does not exist", Hint: "check the name with `kubectl get nodes`"})
			continue
		}
		if err := NodeState(node); err != nil {
			finish(n, err)
			continue
		}
		eligible = append(eligible, n)
	}
	sort.Strings(eligible)
	return eligible
}

func (m *Manager) createDaemonSet(ctx context.Context, nodes []string) error {
	ns := m.Opts.Namespace
	job := BuildAnchorJob(m.Opts)
	m.mu.Lock()
	m.ds = &daemonSetRun{name: job.Name, anchor: true}
	m.mu.Unlock()
	anchor, err := m.Client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{})
	if err != nil {
		return daemonSetCreateError(err, "jobs", ns)
	}
	m.mu.Lock()
	m.ds.created = true
	m.mu.Unlock()
	if _, err := m.Client.AppsV1().DaemonSets(ns).Create(ctx, BuildDaemonSet(nodes, m.Opts, anchor), metav1.CreateOptions{}); err != nil {
		return daemonSetCreateError(err, "daemonsets", ns)
	}
	return nil
}

func daemonSetCreateError(err error, resource, ns string) error {
	if apierrors.IsForbidden(err) && strings.Contains(err.Error(), "cannot create resource") {
		return &StartError{Reason: ReasonForbidden, Namespace: ns,
			Detail: fmt.Sprintf("missing permission `create %s` in namespace %s (daemonset mode)", resource, ns),
			Hint:   "ask for it (docs/permissions.md) or pass --mode pods, which only creates pods"}
	}
	return fmt.Errorf("creating the %s of daemonset mode in namespace %s: %w (or pass --mode pods)", resource, ns, err)
}

// waitDaemonSetPods watches the run's pods (one LIST and one WATCH for all
// nodes, with client-go's watch tools: podWatch, and wait.go for what it
// keeps of kpr's own) and hands each node's pod to ready once it runs, or
// settles the node with finish when its pod cannot start. It gives up on
// the rest when --timeout passes with no node's pod starting, and returns
// those nodes with their last pod (nil if the controller made none).
func (m *Manager) waitDaemonSetPods(ctx context.Context, nodes []string, ready chan<- *Pod, finish func(string, error)) map[string]*corev1.Pod {
	pending := map[string]*corev1.Pod{}
	for _, n := range nodes {
		pending[n] = nil
	}
	if len(pending) == 0 {
		return nil
	}
	sel := labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue, RunIDLabel: m.Opts.RunID}).String()
	w := newPodWatch(ctx, m.Client, m.Opts.Namespace, metav1.ListOptions{LabelSelector: sel}, m.daemonSetWaitError)
	defer w.stop()
	// The wait's bound: --timeout without any node's pod settling.
	idle := time.AfterFunc(m.Opts.Timeout, w.stop)
	defer idle.Stop()
	see := func(p *corev1.Pod) {
		node := TargetNode(p)
		if _, waiting := pending[node]; !waiting {
			return
		}
		pending[node] = p
		if p.DeletionTimestamp != nil {
			return // the controller replaces it
		}
		ok, err := PodState(p)
		if !ok {
			return
		}
		delete(pending, node)
		idle.Reset(m.Opts.Timeout)
		if err != nil {
			var se *StartError
			if errors.As(err, &se) {
				se.Node = node
			}
			finish(node, err)
			return
		}
		ready <- &Pod{Name: p.Name, Namespace: p.Namespace, Node: node, m: m}
	}
	_, _ = w.until(nil, func(ev watch.Event) (bool, error) {
		if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Deleted {
			see(p)
		}
		return len(pending) == 0, nil
	})
	if len(pending) == 0 {
		return nil
	}
	if err := w.failed(); err != nil && ctx.Err() == nil {
		m.failPending(pending, finish, err)
		return nil
	}
	return pending
}

// daemonSetWaitError judges an API error of waitDaemonSetPods
// (podWatch.onError): a LIST refused for good fails the pending nodes;
// anything else the tools retry (a WATCH again, or a re-LIST, after a
// pause), bounded by --timeout.
func (m *Manager) daemonSetWaitError(call string, err error) error {
	if call != "list" || transient.Is(err) || apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
		return nil
	}
	if apierrors.IsForbidden(err) {
		return &StartError{Reason: ReasonForbidden, Namespace: m.Opts.Namespace,
			Detail: "missing permission `list pods` in namespace " + m.Opts.Namespace, Hint: firstLine(err.Error())}
	}
	return fmt.Errorf("listing the daemonset's pods: %w", err)
}

func (m *Manager) failPending(pending map[string]*corev1.Pod, finish func(string, error), err error) {
	for n := range pending {
		e := err
		var se *StartError
		if errors.As(err, &se) {
			c := *se
			c.Node = n
			e = &c
		}
		finish(n, e)
	}
}

// explainPending names each node whose pod did not start in time with
// what is known: its pod's last state, or, when the DaemonSet controller
// made no pod there, the controller's last FailedCreate event (quota,
// admission) — one events LIST for all of them.
func (m *Manager) explainPending(pending map[string]*corev1.Pod, finish func(string, error), interrupted error) {
	if interrupted != nil {
		for n := range pending {
			finish(n, fmt.Errorf("interrupted while waiting for the daemonset's pod on node %s: %w", n, interrupted))
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	controllerSays := ""
	name := DaemonSetName(m.Opts.RunID)
	evs, err := m.Client.CoreV1().Events(m.Opts.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.AndSelectors(
			fields.OneTermEqualSelector("involvedObject.kind", "DaemonSet"),
			fields.OneTermEqualSelector("involvedObject.name", name)).String(),
	})
	if err == nil {
		var last time.Time
		for _, e := range evs.Items {
			t := e.LastTimestamp.Time
			if t.IsZero() {
				t = e.EventTime.Time
			}
			if e.Type == corev1.EventTypeWarning && !t.Before(last) {
				last, controllerSays = t, e.Reason+": "+firstLine(e.Message)
			}
		}
	}
	for n, p := range pending {
		se := &StartError{Reason: ReasonTimeout, Node: n, Namespace: m.Opts.Namespace}
		switch {
		case p != nil:
			se.Pod = p.Name
			se.Detail = fmt.Sprintf("the daemonset's pod did not run within %s of the last pod that did (%s)", m.Opts.Timeout, pendingState(p))
			se.Hint = "raise --timeout, or look at the pod with `kubectl describe pod` and --keep"
		case controllerSays != "":
			se.Detail = "the DaemonSet controller made no pod for this node: " + controllerSays
			switch {
			case strings.Contains(controllerSays, "exceeded quota"):
				se.Reason = ReasonQuota
				se.Hint = "free quota in namespace " + m.Opts.Namespace + " or pass another --debug-namespace"
			case strings.Contains(controllerSays, "violates PodSecurity"):
				se.Reason = ReasonPodSecurity
				se.Hint = "pass --debug-namespace with a namespace that allows privileged pods"
			default:
				se.Hint = "see `kubectl -n " + m.Opts.Namespace + " get events`, or pass --mode pods"
			}
		default:
			se.Detail = fmt.Sprintf("the DaemonSet controller made no pod for this node within %s", m.Opts.Timeout)
			se.Hint = "is kube-controller-manager running? raise --timeout, or pass --mode pods"
		}
		finish(n, se)
	}
}

// TargetNode is the node a DaemonSet pod is for: its spec.nodeName once
// bound, before that the single name in the node affinity the DaemonSet
// controller gives each of its pods.
func TargetNode(p *corev1.Pod) string {
	if p.Spec.NodeName != "" {
		return p.Spec.NodeName
	}
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for _, f := range t.MatchFields {
				if f.Key == metav1.ObjectNameField && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
					return f.Values[0]
				}
			}
		}
	}
	return p.Annotations[NodeAnnotation]
}

// cleanupDaemonSet deletes the run's Job, DaemonSet and pods.
func (m *Manager) cleanupDaemonSet() []error {
	m.mu.Lock()
	ds := m.ds
	m.mu.Unlock()
	if ds == nil || !ds.created {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	ns := m.Opts.Namespace
	bg := metav1.DeletePropagationBackground
	var errs []error
	del := func(what string, f func() error) {
		if err := transient.Do(ctx, f); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s %s/%s: %w (remove it with `kubectl kpr cleanup`)", what, ns, ds.name, err))
		}
	}
	// The DaemonSet first, so that its controller does not replace the
	// pods deleted next; then the pods at once (grace 0) rather than by
	// the garbage collector at its pace.
	del("daemonset", func() error {
		return m.Client.AppsV1().DaemonSets(ns).Delete(ctx, ds.name, metav1.DeleteOptions{PropagationPolicy: &bg})
	})
	del("job", func() error {
		return m.Client.BatchV1().Jobs(ns).Delete(ctx, ds.name, metav1.DeleteOptions{PropagationPolicy: &bg})
	})
	zero := int64(0)
	sel := labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue, RunIDLabel: m.Opts.RunID}).String()
	del("pods of daemonset", func() error {
		err := m.Client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{LabelSelector: sel})
		if !apierrors.IsForbidden(err) {
			return err
		}
		// Without deletecollection (an older role): one by one.
		list, err := m.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return err
		}
		var errs []error
		for _, p := range list.Items {
			if err := m.Client.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
	if len(errs) == 0 {
		m.mu.Lock()
		m.ds = nil
		m.mu.Unlock()
	}
	return errs
}

// LeftController is a DaemonSet or anchor Job of daemonset mode found by
// CleanupControllers.
type LeftController struct {
	Kind      string
	Namespace string
	Name      string
	RunID     string
	Created   time.Time
}

// CleanupControllers deletes (or, with dryRun, lists) every DaemonSet and
// Job kpr's daemonset mode left in any namespace. Call it before
// CleanupAll: with the DaemonSet gone its controller no longer replaces
// the pods CleanupAll deletes. Who may not list them cannot have created
// them: a forbidden LIST is skipped, not an error.
func CleanupControllers(ctx context.Context, client kubernetes.Interface, dryRun bool) ([]LeftController, error) {
	sel := metav1.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue}).String()}
	var out []LeftController
	var errs []error
	bg := metav1.DeletePropagationBackground
	background := metav1.DeleteOptions{PropagationPolicy: &bg}
	sweep := func(kind string, items []metav1.ObjectMeta, listErr error, remove func(ns, name string) error) {
		switch {
		case apierrors.IsForbidden(listErr):
		case listErr != nil:
			errs = append(errs, fmt.Errorf("listing kpr's %ss: %w", kind, listErr))
		default:
			for _, m := range items {
				if !dryRun {
					err := transient.Do(ctx, func() error { return remove(m.Namespace, m.Name) })
					if err != nil && !apierrors.IsNotFound(err) {
						errs = append(errs, fmt.Errorf("%s %s/%s: %w", kind, m.Namespace, m.Name, err))
						continue
					}
				}
				out = append(out, LeftController{Kind: kind, Namespace: m.Namespace, Name: m.Name, RunID: m.Labels[RunIDLabel], Created: m.CreationTimestamp.Time})
			}
		}
	}
	var metas []metav1.ObjectMeta
	dss, err := client.AppsV1().DaemonSets(metav1.NamespaceAll).List(ctx, sel)
	if err == nil {
		for _, d := range dss.Items {
			metas = append(metas, d.ObjectMeta)
		}
	}
	sweep("daemonset", metas, err, func(ns, name string) error {
		return client.AppsV1().DaemonSets(ns).Delete(ctx, name, background)
	})
	jobs, err := client.BatchV1().Jobs(metav1.NamespaceAll).List(ctx, sel)
	if apierrors.IsForbidden(err) {
		// kpr-inspector may list Jobs in kube-system only (deploy/rbac.yaml).
		jobs, err = client.BatchV1().Jobs(DefaultNamespace).List(ctx, sel)
	}
	metas = nil
	if err == nil {
		for _, j := range jobs.Items {
			metas = append(metas, j.ObjectMeta)
		}
	}
	sweep("job", metas, err, func(ns, name string) error {
		return client.BatchV1().Jobs(ns).Delete(ctx, name, background)
	})
	return out, errors.Join(errs...)
}
