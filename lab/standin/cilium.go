package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// CiliumVersion is the release whose output formats the stand-in follows
// (lab/config.env LAB_CILIUM_VERSION, passed on by kwok's ClusterExec).
// The git hash Cilium prints after the version is not known here, so the
// stand-in prints "standin" in its place.
var CiliumVersion = envOr("KPR_LAB_CILIUM_VERSION", "1.18.4")

// The structs below carry the JSON tags of Cilium's swagger models
// (api/v1/models: StatusResponse, KubeProxyReplacement, Service, ...), for
// the fields the lab fills. They are hand-written rather than imported:
// importing github.com/cilium/cilium pulls its whole dependency tree (and
// its replace directives) into a small lab binary.

type modelStatus struct {
	State string `json:"state,omitempty"`
	Msg   string `json:"msg,omitempty"`
}

type k8sStatus struct {
	K8sAPIVersions []string `json:"k8s-api-versions"`
	Msg            string   `json:"msg,omitempty"`
	State          string   `json:"state,omitempty"`
}

type kprDevice struct {
	IP   []string `json:"ip"`
	Name string   `json:"name,omitempty"`
}

type enabledFlag struct {
	Enabled bool `json:"enabled,omitempty"`
}

type kprNodePort struct {
	Acceleration string `json:"acceleration,omitempty"`
	Algorithm    string `json:"algorithm,omitempty"`
	DsrMode      string `json:"dsrMode,omitempty"`
	Enabled      bool   `json:"enabled,omitempty"`
	LutSize      int64  `json:"lutSize,omitempty"`
	Mode         string `json:"mode,omitempty"`
	PortMax      int64  `json:"portMax,omitempty"`
	PortMin      int64  `json:"portMin,omitempty"`
}

type kprFeatures struct {
	Annotations           []string     `json:"annotations"`
	BpfSocketLBHostnsOnly bool         `json:"bpfSocketLBHostnsOnly,omitempty"`
	ExternalIPs           *enabledFlag `json:"externalIPs,omitempty"`
	HostPort              *enabledFlag `json:"hostPort,omitempty"`
	Nat46X64              *enabledFlag `json:"nat46X64,omitempty"`
	NodePort              *kprNodePort `json:"nodePort,omitempty"`
	SessionAffinity       *enabledFlag `json:"sessionAffinity,omitempty"`
	SocketLB              *enabledFlag `json:"socketLB,omitempty"`
	SocketLBTracing       *enabledFlag `json:"socketLBTracing,omitempty"`
}

type kubeProxyReplacement struct {
	DeviceList          []kprDevice  `json:"deviceList"`
	Devices             []string     `json:"devices"`
	DirectRoutingDevice string       `json:"directRoutingDevice,omitempty"`
	Features            *kprFeatures `json:"features,omitempty"`
	Mode                string       `json:"mode,omitempty"`
}

type statusResponse struct {
	AttachMode       string                `json:"attach-mode,omitempty"`
	BandwidthManager *enabledFlag          `json:"bandwidth-manager,omitempty"`
	Cilium           *modelStatus          `json:"cilium,omitempty"`
	ClockSource      map[string]any        `json:"clock-source,omitempty"`
	Cluster          map[string]any        `json:"cluster,omitempty"`
	CniChaining      map[string]string     `json:"cni-chaining,omitempty"`
	CniFile          *modelStatus          `json:"cni-file,omitempty"`
	DatapathMode     string                `json:"datapath-mode,omitempty"`
	Encryption       map[string]string     `json:"encryption,omitempty"`
	HostFirewall     map[string]string     `json:"host-firewall,omitempty"`
	Hubble           *modelStatus          `json:"hubble,omitempty"`
	IdentityRange    map[string]int64      `json:"identity-range,omitempty"`
	Ipam             map[string]any        `json:"ipam,omitempty"`
	IPV4BigTCP       *enabledFlag          `json:"ipv4-big-tcp,omitempty"`
	IPV6BigTCP       *enabledFlag          `json:"ipv6-big-tcp,omitempty"`
	KubeProxyRepl    *kubeProxyReplacement `json:"kube-proxy-replacement,omitempty"`
	Kubernetes       *k8sStatus            `json:"kubernetes,omitempty"`
	Kvstore          *modelStatus          `json:"kvstore,omitempty"`
	Masquerading     map[string]any        `json:"masquerading,omitempty"`
	NodeMonitor      map[string]int64      `json:"nodeMonitor,omitempty"`
	Proxy            map[string]any        `json:"proxy,omitempty"`
	Routing          map[string]string     `json:"routing,omitempty"`
	Srv6             map[string]any        `json:"srv6,omitempty"`
}

