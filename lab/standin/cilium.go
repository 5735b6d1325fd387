package main

// The Cilium agent CLI stand-in (`cilium-dbg` / `cilium` in the
// cilium-agent container of a Cilium node). It speaks one of several
// Cilium releases, chosen per node by kwok's ClusterExec environment:
//
//   - KPR_LAB_CILIUM_VERSION: the release (default DefaultCiliumVersion);
//     CiliumReleases have a renderer.
//   - KPR_LAB_CILIUM_KPR_MODE: the kube-proxy-replacement mode the agent
//     reports, one of the release's (release.kprModes); empty is its full
//     mode (Strict up to 1.13, True from 1.14).
//
// This module does not import Cilium. It computes, at exec time, a
// version-neutral JSON document shaped for the release (statusDoc,
// servicesDoc: the node's real interfaces, the API server's version, the
// cluster's Services and EndpointSlices, the standin-break annotations)
// and execs that release's renderer,
// <dir of the resolved executable>/cilium-render/<version>, which
// unmarshals it into the release's own api/v1/models and prints it with the
// release's code (lab/standin/releases, built by lab/standin/build.sh):
//
//	cilium-render/<version> status text|verbose|json   <status document
//	cilium-render/<version> service-list text|json     <service list document
//	cilium-render/<version> version text|json
//
// Its stdout, stderr and exit code are the CLI's.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ciliumCLI(name string, args []string) int {
	rel, err := parseRelease(envOr("KPR_LAB_CILIUM_VERSION", DefaultCiliumVersion))
	if err != nil {
		fmt.Fprintf(os.Stderr, "kpr lab stand-in: %v\n", err)
		return 1
	}
	if !rel.hasCLI(name) {
		return notFound(name)
	}
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
	format := "text"
	if output == "json" {
		format = "json"
	}
	hangIfAsked()
	cmd := strings.Join(positional, " ")
	if cmd == "version" {
		return render(rel, "version", format, nil)
	}
	if cmd != "status" && cmd != "service list" && cmd != "service ls" {
		fmt.Fprintf(os.Stderr, "Error: the kpr lab's %s stand-in only answers `status`, `service list` and `version` (got %q)\n", name, cmd)
		return 1
	}
	mode, level, err := rel.kprMode(os.Getenv("KPR_LAB_CILIUM_KPR_MODE"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "kpr lab stand-in: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if cmd == "status" {
		doc, err := buildStatus(rel, mode, level)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%v\nIs the agent running?\n", err)
			return 1
		}
		if format == "text" && verbose {
			format = "verbose"
		}
		return render(rel, "status", format, doc)
	}
	list, err := buildServiceList(ctx, rel, level)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: Cannot get services list: %v\n", err)
		return 1
	}
	return render(rel, "service-list", format, list)
}

// executable is os.Executable; tests point it elsewhere.
var executable = os.Executable

// rendererPath is where build.sh puts the release's renderer: next to the
// stand-in binary the cilium-dbg/cilium symlinks resolve to.
func rendererPath(rel release) (string, error) {
	exe, err := executable()
	if err != nil {
		return "", err
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(exe), "cilium-render", rel.Version), nil
}

// render execs the release's renderer with the document on stdin; its
// stdout, stderr and exit code are the CLI's.
func render(rel release, what, format string, doc any) int {
	path, err := rendererPath(rel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kpr lab stand-in: locating the Cilium %s renderer: %v\n", rel.Version, err)
		return 1
	}
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		fmt.Fprintf(os.Stderr, "kpr lab stand-in: no Cilium %s renderer at %s: build it with `lab/standin/build.sh %s` (lab.sh up does; releases with a renderer: %s)\n",
			rel.Version, path, filepath.Dir(filepath.Dir(path)), strings.Join(CiliumReleases, ", "))
		return 1
	}
	in := []byte("null")
	if doc != nil {
		if in, err = json.Marshal(doc); err != nil {
			fmt.Fprintf(os.Stderr, "kpr lab stand-in: %v\n", err)
			return 1
		}
	}
	c := exec.Command(path, what, format)
	c.Stdin, c.Stdout, c.Stderr = bytes.NewReader(in), os.Stdout, os.Stderr
	err = c.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		return exit.ExitCode()
	}
	fmt.Fprintf(os.Stderr, "kpr lab stand-in: running %s: %v\n", path, err)
	return 1
}

// buildStatus is the status document: what an agent of that release with
// the lab's configuration (kube-proxy-replacement per mode, chaining mode
// generic-veth, socket LB in host namespaces only) reports, with the node's
// real devices and the API server's real version.
func buildStatus(rel release, mode string, level int) (map[string]any, error) {
	devs, err := nodeDevices()
	if err != nil {
		return nil, err
	}
	return statusDoc(rel, mode, level, devs, kubeStatus(), os.Getenv("KPR_LAB_NODE")), nil
}

