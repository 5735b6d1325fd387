package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/nodeconfig"
)

// CiliumNodeConfig resources: one CRD (ciliumnodeconfigs.cilium.io) served
// at cilium.io/v2alpha1 (Cilium 1.13–1.19) and cilium.io/v2 (1.16 on).
var (
	CNCResourceV2      = schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumnodeconfigs"}
	CNCResourceV2Alpha = schema.GroupVersionResource{Group: "cilium.io", Version: "v2alpha1", Resource: "ciliumnodeconfigs"}
)

// cncResources are listed in this order; nodeconfig sorts out which
// release reads which.
var cncResources = []struct {
	gvr        schema.GroupVersionResource
	apiVersion string
}{
	{CNCResourceV2, nodeconfig.APIVersionV2},
	{CNCResourceV2Alpha, nodeconfig.APIVersionV2Alpha1},
}

// NodeConfigInputs are the cluster objects the agent's `config` init
// container (cilium(-dbg) build-config) reads, except the Node: with
// NodeFacts of a node they resolve that node's effective configuration
// (ResolveNode).
type NodeConfigInputs struct {
	// Namespace is the agent's namespace (build-config's
	// CILIUM_K8S_NAMESPACE).
	Namespace string
	// ConfigMaps are the ConfigMaps the config-map sources name (always
	// cilium-config in Namespace), with all their data; one not found is
	// absent, as build-config ignores it.
	ConfigMaps []nodeconfig.ConfigMap
	// CNCs are the CiliumNodeConfigs of the namespaces the
	// cilium-node-config sources name, each as read at each API version the
	// server serves (so a v1.16+ cluster gives every CNC twice).
	CNCs []nodeconfig.CNC
	// CNCVersions is, per API version (nodeconfig.APIVersionV2 /
	// APIVersionV2Alpha1), whether CNCs could be listed: Yes listed, No the
	// server does not serve that version (CRD absent, or a release that
	// lacks the version: no CNCs of it), Unknown forbidden.
	CNCVersions map[string]nodeconfig.Tri
	// Unread names what kpr was not allowed to read ("ciliumnodeconfigs.
	// cilium.io in namespace kube-system", "ConfigMap NS/NAME"): the
	// resolution leaves it out, so it may be incomplete.
	Unread []string
	// DaemonSets are the agent DaemonSets, the one FindCilium reports
	// first. Empty when none was found: ResolveNode then assumes Cilium's
	// chart (build-config with its default sources).
	DaemonSets []AgentDaemonSet
	// DaemonSetOf maps a node to its agent's DaemonSet ("NS/NAME"), where
	// an agent pod runs there.
	DaemonSetOf map[string]string
}

// AgentDaemonSet is a Cilium agent DaemonSet as nodeconfig reads it.
type AgentDaemonSet struct {
	Namespace, Name string
	// InitContainers and Agent are the pod template's init containers and
	// agent container (cilium-agent, else the first), with literal env
	// values only.
	InitContainers []nodeconfig.Container
	Agent          nodeconfig.Container
	// AgentEnvFromRef are the agent's env variables set from a reference
	// (valueFrom), whose values kpr does not follow.
	AgentEnvFromRef []string
	// Setup is nodeconfig.InspectDaemonSet of them.
	Setup nodeconfig.Setup
	// Release is the Cilium version of the build-config init container's
	// image (else the agent's), "" when the tag does not say.
	Release string
}

// Ref is "NAMESPACE/NAME".
func (d AgentDaemonSet) Ref() string { return d.Namespace + "/" + d.Name }

// CNCsKnown reports whether every API version could be listed or is known
// not to be served: false when a list was forbidden.
func (in NodeConfigInputs) CNCsKnown() bool {
	for _, t := range in.CNCVersions {
		if t == nodeconfig.Unknown {
			return false
		}
	}
	return len(in.CNCVersions) > 0
}

// DaemonSetFor is the agent DaemonSet of the node's agent, else the first
// one; nil when none was found.
func (in NodeConfigInputs) DaemonSetFor(node string) *AgentDaemonSet {
	if ref, ok := in.DaemonSetOf[node]; ok {
		for i := range in.DaemonSets {
			if in.DaemonSets[i].Ref() == ref {
				return &in.DaemonSets[i]
			}
		}
	}
	if len(in.DaemonSets) > 0 {
		return &in.DaemonSets[0]
	}
	return nil
}

