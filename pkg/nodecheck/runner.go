// Package nodecheck is the engine of the node-check commands (inspect,
// probe, diff, and verify's per-node phase): one runner puts a debug pod
// (or one DaemonSet's pod) on each node, reads the node's rules, runs the
// node's probes, and leaves the clean-up to its caller. The commands in
// pkg/cmd only add their flags and their output; the API reads live in
// pkg/collect, the judging in pkg/interpret, the printing in pkg/render.
package nodecheck

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/debugpod"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/probe"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/acceptance"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/hostdump"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/inspect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// Runner runs work on nodes through one run's debug pods.
type Runner struct {
	Pods        *debugpod.Manager
	Concurrency int
}

// Work is what runs on each node: its rules dump (ReadRules), then Probe
// (when set) in the same pod, with the dump when it was read.
type Work struct {
	ReadRules bool
	Probe     func(ctx context.Context, i int, pod probe.Runner, dump *hostdump.Dump) error
}

// Run does w on every node, Concurrency at a time, and returns each node's
// dump (nil when not read) and error, in nodes' order. A node's failure
// never stops the others.
func (r Runner) Run(ctx context.Context, nodes []string, w Work) ([]*hostdump.Dump, []error) {
	dumps := make([]*hostdump.Dump, len(nodes))
	errs := r.Pods.ForNodes(ctx, nodes, r.Concurrency, func(ctx context.Context, i int, p *debugpod.Pod) error {
		if w.ReadRules {
			d, err := debugpod.ReadHost(ctx, p)
			if err != nil {
				return err
			}
			dumps[i] = &d
		}
		if w.Probe != nil {
			return w.Probe(ctx, i, p, dumps[i])
		}
		return nil
	})
	for i := range nodes {
		if errs[i] == nil && w.ReadRules && dumps[i] == nil {
			errs[i] = errors.New("no dump read")
		}
	}
	return dumps, errs
}

// Finish deletes the run's pods (those --keep does not keep) and says
// which were kept; the caller tells the user.
func (r Runner) Finish() (cleanupErrs []error, kept []string) {
	return r.Pods.Cleanup(), r.Pods.Kept()
}

// KeptNotice tells the user which debug pods --keep left, and how to
// remove them.
func KeptNotice(kept []string) string {
	return fmt.Sprintf("kept debug pods (--keep): %s; remove them with `kubectl kpr cleanup`", strings.Join(kept, ", "))
}

// NodeError words a node's failure for reports.
func NodeError(node string, err error) report.NodeError {
	ne := report.NodeError{Node: node, Message: err.Error()}
	var se *debugpod.StartError
	if errors.As(err, &se) {
		ne.Reason = string(se.Reason)
	}
	return ne
}

// Inspect reads every node's rules and interprets them, with
// cilium-config's KPR level (inspect reads no agent; diff and verify do,
// and give inspect.Node the agent's own).
func Inspect(ctx context.Context, r Runner, nodes []string, facts inspect.ClusterFacts, raw bool) *report.Inspect {
	dumps, errs := r.Run(ctx, nodes, Work{ReadRules: true})
	rep := &report.Inspect{Nodes: []report.InspectNode{}}
	for i, name := range nodes {
		if errs[i] != nil {
			rep.Errors = append(rep.Errors, NodeError(name, errs[i]))
			continue
		}
		rep.Nodes = append(rep.Nodes, inspect.Node(name, *dumps[i], facts, facts.LevelFor(""), raw))
	}
	return rep
}

// ProbeSettings are one probe run's choices.
type ProbeSettings struct {
	// Remote: probe NodePorts on this many other nodes' InternalIPs.
	Remote int
	Probe  probe.Options
	// Status are the nodes' status rows (nil: not read): who served each
	// probe rests on the agents' facts and the nodes' rules.
	Status map[string]*report.NodeStatus
	// HostPorts are pods' hostPorts to probe from every node.
	HostPorts []probe.Target
	// NoServedBy skips the rules dump (one exec per node less): servedBy
	// then rests on Status alone, and other addresses are not probed.
	NoServedBy bool
}

