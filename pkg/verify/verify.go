// Package verify is the engine of `kubectl kpr verify`, the KPR acceptance
// test: status on every node and their classes, the choice of nodes,
// kpr's own backends (--deploy-backends), the agents' service tables,
// every chosen node's rules and probes, and the judging, in the shape of
// stern.Run: Run(ctx, deps, options) returns the report. The API reads
// are in pkg/collect, the choices and judging in pkg/interpret/acceptance,
// the text, files and tables in pkg/render; pkg/cmd/verify.go holds the
// flags.
package verify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/backends"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/debugpod"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/probe"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/acceptance"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/hostdump"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/inspect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/nodecheck"
)

// Options are one verify run's choices (the command's flags).
type Options struct {
	// Services are NAMESPACE/NAME targets; DeployBackends adds kpr's own.
	Services       []string
	DeployBackends bool
	BackendImage   string
	// The nodes to check from: Nodes, else AllNodes, else Sample per class.
	Nodes    []string
	AllNodes bool
	Sample   int
	// Seed of the sample; random (and reported) unless SeedSet.
	Seed    int64
	SeedSet bool
	Strict  bool
	DryRun  bool
	// CiliumNamespace is where the agents run ("" finds them by label).
	CiliumNamespace string
	// Settle is how long probes and agent tables that disagree with their
	// expectation are retried while datapaths catch up.
	Settle time.Duration
	Probe  probe.Options
	// Pods are the debug pods' settings; Concurrency bounds the nodes
	// worked on at once.
	Pods        debugpod.Options
	Concurrency int
	// CommandLine is the invocation as the user would retype it.
	CommandLine string
	// HostPort is the deployed hostPort pod's port (0: no hostport check);
	// NoExternalIPs leaves out the externalIP Services.
	HostPort      int32
	NoExternalIPs bool
}

// Progress hears the run's phases (render.Progress is one).
type Progress interface {
	Start(phase, what string)
	Count(done, total, failed int)
	Phase(phase, detail string, took time.Duration)
	End()
}

// Deps are the cluster access and the run's voice on stderr.
type Deps struct {
	Client kubernetes.Interface
	// Dynamic reads CiliumNodeConfigs (nil: per-node configuration is
	// cilium-config's, with a warning).
	Dynamic  dynamic.Interface
	Exec     collect.Executor
	Cluster  report.VerifyCluster
	Progress Progress
	// Warn hears what the user should know at once: kind is "note",
	// "warning", or "" for a line of its own (the pods --keep left).
	Warn func(kind, msg string)
}

// CannotRunError: verify could not do its job at all (exit status 2).
type CannotRunError struct{ Err error }

func (e *CannotRunError) Error() string { return e.Err.Error() }
func (e *CannotRunError) Unwrap() error { return e.Err }

func cannotRun(format string, a ...any) error {
	return &CannotRunError{Err: fmt.Errorf(format, a...)}
}

// ErrInterrupted: the run was cancelled (Ctrl-C); what it created is gone.
var ErrInterrupted = errors.New("interrupted; verify's backends and debug pods deleted")

// run is one run's state.
type run struct {
	opts    Options
	deps    Deps
	res     *report.Verify
	started time.Time
	phase   time.Time

	status   *report.Status
	statusOf map[string]*report.NodeStatus
	nodes    map[string]acceptance.NodeFacts
	classOf  map[string]string
	chosen   []string
	targets  []target
	deployed *backends.Deployment

	// The behaviour checks' Services and pods, every node's datapath for
	// them, the translators on each node's paths, and the chosen nodes'
	// global addresses (from their dumps).
	behaviours []acceptance.Behaviour
	datapaths  map[string]acceptance.Datapath
	paths      map[string]acceptance.PathFacts
	addrs      map[string][]string
}

// target is one Service port with what probing it needs.
type target struct {
	acceptance.Target
	svc  corev1.Service
	port corev1.ServicePort
}

