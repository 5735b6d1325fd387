package collect

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/nodeconfig"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/textutil"
)

// Labels and names by which Cilium and kube-proxy are found.
const (
	CiliumAgentSelector    = "k8s-app=cilium"
	CiliumAgentContainer   = "cilium-agent"
	CiliumConfigMapName    = "cilium-config"
	KubeProxySelector      = "k8s-app=kube-proxy"
	KubeProxyAltSelector   = "component=kube-proxy" // static pods of RKE2 and kubeadm-era manifests
	KubeProxyNamespace     = "kube-system"
	KubeProxyConfigMapName = "kube-proxy"
	// listPageSize is Kubernetes' supported maximum of nodes per cluster
	// (5000): one LIST of nodes or agents however large the cluster, so
	// the request count does not grow with it. Pages of 500 (kubectl's
	// chunk size) took 7 LISTs instead of 4 at 1000 nodes (BENCHMARKS.md).
	listPageSize = 5000
)

// CiliumConfigKeys are the cilium-config keys that decide how Services are
// handled, across versions (facts: cilium-formats.md §7).
var CiliumConfigKeys = []string{
	"kube-proxy-replacement", "cni-chaining-mode", "cni-chaining-target", "cni-exclusive",
	"enable-node-port", "enable-host-port", "enable-external-ips",
	"enable-host-reachable-services", "host-reachable-services-protos",
	"bpf-lb-sock", "bpf-lb-sock-hostns-only",
	"routing-mode", "tunnel", "tunnel-protocol",
	"bpf-lb-mode", "node-port-mode", "bpf-lb-acceleration", "node-port-range",
	"devices", "direct-routing-device", "nodeport-addresses",
	"enable-session-affinity", "enable-experimental-lb",
	"kube-proxy-replacement-healthz-bind-address",
}

// NodeInfo is what kpr needs of a Node.
type NodeInfo struct {
	Name          string
	InternalIP    string
	Addresses     []string // InternalIP and ExternalIP addresses, both families
	KernelVersion string
	OSImage       string
	OS            string
	Ready         bool
	Taints        []string
	// Config is what the agent's `config` init container reads of the
	// Node: its labels, config.cilium.io annotations and their times.
	Config nodeconfig.Node
}

