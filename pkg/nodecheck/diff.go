package nodecheck

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/probe"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/findings"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/hostdump"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// MaxDiffServices bounds the Services diff probes when none are named.
const MaxDiffServices = 10

// DiffOptions are one diff's choices.
type DiffOptions struct {
	// Services are NAMESPACE/NAME refs to probe; without them, Namespace's
	// NodePort Services (when NamespaceExplicit), else the cluster's first
	// MaxDiffServices.
	Services          []string
	Namespace         string
	NamespaceExplicit bool
	NoProbe           bool
	Probe             probe.Options
	// StatusTimeout bounds the agent execs too: a hanging agent must not
	// hold diff longer than the user allowed.
	StatusTimeout time.Duration
	// Dynamic reads CiliumNodeConfigs for the nodes' per-node
	// configuration (nil: cilium-config and node keys only).
	Dynamic dynamic.Interface
	// Warn hears what the user should know on stderr ("warning: ...",
	// "note: ..." are the caller's to add).
	Warn func(kind, msg string)
}

// Diff compares two nodes: their status, their rules and the same probes
// from each. Node failures are in the result's Errors; an error means the
// comparison could not be made at all.
func Diff(ctx context.Context, cs kubernetes.Interface, ex collect.Executor, r Runner, nodes [2]collect.NodeInfo, o DiffOptions) (*report.Diff, error) {
	warn := func(f string, a ...any) {
		if o.Warn != nil {
			o.Warn("warning", fmt.Sprintf(f, a...))
		}
	}
	names := []string{nodes[0].Name, nodes[1].Name}
	statusByNode := map[string]*report.NodeStatus{}
	agentKPR := map[string]string{}
	st, err := collect.CollectStatus(ctx, cs, ex, collect.StatusOptions{Nodes: names, Timeout: o.StatusTimeout, Dynamic: o.Dynamic})
	if err != nil {
		warn("status facts not read: %v", err)
	} else {
		for i := range st.Nodes {
			n := &st.Nodes[i]
			statusByNode[n.Name] = n
			for _, e := range n.Errors {
				// Why a node's status facts are "unknown".
				warn("%s: %s", n.Name, e)
			}
			if n.KubeProxyReplacement != nil {
				agentKPR[n.Name] = n.KubeProxyReplacement.ReplacesKubeProxy
			}
		}
	}
	facts := collect.ReadClusterFacts(ctx, cs)
	for _, w := range facts.Warnings {
		warn("%s", w)
	}
	var svcs []corev1.Service
	if !o.NoProbe {
		svcs, err = diffServices(ctx, cs, o)
		if err != nil {
			return nil, err
		}
		if len(svcs) == 0 {
			warn("no NodePort Services found to probe; comparing status and rules only")
		}
	}

	probes := make([][]probe.Result, 2)
	probed := make([]bool, 2)
	w := Work{ReadRules: true}
	served := make([][]Served, 2)
	affinity := make([][]report.ProbeResult, 2)
	if len(svcs) > 0 {
		w.Probe = func(ctx context.Context, i int, pod probe.Runner, d *hostdump.Dump) error {
			// Each node probes the same Services, and the other node's NodePort.
			other := ProbeNodes(nodes[1-i : 2-i])
			targets, _ := probe.Plan(ProbeNodes(nodes[i : i+1])[0], other, svcs, 1)
			var in *report.InspectNode
			if d != nil {
				n := inspectNode(names[i], *d, facts, agentKPR[names[i]])
				in = &n
			}
			peers := map[string]Peer{names[1-i]: PeerOf(statusByNode[names[1-i]])}
			self := PeerOf(statusByNode[names[i]])
			self.Path = PathFactsOf(statusByNode[names[i]], in)
			if d != nil {
				targets = append(targets, probe.AddressTargets(targets, nodes[i].InternalIP, d.NodeIPs())...)
			}
			rs, sv, err := ProbeServed(ctx, pod, targets, o.Probe, names[i], self, peers)
			if err != nil {
				return fmt.Errorf("probes: %w", err)
			}
			probes[i], served[i], probed[i] = rs, sv, true
			// A failed request script leaves the affinity rows out, with a warning.
			aff, err := AffinityResults(ctx, pod, names[i], AffinityTargets(svcs), AffinityRequests, o.Probe, self.Path)
			if err != nil {
				warn("%s: %v", names[i], err)
			}
			affinity[i] = aff
			return nil
		}
	}
	dumps, errs := r.Run(ctx, names, w)

	side := make([]findings.NodeFacts, 2)
	var nodeErrs []report.NodeError
	for i, name := range names {
		nf := findings.NodeFacts{Name: name, Status: statusByNode[name], Probed: probed[i]}
		if dumps[i] != nil {
			in := inspectNode(name, *dumps[i], facts, agentKPR[name])
			nf.Inspect = &in
		}
		nf.Probes = append(nf.Probes, ServedResults(name, probes[i], served[i])...)
		nf.Probes = append(nf.Probes, affinity[i]...)
		if dumps[i] != nil {
			nf.HostPortByPortmap = dumps[i].HasPortmap()
			nf.Addresses = dumps[i].NodeIPs()
		}
		if errs[i] != nil {
			nodeErrs = append(nodeErrs, NodeError(name, errs[i]))
		}
		side[i] = nf
	}
	d := findings.Compare(side[0], side[1])
	d.Errors = nodeErrs
	return d, nil
}

// diffServices picks the Services to probe: --service, else -n's NodePort
// Services, else the cluster's first MaxDiffServices NodePort Services.
func diffServices(ctx context.Context, cs kubernetes.Interface, o DiffOptions) ([]corev1.Service, error) {
	if len(o.Services) > 0 {
		var out []corev1.Service
		for _, s := range o.Services {
			ns, name, _ := strings.Cut(s, "/")
			got, err := collect.ProbeServices(ctx, cs, ns, name)
			if err != nil {
				return nil, err
			}
			out = append(out, got...)
		}
		return out, nil
	}
	ns := o.Namespace
	if !o.NamespaceExplicit {
		ns = metav1.NamespaceAll
	}
	list, err := collect.ListServices(ctx, cs, ns)
	if err != nil {
		return nil, err
	}
	out := collect.NodePortServices(list)
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	if len(out) > MaxDiffServices {
		if o.Warn != nil {
			o.Warn("note", fmt.Sprintf("probing the first %d of %d NodePort Services; pick others with --service or -n", MaxDiffServices, len(out)))
		}
		out = out[:MaxDiffServices]
	}
	return out, nil
}
