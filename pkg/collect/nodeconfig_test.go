package collect

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/nodeconfig"
)

var (
	t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	// The agent pods of these tests were created at podStart.
	podStart = t0.Add(2 * time.Hour)
)

func at(d time.Duration) *metav1.Time { t := metav1.NewTime(t0.Add(d)); return &t }

func fieldsV1(raw string) *metav1.FieldsV1 { return &metav1.FieldsV1{Raw: []byte(raw)} }

// cnc is a CiliumNodeConfig as the API server returns it at apiVersion
// ("cilium.io/v2" or "cilium.io/v2alpha1"). selector nil leaves
// spec.nodeSelector out.
func cnc(apiVersion, ns, name string, created time.Duration, selector map[string]any, defaults map[string]any, mf ...metav1.ManagedFieldsEntry) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{}}}
	u.SetAPIVersion(apiVersion)
	u.SetKind("CiliumNodeConfig")
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetCreationTimestamp(*at(created))
	if selector != nil {
		u.Object["spec"].(map[string]any)["nodeSelector"] = selector
	}
	if defaults != nil {
		u.Object["spec"].(map[string]any)["defaults"] = defaults
	}
	u.SetManagedFields(mf)
	return u
}

// The CNC of the documented KPR rollout (per-node-config.rst).
func rolloutCNC(apiVersion string, created time.Duration, mf ...metav1.ManagedFieldsEntry) *unstructured.Unstructured {
	return cnc(apiVersion, "kube-system", "kube-proxy-replacement", created,
		map[string]any{"matchLabels": map[string]any{nodeconfig.MigrationLabel: "true"}},
		map[string]any{nodeconfig.KeyKPR: "true", nodeconfig.KeyKPRHealthzBind: "0.0.0.0:10256"}, mf...)
}

// newDynamic is a dynamic client whose server serves CiliumNodeConfigs at
// the given versions ("v2", "v2alpha1"); listing another version gets the
// API server's 404, and every list fails with listErr when it is set.
func newDynamic(served []string, listErr error, objs ...runtime.Object) *dynfake.FakeDynamicClient {
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		CNCResourceV2:      "CiliumNodeConfigList",
		CNCResourceV2Alpha: "CiliumNodeConfigList",
	}, objs...)
	dyn.PrependReactor("list", "ciliumnodeconfigs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if listErr != nil {
			return true, nil, listErr
		}
		if !slices.Contains(served, a.GetResource().Version) {
			// What the API server answers for a resource it does not
			// serve: 404, "the server could not find the requested
			// resource".
			return true, nil, apierrors.NewGenericServerResponse(404, "list", a.GetResource().GroupResource(), "", "", 0, true)
		}
		return false, nil, nil
	})
	return dyn
}

func container(name string, command, args []string, env ...corev1.EnvVar) corev1.Container {
	return corev1.Container{Name: name, Image: "quay.io/cilium/cilium:v1.16.5", Command: command, Args: args, Env: env}
}

// The chart's `config` init container and agent (v1.15 on).
func chartInit(args ...string) corev1.Container {
	return container("config", []string{"cilium-dbg", "build-config"}, args,
		corev1.EnvVar{Name: "K8S_NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		corev1.EnvVar{Name: "CILIUM_K8S_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}})
}

func chartAgent() corev1.Container {
	return container(CiliumAgentContainer, []string{"cilium-agent"}, []string{"--config-dir=/tmp/cilium/config-map"})
}

func agentDS(name string, inits []corev1.Container, agent corev1.Container) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: name, Labels: map[string]string{"k8s-app": "cilium"}},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			InitContainers: inits, Containers: []corev1.Container{agent},
		}}},
	}
}

func agentPod(name, node, ds string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: name, Labels: map[string]string{"k8s-app": "cilium"},
			CreationTimestamp: metav1.NewTime(podStart),
			OwnerReferences:   []metav1.OwnerReference{{Kind: "DaemonSet", Name: ds}}},
		Spec:   corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: CiliumAgentContainer, Image: "quay.io/cilium/cilium:v1.16.5"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

func ciliumConfig(data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: CiliumConfigMapName}, Data: data}
}

var clusterKPRFalse = map[string]string{nodeconfig.KeyKPR: "false", "routing-mode": "tunnel"}

