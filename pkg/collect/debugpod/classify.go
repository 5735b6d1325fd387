package debugpod

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/textutil"
)

// Reason is a stable name for why a debug pod did not start.
type Reason string

const (
	ReasonImagePull    Reason = "ImagePull"
	ReasonPodSecurity  Reason = "PodSecurity"
	ReasonForbidden    Reason = "Forbidden"
	ReasonQuota        Reason = "Quota"
	ReasonAdmission    Reason = "AdmissionDenied"
	ReasonNamespace    Reason = "NamespaceNotFound"
	ReasonNodeNotFound Reason = "NodeNotFound"
	ReasonNodeNotReady Reason = "NodeNotReady"
	// ReasonUnsupportedNode: a node kpr cannot inspect (Windows).
	ReasonUnsupportedNode Reason = "UnsupportedNode"
	ReasonContainer       Reason = "ContainerError"
	ReasonPodFailed       Reason = "PodFailed"
	ReasonPodDeleted      Reason = "PodDeleted"
	ReasonTimeout         Reason = "Timeout"
	ReasonInvalidSpec     Reason = "Invalid"
	ReasonUnknownCreate   Reason = "CreateFailed"
)

// StartError says why a debug pod did not run and what would fix it.
type StartError struct {
	Reason    Reason
	Node      string
	Namespace string
	Pod       string
	Detail    string
	Hint      string
}

func (e *StartError) Error() string {
	s := fmt.Sprintf("debug pod for node %s", e.Node)
	if e.Pod != "" {
		s = fmt.Sprintf("debug pod %s/%s for node %s", e.Namespace, e.Pod, e.Node)
	}
	s += ": " + string(e.Reason) + ": " + e.Detail
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Image pull failures as the kubelet reports them in
// containerStatuses[].state.waiting.reason (k/k pkg/kubelet/images/types.go).
var imagePullReasons = map[string]bool{
	"ErrImagePull":              true,
	"ImagePullBackOff":          true,
	"InvalidImageName":          true,
	"ErrImageNeverPull":         true,
	"RegistryUnavailable":       true,
	"ErrImageInspect":           true,
	"SignatureValidationFailed": true,
}

// Waiting reasons after which the container will not start by itself.
var containerFailReasons = map[string]bool{
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
	"CrashLoopBackOff":           true,
	"PreStartHookError":          true,
}

// PodState reports whether waiting for pod is over: (true, nil) when its
// container runs, (true, *StartError) when it never will, (false, nil) while
// it may still start.
func PodState(pod *corev1.Pod) (bool, error) {
	fail := func(r Reason, detail, hint string) (bool, error) {
		return true, &StartError{Reason: r, Node: pod.Spec.NodeName, Namespace: pod.Namespace, Pod: pod.Name, Detail: detail, Hint: hint}
	}
	if pod.DeletionTimestamp != nil {
		return fail(ReasonPodDeleted, "the debug pod is being deleted", "the node may be draining, or another `kpr cleanup` ran")
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != ContainerName {
			continue
		}
		switch {
		case cs.State.Running != nil:
			return true, nil
		case cs.State.Waiting != nil && imagePullReasons[cs.State.Waiting.Reason]:
			img := cs.Image
			if img == "" && len(pod.Spec.Containers) > 0 {
				img = pod.Spec.Containers[0].Image
			}
			return fail(ReasonImagePull,
				fmt.Sprintf("cannot pull image %s: %s%s", img, cs.State.Waiting.Reason, suffix(cs.State.Waiting.Message)),
				"mirror it to a registry the node can reach and pass --image (and --image-pull-secret for a private registry)")
		case cs.State.Waiting != nil && containerFailReasons[cs.State.Waiting.Reason]:
			return fail(ReasonContainer, cs.State.Waiting.Reason+suffix(cs.State.Waiting.Message),
				"check the image with --image, or look at `kubectl describe pod` with --keep")
		case cs.State.Terminated != nil:
			t := cs.State.Terminated
			return fail(ReasonPodFailed, fmt.Sprintf("container exited before kpr could use it (%s, exit code %d)%s", t.Reason, t.ExitCode, suffix(t.Message)),
				"the image needs `sh` and `sleep`; pass a suitable --image")
		}
	}
	switch pod.Status.Phase {
	case corev1.PodFailed, corev1.PodSucceeded:
		reason := pod.Status.Reason
		if reason == "" {
			reason = string(pod.Status.Phase)
		}
		return fail(ReasonPodFailed, "pod ended: "+reason+suffix(pod.Status.Message), "")
	case corev1.PodRunning:
		// No container status yet but the phase says Running: trust it.
		if len(pod.Status.ContainerStatuses) == 0 {
			return true, nil
		}
	}
	return false, nil
}

// pendingState summarises a pod that is still starting, for timeouts.
func pendingState(pod *corev1.Pod) string {
	s := "phase " + string(pod.Status.Phase)
	if pod.Status.Phase == "" {
		s = "not yet seen by the kubelet"
	}
	for _, c := range pod.Status.Conditions {
		// A DaemonSet's pods go through the scheduler, which says here why
		// a node did not take one (resources, a full node).
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			s += ", not scheduled: " + c.Reason + suffix(c.Message)
		}
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Waiting != nil && cs.State.Waiting.Reason != "" {
			s += ", waiting: " + cs.State.Waiting.Reason + suffix(cs.State.Waiting.Message)
		}
	}
	return s
}

