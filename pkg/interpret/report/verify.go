package report

// Verify is `kubectl kpr verify -o json`: the whole KPR acceptance test
// (status, services reconciliation, rules and probes from chosen nodes of
// every class) and its verdict. Render's terminal, JUnit, Markdown and HTML
// writers are pure over this struct.
type Verify struct {
	TypeMeta
	Cluster VerifyCluster `json:"cluster"`
	Options VerifyOptions `json:"options"`
	// StartedAt is RFC 3339 (UTC); DurationMs the whole run's wall time.
	StartedAt  string  `json:"startedAt"`
	DurationMs float64 `json:"durationMs"`
	// Phases are the steps in the order they ran, with their timings.
	Phases []VerifyPhase `json:"phases"`
	// Classes group every node by servicesBy, in a fixed order (cilium,
	// kube-proxy-*, both, partial, none, unknown); only classes with nodes.
	Classes []VerifyClass `json:"classes"`
	Nodes   []VerifyNode  `json:"nodes"`
	// Targets are the Services probed: --service ones and deployed backends.
	Targets []VerifyTarget `json:"targets"`
	Checks  []VerifyCheck  `json:"checks"`
	Summary VerifySummary  `json:"summary"`
	// Created lists what verify created in the cluster ("namespace/x",
	// "pod/ns/x", "service/ns/x"); CleanedUp says it was all deleted again.
	Created   []string `json:"created"`
	CleanedUp bool     `json:"cleanedUp"`
	// DryRun: nothing was created; Created is what would have been.
	DryRun bool `json:"dryRun,omitempty"`
	// Errors are nodes or phases that could not be checked; the other
	// checks still ran.
	Errors []NodeError `json:"errors,omitempty"`
}

// VerifyCluster describes the cluster under test for the report's header.
type VerifyCluster struct {
	// Context is the kubeconfig context, Server the API server URL.
	Context       string `json:"context,omitempty"`
	Server        string `json:"server,omitempty"`
	ServerVersion string `json:"serverVersion,omitempty"`
	// CiliumVersion, CiliumNamespace and CiliumConfig come from status
	// (cilium-config's keys that decide Service handling).
	CiliumVersion   string            `json:"ciliumVersion,omitempty"`
	CiliumNamespace string            `json:"ciliumNamespace,omitempty"`
	CiliumConfig    map[string]string `json:"ciliumConfig,omitempty"`
	// KubeProxyMode is kube-proxy's configured mode ("" when not installed).
	KubeProxyMode    string `json:"kubeProxyMode,omitempty"`
	KubeProxyVersion string `json:"kubeProxyVersion,omitempty"`
}

// VerifyOptions echo the choices that shaped the run, so a report says how
// to reproduce it.
type VerifyOptions struct {
	// Sample is nodes per class (0 with AllNodes or Nodes).
	Sample   int      `json:"sample"`
	AllNodes bool     `json:"allNodes"`
	Nodes    []string `json:"nodes,omitempty"`
	// Seed drove the sample's choice; --seed SEED picks the same nodes.
	Seed           int64    `json:"seed"`
	Strict         bool     `json:"strict"`
	DeployBackends bool     `json:"deployBackends"`
	Services       []string `json:"services,omitempty"`
	// ProbeMode is "tcp" (connect) or "http" (GET).
	ProbeMode      string  `json:"probeMode"`
	ProbeTimeoutMs float64 `json:"probeTimeoutMs"`
	// Namespace is the namespace verify created (--deploy-backends).
	Namespace string `json:"namespace,omitempty"`
	// CommandLine is the kpr command line that produced this result.
	CommandLine string `json:"commandLine,omitempty"`
}

// VerifyPhase is one step of the run.
type VerifyPhase struct {
	Name       string  `json:"name"`
	DurationMs float64 `json:"durationMs"`
	// Detail is a one-line summary ("5 nodes, 3 classes").
	Detail string `json:"detail,omitempty"`
}

// VerifyClass is one servicesBy value and its nodes.
type VerifyClass struct {
	Name string `json:"name"`
	// Nodes are all nodes of the class; Chosen those checked from.
	Nodes  []string `json:"nodes"`
	Chosen []string `json:"chosen"`
	// Pass, Fail, Warn and Skip count the class's checks.
	Pass int `json:"pass"`
	Fail int `json:"fail"`
	Warn int `json:"warn"`
	Skip int `json:"skip"`
}