func node(name string, labels, annotations map[string]string, mf ...metav1.ManagedFieldsEntry) corev1.Node {
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations, ManagedFields: mf}}
}

func migrated(name string) corev1.Node {
	return node(name, map[string]string{"kubernetes.io/hostname": name, nodeconfig.MigrationLabel: "true"}, nil)
}

func plain(name string) corev1.Node {
	return node(name, map[string]string{"kubernetes.io/hostname": name}, nil)
}

func read(t *testing.T, dyn *dynfake.FakeDynamicClient, objs ...runtime.Object) (NodeConfigInputs, []string) {
	t.Helper()
	in, warnings, err := ReadNodeConfigInputs(context.Background(), fake.NewSimpleClientset(objs...), dyn, "")
	if err != nil {
		t.Fatalf("ReadNodeConfigInputs: %v", err)
	}
	return in, warnings
}

func wantKPR(t *testing.T, eff nodeconfig.Effective, value string, origin nodeconfig.OriginKind, apiVersion string) {
	t.Helper()
	if eff.Err != nil {
		t.Fatalf("%s: Err %v", eff.Node, eff.Err)
	}
	v, o, ok := eff.Get(nodeconfig.KeyKPR)
	if !ok || v != value || o.Kind != origin || o.APIVersion != apiVersion {
		t.Errorf("%s: %s = %q from %+v (set %v), want %q from %s %s", eff.Node, nodeconfig.KeyKPR, v, o, ok, value, origin, apiVersion)
	}
}

func standardCluster(extra ...runtime.Object) []runtime.Object {
	return append([]runtime.Object{
		agentDS("cilium", []corev1.Container{chartInit()}, chartAgent()),
		agentPod("cilium-a", "node-a", "cilium"), agentPod("cilium-b", "node-b", "cilium"),
		ciliumConfig(clusterKPRFalse),
	}, extra...)
}