type frontendAddress struct {
	IP       string `json:"ip,omitempty"`
	Port     uint16 `json:"port,omitempty"`
	Protocol string `json:"protocol,omitempty"`
	Scope    string `json:"scope,omitempty"`
}

type backendAddress struct {
	IP        *string `json:"ip"`
	NodeName  string  `json:"nodeName,omitempty"`
	Port      uint16  `json:"port,omitempty"`
	Preferred bool    `json:"preferred,omitempty"`
	Protocol  string  `json:"protocol,omitempty"`
	State     string  `json:"state,omitempty"`
	Weight    *uint16 `json:"weight,omitempty"`
	Zone      string  `json:"zone,omitempty"`
}

type serviceFlags struct {
	Cluster             string `json:"cluster,omitempty"`
	ExtTrafficPolicy    string `json:"extTrafficPolicy,omitempty"`
	HealthCheckNodePort uint16 `json:"healthCheckNodePort,omitempty"`
	IntTrafficPolicy    string `json:"intTrafficPolicy,omitempty"`
	Name                string `json:"name,omitempty"`
	Namespace           string `json:"namespace,omitempty"`
	NatPolicy           string `json:"natPolicy,omitempty"`
	TrafficPolicy       string `json:"trafficPolicy,omitempty"`
	Type                string `json:"type,omitempty"`
}

type serviceSpec struct {
	BackendAddresses []backendAddress `json:"backend-addresses"`
	Flags            *serviceFlags    `json:"flags,omitempty"`
	FrontendAddress  *frontendAddress `json:"frontend-address"`
	ID               int64            `json:"id,omitempty"`
	UpdateServices   bool             `json:"updateServices,omitempty"`
}

type ciliumService struct {
	Spec   *serviceSpec `json:"spec,omitempty"`
	Status struct {
		Realized *serviceSpec `json:"realized,omitempty"`
	} `json:"status"`
}

func ciliumCLI(name string, args []string) int {
	var positional []string
	output, verbose := "", false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o" || a == "--output":
			if i+1 < len(args) {
				output = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "-o="), strings.HasPrefix(a, "--output="):
			output = a[strings.Index(a, "=")+1:]
		case strings.HasPrefix(a, "-o") && len(a) > 2:
			output = a[2:]
		case a == "--verbose":
			verbose = true
		case strings.HasPrefix(a, "-"):
			// Other flags (--brief, --all-*) are accepted and ignored.
		default:
			positional = append(positional, a)
		}
	}
	if output != "" && output != "json" {
		fmt.Fprintf(os.Stderr, "Error: unsupported output format %q in the kpr lab stand-in (json only)\n", output)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := strings.Join(positional, " ")
	switch cmd {
	case "status":
		sr, err := buildStatus(ctx)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%v\nIs the agent running?\n", err)
			return 1
		}
		if output == "json" {
			return printJSON(os.Stdout, sr)
		}
		w := tabwriter.NewWriter(os.Stdout, 2, 0, 3, ' ', 0)
		formatStatus(w, sr, verbose)
		fmt.Fprint(w, "Cluster health:\t\tProbe disabled\n")
		_ = w.Flush()
		return 0
	case "service list", "service ls":
		list, err := buildServiceList(ctx)
		if err != nil {
			fmt.Fprintf(os.Stderr, "Error: Cannot get services list: %v\n", err)
			return 1
		}
		if output == "json" {
			return printJSON(os.Stdout, list)
		}
		w := tabwriter.NewWriter(os.Stdout, 5, 0, 3, ' ', 0)
		printServiceList(w, list)
		return 0
	case "version":
		fmt.Printf("Client: %s standin go1.26 linux/amd64\nDaemon: %s standin go1.26 linux/amd64\n", CiliumVersion, CiliumVersion)
		return 0
	}
	fmt.Fprintf(os.Stderr, "Error: the kpr lab's %s stand-in only answers `status`, `service list` and `version` (got %q)\n", name, cmd)
	return 1
}

