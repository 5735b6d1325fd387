package cilium

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// serviceJSON mirrors the parts of api/v1/models.Service that kpr reads.
// The text view prints status.realized (falling back to spec here when an
// agent leaves realized empty) and the type from spec.flags.
type serviceJSON struct {
	Spec *struct {
		serviceStateJSON
		Flags *struct {
			Type      string `json:"type"`
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
			Cluster   string `json:"cluster"`
		} `json:"flags"`
	} `json:"spec"`
	Status *struct {
		Realized *serviceStateJSON `json:"realized"`
	} `json:"status"`
}

type serviceStateJSON struct {
	ID               int64            `json:"id"`
	FrontendAddress  *addrJSON        `json:"frontend-address"`
	BackendAddresses []backendAddJSON `json:"backend-addresses"`
}

type addrJSON struct {
	IP       string `json:"ip"`
	Port     uint16 `json:"port"`
	Protocol string `json:"protocol"`
	Scope    string `json:"scope"`
}

type backendAddJSON struct {
	IP       *string `json:"ip"`
	Port     uint16  `json:"port"`
	State    string  `json:"state"`
	NodeName string  `json:"nodeName"`
}

// ParseServiceListJSON reads `cilium service list -o json`. With several
// documents pasted one after another, the last complete one wins.
func ParseServiceListJSON(b []byte) ([]Service, error) {
	b = normalizeInput(b)
	if string(bytes.TrimSpace(b)) == "null" {
		// PrintOutput of an empty (nil) list.
		return []Service{}, nil
	}
	docs, ok := decodeServiceArray(b)
	var lastErr error
	ok = ok || lastJSONDocument(b, '[', func(dec *json.Decoder) bool {
		var d []serviceJSON
		if err := dec.Decode(&d); err != nil {
			lastErr = err
			return false
		}
		for _, s := range d {
			if s.Spec == nil && s.Status == nil {
				return false
			}
		}
		docs = d
		return true
	})
	if !ok {
		msg := `cilium service list JSON: expected a JSON array of services with "spec"/"status" (output of "cilium-dbg service list -o json"), found none`
		if lastErr != nil {
			return nil, fmt.Errorf("%s; last decode error: %w", msg, lastErr)
		}
		return nil, errors.New(msg)
	}
	out := make([]Service, 0, len(docs))
	for i, d := range docs {
		var state *serviceStateJSON
		if d.Status != nil && d.Status.Realized != nil {
			state = d.Status.Realized
		} else if d.Spec != nil {
			state = &d.Spec.serviceStateJSON
		}
		if state == nil || state.FrontendAddress == nil {
			return nil, fmt.Errorf("cilium service list JSON: service #%d has no frontend-address in status.realized or spec", i+1)
		}
		fe := state.FrontendAddress
		svc := Service{
			ID:       state.ID,
			IP:       fe.IP,
			Port:     fe.Port,
			Frontend: net.JoinHostPort(fe.IP, strconv.Itoa(int(fe.Port))),
			Protocol: strings.ToUpper(fe.Protocol),
			Internal: fe.Scope == "internal" || fe.Scope == "i",
			Backends: []Backend{},
		}
		if d.Spec != nil && d.Spec.Flags != nil {
			f := d.Spec.Flags
			svc.Type, svc.Name, svc.Namespace = f.Type, f.Name, f.Namespace
			svc.Remote = f.Cluster != ""
		}
		for _, be := range state.BackendAddresses {
			ip := ""
			if be.IP != nil {
				ip = *be.IP
			}
			svc.Backends = append(svc.Backends, Backend{
				Address:  net.JoinHostPort(ip, strconv.Itoa(int(be.Port))),
				State:    be.State,
				NodeName: be.NodeName,
			})
		}
		out = append(out, svc)
	}
	return out, nil
}

// serviceHeaderRe matches the table header of every release
// (cilium-dbg/cmd/service_list.go printServiceList).
var serviceHeaderRe = regexp.MustCompile(`^\s*ID\s+Frontend\s+Service Type\s+Backend\s*$`)

func isServiceHeader(line string) bool {
	// Cheap pre-check: the regexp runs on every line of a table.
	if !strings.Contains(line, "Frontend") {
		return false
	}
	return serviceHeaderRe.MatchString(strings.TrimRight(line, "\r"))
}

// backendCellRe reads "<n> => <addr>[ (<state>)][ (preferred)]"; the state
// is 1.12+, "(preferred)" comes with --clustermesh-affinity.
var backendCellRe = regexp.MustCompile(`^(\d+) => (\S+)(?:\s+\(([A-Za-z-]+)\))?(?:\s+\(preferred\))?$`)

// ParseServiceListText reads the tabwriter table of `cilium service list`.
// Rows are read by fields, not columns (paste tools re-space tables);
// continuation rows (empty ID/Frontend/Type cells) add backends to the
// service above. A new header starts a new listing: the last one wins.
func ParseServiceListText(b []byte) ([]Service, error) {
	svcs, _, err := ParseServiceListTextFragment(b)
	return svcs, err
}

// ParseServiceListTextFragment is ParseServiceListText that also reads
// rows without their header, as `cilium service list | grep -i POD-IP`
// prints them: fragment is then true, and the rows are only those the grep
// kept. Rows are recognised by their shape (id, frontend address, a
// Service type), so a header is not needed to tell them from other text.
func ParseServiceListTextFragment(b []byte) (svcs []Service, fragment bool, err error) {
	svcs, err = parseServiceTable(b)
	if err == nil {
		return svcs, false, nil
	}
	if rows := parseHeaderless(b); len(rows) > 0 {
		return rows, true, nil
	}
	return nil, false, err
}