// Probe probes the Services from each node of `from`: their ClusterIPs,
// NodePorts on the node's every address, 127.0.0.1 and 0.0.0.0 and on
// remote other nodes, LB and external IPs, the given hostPorts, and
// ClientIP-affinity Services AffinityRequests times. Each node's rules are
// read first, so that every probe says who served it.
func Probe(ctx context.Context, r Runner, from, all []collect.NodeInfo, svcs []corev1.Service, s ProbeSettings) *report.Probe {
	po := s.Probe
	rep := &report.Probe{Mode: "tcp", Results: []report.ProbeResult{}}
	if po.HTTP {
		rep.Mode = "http"
	}
	everyNode := ProbeNodes(all)
	plans := make([][]probe.Target, len(from))
	for i, n := range ProbeNodes(from) {
		var skipped []string
		plans[i], skipped = probe.Plan(n, everyNode, svcs, s.Remote)
		if i == 0 {
			rep.Skipped = skipped
		}
	}
	peers := map[string]Peer{}
	for _, n := range all {
		peers[n.Name] = PeerOf(s.Status[n.Name])
	}
	affinity := AffinityTargets(svcs)
	results := make([][]report.ProbeResult, len(from))
	_, errs := r.Run(ctx, collect.NodeNames(from), Work{ReadRules: !s.NoServedBy, Probe: func(ctx context.Context, i int, pod probe.Runner, d *hostdump.Dump) error {
		name := from[i].Name
		self := peers[name]
		targets := plans[i]
		if d != nil {
			n := inspectNode(name, *d, inspect.ClusterFacts{}, "")
			self.Path = PathFactsOf(s.Status[name], &n)
			if self.HostPortBy == "" && d.HasPortmap() {
				self.HostPortBy = acceptance.HostPortPortmap
			}
			targets = append(targets, probe.AddressTargets(plans[i], from[i].InternalIP, d.NodeIPs())...)
		}
		targets = append(targets, s.HostPorts...)
		rs, served, err := ProbeServed(ctx, pod, targets, po, name, self, peers)
		if s.NoServedBy {
			served = nil
		}
		results[i] = append(results[i], ServedResults(name, rs, served)...)
		if err != nil {
			return err
		}
		aff, err := AffinityResults(ctx, pod, name, affinity, AffinityRequests, po, self.Path)
		if s.NoServedBy {
			for k := range aff {
				aff[k].ServedBy, aff[k].ServedByReason = "", ""
			}
		}
		results[i] = append(results[i], aff...)
		return err
	}})
	for i, n := range from {
		if errs[i] != nil {
			rep.Errors = append(rep.Errors, NodeError(n.Name, errs[i]))
			continue
		}
		rep.Results = append(rep.Results, results[i]...)
	}
	return rep
}

// ProbeNodes turns nodes into probe targets' hosts.
func ProbeNodes(ns []collect.NodeInfo) []probe.Node {
	out := make([]probe.Node, 0, len(ns))
	for _, n := range ns {
		pn := probe.Node{Name: n.Name}
		if n.InternalIP != "" {
			pn.InternalIPs = []string{n.InternalIP}
		}
		out = append(out, pn)
	}
	return out
}

// ProbeResult is one probe's row in reports.
func ProbeResult(from string, r probe.Result) report.ProbeResult {
	return report.ProbeResult{
		From: from, Target: r.Address(), Kind: string(r.Kind), Service: r.Service + ":" + r.Port, Via: r.Via,
		Outcome: r.Outcome, LatencyMs: r.LatencyMs, HTTPStatus: r.HTTPStatus, Detail: r.Detail,
	}
}

// inspectNode interprets one node's dump without its raw text.
func inspectNode(name string, d hostdump.Dump, facts inspect.ClusterFacts, agentKPR string) report.InspectNode {
	return inspect.Node(name, d, facts, facts.LevelFor(agentKPR), false)
}
