package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/debugpod"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/cilium"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/findings"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/netfilter"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// chooseNodes resolves NODE... or --all-nodes against the cluster's nodes.
// It returns the chosen nodes and all nodes (probes need the others'
// addresses).
func chooseNodes(ctx context.Context, cs kubernetes.Interface, names []string, all bool, flag string) (chosen, everyNode []collect.NodeInfo, err error) {
	if all && len(names) > 0 {
		return nil, nil, fmt.Errorf("give node names or --all-nodes, not both")
	}
	if !all && len(names) == 0 {
		return nil, nil, fmt.Errorf("no nodes chosen: name them (%s) or pass --all-nodes", flag)
	}
	everyNode, err = collect.ListNodes(ctx, cs)
	if err != nil {
		return nil, nil, err
	}
	if all {
		if len(everyNode) == 0 {
			return nil, nil, errors.New("the cluster has no nodes")
		}
		return everyNode, everyNode, nil
	}
	chosen, err = collect.SelectNodes(everyNode, dedupe(names))
	return chosen, everyNode, err
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func nodeNames(ns []collect.NodeInfo) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Name
	}
	return out
}

// clusterFacts are the API facts inspect needs beside the node dumps.
type clusterFacts struct {
	kubeProxyPod map[string]string // node → namespace/pod
	ciliumAgent  map[string]string // node → namespace/pod
	// ciliumKPR is cilium-config's kube-proxy-replacement as full /
	// partial / none, "" when unset or unread.
	ciliumKPR     string
	services      []findings.ServicePort
	servicesKnown bool
	warnings      []string
}

// readClusterFacts reads kube-proxy pods, Cilium agents and Services. A
// failure costs a fact (with a warning), never the whole inspection.
func readClusterFacts(ctx context.Context, cs kubernetes.Interface) clusterFacts {
	f := clusterFacts{kubeProxyPod: map[string]string{}, ciliumAgent: map[string]string{}}
	if kp, err := collect.FindKubeProxy(ctx, cs); err != nil {
		f.warnings = append(f.warnings, "kube-proxy pods not read: "+err.Error())
	} else {
		for node, pod := range kp.PodByNode {
			f.kubeProxyPod[node] = pod
		}
	}
	if ci, err := collect.FindCilium(ctx, cs, ""); err != nil {
		f.warnings = append(f.warnings, "Cilium agents not read: "+err.Error())
	} else {
		for node, a := range ci.AgentByNode {
			f.ciliumAgent[node] = a.Namespace + "/" + a.Name
		}
		if v := strings.TrimSpace(ci.Install.Config["kube-proxy-replacement"]); v != "" {
			f.ciliumKPR = cilium.Replacement(v)
		}
	}
	svcs, err := listServices(ctx, cs, metav1.NamespaceAll)
	if err != nil {
		f.warnings = append(f.warnings, "Services not read, stale chains cannot be told from live ones: "+err.Error())
	} else {
		f.servicesKnown = true
		for _, s := range svcs {
			for _, p := range s.Spec.Ports {
				f.services = append(f.services, findings.ServicePort{Namespace: s.Namespace, Name: s.Name, PortName: p.Name, Protocol: string(p.Protocol)})
			}
		}
	}
	return f
}

func listServices(ctx context.Context, cs kubernetes.Interface, namespace string) ([]corev1.Service, error) {
	var out []corev1.Service
	opts := metav1.ListOptions{Limit: 500}
	for {
		l, err := cs.CoreV1().Services(namespace).List(ctx, opts)
		if err != nil {
			where := "namespace " + namespace
			if namespace == "" {
				where = "all namespaces"
			}
			return nil, fmt.Errorf("listing Services in %s: %w", where, err)
		}
		out = append(out, l.Items...)
		if l.Continue == "" {
			return out, nil
		}
		opts.Continue = l.Continue
	}
}

// iptablesSections are read as iptables-save dumps, in this order.
var iptablesSections = []string{
	debugpod.SecIPTablesNFT, debugpod.SecIPTablesLegacy,
	debugpod.SecIP6TablesNFT, debugpod.SecIP6TablesLegacy,
	debugpod.SecIPTables, debugpod.SecIP6Tables,
}

