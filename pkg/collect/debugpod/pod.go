// Package debugpod runs kpr's short-lived node debug pods: privileged,
// host-network, host-PID pods pinned to one node (the shape of
// `kubectl debug node/NAME --profile=sysadmin`), waits for them with a
// watch, explains why one could not start, execs into them and always
// deletes them again.
package debugpod

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
)

// DefaultImage is the pinned debug image: it carries iptables (both
// backends), nft, ipvsadm, conntrack and curl. A var rather than a const
// only so that packagers can override it with
// -ldflags "-X github.com/kubectl-kpr/kubectl-kpr/pkg/collect/debugpod.DefaultImage=...".
var DefaultImage = "docker.io/nicolaka/netshoot:v0.13"

const (
	// ContainerName is the debug pod's only container.
	ContainerName = "kpr"
	// ManagedByLabel marks every pod kpr creates; `kpr cleanup` selects on it.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "kubectl-kpr"
	// RunIDLabel ties a pod to the kpr invocation that made it, so that an
	// interrupted run deletes its own pods and nobody else's.
	RunIDLabel = "kpr.run-id"
	// NodeAnnotation records the target node (node names may be longer
	// than a label value may be).
	NodeAnnotation = "kpr.node"
	// HostMount is where the node's / appears in the pod.
	HostMount = "/host"

	DefaultNamespace = "kube-system"
	DefaultTimeout   = 60 * time.Second
)

// Options shape the debug pods of one run.
type Options struct {
	Namespace        string
	Image            string
	ImagePullSecrets []string
	// Timeout bounds the wait for a pod to run.
	Timeout time.Duration
	// Lifetime becomes activeDeadlineSeconds: even if kpr is killed with
	// SIGKILL, the kubelet ends the pod after this long.
	Lifetime time.Duration
	// Keep leaves the pods behind for debugging.
	Keep  bool
	RunID string
	// Mode picks per-node pods or one DaemonSet (ForNodes).
	Mode Mode
}

// WithDefaults fills unset fields.
func (o Options) WithDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Lifetime <= 0 {
		o.Lifetime = 3 * o.Timeout
		if o.Lifetime < 5*time.Minute {
			o.Lifetime = 5 * time.Minute
		}
	}
	if o.RunID == "" {
		o.RunID = NewRunID()
	}
	return o
}

// NewRunID returns a short random id for RunIDLabel.
func NewRunID() string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return utilrand.String(8)
	}
	return hex.EncodeToString(b)
}

// nameSuffix is swapped by tests (kubectl's debug tests do the same).
var nameSuffix = func() string { return utilrand.String(5) }

// PodName returns kpr-<node>-<suffix>, cut so that it stays a valid
// 63-character DNS label.
func PodName(node, suffix string) string {
	const prefix = "kpr-"
	max := 63 - len(prefix) - 1 - len(suffix)
	n := strings.ToLower(node)
	if len(n) > max {
		n = n[:max]
	}
	n = strings.Trim(strings.ReplaceAll(n, ".", "-"), "-")
	return prefix + n + "-" + suffix
}

// Build returns the debug pod for node.
func Build(node string, o Options) *corev1.Pod {
	o = o.WithDefaults()
	privileged := true
	noToken := false
	deadline := int64(o.Lifetime / time.Second)
	lifetime := strconv.FormatInt(deadline, 10)
	var pullSecrets []corev1.LocalObjectReference
	for _, s := range o.ImagePullSecrets {
		pullSecrets = append(pullSecrets, corev1.LocalObjectReference{Name: s})
	}
	resources := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("10m"),
		corev1.ResourceMemory: resource.MustParse("32Mi"),
	}
	// Limits as well as requests: namespaces with a ResourceQuota on limits
	// reject pods that set none.
	limits := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("500m"),
		corev1.ResourceMemory: resource.MustParse("256Mi"),
	}
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      PodName(node, nameSuffix()),
			Namespace: o.Namespace,
			Labels: map[string]string{
				ManagedByLabel: ManagedByValue,
				RunIDLabel:     o.RunID,
			},
			Annotations: map[string]string{NodeAnnotation: node},
		},
		Spec: corev1.PodSpec{
			NodeName:                     node,
			HostNetwork:                  true,
			HostPID:                      true,
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &noToken,
			ActiveDeadlineSeconds:        &deadline,
			// Every taint, NoExecute included (nodes tainted for Cilium's
			// startup carry key=cilium:NoExecute).
			Tolerations:      []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			ImagePullSecrets: pullSecrets,
			Containers: []corev1.Container{{
				Name:  ContainerName,
				Image: o.Image,
				// Sleeps until kpr is done with it; the trap makes deletion
				// immediate instead of waiting out the grace period.
				Command:         []string{"sh", "-c", "trap 'exit 0' TERM INT; sleep " + lifetime + " & wait"},
				SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
				Resources:       corev1.ResourceRequirements{Requests: resources, Limits: limits},
				VolumeMounts:    []corev1.VolumeMount{{Name: "host-root", MountPath: HostMount, ReadOnly: true}},
				ImagePullPolicy: corev1.PullIfNotPresent,
			}},
			Volumes: []corev1.Volume{{
				Name:         "host-root",
				VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}},
			}},
		},
	}
}

// String is for messages: namespace/name on node.
func describe(pod *corev1.Pod) string {
	return fmt.Sprintf("%s/%s on node %s", pod.Namespace, pod.Name, pod.Spec.NodeName)
}
