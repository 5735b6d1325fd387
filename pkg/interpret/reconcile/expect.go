package reconcile

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/cilium"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/textutil"
)

// Cilium's frontend types as `service list` prints them.
const (
	TypeClusterIP     = "ClusterIP"
	TypeNodePort      = "NodePort"
	TypeExternalIPs   = "ExternalIPs"
	TypeLoadBalancer  = "LoadBalancer"
	TypeHostPort      = "HostPort"
	TypeLocalRedirect = "LocalRedirect"
)

// Endpoint conditions as reconcile sees them.
const (
	endpointReady       = "ready"
	endpointTerminating = "terminating"
)

// Index holds the cluster side, built once and reused for every node: only
// the traffic-policy filtering and the node addresses differ per node. It is
// read-only after NewIndex: Reconcile may run for many nodes at once.
type Index struct {
	services map[string]*Service // by "namespace/name"
	keys     []string            // sorted service keys
	// endpoints by service port: "ns/name" + "\x00" + port name + "\x00" + protocol.
	endpoints map[string][]endpointAddr
	// clusterWide holds the node-independent backend sets by port key and
	// family (is-IPv6), built once and shared read-only by every node, so
	// that nodes can be reconciled concurrently.
	clusterWide map[string][2]backendMap
	// ips maps every ClusterIP, externalIP and LoadBalancer IP to its
	// Service, to tell an unexpected port of a live Service from a stale one.
	ips map[netip.Addr]string
	// nodePorts maps "port/PROTO" to the Service that allocated it.
	nodePorts map[string]string
	// healthChecks maps healthCheckNodePort to its Service.
	healthChecks map[uint16]string
}

type endpointAddr struct {
	addr netip.Addr
	port uint16
	cond string // endpointReady or endpointTerminating
	node string
}

// NewIndex indexes Services and EndpointSlices. Slices of Services not in
// svcs, FQDN slices and unparsable addresses are ignored.
func NewIndex(svcs []Service, slices []EndpointSlice) *Index {
	ix := &Index{
		services:     make(map[string]*Service, len(svcs)),
		endpoints:    map[string][]endpointAddr{},
		clusterWide:  map[string][2]backendMap{},
		ips:          map[netip.Addr]string{},
		nodePorts:    map[string]string{},
		healthChecks: map[uint16]string{},
	}
	for i := range svcs {
		s := &svcs[i]
		key := s.Namespace + "/" + s.Name
		if _, dup := ix.services[key]; dup {
			continue
		}
		ix.services[key] = s
		ix.keys = append(ix.keys, key)
		for _, ip := range append(append(append([]string{}, s.ClusterIPs...), s.ExternalIPs...), lbIPs(s)...) {
			if a, ok := parseAddr(ip); ok {
				ix.ips[a] = key
			}
		}
		for _, p := range s.Ports {
			if p.NodePort > 0 && p.NodePort <= 65535 {
				ix.nodePorts[portProto(uint16(p.NodePort), protocol(p.Protocol))] = key
			}
		}
		if s.HealthCheckNodePort > 0 && s.HealthCheckNodePort <= 65535 {
			ix.healthChecks[uint16(s.HealthCheckNodePort)] = key
		}
	}
	sort.Strings(ix.keys)
	for _, sl := range slices {
		key := sl.Namespace + "/" + sl.Service
		if _, ok := ix.services[key]; !ok || strings.EqualFold(sl.AddressType, "FQDN") {
			continue
		}
		for _, p := range sl.Ports {
			if p.Port <= 0 || p.Port > 65535 {
				continue
			}
			pk := portKey(key, p.Name, protocol(p.Protocol))
			for _, ep := range sl.Endpoints {
				cond := endpointCondition(ep)
				if cond == "" {
					continue
				}
				for _, a := range ep.Addresses {
					addr, ok := parseAddr(a)
					if !ok {
						continue
					}
					ix.endpoints[pk] = append(ix.endpoints[pk], endpointAddr{addr: addr, port: uint16(p.Port), cond: cond, node: ep.NodeName})
				}
			}
		}
	}
	for pk, eps := range ix.endpoints {
		ix.clusterWide[pk] = [2]backendMap{backendSet(eps, false, ""), backendSet(eps, true, "")}
	}
	return ix
}

// endpointCondition maps EndpointConditions to what Cilium does with the
// endpoint: ready ones are active backends; terminating ones may linger as
// "terminating" backends (graceful termination, 1.11+) or be gone already;
// the rest (not ready, not terminating: starting pods) are not backends.
func endpointCondition(ep Endpoint) string {
	ready := ep.Ready == nil || *ep.Ready
	terminating := ep.Terminating != nil && *ep.Terminating
	switch {
	case terminating:
		return endpointTerminating
	case ready:
		return endpointReady
	}
	return ""
}