func kubeStatus() map[string]any {
	kube := map[string]any{"state": "Ok", "k8s-api-versions": []string{
		"EndpointSliceOrEndpoint", "cilium/v2::CiliumClusterwideNetworkPolicy", "cilium/v2::CiliumEndpoint",
		"cilium/v2::CiliumNetworkPolicy", "cilium/v2::CiliumNode", "core/v1::Namespace", "core/v1::Pods",
		"core/v1::Service", "discovery/v1::EndpointSlice", "networking.k8s.io/v1::NetworkPolicy",
	}}
	if cs, err := clientset(); err == nil {
		if v, err := cs.Discovery().ServerVersion(); err == nil {
			kube["msg"] = fmt.Sprintf("%s.%s (%s) [linux/amd64]", v.Major, strings.TrimSuffix(v.Minor, "+"), v.GitVersion)
		} else {
			kube["state"], kube["msg"] = "Failure", err.Error()
		}
	} else {
		kube["state"], kube["msg"] = "Failure", err.Error()
	}
	return kube
}

// statusDoc is models.StatusResponse as JSON, with every field any of the
// releases knows; each release's model keeps its own. Per release: the
// mode names, the deviceList padding (1.15+), socket LB as "host reachable
// services" (up to 1.12), socket LB tracing (1.13+), graceful termination
// (up to 1.17), the annotations list (1.17+): the features the agent's
// getKubeProxyReplacementStatus sets in that release. Per feature level: off
// enables no service feature; partial and full enable the ones the lab's
// agent has (NodePort SNAT, random selection, host port, external IPs,
// session affinity, socket LB); socket LB in host namespaces only is the
// lab's cilium-config in every mode.
func statusDoc(rel release, mode string, level int, devs []Device, kube map[string]any, node string) map[string]any {
	on := level != kprOff
	devNames, devList := []string{}, []map[string]any{}
	for _, d := range devs {
		devList = append(devList, map[string]any{"name": d.Name, "ip": rel.deviceIPs(d)})
		devNames = append(devNames, d.Name)
	}
	np := map[string]any{}
	if on {
		np = map[string]any{
			"enabled": true, "mode": "SNAT", "algorithm": "Random", "acceleration": "Disabled",
			"portMin": 30000, "portMax": 32767,
		}
	}
	features := map[string]any{
		"nodePort":        np,
		"hostPort":        map[string]any{"enabled": on},
		"externalIPs":     map[string]any{"enabled": on},
		"sessionAffinity": map[string]any{"enabled": on},
		"socketLB":        map[string]any{"enabled": on},
		"socketLBTracing": map[string]any{"enabled": on && rel.Minor >= 13},
		"nat46X64":        map[string]any{},
		// The config value (cilium-config bpf-lb-sock-hostns-only: "true"),
		// whatever the mode.
		"bpfSocketLBHostnsOnly": true,
	}
	if rel.Minor <= 12 {
		// Socket LB was also reported as "host reachable services".
		features["hostReachableServices"] = map[string]any{}
		if on {
			features["hostReachableServices"] = map[string]any{"enabled": true, "protocols": []string{"TCP", "UDP"}}
		}
	}
	if rel.Minor <= 17 {
		// Terminating endpoints (enable-k8s-terminating-endpoint, on by
		// default), whatever the mode; the 1.18 agent no longer reports it.
		features["gracefulTermination"] = map[string]any{"enabled": true}
	}
	if on && rel.Minor >= 17 {
		features["annotations"] = []string{
			"service.cilium.io/node", "service.cilium.io/node-selector",
			"service.cilium.io/proxy-delegation", "service.cilium.io/src-ranges-policy",
			"service.cilium.io/type",
		}
	}
	kpr := map[string]any{"mode": mode, "devices": devNames, "deviceList": devList, "features": features}
	if len(devs) > 0 {
		kpr["directRoutingDevice"] = devs[0].Name
	}
	return map[string]any{
		"attach-mode":       "tcx",
		"bandwidth-manager": map[string]any{},
		"cilium":            map[string]any{"state": "Ok", "msg": fmt.Sprintf("%s (v%s-standin)", rel.Version, rel.Version)},
		"clock-source":      map[string]any{"mode": "ktime"},
		"cluster": map[string]any{
			"ciliumHealth": map[string]any{"state": "Ok", "msg": "Health check module disabled"},
			"self":         "default/" + node,
		},
		"cni-chaining":           map[string]any{"mode": "generic-veth"},
		"cni-file":               map[string]any{"state": "Ok", "msg": "/host/etc/cni/net.d/05-cilium.conflist"},
		"datapath-mode":          "veth",
		"encryption":             map[string]any{"mode": "Disabled"},
		"host-firewall":          map[string]any{"mode": "Disabled"},
		"hubble":                 map[string]any{"state": "Disabled"},
		"identity-range":         map[string]any{"min-identity": 256, "max-identity": 65535},
		"ipam":                   map[string]any{"ipv4": []string{}, "status": "IPv4: 0/254 allocated from 10.0.0.0/24, "},
		"kube-proxy-replacement": kpr,
		"kubernetes":             kube,
		"kvstore":                map[string]any{"state": "Ok", "msg": "Disabled"},
		"masquerading": map[string]any{
			"enabled": true, "mode": "iptables", "enabledProtocols": map[string]any{"ipv4": true},
		},
		"nodeMonitor": map[string]any{"cpus": 2, "npages": 64, "pagesize": 4096},
		"proxy":       map[string]any{"ip": "10.0.0.1", "port-range": "10000-20000", "envoy-deployment-mode": "embedded"},
		"routing": map[string]any{
			"inter-host-routing-mode": "Tunnel", "intra-host-routing-mode": "Legacy", "tunnel-protocol": "vxlan",
		},
	}
}

