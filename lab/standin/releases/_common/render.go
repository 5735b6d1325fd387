// Command cilium-render prints what one Cilium release's CLI prints, for the
// kpr lab's Cilium stand-in (lab/standin). The stand-in computes a
// version-neutral JSON document (the agent's status, or its service list)
// and execs the renderer of the release the node runs:
//
//	.lab/bin/cilium-render/<version> status|service-list|version text|verbose|json <doc
//
// stdout, stderr and the exit code are the CLI's.
//
// What is real code of that release (github.com/cilium/cilium at ciliumTag,
// this module's go.mod): the document is unmarshalled into the release's
// api/v1/models (fields the release does not know are dropped by its own
// model, and its JSON marshalling decides key order and nulls), and the
// status text is pkg/client.FormatStatusResponse through the CLI's
// tabwriter. What is replicated, because importing it would pull the whole
// CLI (pkg/command needs client-go; the cmd package registers the CLI;
// pkg/loadbalancer pulls the agent's datapath packages): pkg/command's
// `-o json` framing, the status command's trailing health line,
// printServiceList with pkg/loadbalancer's address formatting, and the
// version command. The tests prove byte-equality against the fixtures
// tools/fixturegen rendered with the real code, and check the replicated
// literals against the release's source in the module cache.
//
// This file is shared by every per-release module (releases/v1_XX, one
// go.mod each because a module can require only one cilium version); each
// module's compat.go holds what differs.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/cilium/cilium/api/v1/models"
	pkg "github.com/cilium/cilium/pkg/client"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = "usage: cilium-render status text|verbose|json | service-list text|json | version text|json  (document on stdin)"

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	switch args[0] + " " + args[1] {
	case "status text", "status verbose", "status json":
		var sr models.StatusResponse
		if err := decode(stdin, &sr); err != nil {
			fmt.Fprintf(stderr, "cilium-render %s: status document: %v\n", ciliumTag, err)
			return 1
		}
		if args[1] == "json" {
			return printOutputJSON(stdout, stderr, &sr)
		}
		details := pkg.StatusNoDetails
		if args[1] == "verbose" {
			details = pkg.StatusAllDetails
		}
		return statusText(stdout, &sr, details)
	case "service-list text", "service-list json":
		var list []*models.Service
		if err := decode(stdin, &list); err != nil {
			fmt.Fprintf(stderr, "cilium-render %s: service list document: %v\n", ciliumTag, err)
			return 1
		}
		if args[1] == "json" {
			return printOutputJSON(stdout, stderr, list)
		}
		w := tabwriter.NewWriter(stdout, 5, 0, 3, ' ', 0)
		printServiceList(w, stderr, list)
		return 0
	case "version text":
		fmt.Fprintf(stdout, "Client: %s\n", versionString())
		fmt.Fprintf(stdout, "Daemon: %s\n", versionString())
		return 0
	case "version json":
		v := versionStruct()
		return printOutputJSON(stdout, stderr, struct {
			Client ciliumVersion
			Daemon ciliumVersion
		}{v, v})
	}
	fmt.Fprintln(stderr, usage)
	return 2
}

func decode(r io.Reader, v any) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// printOutputJSON is pkg/command.PrintOutput with `-o json` (identical in
// every release here): dumpJSON calls DumpJSONToString, which prints
// json.MarshalIndent(data, "", "  ") with fmt.Println and returns "", which
// dumpJSON prints with fmt.Println again: the document, a newline, and an
// empty line.
func printOutputJSON(stdout, stderr io.Writer, data any) int {
	result, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "Couldn't marshal to json: '%s'\n", err)
		return 1
	}
	fmt.Fprintln(stdout, string(result))
	fmt.Fprintln(stdout, "")
	return 0
}

// statusText is the text branch of the status command's statusDaemon
// (cilium[-dbg]/cmd/status.go): the CLI's tabwriter, the release's
// formatter, exit 1 without the health line when the agent is unhealthy,
// then the health line into the same writer (so it shares the last
// block's column widths). The agent stand-in has no cilium-health-ep
// controller (health checking disabled), so the CLI prints the "Probe
// disabled" line instead of querying the health API.
func statusText(out io.Writer, sr *models.StatusResponse, details pkg.StatusDetails) int {
	w := tabwriter.NewWriter(out, 2, 0, 3, ' ', 0)
	pkg.FormatStatusResponse(w, sr, details)
	if isUnhealthy(sr) {
		w.Flush()
		return 1
	}
	fmt.Fprint(w, healthProbeDisabled)
	w.Flush()
	return 0
}