// expected is one frontend the agent should have.
type expected struct {
	addr     netip.Addr
	port     uint16
	proto    string
	typ      string
	service  string
	portName string
	// optional frontends are fine either way (LoadBalancer IPs in Proxy
	// mode: Cilium 1.17+ skips them, older releases program them; NodePorts
	// on node addresses, which 1.18+ agents do not list: nodePortRows).
	optional bool
	// backends for the external scope (after externalTrafficPolicy) and for
	// the "/i" internal scope (after internalTrafficPolicy); address → cond.
	backends         backendMap
	internalBackends backendMap
}

// backendMap maps a backend address to its endpoint condition.
type backendMap map[netip.AddrPort]string

func (e *expected) frontend() string { return netip.AddrPortFrom(e.addr, e.port).String() }

// nodePortListing is which NodePort rows an agent's `service list` shows.
type nodePortListing int

const (
	// listingUnknown: the release is not known; see nodePortRows.
	listingUnknown nodePortListing = iota
	// listingPerAddress (1.10–1.17): the 0.0.0.0 / :: surrogate plus one
	// row per node address.
	listingPerAddress
	// listingSurrogateOnly (1.18+): the 0.0.0.0 / :: surrogate only.
	listingSurrogateOnly
)

// nodePortRows tells from the agent's release which NodePort rows its
// `service list` (text and -o json: both print what GET /service returns)
// shows. The node-address frontends are served by every release; the
// question is only whether the API lists them.
//
//   - Up to 1.17, GET /service lists the legacy service manager's services
//     (pkg/service: Service.GetDeepCopyServices, served by
//     daemon/cmd/loadbalancer.go up to 1.16 and by
//     pkg/service/service_api_handler.go in 1.17, read at v1.10.0, v1.14.19,
//     v1.16.19 and v1.17.14). pkg/k8s/service.go ParseService gives every
//     NodePort one frontend per NodePort address plus the 0.0.0.0 / ::
//     surrogate ("surrogate frontends per IP protocol - one with a zero IP
//     addr and one per each public iface IP addr"), each its own service
//     with its own ID, so the table lists all of them. The addresses: 1.14
//     one per --devices device (pkg/node/address.go); 1.15+ the NodeAddress
//     entries with NodePort=true (pkg/datapath/tables/node_address.go), by
//     default the primary IPv4/IPv6 of each native device.
//   - From 1.18 (pkg/service is gone at v1.18.0), GET /service is answered
//     by pkg/loadbalancer/cell/restapi.go, which lists the StateDB
//     frontends table (Frontend.ToModel, pkg/loadbalancer/frontend.go). The
//     reflector (pkg/loadbalancer/reflectors/conversions.go) puts a NodePort
//     in that table with the zero address only (zeroV4 / zeroV6); the
//     per-node-address frontends are made by the BPF reconciler
//     (pkg/loadbalancer/reconciler/bpf_reconciler.go, "For NodePort create
//     entries for each node address") in the BPF maps only, taking service
//     IDs, hence the gaps in the listed IDs (read at v1.18.8). Seen live on
//     1.18.8 and 1.20.2: `service list` has only 0.0.0.0:PORT/TCP while
//     `bpf lb list` has NODE-IP:PORT.
//   - Unknown release: either form is accepted. A NODE-IP:PORT NodePort row
//     only exists in a legacy listing, so when the agent lists one, the
//     agent is taken as 1.17 or older and every node address is expected;
//     otherwise only the surrogate is. An old agent that lost every
//     per-address row at once is then not reported, but a new one is never
//     reported for rows it cannot show.
//
// Per-address rows that a 1.18+ (or unknown) agent does list are matched
// and checked like any other, never called extra.
func nodePortRows(version string, agent []cilium.Service) nodePortListing {
	if maj, min, ok := textutil.MajorMinor(version); ok {
		if maj > 1 || (maj == 1 && min >= 18) {
			return listingSurrogateOnly
		}
		return listingPerAddress
	}
	for i := range agent {
		a := withAddress(agent[i])
		if !strings.EqualFold(a.Type, TypeNodePort) {
			continue
		}
		if addr, ok := parseAddr(a.IP); ok && !addr.IsUnspecified() {
			return listingPerAddress
		}
	}
	return listingUnknown
}

