package cmd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/backends"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/debugpod"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect/probe"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/acceptance"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/cilium"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/render"
)

// Exit codes of verify.
const (
	verifyExitFail   = 1
	verifyExitCannot = 2
)

// VerifyOptions are `kubectl kpr verify`'s flags.
type VerifyOptions struct {
	root *RootOptions
	Pods *DebugPodFlags
	ProbeFlags

	Services        []string
	DeployBackends  bool
	BackendImage    string
	Sample          int
	AllNodes        bool
	Nodes           []string
	Seed            int64
	Strict          bool
	JUnit           string
	Reports         []string
	Output          string
	DryRun          bool
	Quiet           bool
	CiliumNamespace string
	Settle          time.Duration

	format      render.Format
	seedSet     bool
	commandLine string
}

func newVerifyCmd(root *RootOptions) *cobra.Command {
	o := &VerifyOptions{root: root, Pods: newDebugPodFlags(), ProbeFlags: defaultProbeFlags(), Sample: 2, BackendImage: backends.DefaultImage, Settle: 15 * time.Second}
	c := &cobra.Command{
		Use:   "verify (--service NS/NAME... | --deploy-backends) [--sample N | --all-nodes | --node NODE...]",
		Short: "Run the whole KPR acceptance test: classify nodes, reconcile agents, read rules and probe from every class",
		Long: `verify is the KPR acceptance test in one command, ending in a verdict and
reports:

 1. status on every node, grouped into classes by servicesBy (cilium,
    kube-proxy-*, both, partial, none, unknown);
 2. the services reconciliation on the chosen nodes' Cilium agents;
 3. from the chosen nodes (--sample N per class, default 2, reproducible
    with --seed; or --all-nodes; or --node): their rules (inspect) and
    probes of every target's ClusterIP and NodePort on the node's IP,
    127.0.0.1 and 0.0.0.0, and of its NodePort on one node of every class.

Targets are the Services named with --service, and with --deploy-backends
a backend of kpr's own on one node of each class (namespace
kpr-verify-<random>, one pod and one NodePort Service per class, deleted at
the end, also on Ctrl-C; "kubectl kpr cleanup" removes a killed run's).

Every check expects what the node's class implies: a cilium node must
answer everything and hold no KUBE-SVC rules; a kube-proxy node must have
kube-proxy's rules; on a node without Service datapath ("none") the
ClusterIP hangs and NodePorts are refused: a warning, a failure with
--strict. Checks end in pass, fail, warn or skip with a reason, evidence
and the command that repeats them by hand.

Exit status: 0 every check passed (warnings allowed), 1 a check failed,
2 verify could not run (no cluster, a missing permission: it says which).`,
		Example: `  kubectl kpr verify --deploy-backends
  kubectl kpr verify --service kube-system/nm-nginx --all-nodes
  kubectl kpr verify --deploy-backends --junit kpr.xml --report kpr.html --report kpr.md
  kubectl kpr verify --deploy-backends --strict -o json | jq '.checks[] | select(.result=="fail")'
  kubectl kpr verify --deploy-backends --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.seedSet = cmd.Flags().Changed("seed")
			o.commandLine = commandLine(cmd)
			if err := o.Validate(); err != nil {
				return &ExitError{Code: verifyExitCannot, Err: err}
			}
			return o.Run(cmd.Context())
		},
	}
	f := c.Flags()
	f.StringSliceVar(&o.Services, "service", nil, "Probe these Services (NAMESPACE/NAME, repeatable)")
	f.BoolVar(&o.DeployBackends, "deploy-backends", false, "Deploy a test backend and NodePort Service on one node of each class (deleted at the end)")
	f.StringVar(&o.BackendImage, "backend-image", o.BackendImage, "Image of the deployed backends (an HTTP server on :8080 started with `netexec --http-port=8080`, as agnhost)")
	f.IntVar(&o.Sample, "sample", o.Sample, "Check from this many nodes of each class (chosen reproducibly, see --seed)")
	f.BoolVar(&o.AllNodes, "all-nodes", false, "Check from every node")
	f.StringSliceVar(&o.Nodes, "node", nil, "Check from these nodes only (repeatable or comma-separated)")
	f.Int64Var(&o.Seed, "seed", 0, "Seed of the --sample choice (default: random, printed; pass it to pick the same nodes again)")
	f.BoolVar(&o.Strict, "strict", false, "Fail, not warn, on nodes without Service datapath")
	f.StringVar(&o.JUnit, "junit", "", "Write JUnit XML to this file (one testsuite per node class)")
	f.StringArrayVar(&o.Reports, "report", nil, "Write a report for people: FILE.md or FILE.html (repeatable)")
	f.StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml")
	f.BoolVar(&o.DryRun, "dry-run", false, "Print what would be created and probed; create nothing")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "No phase lines or progress on stderr")
	f.StringVar(&o.CiliumNamespace, "cilium-namespace", "", "Namespace of the Cilium agents (default: found by label k8s-app=cilium in all namespaces)")
	f.DurationVar(&o.Settle, "settle", o.Settle, "How long probes and agent tables that disagree with their expectation are retried while datapaths catch up")
	o.ProbeFlags.AddFlags(f)
	o.Pods.AddFlags(f)
	registerOutputCompletion(c, "json", "yaml")
	return c
}

// commandLine is the invocation as a user would retype it.
func commandLine(cmd *cobra.Command) string {
	parts := []string{"kubectl kpr " + cmd.Name()}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				parts = append(parts, "--"+f.Name+"="+v)
			}
			return
		}
		if f.Value.Type() == "bool" {
			parts = append(parts, "--"+f.Name)
			return
		}
		parts = append(parts, "--"+f.Name+"="+f.Value.String())
	})
	return strings.Join(parts, " ")
}

// Validate checks flag values.
func (o *VerifyOptions) Validate() error {
	f, err := render.ParseFormat(o.Output, render.FormatTable, render.FormatJSON, render.FormatYAML)
	if err != nil {
		return err
	}
	o.format = f
	if len(o.Services) == 0 && !o.DeployBackends {
		return errors.New("verify needs targets: name Services with --service NAMESPACE/NAME, or pass --deploy-backends to let kpr deploy its own")
	}
	if err := validateServiceRefs(o.Services); err != nil {
		return err
	}
	if o.AllNodes && len(o.Nodes) > 0 {
		return errors.New("give --all-nodes or --node, not both")
	}
	if o.Sample < 1 {
		return fmt.Errorf("--sample must be at least 1, got %d", o.Sample)
	}
	if o.Settle < 0 {
		return fmt.Errorf("--settle must not be negative, got %s", o.Settle)
	}
	if o.DeployBackends && strings.TrimSpace(o.BackendImage) == "" {
		return errors.New("--backend-image must not be empty")
	}
	for _, r := range o.Reports {
		switch strings.ToLower(filepath.Ext(r)) {
		case ".md", ".markdown", ".html", ".htm":
		default:
			return fmt.Errorf("--report %q: the file name must end in .md or .html (it picks the format)", r)
		}
	}
	return validateNodeChecks(o.root, &o.ProbeFlags, o.Pods)
}

// Run verifies the cluster.
func (o *VerifyOptions) Run(ctx context.Context) error {
	cfg, err := o.root.RESTConfig()
	if err != nil {
		return &ExitError{Code: verifyExitCannot, Err: err}
	}
	cs, ex, err := o.root.ClusterAccess()
	if err != nil {
		return &ExitError{Code: verifyExitCannot, Err: err}
	}
	cluster := report.VerifyCluster{Server: cfg.Host}
	if raw, err := o.root.ConfigFlags.ToRawKubeConfigLoader().RawConfig(); err == nil {
		cluster.Context = raw.CurrentContext
		if o.root.ConfigFlags.Context != nil && *o.root.ConfigFlags.Context != "" {
			cluster.Context = *o.root.ConfigFlags.Context
		}
	}
	return o.run(ctx, cs, ex, cluster)
}

// cannotRun is verify's exit 2: it could not do its job at all.
func cannotRun(format string, a ...any) error {
	return &ExitError{Code: verifyExitCannot, Err: fmt.Errorf(format, a...)}
}

// verifyRun is one run's state.
type verifyRun struct {
	o        *VerifyOptions
	cs       kubernetes.Interface
	ex       collect.Executor
	res      *report.Verify
	progress *render.Progress
	started  time.Time
	phase    time.Time

	status   *report.Status
	nodes    map[string]collect.NodeInfo
	classOf  map[string]string
	chosen   []string
	targets  []verifyTarget
	deployed *backends.Deployment
}

type verifyTarget struct {
	svc  corev1.Service
	port corev1.ServicePort
	// endpointNodes are the nodes of the Service's ready endpoints.
	endpointNodes map[string]bool
	deployed      bool
}

func (t verifyTarget) name() string {
	p := t.port.Name
	if p == "" {
		p = strconv.Itoa(int(t.port.Port))
	}
	return t.svc.Namespace + "/" + t.svc.Name + ":" + p
}

func (o *VerifyOptions) run(parent context.Context, cs kubernetes.Interface, ex collect.Executor, cluster report.VerifyCluster) error {
	ctx, stop := interruptible(parent)
	defer stop()
	r := &verifyRun{o: o, cs: cs, ex: ex, started: time.Now(), phase: time.Now(), progress: o.newProgress()}
	if !o.seedSet {
		o.Seed = rand.Int64N(1 << 31)
	}
	r.res = &report.Verify{
		Cluster: cluster, StartedAt: r.started.UTC().Format(time.RFC3339),
		Options: report.VerifyOptions{Sample: o.Sample, AllNodes: o.AllNodes, Nodes: o.Nodes, Seed: o.Seed, Strict: o.Strict,
			DeployBackends: o.DeployBackends, Services: o.Services, ProbeMode: "tcp", ProbeTimeoutMs: float64(o.ProbeTimeout.Milliseconds()),
			CommandLine: o.commandLine},
		Phases: []report.VerifyPhase{}, Classes: []report.VerifyClass{}, Nodes: []report.VerifyNode{}, Targets: []report.VerifyTarget{},
		Checks: []report.VerifyCheck{}, Created: []string{},
	}
	if o.HTTP {
		r.res.Options.ProbeMode = "http"
	}
	if v, err := cs.Discovery().ServerVersion(); err == nil {
		r.res.Cluster.ServerVersion = v.GitVersion
	}

	if err := r.classify(ctx); err != nil {
		return err
	}
	if err := r.resolveServices(ctx); err != nil {
		return err
	}
	if o.DryRun {
		return r.dryRun()
	}
	// Whatever happens from here on, what verify created is deleted.
	runErr := r.execute(ctx)
	cleanupErr := r.cleanup()
	if ctx.Err() != nil {
		return &ExitError{Code: 130, Err: errors.New("interrupted; verify's backends and debug pods deleted")}
	}
	if runErr != nil {
		return runErr
	}
	if cleanupErr != nil {
		r.res.Errors = append(r.res.Errors, report.NodeError{Node: "-", Reason: "cleanup", Message: cleanupErr.Error()})
	}
	return r.finish()
}

func (o *VerifyOptions) newProgress() *render.Progress { return o.root.progress(o.Quiet) }

// endPhase records the phase that just ended.
func (r *verifyRun) endPhase(name, detail string) {
	d := time.Since(r.phase)
	r.phase = time.Now()
	r.res.Phases = append(r.res.Phases, report.VerifyPhase{Name: name, DurationMs: float64(d.Milliseconds()), Detail: detail})
	r.progress.Phase(name, detail, d)
}

// classify runs status on every node and groups the nodes into classes,
// then picks the nodes to check from.
func (r *verifyRun) classify(ctx context.Context) error {
	o := r.o
	r.progress.Start("status", "reading every node's agent and kube-proxy")
	st, err := collect.CollectStatus(ctx, r.cs, r.ex, collect.StatusOptions{CiliumNamespace: o.CiliumNamespace, Concurrency: 16, Timeout: o.Pods.Timeout})
	if err != nil {
		return cannotRun("status: %w", err)
	}
	r.status = st
	list, err := collect.ListNodes(ctx, r.cs)
	if err != nil {
		return cannotRun("%w", err)
	}
	r.nodes = map[string]collect.NodeInfo{}
	for _, n := range list {
		r.nodes[n.Name] = n
	}
	r.classOf = map[string]string{}
	for _, n := range st.Nodes {
		r.classOf[n.Name] = string(n.ServicesBy)
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
	linux := func(name string) bool { return !strings.EqualFold(r.nodes[name].OS, "windows") }
	switch {
	case len(o.Nodes) > 0:
		want := map[string]bool{}
		for _, n := range dedupe(o.Nodes) {
			if _, ok := r.classOf[n]; !ok {
				var names []string
				for name := range r.classOf {
					names = append(names, name)
				}
				msg := fmt.Sprintf("--node %s: no such node", n)
				if c := collect.Closest(n, names, 3); len(c) > 0 {
					msg += "; did you mean " + strings.Join(c, ", ") + "?"
				}
				return cannotRun("%s", msg)
			}
			want[n] = true
		}
		r.chosen = acceptance.Sample(r.res.Classes, 0, o.Seed, func(n string) bool { return want[n] })
		r.res.Options.Sample = 0
	case o.AllNodes:
		r.chosen = acceptance.Sample(r.res.Classes, 0, o.Seed, linux)
		r.res.Options.Sample = 0
	default:
		r.chosen = acceptance.Sample(r.res.Classes, o.Sample, o.Seed, func(n string) bool { return linux(n) && r.nodes[n].Ready })
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
	r.endPhase("status", fmt.Sprintf("%d nodes in %d classes; checking from %s (seed %d)", len(st.Nodes), len(r.res.Classes), strings.Join(parts, ", "), o.Seed))
	if len(r.chosen) == 0 {
		return cannotRun("no node can be checked from: every node is NotReady or not Linux (name nodes with --node to try anyway)")
	}
	return nil
}

// resolveServices reads the --service targets.
func (r *verifyRun) resolveServices(ctx context.Context) error {
	for _, s := range r.o.Services {
		ns, name, _ := strings.Cut(s, "/")
		svcs, err := probeServices(ctx, r.cs, ns, name)
		if err != nil {
			return cannotRun("--service %s: %w", s, err)
		}
		if err := r.addTargets(ctx, svcs[0], false); err != nil {
			return cannotRun("%w", err)
		}
	}
	return nil
}

func (r *verifyRun) addTargets(ctx context.Context, svc corev1.Service, deployed bool) error {
	nodes, addrs, err := readyEndpoints(ctx, r.cs, svc)
	if err != nil {
		return err
	}
	for _, p := range svc.Spec.Ports {
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			continue
		}
		t := verifyTarget{svc: svc, port: p, endpointNodes: map[string]bool{}, deployed: deployed}
		vt := report.VerifyTarget{Service: svc.Namespace + "/" + svc.Name, Port: strings.TrimPrefix(t.name(), svc.Namespace+"/"+svc.Name+":"),
			ClusterIP: svc.Spec.ClusterIP, PortNumber: p.Port, NodePort: p.NodePort, ExternalTrafficPolicy: string(svc.Spec.ExternalTrafficPolicy),
			Deployed: deployed, BackendNodes: []string{}, BackendClasses: []string{}, Endpoints: []string{}}
		for _, n := range nodes {
			t.endpointNodes[n] = true
			vt.BackendNodes = append(vt.BackendNodes, n)
			vt.BackendClasses = append(vt.BackendClasses, r.classOf[n])
		}
		vt.Endpoints = append(vt.Endpoints, addrs...)
		r.targets = append(r.targets, t)
		r.res.Targets = append(r.res.Targets, vt)
	}
	return nil
}

// backendNodes picks, for every class with a Ready Linux node, the node
// that gets the class's backend: its first chosen node, else its first.
func (r *verifyRun) backendNodes() map[string]string {
	out := map[string]string{}
	for _, cl := range r.res.Classes {
		if cl.Name == string(verdict.Unknown) {
			continue
		}
		for _, n := range append(append([]string{}, cl.Chosen...), cl.Nodes...) {
			if ni := r.nodes[n]; ni.Ready && !strings.EqualFold(ni.OS, "windows") {
				out[cl.Name] = n
				break
			}
		}
	}
	return out
}

func (r *verifyRun) dryRun() error {
	w := r.o.root.Streams.Out
	if r.o.DeployBackends {
		ns := backends.NamespacePrefix + "<random>"
		r.res.Options.Namespace = ns
		r.res.Created = append(r.res.Created, "namespace/"+ns)
		for _, b := range backends.Plan(ns, r.backendNodes()) {
			r.res.Created = append(r.res.Created, fmt.Sprintf("pod/%s/%s (node %s, image %s)", ns, b.Pod, b.Node, r.o.BackendImage), fmt.Sprintf("service/%s/%s (NodePort)", ns, b.Service))
		}
	}
	for _, n := range r.chosen {
		r.res.Created = append(r.res.Created, fmt.Sprintf("pod/%s/kpr-%s-<random> (debug pod, image %s)", r.o.Pods.Namespace, n, r.o.Pods.Image))
	}
	r.res.DryRun = true
	if r.o.format.IsStructured() {
		return render.Structured(w, r.o.format, r.res)
	}
	fmt.Fprintln(w, "Dry run: verify would create (and delete at the end):")
	for _, c := range r.res.Created {
		fmt.Fprintln(w, "  "+render.Safe(c))
	}
	var targets []string
	for _, t := range r.targets {
		targets = append(targets, t.name())
	}
	if r.o.DeployBackends {
		targets = append(targets, "one NodePort Service per class (above)")
	}
	fmt.Fprintf(w, "and from %s probe %s: ClusterIP, NodePort on the node's IP, 127.0.0.1, 0.0.0.0, and on one node of every class.\n",
		strings.Join(r.chosen, ", "), strings.Join(targets, "; "))
	return nil
}

// execute deploys, reconciles, inspects, probes and judges.
func (r *verifyRun) execute(ctx context.Context) error {
	o := r.o
	if o.DeployBackends {
		ns := backends.NamespaceName()
		r.res.Options.Namespace = ns
		nodeByClass := r.backendNodes()
		r.progress.Start("backends", fmt.Sprintf("deploying %d backend(s) in namespace %s", len(nodeByClass), ns))
		d, err := backends.Deploy(ctx, r.cs, ns, nodeByClass, backends.Options{
			Image: o.BackendImage, PullSecrets: o.Pods.ImagePullSecrets, SecretsFrom: o.Pods.Namespace,
			RunID: debugpod.NewRunID(), Timeout: 2 * o.Pods.Timeout, Lifetime: 30 * time.Minute,
		})
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
			svc, err := r.cs.CoreV1().Services(ns).Get(ctx, b.Service, metav1.GetOptions{})
			if err != nil {
				return cannotRun("reading Service %s/%s: %w", ns, b.Service, err)
			}
			if err := r.addTargets(ctx, *svc, true); err != nil {
				return cannotRun("%w", err)
			}
		}
		var where []string
		for _, b := range d.Backends {
			where = append(where, b.Class+" on "+b.Node)
		}
		r.endPhase("backends", fmt.Sprintf("namespace %s: %s", ns, strings.Join(where, ", ")))
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
	rep := acceptance.Reproducer{DebugImage: o.Pods.Image, HTTP: o.HTTP, TimeoutSeconds: int(o.ProbeTimeout.Seconds())}
	for _, n := range r.chosen {
		in := inputs[n]
		if f, ok := frontends[n]; ok {
			in.Frontends, in.OtherProblems, in.AgentTableErr = f.targets, f.other, f.err
		}
		r.res.Checks = append(r.res.Checks, acceptance.Evaluate(in, o.Strict, rep)...)
	}
	return nil
}

type nodeFrontends struct {
	targets []acceptance.Frontends
	other   int
	err     string
}

// reconcile runs the services reconciliation on the chosen nodes' agents,
// retrying while a target's frontends are still missing (an agent that
// has not yet seen a just-created Service) until --settle.
func (r *verifyRun) reconcile(ctx context.Context) map[string]nodeFrontends {
	var withAgent []string
	versions := map[string]string{}
	for _, n := range r.chosen {
		for _, s := range r.status.Nodes {
			if s.Name == n && s.CiliumAgent != nil {
				withAgent = append(withAgent, n)
				// The release the agent reported decides its NodePort rows.
				if s.AgentVersion != "" {
					versions[n] = s.AgentVersion
				}
			}
		}
	}
	out := map[string]nodeFrontends{}
	if len(withAgent) == 0 {
		r.endPhase("services", "no chosen node runs a Cilium agent")
		return out
	}
	r.progress.Start("services", fmt.Sprintf("reconciling %d agent(s)' service tables", len(withAgent)))
	deadline := time.Now().Add(r.o.Settle)
	attempts := 0
	for {
		attempts++
		rep, err := collect.CollectServices(ctx, r.cs, r.ex, collect.ServicesOptions{CiliumNamespace: r.o.CiliumNamespace, Concurrency: 16, Timeout: r.o.Pods.Timeout, Nodes: withAgent, AgentVersions: versions})
		out = map[string]nodeFrontends{}
		settled := true
		for _, n := range withAgent {
			if err != nil {
				out[n] = nodeFrontends{err: err.Error()}
			}
		}
		if err == nil {
			for _, row := range rep.Nodes {
				nf := r.targetFrontends(row)
				out[row.Node] = nf
				for _, t := range nf.targets {
					if len(t.Problems) > 0 {
						settled = false
					}
				}
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
		for _, t := range nf.targets {
			problems += len(t.Problems)
		}
	}
	r.endPhase("services", fmt.Sprintf("%d agent(s), %d problem(s) with the targets (%d attempt(s))", len(withAgent), problems, attempts))
	return out
}

// targetFrontends splits one node's reconciliation into the targets'
// frontends and the count of other Services' problems.
func (r *verifyRun) targetFrontends(row report.NodeServices) nodeFrontends {
	nf := nodeFrontends{}
	if row.CiliumAgent == nil || (len(row.Errors) > 0 && len(row.Frontends) == 0) {
		nf.err = strings.Join(row.Errors, "; ")
		return nf
	}
	agent := ""
	if row.CiliumAgent != nil {
		agent = row.CiliumAgent.Namespace + "/" + row.CiliumAgent.Pod
	}
	claimed := map[string]bool{}
	for _, t := range r.targets {
		svc := t.svc.Namespace + "/" + t.svc.Name
		f := acceptance.Frontends{Service: t.name(), Agent: agent, Problems: []string{}}
		mine := map[string]bool{}
		for _, fc := range row.Frontends {
			if fc.Service != svc || !samePort(fc.Port, t.port) {
				continue
			}
			f.Expected++
			if fc.Status != report.FrontendMissing {
				f.Found++
			}
			mine[fc.Frontend+"/"+fc.Protocol] = true
		}
		for i, p := range row.Problems {
			if p.Service == svc && mine[p.Frontend+"/"+p.Protocol] {
				f.Problems = append(f.Problems, p.Code+" "+p.Frontend+"/"+p.Protocol+": "+p.Detail)
				claimed[strconv.Itoa(i)] = true
			}
		}
		nf.targets = append(nf.targets, f)
	}
	nf.other = len(row.Problems) - len(claimed)
	return nf
}

// checkNodes reads every chosen node's rules and probes from it, through
// one debug pod per node.
func (r *verifyRun) checkNodes(ctx context.Context) map[string]acceptance.Node {
	o := r.o
	facts := readClusterFacts(ctx, r.cs)
	statusOf := map[string]*report.NodeStatus{}
	for i := range r.status.Nodes {
		statusOf[r.status.Nodes[i].Name] = &r.status.Nodes[i]
	}
	out := map[string]acceptance.Node{}
	for _, n := range r.chosen {
		out[n] = acceptance.Node{Name: n, Class: r.classOf[n], Status: statusOf[n]}
	}
	peers := r.remotePeers()
	m := o.Pods.Manager(r.cs, r.ex)
	po := o.ProbeFlags.Options()
	total := len(r.chosen)
	r.progress.Start("nodes", fmt.Sprintf("rules and probes from %d node(s)", total))
	type nodeResult struct {
		inspect *report.InspectNode
		probes  []acceptance.Probe
	}
	results := make([]nodeResult, total)
	// Every node counts, those whose pod never started too.
	m.Progress = r.progress.Count
	m.Warn = noteTo(o.root, r.progress)
	errs := m.ForNodes(ctx, r.chosen, o.Pods.Concurrency, func(ctx context.Context, i int, p *debugpod.Pod) (err error) {
		name := r.chosen[i]
		d, err := debugpod.ReadHost(ctx, p)
		if err != nil {
			return err
		}
		level, from := facts.ciliumKPR, kprFromConfig
		if s := statusOf[name]; s != nil && s.KubeProxyReplacement != nil {
			level, from = s.KubeProxyReplacement.ReplacesKubeProxy, kprFromAgent
		}
		in := inspectNode(name, d, facts, level, from, false)
		results[i].inspect = &in
		var kpr *cilium.KPR
		if s := statusOf[name]; s != nil {
			kpr = s.KubeProxyReplacement
		}
		probes, err := r.probeFrom(ctx, p, name, peers[name], acceptance.SocketLBServesRemoteNodePorts(kpr), po)
		results[i].probes = probes
		return err
	})
	failed := 0
	for i, n := range r.chosen {
		in := out[n]
		in.Inspect, in.Probes = results[i].inspect, results[i].probes
		if errs[i] != nil {
			in.Err = nodeError(n, errs[i]).Message
			failed++
			r.res.Errors = append(r.res.Errors, nodeError(n, errs[i]))
		}
		out[n] = in
	}
	if err := cleanupPods(m); err != nil {
		r.res.Errors = append(r.res.Errors, report.NodeError{Node: "-", Reason: "cleanup", Message: err.Error()})
	}
	r.endPhase("nodes", fmt.Sprintf("%d of %d node(s) checked", total-failed, total))
	return out
}

// cleanupPods deletes the run's debug pods (finishPods without printing).
func cleanupPods(m *debugpod.Manager) error {
	return errors.Join(m.Cleanup()...)
}

type peer struct {
	name, class, ip string
	// ciliumAgent: a Cilium agent runs there, so the other agents' ipcache
	// holds its IP as a remote node, and their socket-LB answers its
	// NodePorts themselves (acceptance.SocketLBServesRemoteNodePorts).
	ciliumAgent bool
}

// remotePeers chooses, for every chosen node, one node of every class to
// probe NodePorts on: the class's first chosen node other than itself,
// preferring a Ready node without status warnings, so that a remote probe
// speaks for the class, not for one node's own trouble (an unready agent).
func (r *verifyRun) remotePeers() map[string][]peer {
	clean, agent := map[string]bool{}, map[string]bool{}
	if r.status != nil {
		for _, n := range r.status.Nodes {
			clean[n.Name] = n.Ready && len(n.Warnings) == 0 && len(n.Errors) == 0
			agent[n.Name] = n.CiliumAgent != nil
		}
	}
	out := map[string][]peer{}
	for _, from := range r.chosen {
		for _, cl := range r.res.Classes {
			best := ""
			for _, n := range cl.Chosen {
				if n == from || r.nodes[n].InternalIP == "" {
					continue
				}
				if best == "" || (clean[n] && !clean[best]) {
					best = n
				}
			}
			if best != "" {
				out[from] = append(out[from], peer{name: best, class: cl.Name, ip: r.nodes[best].InternalIP, ciliumAgent: agent[best]})
			}
		}
	}
	return out
}

// probeFrom probes every target from one node and retries, until
// --settle, the probes whose outcome disagrees with their expectation.
func (r *verifyRun) probeFrom(ctx context.Context, p *debugpod.Pod, node string, peers []peer, clientSocketLB bool, po probe.Options) ([]acceptance.Probe, error) {
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
		pol := acceptance.Policy{
			ExternalLocal: svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal,
			InternalLocal: svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal,
		}
		for _, pt := range planned {
			switch pt.Kind {
			case probe.KindClusterIP, probe.KindNodePortLocal, probe.KindNodePortLoopback, probe.KindNodePortAny:
			default:
				continue
			}
			pp := pol
			pp.LocalEndpoint = t.endpointNodes[node]
			targets = append(targets, pt)
			probes = append(probes, acceptance.Probe{Check: string(pt.Kind), Service: t.name(), Target: pt.Address(), Policy: pp})
		}
		if t.port.NodePort != 0 {
			for _, pe := range peers {
				pt := probe.Target{Kind: probe.KindNodePortRemote, Service: svc.Namespace + "/" + svc.Name, Port: t.port.Name, Host: pe.ip, PortNum: t.port.NodePort, Via: pe.name}
				pp := pol
				pp.LocalEndpoint = t.endpointNodes[pe.name]
				targets = append(targets, pt)
				probes = append(probes, acceptance.Probe{Check: string(pt.Kind), Service: t.name(), Target: pt.Address(), Via: pe.name, ViaClass: pe.class, ClientSocketLB: clientSocketLB && pe.ciliumAgent, Policy: pp})
			}
		}
	}
	if len(targets) == 0 {
		return nil, nil
	}
	deadline := time.Now().Add(r.o.Settle)
	pending := make([]int, len(targets))
	for i := range pending {
		pending[i] = i
	}
	for len(pending) > 0 {
		batch := make([]probe.Target, len(pending))
		for j, i := range pending {
			batch[j] = targets[i]
		}
		rs, err := probe.Run(ctx, p, batch, po)
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
			if res.Outcome != probe.Error && !acceptance.Agrees(pr.Expect(class, r.o.Strict), res.Outcome) {
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
func (r *verifyRun) cleanup() error {
	if r.deployed == nil {
		r.res.CleanedUp = true
		return nil
	}
	r.progress.Start("cleanup", "deleting namespace "+r.deployed.Namespace)
	err := r.deployed.Delete(30 * time.Second)
	r.res.CleanedUp = err == nil
	detail := "deleted " + strings.Join(r.deployed.Created, ", ")
	if err != nil {
		detail = err.Error()
		fmt.Fprintf(r.o.root.Streams.ErrOut, "warning: %v\n", err)
	}
	r.endPhase("cleanup", detail)
	return err
}

// finish totals, writes the reports and the output, and picks the exit code.
func (r *verifyRun) finish() error {
	o := r.o
	r.res.Summary, r.res.Classes = acceptance.Summarize(r.res.Checks, r.res.Classes)
	r.res.DurationMs = float64(time.Since(r.started).Milliseconds())
	sort.SliceStable(r.res.Checks, func(i, j int) bool { return r.res.Checks[i].Node < r.res.Checks[j].Node })
	var writeErrs []error
	if o.JUnit != "" {
		writeErrs = append(writeErrs, writeFile(o.JUnit, func(f *os.File) error { return render.JUnit(f, r.res) }))
	}
	for _, path := range o.Reports {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".html", ".htm":
			writeErrs = append(writeErrs, writeFile(path, func(f *os.File) error { return render.HTML(f, r.res) }))
		default:
			writeErrs = append(writeErrs, writeFile(path, func(f *os.File) error { return render.Markdown(f, r.res) }))
		}
	}
	if o.format.IsStructured() {
		if err := render.Structured(o.root.Streams.Out, o.format, r.res); err != nil {
			return err
		}
	} else {
		p, _ := o.root.Palette()
		if err := render.Verify(o.root.Streams.Out, r.res, p); err != nil {
			return err
		}
	}
	if err := errors.Join(writeErrs...); err != nil {
		return cannotRun("writing the reports: %w", err)
	}
	if r.res.Summary.Result == report.ResultFail {
		return &ExitError{Code: verifyExitFail}
	}
	return nil
}

// writeFile writes a report through a temporary file, so that a failed
// run never leaves half a report where the last good one was.
func writeFile(path string, write func(*os.File) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// samePort: the reconciliation names a port by its name, or by its number
// when it has none.
func samePort(name string, p corev1.ServicePort) bool {
	return name == p.Name || (p.Name == "" && (name == "" || name == strconv.Itoa(int(p.Port))))
}

// readyEndpoints returns the nodes and addresses of a Service's ready
// endpoints.
func readyEndpoints(ctx context.Context, cs kubernetes.Interface, svc corev1.Service) (nodes, addrs []string, err error) {
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name}).String()
	list, err := cs.DiscoveryV1().EndpointSlices(svc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, nil, fmt.Errorf("listing EndpointSlices of %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	seen := map[string]bool{}
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			if ep.NodeName != nil && !seen[*ep.NodeName] {
				seen[*ep.NodeName] = true
				nodes = append(nodes, *ep.NodeName)
			}
			for _, a := range ep.Addresses {
				for _, p := range s.Ports {
					if p.Port != nil {
						addrs = append(addrs, fmt.Sprintf("%s:%d", a, *p.Port))
					}
				}
			}
		}
	}
	sort.Strings(nodes)
	sort.Strings(addrs)
	return nodes, addrs, nil
}