// ListNodes lists every node (one paginated LIST).
func ListNodes(ctx context.Context, client kubernetes.Interface) ([]NodeInfo, error) {
	var out []NodeInfo
	opts := metav1.ListOptions{Limit: listPageSize}
	for {
		list, err := client.CoreV1().Nodes().List(ctx, opts)
		if err != nil {
			return nil, explainAPIError(err, "list", "nodes", "")
		}
		for i := range list.Items {
			out = append(out, nodeInfo(&list.Items[i]))
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func nodeInfo(n *corev1.Node) NodeInfo {
	ni := NodeInfo{
		Name:          n.Name,
		KernelVersion: n.Status.NodeInfo.KernelVersion,
		OSImage:       n.Status.NodeInfo.OSImage,
		OS:            n.Status.NodeInfo.OperatingSystem,
		Config:        NodeFacts(*n),
	}
	if os := n.Labels[corev1.LabelOSStable]; os != "" {
		ni.OS = os
	}
	for _, a := range n.Status.Addresses {
		switch a.Type {
		case corev1.NodeInternalIP:
			if ni.InternalIP == "" {
				ni.InternalIP = a.Address
			}
			ni.Addresses = append(ni.Addresses, a.Address)
		case corev1.NodeExternalIP:
			ni.Addresses = append(ni.Addresses, a.Address)
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ni.Ready = c.Status == corev1.ConditionTrue
		}
	}
	for _, t := range n.Spec.Taints {
		s := t.Key
		if t.Value != "" {
			s += "=" + t.Value
		}
		ni.Taints = append(ni.Taints, s+":"+string(t.Effect))
	}
	return ni
}

// AgentPod is one Cilium agent pod.
type AgentPod struct {
	Name      string
	Namespace string
	Node      string
	Ready     bool
	Phase     string
	Container string
	Image     string
	OwnerDS   string
	// ConfigBuiltAt is when the agent's configuration was built: its
	// `config` init container's finish, else the pod's creation;
	// ConfigBuiltBy says which.
	ConfigBuiltAt time.Time
	ConfigBuiltBy string
}

// CiliumInfo is Cilium as the API server shows it.
type CiliumInfo struct {
	Install report.CiliumInstall
	Agents  []AgentPod
	// AgentByNode indexes Agents by node name.
	AgentByNode map[string]*AgentPod
	// The DaemonSet and cilium-config as FindCilium read them, so that
	// per-node configuration (ReadNodeConfigInputsFor) does not read them
	// again.
	daemonSet    *appsv1.DaemonSet
	ciliumConfig *corev1.ConfigMap
}

// FindCilium finds the agent pods by label in every namespace (or in
// namespaceOverride), then their DaemonSet and cilium-config in the agents'
// namespace: a fixed number of requests however many nodes there are.
func FindCilium(ctx context.Context, client kubernetes.Interface, namespaceOverride string) (*CiliumInfo, error) {
	info := &CiliumInfo{AgentByNode: map[string]*AgentPod{}, Install: report.CiliumInstall{Config: map[string]string{}}}
	pods, err := listPods(ctx, client, namespaceOverride, CiliumAgentSelector)
	if err != nil {
		return nil, err
	}
	where := "pods labelled " + CiliumAgentSelector + " in all namespaces"
	if namespaceOverride != "" {
		where = "pods labelled " + CiliumAgentSelector + " in namespace " + namespaceOverride
	}
	for i := range pods {
		p := &pods[i]
		if p.Spec.NodeName == "" || p.DeletionTimestamp != nil {
			continue // pending or going away: not the node's agent
		}
		ap := AgentPod{Name: p.Name, Namespace: p.Namespace, Node: p.Spec.NodeName, Phase: string(p.Status.Phase), Ready: podReady(p), Container: CiliumAgentContainer}
		if c := findContainer(p, CiliumAgentContainer); c != nil {
			ap.Image = c.Image
		} else if len(p.Spec.Containers) > 0 {
			ap.Container, ap.Image = p.Spec.Containers[0].Name, p.Spec.Containers[0].Image
		}
		for _, o := range p.OwnerReferences {
			if o.Kind == "DaemonSet" {
				ap.OwnerDS = o.Name
			}
		}
		ap.ConfigBuiltAt, ap.ConfigBuiltBy = ConfigBuiltAt(p)
		info.Agents = append(info.Agents, ap)
	}
	sort.Slice(info.Agents, func(i, j int) bool { return info.Agents[i].Node < info.Agents[j].Node })
	for i := range info.Agents {
		a := &info.Agents[i]
		// Two agents on a node (a rollout): prefer the Ready one.
		if cur, ok := info.AgentByNode[a.Node]; !ok || (!cur.Ready && a.Ready) {
			info.AgentByNode[a.Node] = a
		}
	}
	ns := namespaceOverride
	if len(info.Agents) > 0 {
		ns = info.Agents[0].Namespace
	}
	if ns == "" {
		ns = "kube-system" // Helm's and the cilium CLI's default
	}
	info.Install.Namespace = ns

	dsName := "cilium"
	if len(info.Agents) > 0 && info.Agents[0].OwnerDS != "" {
		dsName = info.Agents[0].OwnerDS
	}
	ds, err := client.AppsV1().DaemonSets(ns).Get(ctx, dsName, metav1.GetOptions{})
	switch {
	case err == nil:
		info.Install.DaemonSet = daemonSetStatus(ds, CiliumAgentContainer)
		info.daemonSet = ds
	case apierrors.IsNotFound(err):
	default:
		return nil, explainAPIError(err, "get", "daemonsets", ns)
	}
	cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, CiliumConfigMapName, metav1.GetOptions{})
	switch {
	case err == nil:
		info.ciliumConfig = cm
		for _, k := range CiliumConfigKeys {
			if v, ok := cm.Data[k]; ok {
				info.Install.Config[k] = v
			}
		}
	case apierrors.IsNotFound(err):
	default:
		return nil, explainAPIError(err, "get", "configmaps", ns)
	}
	info.Install.Found = len(info.Agents) > 0 || info.Install.DaemonSet != nil
	if !info.Install.Found {
		info.Install.SearchedIn = where + fmt.Sprintf(", DaemonSet %s/%s", ns, dsName)
		info.Install.Namespace = ""
	}
	image := ""
	if info.Install.DaemonSet != nil {
		image = info.Install.DaemonSet.Image
	} else if len(info.Agents) > 0 {
		image = info.Agents[0].Image
	}
	info.Install.Version = ImageVersion(image)
	return info, nil
}

// ImageVersion extracts a version from an image reference's tag
// ("quay.io/cilium/cilium:v1.16.5@sha256:..." → "1.16.5").
func ImageVersion(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return ""
	}
	tag := strings.TrimPrefix(image[i+1:], "v")
	if tag == "" || tag[0] < '0' || tag[0] > '9' {
		return ""
	}
	return tag
}

// KubeProxyInfo is kube-proxy as the API server shows it.
type KubeProxyInfo struct {
	Install report.KubeProxyInstall
	// PodByNode maps a node name to the kube-proxy pod on it.
	PodByNode map[string]string
	// ModeByNode is the mode of the kube-proxy pod on each node: clusters
	// that move from iptables to ipvs or nftables often run a second
	// kube-proxy DaemonSet (own --proxy-mode or own ConfigMap) on some
	// nodes, so one cluster-wide mode would be wrong there. A pod that
	// names no mode of its own gets Install.Mode.
	ModeByNode map[string]string
	// DaemonSet: kube-system/kube-proxy exists (the DaemonSet Cilium's
	// documented KPR rollout patches); Affinity is its required
	// nodeAffinity (matchExpressions).
	DaemonSet nodeconfig.Tri
	Affinity  []nodeconfig.NodeSelectorTerm
	// HealthzBind is kube-proxy's healthz bind address: its command
	// line's --healthz-bind-address, else the ConfigMap's
	// healthzBindAddress; "" means kube-proxy's default (0.0.0.0:10256).
	HealthzBind string
}

// Excludes reports whether kube-proxy's DaemonSet is kept off a node with
// these labels by its required nodeAffinity.
func (k *KubeProxyInfo) Excludes(labels map[string]string) nodeconfig.Tri {
	if k == nil || k.DaemonSet != nodeconfig.Yes {
		return nodeconfig.Unknown
	}
	return nodeconfig.TriOf(!nodeconfig.AffinityAllows(k.Affinity, labels))
}

// FindKubeProxy finds kube-proxy pods (DaemonSet or static, by label; static
// pods are also recognised by their kube-proxy-* name), the DaemonSet, and
// the configured mode from the kube-proxy ConfigMap or the command line.
func FindKubeProxy(ctx context.Context, client kubernetes.Interface) (*KubeProxyInfo, error) {
	info := &KubeProxyInfo{PodByNode: map[string]string{}, ModeByNode: map[string]string{}}
	var pods []corev1.Pod
	for _, sel := range []string{KubeProxySelector, KubeProxyAltSelector} {
		ps, err := listPods(ctx, client, "", sel)
		if err != nil {
			return nil, err
		}
		pods = append(pods, ps...)
	}
	var args []string
	// Each pod's own mode: its command line, else the ConfigMap it mounts.
	podModes := map[string]string{}
	cms := &configMaps{client: client, got: map[string]*corev1.ConfigMap{}}
	for i := range pods {
		p := &pods[i]
		if p.Spec.NodeName == "" || p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if _, dup := info.PodByNode[p.Spec.NodeName]; dup {
			continue
		}
		info.PodByNode[p.Spec.NodeName] = p.Namespace + "/" + p.Name
		if m, err := podProxyMode(ctx, cms, p); err != nil {
			return nil, err
		} else if m != "" {
			podModes[p.Spec.NodeName] = m
		}
		if args == nil && len(p.Spec.Containers) > 0 {
			args = append(append([]string{}, p.Spec.Containers[0].Command...), p.Spec.Containers[0].Args...)
		}
	}
	info.Install.Pods = len(info.PodByNode)

	ds, err := client.AppsV1().DaemonSets(KubeProxyNamespace).Get(ctx, "kube-proxy", metav1.GetOptions{})
	switch {
	case err == nil:
		info.Install.DaemonSet = daemonSetStatus(ds, "kube-proxy")
		info.DaemonSet, info.Affinity = nodeconfig.Yes, requiredAffinity(ds)
		if len(ds.Spec.Template.Spec.Containers) > 0 {
			c := ds.Spec.Template.Spec.Containers[0]
			args = append(append([]string{}, c.Command...), c.Args...)
		}
	case apierrors.IsNotFound(err):
		info.DaemonSet = nodeconfig.No
	default:
		return nil, explainAPIError(err, "get", "daemonsets", KubeProxyNamespace)
	}
	info.Install.Found = info.Install.Pods > 0 || info.Install.DaemonSet != nil
	if !info.Install.Found {
		return info, nil
	}
	defer func() {
		counts := map[string]int{}
		for node := range info.PodByNode {
			info.ModeByNode[node] = info.Install.Mode
			if m, ok := podModes[node]; ok {
				info.ModeByNode[node] = m
			}
			counts[info.ModeByNode[node]]++
		}
		if len(counts) > 1 || (len(counts) == 1 && counts[info.Install.Mode] == 0) {
			info.Install.PodsByMode = counts
		}
	}()
	// Missing or forbidden is not fatal: the mode then defaults below.
	cm, err := cms.get(ctx, KubeProxyNamespace, KubeProxyConfigMapName)
	if err != nil {
		return nil, err
	}
	info.HealthzBind = FlagValue(args, "--healthz-bind-address")
	if _, doc, ok := proxyConfigDoc(cm, false); ok && info.HealthzBind == "" {
		info.HealthzBind = healthzFromConfig(doc)
	}
	if m := ProxyModeFromArgs(args); m != "" {
		info.Install.Mode, info.Install.ModeFrom = m, "command line --proxy-mode"
		return info, nil
	}
	if key, doc, ok := proxyConfigDoc(cm, false); ok {
		info.Install.Mode = ProxyModeFromConfig(doc)
		info.Install.ModeFrom = "ConfigMap " + KubeProxyNamespace + "/" + KubeProxyConfigMapName + " " + key
	}
	if info.Install.Mode == "" {
		info.Install.Mode = "iptables"
		if info.Install.ModeFrom == "" {
			info.Install.ModeFrom = "default (mode unset)"
		} else {
			info.Install.ModeFrom += "; mode unset, so iptables"
		}
	}
	return info, nil
}

// configMaps reads each ConfigMap once per FindKubeProxy: every pod of a
// kubeadm DaemonSet mounts the same one, and the cluster-wide mode reads it
// too.
type configMaps struct {
	client kubernetes.Interface
	got    map[string]*corev1.ConfigMap // namespace/name → nil when missing or forbidden
}

func (c *configMaps) get(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	key := namespace + "/" + name
	if cm, seen := c.got[key]; seen {
		return cm, nil
	}
	cm, err := c.client.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
	case apierrors.IsNotFound(err), apierrors.IsForbidden(err):
		cm = nil
	default:
		return nil, explainAPIError(err, "get", "configmaps", namespace)
	}
	c.got[key] = cm
	return cm, nil
}

