package reconcile

import (
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/cilium"
)

// FuzzReconcile feeds arbitrary strings where addresses, protocols and
// types go, on both sides: reconcile must never panic, and every problem
// must belong to a frontend it reports. Seeds: testdata/fuzz/FuzzReconcile.
func FuzzReconcile(f *testing.F) {
	f.Add("10.96.0.10", "TCP", "NodePort", "Local", "192.168.1.10", "10.0.1.5", "10.96.0.10", uint16(80), "TCP", "ClusterIP", "10.0.1.5:8080", "active", false)
	f.Add("fd00::10", "", "LoadBalancer", "", "fd00:1::1", "fd00:2::5", "::", uint16(30080), "", "NodePort", "[fd00:2::5]:8080", "", true)
	f.Add("None", "udp", "ExternalName", "Cluster", "garbage", "::ffff:10.0.0.1", "0.0.0.0", uint16(0), "ANY", "HostPort", "1.2.3.4", "quarantined", false)
	f.Fuzz(func(t *testing.T, svcIP, svcProto, svcType, etp, nodeAddr, epAddr, feIP string, fePort uint16, feProto, feType, backend, state string, internal bool) {
		s := Service{Namespace: "ns", Name: "svc", Type: svcType, ClusterIPs: []string{svcIP}, ExternalIPs: []string{feIP},
			LoadBalancerIngress: []LBIngress{{IP: feIP}}, ExternalTrafficPolicy: etp, InternalTrafficPolicy: etp,
			HealthCheckNodePort: int32(fePort), Ports: []ServicePort{{Name: "p", Protocol: svcProto, Port: int32(fePort), NodePort: int32(fePort)}}}
		sl := EndpointSlice{Namespace: "ns", Service: "svc", Ports: []EndpointPort{{Name: "p", Protocol: svcProto, Port: 8080}},
			Endpoints: []Endpoint{{Addresses: []string{epAddr}, NodeName: "n"}}}
		ix := NewIndex([]Service{s}, []EndpointSlice{sl})
		agent := []cilium.Service{{IP: feIP, Port: fePort, Frontend: feIP, Protocol: feProto, Type: feType, Internal: internal,
			Backends: []cilium.Backend{{Address: backend, State: state}}}}
		for _, opts := range []Options{{}, {Namespace: "other"}, {IgnoreProtocol: true}, {AgentVersion: "1.16.19"}, {AgentVersion: "1.18.8"}} {
			r := ix.Reconcile(Node{Name: "n", Addresses: []string{nodeAddr}}, agent, opts)
			fronts := map[string]bool{}
			for _, fc := range r.Frontends {
				fronts[fc.Frontend] = true
			}
			for _, p := range r.Problems {
				if !fronts[p.Frontend] {
					t.Fatalf("problem %+v for a frontend not reported", p)
				}
			}
			// Mismatch may also count NodePorts on addresses not expected.
			if c := r.Counts; c.OK+c.Missing > c.Expected || c.OK+c.Missing+c.Mismatch < c.Expected {
				t.Fatalf("counts do not add up: %+v", r.Counts)
			}
		}
	})
}