// ReadNodeConfigInputs finds Cilium (FindCilium, in agentNamespace when
// given) and reads what build-config reads: the agent DaemonSet, the
// ConfigMaps its sources name, and the CiliumNodeConfigs at both API
// versions. A CRD or version the server does not serve means no CNCs of
// it; a forbidden list or ConfigMap is a warning (the inputs say what is
// unknown), not an error.
func ReadNodeConfigInputs(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, agentNamespace string) (NodeConfigInputs, []string, error) {
	info, err := FindCilium(ctx, cs, agentNamespace)
	if err != nil {
		return NodeConfigInputs{}, nil, err
	}
	return ReadNodeConfigInputsFor(ctx, cs, dyn, info, agentNamespace)
}

// ReadNodeConfigInputsFor is ReadNodeConfigInputs for a caller that has
// already run FindCilium (info); agentNamespace is used only when info
// found no agent namespace.
func ReadNodeConfigInputsFor(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, info *CiliumInfo, agentNamespace string) (NodeConfigInputs, []string, error) {
	in := NodeConfigInputs{Namespace: info.Install.Namespace, CNCVersions: map[string]nodeconfig.Tri{}, DaemonSetOf: map[string]string{}}
	if in.Namespace == "" {
		in.Namespace = agentNamespace
	}
	if in.Namespace == "" {
		in.Namespace = "kube-system" // FindCilium's default
	}
	var warnings []string

	if err := in.readDaemonSets(ctx, cs, info); err != nil {
		return NodeConfigInputs{}, nil, err
	}
	for _, ds := range in.DaemonSets {
		if ds.Setup.ConfigDir == "" && slices.Contains(ds.AgentEnvFromRef, "CILIUM_CONFIG_DIR") {
			warnings = append(warnings, fmt.Sprintf("DaemonSet %s: the agent's CILIUM_CONFIG_DIR comes from a reference (valueFrom), which kpr does not follow: it is taken as unset", ds.Ref()))
		}
	}

	cmNames, cncNamespaces := in.sourceObjects()
	for _, ref := range cmNames {
		ns, name, _ := strings.Cut(ref, "/")
		if c := info.ciliumConfig; c != nil && c.Namespace == ns && c.Name == name {
			in.ConfigMaps = append(in.ConfigMaps, nodeconfig.ConfigMap{Namespace: ns, Name: name, Data: c.Data})
			continue
		}
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			in.ConfigMaps = append(in.ConfigMaps, nodeconfig.ConfigMap{Namespace: ns, Name: name, Data: cm.Data})
		case apierrors.IsNotFound(err):
			// build-config: "Configmap not found, ignoring".
		case apierrors.IsForbidden(err):
			in.Unread = append(in.Unread, "ConfigMap "+ref)
			warnings = append(warnings, explainAPIError(err, "get", "configmaps", ns).Error()+
				"; per-node configuration is resolved without ConfigMap "+ref)
		default:
			return NodeConfigInputs{}, nil, fmt.Errorf("get ConfigMap %s: %w", ref, err)
		}
	}

	// Per version: forbidden anywhere makes it unknown, else listed
	// anywhere makes it served.
	const notServed, listed, forbidden = 1, 2, 3
	state := map[string]int{}
	for _, ns := range cncNamespaces {
		for _, r := range cncResources {
			items, err := listAll(ctx, dyn.Resource(r.gvr).Namespace(ns))
			st := listed
			switch {
			case err == nil:
				for i := range items {
					c, err := cncFromUnstructured(&items[i], r.apiVersion)
					if err != nil {
						warnings = append(warnings, fmt.Sprintf("CiliumNodeConfig %s/%s (%s): %v; left out", items[i].GetNamespace(), items[i].GetName(), r.apiVersion, err))
						continue
					}
					in.CNCs = append(in.CNCs, c)
				}
			case apierrors.IsNotFound(err):
				// "the server could not find the requested resource": the
				// CRD, or this version of it, is not served.
				st = notServed
			case apierrors.IsForbidden(err):
				st = forbidden
				if what := "ciliumnodeconfigs.cilium.io in namespace " + ns; !slices.Contains(in.Unread, what) {
					in.Unread = append(in.Unread, what)
					warnings = append(warnings, explainAPIError(err, "list", "ciliumnodeconfigs.cilium.io", ns).Error()+
						"; CiliumNodeConfigs are unknown, so per-node configuration may be incomplete")
				}
			default:
				return NodeConfigInputs{}, nil, fmt.Errorf("list ciliumnodeconfigs.%s (%s) in namespace %s: %w", r.gvr.Group, r.gvr.Version, ns, err)
			}
			state[r.apiVersion] = max(state[r.apiVersion], st)
		}
	}
	for v, st := range state {
		switch st {
		case notServed:
			in.CNCVersions[v] = nodeconfig.No
		case listed:
			in.CNCVersions[v] = nodeconfig.Yes
		default:
			in.CNCVersions[v] = nodeconfig.Unknown
		}
	}
	sort.SliceStable(in.CNCs, func(i, j int) bool {
		a, b := in.CNCs[i], in.CNCs[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.APIVersion < b.APIVersion
	})
	return in, warnings, nil
}