// A v1.16+ cluster serves every CNC at both versions; the reader keeps
// both copies, converted field by field.
func TestReadNodeConfigInputsBothVersions(t *testing.T) {
	specMF := []metav1.ManagedFieldsEntry{
		{Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate, Time: at(0),
			FieldsV1: fieldsV1(`{"f:spec":{".":{},"f:defaults":{}}}`)},
		{Manager: "kubectl-edit", Operation: metav1.ManagedFieldsOperationUpdate, Time: at(3 * time.Hour),
			FieldsV1: fieldsV1(`{"f:spec":{"f:defaults":{"f:kube-proxy-replacement":{}}}}`)},
		// Newest, but only the CNC's own labels: not a spec change.
		{Manager: "kubectl-label", Operation: metav1.ManagedFieldsOperationUpdate, Time: at(5 * time.Hour),
			FieldsV1: fieldsV1(`{"f:metadata":{"f:labels":{"f:team":{}}}}`)},
	}
	exprSel := map[string]any{"matchExpressions": []any{map[string]any{"key": "pool", "operator": "In", "values": []any{"gpu", "big"}}}}
	dyn := newDynamic([]string{"v2", "v2alpha1"}, nil,
		rolloutCNC(nodeconfig.APIVersionV2, 0, specMF...),
		rolloutCNC(nodeconfig.APIVersionV2Alpha1, 0, specMF...),
		cnc(nodeconfig.APIVersionV2, "kube-system", "gpu", time.Hour, exprSel, map[string]any{"bpf-lb-mode": "dsr"}),
		cnc(nodeconfig.APIVersionV2, "kube-system", "no-selector", time.Hour, nil, map[string]any{"x": "1"}),
		cnc(nodeconfig.APIVersionV2, "kube-system", "everyone", time.Hour, map[string]any{}, map[string]any{"y": "2"}),
		cnc(nodeconfig.APIVersionV2, "other", "elsewhere", time.Hour, map[string]any{}, map[string]any{"z": "3"}),
	)
	in, warnings := read(t, dyn, standardCluster()...)
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	if want := map[string]nodeconfig.Tri{nodeconfig.APIVersionV2: nodeconfig.Yes, nodeconfig.APIVersionV2Alpha1: nodeconfig.Yes}; !reflect.DeepEqual(in.CNCVersions, want) || !in.CNCsKnown() {
		t.Errorf("CNCVersions = %v, want %v", in.CNCVersions, want)
	}
	var refs []string
	for _, c := range in.CNCs {
		refs = append(refs, c.Ref()+"@"+c.APIVersion)
	}
	if want := []string{"kube-system/everyone@cilium.io/v2", "kube-system/gpu@cilium.io/v2",
		"kube-system/kube-proxy-replacement@cilium.io/v2", "kube-system/kube-proxy-replacement@cilium.io/v2alpha1",
		"kube-system/no-selector@cilium.io/v2"}; !reflect.DeepEqual(refs, want) {
		t.Errorf("CNCs = %q, want %q (only the agent namespace's)", refs, want)
	}
	byName := map[string]nodeconfig.CNC{}
	for _, c := range in.CNCs {
		byName[c.Name] = c
	}
	kpr := byName["kube-proxy-replacement"]
	if !kpr.CreationTime.Equal(t0) || !kpr.LastChange.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("times: created %v, last change %v; want %v and the kubectl-edit of spec %v", kpr.CreationTime, kpr.LastChange, t0, t0.Add(3*time.Hour))
	}
	if want := (&nodeconfig.Selector{MatchLabels: map[string]string{nodeconfig.MigrationLabel: "true"}}); !reflect.DeepEqual(kpr.NodeSelector, want) {
		t.Errorf("selector %+v, want %+v", kpr.NodeSelector, want)
	}
	if want := map[string]string{nodeconfig.KeyKPR: "true", nodeconfig.KeyKPRHealthzBind: "0.0.0.0:10256"}; !reflect.DeepEqual(kpr.Defaults, want) {
		t.Errorf("defaults %v, want %v", kpr.Defaults, want)
	}
	if want := (&nodeconfig.Selector{MatchExpressions: []nodeconfig.Requirement{{Key: "pool", Operator: "In", Values: []string{"gpu", "big"}}}}); !reflect.DeepEqual(byName["gpu"].NodeSelector, want) {
		t.Errorf("gpu selector %+v, want %+v", byName["gpu"].NodeSelector, want)
	}
	if byName["no-selector"].NodeSelector != nil {
		t.Errorf("a CNC without nodeSelector must keep a nil selector (selects no node), got %+v", byName["no-selector"].NodeSelector)
	}
	if s := byName["everyone"].NodeSelector; s == nil || !s.Matches(map[string]string{}) {
		t.Errorf("an empty nodeSelector must stay empty (selects every node), got %+v", s)
	}
	if !byName["gpu"].LastChange.IsZero() {
		t.Errorf("no managedFields: LastChange must be zero (CreationTime), got %v", byName["gpu"].LastChange)
	}
	if in.Namespace != "kube-system" || len(in.DaemonSets) != 1 || in.DaemonSets[0].Ref() != "kube-system/cilium" || in.DaemonSets[0].Release != "1.16.5" {
		t.Errorf("namespace %q, DaemonSets %+v", in.Namespace, in.DaemonSets)
	}
	if want := map[string]string{"node-a": "kube-system/cilium", "node-b": "kube-system/cilium"}; !reflect.DeepEqual(in.DaemonSetOf, want) {
		t.Errorf("DaemonSetOf = %v, want %v", in.DaemonSetOf, want)
	}
	if len(in.ConfigMaps) != 1 || in.ConfigMaps[0].Data["routing-mode"] != "tunnel" {
		t.Errorf("ConfigMaps = %+v, want all of cilium-config", in.ConfigMaps)
	}

	// The release reads v2 and v2alpha1, v2 wins.
	wantKPR(t, ResolveNode(in, NodeFacts(migrated("node-a")), "1.16.5"), "true", nodeconfig.OriginCNC, nodeconfig.APIVersionV2)
	wantKPR(t, ResolveNode(in, NodeFacts(plain("node-b")), ""), "false", nodeconfig.OriginConfigMap, "")
	// An agent before v1.16 reads only v2alpha1.
	wantKPR(t, ResolveNode(in, NodeFacts(migrated("node-a")), "1.15.3"), "true", nodeconfig.OriginCNC, nodeconfig.APIVersionV2Alpha1)
}