// printJSON indents like Cilium's command.PrintOutput.
func printJSON(w io.Writer, v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintln(w, string(b))
	return 0
}

func buildStatus(ctx context.Context) (*statusResponse, error) {
	devs, err := nodeDevices()
	if err != nil {
		return nil, err
	}
	kubeMsg, kubeState := "", "Ok"
	if cs, err := clientset(); err == nil {
		if v, err := cs.Discovery().ServerVersion(); err == nil {
			kubeMsg = fmt.Sprintf("%s.%s (%s) [linux/amd64]", v.Major, strings.TrimSuffix(v.Minor, "+"), v.GitVersion)
		} else {
			kubeState, kubeMsg = "Failure", err.Error()
		}
	} else {
		kubeState, kubeMsg = "Failure", err.Error()
	}
	kpr := &kubeProxyReplacement{Mode: "True", Devices: []string{}, DeviceList: []kprDevice{}}
	for _, d := range devs {
		// Cilium allocates the slice with len(addrs) empty strings and then
		// appends the addresses (daemon/cmd/status.go since 1.15), so the
		// JSON and the text carry that padding: keep it, parsers must cope.
		ips := make([]string, len(d.Addrs), 2*len(d.Addrs))
		ips = append(ips, d.Addrs...)
		kpr.DeviceList = append(kpr.DeviceList, kprDevice{Name: d.Name, IP: ips})
		kpr.Devices = append(kpr.Devices, d.Name)
	}
	if len(devs) > 0 {
		kpr.DirectRoutingDevice = devs[0].Name
	}
	kpr.Features = &kprFeatures{
		Annotations: []string{
			"service.cilium.io/node",
			"service.cilium.io/node-selector",
			"service.cilium.io/proxy-delegation",
			"service.cilium.io/src-ranges-policy",
			"service.cilium.io/type",
		},
		BpfSocketLBHostnsOnly: true,
		ExternalIPs:           &enabledFlag{true},
		HostPort:              &enabledFlag{true},
		Nat46X64:              &enabledFlag{},
		NodePort: &kprNodePort{
			Enabled: true, Mode: "SNAT", Algorithm: "Random", Acceleration: "Disabled",
			PortMin: 30000, PortMax: 32767,
		},
		SessionAffinity: &enabledFlag{true},
		SocketLB:        &enabledFlag{true},
		SocketLBTracing: &enabledFlag{true},
	}
	node := os.Getenv("KPR_LAB_NODE")
	sr := &statusResponse{
		AttachMode:       "tcx",
		BandwidthManager: &enabledFlag{},
		Cilium:           &modelStatus{State: "Ok", Msg: fmt.Sprintf("%s (v%s-standin)", CiliumVersion, CiliumVersion)},
		ClockSource:      map[string]any{"mode": "ktime"},
		Cluster:          map[string]any{"ciliumHealth": modelStatus{State: "Ok"}, "self": "default/" + node},
		CniChaining:      map[string]string{"mode": "generic-veth"},
		CniFile:          &modelStatus{State: "Ok", Msg: "successfully wrote CNI configuration file to /host/etc/cni/net.d/05-cilium.conflist"},
		DatapathMode:     "veth",
		Encryption:       map[string]string{"mode": "Disabled"},
		HostFirewall:     map[string]string{"mode": "Disabled"},
		Hubble:           &modelStatus{State: "Disabled"},
		IdentityRange:    map[string]int64{"min-identity": 256, "max-identity": 65535},
		Ipam:             map[string]any{"ipv4": []string{}, "status": "IPv4: 0/254 allocated from 10.0.0.0/24, "},
		IPV4BigTCP:       &enabledFlag{},
		IPV6BigTCP:       &enabledFlag{},
		KubeProxyRepl:    kpr,
		Kubernetes: &k8sStatus{State: kubeState, Msg: kubeMsg, K8sAPIVersions: []string{
			"EndpointSliceOrEndpoint", "cilium/v2::CiliumClusterwideNetworkPolicy", "cilium/v2::CiliumEndpoint",
			"cilium/v2::CiliumNetworkPolicy", "cilium/v2::CiliumNode", "core/v1::Pods", "networking.k8s.io/v1::NetworkPolicy",
		}},
		Kvstore:      &modelStatus{State: "Disabled"},
		Masquerading: map[string]any{"enabled": true, "mode": "iptables", "enabledProtocols": map[string]bool{"ipv4": true}},
		NodeMonitor:  map[string]int64{"cpus": 2, "npages": 64, "pagesize": 4096},
		Proxy:        map[string]any{"ip": "10.0.0.1", "port-range": "10000-20000", "envoy-deployment-mode": "embedded", "total-redirects": 0},
		Routing:      map[string]string{"inter-host-routing-mode": "tunnel", "intra-host-routing-mode": "Legacy", "tunnel-protocol": "vxlan"},
		Srv6:         map[string]any{"enabled": false},
	}
	return sr, nil
}