// expectFor lists the frontends node's agent should have, in a stable order.
// With listing other than listingPerAddress the NodePort frontends on the
// node's addresses are optional: checked when the agent lists them, never
// missing.
func (ix *Index) expectFor(node Node, opts Options, listing nodePortListing) []*expected {
	var out []*expected
	seen := map[string]bool{}
	nodeAddrs := map[bool][]netip.Addr{} // by is-IPv6
	for _, a := range node.Addresses {
		if addr, ok := parseAddr(a); ok && !addr.IsUnspecified() {
			nodeAddrs[addr.Is6()] = appendUnique(nodeAddrs[addr.Is6()], addr)
		}
	}
	for _, key := range ix.keys {
		s := ix.services[key]
		if !inScope(opts.Namespace, s.Namespace) || !handledByCilium(s) {
			continue
		}
		families := serviceFamilies(s)
		for _, p := range s.Ports {
			if p.Port <= 0 || p.Port > 65535 {
				continue
			}
			proto := protocol(p.Protocol)
			pk := portKey(key, p.Name, proto)
			eps := ix.endpoints[pk]
			all := func(addr netip.Addr) backendMap { return ix.clusterWideSet(pk, addr.Is6()) }
			local := func(addr netip.Addr) backendMap { return backendSet(eps, addr.Is6(), node.Name) }
			internal, external := all, all
			if strings.EqualFold(s.InternalTrafficPolicy, "Local") {
				internal = local
			}
			if strings.EqualFold(s.ExternalTrafficPolicy, "Local") {
				external = local
			}
			add := func(addr netip.Addr, port uint16, typ string, backends func(netip.Addr) backendMap, optional bool) {
				k := portProto(port, proto) + "@" + addr.String()
				if seen[k] {
					return
				}
				seen[k] = true
				out = append(out, &expected{
					addr: addr, port: port, proto: proto, typ: typ, service: key, portName: p.Name,
					optional: optional, backends: backends(addr), internalBackends: internal(addr),
				})
			}
			for _, ip := range s.ClusterIPs {
				if addr, ok := parseAddr(ip); ok {
					add(addr, uint16(p.Port), TypeClusterIP, internal, false)
				}
			}
			isNodePort := s.Type == "NodePort" || s.Type == "LoadBalancer"
			if isNodePort && !opts.SkipNodePort && p.NodePort > 0 && p.NodePort <= 65535 {
				for _, v6 := range families {
					surrogate := netip.IPv4Unspecified()
					if v6 {
						surrogate = netip.IPv6Unspecified()
					}
					for _, addr := range nodeAddrs[v6] {
						add(addr, uint16(p.NodePort), TypeNodePort, external, listing != listingPerAddress)
					}
					add(surrogate, uint16(p.NodePort), TypeNodePort, external, false)
				}
			}
			if s.Type == "LoadBalancer" && !opts.SkipLoadBalancer {
				for _, ing := range s.LoadBalancerIngress {
					if addr, ok := parseAddr(ing.IP); ok {
						add(addr, uint16(p.Port), TypeLoadBalancer, external, strings.EqualFold(ing.IPMode, "Proxy"))
					}
				}
			}
			if !opts.SkipExternalIPs {
				for _, ip := range s.ExternalIPs {
					if addr, ok := parseAddr(ip); ok {
						add(addr, uint16(p.Port), TypeExternalIPs, external, false)
					}
				}
			}
		}
	}
	return out
}

// handledByCilium: ExternalName and headless Services get no frontends, and
// Services labelled for another proxy are left to it.
func handledByCilium(s *Service) bool {
	if s.Type == "ExternalName" || s.ProxyName != "" {
		return false
	}
	for _, ip := range s.ClusterIPs {
		if strings.EqualFold(ip, "None") {
			return false
		}
	}
	return true
}

// serviceFamilies returns the Service's IP families as is-IPv6 flags.
func serviceFamilies(s *Service) []bool {
	var out []bool
	has := map[bool]bool{}
	addFam := func(v6 bool) {
		if !has[v6] {
			has[v6] = true
			out = append(out, v6)
		}
	}
	for _, f := range s.IPFamilies {
		switch strings.ToLower(f) {
		case "ipv4":
			addFam(false)
		case "ipv6":
			addFam(true)
		}
	}
	if len(out) == 0 {
		for _, ip := range s.ClusterIPs {
			if a, ok := parseAddr(ip); ok {
				addFam(a.Is6())
			}
		}
	}
	return out
}

func (ix *Index) clusterWideSet(pk string, v6 bool) backendMap {
	sets := ix.clusterWide[pk]
	if v6 {
		return sets[1]
	}
	return sets[0]
}

func backendSet(eps []endpointAddr, v6 bool, onlyNode string) backendMap {
	set := backendMap{}
	for _, ep := range eps {
		if ep.addr.Is6() != v6 || (onlyNode != "" && ep.node != onlyNode) {
			continue
		}
		k := netip.AddrPortFrom(ep.addr, ep.port)
		// A ready endpoint wins over a terminating duplicate.
		if set[k] != endpointReady {
			set[k] = ep.cond
		}
	}
	return set
}

func lbIPs(s *Service) []string {
	out := make([]string, 0, len(s.LoadBalancerIngress))
	for _, ing := range s.LoadBalancerIngress {
		out = append(out, ing.IP)
	}
	return out
}

func inScope(scope, namespace string) bool { return scope == "" || scope == namespace }

func portKey(service, portName, proto string) string {
	return service + "\x00" + portName + "\x00" + proto
}

func portProto(port uint16, proto string) string {
	return strconv.Itoa(int(port)) + "/" + proto
}

// protocol normalises a protocol name; Kubernetes defaults to TCP.
func protocol(p string) string {
	if p == "" {
		return "TCP"
	}
	return strings.ToUpper(p)
}

// parseAddr reads an IP, unmapping IPv4-in-IPv6 so both spellings compare equal.
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func appendUnique(list []netip.Addr, a netip.Addr) []netip.Addr {
	for _, x := range list {
		if x == a {
			return list
		}
	}
	return append(list, a)
}