// readDaemonSets gets the DaemonSets of FindCilium's agents (their owners,
// else the one FindCilium reports or "cilium"), falling back to those
// labelled k8s-app=cilium in the namespace.
func (in *NodeConfigInputs) readDaemonSets(ctx context.Context, cs kubernetes.Interface, info *CiliumInfo) error {
	var refs []string
	add := func(ns, name string) {
		if ref := ns + "/" + name; name != "" && !slices.Contains(refs, ref) {
			refs = append(refs, ref)
		}
	}
	if d := info.Install.DaemonSet; d != nil {
		add(d.Namespace, d.Name)
	}
	for _, a := range info.Agents {
		if a.OwnerDS != "" {
			add(a.Namespace, a.OwnerDS)
			if info.AgentByNode[a.Node] == nil || info.AgentByNode[a.Node].Name == a.Name {
				in.DaemonSetOf[a.Node] = a.Namespace + "/" + a.OwnerDS
			}
		}
	}
	if len(refs) == 0 {
		add(in.Namespace, "cilium")
	}
	for _, ref := range refs {
		ns, name, _ := strings.Cut(ref, "/")
		if d := info.daemonSet; d != nil && d.Namespace == ns && d.Name == name {
			in.DaemonSets = append(in.DaemonSets, agentDaemonSet(d))
			continue
		}
		ds, err := cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			in.DaemonSets = append(in.DaemonSets, agentDaemonSet(ds))
		case apierrors.IsNotFound(err):
		default:
			return explainAPIError(err, "get", "daemonsets", ns)
		}
	}
	if len(in.DaemonSets) > 0 {
		return nil
	}
	list, err := cs.AppsV1().DaemonSets(in.Namespace).List(ctx, metav1.ListOptions{LabelSelector: CiliumAgentSelector})
	if err != nil {
		return explainAPIError(err, "list", "daemonsets", in.Namespace)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	for i := range list.Items {
		in.DaemonSets = append(in.DaemonSets, agentDaemonSet(&list.Items[i]))
	}
	return nil
}

// sourceObjects are the ConfigMaps ("NS/NAME") and CNC namespaces the
// DaemonSets' build-config sources name (the default sources when there is
// no DaemonSet), always with cilium-config and the agent's namespace.
func (in *NodeConfigInputs) sourceObjects() (configMaps, cncNamespaces []string) {
	configMaps = []string{in.Namespace + "/" + CiliumConfigMapName}
	cncNamespaces = []string{in.Namespace}
	sources := nodeconfig.DefaultSources()
	for _, ds := range in.DaemonSets {
		if ds.Setup.InitContainer != "" {
			sources = append(sources, ds.Setup.BuildConfig.Sources...)
		}
	}
	for _, s := range (nodeconfig.BuildConfig{Sources: sources}).Fill(in.Namespace, "").Sources {
		switch s.Kind {
		case nodeconfig.KindConfigMap:
			if ref := s.Namespace + "/" + s.Name; !slices.Contains(configMaps, ref) {
				configMaps = append(configMaps, ref)
			}
		case nodeconfig.KindNodeConfig:
			if !slices.Contains(cncNamespaces, s.Namespace) {
				cncNamespaces = append(cncNamespaces, s.Namespace)
			}
		}
	}
	return configMaps, cncNamespaces
}