// formatStatus writes the lines of Cilium's pkg/client FormatStatusResponse
// for the fields the stand-in fills, in the same order and tab layout.
func formatStatus(w io.Writer, sr *statusResponse, verbose bool) {
	fmt.Fprintf(w, "KVStore:\t%s\t%s\n", sr.Kvstore.State, sr.Kvstore.Msg)
	fmt.Fprintf(w, "Kubernetes:\t%s\t%s\n", sr.Kubernetes.State, sr.Kubernetes.Msg)
	apis := append([]string(nil), sr.Kubernetes.K8sAPIVersions...)
	sort.Strings(apis)
	fmt.Fprintf(w, "Kubernetes APIs:\t[\"%s\"]\n", strings.Join(apis, "\", \""))
	kpr := sr.KubeProxyRepl
	kubeProxyDevices, devices := "", ""
	if kpr.Mode != "False" {
		for i, dev := range kpr.DeviceList {
			kubeProxyDevices += fmt.Sprintf("%s %s", dev.Name, strings.Join(dev.IP, " "))
			if dev.Name == kpr.DirectRoutingDevice {
				kubeProxyDevices += " (Direct Routing)"
			}
			if i+1 != len(kpr.Devices) {
				kubeProxyDevices += ", "
			}
		}
		if len(kpr.DeviceList) > 0 {
			devices = "[" + kubeProxyDevices + "]"
		}
	}
	fmt.Fprintf(w, "KubeProxyReplacement:\t%s\t%s\n", kpr.Mode, devices)
	fmt.Fprintf(w, "Host firewall:\t%s\n", sr.HostFirewall["mode"])
	fmt.Fprintf(w, "SRv6:\t%s\n", "Disabled")
	fmt.Fprintf(w, "CNI Chaining:\t%s\n", sr.CniChaining["mode"])
	fmt.Fprintf(w, "CNI Config file:\t%s\n", sr.CniFile.Msg)
	fmt.Fprintf(w, "Cilium:\t%s   %s\n", sr.Cilium.State, sr.Cilium.Msg)
	fmt.Fprintf(w, "NodeMonitor:\tListening for events on %d CPUs with %dx%d of shared memory\n",
		sr.NodeMonitor["cpus"], sr.NodeMonitor["npages"], sr.NodeMonitor["pagesize"])
	fmt.Fprintf(w, "Cilium health daemon:\t%s\t%s\n", "Ok", "")
	fmt.Fprintf(w, "IPAM:\t%s\n", sr.Ipam["status"])
	fmt.Fprintf(w, "IPv4 BIG TCP:\t%s\n", "Disabled")
	fmt.Fprintf(w, "IPv6 BIG TCP:\t%s\n", "Disabled")
	fmt.Fprintf(w, "BandwidthManager:\t%s\n", "Disabled")
	fmt.Fprintf(w, "Masquerading:\t%s\n", "IPTables [IPv4: Enabled, IPv6: Disabled]")
	fmt.Fprintf(w, "Controller Status:\t%d/%d healthy\n", 27, 27)
	fmt.Fprintf(w, "Proxy Status:\tOK, ip %s, %d redirects active on ports %s, Envoy: %s\n",
		sr.Proxy["ip"], sr.Proxy["total-redirects"], sr.Proxy["port-range"], sr.Proxy["envoy-deployment-mode"])
	fmt.Fprintf(w, "Global Identity Range:\tmin %d, max %d\n", sr.IdentityRange["min-identity"], sr.IdentityRange["max-identity"])
	fmt.Fprintf(w, "Hubble:\t%s\n", sr.Hubble.State)
	if verbose {
		f := kpr.Features
		fmt.Fprintf(w, "KubeProxyReplacement Details:\n")
		tab := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
		fmt.Fprintf(tab, "  Status:\t%s\n", kpr.Mode)
		fmt.Fprintf(tab, "  Socket LB:\t%s\n", onOff(f.SocketLB.Enabled))
		fmt.Fprintf(tab, "  Socket LB Tracing:\t%s\n", onOff(f.SocketLBTracing.Enabled))
		coverage := "Full"
		if f.BpfSocketLBHostnsOnly {
			coverage = "Hostns-only"
		}
		fmt.Fprintf(tab, "  Socket LB Coverage:\t%s\n", coverage)
		if kubeProxyDevices != "" {
			fmt.Fprintf(tab, "  Devices:\t%s\n", kubeProxyDevices)
		}
		fmt.Fprintf(tab, "  Mode:\t%s\n", f.NodePort.Mode)
		fmt.Fprintf(tab, "  Backend Selection:\t%s\n", f.NodePort.Algorithm)
		fmt.Fprintf(tab, "  Session Affinity:\t%s\n", onOff(f.SessionAffinity.Enabled))
		fmt.Fprintf(tab, "  NAT46/64 Support:\t%s\n", "Disabled")
		fmt.Fprintf(tab, "  XDP Acceleration:\t%s\n", f.NodePort.Acceleration)
		fmt.Fprintf(tab, "  Services:\n")
		fmt.Fprintf(tab, "  - ClusterIP:\t%s\n", "Enabled")
		fmt.Fprintf(tab, "  - NodePort:\tEnabled (Range: %d-%d) \n", f.NodePort.PortMin, f.NodePort.PortMax)
		fmt.Fprintf(tab, "  - LoadBalancer:\t%s \n", "Enabled")
		fmt.Fprintf(tab, "  - externalIPs:\t%s \n", onOff(f.ExternalIPs.Enabled))
		fmt.Fprintf(tab, "  - HostPort:\t%s\n", onOff(f.HostPort.Enabled))
		fmt.Fprintf(tab, "  Annotations:\n")
		for _, a := range f.Annotations {
			fmt.Fprintf(tab, "  - %s\n", a)
		}
		_ = tab.Flush()
	}
	fmt.Fprintf(w, "Encryption:\t%s\t%s\n", sr.Encryption["mode"], "")
}