// Run verifies the cluster. The report comes back whenever there is one,
// also with an error; a failed check is no error (report's Summary says
// it). Errors are *CannotRunError, ErrInterrupted, or the context's.
func Run(ctx context.Context, deps Deps, opts Options) (*report.Verify, error) {
	if !opts.SeedSet {
		opts.Seed = rand.Int64N(1 << 31)
	}
	if deps.Progress == nil {
		deps.Progress = silent{}
	}
	if deps.Warn == nil {
		deps.Warn = func(string, string) {}
	}
	r := &run{opts: opts, deps: deps, started: time.Now(), phase: time.Now()}
	r.res = &report.Verify{
		Cluster: deps.Cluster, StartedAt: r.started.UTC().Format(time.RFC3339),
		Options: report.VerifyOptions{Sample: opts.Sample, AllNodes: opts.AllNodes, Nodes: opts.Nodes, Seed: opts.Seed, Strict: opts.Strict,
			DeployBackends: opts.DeployBackends, Services: opts.Services, ProbeMode: "tcp", ProbeTimeoutMs: float64(opts.Probe.Timeout.Milliseconds()),
			CommandLine: opts.CommandLine},
		Phases: []report.VerifyPhase{}, Classes: []report.VerifyClass{}, Nodes: []report.VerifyNode{}, Targets: []report.VerifyTarget{},
		Checks: []report.VerifyCheck{}, Created: []string{},
	}
	if opts.Probe.HTTP {
		r.res.Options.ProbeMode = "http"
	}
	if v, err := deps.Client.Discovery().ServerVersion(); err == nil {
		r.res.Cluster.ServerVersion = v.GitVersion
	}
	if err := r.classify(ctx); err != nil {
		return r.res, err
	}
	if err := r.resolveServices(ctx); err != nil {
		return r.res, err
	}
	if opts.DryRun {
		r.dryRun()
		return r.res, nil
	}
	// Whatever happens from here on, what verify created is deleted.
	runErr := r.execute(ctx)
	cleanupErr := r.cleanup()
	if ctx.Err() != nil {
		return r.res, ErrInterrupted
	}
	if runErr != nil {
		return r.res, runErr
	}
	if cleanupErr != nil {
		r.res.Errors = append(r.res.Errors, report.NodeError{Node: "-", Reason: "cleanup", Message: cleanupErr.Error()})
	}
	r.res.Summary, r.res.Classes = acceptance.Tally(r.res.Checks, r.res.Classes)
	r.res.DurationMs = float64(time.Since(r.started).Milliseconds())
	sort.SliceStable(r.res.Checks, func(i, j int) bool { return r.res.Checks[i].Node < r.res.Checks[j].Node })
	return r.res, nil
}

// endPhase records the phase that just ended.
func (r *run) endPhase(name, detail string) {
	d := time.Since(r.phase)
	r.phase = time.Now()
	r.res.Phases = append(r.res.Phases, report.VerifyPhase{Name: name, DurationMs: float64(d.Milliseconds()), Detail: detail})
	r.deps.Progress.Phase(name, detail, d)
}

