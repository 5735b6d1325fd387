package report

// Services is `kubectl kpr services -o json`.
type Services struct {
	TypeMeta
	// Namespace is the namespace checked; "" means all namespaces.
	Namespace string `json:"namespace"`
	// CiliumNamespace is where the agents were found.
	CiliumNamespace string          `json:"ciliumNamespace"`
	Nodes           []NodeServices  `json:"nodes"`
	Summary         ServicesSummary `json:"summary"`
}

// ServicesSummary totals the per-node results.
type ServicesSummary struct {
	Nodes int `json:"nodes"`
	// NodesWithProblems counts nodes with at least one problem; NodesFailed
	// those whose agent could not be read.
	NodesWithProblems int `json:"nodesWithProblems"`
	NodesFailed       int `json:"nodesFailed"`
	Problems          int `json:"problems"`
}

// NodeServices is the reconciliation of one node's agent.
type NodeServices struct {
	Node        string    `json:"node"`
	CiliumAgent *AgentRef `json:"ciliumAgent"`
	Counts      Counts    `json:"counts"`
	// Frontends lists every frontend checked: expected ones (found or not)
	// and the agent's frontends that match no expectation.
	Frontends []FrontendCheck `json:"frontends"`
	// Problems is Frontends' problems flattened, one per finding.
	Problems []ServiceProblem `json:"problems"`
	Errors   []string         `json:"errors"`
}

// Counts summarise one node.
type Counts struct {
	// Expected frontends per the cluster = OK + Missing + Mismatch (the
	// expected ones found with a wrong type or backends; Mismatch also
	// counts NodePorts found on node addresses kpr was not told about).
	// Found counts the agent's frontends in scope, Stale those no Service
	// explains, Unmanaged the Cilium-internal ones.
	Expected  int `json:"expected"`
	Found     int `json:"found"`
	OK        int `json:"ok"`
	Missing   int `json:"missing"`
	Stale     int `json:"stale"`
	Mismatch  int `json:"mismatch"`
	Unmanaged int `json:"unmanaged"`
}

// Frontend statuses.
const (
	FrontendOK = "ok"
	// FrontendMissing: the cluster expects it, the agent lacks it.
	FrontendMissing = "missing"
	// FrontendStale: the agent has it, no Service in the cluster explains it.
	FrontendStale = "stale"
	// FrontendMismatch: found, but with the wrong type or backends.
	FrontendMismatch = "mismatch"
	// FrontendUnmanaged: a Cilium-internal frontend with no Service behind
	// it (HostPort, LocalRedirect, LB health checks): not a problem.
	FrontendUnmanaged = "unmanaged"
)

// FrontendCheck is one frontend and how it compares.
type FrontendCheck struct {
	// Frontend is "IP:port" ("[addr]:port" for IPv6).
	Frontend string `json:"frontend"`
	Protocol string `json:"protocol"`
	// Type is the Cilium type expected ("ClusterIP", "NodePort",
	// "ExternalIPs", "LoadBalancer"), or the agent's type when nothing was
	// expected.
	Type string `json:"type"`
	// ActualType is the agent's type when found ("" when missing).
	ActualType string `json:"actualType,omitempty"`
	// Internal marks the agent's "/i" (internal scope) variant.
	Internal bool `json:"internal,omitempty"`
	// Service is "namespace/name", "" when unknown; Port the port name.
	Service  string `json:"service"`
	Port     string `json:"port,omitempty"`
	CiliumID int64  `json:"ciliumID,omitempty"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
	// BackendCount is how many backends the agent has for it.
	BackendCount int `json:"backendCount"`
	// Backends checks each backend, expected or found. Left out for ok
	// frontends, where every backend is fine: that keeps a large cluster's
	// report proportional to its problems.
	Backends []BackendCheck `json:"backends,omitempty"`
}

// Backend statuses.
const (
	BackendOK        = "ok"
	BackendMissing   = "missing"
	BackendExtra     = "extra"
	BackendNotActive = "not-active"
)

// BackendCheck is one backend of a frontend.
type BackendCheck struct {
	// Address is "IP:port" ("[addr]:port" for IPv6).
	Address string `json:"address"`
	// State is the agent's state ("active", "terminating", "quarantined",
	// ...), "" when the agent lacks the backend or predates 1.12.
	State string `json:"state"`
	// Endpoint is what the EndpointSlices say: "ready", "terminating"
	// (serving while terminating) or "" (not an endpoint).
	Endpoint string `json:"endpoint"`
	Status   string `json:"status"`
}

// Problem codes; stable, for scripts.
const (
	ProblemMissingFrontend    = "missing-frontend"
	ProblemStaleFrontend      = "stale-frontend"
	ProblemUnexpectedFrontend = "unexpected-frontend"
	ProblemWrongType          = "wrong-type"
	ProblemMissingBackend     = "missing-backend"
	ProblemExtraBackend       = "extra-backend"
	ProblemBackendNotActive   = "backend-not-active"
)

// ServiceProblem is one finding on one node.
type ServiceProblem struct {
	Code     string `json:"code"`
	Service  string `json:"service"`
	Frontend string `json:"frontend"`
	Protocol string `json:"protocol"`
	Type     string `json:"type"`
	Backend  string `json:"backend,omitempty"`
	State    string `json:"state,omitempty"`
	// Detail is the short form for tables; Message the full sentence.
	Detail  string `json:"detail"`
	Message string `json:"message"`
}