func onOff(b bool) string {
	if b {
		return "Enabled"
	}
	return "Disabled"
}

func buildServiceList(ctx context.Context) ([]ciliumService, error) {
	cs, err := clientset()
	if err != nil {
		return nil, err
	}
	snap, err := loadSnapshot(ctx, cs, false)
	if err != nil {
		return nil, err
	}
	devs, err := nodeDevices()
	if err != nil {
		return nil, err
	}
	return ciliumServices(servicePorts(snap), nodeIPv4s(devs), os.Getenv("KPR_LAB_NODE")), nil
}

// ciliumServices lists the frontends Cilium 1.18 creates for the Services:
// one per ClusterIP, one NodePort frontend per node address plus the
// 0.0.0.0 surrogate, one per externalIP and LoadBalancer ingress IP.
func ciliumServices(ports []ServicePort, nodeIPs []string, node string) []ciliumService {
	var out []ciliumService
	id := int64(0)
	add := func(sp ServicePort, ip string, port int32, typ string, local bool) {
		id++
		bes := []backendAddress{}
		for _, b := range sp.Backends {
			if local && b.NodeName != node {
				continue
			}
			ip, w := b.IP, uint16(100)
			if sp.Break == "wrong-backend" {
				ip = unusedBackend
			}
			bes = append(bes, backendAddress{
				IP: &ip, NodeName: b.NodeName, Port: uint16(b.Port), Preferred: true,
				Protocol: string(sp.Protocol), State: b.State, Weight: &w,
			})
		}
		ext, intp := "Cluster", "Cluster"
		if sp.ExtLocal {
			ext = "Local"
		}
		if sp.IntLocal {
			intp = "Local"
		}
		spec := &serviceSpec{
			ID:               id,
			FrontendAddress:  &frontendAddress{IP: ip, Port: uint16(port), Protocol: string(sp.Protocol), Scope: "external"},
			BackendAddresses: bes,
			Flags: &serviceFlags{
				Type: typ, TrafficPolicy: ext, ExtTrafficPolicy: ext, IntTrafficPolicy: intp,
				Name: sp.Name, Namespace: sp.Namespace,
			},
		}
		svc := ciliumService{Spec: spec}
		svc.Status.Realized = spec
		out = append(out, svc)
	}
	for _, sp := range ports {
		if sp.Break != "missing-frontend" {
			for _, ip := range sp.ClusterIPs {
				add(sp, ip, sp.Port, "ClusterIP", false)
			}
		}
		if sp.NodePort != 0 {
			for _, ip := range nodeIPs {
				add(sp, ip, sp.NodePort, "NodePort", sp.ExtLocal)
			}
			add(sp, "0.0.0.0", sp.NodePort, "NodePort", sp.ExtLocal)
		}
		for _, ip := range sp.ExternalIPs {
			add(sp, ip, sp.Port, "ExternalIPs", sp.ExtLocal)
		}
		for _, ip := range sp.LBIngress {
			add(sp, ip, sp.Port, "LoadBalancer", sp.ExtLocal)
		}
	}
	return out
}