func isUnhealthy(sr *models.StatusResponse) bool {
	if sr.Cilium != nil {
		state := sr.Cilium.State
		return state != models.StatusStateOk && state != models.StatusStateDisabled
	}
	return false
}

func minor() int {
	m, _ := strconv.Atoi(strings.Split(strings.TrimPrefix(ciliumTag, "v"), ".")[1])
	return m
}

// printServiceList replicates cilium[-dbg]/cmd/service_list.go at
// ciliumTag (serviceListSHA256 in compat.go pins the file it was read
// from); --clustermesh-affinity is off by default. The CLI writes to
// tabwriter.NewWriter(os.Stdout, 5, 0, 3, ' ', 0). Shapes: "%d => %s (%s)"
// with the backend state (1.12+), " (Remote)" after the type when
// flags.cluster is set (1.14+).
func printServiceList(w *tabwriter.Writer, stderr io.Writer, list []*models.Service) {
	fmt.Fprintln(w, "ID\tFrontend\tService Type\tBackend\t")

	type ServiceOutput struct {
		ID               int64
		ServiceType      string
		FrontendAddress  string
		BackendAddresses []string
	}
	svcs := []ServiceOutput{}

	for _, svc := range list {
		if svc.Status == nil || svc.Status.Realized == nil {
			fmt.Fprint(stderr, "error parsing svc: empty state")
			continue
		}

		feA, err := frontendString(svc.Status.Realized.FrontendAddress)
		if err != nil {
			fmt.Fprintf(stderr, "error parsing frontend %+v", svc.Status.Realized.FrontendAddress)
			continue
		}

		var backendAddresses []string
		for i, be := range svc.Status.Realized.BackendAddresses {
			beA, err := backendString(be)
			if err != nil {
				fmt.Fprintf(stderr, "error parsing backend %+v", be)
				continue
			}
			str := fmt.Sprintf("%d => %s (%s)", i+1, beA, be.State)
			backendAddresses = append(backendAddresses, str)
		}

		SvcOutput := ServiceOutput{
			ID:               svc.Status.Realized.ID,
			ServiceType:      svc.Spec.Flags.Type,
			FrontendAddress:  feA,
			BackendAddresses: backendAddresses,
		}

		if minor() >= 14 && flagsCluster(svc) != "" {
			SvcOutput.ServiceType = SvcOutput.ServiceType + " (Remote)"
		}

		svcs = append(svcs, SvcOutput)
	}

	sort.Slice(svcs, func(i, j int) bool {
		return svcs[i].ID <= svcs[j].ID
	})

	for _, service := range svcs {
		var str string

		if len(service.BackendAddresses) == 0 {
			str = fmt.Sprintf("%d\t%s\t%s\t\t",
				service.ID, service.FrontendAddress, service.ServiceType)
			fmt.Fprintln(w, str)
			continue
		}

		str = fmt.Sprintf("%d\t%s\t%s\t%s\t",
			service.ID, service.FrontendAddress, service.ServiceType,
			service.BackendAddresses[0])
		fmt.Fprintln(w, str)

		for _, bkaddr := range service.BackendAddresses[1:] {
			str := fmt.Sprintf("\t\t\t%s\t", bkaddr)
			fmt.Fprintln(w, str)
		}
	}

	w.Flush()
}

// frontendString replicates loadbalancer.NewL3n4AddrFromModel followed by
// L3n4Addr.String() at ciliumTag:
//   - protocol validated by NewL4Type (tcp, udp; sctp from 1.14; none, any
//     from 1.17), printed as "/PROTO" only from 1.17 (String() is
//     StringWithProtocol there);
//   - the address parsed by net.ParseIP up to 1.13, by
//     clustermesh/types.ParseAddrCluster ("ip[@clusterID]", netip) from
//     1.14; IPv6 in brackets;
//   - scope "external" or "internal" ("/i" suffix), anything else an error.
func frontendString(base *models.FrontendAddress) (string, error) {
	if base == nil {
		// NewL3n4AddrFromModel returns (nil, nil) and String() on the nil
		// pointer panics in the CLI; a document always has a frontend.
		return "", fmt.Errorf("missing frontend")
	}
	if base.IP == "" {
		return "", fmt.Errorf("missing IP address")
	}
	proto := "NONE"
	if base.Protocol != "" {
		p, err := l4Type(base.Protocol)
		if err != nil {
			return "", err
		}
		proto = p
	}
	addr, v6, err := parseAddr(base.IP)
	if err != nil {
		return "", err
	}
	var scope string
	switch base.Scope {
	case models.FrontendAddressScopeExternal:
	case models.FrontendAddressScopeInternal:
		scope = "/i"
	default:
		return "", fmt.Errorf("invalid scope \"%s\"", base.Scope)
	}
	return l3n4String(addr, v6, base.Port, proto, scope), nil
}

