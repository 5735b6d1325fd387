package main

import (
	"context"
	"fmt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cilium/cilium/api/v1/models"
	"github.com/cilium/cilium/pkg/client"
	"github.com/cilium/cilium/pkg/command"
)

// CiliumVersion is the release whose code renders the stand-in's output
// (github.com/cilium/cilium in go.mod; lab/config.env LAB_CILIUM_VERSION,
// passed on by kwok's ClusterExec). The git hash Cilium prints after the
// version is not known here, so the stand-in prints "standin" in its place.
//
// The output is Cilium's own: the release's api/v1/models types, rendered
// by pkg/client.FormatStatusResponse (text) and pkg/command.PrintOutput
// (-o json). Only `service list`'s text table is replicated (printServiceList
// below): it lives in the CLI's cmd package, which cannot be imported.
var CiliumVersion = envOr("KPR_LAB_CILIUM_VERSION", "1.18.8")

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
	hangIfAsked()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := strings.Join(positional, " ")
	switch cmd {
	case "status":
		sr, err := buildStatus()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%v\nIs the agent running?\n", err)
			return 1
		}
		if output == "json" {
			return printJSON(sr)
		}
		// As cilium-dbg/cmd/status.go: this writer, the formatter, and the
		// health line it prints when the health endpoint is not running.
		w := tabwriter.NewWriter(os.Stdout, 2, 0, 3, ' ', 0)
		details := client.StatusNoDetails
		if verbose {
			details = client.StatusAllDetails
		}
		client.FormatStatusResponse(w, sr, details)
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
			return printJSON(list)
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

