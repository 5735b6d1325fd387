package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// servicesJSON is the part of `kubectl kpr services -o json` the tests read.
type servicesJSON struct {
	Nodes []struct {
		Node        string `json:"node"`
		CiliumAgent *struct {
			Pod string `json:"pod"`
		} `json:"ciliumAgent"`
		Frontends []struct {
			Frontend string `json:"frontend"`
			Type     string `json:"type"`
			Service  string `json:"service"`
			Status   string `json:"status"`
		} `json:"frontends"`
		Problems []struct {
			Code     string `json:"code"`
			Service  string `json:"service"`
			Frontend string `json:"frontend"`
		} `json:"problems"`
		Errors []string `json:"errors"`
	} `json:"nodes"`
	Summary struct {
		Problems int `json:"problems"`
	} `json:"summary"`
}

func TestServicesLabServicesAreCiliumFrontends(t *testing.T) {
	needLab(t)
	var s servicesJSON
	mustJSON(t, kpr(t, "services", "-n", "kube-system", "-o", "json"), &s)
	seen := map[string]bool{}
	for _, n := range s.Nodes {
		seen[n.Node] = true
		if len(n.Errors) > 0 {
			t.Errorf("%s: errors %v", n.Node, n.Errors)
		}
		if m := labScenario[n.Node].mode; m == "False" || m == "Disabled" {
			continue // no NodePort frontends by design: TestScenarioServicesEveryRelease
		}
		ok := map[string]bool{}
		for _, f := range n.Frontends {
			if f.Status == "ok" {
				ok[f.Service+" "+f.Type+" "+f.Frontend] = true
			}
		}
		ip := nodeIPs[n.Node]
		for _, want := range []string{
			"kube-system/nm-nginx ClusterIP 10.96.100.10:80",
			"kube-system/nm-nginx NodePort " + ip + ":30080",
			"kube-system/nm-nginx NodePort 0.0.0.0:30080",
			"kube-system/nm-nginx-ovs ClusterIP 10.96.100.11:80",
			"kube-system/nm-nginx-ovs NodePort " + ip + ":30081",
		} {
			if !ok[want] {
				t.Errorf("%s: frontend %q not found ok; ok frontends: %v", n.Node, want, keys(ok))
			}
		}
		for _, p := range n.Problems {
			t.Errorf("%s: unexpected problem %+v", n.Node, p)
		}
	}
	for _, want := range []string{"node-cilium", "node-stale"} {
		if !seen[want] {
			t.Errorf("services has no entry for %s (agents on node-cilium and node-stale)", want)
		}
	}
	for _, not := range []string{"node-iptables", "node-bare"} {
		if seen[not] {
			t.Errorf("services lists %s, which has no Cilium agent", not)
		}
	}
}

// The Cilium stand-in misreports Services annotated
// lab.kubectl-kpr.io/standin-break (lab/README.md); kpr must say so.
func TestServicesReportsBrokenService(t *testing.T) {
	needLab(t)
	ns := fmt.Sprintf("kpr-e2e-broken-%d", time.Now().UnixNano()%100000)
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
---
apiVersion: v1
kind: Service
metadata:
  name: missing-frontend
  namespace: %[1]s
  annotations:
    lab.kubectl-kpr.io/standin-break: missing-frontend
spec:
  ports:
  - {name: http, port: 80, targetPort: 80}
---
apiVersion: v1
kind: Service
metadata:
  name: wrong-backend
  namespace: %[1]s
  annotations:
    lab.kubectl-kpr.io/standin-break: wrong-backend
spec:
  ports:
  - {name: http, port: 80, targetPort: 80}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: missing-frontend-1
  namespace: %[1]s
  labels:
    kubernetes.io/service-name: missing-frontend
    endpointslice.kubernetes.io/managed-by: kpr-e2e
addressType: IPv4
ports:
- {name: http, port: 80, protocol: TCP}
endpoints:
- addresses: ["172.30.0.11"]
  conditions: {ready: true}
  nodeName: node-cilium
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: wrong-backend-1
  namespace: %[1]s
  labels:
    kubernetes.io/service-name: wrong-backend
    endpointslice.kubernetes.io/managed-by: kpr-e2e
addressType: IPv4
ports:
- {name: http, port: 80, protocol: TCP}
endpoints:
- addresses: ["172.30.0.11"]
  conditions: {ready: true}
  nodeName: node-cilium
`, ns)
	path := t.TempDir() + "/broken.yaml"
	writeFile(t, path, manifest)
	if r := kubectl(t, "apply", "-f", path); r.code != 0 {
		t.Fatalf("creating the broken Services: %s", r)
	}
	t.Cleanup(func() { kubectl(t, "delete", "namespace", ns, "--wait=false") })

	r := kpr(t, "services", "-n", ns, "--node", "node-cilium", "-o", "json", "--exit-code")
	if r.code != 1 {
		t.Errorf("--exit-code with problems: exit %d, want 1", r.code)
	}
	r.code = 0 // the JSON is still printed
	var s servicesJSON
	mustJSON(t, r, &s)
	codes := map[string]bool{}
	for _, n := range s.Nodes {
		for _, p := range n.Problems {
			codes[p.Service+" "+p.Code] = true
		}
	}
	for _, want := range []string{
		ns + "/missing-frontend missing-frontend",
		ns + "/wrong-backend missing-backend",
	} {
		if !codes[want] {
			t.Errorf("problem %q not reported; got %v", want, keys(codes))
		}
	}
	if s.Summary.Problems == 0 {
		t.Errorf("summary.problems = 0, want > 0")
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestServicesTable(t *testing.T) {
	needLab(t)
	r := kpr(t, "services", "-A", "--color", "never")
	if r.code != 0 {
		t.Fatalf("services -A: %s", r)
	}
	for _, want := range []string{"node-cilium", "node-stale"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("services table lacks %s:\n%s", want, r.stdout)
		}
	}
}