func agentDaemonSet(ds *appsv1.DaemonSet) AgentDaemonSet {
	spec := ds.Spec.Template.Spec
	out := AgentDaemonSet{Namespace: ds.Namespace, Name: ds.Name}
	for _, c := range spec.InitContainers {
		f, _ := containerFacts(c)
		out.InitContainers = append(out.InitContainers, f)
	}
	var agent *corev1.Container
	for i := range spec.Containers {
		if spec.Containers[i].Name == CiliumAgentContainer {
			agent = &spec.Containers[i]
		}
	}
	if agent == nil && len(spec.Containers) > 0 {
		agent = &spec.Containers[0]
	}
	image := ""
	if agent != nil {
		out.Agent, out.AgentEnvFromRef = containerFacts(*agent)
		image = agent.Image
	}
	out.Setup = nodeconfig.InspectDaemonSet(out.InitContainers, out.Agent)
	for _, c := range spec.InitContainers {
		if c.Name == out.Setup.InitContainer && c.Image != "" {
			image = c.Image
		}
	}
	out.Release = ImageVersion(image)
	return out
}

// containerFacts keeps a container's name, command, args and literal env
// values; refs are the env variables set from a reference (valueFrom).
func containerFacts(c corev1.Container) (out nodeconfig.Container, refs []string) {
	out = nodeconfig.Container{Name: c.Name, Command: c.Command, Args: c.Args, Env: map[string]string{}}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			refs = append(refs, e.Name)
			continue
		}
		out.Env[e.Name] = e.Value
	}
	return out, refs
}

func listAll(ctx context.Context, r dynamic.ResourceInterface) ([]unstructured.Unstructured, error) {
	var out []unstructured.Unstructured
	opts := metav1.ListOptions{Limit: listPageSize}
	for {
		list, err := r.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, list.Items...)
		if list.GetContinue() == "" {
			return out, nil
		}
		opts.Continue = list.GetContinue()
	}
}

// cncFromUnstructured turns a CiliumNodeConfig into nodeconfig's CNC. A
// missing spec.nodeSelector stays nil (selects no node), an empty one is
// an empty Selector (selects every node).
func cncFromUnstructured(u *unstructured.Unstructured, apiVersion string) (nodeconfig.CNC, error) {
	c := nodeconfig.CNC{
		Namespace: u.GetNamespace(), Name: u.GetName(), APIVersion: apiVersion,
		CreationTime: u.GetCreationTimestamp().Time,
		LastChange:   lastSpecChange(u.GetManagedFields()),
	}
	if raw, found, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "nodeSelector"); found && raw != nil {
		m, ok := raw.(map[string]any)
		if !ok {
			return c, fmt.Errorf("spec.nodeSelector is a %T, not an object", raw)
		}
		var ls metav1.LabelSelector
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ls); err != nil {
			return c, fmt.Errorf("spec.nodeSelector: %w", err)
		}
		sel := &nodeconfig.Selector{MatchLabels: ls.MatchLabels}
		for _, r := range ls.MatchExpressions {
			sel.MatchExpressions = append(sel.MatchExpressions, nodeconfig.Requirement{Key: r.Key, Operator: string(r.Operator), Values: r.Values})
		}
		c.NodeSelector = sel
	}
	if raw, found, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "defaults"); found && raw != nil {
		m, ok := raw.(map[string]any)
		if !ok {
			return c, fmt.Errorf("spec.defaults is a %T, not an object", raw)
		}
		c.Defaults = make(map[string]string, len(m))
		for k, v := range m {
			if s, ok := v.(string); ok {
				c.Defaults[k] = s
			} else {
				// The CRD's schema wants strings; keep what a YAML
				// boolean or number would print as.
				c.Defaults[k] = fmt.Sprint(v)
			}
		}
	}
	return c, nil
}

// lastSpecChange is the newest managedFields time of an entry that owns
// part of spec (or whose fields are not given): when spec last changed, as
// far as managedFields tell (an entry's time is its manager's last change
// of any of its fields).
func lastSpecChange(mf []metav1.ManagedFieldsEntry) time.Time {
	var last time.Time
	for _, e := range mf {
		if e.Time == nil {
			continue
		}
		if e.FieldsV1 != nil {
			var top map[string]json.RawMessage
			if json.Unmarshal(e.FieldsV1.Raw, &top) == nil {
				if _, spec := top["f:spec"]; !spec {
					continue
				}
			}
		}
		if e.Time.After(last) {
			last = e.Time.Time
		}
	}
	return last
}