// proxyConfigDoc is the kube-proxy configuration in cm: the first of the
// keys kubeadm and the distributions use; with needKind only one that holds
// a KubeProxyConfiguration (a pod may mount unrelated ConfigMaps).
func proxyConfigDoc(cm *corev1.ConfigMap, needKind bool) (key, doc string, ok bool) {
	if cm == nil {
		return "", "", false
	}
	for _, k := range []string{"config.conf", "kube-proxy-config", "config"} {
		if d, present := cm.Data[k]; present && (!needKind || strings.Contains(d, "KubeProxyConfiguration")) {
			return k, d, true
		}
	}
	return "", "", false
}

// podProxyMode is the mode a kube-proxy pod names itself: --proxy-mode on
// its command line, else `mode` in a KubeProxyConfiguration of a ConfigMap
// it mounts (unreadable ones are skipped, as the cluster-wide mode then
// applies). "" when the pod names none.
func podProxyMode(ctx context.Context, cms *configMaps, p *corev1.Pod) (string, error) {
	for _, c := range p.Spec.Containers {
		if m := ProxyModeFromArgs(append(append([]string{}, c.Command...), c.Args...)); m != "" {
			return m, nil
		}
	}
	for _, v := range p.Spec.Volumes {
		if v.ConfigMap == nil {
			continue
		}
		cm, err := cms.get(ctx, p.Namespace, v.ConfigMap.Name)
		if err != nil {
			return "", err
		}
		if _, doc, ok := proxyConfigDoc(cm, true); ok {
			if m := ProxyModeFromConfig(doc); m != "" {
				return m, nil
			}
			return "iptables", nil
		}
	}
	return "", nil
}