// classify runs status on every node and groups the nodes into classes,
// then picks the nodes to check from.
func (r *run) classify(ctx context.Context) error {
	o := r.opts
	r.deps.Progress.Start("status", "reading every node's agent and kube-proxy")
	st, err := collect.CollectStatus(ctx, r.deps.Client, r.deps.Exec, collect.StatusOptions{CiliumNamespace: o.CiliumNamespace, Concurrency: 16, Timeout: o.Pods.Timeout, Dynamic: r.deps.Dynamic})
	if err != nil {
		return cannotRun("status: %w", err)
	}
	r.status = st
	list, err := collect.ListNodes(ctx, r.deps.Client)
	if err != nil {
		return cannotRun("%w", err)
	}
	r.nodes = map[string]acceptance.NodeFacts{}
	for _, n := range list {
		r.nodes[n.Name] = acceptance.NodeFacts{Name: n.Name, InternalIP: n.InternalIP, Ready: n.Ready, Linux: !strings.EqualFold(n.OS, "windows")}
	}
	r.classOf = map[string]string{}
	r.statusOf = map[string]*report.NodeStatus{}
	for i, n := range st.Nodes {
		r.classOf[n.Name] = string(n.ServicesBy)
		r.statusOf[n.Name] = &st.Nodes[i]
		nf := r.nodes[n.Name]
		nf.Clean = n.Ready && len(n.Warnings) == 0 && len(n.Errors) == 0
		nf.CiliumAgent = n.CiliumAgent != nil
		r.nodes[n.Name] = nf
	}
	c := &r.res.Cluster
	c.CiliumVersion, c.CiliumNamespace, c.CiliumConfig = st.Cilium.Version, st.Cilium.Namespace, st.Cilium.Config
	c.KubeProxyMode = st.KubeProxy.Mode
	if ds := st.KubeProxy.DaemonSet; ds != nil {
		c.KubeProxyVersion = collect.ImageVersion(ds.Image)
	}
	r.res.Classes = acceptance.Classes(r.classOf)
	if len(r.res.Classes) == 0 {
		return cannotRun("the cluster has no nodes")
	}
	known := map[string]acceptance.NodeFacts{}
	for name := range r.classOf {
		known[name] = r.nodes[name]
	}
	r.chosen, err = acceptance.ChooseNodes(r.res.Classes, known, acceptance.Choice{Nodes: collect.Dedupe(o.Nodes), All: o.AllNodes, Sample: o.Sample, Seed: o.Seed})
	if err != nil {
		return cannotRun("%w", err)
	}
	if len(o.Nodes) > 0 || o.AllNodes {
		r.res.Options.Sample = 0
	}
	chosen := map[string]bool{}
	for _, n := range r.chosen {
		chosen[n] = true
	}
	for _, n := range st.Nodes {
		vn := report.VerifyNode{Name: n.Name, Class: string(n.ServicesBy), InternalIP: n.InternalIP, Ready: n.Ready, Chosen: chosen[n.Name],
			AgentVersion: n.AgentVersion, Warnings: []string{}}
		if n.CiliumAgent != nil {
			vn.CiliumAgent = n.CiliumAgent.Namespace + "/" + n.CiliumAgent.Pod
		}
		if n.KubeProxyReplacement != nil {
			vn.KPRMode = n.KubeProxyReplacement.Mode
		}
		if n.KubeProxyPod != nil {
			vn.KubeProxyPod = *n.KubeProxyPod
		}
		for _, w := range n.Warnings {
			vn.Warnings = append(vn.Warnings, w.Code)
		}
		r.res.Nodes = append(r.res.Nodes, vn)
	}
	var parts []string
	for _, cl := range r.res.Classes {
		parts = append(parts, fmt.Sprintf("%s %d/%d", cl.Name, len(cl.Chosen), len(cl.Nodes)))
	}
	r.datapathsFromStatus()
	r.endPhase("status", fmt.Sprintf("%d nodes in %d classes; checking from %s (seed %d)", len(st.Nodes), len(r.res.Classes), strings.Join(parts, ", "), o.Seed))
	if len(r.chosen) == 0 {
		return cannotRun("no node can be checked from: every node is NotReady or not Linux (name nodes with --node to try anyway)")
	}
	return nil
}

// resolveServices reads the --service targets.
func (r *run) resolveServices(ctx context.Context) error {
	for _, s := range r.opts.Services {
		ns, name, _ := strings.Cut(s, "/")
		svcs, err := collect.ProbeServices(ctx, r.deps.Client, ns, name)
		if err != nil {
			return cannotRun("--service %s: %w", s, err)
		}
		if err := r.addTargets(ctx, svcs[0], false); err != nil {
			return cannotRun("%w", err)
		}
		if err := r.behavioursFor(ctx, svcs[0], ""); err != nil {
			return cannotRun("%w", err)
		}
	}
	return nil
}

