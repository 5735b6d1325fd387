package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// BreakAnnotation on a Service makes the Cilium stand-in report it wrongly,
// so tests can check that kpr notices. Values: "missing-frontend" (its
// ClusterIP frontend is left out) or "wrong-backend" (its backends are
// replaced by an address nothing answers on).
const BreakAnnotation = "lab.kubectl-kpr.io/standin-break"

// unusedBackend is inside the lab subnet and never assigned.
const unusedBackend = "172.30.0.250"

// Snapshot is the cluster state the stand-ins work from.
type Snapshot struct {
	ServerVersion string
	Services      []corev1.Service
	Slices        []discoveryv1.EndpointSlice
}

func clientset() (*kubernetes.Clientset, error) {
	path := os.Getenv("KPR_LAB_KUBECONFIG")
	if path == "" {
		return nil, fmt.Errorf("KPR_LAB_KUBECONFIG is not set (the lab sets it for kwok)")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, err
	}
	cfg.Timeout = 10 * time.Second
	return kubernetes.NewForConfig(cfg)
}

func loadSnapshot(ctx context.Context, cs kubernetes.Interface, withVersion bool) (*Snapshot, error) {
	snap := &Snapshot{}
	svcs, err := cs.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	slices, err := cs.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list endpointslices: %w", err)
	}
	snap.Services, snap.Slices = svcs.Items, slices.Items
	if withVersion {
		if v, err := cs.Discovery().ServerVersion(); err == nil {
			snap.ServerVersion = v.GitVersion
		}
	}
	return snap, nil
}

// Backend is one ready endpoint of a Service port.
type Backend struct {
	IP       string
	Port     int32
	NodeName string
	State    string
}

// ServicePort is one port of one Service with what implements it.
type ServicePort struct {
	Namespace, Name string
	Type            corev1.ServiceType
	Protocol        corev1.Protocol
	ClusterIPs      []string
	Port            int32
	NodePort        int32
	ExternalIPs     []string
	LBIngress       []string
	ExtLocal        bool
	IntLocal        bool
	// Affinity: sessionAffinity ClientIP, for AffinitySeconds.
	Affinity        bool
	AffinitySeconds int32
	Break           string
	Backends        []Backend
}

// servicePorts joins Services with their EndpointSlices, sorted by
// namespace, name and port so IDs are stable between calls.
func servicePorts(snap *Snapshot) []ServicePort {
	type key struct{ ns, svc string }
	slicesBySvc := map[key][]discoveryv1.EndpointSlice{}
	for _, s := range snap.Slices {
		name := s.Labels[discoveryv1.LabelServiceName]
		if name == "" || s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		k := key{s.Namespace, name}
		slicesBySvc[k] = append(slicesBySvc[k], s)
	}
	var out []ServicePort
	for _, svc := range snap.Services {
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		for _, p := range svc.Spec.Ports {
			sp := ServicePort{
				Namespace: svc.Namespace, Name: svc.Name, Type: svc.Spec.Type,
				Protocol: p.Protocol, Port: p.Port, NodePort: p.NodePort,
				ExternalIPs: svc.Spec.ExternalIPs,
				ExtLocal:    svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal,
				IntLocal:    svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal,
				Affinity:    svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP,
				Break:       svc.Annotations[BreakAnnotation],
			}
			if sp.Affinity {
				// The API's default, as the agents apply it.
				sp.AffinitySeconds = 10800
				if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
					sp.AffinitySeconds = *c.ClientIP.TimeoutSeconds
				}
			}
			if sp.Protocol == "" {
				sp.Protocol = corev1.ProtocolTCP
			}
			for _, ip := range svc.Spec.ClusterIPs {
				if ip != corev1.ClusterIPNone && net.ParseIP(ip).To4() != nil {
					sp.ClusterIPs = append(sp.ClusterIPs, ip)
				}
			}
			for _, ing := range svc.Status.LoadBalancer.Ingress {
				if ing.IP != "" {
					sp.LBIngress = append(sp.LBIngress, ing.IP)
				}
			}
			for _, sl := range slicesBySvc[key{svc.Namespace, svc.Name}] {
				sp.Backends = append(sp.Backends, backendsFor(sl, p)...)
			}
			sort.Slice(sp.Backends, func(i, j int) bool {
				return sp.Backends[i].IP+fmt.Sprint(sp.Backends[i].Port) < sp.Backends[j].IP+fmt.Sprint(sp.Backends[j].Port)
			})
			out = append(out, sp)
		}
	}
	// Stable: ports that differ only by protocol keep the Service's order
	// (before 1.17 Cilium makes one frontend of them, the first's).
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Port < b.Port
	})
	return out
}

// backendsFor picks the slice endpoints that serve port p, as kube-proxy
// and Cilium do: by port name and protocol.
func backendsFor(sl discoveryv1.EndpointSlice, p corev1.ServicePort) []Backend {
	var port int32 = -1
	for _, ep := range sl.Ports {
		name, proto := "", corev1.ProtocolTCP
		if ep.Name != nil {
			name = *ep.Name
		}
		if ep.Protocol != nil {
			proto = *ep.Protocol
		}
		pproto := p.Protocol
		if pproto == "" {
			pproto = corev1.ProtocolTCP
		}
		if name == p.Name && proto == pproto && ep.Port != nil {
			port = *ep.Port
		}
	}
	if port < 0 {
		return nil
	}
	var out []Backend
	for _, ep := range sl.Endpoints {
		ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
		serving := ep.Conditions.Serving == nil || *ep.Conditions.Serving
		terminating := ep.Conditions.Terminating != nil && *ep.Conditions.Terminating
		state := ""
		switch {
		case ready:
			state = "active"
		case serving && terminating:
			state = "terminating"
		default:
			continue
		}
		node := ""
		if ep.NodeName != nil {
			node = *ep.NodeName
		}
		for _, a := range ep.Addresses {
			out = append(out, Backend{IP: a, Port: port, NodeName: node, State: state})
		}
	}
	return out
}

// Device is a network interface of this node with its addresses.
type Device struct {
	Name  string
	Addrs []string // IPv4 first, then IPv6, as the kernel lists them
}

// nodeDevices lists the node's interfaces that Cilium would pick as
// devices: up, not loopback, with a global unicast address. In the lab that
// is the node's veth (eth0).
func nodeDevices() ([]Device, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []Device
	for _, itf := range ifs {
		if itf.Flags&net.FlagUp == 0 || itf.Flags&net.FlagLoopback != 0 || strings.HasPrefix(itf.Name, "kpr-") {
			continue
		}
		addrs, err := itf.Addrs()
		if err != nil {
			continue
		}
		var v4, v6 []string
		global := false
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			if ipn.IP.IsGlobalUnicast() {
				global = true
			}
			if ipn.IP.To4() != nil {
				v4 = append(v4, ipn.IP.String())
			} else {
				v6 = append(v6, ipn.IP.String())
			}
		}
		if global {
			out = append(out, Device{Name: itf.Name, Addrs: append(v4, v6...)})
		}
	}
	return out, nil
}

func nodeIPv4s(devs []Device) []string {
	var out []string
	for _, d := range devs {
		for _, a := range d.Addrs {
			if ip := net.ParseIP(a); ip != nil && ip.To4() != nil {
				out = append(out, a)
			}
		}
	}
	return out
}