// ConfigBuiltAt is when build-config wrote the agent's configuration:
// the `config` init container's finish, else the pod's creation (the
// init container runs right after it).
func ConfigBuiltAt(p *corev1.Pod) (time.Time, string) {
	for _, st := range p.Status.InitContainerStatuses {
		if st.Name == "config" && st.State.Terminated != nil && !st.State.Terminated.FinishedAt.IsZero() {
			return st.State.Terminated.FinishedAt.Time, "its init container config finished at"
		}
	}
	return p.CreationTimestamp.Time, "its pod was created at"
}

// ProxyModeFromArgs returns --proxy-mode from a kube-proxy command line.
func ProxyModeFromArgs(args []string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--proxy-mode="); ok {
			return strings.ToLower(v)
		}
		if a == "--proxy-mode" && i+1 < len(args) {
			return strings.ToLower(args[i+1])
		}
	}
	return ""
}

// FlagValue is a --name=value or --name value flag's value in a command
// line ("" when absent).
func FlagValue(args []string, name string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// healthzFromConfig reads healthzBindAddress from a KubeProxyConfiguration.
func healthzFromConfig(doc string) string {
	var cfg struct {
		HealthzBindAddress string `json:"healthzBindAddress"`
	}
	if yaml.Unmarshal([]byte(doc), &cfg) != nil {
		return ""
	}
	return strings.TrimSpace(cfg.HealthzBindAddress)
}

// requiredAffinity is a DaemonSet's required node affinity terms
// (matchExpressions; matchFields are left out, the rollout does not use
// them).
func requiredAffinity(ds *appsv1.DaemonSet) []nodeconfig.NodeSelectorTerm {
	a := ds.Spec.Template.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	var out []nodeconfig.NodeSelectorTerm
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		var term nodeconfig.NodeSelectorTerm
		for _, e := range t.MatchExpressions {
			term.MatchExpressions = append(term.MatchExpressions, nodeconfig.Requirement{Key: e.Key, Operator: string(e.Operator), Values: e.Values})
		}
		out = append(out, term)
	}
	return out
}

