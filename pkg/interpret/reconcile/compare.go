package reconcile

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/cilium"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// Result is one node's reconciliation.
type Result struct {
	Counts    report.Counts
	Frontends []report.FrontendCheck
	Problems  []report.ServiceProblem

	items []item
}

// item is a frontend check with the problem code an unmatched frontend gets.
type item struct {
	fc        report.FrontendCheck
	staleCode string
}

// Reconcile compares the agent's service table on node with what the
// indexed cluster state expects there.
//
// Frontends match on IP, port and protocol. An agent entry without a
// protocol (text output before 1.17) or with "ANY" matches on IP and port,
// as those releases did not tell protocols apart.
//
// NodePort rows on the node's addresses are expected only from agents that
// list them (Cilium 1.17 and older, or an agent of unknown release that
// lists one): see nodePortRows.
func (ix *Index) Reconcile(node Node, agent []cilium.Service, opts Options) Result {
	exp := ix.expectFor(node, opts, nodePortRows(opts.AgentVersion, agent))
	byKey := map[string][]*expected{}      // addr|port|proto
	byAddrPort := map[string][]*expected{} // addr|port
	for _, e := range exp {
		byKey[addrPortKey(e.addr, e.port)+"|"+e.proto] = append(byKey[addrPortKey(e.addr, e.port)+"|"+e.proto], e)
		byAddrPort[addrPortKey(e.addr, e.port)] = append(byAddrPort[addrPortKey(e.addr, e.port)], e)
	}
	// covered: found in the agent; mismatched: found with a problem.
	covered := map[*expected]bool{}
	mismatched := map[*expected]bool{}
	extraMismatch := 0
	var res Result
	for i := range agent {
		a := withAddress(agent[i])
		addr, addrOK := parseAddr(a.IP)
		proto := strings.ToUpper(a.Protocol)
		var matches []*expected
		if addrOK {
			if proto == "" || proto == "ANY" || opts.IgnoreProtocol {
				matches = byAddrPort[addrPortKey(addr, a.Port)]
			} else {
				matches = byKey[addrPortKey(addr, a.Port)+"|"+proto]
			}
		}
		if isUnmanagedType(a.Type) {
			for _, e := range matches {
				covered[e] = true
			}
			res.add(unmanaged(a, serviceOf(a), "Cilium-internal "+a.Type+" frontend"))
			continue
		}
		if len(matches) > 0 {
			fc := compareFrontend(matches, a)
			for _, e := range matches {
				covered[e] = true
				if fc.Status != report.FrontendOK {
					mismatched[e] = true
				}
			}
			res.add(fc)
			continue
		}
		if fc, code, ok := ix.unmatched(a, addr, addrOK, node, opts); ok {
			if fc.Status == report.FrontendMismatch {
				extraMismatch++
			}
			res.addStale(fc, code)
		}
	}
	for _, e := range exp {
		if covered[e] || e.optional {
			continue
		}
		res.add(report.FrontendCheck{
			Frontend: e.frontend(), Protocol: e.proto, Type: e.typ,
			Service: e.service, Port: e.portName, Status: report.FrontendMissing,
			Backends: expectedOnly(e.backends),
		})
	}
	for _, e := range exp {
		if e.optional && !covered[e] {
			continue
		}
		res.Counts.Expected++
		switch {
		case mismatched[e]:
			res.Counts.Mismatch++
		case covered[e]:
			res.Counts.OK++
		}
	}
	res.Counts.Mismatch += extraMismatch
	res.finish()
	return res
}

// compareFrontend checks a found frontend's type and backends. With a
// protocol-less agent entry several expectations (53/TCP and 53/UDP) can
// share it: their backends are pooled.
func compareFrontend(matches []*expected, a *cilium.Service) report.FrontendCheck {
	e := matches[0]
	scope := func(m *expected) backendMap {
		if a.Internal {
			return m.internalBackends
		}
		return m.backends
	}
	// The sets are shared between nodes: pool into a copy, never in place.
	want := scope(e)
	if len(matches) > 1 {
		want = backendMap{}
		for _, m := range matches {
			for k, v := range scope(m) {
				if want[k] != endpointReady {
					want[k] = v
				}
			}
		}
	}
	fc := report.FrontendCheck{
		Frontend: e.frontend(), Protocol: e.proto, Type: e.typ, ActualType: a.Type,
		Internal: a.Internal, Service: e.service, Port: e.portName, CiliumID: a.ID,
		Status: report.FrontendOK,
	}
	if a.Type != "" && !strings.EqualFold(a.Type, e.typ) {
		fc.Status = report.FrontendMismatch
		fc.Reason = "type " + a.Type + ", expected " + e.typ
	}
	fc.Backends = compareBackends(want, a.Backends, a.Remote)
	for _, b := range fc.Backends {
		if b.Status != report.BackendMissing {
			fc.BackendCount++
		}
		if b.Status != report.BackendOK {
			fc.Status = report.FrontendMismatch
		}
	}
	if fc.Status == report.FrontendOK {
		fc.Backends = nil
	}
	return fc
}

