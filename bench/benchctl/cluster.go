package main

import (
	"fmt"
	"net/netip"
)

// The lab's deterministic layout, shared by setup (API objects) and
// fixtures (the agents' service table), so that what the agents report
// matches what the API server holds.
const (
	appsNamespace   = "bench-apps"
	hangNamespace   = "cilium-hang"
	hangLabel       = "kpr-bench/hang"
	kubeProxyLabel  = "kpr-bench/kube-proxy"
	backendsPerSvc  = 2
	servicePort     = 80
	backendPort     = 8080
	kernelVersion   = "6.8.0-60-generic"
	osImage         = "Ubuntu 24.04.2 LTS"
	defaultServices = 300
)

func nodeName(i int) string { return fmt.Sprintf("node-%04d", i) }

// hangs reports whether node i is one of the agents made to hang: every
// 20th node (5%), never the first, whose agent namespace kpr takes as
// Cilium's.
func hangs(i int) bool { return i%20 == 7 }

// runsKubeProxy: a slice of the nodes (every 10th) also runs kube-proxy,
// as during a migration.
func runsKubeProxy(i int) bool { return i%10 == 3 }

// benchService is one Service the lab creates and the agents report.
type benchService struct {
	Name      string
	ClusterIP netip.Addr
	Backends  []netip.Addr
}

// benchServices returns n Services with fixed ClusterIPs from 10.96.1.1 on
// (inside the lab's service CIDR 10.96.0.0/12, clear of the `kubernetes`
// Service's 10.96.0.1) and backends in 10.244.0.0/16.
func benchServices(n int) []benchService {
	out := make([]benchService, n)
	for i := range out {
		s := benchService{
			Name:      fmt.Sprintf("svc-%04d", i),
			ClusterIP: netip.AddrFrom4([4]byte{10, 96, byte(1 + i/250), byte(1 + i%250)}),
		}
		for b := 0; b < backendsPerSvc; b++ {
			k := i*backendsPerSvc + b
			s.Backends = append(s.Backends, netip.AddrFrom4([4]byte{10, 244, byte(k / 250), byte(1 + k%250)}))
		}
		out[i] = s
	}
	return out
}