// Cilium 1.13–1.15: the CRD serves only cilium.io/v2alpha1.
func TestReadNodeConfigInputsOnlyV2Alpha1(t *testing.T) {
	dyn := newDynamic([]string{"v2alpha1"}, nil, rolloutCNC(nodeconfig.APIVersionV2Alpha1, 0))
	in, warnings := read(t, dyn, standardCluster()...)
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	if want := map[string]nodeconfig.Tri{nodeconfig.APIVersionV2: nodeconfig.No, nodeconfig.APIVersionV2Alpha1: nodeconfig.Yes}; !reflect.DeepEqual(in.CNCVersions, want) || !in.CNCsKnown() {
		t.Errorf("CNCVersions = %v, want %v", in.CNCVersions, want)
	}
	if len(in.CNCs) != 1 || in.CNCs[0].APIVersion != nodeconfig.APIVersionV2Alpha1 {
		t.Fatalf("CNCs = %+v", in.CNCs)
	}
	wantKPR(t, ResolveNode(in, NodeFacts(migrated("node-a")), "1.14.6"), "true", nodeconfig.OriginCNC, nodeconfig.APIVersionV2Alpha1)
}

// Cilium 1.20: cilium.io/v2 only.
func TestReadNodeConfigInputsOnlyV2(t *testing.T) {
	dyn := newDynamic([]string{"v2"}, nil, rolloutCNC(nodeconfig.APIVersionV2, 0))
	in, warnings := read(t, dyn, standardCluster()...)
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	if want := map[string]nodeconfig.Tri{nodeconfig.APIVersionV2: nodeconfig.Yes, nodeconfig.APIVersionV2Alpha1: nodeconfig.No}; !reflect.DeepEqual(in.CNCVersions, want) {
		t.Errorf("CNCVersions = %v, want %v", in.CNCVersions, want)
	}
	wantKPR(t, ResolveNode(in, NodeFacts(migrated("node-a")), "1.20.2"), "true", nodeconfig.OriginCNC, nodeconfig.APIVersionV2)
}

// No CRD at all: no CNCs, nothing unknown, no warning.
func TestReadNodeConfigInputsCRDAbsent(t *testing.T) {
	in, warnings := read(t, newDynamic(nil, nil), standardCluster()...)
	if len(warnings) != 0 || len(in.CNCs) != 0 || len(in.Unread) != 0 || !in.CNCsKnown() {
		t.Errorf("warnings %q, CNCs %+v, unread %q, known %v", warnings, in.CNCs, in.Unread, in.CNCsKnown())
	}
	if want := map[string]nodeconfig.Tri{nodeconfig.APIVersionV2: nodeconfig.No, nodeconfig.APIVersionV2Alpha1: nodeconfig.No}; !reflect.DeepEqual(in.CNCVersions, want) {
		t.Errorf("CNCVersions = %v, want %v", in.CNCVersions, want)
	}
	wantKPR(t, ResolveNode(in, NodeFacts(migrated("node-a")), ""), "false", nodeconfig.OriginConfigMap, "")
}

// RBAC without `list ciliumnodeconfigs`: a warning naming it, the CNCs
// unknown, no error.
func TestReadNodeConfigInputsForbidden(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "cilium.io", Resource: "ciliumnodeconfigs"}, "",
		errors.New(`User "jane" cannot list resource "ciliumnodeconfigs" in API group "cilium.io" in the namespace "kube-system"`))
	in, warnings := read(t, newDynamic([]string{"v2", "v2alpha1"}, forbidden, rolloutCNC(nodeconfig.APIVersionV2, 0)), standardCluster()...)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "`list ciliumnodeconfigs.cilium.io` in namespace kube-system") {
		t.Errorf("warnings = %q, want one naming `list ciliumnodeconfigs.cilium.io` in namespace kube-system", warnings)
	}
	if in.CNCsKnown() || in.CNCVersions[nodeconfig.APIVersionV2] != nodeconfig.Unknown || in.CNCVersions[nodeconfig.APIVersionV2Alpha1] != nodeconfig.Unknown {
		t.Errorf("CNCVersions = %v, want both Unknown", in.CNCVersions)
	}
	if want := []string{"ciliumnodeconfigs.cilium.io in namespace kube-system"}; !reflect.DeepEqual(in.Unread, want) {
		t.Errorf("Unread = %q, want %q", in.Unread, want)
	}
}