// NodeFacts is what build-config reads of a Node, with per-key change
// times from metadata.managedFields: for every label (a CNC selector may
// read any) and every config.cilium.io annotation, the newest time of a
// managedFields entry that owns it. That time is its manager's last change
// of any of its fields, so it may be later than the key's own change,
// never earlier. A label and an annotation of the same key share one time
// (the later), as nodeconfig.Node keys ChangedAt by key alone.
func NodeFacts(node corev1.Node) nodeconfig.Node {
	n := nodeconfig.Node{Name: node.Name, Labels: node.Labels, Annotations: node.Annotations}
	for _, e := range node.ManagedFields {
		if e.Time == nil || e.FieldsV1 == nil {
			continue
		}
		var fields struct {
			Metadata struct {
				Labels      map[string]json.RawMessage `json:"f:labels"`
				Annotations map[string]json.RawMessage `json:"f:annotations"`
			} `json:"f:metadata"`
		}
		if json.Unmarshal(e.FieldsV1.Raw, &fields) != nil {
			continue
		}
		set := func(owned map[string]json.RawMessage, present map[string]string, want func(string) bool) {
			for fk := range owned {
				k, ok := strings.CutPrefix(fk, "f:")
				if !ok {
					continue
				}
				if _, on := present[k]; !on || !want(k) {
					continue
				}
				if n.ChangedAt == nil {
					n.ChangedAt = map[string]time.Time{}
				}
				if e.Time.After(n.ChangedAt[k]) {
					n.ChangedAt[k] = e.Time.Time
				}
			}
		}
		set(fields.Metadata.Labels, node.Labels, func(string) bool { return true })
		set(fields.Metadata.Annotations, node.Annotations, func(k string) bool { return strings.HasPrefix(k, nodeconfig.ConfigPrefix) })
	}
	return n
}

// ResolveNode is the node's effective configuration: nodeconfig's resolver
// with the build-config of the node's agent DaemonSet (Fill'd with the
// agent's namespace and the node's name). release is the Cilium version
// of the node's agent ("" takes the DaemonSet's). Where no DaemonSet was
// found, build-config with its default sources is assumed (Cilium's
// chart). Where the DaemonSet has no build-config init container, or the
// agent does not read what it writes (--config-dir), the agent's
// configuration is cilium-config alone: no CNC or node key reaches it
// (Setup.IgnoresNodeConfigs says why). Where the init container would
// fail, Effective.Err says so.
func ResolveNode(inputs NodeConfigInputs, node nodeconfig.Node, release string) nodeconfig.Effective {
	bc := nodeconfig.BuildConfig{Sources: nodeconfig.DefaultSources(), Dest: nodeconfig.DefaultDest, Defaulted: true}
	if ds := inputs.DaemonSetFor(node.Name); ds != nil {
		if release == "" {
			release = ds.Release
		}
		s := ds.Setup
		switch {
		case s.InitContainer != "" && s.Err != nil:
			return nodeconfig.Effective{Node: node.Name, Values: map[string]nodeconfig.Value{},
				Err: fmt.Errorf("init container %s of DaemonSet %s fails: %w", s.InitContainer, ds.Ref(), s.Err)}
		case s.InitContainer == "" || s.ConfigDir == "" || path.Clean(s.ConfigDir) != path.Clean(s.BuildConfig.Dest):
			bc = nodeconfig.BuildConfig{Sources: []nodeconfig.Source{{Kind: nodeconfig.KindConfigMap, Name: nodeconfig.DefaultConfigMap}}}
		default:
			bc = s.BuildConfig
		}
	}
	bc.Release = release
	bc = bc.Fill(inputs.Namespace, node.Name)
	return nodeconfig.ResolveWith(nodeconfig.Inputs{ConfigMaps: inputs.ConfigMaps, CNCs: inputs.CNCs, Node: node}, bc)
}

// AgentDaemonSetOf is what nodeconfig reads of a Cilium agent DaemonSet
// (the conversion ReadNodeConfigInputs uses), for inputs read offline
// (analyze's sysdump).
func AgentDaemonSetOf(ds *appsv1.DaemonSet) AgentDaemonSet { return agentDaemonSet(ds) }

// CNCFromUnstructured is ReadNodeConfigInputs's conversion of a
// CiliumNodeConfig read at apiVersion, for inputs read offline.
func CNCFromUnstructured(u *unstructured.Unstructured, apiVersion string) (nodeconfig.CNC, error) {
	return cncFromUnstructured(u, apiVersion)
}
