// Package reconcile compares what a Cilium agent has in its service table
// (`cilium-dbg service list`) with what the cluster's Services and
// EndpointSlices say it should have on that node. It is pure: plain structs
// in (filled by pkg/collect from the API), plain report structs out.
//
// The expectations follow Cilium's own translation of a Service into
// load-balancer frontends (pkg/k8s/service.go ParseService in 1.10–1.17, the
// pkg/loadbalancer reflector from 1.18): one ClusterIP frontend per cluster IP
// and port; for NodePort and LoadBalancer Services the 0.0.0.0 (or ::)
// surrogate per IP family of the Service and, up to 1.17 only, one NodePort
// frontend per node address (see nodePortRows for why 1.18+ lists only the
// surrogate); one frontend per LoadBalancer ingress IP and per externalIP.
package reconcile

// Service is what reconcile needs from a core/v1 Service.
type Service struct {
	Namespace string
	Name      string
	// Type is spec.type: ClusterIP, NodePort, LoadBalancer, ExternalName.
	Type string
	// ClusterIPs is spec.clusterIPs (spec.clusterIP when that is empty);
	// "None" for headless Services.
	ClusterIPs []string
	// IPFamilies is spec.ipFamilies ("IPv4", "IPv6"); derived from
	// ClusterIPs when empty.
	IPFamilies  []string
	ExternalIPs []string
	// LoadBalancerIngress is status.loadBalancer.ingress entries with an IP.
	LoadBalancerIngress []LBIngress
	// ExternalTrafficPolicy and InternalTrafficPolicy: "Cluster" (also when
	// empty) or "Local".
	ExternalTrafficPolicy string
	InternalTrafficPolicy string
	HealthCheckNodePort   int32
	Ports                 []ServicePort
	// ProxyName is the service.kubernetes.io/service-proxy-name label. Cilium,
	// like kube-proxy, leaves such Services to the named proxy (unless it is
	// configured with the same k8s-service-proxy-name).
	ProxyName string
}

// LBIngress is one status.loadBalancer.ingress entry.
type LBIngress struct {
	IP string
	// IPMode is "VIP" (also when empty) or "Proxy". Cilium 1.17+ skips
	// Proxy-mode IPs (pkg/k8s/service.go in 1.17, the pkg/loadbalancer
	// reflector from 1.18: "KEP-1860, skip non-VIP"), older releases
	// program them: either is accepted.
	IPMode string
}

// ServicePort is one spec.ports entry.
type ServicePort struct {
	Name     string
	Protocol string // TCP, UDP, SCTP ("" means TCP)
	Port     int32
	NodePort int32
}

// EndpointSlice is what reconcile needs from a discovery/v1 EndpointSlice.
type EndpointSlice struct {
	Namespace string
	// Service is the kubernetes.io/service-name label.
	Service     string
	AddressType string // IPv4, IPv6, FQDN
	Ports       []EndpointPort
	Endpoints   []Endpoint
}

// EndpointPort is one ports entry of a slice.
type EndpointPort struct {
	Name     string
	Protocol string
	Port     int32
}

// Endpoint is one endpoint of a slice. Nil conditions keep the API's
// meaning: nil ready/serving is "ready", nil terminating is "not terminating".
type Endpoint struct {
	Addresses   []string
	Ready       *bool
	Serving     *bool
	Terminating *bool
	NodeName    string
}

// Node is the node whose agent is being checked.
type Node struct {
	Name string
	// Addresses the agent should expose NodePorts on: the node's InternalIPs
	// and, when known, the addresses of the agent's KPR devices. Agents up
	// to 1.17 list one NodePort row per address; 1.18+ agents serve them
	// too but list only the 0.0.0.0 / :: row (Options.AgentVersion).
	Addresses []string
}

// Options scope and tune a reconciliation.
type Options struct {
	// Namespace limits the check to one namespace ("" means all). Agent
	// frontends that cannot be tied to a Service in scope are left out
	// rather than reported as stale.
	Namespace string
	// SkipNodePort, SkipExternalIPs and SkipLoadBalancer say the agent does
	// not implement those (e.g. KPR partial/disabled): no frontends of that
	// kind are expected.
	SkipNodePort     bool
	SkipExternalIPs  bool
	SkipLoadBalancer bool
	// IgnoreProtocol matches frontends on IP and port only. Before 1.17
	// Cilium's service key had no protocol: TCP and UDP on one port were a
	// single frontend whose JSON shows whichever protocol was written last.
	IgnoreProtocol bool
	// AgentVersion is the Cilium release of the agent whose table is
	// checked ("1.18.8", "v1.16.19", "1.18.0-rc.1"), "" when unknown. It
	// decides which NodePort rows `service list` shows (nodePortRows):
	// up to 1.17 one per node address plus the surrogate, from 1.18 the
	// surrogate only; unknown accepts either form.
	AgentVersion string
}