// rawSections are printed by --raw, in this order.
var rawSections = append(append([]string{}, iptablesSections...),
	debugpod.SecIPTablesVersion, debugpod.SecNFT, debugpod.SecIPVS, debugpod.SecKubeIPVS0, debugpod.SecIPSet, debugpod.SecProxyMode)

// inspectNode turns one node's dump and the API facts into its report.
// Where a node's Cilium KPR level comes from: the agent's own status
// (diff, verify) or, when that was not read, cilium-config (inspect).
const (
	kprFromAgent  = "agent"
	kprFromConfig = "cilium-config"
)

func inspectNode(name string, d debugpod.Dump, f clusterFacts, ciliumKPR, kprFrom string, raw bool) report.InspectNode {
	n := report.InspectNode{
		Name: name, Sources: map[string]string{}, Findings: []report.Finding{}, Errors: []string{},
		KubeProxyPod: f.kubeProxyPod[name], CiliumAgent: f.ciliumAgent[name],
	}
	if n.CiliumAgent != "" && ciliumKPR != "" {
		n.CiliumKPR, n.CiliumKPRFrom = ciliumKPR, kprFrom
	}
	for name, s := range d.Sections {
		n.Sources[name] = s.Source
	}
	var parts []*netfilter.Summary
	sources := map[string]bool{}
	iptablesNFTRead := false
	for _, sec := range iptablesSections {
		s, ok := d.Sections[sec]
		if !ok {
			continue
		}
		n.Sources[sec] = s.Source
		if !s.OK() {
			if s.Source != debugpod.SourceMissing && s.Source != debugpod.SourceSkipped && !benignIPTablesFailure(s) {
				n.Errors = append(n.Errors, fmt.Sprintf("%s (%s) failed with exit code %d: %s", sec, s.Source, s.ExitCode, firstLineOf(s.Stderr)))
			}
			continue
		}
		sources[s.Source] = true
		if strings.TrimSpace(s.Stdout) == "" {
			continue // no tables in this backend/family
		}
		sum, err := netfilter.ParseIPTablesSave(strings.NewReader(s.Stdout))
		if err != nil {
			n.Errors = append(n.Errors, fmt.Sprintf("%s: %v", sec, err))
			continue
		}
		if sec == debugpod.SecIPTablesNFT || sec == debugpod.SecIP6TablesNFT {
			iptablesNFTRead = true
		}
		parts = append(parts, sum)
	}
	if s, ok := d.Sections[debugpod.SecNFT]; ok {
		n.Sources[debugpod.SecNFT] = s.Source
		if s.OK() && strings.TrimSpace(s.Stdout) != "" {
			sources[s.Source] = true
			sum, err := netfilter.ParseNFT(strings.NewReader(s.Stdout))
			switch {
			case err != nil:
				n.Errors = append(n.Errors, "nft list ruleset: "+err.Error())
			case iptablesNFTRead:
				// The listing repeats the iptables-nft tables already read
				// through iptables-nft-save; keep only kube-proxy's own tables.
				parts = append(parts, &netfilter.Summary{KubeProxyNFTables: sum.KubeProxyNFTables, Dumps: sum.Dumps})
			default:
				parts = append(parts, sum)
			}
		}
	}
	if s, ok := d.Sections[debugpod.SecIPVS]; ok {
		n.Sources[debugpod.SecIPVS] = s.Source
		if s.OK() && strings.TrimSpace(s.Stdout) != "" {
			if sum, err := netfilter.ParseIPVSAdm(strings.NewReader(s.Stdout)); err != nil {
				n.Errors = append(n.Errors, "ipvsadm -Ln: "+err.Error())
			} else {
				parts = append(parts, sum)
			}
		}
	}
	if len(parts) > 0 {
		n.Netfilter = netfilter.Merge(parts...)
	} else if len(sources) > 0 {
		n.Netfilter = netfilter.Merge(&netfilter.Summary{})
	}
	if s, ok := d.Sections[debugpod.SecKubeIPVS0]; ok {
		n.Sources[debugpod.SecKubeIPVS0] = s.Source
		n.KubeIPVS0 = s.OK()
	}
	pm := d.Get(debugpod.SecProxyMode)
	n.Sources[debugpod.SecProxyMode] = pm.Source
	n.KubeProxyMode, _ = proxyModeAnswer(pm)
	if n.KubeProxyMode == "unknown" {
		n.Errors = append(n.Errors, "kube-proxy /proxyMode probe did not run: "+firstLineOf(pm.Stderr))
	}

	var srcs []string
	for s := range sources {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	n.RulesSource = strings.Join(srcs, ", ")
	if n.RulesSource == "" {
		n.RulesSource = "none"
		n.Errors = append(n.Errors, "no rules could be read: neither the host nor the image has iptables-save or nft")
	}

	in := findings.Input{
		Node: name, Rules: n.Netfilter, KubeIPVS0: n.KubeIPVS0,
		ProxyModeChecked: n.KubeProxyMode != "unknown",
		KubeProxyPod:     n.KubeProxyPod,
		CiliumAgent:      n.CiliumAgent != "", CiliumKPR: n.CiliumKPR, CiliumKPRFrom: n.CiliumKPRFrom,
		Services: f.services, ServicesKnown: f.servicesKnown,
	}
	if n.KubeProxyMode != "none" && n.KubeProxyMode != "unknown" {
		in.ProxyMode = n.KubeProxyMode
	}
	res := findings.Evaluate(in)
	n.Findings = append(n.Findings, res.Findings...)
	n.StaleServiceChains = res.Stale
	if raw {
		n.Raw = map[string]string{}
		for _, sec := range rawSections {
			if s, ok := d.Sections[sec]; ok {
				n.Raw[sec] = s.Stdout
			}
		}
	}
	return n
}

// benignIPTablesFailure: a legacy save on a host without the legacy
// modules, or ip6tables without IPv6, fails with "can't initialize" /
// "Table does not exist": there are simply no such rules.
func benignIPTablesFailure(s debugpod.Section) bool {
	e := strings.ToLower(s.Stderr)
	return strings.Contains(e, "can't initialize") || strings.Contains(e, "does not exist") ||
		strings.Contains(e, "not supported") || strings.Contains(e, "address family not supported")
}

// proxyModeAnswer reads the /proxyMode probe: kube-proxy answers one word
// (k/k cmd/kube-proxy/app/server.go serveMetrics); curl's exit 7 means
// nothing listens.
func proxyModeAnswer(s debugpod.Section) (string, bool) {
	switch {
	case s.Source == debugpod.SourceMissing:
		return "unknown", false
	case s.ExitCode == 0:
		v := strings.TrimSpace(s.Stdout)
		if v != "" && !strings.ContainsAny(v, " \n<{") && len(v) < 32 {
			return v, true
		}
		return "none", false
	case s.ExitCode == 7 || s.ExitCode == 28 || s.ExitCode == 52 || s.ExitCode == 56:
		return "none", false
	}
	return "unknown", false
}

func firstLineOf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// nodeError words a node's failure for reports.
func nodeError(node string, err error) report.NodeError {
	ne := report.NodeError{Node: node, Message: err.Error()}
	var se *debugpod.StartError
	if errors.As(err, &se) {
		ne.Reason = string(se.Reason)
	}
	return ne
}

// printNodeErrors writes per-node failures to w.
func printNodeErrors(w io.Writer, errs []report.NodeError) {
	for _, e := range errs {
		if strings.Contains(e.Message, "node "+e.Node) {
			fmt.Fprintf(w, "error: %s\n", e.Message)
		} else {
			fmt.Fprintf(w, "error: node %s: %s\n", e.Node, e.Message)
		}
	}
}

// partialFailure is the exit status when some nodes failed: the results
// of the others were printed. With -o json|yaml the failures are in the
// document's "errors", not on stderr above.
func partialFailure(errs []report.NodeError, total int, structured bool) error {
	if len(errs) == 0 {
		return nil
	}
	where := "see above"
	if structured {
		where = `see "errors" in the output`
	}
	return &ExitError{Code: 1, Err: fmt.Errorf("%d of %d node(s) could not be read (%s)", len(errs), total, where)}
}
