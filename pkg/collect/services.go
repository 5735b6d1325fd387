package collect

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/cilium"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/reconcile"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/textutil"
)

// ServicesOptions configure CollectServices.
type ServicesOptions struct {
	// Namespace limits the check to one namespace; "" means all.
	Namespace string
	// CiliumNamespace restricts the agent search to one namespace.
	CiliumNamespace string
	// Concurrency bounds parallel execs (default 16).
	Concurrency int
	// Timeout bounds each agent's exec (its fallbacks included).
	Timeout time.Duration
	// Progress, when set, hears of every node done (done of total,
	// failed of them).
	Progress func(done, total, failed int)
	// Nodes, when set, restricts the check to these nodes.
	Nodes []string
	// AgentVersions maps a node name to the Cilium release its agent
	// reported itself (`status`, which verify has already read). It
	// decides which NodePort rows that agent's `service list` shows (one
	// per node address up to 1.17, only 0.0.0.0 / :: from 1.18). Nodes not
	// in it get their agent pod's image tag, else the DaemonSet's.
	AgentVersions map[string]string
	// AgentNodePort maps a node name to whether its agent reported
	// NodePort on (`status`): an agent started with KPR off (a flag, a
	// per-node setting) has no NodePort, LoadBalancer or externalIP
	// frontends, whatever cilium-config says. Nodes not in it follow
	// cilium-config.
	AgentNodePort map[string]bool
}

// ServiceInventory is the cluster side of the reconciliation.
type ServiceInventory struct {
	Services []reconcile.Service
	Slices   []reconcile.EndpointSlice
}