// VerifyNode is one node as verify saw it.
type VerifyNode struct {
	Name       string `json:"name"`
	Class      string `json:"class"`
	InternalIP string `json:"internalIP,omitempty"`
	Ready      bool   `json:"ready"`
	// Chosen: the node's rules were read and probes ran from it.
	Chosen bool `json:"chosen"`
	// CiliumAgent is "namespace/pod"; KPRMode the agent's mode as printed.
	CiliumAgent  string `json:"ciliumAgent,omitempty"`
	AgentVersion string `json:"agentVersion,omitempty"`
	KPRMode      string `json:"kprMode,omitempty"`
	KubeProxyPod string `json:"kubeProxyPod,omitempty"`
	// Warnings are status's warning codes for the node.
	Warnings []string `json:"warnings"`
}

// VerifyTarget is one Service port probed.
type VerifyTarget struct {
	// Service is "namespace/name", Port the port's name (or number).
	Service   string `json:"service"`
	Port      string `json:"port"`
	ClusterIP string `json:"clusterIP,omitempty"`
	// PortNumber is the Service port; NodePort 0 when it has none.
	PortNumber int32 `json:"portNumber"`
	NodePort   int32 `json:"nodePort,omitempty"`
	// ExternalTrafficPolicy is "Cluster" or "Local".
	ExternalTrafficPolicy string `json:"externalTrafficPolicy,omitempty"`
	// Deployed: verify created this Service and its backend.
	Deployed bool `json:"deployed"`
	// BackendNodes are the nodes of its ready endpoints, BackendClasses
	// their classes (same order).
	BackendNodes   []string `json:"backendNodes"`
	BackendClasses []string `json:"backendClasses"`
	// Endpoints are the ready endpoints' "IP:port".
	Endpoints []string `json:"endpoints"`
}

// Check results.
const (
	ResultPass = "pass"
	ResultFail = "fail"
	ResultWarn = "warn"
	ResultSkip = "skip"
)

// Check names; stable, for scripts and JUnit test case names.
const (
	CheckAgentKPR          = "agent-kpr"
	CheckKPRConfig         = "kpr-config"
	CheckNoKubeProxyRules  = "no-kube-proxy-rules"
	CheckKubeProxyRules    = "kube-proxy-rules"
	CheckSingleDatapath    = "single-datapath"
	CheckServiceDatapath   = "service-datapath"
	CheckCiliumFrontends   = "cilium-frontends"
	CheckClusterIP         = "clusterip"
	CheckNodePortLocal     = "nodeport-local"
	CheckNodePortLoopback  = "nodeport-loopback"
	CheckNodePortAny       = "nodeport-any"
	CheckNodePortRemote    = "nodeport-remote"
	CheckNodeReachable     = "node-checked"
	CheckStatusWarnings    = "status-warnings"
	CheckAgentServiceTable = "agent-service-table"
	// Service behaviours (issue 21): each probes the deployed (or named)
	// Service that has the behaviour, in the cases its Case names.
	CheckHostPort             = "hostport"
	CheckNodePortEveryAddress = "nodeport-every-address"
	CheckETPLocal             = "etp-local"
	CheckSessionAffinity      = "session-affinity"
	CheckExternalIP           = "externalip"
)

// Cases of the behaviour checks: where the probe goes from and to.
const (
	CaseSameNode       = "same-node"       // from the node that holds the backend (or the address)
	CaseOtherNode      = "other-node"      // from another node, at the node that holds it
	CaseEmptyNode      = "empty-node"      // from another node, at a node without a local backend
	CaseEmptyNodeOwn   = "empty-node-own"  // from a node without a local backend, at its own address
	CaseOwnAddress     = "own-address"     // from the node, at one of its own addresses
	CaseAnotherAddress = "another-address" // from another node, at one of the node's addresses
	CaseOneClient      = "one-client"      // N requests from one client
)

// Expectations of a check.
const (
	// ExpectAnswer: the target must answer (or the rules must be there).
	ExpectAnswer = "answer"
	// ExpectNoAnswer: the target must not answer (a node without Service
	// datapath; a Local-policy NodePort without a local endpoint).
	ExpectNoAnswer = "no-answer"
	// ExpectAny: either is fine; the outcome is recorded, not judged.
	ExpectAny     = "any"
	ExpectPresent = "present"
	ExpectAbsent  = "absent"
)