// Any other failure to list is an error.
func TestReadNodeConfigInputsListError(t *testing.T) {
	_, _, err := ReadNodeConfigInputs(context.Background(), fake.NewSimpleClientset(standardCluster()...),
		newDynamic(nil, apierrors.NewInternalError(errors.New("etcd timeout"))), "")
	if err == nil || !strings.Contains(err.Error(), "list ciliumnodeconfigs.cilium.io") {
		t.Errorf("err = %v, want the failed list", err)
	}
}

// A DaemonSet without the build-config init container (an old chart that
// mounts cilium-config): CNCs do nothing, the node runs cilium-config.
func TestNodeConfigDaemonSetWithoutInitContainer(t *testing.T) {
	dyn := newDynamic([]string{"v2", "v2alpha1"}, nil, rolloutCNC(nodeconfig.APIVersionV2, 0))
	objs := standardCluster()
	objs[0] = agentDS("cilium", []corev1.Container{container("mount-cgroup", []string{"sh", "-c", "nsenter ..."}, nil)}, chartAgent())
	in, _ := read(t, dyn, objs...)
	ds := in.DaemonSetFor("node-a")
	if ds == nil || ds.Setup.InitContainer != "" || ds.Setup.IgnoresNodeConfigs() == "" {
		t.Fatalf("setup %+v: want no build-config init container, CNCs ignored", ds)
	}
	if len(ds.InitContainers) != 1 || ds.InitContainers[0].Name != "mount-cgroup" {
		t.Errorf("init containers %+v", ds.InitContainers)
	}
	wantKPR(t, ResolveNode(in, NodeFacts(migrated("node-a")), ""), "false", nodeconfig.OriginConfigMap, "")
}

// --source args: a node source and a second ConfigMap; another CNC
// namespace. The reader follows them; an annotation wins.
func TestNodeConfigSourceArgs(t *testing.T) {
	dyn := newDynamic([]string{"v2", "v2alpha1"}, nil,
		rolloutCNC(nodeconfig.APIVersionV2, 0),
		cnc(nodeconfig.APIVersionV2, "cilium-config-ns", "all", 0, map[string]any{}, map[string]any{"bpf-lb-mode": "dsr"}),
	)
	objs := standardCluster(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "extra"}, Data: map[string]string{"enable-node-port": "true"}},
	)
	objs[0] = agentDS("cilium", []corev1.Container{chartInit(
		"--source=config-map:cilium-config,config-map:extra,config-map:absent",
		"--source", "cilium-node-config:kube-system,cilium-node-config:cilium-config-ns,node",
	)}, chartAgent())
	in, warnings := read(t, dyn, objs...)
	if len(warnings) != 0 {
		t.Errorf("warnings %q", warnings)
	}
	var cms []string
	for _, cm := range in.ConfigMaps {
		cms = append(cms, cm.Namespace+"/"+cm.Name)
	}
	if want := []string{"kube-system/cilium-config", "kube-system/extra"}; !reflect.DeepEqual(cms, want) {
		t.Errorf("ConfigMaps %q, want %q (absent: not found, as build-config ignores it)", cms, want)
	}
	n := migrated("node-a")
	n.Annotations = map[string]string{"config.cilium.io/kube-proxy-replacement": "false"}
	eff := ResolveNode(in, NodeFacts(n), "1.17.3")
	wantKPR(t, eff, "false", nodeconfig.OriginNodeAnnotation, "")
	if v, o, _ := eff.Get("bpf-lb-mode"); v != "dsr" || o.Namespace != "cilium-config-ns" {
		t.Errorf("bpf-lb-mode %q from %+v: want dsr from the CNC in cilium-config-ns", v, o)
	}
	if v, _, _ := eff.Get("enable-node-port"); v != "true" {
		t.Errorf("enable-node-port %q, want true from ConfigMap extra", v)
	}
	if v, _, _ := eff.Get(nodeconfig.KeyKPRHealthzBind); v != "0.0.0.0:10256" {
		t.Errorf("healthz %q, want the CNC's", v)
	}
}