// ListServiceInventory lists Services and EndpointSlices in namespace (""
// for all): one paginated LIST each, however many nodes will be checked.
func ListServiceInventory(ctx context.Context, client kubernetes.Interface, namespace string) (*ServiceInventory, error) {
	inv := &ServiceInventory{}
	opts := metav1.ListOptions{Limit: listPageSize}
	for {
		list, err := client.CoreV1().Services(namespace).List(ctx, opts)
		if err != nil {
			return nil, explainAPIError(err, "list", "services", namespace)
		}
		for i := range list.Items {
			inv.Services = append(inv.Services, ServiceFromAPI(&list.Items[i]))
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	// Only slices that belong to a Service carry its name label.
	opts = metav1.ListOptions{Limit: listPageSize, LabelSelector: discoveryv1.LabelServiceName}
	for {
		list, err := client.DiscoveryV1().EndpointSlices(namespace).List(ctx, opts)
		if err != nil {
			return nil, explainAPIError(err, "list", "endpointslices.discovery.k8s.io", namespace)
		}
		for i := range list.Items {
			inv.Slices = append(inv.Slices, EndpointSliceFromAPI(&list.Items[i]))
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	return inv, nil
}

// ServiceFromAPI keeps what reconcile needs of a Service.
func ServiceFromAPI(s *corev1.Service) reconcile.Service {
	out := reconcile.Service{
		Namespace:             s.Namespace,
		Name:                  s.Name,
		Type:                  string(s.Spec.Type),
		ClusterIPs:            s.Spec.ClusterIPs,
		ExternalIPs:           s.Spec.ExternalIPs,
		ExternalTrafficPolicy: string(s.Spec.ExternalTrafficPolicy),
		HealthCheckNodePort:   s.Spec.HealthCheckNodePort,
		ProxyName:             s.Labels["service.kubernetes.io/service-proxy-name"],
	}
	if out.Type == "" {
		out.Type = string(corev1.ServiceTypeClusterIP)
	}
	if len(out.ClusterIPs) == 0 && s.Spec.ClusterIP != "" {
		out.ClusterIPs = []string{s.Spec.ClusterIP}
	}
	for _, f := range s.Spec.IPFamilies {
		out.IPFamilies = append(out.IPFamilies, string(f))
	}
	if s.Spec.InternalTrafficPolicy != nil {
		out.InternalTrafficPolicy = string(*s.Spec.InternalTrafficPolicy)
	}
	for _, ing := range s.Status.LoadBalancer.Ingress {
		if ing.IP == "" {
			continue // hostname-only ingress: nothing for the datapath
		}
		lb := reconcile.LBIngress{IP: ing.IP}
		if ing.IPMode != nil {
			lb.IPMode = string(*ing.IPMode)
		}
		out.LoadBalancerIngress = append(out.LoadBalancerIngress, lb)
	}
	for _, p := range s.Spec.Ports {
		out.Ports = append(out.Ports, reconcile.ServicePort{Name: p.Name, Protocol: string(p.Protocol), Port: p.Port, NodePort: p.NodePort})
	}
	return out
}

// EndpointSliceFromAPI keeps what reconcile needs of an EndpointSlice.
func EndpointSliceFromAPI(s *discoveryv1.EndpointSlice) reconcile.EndpointSlice {
	out := reconcile.EndpointSlice{
		Namespace:   s.Namespace,
		Service:     s.Labels[discoveryv1.LabelServiceName],
		AddressType: string(s.AddressType),
	}
	for _, p := range s.Ports {
		ep := reconcile.EndpointPort{}
		if p.Name != nil {
			ep.Name = *p.Name
		}
		if p.Protocol != nil {
			ep.Protocol = string(*p.Protocol)
		}
		if p.Port != nil {
			ep.Port = *p.Port
		}
		out.Ports = append(out.Ports, ep)
	}
	for _, e := range s.Endpoints {
		ep := reconcile.Endpoint{
			Addresses:   e.Addresses,
			Ready:       e.Conditions.Ready,
			Serving:     e.Conditions.Serving,
			Terminating: e.Conditions.Terminating,
		}
		if e.NodeName != nil {
			ep.NodeName = *e.NodeName
		}
		out.Endpoints = append(out.Endpoints, ep)
	}
	return out
}

// AgentServices is the outcome of reading one agent's service table.
type AgentServices struct {
	Services []cilium.Service
	// Source is the command whose output was parsed.
	Source string
	Err    error
}

// ReadAgentServices execs `service list` into one agent, with fallbacks
// from cilium-dbg to cilium and from JSON (names and protocols) to text.
func ReadAgentServices(ctx context.Context, ex Executor, a AgentPod, preferOld bool, probe *binaryProbe) AgentServices {
	svcs, source, err := runAgentCommand(ctx, ex, a, preferOld, probe, []string{"service", "list"}, func(res ExecResult) ([]cilium.Service, error) {
		svcs, err := cilium.ParseServiceList(res.Stdout)
		if err == nil && res.ExitCode != 0 && len(svcs) == 0 {
			// A failing command that printed no table is no empty table.
			return nil, errors.New("empty output")
		}
		return svcs, err
	})
	return AgentServices{Services: svcs, Source: source, Err: err}
}

// CollectServices builds the `services` report: a fixed number of LIST/GET
// calls (nodes, agent pods, DaemonSet, cilium-config, Services,
// EndpointSlices), then one `service list` exec per agent, in parallel,
// and a reconciliation per node.
func CollectServices(ctx context.Context, client kubernetes.Interface, ex Executor, opts ServicesOptions) (*report.Services, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	nodes, err := ListNodes(ctx, client)
	if err != nil {
		return nil, err
	}
	explicit := len(opts.Nodes) > 0
	if explicit {
		if nodes, err = SelectNodes(nodes, opts.Nodes); err != nil {
			return nil, err
		}
	}
	ci, err := FindCilium(ctx, client, opts.CiliumNamespace)
	if err != nil {
		return nil, err
	}
	if !ci.Install.Found {
		return nil, fmt.Errorf("no Cilium agents found (looked at %s): nothing to reconcile; pass --cilium-namespace if Cilium runs elsewhere", ci.Install.SearchedIn)
	}
	inv, err := ListServiceInventory(ctx, client, opts.Namespace)
	if err != nil {
		return nil, err
	}

	// Nodes without an agent (a chained cluster's other nodes) have no
	// service table: they are rows only when asked for by name.
	type target struct {
		node  NodeInfo
		agent *AgentPod
	}
	var targets []target
	for _, n := range nodes {
		a := ci.AgentByNode[n.Name]
		if (a == nil || isWindows(n)) && !explicit {
			continue
		}
		targets = append(targets, target{node: n, agent: a})
	}

	ix := reconcile.NewIndex(inv.Services, inv.Slices)
	ropts := reconcileOptions(ci.Install.Config)
	ropts.Namespace = opts.Namespace
	preferOld := preferCiliumBinary(ci.Install.Version)
	probe := &binaryProbe{}

	// Each worker reconciles right after its exec, so only the node rows,
	// not every agent's whole service table, stay in memory.
	rep := &report.Services{Namespace: opts.Namespace, CiliumNamespace: ci.Install.Namespace, Nodes: make([]report.NodeServices, len(targets))}
	count := NewDoneCounter(len(targets), opts.Progress)
	ForEachBounded(ctx, len(targets), opts.Concurrency, slowExecThreshold(opts.Timeout), func(ctx context.Context, i int) {
		t := targets[i]
		row := report.NodeServices{Node: t.node.Name, Frontends: []report.FrontendCheck{}, Problems: []report.ServiceProblem{}, Errors: []string{}}
		defer func() { rep.Nodes[i] = row; count.Done(len(row.Errors) > 0) }()
		switch {
		case isWindows(t.node):
			row.Errors = append(row.Errors, "Windows node: skipped (kpr inspects Linux datapaths only)")
			return
		case t.agent == nil:
			row.Errors = append(row.Errors, "no Cilium agent on this node: it has no Cilium service table to check")
			return
		}
		ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
		list := ReadAgentServices(ctx, ex, *t.agent, preferOld, probe)
		row.CiliumAgent = &report.AgentRef{Pod: t.agent.Name, Namespace: t.agent.Namespace, Ready: t.agent.Ready, Source: list.Source}
		if list.Err != nil {
			row.Errors = append(row.Errors, "cilium agent "+t.agent.Namespace+"/"+t.agent.Name+": "+list.Err.Error())
			return
		}
		nodeOpts := ropts
		nodeOpts.AgentVersion = agentVersion(t.node.Name, t.agent, opts.AgentVersions, ci.Install.Version)
		nodeOpts.IgnoreProtocol = textutil.VersionBefore(nodeOpts.AgentVersion, 1, 17)
		if on, ok := opts.AgentNodePort[t.node.Name]; ok && !on {
			// externalIPs need NodePort too (1.18.8 pkg/kpr NewKPRConfig).
			nodeOpts.SkipNodePort, nodeOpts.SkipLoadBalancer, nodeOpts.SkipExternalIPs = true, true, true
		}
		res := ix.Reconcile(reconcile.Node{Name: t.node.Name, Addresses: nodePortAddresses(t.node)}, list.Services, nodeOpts)
		row.Counts, row.Frontends = res.Counts, res.Frontends
		if res.Problems != nil {
			row.Problems = res.Problems
		}
	})
	rep.Summary = SummarizeServices(rep.Nodes)
	return rep, nil
}

// SummarizeServices totals the node rows.
func SummarizeServices(rows []report.NodeServices) report.ServicesSummary {
	s := report.ServicesSummary{Nodes: len(rows)}
	for _, r := range rows {
		if len(r.Errors) > 0 && r.CiliumAgent != nil {
			s.NodesFailed++
		}
		if len(r.Problems) > 0 {
			s.NodesWithProblems++
			s.Problems += len(r.Problems)
		}
	}
	return s
}

// reconcileOptions reads which frontend kinds the agents implement from
// cilium-config: KPR true/strict implies all (and 1.19 dropped the
// enable-* keys); otherwise each enable-* key decides. Without the
// kube-proxy-replacement key (no ConfigMap readable) everything is expected.
func reconcileOptions(config map[string]string) reconcile.Options {
	kpr, ok := config["kube-proxy-replacement"]
	if !ok || cilium.Replacement(kpr) == cilium.ReplacesFull {
		return reconcile.Options{}
	}
	on := func(key string) bool { return strings.EqualFold(strings.TrimSpace(config[key]), "true") }
	return reconcile.Options{
		SkipNodePort:     !on("enable-node-port"),
		SkipLoadBalancer: !on("enable-node-port"),
		SkipExternalIPs:  !on("enable-external-ips"),
	}
}

// agentVersion is the Cilium release of node's agent, best source first:
// what the agent reported itself (reported, from `status`), the tag of its
// pod's image (right during a rolling upgrade), the DaemonSet's image tag
// (install); "" when none says (a "latest" or digest-only image).
func agentVersion(node string, a *AgentPod, reported map[string]string, install string) string {
	if v := strings.TrimSpace(reported[node]); v != "" {
		return v
	}
	if a != nil {
		if v := ImageVersion(a.Image); v != "" {
			return v
		}
	}
	return install
}

// nodePortAddresses are the addresses NodePorts are expected on: the
// InternalIP, plus the node's addresses of the other IP family on
// dual-stack nodes. ExternalIPs of the same family are left out: on clouds
// they are NATed to the node and are not on any of its devices.
func nodePortAddresses(n NodeInfo) []string {
	out := []string{}
	primary, perr := netip.ParseAddr(n.InternalIP)
	hasPrimary := perr == nil
	if hasPrimary {
		out = append(out, n.InternalIP)
	}
	for _, a := range n.Addresses {
		addr, err := netip.ParseAddr(a)
		if err != nil || a == n.InternalIP {
			continue
		}
		if !hasPrimary || addr.Is6() != primary.Is6() {
			out = append(out, a)
		}
	}
	return out
}
