package report

import "fmt"

// Probe is `kubectl kpr probe -o json`.
type Probe struct {
	TypeMeta
	// Mode is "tcp" (connect) or "http" (GET, status code recorded).
	Mode    string        `json:"mode"`
	Results []ProbeResult `json:"results"`
	// Skipped lists Service ports that cannot be probed (UDP, SCTP, ExternalName).
	Skipped []string `json:"skipped,omitempty"`
	// Errors are per-node failures (the debug pod did not start, ...).
	Errors []NodeError `json:"errors,omitempty"`
}

// ProbeResult is one probe from one node.
type ProbeResult struct {
	From string `json:"from"`
	// Target is the address probed, host:port.
	Target string `json:"target"`
	// Kind is clusterip, nodeport-local, nodeport-loopback, nodeport-any,
	// nodeport-remote, loadbalancer or externalip.
	Kind string `json:"kind"`
	// Service is "<ns>/<name>:<port>" (the port's name, or its number).
	Service string `json:"service"`
	// Via names the node whose address a nodeport-remote probe used.
	Via string `json:"via,omitempty"`
	// Outcome is ok, refused, timeout, unreachable, reset or error.
	Outcome   string  `json:"outcome"`
	LatencyMs float64 `json:"latencyMs"`
	// HTTPStatus is the answer's status code with --http (0 otherwise).
	HTTPStatus int    `json:"httpStatus,omitempty"`
	Detail     string `json:"detail,omitempty"`
	// ServedBy is which datapath translated the probe (cilium-socket-lb,
	// cilium-bpf, kube-proxy, portmap, none, unknown) and why kpr says so;
	// Counters are kube-proxy's chains that counted it, when read.
	ServedBy       string         `json:"servedBy,omitempty"`
	ServedByReason string         `json:"servedByReason,omitempty"`
	Counters       []CounterDelta `json:"counters,omitempty"`
	// Requests and Backends: a ClientIP-affinity Service's repeated
	// requests (kind session-affinity) and the backends that answered.
	Requests int            `json:"requests,omitempty"`
	Backends map[string]int `json:"backends,omitempty"`
}

// NodeError is a node that could not be inspected or probed.
type NodeError struct {
	Node    string `json:"node"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message"`
}

// Affinity sums up a session-affinity probe: "2 backend(s) 10/10", and
// whether it shows affinity (every request answered, by one backend).
func (r ProbeResult) Affinity() (string, bool) {
	answered := 0
	for _, c := range r.Backends {
		answered += c
	}
	return fmt.Sprintf("%d backend(s) %d/%d", len(r.Backends), answered, r.Requests), len(r.Backends) == 1 && answered == r.Requests
}