// serviceTypes are the "Service Type" column's values (Cilium's
// loadbalancer.SVCType names, every release).
var serviceTypes = map[string]bool{"ClusterIP": true, "NodePort": true, "ExternalIPs": true, "HostPort": true,
	"LoadBalancer": true, "LocalRedirect": true}

func parseHeaderless(b []byte) []Service {
	var svcs []Service
	cur := -1
	for _, line := range splitLines(normalizeInput(b)) {
		fields := strings.Fields(line)
		if len(fields) >= 3 && fields[1] == "=>" && cur >= 0 {
			if be, ok := parseBackendCell(strings.Join(fields, " ")); ok {
				svcs[cur].Backends = append(svcs[cur].Backends, be)
			}
			continue
		}
		svc, ok := parseServiceRow(fields)
		if !ok || !serviceTypes[svc.Type] {
			cur = -1
			continue
		}
		svcs = append(svcs, svc)
		cur = len(svcs) - 1
	}
	return svcs
}

func parseServiceTable(b []byte) ([]Service, error) {
	var (
		svcs   []Service
		header bool
		cur    = -1 // index of the service continuation rows belong to
	)
	for _, line := range splitLines(normalizeInput(b)) {
		if isServiceHeader(line) {
			svcs, header, cur = []Service{}, true, -1
			continue
		}
		if !header {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		// Continuation row: only a backend cell.
		if len(fields) >= 3 && fields[1] == "=>" {
			if cur >= 0 {
				if be, ok := parseBackendCell(strings.Join(fields, " ")); ok {
					svcs[cur].Backends = append(svcs[cur].Backends, be)
				}
			}
			continue
		}
		svc, ok := parseServiceRow(fields)
		if !ok {
			// Not part of the table (a prompt, a log line): the next
			// continuation row must not attach to a stale service.
			cur = -1
			continue
		}
		svcs = append(svcs, svc)
		cur = len(svcs) - 1
	}
	if !header {
		return nil, errors.New(`cilium service list text: expected the header "ID  Frontend  Service Type  Backend" (output of "cilium-dbg service list")`)
	}
	return svcs, nil
}

// parseServiceRow reads "<id> <frontend> <type>[ (Remote)][ <backend cell>]".
func parseServiceRow(fields []string) (Service, bool) {
	if len(fields) < 3 {
		return Service{}, false
	}
	id, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil || id < 0 {
		return Service{}, false
	}
	addr, ok := parseAddr(fields[1])
	if !ok {
		return Service{}, false
	}
	svc := Service{
		ID:       id,
		Frontend: addr.hostPort,
		IP:       addr.ip,
		Port:     addr.port,
		Protocol: addr.proto,
		Internal: addr.internal,
		Type:     fields[2],
		Backends: []Backend{},
	}
	rest := fields[3:]
	if len(rest) > 0 && rest[0] == "(Remote)" {
		svc.Remote = true
		rest = rest[1:]
	}
	if len(rest) > 0 {
		if be, ok := parseBackendCell(strings.Join(rest, " ")); ok {
			svc.Backends = append(svc.Backends, be)
		}
	}
	return svc, true
}

func parseBackendCell(cell string) (Backend, bool) {
	m := backendCellRe.FindStringSubmatch(cell)
	if m == nil {
		return Backend{}, false
	}
	addr, ok := parseAddr(m[2])
	if !ok {
		return Backend{}, false
	}
	return Backend{Address: addr.hostPort, State: m[3]}, true
}

type parsedAddr struct {
	hostPort string
	ip       string
	port     uint16
	proto    string
	internal bool
}

// parseAddr reads L3n4Addr.String(): "ip:port", "[ip6]:port", then 1.17+'s
// "/PROTO" and the "/i" internal-scope suffix.
func parseAddr(s string) (parsedAddr, bool) {
	parts := strings.Split(s, "/")
	host, port, err := net.SplitHostPort(parts[0])
	if err != nil {
		return parsedAddr{}, false
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return parsedAddr{}, false
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return parsedAddr{}, false
	}
	a := parsedAddr{ip: host, port: uint16(p), hostPort: net.JoinHostPort(host, port)}
	for _, suffix := range parts[1:] {
		switch strings.ToUpper(suffix) {
		case "I":
			a.internal = true
		case "TCP", "UDP", "SCTP", "ANY", "NONE":
			a.proto = strings.ToUpper(suffix)
		default:
			return parsedAddr{}, false
		}
	}
	return a, true
}

// decodeServiceArray is the fast path for what `cilium-dbg service list -o
// json` prints: the whole output one JSON array. An agent's table is
// ~0.5 MB at 300 Services, and at 1000 agents decoding was 55 % of
// `services`' CPU with encoding/json (BENCHMARKS.md); go-json-experiment's
// decoder (the encoding/json/v2 implementation, kept by the Go JSON
// maintainers) reads the same structs about twice as fast. Its options
// are set to v1's leniency (case-insensitive names, duplicate names,
// invalid UTF-8), and anything it refuses — a paste with text around the
// JSON, a second document — takes the general encoding/json path, so no
// input parses differently than before.
func decodeServiceArray(b []byte) ([]serviceJSON, bool) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '[' {
		return nil, false
	}
	var d []serviceJSON
	if err := jsonv2.Unmarshal(t, &d, jsonv2.MatchCaseInsensitiveNames(true),
		jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)); err != nil {
		return nil, false
	}
	for _, s := range d {
		if s.Spec == nil && s.Status == nil {
			return nil, false
		}
	}
	return d, true
}