func (r *run) addTargets(ctx context.Context, svc corev1.Service, deployed bool) error {
	nodes, addrs, err := collect.ReadyEndpoints(ctx, r.deps.Client, svc)
	if err != nil {
		return err
	}
	for _, p := range svc.Spec.Ports {
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			continue
		}
		t := target{svc: svc, port: p, Target: acceptance.Target{
			Namespace: svc.Namespace, Service: svc.Name, PortName: p.Name, Port: p.Port, NodePort: p.NodePort,
			ExternalLocal: svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal,
			InternalLocal: svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal,
			EndpointNodes: map[string]bool{},
		}}
		vt := report.VerifyTarget{Service: svc.Namespace + "/" + svc.Name, Port: strings.TrimPrefix(t.Name(), svc.Namespace+"/"+svc.Name+":"),
			ClusterIP: svc.Spec.ClusterIP, PortNumber: p.Port, NodePort: p.NodePort, ExternalTrafficPolicy: string(svc.Spec.ExternalTrafficPolicy),
			Deployed: deployed, BackendNodes: []string{}, BackendClasses: []string{}, Endpoints: []string{}}
		for _, n := range nodes {
			t.EndpointNodes[n] = true
			vt.BackendNodes = append(vt.BackendNodes, n)
			vt.BackendClasses = append(vt.BackendClasses, r.classOf[n])
		}
		vt.Endpoints = append(vt.Endpoints, addrs...)
		r.targets = append(r.targets, t)
		r.res.Targets = append(r.res.Targets, vt)
	}
	return nil
}

// dryRun lists what a run would create; render.VerifyDryRun words it.
func (r *run) dryRun() {
	if r.opts.DeployBackends {
		ns := backends.NamespacePrefix + "<random>"
		r.res.Options.Namespace = ns
		r.res.Created = append(r.res.Created, "namespace/"+ns)
		for _, b := range backends.PlanWith(ns, acceptance.BackendNodes(r.res.Classes, r.nodes), r.backendOptions()) {
			r.res.Created = append(r.res.Created, b.Objects()...)
		}
	}
	for _, n := range r.chosen {
		r.res.Created = append(r.res.Created, fmt.Sprintf("pod/%s/kpr-%s-<random> (debug pod, image %s)", r.opts.Pods.Namespace, n, r.opts.Pods.Image))
	}
	r.res.DryRun = true
}

// backendOptions are the deployment's settings, for Deploy and --dry-run.
func (r *run) backendOptions() backends.Options {
	o := r.opts
	return backends.Options{
		Image: o.BackendImage, PullSecrets: o.Pods.ImagePullSecrets, SecretsFrom: o.Pods.Namespace,
		RunID: debugpod.NewRunID(), Timeout: 2 * o.Pods.Timeout, Lifetime: 30 * time.Minute,
		HostPort: o.HostPort, ExternalIPs: !o.NoExternalIPs,
	}
}