// RBAC lets kpr read cilium-config only: another ConfigMap a source names
// is a warning.
func TestNodeConfigConfigMapForbidden(t *testing.T) {
	objs := standardCluster()
	objs[0] = agentDS("cilium", []corev1.Container{chartInit("--source=config-map:cilium-config,config-map:private")}, chartAgent())
	cs := fake.NewSimpleClientset(objs...)
	cs.PrependReactor("get", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.GetAction).GetName() == "private" {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "private", errors.New("no"))
		}
		return false, nil, nil
	})
	in, warnings, err := ReadNodeConfigInputs(context.Background(), cs, newDynamic(nil, nil), "kube-system")
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "`get configmaps` in namespace kube-system") || !slices.Equal(in.Unread, []string{"ConfigMap kube-system/private"}) {
		t.Errorf("warnings %q, unread %q", warnings, in.Unread)
	}
}

// The agent reads build-config's output through CILIUM_CONFIG_DIR, not
// --config-dir.
func TestNodeConfigConfigDirEnv(t *testing.T) {
	dyn := newDynamic([]string{"v2", "v2alpha1"}, nil, rolloutCNC(nodeconfig.APIVersionV2, 0))
	objs := standardCluster()
	objs[0] = agentDS("cilium", []corev1.Container{chartInit()},
		container(CiliumAgentContainer, []string{"cilium-agent"}, nil, corev1.EnvVar{Name: "CILIUM_CONFIG_DIR", Value: "/tmp/cilium/config-map"}))
	in, warnings := read(t, dyn, objs...)
	if len(warnings) != 0 {
		t.Errorf("warnings %q", warnings)
	}
	if d := in.DaemonSets[0].Setup.ConfigDir; d != "/tmp/cilium/config-map" {
		t.Errorf("ConfigDir %q", d)
	}
	wantKPR(t, ResolveNode(in, NodeFacts(migrated("node-a")), ""), "true", nodeconfig.OriginCNC, nodeconfig.APIVersionV2)

	// Taken from a reference: not followed, said so, and the agent is
	// taken to read cilium-config only.
	objs[0] = agentDS("cilium", []corev1.Container{chartInit()},
		container(CiliumAgentContainer, []string{"cilium-agent"}, nil, corev1.EnvVar{Name: "CILIUM_CONFIG_DIR",
			ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cilium-config"}, Key: "config-dir"}}}))
	in, warnings = read(t, newDynamic([]string{"v2"}, nil, rolloutCNC(nodeconfig.APIVersionV2, 0)), objs...)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "CILIUM_CONFIG_DIR comes from a reference") {
		t.Errorf("warnings %q", warnings)
	}
	if !slices.Equal(in.DaemonSets[0].AgentEnvFromRef, []string{"CILIUM_CONFIG_DIR"}) {
		t.Errorf("AgentEnvFromRef %q", in.DaemonSets[0].AgentEnvFromRef)
	}
	wantKPR(t, ResolveNode(in, NodeFacts(migrated("node-a")), ""), "false", nodeconfig.OriginConfigMap, "")
}

// An init container build-config rejects: no agent starts.
func TestNodeConfigFailingInitContainer(t *testing.T) {
	objs := standardCluster()
	objs[0] = agentDS("cilium", []corev1.Container{chartInit("--source=configmap:cilium-config")}, chartAgent())
	in, _ := read(t, newDynamic(nil, nil), objs...)
	eff := ResolveNode(in, NodeFacts(plain("node-a")), "")
	if eff.Err == nil || !strings.Contains(eff.Err.Error(), "unknown config source configmap") || len(eff.Values) != 0 {
		t.Errorf("Err %v, values %v", eff.Err, eff.Values)
	}
}

// Two agent DaemonSets: each node resolves with its own agent's.
func TestNodeConfigDaemonSetPerNode(t *testing.T) {
	dyn := newDynamic([]string{"v2"}, nil, rolloutCNC(nodeconfig.APIVersionV2, 0))
	objs := []runtime.Object{
		agentDS("cilium", []corev1.Container{chartInit()}, chartAgent()),
		agentDS("cilium-legacy", nil, chartAgent()),
		agentPod("cilium-a", "node-a", "cilium"), agentPod("cilium-legacy-b", "node-b", "cilium-legacy"),
		ciliumConfig(clusterKPRFalse),
	}
	in, _ := read(t, dyn, objs...)
	if len(in.DaemonSets) != 2 || in.DaemonSetFor("node-b").Name != "cilium-legacy" || in.DaemonSetFor("node-z").Name != "cilium" {
		t.Fatalf("DaemonSets %+v, DaemonSetOf %v", in.DaemonSets, in.DaemonSetOf)
	}
	wantKPR(t, ResolveNode(in, NodeFacts(migrated("node-a")), ""), "true", nodeconfig.OriginCNC, nodeconfig.APIVersionV2)
	wantKPR(t, ResolveNode(in, NodeFacts(migrated("node-b")), ""), "false", nodeconfig.OriginConfigMap, "")
}

// No agent pod yet and a DaemonSet not named cilium: found by its label.
// No DaemonSet at all: the chart's build-config is assumed.
func TestNodeConfigDaemonSetByLabel(t *testing.T) {
	dyn := newDynamic([]string{"v2"}, nil, rolloutCNC(nodeconfig.APIVersionV2, 0))
	in, _ := read(t, dyn, agentDS("cilium-agent", []corev1.Container{chartInit()}, chartAgent()), ciliumConfig(clusterKPRFalse))
	if len(in.DaemonSets) != 1 || in.DaemonSets[0].Name != "cilium-agent" {
		t.Fatalf("DaemonSets %+v", in.DaemonSets)
	}
	wantKPR(t, ResolveNode(in, NodeFacts(migrated("node-a")), ""), "true", nodeconfig.OriginCNC, nodeconfig.APIVersionV2)

	in, _ = read(t, newDynamic([]string{"v2"}, nil, rolloutCNC(nodeconfig.APIVersionV2, 0)), ciliumConfig(clusterKPRFalse))
	if len(in.DaemonSets) != 0 || in.DaemonSetFor("node-a") != nil {
		t.Fatalf("DaemonSets %+v", in.DaemonSets)
	}
	wantKPR(t, ResolveNode(in, NodeFacts(migrated("node-a")), ""), "true", nodeconfig.OriginCNC, nodeconfig.APIVersionV2)
}

// Objects the CRD's schema would not admit: a YAML boolean in defaults
// (the v1.13–v1.17 docs' unquoted true) is kept as its text; a selector
// that is not an object leaves the CNC out with a warning.
func TestNodeConfigOddCNCs(t *testing.T) {
	bad := cnc(nodeconfig.APIVersionV2, "kube-system", "bad", 0, nil, map[string]any{"a": "b"})
	bad.Object["spec"].(map[string]any)["nodeSelector"] = "everyone"
	badDefaults := cnc(nodeconfig.APIVersionV2, "kube-system", "bad-defaults", 0, nil, nil)
	badDefaults.Object["spec"].(map[string]any)["defaults"] = []any{"x"}
	badExpr := cnc(nodeconfig.APIVersionV2, "kube-system", "bad-expr", 0, map[string]any{"matchExpressions": "x"}, nil)
	dyn := newDynamic([]string{"v2"}, nil, bad, badDefaults, badExpr,
		cnc(nodeconfig.APIVersionV2, "kube-system", "bool", 0, map[string]any{}, map[string]any{nodeconfig.KeyKPR: true, "mtu": int64(1400)}))
	in, warnings := read(t, dyn, standardCluster()...)
	if len(warnings) != 3 || !strings.Contains(warnings[0], "kube-system/bad (cilium.io/v2)") {
		t.Errorf("warnings %q, want the three bad CNCs left out", warnings)
	}
	if len(in.CNCs) != 1 || !reflect.DeepEqual(in.CNCs[0].Defaults, map[string]string{nodeconfig.KeyKPR: "true", "mtu": "1400"}) {
		t.Errorf("CNCs %+v", in.CNCs)
	}
}

// Node change times from managedFields: every label, config.cilium.io
// annotations only, the newest entry owning the key, keys no longer on
// the node left out. With them, a CNC selecting a label set after the
// agent started, and an annotation set after it, are not applied yet.
func TestNodeFactsChangeTimes(t *testing.T) {
	n := node("node-a",
		map[string]string{"kubernetes.io/hostname": "node-a", nodeconfig.MigrationLabel: "true"},
		map[string]string{"config.cilium.io/bpf-lb-mode": "dsr", "node.alpha.kubernetes.io/ttl": "0"},
		metav1.ManagedFieldsEntry{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate, Time: at(0),
			FieldsV1: fieldsV1(`{"f:metadata":{"f:annotations":{".":{},"f:node.alpha.kubernetes.io/ttl":{}},"f:labels":{".":{},"f:kubernetes.io/hostname":{}}}}`)},
		metav1.ManagedFieldsEntry{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status", Time: at(6 * time.Hour),
			FieldsV1: fieldsV1(`{"f:status":{"f:conditions":{}}}`)},
		metav1.ManagedFieldsEntry{Manager: "kubectl-label", Operation: metav1.ManagedFieldsOperationUpdate, Time: at(3 * time.Hour),
			FieldsV1: fieldsV1(`{"f:metadata":{"f:labels":{"f:io.cilium.migration/kube-proxy-replacement":{},"f:gone":{}}}}`)},
		metav1.ManagedFieldsEntry{Manager: "kubectl-annotate", Operation: metav1.ManagedFieldsOperationUpdate, Time: at(4 * time.Hour),
			FieldsV1: fieldsV1(`{"f:metadata":{"f:annotations":{"f:config.cilium.io/bpf-lb-mode":{}}}}`)},
		metav1.ManagedFieldsEntry{Manager: "no-fields", Time: at(9 * time.Hour)},
		metav1.ManagedFieldsEntry{Manager: "garbled", Time: at(9 * time.Hour), FieldsV1: fieldsV1(`[`)},
	)
	f := NodeFacts(n)
	want := map[string]time.Time{
		"kubernetes.io/hostname":       t0,
		nodeconfig.MigrationLabel:      t0.Add(3 * time.Hour),
		"config.cilium.io/bpf-lb-mode": t0.Add(4 * time.Hour),
	}
	if !reflect.DeepEqual(f.ChangedAt, want) {
		t.Errorf("ChangedAt = %v, want %v", f.ChangedAt, want)
	}
	if f.Name != "node-a" || !reflect.DeepEqual(f.Labels, n.Labels) || !reflect.DeepEqual(f.Annotations, n.Annotations) {
		t.Errorf("facts %+v", f)
	}
	if NodeFacts(plain("node-b")).ChangedAt != nil {
		t.Errorf("no managedFields: ChangedAt must be nil")
	}

	dyn := newDynamic([]string{"v2", "v2alpha1"}, nil, rolloutCNC(nodeconfig.APIVersionV2, 0), rolloutCNC(nodeconfig.APIVersionV2Alpha1, 0))
	objs := standardCluster()
	objs[0] = agentDS("cilium", []corev1.Container{chartInit("--source=config-map:cilium-config,cilium-node-config:kube-system,node")}, chartAgent())
	in, _ := read(t, dyn, objs...)
	eff := ResolveNode(in, f, "")
	var late []string
	for _, c := range nodeconfig.NotApplied(eff.Changes(), podStart) {
		late = append(late, c.Key+" by "+c.AtWhy)
	}
	slices.Sort(late)
	if want := []string{
		"bpf-lb-mode by node annotation config.cilium.io/bpf-lb-mode set",
		"kube-proxy-replacement by node label io.cilium.migration/kube-proxy-replacement set",
		"kube-proxy-replacement-healthz-bind-address by node label io.cilium.migration/kube-proxy-replacement set",
	}; !reflect.DeepEqual(late, want) {
		t.Errorf("not applied: %q, want %q", late, want)
	}
}

// What FindCilium or the DaemonSet lookup cannot read is an error, named
// by the permission it lacks.
func TestReadNodeConfigInputsAPIErrors(t *testing.T) {
	for _, tc := range []struct{ verb, resource, want string }{
		{"list", "pods", "`list pods` cluster-wide"},
		{"list", "daemonsets", "`list daemonsets` in namespace kube-system"},
	} {
		cs := fake.NewSimpleClientset(ciliumConfig(clusterKPRFalse))
		cs.PrependReactor(tc.verb, tc.resource, func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: tc.resource}, "", errors.New("no"))
		})
		_, _, err := ReadNodeConfigInputs(context.Background(), cs, newDynamic(nil, nil), "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s forbidden: err %v, want %s", tc.verb, tc.resource, err, tc.want)
		}
	}
}
