package offline

import (
	"fmt"
	"io"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/nodeconfig"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

// The cluster objects of a cilium sysdump that per-node configuration is
// resolved from. cilium-cli writes each with WriteYAML under a fixed name,
// "<ts>" being the collection time in the format 20060102-150405
// (cilium-cli/sysdump/constants.go and sysdump.go in github.com/cilium/cilium,
// read as stored for the v1.18 series; the same names in the standalone
// github.com/cilium/cilium-cli before the move):
//
//   - kubernetesNodesFileName   "k8s-nodes-<ts>.yaml": a v1 NodeList, every node;
//   - ciliumNodeConfigsFileName "ciliumnodeconfigs-<ts>.yaml": the
//     CiliumNodeConfigs of all namespaces, one List at the version
//     cilium-cli's client asks for (cilium.io/v2alpha1 or cilium.io/v2);
//   - ciliumConfigMapFileName   "cilium-configmap-<ts>.yaml": cilium-config
//     (absent when it was not found);
//   - ciliumDaemonSetFileName   "cilium-daemonset-<ts>.yaml": the agent
//     DaemonSet (a DaemonSet in older releases, a DaemonSetList of those
//     labelled with --cilium-daemon-set-selector in newer ones);
//   - kubernetesPodsFileName    "k8s-pods-<ts>.yaml": a v1 PodList of every
//     pod in every namespace, so the agents (their node, creation and the
//     config init container's finish) and kube-proxy's pods.
//
// A sysdump holds neither kube-proxy's DaemonSet nor its ConfigMap: whether
// its nodeAffinity keeps it off a node is unknown offline, and its healthz
// address is its pod's --healthz-bind-address, else kube-proxy's default.
// Nor does it hold the agent's config dir: values are always computed.
const (
	fileNodes     = "k8s-nodes-<ts>.yaml"
	fileCNCs      = "ciliumnodeconfigs-<ts>.yaml"
	fileConfigMap = "cilium-configmap-<ts>.yaml"
	fileDaemonSet = "cilium-daemonset-<ts>.yaml"
	filePods      = "k8s-pods-<ts>.yaml"
)

// objectFileRE matches the names above, any timestamp.
var objectFileRE = regexp.MustCompile(`^(k8s-nodes|ciliumnodeconfigs|cilium-configmap|cilium-daemonset|k8s-pods)-\d{8}-\d{6}\.yaml$`)

// objectLimit caps one cluster-object file (a pod list of a large cluster
// is tens of MB of YAML).
const objectLimit = 512 << 20

// objectFile is the sysdump file pattern a path names ("" none).
func objectFile(source string) string {
	base := path.Base(filepath.ToSlash(strings.ReplaceAll(source, "!", "/")))
	m := objectFileRE.FindStringSubmatch(base)
	if m == nil {
		return ""
	}
	return m[1] + "-<ts>.yaml"
}

// objects are the sysdump's cluster objects analyze read.
type objects struct {
	files   map[string]string // pattern -> the file read
	dirs    []string          // the directories they were read from
	errs    map[string]string // pattern -> why it could not be read
	nodes   []corev1.Node
	pods    []corev1.Pod
	cm      *corev1.ConfigMap
	dss     []appsv1.DaemonSet
	cncs    []nodeconfig.CNC
	cncNote []string
	extra   []string // files of a second sysdump, not used
}

func dirOf(source string) string {
	s := strings.ReplaceAll(source, "!", "/")
	return path.Dir(filepath.ToSlash(s))
}

// object reads one sysdump cluster-object file.
func (a *analyzer) object(d Document, r io.Reader) error {
	o := &a.objs
	if o.files == nil {
		o.files, o.errs = map[string]string{}, map[string]string{}
	}
	pattern := objectFile(d.Source)
	dir := dirOf(d.Source)
	if len(o.dirs) > 0 && !slices.Contains(o.dirs, dir) {
		o.extra = append(o.extra, d.Source)
		return nil
	}
	if _, dup := o.files[pattern]; dup {
		o.extra = append(o.extra, d.Source)
		return nil
	}
	if len(o.dirs) == 0 {
		o.dirs = append(o.dirs, dir)
	}
	data, err := io.ReadAll(io.LimitReader(r, objectLimit+1))
	if err != nil {
		o.errs[pattern] = d.Source + ": " + err.Error()
		return nil
	}
	if len(data) > objectLimit {
		o.errs[pattern] = fmt.Sprintf("%s: larger than %d MiB: not read", d.Source, objectLimit>>20)
		return nil
	}
	if err := o.decode(pattern, data); err != nil {
		o.errs[pattern] = d.Source + ": " + err.Error()
		return nil
	}
	o.files[pattern] = d.Source
	return nil
}

func (o *objects) decode(pattern string, data []byte) error {
	switch pattern {
	case fileNodes:
		var l corev1.NodeList
		if err := yaml.Unmarshal(data, &l); err != nil {
			return err
		}
		o.nodes = l.Items
	case filePods:
		var l corev1.PodList
		if err := yaml.Unmarshal(data, &l); err != nil {
			return err
		}
		o.pods = l.Items
	case fileConfigMap:
		var cm corev1.ConfigMap
		if err := yaml.Unmarshal(data, &cm); err != nil {
			return err
		}
		o.cm = &cm
	case fileDaemonSet:
		var head struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal(data, &head); err != nil {
			return err
		}
		if head.Kind == "DaemonSet" {
			var ds appsv1.DaemonSet
			if err := yaml.Unmarshal(data, &ds); err != nil {
				return err
			}
			o.dss = []appsv1.DaemonSet{ds}
			return nil
		}
		var l appsv1.DaemonSetList
		if err := yaml.Unmarshal(data, &l); err != nil {
			return err
		}
		o.dss = l.Items
	case fileCNCs:
		var l struct {
			APIVersion string           `json:"apiVersion"`
			Items      []map[string]any `json:"items"`
		}
		if err := yaml.Unmarshal(data, &l); err != nil {
			return err
		}
		for _, item := range l.Items {
			u := &unstructured.Unstructured{Object: item}
			v := u.GetAPIVersion()
			if v != nodeconfig.APIVersionV2 && v != nodeconfig.APIVersionV2Alpha1 {
				o.cncNote = append(o.cncNote, fmt.Sprintf("CiliumNodeConfig %s/%s has apiVersion %q, not cilium.io/v2 or v2alpha1: left out", u.GetNamespace(), u.GetName(), v))
				continue
			}
			// One CRD served at both versions (v1.16 to v1.20 at least):
			// the API server shows every CNC at each, so it is taken at
			// both, as the online collector lists them; nodeconfig keeps
			// the version(s) the agent's release reads.
			for _, av := range []string{nodeconfig.APIVersionV2, nodeconfig.APIVersionV2Alpha1} {
				c, err := collect.CNCFromUnstructured(u, av)
				if err != nil {
					o.cncNote = append(o.cncNote, fmt.Sprintf("CiliumNodeConfig %s/%s: %v; left out", u.GetNamespace(), u.GetName(), err))
					break
				}
				o.cncs = append(o.cncs, c)
			}
		}
	}
	return nil
}

// nodeConfigs resolves every node's configuration from the objects and
// attaches it to the agents, adding rep.Nodes for nodes without one. It
// does nothing when no sysdump was read.
func (a *analyzer) nodeConfigs(rep *report.Analyze) {
	o := &a.objs
	if len(o.files) == 0 && len(o.errs) == 0 && !a.sawSysdump {
		return
	}
	nc := &report.AnalyzeNodeConfig{Files: []string{}}
	for _, p := range []string{fileNodes, fileCNCs, fileConfigMap, fileDaemonSet, filePods} {
		if f, ok := o.files[p]; ok {
			nc.Files = append(nc.Files, f)
		}
	}
	missing := func(p, cost string) {
		what := p + " is not in the sysdump"
		if e, ok := o.errs[p]; ok {
			what = p + " could not be read (" + e + ")"
		}
		nc.Missing = append(nc.Missing, what+": "+cost)
	}
	_, haveNodes := o.files[fileNodes]
	_, haveCNCs := o.files[fileCNCs]
	_, haveCM := o.files[fileConfigMap]
	_, haveDS := o.files[fileDaemonSet]
	_, havePods := o.files[filePods]
	if !haveNodes {
		missing(fileNodes, "no node labels, annotations or CiliumNodeConfig selection")
	}
	if !haveCNCs {
		missing(fileCNCs, "CiliumNodeConfigs unknown")
	}
	if !haveCM {
		missing(fileConfigMap, "cilium-config's values unknown")
	}
	if !haveDS {
		missing(fileDaemonSet, "the config init container's sources are taken as build-config's defaults")
	}
	if !havePods {
		missing(filePods, "agents not matched to nodes, agent pod times and kube-proxy pods unknown")
	}
	nc.Missing = append(nc.Missing, o.cncNote...)
	for _, e := range o.extra {
		nc.Missing = append(nc.Missing, e+": a second sysdump's file, not used (analyze resolves one sysdump's nodes)")
	}
	rep.NodeConfig = nc
	if !haveNodes || !haveCNCs {
		var lack []string
		if !haveNodes {
			lack = append(lack, fileNodes)
		}
		if !haveCNCs {
			lack = append(lack, fileCNCs)
		}
		nc.Note = "per-node Cilium configuration could not be resolved: the sysdump lacks " + strings.Join(lack, " and ") +
			" (cilium-cli writes them from its own cluster access; an older cilium-cli, a failed collection or a partial copy leaves them out)"
		return
	}
	nc.Resolved = true
	if !haveCM || !haveDS || !havePods {
		nc.Note = "per-node Cilium configuration resolved without " + strings.Join(missingNames(haveCM, haveDS, havePods), ", ") + " (-o json says what each costs, under nodeConfig.missing)"
	}
	a.resolveNodes(rep)
}

func missingNames(cm, ds, pods bool) []string {
	var out []string
	if !cm {
		out = append(out, fileConfigMap)
	}
	if !ds {
		out = append(out, fileDaemonSet)
	}
	if !pods {
		out = append(out, filePods)
	}
	return out
}

// agentPod is a Cilium agent pod of the sysdump's pod list.
type agentPod struct {
	pod     *corev1.Pod
	ds      string // owning DaemonSet "NS/NAME"
	builtAt time.Time
	builtBy string
}

func hasLabel(p *corev1.Pod, k, v string) bool { return p.Labels[k] == v }

func isKubeProxyPod(p *corev1.Pod) bool {
	return hasLabel(p, "k8s-app", "kube-proxy") || hasLabel(p, "component", "kube-proxy")
}

func (a *analyzer) resolveNodes(rep *report.Analyze) {
	o := &a.objs
	_, havePods := o.files[filePods]
	ns := ""
	if o.cm != nil {
		ns = o.cm.Namespace
	}
	if ns == "" && len(o.dss) > 0 {
		ns = o.dss[0].Namespace
	}

	// The agents and kube-proxy pods per node.
	agents := map[string]*agentPod{} // by node
	agentNode := map[string]string{} // pod name -> node
	kubeProxy := map[string]*corev1.Pod{}
	for i := range o.pods {
		p := &o.pods[i]
		if p.Spec.NodeName == "" || p.DeletionTimestamp != nil {
			continue
		}
		switch {
		case hasLabel(p, "k8s-app", "cilium"):
			ap := &agentPod{pod: p}
			for _, ref := range p.OwnerReferences {
				if ref.Kind == "DaemonSet" {
					ap.ds = p.Namespace + "/" + ref.Name
				}
			}
			ap.builtAt, ap.builtBy = collect.ConfigBuiltAt(p)
			agentNode[p.Name] = p.Spec.NodeName
			// Two agents on a node (a rollout): the one the sysdump has
			// output of, else the newer.
			cur := agents[p.Spec.NodeName]
			_, curHas := a.groups[curName(cur)]
			_, has := a.groups[p.Name]
			if cur == nil || (has && !curHas) || (has == curHas && p.CreationTimestamp.After(cur.pod.CreationTimestamp.Time)) {
				agents[p.Spec.NodeName] = ap
			}
			if ns == "" {
				ns = p.Namespace
			}
		case isKubeProxyPod(p):
			kubeProxy[p.Spec.NodeName] = p
		}
	}
	if ns == "" {
		ns = "kube-system" // cilium-cli's and Helm's default
	}

	in := collect.NodeConfigInputs{Namespace: ns, CNCs: o.cncs, DaemonSetOf: map[string]string{},
		CNCVersions: map[string]nodeconfig.Tri{nodeconfig.APIVersionV2: nodeconfig.Yes, nodeconfig.APIVersionV2Alpha1: nodeconfig.Yes}}
	if o.cm != nil {
		cmNS := o.cm.Namespace
		if cmNS == "" {
			cmNS = ns
		}
		name := o.cm.Name
		if name == "" {
			name = nodeconfig.DefaultConfigMap
		}
		in.ConfigMaps = []nodeconfig.ConfigMap{{Namespace: cmNS, Name: name, Data: o.cm.Data}}
	}
	for i := range o.dss {
		in.DaemonSets = append(in.DaemonSets, collect.AgentDaemonSetOf(&o.dss[i]))
	}
	for node, ap := range agents {
		if ap.ds != "" {
			in.DaemonSetOf[node] = ap.ds
		}
	}

	byAgent := map[string]int{}
	for i := range rep.Agents {
		byAgent[rep.Agents[i].Name] = i
	}
	nodes := append([]corev1.Node(nil), o.nodes...)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	for _, node := range nodes {
		n := collect.NodeFacts(node)
		ap := agents[node.Name]
		var g *group
		var ag *report.AnalyzeAgent
		if ap != nil {
			g = a.groups[ap.pod.Name]
			if i, ok := byAgent[ap.pod.Name]; ok {
				ag = &rep.Agents[i]
			}
		}
		release := ""
		f := nodeconfig.NodeFacts{Node: n, CNCs: in.CNCs,
			RunningNote: "a sysdump holds no copy of the agent's config dir: computed from the sysdump's cilium-config, CiliumNodeConfigs and Node as build-config does"}
		if g != nil && g.status != nil {
			release = g.status.Version
			f.AgentKPR = modeOf(g.status)
		}
		f.Effective = collect.ResolveNode(in, n, release)
		f.Release = release
		if ds := in.DaemonSetFor(node.Name); ds != nil {
			f.DaemonSet, f.Setup, f.HasSetup = ds.Ref(), ds.Setup, true
			if f.Release == "" {
				f.Release = ds.Release
			}
		}
		if ap != nil {
			f.HasAgent, f.ConfigBuiltAt, f.ConfigBuiltBy = true, ap.builtAt, ap.builtBy
		}
		if havePods {
			kp := kubeProxy[node.Name]
			f.KubeProxyPod = nodeconfig.TriOf(kp != nil)
			if kp != nil {
				for _, c := range kp.Spec.Containers {
					if v := collect.FlagValue(append(append([]string{}, c.Command...), c.Args...), "--healthz-bind-address"); v != "" {
						f.KubeProxyHealthz = v
					}
				}
			}
		}
		if g != nil {
			if nf := g.mergedNetfilter(); nf != nil {
				f.KubeRules = nodeconfig.TriOf(nf.HasKubeProxyRules())
			}
		}
		view := nodeconfig.Judge(f)
		cfg := report.NodeConfigFrom(f.DaemonSet, view)
		var warnings []verdict.Warning
		for _, fd := range view.Findings {
			warnings = append(warnings, verdict.Warning{Code: fd.Code, Message: fd.Message})
		}
		if ag != nil {
			ag.Node, ag.NodeConfig = node.Name, cfg
			if g != nil && g.status != nil && nodeconfig.KPROn(view.KPR) {
				// The node's own configuration asks for KPR: what the
				// agent does is config-kpr-agent-disabled, as status says
				// it, not agent-kpr-false (said without the configuration).
				e := verdict.Evidence{HasAgent: true, AgentRead: true, Replacement: replacementOf(g.status), Mode: modeOf(g.status),
					ConfigKPR: view.KPR, ConfigKPROrigin: view.KPROrigin}
				for _, w := range verdict.Disagreements(e) {
					if w.Code != verdict.CodeConfigSaysKPRAgentDisabled {
						continue
					}
					kept := ag.Warnings[:0]
					for _, old := range ag.Warnings {
						if old.Code != verdict.CodeAgentReadyKPRFalse {
							kept = append(kept, old)
						}
					}
					ag.Warnings = append(kept, w)
				}
			}
			ag.Warnings = append(ag.Warnings, warnings...)
			continue
		}
		an := report.AnalyzeNode{Name: node.Name, NodeConfig: cfg, Warnings: warnings}
		if an.Warnings == nil {
			an.Warnings = []verdict.Warning{}
		}
		rep.Nodes = append(rep.Nodes, an)
	}
	// Agents of the sysdump on a node the node list does not hold.
	for i := range rep.Agents {
		ag := &rep.Agents[i]
		if ag.NodeConfig != nil {
			continue
		}
		if node, ok := agentNode[ag.Name]; ok {
			ag.Node = node
			ag.Warnings = append(ag.Warnings, verdict.Warning{Code: "node-not-in-sysdump",
				Message: fmt.Sprintf("node %s of this agent is not in %s: its per-node configuration could not be resolved", node, fileNodes)})
		}
	}
}

func curName(ap *agentPod) string {
	if ap == nil {
		return ""
	}
	return ap.pod.Name
}