// backendString replicates loadbalancer.NewL3n4AddrFromBackendModel and
// String(): no scope; the protocol (1.17+) is the model's string as is.
func backendString(base *models.BackendAddress) (string, error) {
	if base.IP == nil {
		return "", fmt.Errorf("missing IP address")
	}
	addr, v6, err := parseAddr(*base.IP)
	if err != nil {
		return "", err
	}
	return l3n4String(addr, v6, base.Port, backendProtocol(base), ""), nil
}

func l3n4String(addr string, v6 bool, port uint16, proto, scope string) string {
	if v6 {
		addr = "[" + addr + "]"
	}
	s := addr + ":" + strconv.FormatUint(uint64(port), 10)
	if minor() >= 17 {
		s += "/" + proto
	}
	return s + scope
}

func l4Type(name string) (string, error) {
	switch strings.ToLower(name) {
	case "tcp":
		return "TCP", nil
	case "udp":
		return "UDP", nil
	case "sctp":
		if minor() >= 14 {
			return "SCTP", nil
		}
	case "none":
		if minor() >= 17 {
			return "NONE", nil
		}
	case "any":
		if minor() >= 17 {
			return "ANY", nil
		}
	}
	return "", fmt.Errorf("unknown L4 protocol")
}

// parseAddr returns the address as the release prints it and whether it
// is IPv6 by the release's test (net.IP.To4() == nil up to 1.13,
// netip.Addr.Is6() from 1.14).
func parseAddr(s string) (string, bool, error) {
	if minor() <= 13 {
		ip := net.ParseIP(s)
		if ip == nil {
			return "", false, fmt.Errorf("invalid IP address \"%s\"", s)
		}
		return ip.String(), ip.To4() == nil, nil
	}
	// clustermesh/types.ParseAddrCluster and AddrCluster.String().
	addrStr, clusterIDStr := s, ""
	at := strings.LastIndex(s, "@")
	if at != -1 {
		addrStr, clusterIDStr = s[:at], s[at+1:]
	}
	addr, err := netip.ParseAddr(addrStr)
	if err != nil {
		return "", false, err
	}
	out := addr.String()
	if clusterIDStr == "" {
		if at != -1 && at == len(s)-1 {
			return "", false, fmt.Errorf("empty cluster ID")
		}
	} else {
		id, err := strconv.ParseUint(clusterIDStr, 10, 32)
		if err != nil {
			return "", false, err
		}
		if id != 0 {
			out += "@" + strconv.FormatUint(id, 10)
		}
	}
	return out, addr.Is6(), nil
}

// ciliumVersion is pkg/version.CiliumVersion (no JSON tags).
type ciliumVersion struct {
	Version          string
	Revision         string
	GoRuntimeVersion string
	Arch             string
	AuthorDate       string
}

// versionString is pkg/version.Version: the build's
// "<version> <git hash> <author date>" followed by
// " go version <go> <os>/<arch>". The git hash is not known here:
// "standin" stands in its place; the author date is the release tag's
// commit time as the Go module proxy reports it (tagDate, compat.go); the
// Go version is the one that built this renderer.
func versionString() string {
	return fmt.Sprintf("%s standin %s go version %s %s/%s",
		strings.TrimPrefix(ciliumTag, "v"), tagDate, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// versionStruct is pkg/version.FromString(versionString()).
func versionStruct() ciliumVersion {
	f := strings.Split(versionString(), " ")
	return ciliumVersion{Version: f[0], Revision: f[1], AuthorDate: f[2],
		GoRuntimeVersion: strings.Join(f[5:len(f)-1], " "), Arch: f[len(f)-1]}
}
