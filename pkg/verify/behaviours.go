package verify

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/backends"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/probe"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/acceptance"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/hostdump"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/nodecheck"
)

// AffinityRequests is how many requests a session-affinity probe sends
// from one client, with and without affinity.
const AffinityRequests = 10

// The Service behaviour checks (hostport, nodeport-every-address,
// etp-local, session-affinity, externalip): which Services they probe,
// what each node's datapath is, and who served each probe (servedBy).

// behavioursFor adds the behaviour checks that apply to one Service:
// externalTrafficPolicy Local, ClientIP affinity, externalIPs, and
// NodePort on every address (once, for the first Cluster-policy NodePort).
// control is the same backends without affinity, for session-affinity.
func (r *run) behavioursFor(ctx context.Context, svc corev1.Service, control string) error {
	nodes, _, err := collect.ReadyEndpoints(ctx, r.deps.Client, svc)
	if err != nil {
		return err
	}
	eps := map[string]bool{}
	for _, n := range nodes {
		eps[n] = true
	}
	for _, p := range svc.Spec.Ports {
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			continue
		}
		b := acceptance.Behaviour{Service: servicePortName(svc, p), Port: p.Port, NodePort: p.NodePort, ClusterIP: svc.Spec.ClusterIP,
			ExternalIPs: svc.Spec.ExternalIPs, EndpointNodes: eps}
		if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal && p.NodePort != 0 {
			b.Check = report.CheckETPLocal
			r.behaviours = append(r.behaviours, b)
		}
		if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP && svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
			b.Check, b.Control = report.CheckSessionAffinity, control
			r.behaviours = append(r.behaviours, b)
		}
		if len(svc.Spec.ExternalIPs) > 0 {
			b.Check = report.CheckExternalIP
			r.behaviours = append(r.behaviours, b)
		}
		if p.NodePort != 0 && svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal && !r.hasBehaviour(report.CheckNodePortEveryAddress) {
			b.Check = report.CheckNodePortEveryAddress
			r.behaviours = append(r.behaviours, b)
		}
	}
	return nil
}

func (r *run) hasBehaviour(check string) bool {
	for _, b := range r.behaviours {
		if b.Check == check {
			return true
		}
	}
	return false
}

// servicePortName is "ns/name:port" (the port's name, else its number).
func servicePortName(svc corev1.Service, p corev1.ServicePort) string {
	name := p.Name
	if name == "" {
		name = strconv.Itoa(int(p.Port))
	}
	return svc.Namespace + "/" + svc.Name + ":" + name
}

// deployedBehaviours reads the check Services and hostPort pods verify
// deployed and adds their behaviours.
func (r *run) deployedBehaviours(ctx context.Context, d *backends.Deployment) error {
	get := func(name string) (*corev1.Service, error) {
		svc, err := r.deps.Client.CoreV1().Services(d.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading Service %s/%s: %w", d.Namespace, name, err)
		}
		return svc, nil
	}
	for _, b := range d.Backends {
		main, err := get(b.Service)
		if err != nil {
			return err
		}
		control := ""
		if main.Spec.ClusterIP != "" && len(main.Spec.Ports) > 0 {
			control = net.JoinHostPort(main.Spec.ClusterIP, strconv.Itoa(int(main.Spec.Ports[0].Port)))
		}
		if err := r.behavioursFor(ctx, *main, control); err != nil {
			return err
		}
		for _, name := range []string{b.LocalService, b.AffinityService, b.ExternalIPService} {
			if name == "" {
				continue
			}
			svc, err := get(name)
			if err != nil {
				return err
			}
			if err := r.behavioursFor(ctx, *svc, control); err != nil {
				return err
			}
		}
		if b.HostPortPod != "" && b.HostPort != 0 {
			r.behaviours = append(r.behaviours, acceptance.Behaviour{Check: report.CheckHostPort,
				Service: fmt.Sprintf("%s/%s:%d", d.Namespace, b.HostPortPod, b.HostPort), HostPort: b.HostPort, HostNode: b.Node,
				EndpointNodes: map[string]bool{b.Node: true}})
		}
	}
	for _, s := range d.Skipped {
		r.deps.Warn("note", s)
	}
	return nil
}