// ProxyModeFromConfig reads `mode` from a KubeProxyConfiguration document.
// An empty mode means the platform default: iptables on Linux.
func ProxyModeFromConfig(doc string) string {
	var cfg struct {
		Mode string `json:"mode"`
	}
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(cfg.Mode))
}

func listPods(ctx context.Context, client kubernetes.Interface, namespace, selector string) ([]corev1.Pod, error) {
	var out []corev1.Pod
	opts := metav1.ListOptions{LabelSelector: selector, Limit: listPageSize}
	for {
		list, err := client.CoreV1().Pods(namespace).List(ctx, opts)
		if err != nil {
			return nil, explainAPIError(err, "list", "pods", namespace)
		}
		out = append(out, list.Items...)
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}

func daemonSetStatus(ds *appsv1.DaemonSet, container string) *report.DaemonSetStatus {
	s := &report.DaemonSetStatus{
		Name: ds.Name, Namespace: ds.Namespace,
		Desired: ds.Status.DesiredNumberScheduled, Ready: ds.Status.NumberReady,
		NodeSelector: ds.Spec.Template.Spec.NodeSelector,
	}
	for _, c := range ds.Spec.Template.Spec.Containers {
		if c.Name == container || s.Image == "" {
			s.Image = c.Image
		}
	}
	return s
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func findContainer(p *corev1.Pod, name string) *corev1.Container {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == name {
			return &p.Spec.Containers[i]
		}
	}
	return nil
}

// explainAPIError names the missing permission on Forbidden, and reads like
// kubectl's message when the server cannot be reached.
func explainAPIError(err error, verb, resource, namespace string) error {
	if apierrors.IsForbidden(err) {
		scope := "cluster-wide"
		if namespace != "" {
			scope = "in namespace " + namespace
		}
		return fmt.Errorf("forbidden: kpr needs permission `%s %s` %s (see deploy/rbac.yaml): %v", verb, resource, scope, textutil.FirstLine(err.Error()))
	}
	if apierrors.IsUnauthorized(err) {
		return fmt.Errorf("unauthorized: the API server rejected the credentials of the current kubeconfig context: %v", textutil.FirstLine(err.Error()))
	}
	return err
}
