package debugpod

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

func fixedSuffix(t *testing.T) {
	t.Helper()
	old := nameSuffix
	nameSuffix = func() string { return "abcde" }
	t.Cleanup(func() { nameSuffix = old })
}

// The whole generated pod, compared field by field (kubectl's debug tests
// do the same with cmp.Diff).
func TestBuildWholePod(t *testing.T) {
	fixedSuffix(t)
	got := Build("node-cilium", Options{
		Namespace:        "kube-system",
		Image:            "registry.example/netshoot:v0.13",
		ImagePullSecrets: []string{"regcred"},
		Timeout:          30 * time.Second,
		Lifetime:         10 * time.Minute,
		RunID:            "r1",
	})
	yes, no := true, false
	deadline := int64(600)
	want := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        "kpr-node-cilium-abcde",
			Namespace:   "kube-system",
			Labels:      map[string]string{"app.kubernetes.io/managed-by": "kubectl-kpr", "kpr.run-id": "r1"},
			Annotations: map[string]string{"kpr.node": "node-cilium"},
		},
		Spec: corev1.PodSpec{
			NodeName:                     "node-cilium",
			HostNetwork:                  true,
			HostPID:                      true,
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &no,
			ActiveDeadlineSeconds:        &deadline,
			Tolerations:                  []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			ImagePullSecrets:             []corev1.LocalObjectReference{{Name: "regcred"}},
			Containers: []corev1.Container{{
				Name:            "kpr",
				Image:           "registry.example/netshoot:v0.13",
				Command:         []string{"sh", "-c", "trap 'exit 0' TERM INT; sleep 600 & wait"},
				SecurityContext: &corev1.SecurityContext{Privileged: &yes},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
				},
				VolumeMounts:    []corev1.VolumeMount{{Name: "host-root", MountPath: "/host", ReadOnly: true}},
				ImagePullPolicy: corev1.PullIfNotPresent,
			}},
			Volumes: []corev1.Volume{{Name: "host-root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}},
		},
	}
	if !apiequality.Semantic.DeepEqual(got, want) {
		g, _ := yaml.Marshal(got)
		w, _ := yaml.Marshal(want)
		t.Fatalf("generated pod differs\ngot:\n%s\nwant:\n%s", g, w)
	}
}

func TestBuildDefaults(t *testing.T) {
	fixedSuffix(t)
	p := Build("n1", Options{})
	if p.Namespace != "kube-system" {
		t.Errorf("namespace = %q, want kube-system", p.Namespace)
	}
	if img := p.Spec.Containers[0].Image; img != DefaultImage || !strings.HasPrefix(img, "docker.io/") || !strings.Contains(img, ":v") {
		t.Errorf("default image %q must be fully qualified and pinned", img)
	}
	if got := *p.Spec.ActiveDeadlineSeconds; got != 300 {
		t.Errorf("activeDeadlineSeconds = %d, want the 5 minute floor", got)
	}
	if p.Labels[RunIDLabel] == "" {
		t.Error("a run id must be generated")
	}
}

func TestPodNameIsAValidDNSLabel(t *testing.T) {
	for _, node := range []string{
		"node-cilium",
		"ip-10-0-0-1.eu-west-1.compute.internal",
		strings.Repeat("very-long-node-name-", 12),
		"Node.With.Dots-",
	} {
		name := PodName(node, "abcde")
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			t.Errorf("PodName(%q) = %q: %v", node, name, errs)
		}
		if !strings.HasPrefix(name, "kpr-") || !strings.HasSuffix(name, "-abcde") {
			t.Errorf("PodName(%q) = %q: want kpr-<node>-<suffix>", node, name)
		}
	}
}