// VerifyCheck is one named test on one node.
type VerifyCheck struct {
	// ID is unique in the run: "node/check[/service[/via]]".
	ID    string `json:"id"`
	Name  string `json:"name"`
	Node  string `json:"node"`
	Class string `json:"class"`
	// Service is the target "namespace/name:port" for probe and frontend checks.
	Service string `json:"service,omitempty"`
	// Target is the address probed ("10.96.0.10:80").
	Target string `json:"target,omitempty"`
	// Via / ViaClass: the node (and its class) a nodeport-remote probe went to.
	Via      string `json:"via,omitempty"`
	ViaClass string `json:"viaClass,omitempty"`
	// Case is where a behaviour check's probe went from and to (Case*).
	Case string `json:"case,omitempty"`
	// Expect is what the node's class makes of the check.
	Expect string `json:"expect"`
	Result string `json:"result"`
	// Reason is one line: why it passed, failed, warned or was skipped.
	Reason   string         `json:"reason"`
	Evidence VerifyEvidence `json:"evidence"`
	// Reproduce is the command that performs the same check by hand.
	Reproduce string `json:"reproduce,omitempty"`
}

// VerifyEvidence is what a check's result rests on; only the part that
// applies is set.
type VerifyEvidence struct {
	Probe     *ProbeEvidence    `json:"probe,omitempty"`
	Rules     *RulesEvidence    `json:"rules,omitempty"`
	Frontends *FrontendEvidence `json:"frontends,omitempty"`
	// Text is free-form evidence (agent KPR mode, status warnings, errors).
	Text string `json:"text,omitempty"`
}

// ProbeEvidence is a probe's outcome (the last attempt's).
type ProbeEvidence struct {
	Outcome    string  `json:"outcome"`
	LatencyMs  float64 `json:"latencyMs"`
	HTTPStatus int     `json:"httpStatus,omitempty"`
	// Attempts counts tries: probes that disagree with their expectation
	// are retried while the datapaths settle.
	Attempts int    `json:"attempts"`
	Detail   string `json:"detail,omitempty"`
	// ServedBy is which datapath translated the probe (cilium-socket-lb,
	// cilium-bpf, kube-proxy, portmap, none, unknown), and why kpr says so.
	ServedBy       string `json:"servedBy,omitempty"`
	ServedByReason string `json:"servedByReason,omitempty"`
	// Counters are kube-proxy's per-Service chains that counted the probe
	// (iptables-save -c before and after it).
	Counters []CounterDelta `json:"counters,omitempty"`
	// Requests and Backends: a session-affinity probe's N requests and how
	// many each backend answered; Spread is the same without affinity.
	Requests int            `json:"requests,omitempty"`
	Backends map[string]int `json:"backends,omitempty"`
	Spread   map[string]int `json:"spread,omitempty"`
}

// CounterDelta is one kube-proxy chain that counted a probe.
type CounterDelta struct {
	Table   string `json:"table"`
	Chain   string `json:"chain"`
	Service string `json:"service,omitempty"`
	Packets uint64 `json:"packets"`
}

// RulesEvidence are the node's rule counts as inspect read them.
type RulesEvidence struct {
	KubeServiceChains int      `json:"kubeServiceChains"`
	KubeSEPChains     int      `json:"kubeSepChains"`
	KubeNodePortRules int      `json:"kubeNodePortRules"`
	KubeProxyNFTables bool     `json:"kubeProxyNFTables"`
	IPVSServices      int      `json:"ipvsServices"`
	CiliumChains      int      `json:"ciliumChains"`
	ProxyMode         string   `json:"proxyMode"`
	RulesSource       string   `json:"rulesSource,omitempty"`
	Findings          []string `json:"findings"`
}

// FrontendEvidence is a target Service's frontends in one agent's table.
type FrontendEvidence struct {
	Agent    string   `json:"agent"`
	Expected int      `json:"expected"`
	Found    int      `json:"found"`
	Problems []string `json:"problems"`
}

// VerifySummary totals the checks; Result is "pass" (warnings allowed) or
// "fail".
type VerifySummary struct {
	Checks int    `json:"checks"`
	Pass   int    `json:"pass"`
	Fail   int    `json:"fail"`
	Warn   int    `json:"warn"`
	Skip   int    `json:"skip"`
	Result string `json:"result"`
}