// execute deploys, reconciles, inspects, probes and judges.
func (r *run) execute(ctx context.Context) error {
	o := r.opts
	if o.DeployBackends {
		ns := backends.NamespaceName()
		r.res.Options.Namespace = ns
		nodeByClass := acceptance.BackendNodes(r.res.Classes, r.nodes)
		r.deps.Progress.Start("backends", fmt.Sprintf("deploying %d backend(s) in namespace %s", len(nodeByClass), ns))
		d, err := backends.Deploy(ctx, r.deps.Client, ns, nodeByClass, r.backendOptions())
		r.deployed = d
		if d != nil {
			r.res.Created = append(r.res.Created, d.Created...)
		}
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			return cannotRun("deploying the backends: %w", err)
		}
		for _, b := range d.Backends {
			svc, err := r.deps.Client.CoreV1().Services(ns).Get(ctx, b.Service, metav1.GetOptions{})
			if err != nil {
				return cannotRun("reading Service %s/%s: %w", ns, b.Service, err)
			}
			if err := r.addTargets(ctx, *svc, true); err != nil {
				return cannotRun("%w", err)
			}
		}
		if err := r.deployedBehaviours(ctx, d); err != nil {
			return cannotRun("%w", err)
		}
		var where []string
		for _, b := range d.Backends {
			where = append(where, b.Class+" on "+b.Node)
		}
		r.endPhase("backends", fmt.Sprintf("namespace %s: %s; behaviour checks: %s", ns, strings.Join(where, ", "), behaviourSummary(r.behaviours)))
	}
	if len(r.targets) == 0 {
		return cannotRun("no TCP Service port to probe among the targets")
	}

	frontends := r.reconcile(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	inputs := r.checkNodes(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rep := acceptance.Reproducer{DebugImage: o.Pods.Image, HTTP: o.Probe.HTTP, TimeoutSeconds: int(o.Probe.Timeout.Seconds())}
	for _, n := range r.chosen {
		in := inputs[n]
		if f, ok := frontends[n]; ok {
			in.Frontends, in.OtherProblems, in.AgentTableErr = f.Targets, f.Other, f.Err
		}
		r.res.Checks = append(r.res.Checks, acceptance.JudgeNode(in, o.Strict, rep)...)
	}
	return nil
}

func (r *run) acceptanceTargets() []acceptance.Target {
	out := make([]acceptance.Target, len(r.targets))
	for i, t := range r.targets {
		out[i] = t.Target
	}
	return out
}

// reconcile runs the services reconciliation on the chosen nodes' agents,
// retrying while a target's frontends are still missing (an agent that
// has not yet seen a just-created Service) until Settle.
func (r *run) reconcile(ctx context.Context) map[string]acceptance.NodeFrontends {
	var withAgent []string
	versions := map[string]string{}
	nodePort := map[string]bool{}
	for _, n := range r.chosen {
		if s := r.statusOf[n]; s != nil && s.CiliumAgent != nil {
			withAgent = append(withAgent, n)
			// The release the agent reported decides its NodePort rows.
			if s.AgentVersion != "" {
				versions[n] = s.AgentVersion
			}
			// So does whether it runs NodePort at all.
			if k := s.KubeProxyReplacement; k != nil && k.NodePort != nil {
				nodePort[n] = *k.NodePort
			}
		}
	}
	out := map[string]acceptance.NodeFrontends{}
	if len(withAgent) == 0 {
		r.endPhase("services", "no chosen node runs a Cilium agent")
		return out
	}
	r.deps.Progress.Start("services", fmt.Sprintf("reconciling %d agent(s)' service tables", len(withAgent)))
	deadline := time.Now().Add(r.opts.Settle)
	targets := r.acceptanceTargets()
	attempts := 0
	for {
		attempts++
		rep, err := collect.CollectServices(ctx, r.deps.Client, r.deps.Exec, collect.ServicesOptions{CiliumNamespace: r.opts.CiliumNamespace, Concurrency: 16, Timeout: r.opts.Pods.Timeout, Nodes: withAgent, AgentVersions: versions, AgentNodePort: nodePort})
		out = map[string]acceptance.NodeFrontends{}
		settled := true
		if err != nil {
			for _, n := range withAgent {
				out[n] = acceptance.NodeFrontends{Err: err.Error()}
			}
		} else {
			for _, row := range rep.Nodes {
				nf := acceptance.TargetFrontends(row, targets)
				out[row.Node] = nf
				settled = settled && nf.Settled()
			}
		}
		if settled || err != nil || ctx.Err() != nil || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	problems := 0
	for _, nf := range out {
		for _, t := range nf.Targets {
			problems += len(t.Problems)
		}
	}
	r.endPhase("services", fmt.Sprintf("%d agent(s), %d problem(s) with the targets (%d attempt(s))", len(withAgent), problems, attempts))
	return out
}

// checkNodes reads every chosen node's rules and probes from it, through
// one debug pod per node.
func (r *run) checkNodes(ctx context.Context) map[string]acceptance.Node {
	o := r.opts
	facts := collect.ReadClusterFacts(ctx, r.deps.Client)
	out := map[string]acceptance.Node{}
	for _, n := range r.chosen {
		out[n] = acceptance.Node{Name: n, Class: r.classOf[n], Status: r.statusOf[n]}
	}
	peers := acceptance.RemotePeers(r.chosen, r.res.Classes, r.nodes)
	runner := nodecheck.Runner{Pods: debugpod.NewManager(r.deps.Client, r.deps.Exec, o.Pods), Concurrency: o.Concurrency}
	total := len(r.chosen)
	r.deps.Progress.Start("nodes", fmt.Sprintf("rules and probes from %d node(s)", total))
	inspected := make([]*report.InspectNode, total)
	probes := make([][]acceptance.Probe, total)
	// Every node counts, those whose pod never started too.
	runner.Pods.Progress = r.deps.Progress.Count
	runner.Pods.Warn = func(msg string) { r.deps.Progress.End(); r.deps.Warn("note", msg) }
	dumps, errs := runner.Run(ctx, r.chosen, nodecheck.Work{ReadRules: true, Probe: func(ctx context.Context, i int, pod probe.Runner, d *hostdump.Dump) error {
		name := r.chosen[i]
		st := r.statusOf[name]
		agentKPR := ""
		if st != nil && st.KubeProxyReplacement != nil {
			agentKPR = st.KubeProxyReplacement.ReplacesKubeProxy
		}
		in := inspect.Node(name, *d, facts, facts.LevelFor(agentKPR), false)
		inspected[i] = &in
		socketLB := false
		if st != nil {
			socketLB = acceptance.SocketLBServesRemoteNodePorts(st.KubeProxyReplacement)
		}
		var err error
		probes[i], err = r.probeFrom(ctx, pod, name, peers[name], socketLB, d)
		if err != nil {
			return err
		}
		// A failed request script marks its probes "error" (skipped),
		// not the whole node.
		aff, _ := r.affinityFrom(ctx, pod, name)
		probes[i] = append(probes[i], aff...)
		return nil
	}})
	r.addrs = map[string][]string{}
	for i, n := range r.chosen {
		r.addDumpFacts(n, dumps[i], inspected[i])
	}
	r.secondRound(ctx, runner, peers, probes, errs)
	for i, n := range r.chosen {
		for j := range probes[i] {
			if s := probes[i][j].Serving.Name; s != "" {
				probes[i][j].Serving = r.datapaths[s]
			}
		}
		r.servedByFromFacts(n, probes[i])
	}
	failed := 0
	for i, n := range r.chosen {
		in := out[n]
		in.Inspect, in.Probes = inspected[i], probes[i]
		if errs[i] != nil {
			ne := nodecheck.NodeError(n, errs[i])
			in.Err = ne.Message
			failed++
			r.res.Errors = append(r.res.Errors, ne)
		}
		out[n] = in
	}
	cleanupErrs, kept := runner.Finish()
	if err := errors.Join(cleanupErrs...); err != nil {
		r.res.Errors = append(r.res.Errors, report.NodeError{Node: "-", Reason: "cleanup", Message: err.Error()})
	}
	if len(kept) > 0 {
		r.deps.Warn("", nodecheck.KeptNotice(kept))
	}
	r.endPhase("nodes", fmt.Sprintf("%d of %d node(s) checked", total-failed, total))
	return out
}

// probeFrom probes every target from one node and retries, until Settle,
// the probes whose outcome disagrees with their expectation.
func (r *run) probeFrom(ctx context.Context, pod probe.Runner, node string, peers []acceptance.Peer, clientSocketLB bool, dump *hostdump.Dump) ([]acceptance.Probe, error) {
	class := r.classOf[node]
	self := probe.Node{Name: node}
	if ip := r.nodes[node].InternalIP; ip != "" {
		self.InternalIPs = []string{ip}
	}
	var targets []probe.Target
	var probes []acceptance.Probe
	for _, t := range r.targets {
		svc := t.svc
		svc.Spec.Ports = []corev1.ServicePort{t.port}
		planned, _ := probe.Plan(self, nil, []corev1.Service{svc}, 0)
		for _, pt := range planned {
			if !ownDatapathKind(pt.Kind) {
				continue
			}
			targets = append(targets, pt)
			probes = append(probes, acceptance.Probe{Check: string(pt.Kind), Service: t.Name(), Target: pt.Address(), Policy: t.PolicyOn(node)})
		}
		if t.NodePort != 0 {
			for _, pe := range peers {
				targets = append(targets, probe.Target{Kind: probe.KindNodePortRemote, Service: svc.Namespace + "/" + svc.Name, Port: t.PortName, Host: pe.IP, PortNum: t.NodePort, Via: pe.Name})
				probes = append(probes, t.RemoteProbe(pe, clientSocketLB))
			}
		}
	}
	for _, p := range acceptance.PlanBehaviours(r.prober(node, dump), r.behaviours, peers, r.datapaths, r.internalIPs()) {
		targets = append(targets, probeTarget(p))
		probes = append(probes, p)
	}
	return r.runProbes(ctx, pod, class, targets, probes, r.opts.Settle)
}

// runProbes probes targets and retries, until settle, the probes whose
// outcome disagrees with their expectation. hostport probes are not
// retried: their expectation waits for the serving node's rules.
func (r *run) runProbes(ctx context.Context, pod probe.Runner, class string, targets []probe.Target, probes []acceptance.Probe, settle time.Duration) ([]acceptance.Probe, error) {
	if len(targets) == 0 {
		return probes, nil
	}
	deadline := time.Now().Add(settle)
	pending := make([]int, len(targets))
	for i := range pending {
		pending[i] = i
	}
	for len(pending) > 0 {
		batch := make([]probe.Target, len(pending))
		for j, i := range pending {
			batch[j] = targets[i]
		}
		rs, err := probe.Run(ctx, pod, batch, r.opts.Probe)
		if err != nil {
			return probes, fmt.Errorf("probes: %w", err)
		}
		var again []int
		for j, i := range pending {
			if j >= len(rs) {
				break
			}
			res := rs[j]
			pr := &probes[i]
			pr.Attempts++
			pr.Outcome, pr.LatencyMs, pr.HTTPStatus, pr.Detail = res.Outcome, res.LatencyMs, res.HTTPStatus, res.Detail
			if res.Outcome != probe.Error && pr.Check != report.CheckHostPort && !acceptance.Agrees(pr.Expect(class, r.opts.Strict), res.Outcome) {
				again = append(again, i)
			}
		}
		if len(again) == 0 || time.Now().Add(time.Second).After(deadline) || ctx.Err() != nil {
			break
		}
		pending = again
		select {
		case <-ctx.Done():
			return probes, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return probes, nil
}

// cleanup deletes the backends' namespace.
func (r *run) cleanup() error {
	if r.deployed == nil {
		r.res.CleanedUp = true
		return nil
	}
	r.deps.Progress.Start("cleanup", "deleting namespace "+r.deployed.Namespace)
	err := r.deployed.Delete(30 * time.Second)
	r.res.CleanedUp = err == nil
	detail := "deleted " + strings.Join(r.deployed.Created, ", ")
	if err != nil {
		detail = err.Error()
		r.deps.Warn("warning", err.Error())
	}
	r.endPhase("cleanup", detail)
	return err
}

type silent struct{}

func (silent) Start(string, string)                {}
func (silent) Count(int, int, int)                 {}
func (silent) Phase(string, string, time.Duration) {}
func (silent) End()                                {}