// printJSON prints like `-o json`: Cilium's pkg/command.PrintOutput.
func printJSON(v any) int {
	command.ForceJSON()
	if err := command.PrintOutput(v); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// buildStatus fills Cilium's StatusResponse the way an agent with
// kube-proxy-replacement=true, chaining mode generic-veth and socket LB in
// host namespaces only would, with the node's real devices.
func buildStatus() (*models.StatusResponse, error) {
	devs, err := nodeDevices()
	if err != nil {
		return nil, err
	}
	return statusFor(devs, kubeStatus(), os.Getenv("KPR_LAB_NODE")), nil
}

func kubeStatus() *models.K8sStatus {
	kube := &models.K8sStatus{State: models.K8sStatusStateOk, K8sAPIVersions: []string{
		"EndpointSliceOrEndpoint", "cilium/v2::CiliumClusterwideNetworkPolicy", "cilium/v2::CiliumEndpoint",
		"cilium/v2::CiliumNetworkPolicy", "cilium/v2::CiliumNode", "core/v1::Namespace", "core/v1::Pods",
		"core/v1::Service", "discovery/v1::EndpointSlice", "networking.k8s.io/v1::NetworkPolicy",
	}}
	if cs, err := clientset(); err == nil {
		if v, err := cs.Discovery().ServerVersion(); err == nil {
			kube.Msg = fmt.Sprintf("%s.%s (%s) [linux/amd64]", v.Major, strings.TrimSuffix(v.Minor, "+"), v.GitVersion)
		} else {
			kube.State, kube.Msg = models.K8sStatusStateFailure, err.Error()
		}
	} else {
		kube.State, kube.Msg = models.K8sStatusStateFailure, err.Error()
	}
	return kube
}

func statusFor(devs []Device, kube *models.K8sStatus, node string) *models.StatusResponse {
	kpr := &models.KubeProxyReplacement{
		Mode:       models.KubeProxyReplacementModeTrue,
		Devices:    []string{},
		DeviceList: []*models.KubeProxyReplacementDeviceListItems0{},
	}
	for _, d := range devs {
		// Cilium allocates the slice with len(addrs) empty strings and then
		// appends the addresses (daemon/cmd/status.go since 1.15), so the
		// JSON and the text carry that padding: keep it, parsers must cope.
		ips := make([]string, len(d.Addrs), 2*len(d.Addrs))
		ips = append(ips, d.Addrs...)
		kpr.DeviceList = append(kpr.DeviceList, &models.KubeProxyReplacementDeviceListItems0{Name: d.Name, IP: ips})
		kpr.Devices = append(kpr.Devices, d.Name)
	}
	if len(devs) > 0 {
		kpr.DirectRoutingDevice = devs[0].Name
	}
	kpr.Features = &models.KubeProxyReplacementFeatures{
		Annotations: []string{
			"service.cilium.io/node",
			"service.cilium.io/node-selector",
			"service.cilium.io/proxy-delegation",
			"service.cilium.io/src-ranges-policy",
			"service.cilium.io/type",
		},
		BpfSocketLBHostnsOnly: true,
		ExternalIPs:           &models.KubeProxyReplacementFeaturesExternalIPs{Enabled: true},
		HostPort:              &models.KubeProxyReplacementFeaturesHostPort{Enabled: true},
		Nat46X64: &models.KubeProxyReplacementFeaturesNat46X64{
			Gateway: &models.KubeProxyReplacementFeaturesNat46X64Gateway{Prefixes: []string{}},
			Service: &models.KubeProxyReplacementFeaturesNat46X64Service{},
		},
		NodePort: &models.KubeProxyReplacementFeaturesNodePort{
			Enabled: true, Mode: "SNAT", Algorithm: "Random", Acceleration: "Disabled",
			PortMin: 30000, PortMax: 32767,
		},
		SessionAffinity: &models.KubeProxyReplacementFeaturesSessionAffinity{Enabled: true},
		SocketLB:        &models.KubeProxyReplacementFeaturesSocketLB{Enabled: true},
		SocketLBTracing: &models.KubeProxyReplacementFeaturesSocketLBTracing{Enabled: true},
	}
	return &models.StatusResponse{
		AttachMode:       models.AttachModeTcx,
		BandwidthManager: &models.BandwidthManager{},
		Cilium:           &models.Status{State: models.StatusStateOk, Msg: fmt.Sprintf("%s (v%s-standin)", CiliumVersion, CiliumVersion)},
		ClockSource:      &models.ClockSource{Mode: models.ClockSourceModeKtime},
		Cluster: &models.ClusterStatus{
			CiliumHealth: &models.Status{State: models.StatusStateOk, Msg: "Health check module disabled"},
			Self:         "default/" + node,
		},
		CniChaining:  &models.CNIChainingStatus{Mode: "generic-veth"},
		CniFile:      &models.Status{State: models.StatusStateOk, Msg: "/host/etc/cni/net.d/05-cilium.conflist"},
		DatapathMode: models.DatapathModeVeth,
		Encryption:   &models.EncryptionStatus{Mode: models.EncryptionStatusModeDisabled},
		HostFirewall: &models.HostFirewall{Mode: models.HostFirewallModeDisabled},
		Hubble:       &models.HubbleStatus{State: models.HubbleStatusStateDisabled},
		IdentityRange: &models.IdentityRange{
			MinIdentity: 256, MaxIdentity: 65535,
		},
		Ipam:                 &models.IPAMStatus{IPV4: []string{}, Status: "IPv4: 0/254 allocated from 10.0.0.0/24, "},
		KubeProxyReplacement: kpr,
		Kubernetes:           kube,
		Kvstore:              &models.Status{State: models.StatusStateOk, Msg: "Disabled"},
		Masquerading: &models.Masquerading{
			Enabled: true, Mode: models.MasqueradingModeIptables,
			EnabledProtocols: &models.MasqueradingEnabledProtocols{IPV4: true},
		},
		NodeMonitor: &models.MonitorStatus{Cpus: 2, Npages: 64, Pagesize: 4096},
		Proxy:       &models.ProxyStatus{IP: "10.0.0.1", PortRange: "10000-20000", EnvoyDeploymentMode: "embedded"},
		Routing: &models.Routing{
			InterHostRoutingMode: models.RoutingInterHostRoutingModeTunnel,
			IntraHostRoutingMode: models.RoutingIntraHostRoutingModeLegacy,
			TunnelProtocol:       "vxlan",
		},
	}
}

func buildServiceList(ctx context.Context) ([]*models.Service, error) {
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
func ciliumServices(ports []ServicePort, nodeIPs []string, node string) []*models.Service {
	var out []*models.Service
	id := int64(0)
	add := func(sp ServicePort, ip string, port int32, typ string, local bool) {
		id++
		bes := []*models.BackendAddress{}
		for _, b := range sp.Backends {
			if local && b.NodeName != node {
				continue
			}
			ip, w := b.IP, uint16(100) // Cilium's default backend weight
			if sp.Break == "wrong-backend" {
				ip = unusedBackend
			}
			bes = append(bes, &models.BackendAddress{
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
		spec := &models.ServiceSpec{
			ID: id,
			FrontendAddress: &models.FrontendAddress{
				IP: ip, Port: uint16(port), Protocol: string(sp.Protocol), Scope: models.FrontendAddressScopeExternal,
			},
			BackendAddresses: bes,
			Flags: &models.ServiceSpecFlags{
				Type: typ, TrafficPolicy: ext, ExtTrafficPolicy: ext, IntTrafficPolicy: intp,
				Name: sp.Name, Namespace: sp.Namespace,
			},
		}
		out = append(out, &models.Service{Spec: spec, Status: &models.ServiceStatus{Realized: spec}})
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

// printServiceList replicates cilium-dbg/cmd/service_list.go at 1.18.8
// (that package cannot be imported): tabwriter(5,0,3), every cell
// tab-terminated, rows sorted by ID, extra backends on continuation rows.
// Addresses print as L3n4Addr.String() does for IPv4 with external scope:
// "IP:port/PROTO" (1.17+).
func printServiceList(w *tabwriter.Writer, list []*models.Service) {
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

// HangAnnotation on a node makes the Cilium CLI stand-in on that node sleep
// this long (a Go duration) before it answers: an agent exec that hangs,
// for the fault tests (test/e2e/faults_test.go).
const HangAnnotation = "lab.kubectl-kpr.io/standin-hang"

func hangIfAsked() {
	cs, err := clientset()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := cs.CoreV1().Nodes().Get(ctx, os.Getenv("KPR_LAB_NODE"), metav1.GetOptions{})
	if err != nil {
		return
	}
	if d, err := time.ParseDuration(n.Annotations[HangAnnotation]); err == nil && d > 0 {
		time.Sleep(d)
	}
}