func buildServiceList(ctx context.Context, rel release, level int) ([]map[string]any, error) {
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
	return servicesDoc(rel, level, servicePorts(snap), nodeIPv4s(devs), os.Getenv("KPR_LAB_NODE")), nil
}

// servicesDoc is []*models.Service as JSON: the frontends the agent's
// GET /service lists for the Services. One per ClusterIP; with the service
// features on (not in an off mode), the 0.0.0.0 NodePort surrogate and, up
// to 1.17 only (release.listsNodePortAddresses), one NodePort frontend per
// node address; one per externalIP and LoadBalancer ingress IP. Before 1.17
// TCP and UDP on one address and port are one frontend (the first Service
// port's).
func servicesDoc(rel release, level int, ports []ServicePort, nodeIPs []string, node string) []map[string]any {
	out := []map[string]any{}
	seen := map[string]bool{}
	id := 0
	add := func(sp ServicePort, ip string, port int32, typ string, local bool) bool {
		key := fmt.Sprintf("%s:%d", ip, port)
		if !rel.mergesProtocols() {
			key += "/" + string(sp.Protocol)
		}
		if seen[key] {
			return false
		}
		seen[key] = true
		id++
		bes := []map[string]any{}
		for _, b := range sp.Backends {
			if local && b.NodeName != node {
				continue
			}
			ip := b.IP
			if sp.Break == "wrong-backend" {
				ip = unusedBackend
			}
			be := map[string]any{
				"ip": ip, "port": b.Port, "preferred": true, "protocol": string(sp.Protocol),
				"state": b.State, "weight": 100, // Cilium's default backend weight
			}
			if b.NodeName != "" {
				be["nodeName"] = b.NodeName
			}
			bes = append(bes, be)
		}
		ext, intp := "Cluster", "Cluster"
		if sp.ExtLocal {
			ext = "Local"
		}
		if sp.IntLocal {
			intp = "Local"
		}
		spec := map[string]any{
			"id": id,
			"frontend-address": map[string]any{
				"ip": ip, "port": port, "protocol": string(sp.Protocol), "scope": "external",
			},
			"backend-addresses": bes,
			"flags": map[string]any{
				"type": typ, "trafficPolicy": ext, "extTrafficPolicy": ext, "intTrafficPolicy": intp,
				"natPolicy": "None", "name": sp.Name, "namespace": sp.Namespace,
			},
		}
		out = append(out, map[string]any{"spec": spec, "status": map[string]any{"realized": spec}})
		return true
	}
	for _, sp := range ports {
		if sp.Break != "missing-frontend" {
			for _, ip := range sp.ClusterIPs {
				add(sp, ip, sp.Port, "ClusterIP", false)
			}
		}
		if level == kprOff {
			continue
		}
		if sp.NodePort != 0 {
			if rel.listsNodePortAddresses() {
				for _, ip := range nodeIPs {
					add(sp, ip, sp.NodePort, "NodePort", sp.ExtLocal)
				}
				add(sp, "0.0.0.0", sp.NodePort, "NodePort", sp.ExtLocal)
			} else if add(sp, "0.0.0.0", sp.NodePort, "NodePort", sp.ExtLocal) {
				// The BPF reconciler gives the surrogate its ID, then one to
				// each node address's frontend, which only the BPF maps
				// hold: the listed IDs have gaps.
				id += len(nodeIPs)
			}
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