var podSecurityLevel = regexp.MustCompile(`violates PodSecurity "([a-z]+)(?::[^"]*)?"`)

// ClassifyCreateError explains why the API server refused the debug pod.
func ClassifyCreateError(err error, node, namespace string) error {
	msg := err.Error()
	se := &StartError{Node: node, Namespace: namespace, Detail: firstLine(msg)}
	switch {
	case apierrors.IsForbidden(err) && strings.Contains(msg, "violates PodSecurity"):
		se.Reason = ReasonPodSecurity
		level := "a restrictive level"
		if m := podSecurityLevel.FindStringSubmatch(msg); m != nil {
			level = fmt.Sprintf("%q", m[1])
		}
		se.Detail = fmt.Sprintf("namespace %s enforces Pod Security %s, which forbids the privileged host-network pod kpr needs: %s", namespace, level, firstLine(msg))
		se.Hint = fmt.Sprintf("the namespace label pod-security.kubernetes.io/enforce=privileged would allow it (`kubectl label namespace %s pod-security.kubernetes.io/enforce=privileged --overwrite`), or pass --debug-namespace with a namespace that allows privileged pods", namespace)
	case apierrors.IsForbidden(err) && strings.Contains(msg, "exceeded quota"):
		se.Reason = ReasonQuota
		se.Hint = "free quota in namespace " + namespace + " or pass another --debug-namespace"
	case apierrors.IsForbidden(err) && strings.Contains(msg, "cannot create resource"):
		se.Reason = ReasonForbidden
		se.Detail = fmt.Sprintf("missing permission `create pods` in namespace %s", namespace)
		se.Hint = firstLine(msg)
	case apierrors.IsForbidden(err):
		se.Reason = ReasonAdmission
		se.Hint = "an admission policy in namespace " + namespace + " rejected the privileged pod; pass --debug-namespace with one that allows it"
	case apierrors.IsNotFound(err):
		se.Reason = ReasonNamespace
		se.Detail = "namespace " + namespace + " does not exist"
		se.Hint = "pass --debug-namespace with an existing namespace"
	case apierrors.IsInvalid(err):
		se.Reason = ReasonInvalidSpec
		se.Hint = "check --image and --image-pull-secret"
	default:
		return fmt.Errorf("creating debug pod for node %s in namespace %s: %w", node, namespace, err)
	}
	return se
}

func suffix(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return ""
	}
	return ": " + firstLine(s)
}

// firstLine: the package's short name for the shared helper.
var firstLine = textutil.FirstLine