// datapathsFromStatus is every node's datapath as status saw it; dumps
// add portmap later (addDumpFacts).
func (r *run) datapathsFromStatus() {
	r.datapaths = map[string]acceptance.Datapath{}
	r.paths = map[string]acceptance.PathFacts{}
	for name, class := range r.classOf {
		d := acceptance.Datapath{Name: name, Class: class}
		if st := r.statusOf[name]; st != nil {
			d.CiliumAgent = st.CiliumAgent != nil
			if k := st.KubeProxyReplacement; k != nil && st.CiliumAgent != nil {
				d.SocketLB = acceptance.SocketLBServesRemoteNodePorts(k)
			}
			d.NodePortAddrs = st.CiliumNodePortAddrs(r.res.Cluster.CiliumConfig["nodeport-addresses"])
			if st.CiliumHostPort() {
				d.HostPortBy = acceptance.HostPortCilium
			}
		}
		r.datapaths[name] = d
		r.paths[name] = nodecheck.PathFactsOf(r.statusOf[name], nil)
	}
}

// addDumpFacts adds what a node's rules show: portmap's hostPort rules,
// kube-proxy's rules left or running next to Cilium, and its addresses.
func (r *run) addDumpFacts(node string, d *hostdump.Dump, in *report.InspectNode) {
	if d == nil {
		return
	}
	dp := r.datapaths[node]
	dp.RulesRead = true
	if dp.HostPortBy == "" && d.HasPortmap() {
		dp.HostPortBy = acceptance.HostPortPortmap
	}
	r.datapaths[node] = dp
	r.addrs[node] = d.NodeIPs()
	r.paths[node] = nodecheck.PathFactsOf(r.statusOf[node], in)
}

// prober is node as the behaviour plan needs it.
func (r *run) prober(node string, d *hostdump.Dump) acceptance.Prober {
	p := acceptance.Prober{Name: node, InternalIP: r.nodes[node].InternalIP, SocketLB: r.datapaths[node].SocketLB}
	if d != nil {
		p.Addresses = d.NodeIPs()
	}
	return p
}

func (r *run) internalIPs() map[string]string {
	out := map[string]string{}
	for n, f := range r.nodes {
		if f.InternalIP != "" {
			out[n] = f.InternalIP
		}
	}
	return out
}

// probeTarget is the curl target of a behaviour probe.
func probeTarget(p acceptance.Probe) probe.Target {
	host, port, _ := net.SplitHostPort(p.Target)
	n, _ := strconv.Atoi(port)
	svc, portName, _ := strings.Cut(p.Service, ":")
	return probe.Target{Kind: probe.Kind(p.Check), Service: svc, Port: portName, Host: host, PortNum: int32(n), Via: p.Via}
}