func compareBackends(want backendMap, have []cilium.Backend, remote bool) []report.BackendCheck {
	out := make([]report.BackendCheck, 0, len(have))
	seen := make(map[netip.AddrPort]bool, len(have))
	seenRaw := map[string]bool{}
	for _, b := range have {
		ap, err := netip.ParseAddrPort(strings.TrimSpace(b.Address))
		var addr string
		if err == nil {
			ap = netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
			if seen[ap] {
				continue
			}
			seen[ap] = true
			addr = ap.String()
		} else {
			// Unparsable: reported as is, never an endpoint.
			addr = strings.TrimSpace(b.Address)
			if seenRaw[addr] {
				continue
			}
			seenRaw[addr] = true
		}
		state := b.State
		cond, isEndpoint := "", false
		if err == nil {
			cond, isEndpoint = want[ap]
		}
		bc := report.BackendCheck{Address: addr, State: state, Endpoint: cond, Status: report.BackendOK}
		switch {
		case !isEndpoint:
			// ClusterMesh frontends carry other clusters' endpoints.
			if !remote {
				bc.Status = report.BackendExtra
			}
		case cond == endpointReady && !isActive(state):
			bc.Status = report.BackendNotActive
		}
		out = append(out, bc)
	}
	for ap, cond := range want {
		if !seen[ap] && cond == endpointReady {
			out = append(out, report.BackendCheck{Address: ap.String(), Endpoint: cond, Status: report.BackendMissing})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// isActive: "" is what releases before 1.12 print (no state column).
func isActive(state string) bool { return state == "" || strings.EqualFold(state, "active") }

// unmatched classifies an agent frontend no expectation accounts for. It
// returns false for frontends outside the namespace in scope (or that
// cannot be tied to a namespace while one is in scope).
func (ix *Index) unmatched(a *cilium.Service, addr netip.Addr, addrOK bool, node Node, opts Options) (report.FrontendCheck, string, bool) {
	named := serviceOf(a)
	if named != "" {
		if !inScope(opts.Namespace, a.Namespace) {
			return report.FrontendCheck{}, "", false
		}
		if base, ok := strings.CutSuffix(named, "-healthCheck"); ok && ix.services[base] != nil {
			return unmanaged(a, named, "load-balancer health check of "+base), "", true
		}
	}
	if addrOK {
		// Health-check frontends on LB IPs (enable-health-check-loadbalancer-ip).
		if svc, ok := ix.healthChecks[a.Port]; ok && ix.ips[addr] == svc && (named == "" || named == svc+"-healthCheck") {
			return unmanaged(a, svc, "load-balancer health check of "+svc), "", true
		}
	}
	owner := named
	if owner == "" && addrOK {
		owner = ix.ips[addr]
		// NodePorts on a node address kpr was not told about (e.g. a device
		// address when the agent's device list is unknown) still belong to
		// the Service that allocated the port.
		if owner == "" && strings.EqualFold(a.Type, TypeNodePort) {
			for _, proto := range protocolsOf(a.Protocol) {
				if svc, ok := ix.nodePorts[portProto(a.Port, proto)]; ok {
					fc := ix.extraNodeAddress(a, addr, svc, proto, node)
					return fc, report.ProblemUnexpectedFrontend, true
				}
			}
		}
	}
	svc := ix.services[owner]
	if svc != nil && !inScope(opts.Namespace, svc.Namespace) {
		return report.FrontendCheck{}, "", false
	}
	if owner == "" && opts.Namespace != "" {
		// Without a name the frontend may belong to another namespace.
		return report.FrontendCheck{}, "", false
	}
	fc := report.FrontendCheck{
		Frontend: frontendString(a, addr, addrOK), Protocol: strings.ToUpper(a.Protocol), Type: a.Type, ActualType: a.Type,
		Internal: a.Internal, Service: owner, CiliumID: a.ID, Status: report.FrontendStale,
	}
	for _, b := range a.Backends {
		fc.Backends = append(fc.Backends, report.BackendCheck{Address: normalizeAddrPort(b.Address), State: b.State, Status: report.BackendExtra})
	}
	fc.BackendCount = len(fc.Backends)
	code := report.ProblemStaleFrontend
	switch {
	case svc != nil && !handledByCilium(svc):
		code = report.ProblemUnexpectedFrontend
		fc.Reason = "Service " + owner + " is headless, ExternalName or for another proxy: Cilium should not program it"
	case svc != nil:
		code = report.ProblemUnexpectedFrontend
		fc.Reason = "Service " + owner + " exists but does not define this frontend (changed port or IP?)"
	case owner != "":
		fc.Reason = "Service " + owner + " no longer exists"
	default:
		fc.Reason = "no Service in the cluster has this IP and port"
	}
	return fc, code, true
}

// extraNodeAddress checks a NodePort frontend on an address outside the
// node's known addresses against the Service that owns the port.
func (ix *Index) extraNodeAddress(a *cilium.Service, addr netip.Addr, svcKey, proto string, node Node) report.FrontendCheck {
	s := ix.services[svcKey]
	probe := Node{Name: node.Name, Addresses: []string{addr.String()}}
	for _, e := range ix.expectFor(probe, Options{Namespace: s.Namespace, SkipExternalIPs: true, SkipLoadBalancer: true}, listingPerAddress) {
		if e.service == svcKey && e.typ == TypeNodePort && e.port == a.Port && e.proto == proto && e.addr == addr {
			fc := compareFrontend([]*expected{e}, a)
			if fc.Reason == "" {
				fc.Reason = "node address not in the node's known addresses"
			}
			return fc
		}
	}
	// The Service owns the port but expects no NodePort of this family.
	return report.FrontendCheck{
		Frontend: frontendString(a, addr, true), Protocol: strings.ToUpper(a.Protocol), Type: a.Type, ActualType: a.Type,
		Service: svcKey, CiliumID: a.ID, Status: report.FrontendStale, BackendCount: len(a.Backends),
		Reason: "Service " + svcKey + " exists but expects no NodePort frontend on " + addr.String(),
	}
}

func protocolsOf(p string) []string {
	switch strings.ToUpper(p) {
	case "", "ANY":
		return []string{"TCP", "UDP", "SCTP"}
	}
	return []string{strings.ToUpper(p)}
}

func unmanaged(a *cilium.Service, service, reason string) report.FrontendCheck {
	addr, ok := parseAddr(a.IP)
	return report.FrontendCheck{
		Frontend: frontendString(a, addr, ok), Protocol: strings.ToUpper(a.Protocol), Type: a.Type, ActualType: a.Type,
		Internal: a.Internal, Service: service, CiliumID: a.ID, Status: report.FrontendUnmanaged, Reason: reason,
		BackendCount: len(a.Backends),
	}
}

func isUnmanagedType(t string) bool {
	return strings.EqualFold(t, TypeHostPort) || strings.EqualFold(t, TypeLocalRedirect)
}

func serviceOf(a *cilium.Service) string {
	if a.Name == "" {
		return ""
	}
	return a.Namespace + "/" + a.Name
}

func expectedOnly(want backendMap) []report.BackendCheck {
	out := make([]report.BackendCheck, 0, len(want))
	for ap, cond := range want {
		out = append(out, report.BackendCheck{Address: ap.String(), Endpoint: cond, Status: report.BackendMissing})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

func (r *Result) add(fc report.FrontendCheck) { r.addStale(fc, "") }

func (r *Result) addStale(fc report.FrontendCheck, code string) {
	r.items = append(r.items, item{fc: fc, staleCode: code})
}

// finish sorts the frontends, counts them and flattens their problems.
func (r *Result) finish() {
	sort.SliceStable(r.items, func(i, j int) bool {
		a, b := r.items[i].fc, r.items[j].fc
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		if typeRank(a.Type) != typeRank(b.Type) {
			return typeRank(a.Type) < typeRank(b.Type)
		}
		if a.Frontend != b.Frontend {
			return a.Frontend < b.Frontend
		}
		return !a.Internal && b.Internal
	})
	r.Frontends = make([]report.FrontendCheck, 0, len(r.items))
	for _, it := range r.items {
		fc := it.fc
		r.Frontends = append(r.Frontends, fc)
		switch fc.Status {
		case report.FrontendOK, report.FrontendMismatch:
			r.Counts.Found++
		case report.FrontendStale:
			r.Counts.Found++
			r.Counts.Stale++
		case report.FrontendMissing:
			r.Counts.Missing++
		case report.FrontendUnmanaged:
			r.Counts.Unmanaged++
		}
		r.Problems = append(r.Problems, problemsOf(fc, it.staleCode)...)
	}
	r.items = nil
}

func typeRank(t string) int {
	switch t {
	case TypeClusterIP:
		return 0
	case TypeNodePort:
		return 1
	case TypeLoadBalancer:
		return 2
	case TypeExternalIPs:
		return 3
	}
	return 4
}

func problemsOf(fc report.FrontendCheck, staleCode string) []report.ServiceProblem {
	mk := func(code, backend, state, detail, msg string) report.ServiceProblem {
		return report.ServiceProblem{Code: code, Service: fc.Service, Frontend: fc.Frontend, Protocol: fc.Protocol,
			Type: fc.Type, Backend: backend, State: state, Detail: detail, Message: msg}
	}
	where := fc.Frontend
	if fc.Protocol != "" {
		where += "/" + fc.Protocol
	}
	if fc.Internal {
		where += " (internal scope)"
	}
	var out []report.ServiceProblem
	switch fc.Status {
	case report.FrontendMissing:
		return []report.ServiceProblem{mk(report.ProblemMissingFrontend, "", "", "not in the agent's service table",
			fmt.Sprintf("the agent has no %s frontend %s for %s", fc.Type, where, portLabel(fc)))}
	case report.FrontendStale:
		code := staleCode
		if code == "" {
			code = report.ProblemStaleFrontend
		}
		return []report.ServiceProblem{mk(code, "", "", fc.Reason, fmt.Sprintf("the agent has %s frontend %s: %s", fc.Type, where, fc.Reason))}
	case report.FrontendMismatch:
		if strings.HasPrefix(fc.Reason, "type ") {
			out = append(out, mk(report.ProblemWrongType, "", "", fmt.Sprintf("agent type %s, expected %s", fc.ActualType, fc.Type),
				fmt.Sprintf("frontend %s of %s has type %s, expected %s", where, portLabel(fc), fc.ActualType, fc.Type)))
		}
	}
	for _, b := range fc.Backends {
		switch b.Status {
		case report.BackendMissing:
			if fc.Status == report.FrontendMissing {
				continue
			}
			out = append(out, mk(report.ProblemMissingBackend, b.Address, b.State, "ready endpoint "+b.Address+" missing",
				fmt.Sprintf("ready endpoint %s is not a backend of %s", b.Address, where)))
		case report.BackendExtra:
			out = append(out, mk(report.ProblemExtraBackend, b.Address, b.State, "backend "+b.Address+" is no endpoint"+stateSuffix(b.State),
				fmt.Sprintf("backend %s of %s is not a ready or terminating endpoint of %s", b.Address, where, orUnknown(fc.Service))))
		case report.BackendNotActive:
			out = append(out, mk(report.ProblemBackendNotActive, b.Address, b.State, "backend "+b.Address+" is "+b.State,
				fmt.Sprintf("backend %s of %s is %q in the agent but the endpoint is ready", b.Address, where, b.State)))
		}
	}
	return out
}

func stateSuffix(state string) string {
	if state == "" {
		return ""
	}
	return " (" + state + ")"
}

func portLabel(fc report.FrontendCheck) string {
	if fc.Port == "" {
		return fc.Service
	}
	return fc.Service + " port " + fc.Port
}

func orUnknown(s string) string {
	if s == "" {
		return "any Service"
	}
	return s
}

func addrPortKey(a netip.Addr, port uint16) string { return netip.AddrPortFrom(a, port).String() }

// normalizeAddrPort writes "IP:port" canonically ("[v6]:port"), so that
// the agent's and the API's spellings compare equal; unparsable input is
// kept as is.
func normalizeAddrPort(s string) string {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()).String()
	}
	return s
}

// withAddress fills IP and Port from Frontend when a parser left them empty.
func withAddress(s cilium.Service) *cilium.Service {
	if s.IP == "" || s.Port == 0 {
		if ap, err := netip.ParseAddrPort(strings.TrimSpace(s.Frontend)); err == nil {
			s.IP, s.Port = ap.Addr().String(), ap.Port()
		}
	}
	return &s
}

func frontendString(a *cilium.Service, addr netip.Addr, ok bool) string {
	if ok {
		return netip.AddrPortFrom(addr, a.Port).String()
	}
	return a.Frontend
}