// printServiceList renders like Cilium 1.18's `cilium-dbg service list`:
// tabwriter(5,0,3), every cell tab-terminated, rows sorted by ID, extra
// backends on continuation rows, addresses with the /PROTO suffix (1.17+).
func printServiceList(w *tabwriter.Writer, list []ciliumService) {
	fmt.Fprintln(w, "ID\tFrontend\tService Type\tBackend\t")
	sort.Slice(list, func(i, j int) bool { return list[i].Status.Realized.ID < list[j].Status.Realized.ID })
	for _, svc := range list {
		r := svc.Status.Realized
		fe := fmt.Sprintf("%s:%d/%s", r.FrontendAddress.IP, r.FrontendAddress.Port, r.FrontendAddress.Protocol)
		typ := svc.Spec.Flags.Type
		if len(r.BackendAddresses) == 0 {
			fmt.Fprintf(w, "%d\t%s\t%s\t\t\n", r.ID, fe, typ)
			continue
		}
		for i, be := range r.BackendAddresses {
			cell := fmt.Sprintf("%d => %s:%d/%s (%s)", i+1, *be.IP, be.Port, be.Protocol, be.State)
			if i == 0 {
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t\n", r.ID, fe, typ, cell)
			} else {
				fmt.Fprintf(w, "\t\t\t%s\t\n", cell)
			}
		}
	}
	_ = w.Flush()
}