// affinityFrom runs the session-affinity requests from one node: each
// affinity Service and, where there is one, its control (the same
// backends without affinity), through nodecheck.AffinityResults.
func (r *run) affinityFrom(ctx context.Context, pod probe.Runner, node string) ([]acceptance.Probe, error) {
	var out []acceptance.Probe
	var targets []probe.Target
	control := map[int]int{} // out index → targets index of its control
	for _, b := range r.behaviours {
		if b.Check != report.CheckSessionAffinity {
			continue
		}
		target := net.JoinHostPort(b.ClusterIP, strconv.Itoa(int(b.Port)))
		out = append(out, acceptance.Probe{Check: b.Check, Service: b.Service, Target: target, Case: report.CaseOneClient, Serving: r.datapaths[node], Requests: AffinityRequests})
		targets = append(targets, probeTarget(out[len(out)-1]))
		if b.Control != "" {
			control[len(out)-1] = len(targets)
			targets = append(targets, probeTarget(acceptance.Probe{Check: b.Check, Service: b.Service, Target: b.Control}))
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	res, err := nodecheck.AffinityResults(ctx, pod, node, targets, AffinityRequests, r.opts.Probe, r.paths[node])
	if err != nil {
		for i := range out {
			out[i].Outcome, out[i].Detail = probe.Error, err.Error()
		}
		return out, err
	}
	k := 0
	for i := range out {
		a := res[k]
		out[i].Backends, out[i].Outcome, out[i].Detail = a.Backends, a.Outcome, a.Detail
		k++
		if c, ok := control[i]; ok {
			out[i].Spread = res[c].Backends
			k++
		}
	}
	return out, nil
}

// countedNeeded: on this node kube-proxy's iptables rules and Cilium's
// socket-LB are both on the path of its own probes, so only counters
// tell who served them.
func (r *run) countedNeeded(node string) bool { return nodecheck.NeedsCounters(r.paths[node]) }

// countedLocal probes the node's own ClusterIP and NodePort targets once
// more, one at a time, reading kube-proxy's counters around each, and
// records who served them on the matching probes.
func (r *run) countedLocal(ctx context.Context, pod probe.Runner, node string, probes []acceptance.Probe) error {
	var idx []int
	var targets []probe.Target
	for i, p := range probes {
		if !ownDatapathKind(probe.Kind(p.Check)) {
			continue
		}
		idx = append(idx, i)
		targets = append(targets, probeTarget(p))
	}
	if len(targets) == 0 {
		return nil
	}
	res, served, err := nodecheck.ProbeServed(ctx, pod, targets, r.opts.Probe, node, nodecheck.Peer{Path: r.paths[node]}, nil)
	if err != nil {
		return fmt.Errorf("servedBy probes: %w", err)
	}
	for j, i := range idx {
		if j >= len(served) {
			break
		}
		p := &probes[i]
		p.ServedBy, p.ServedByReason, p.Counters = served[j].By, served[j].Reason, served[j].Counters
		if res[j].Outcome != p.Outcome {
			p.ServedByReason += fmt.Sprintf(" (on a repeat probe, which was %s)", res[j].Outcome)
		}
	}
	return nil
}

// servedByFromFacts fills servedBy on probes that counters did not decide.
func (r *run) servedByFromFacts(node string, probes []acceptance.Probe) {
	for i := range probes {
		p := &probes[i]
		if p.ServedBy != "" || p.Outcome == probe.Error {
			continue
		}
		// A behaviour probe names the node it is about; a remote NodePort
		// probe its Via; the others the prober itself.
		serving := p.Serving.Name
		if serving == "" {
			serving = p.Via
		}
		p.ServedBy, p.ServedByReason = acceptance.ServedByProbe(*p, r.paths[node], r.paths[serving], false, nil)
	}
}

// behaviourSummary words the behaviour checks for the backends phase.
func behaviourSummary(bs []acceptance.Behaviour) string {
	count := map[string]int{}
	for _, b := range bs {
		count[b.Check]++
	}
	var parts []string
	for c, n := range count {
		parts = append(parts, fmt.Sprintf("%s %d", c, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// secondRound runs what needs every chosen node's rules first: probes at
// the peers' addresses other than their InternalIP (nodeport-every-address)
// and, where kube-proxy's iptables rules and Cilium's socket-LB are both on
// a node's own path, its own probes again with kube-proxy's counters read
// around each (servedBy). A node's failure here joins errs.
func (r *run) secondRound(ctx context.Context, runner nodecheck.Runner, peers map[string][]acceptance.Peer, probes [][]acceptance.Probe, errs []error) {
	var nodes []string
	var idx []int
	extra := make([][]acceptance.Probe, len(r.chosen))
	for i, n := range r.chosen {
		if errs[i] != nil {
			continue
		}
		extra[i] = acceptance.PlanOtherAddresses(r.prober(n, nil), r.behaviours, peers[n], r.datapaths, r.addrs)
		if len(extra[i]) > 0 || r.countedNeeded(n) {
			nodes = append(nodes, n)
			idx = append(idx, i)
		}
	}
	if len(nodes) == 0 || ctx.Err() != nil {
		return
	}
	_, errs2 := runner.Run(ctx, nodes, nodecheck.Work{Probe: func(ctx context.Context, j int, pod probe.Runner, _ *hostdump.Dump) error {
		i := idx[j]
		n := r.chosen[i]
		if r.countedNeeded(n) {
			if err := r.countedLocal(ctx, pod, n, probes[i]); err != nil {
				return err
			}
		}
		if len(extra[i]) == 0 {
			return nil
		}
		targets := make([]probe.Target, len(extra[i]))
		for k, p := range extra[i] {
			targets[k] = probeTarget(p)
		}
		// The first round gave the datapaths their settle time already.
		got, err := r.runProbes(ctx, pod, r.classOf[n], targets, extra[i], 0)
		probes[i] = append(probes[i], got...)
		return err
	}})
	for j, err := range errs2 {
		if err != nil && errs[idx[j]] == nil {
			errs[idx[j]] = err
		}
	}
}

// ownDatapathKind: a probe of the node's own datapath (its ClusterIP and
// NodePorts on its own addresses), which the node's translators serve.
func ownDatapathKind(k probe.Kind) bool {
	switch k {
	case probe.KindClusterIP, probe.KindNodePortLocal, probe.KindNodePortLoopback, probe.KindNodePortAny:
		return true
	}
	return false
}
