package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestExpandServiceListMatchesLabServices(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "pkg", "interpret", "cilium", "testdata", "v1.20.2", "service-list.json"))
	if err != nil {
		t.Skip("real-code fixture not available:", err)
	}
	b, err := expandServiceList(raw, 3, netip.MustParseAddrPort("127.0.0.1:6443"))
	if err != nil {
		t.Fatal(err)
	}
	var list []struct {
		Status struct {
			Realized struct {
				ID       int `json:"id"`
				Frontend struct {
					IP   string `json:"ip"`
					Port int    `json:"port"`
				} `json:"frontend-address"`
				Backends []struct {
					IP   string `json:"ip"`
					Port int    `json:"port"`
				} `json:"backend-addresses"`
				Flags map[string]any `json:"flags"`
			} `json:"realized"`
		} `json:"status"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 4 {
		t.Fatalf("got %d entries, want kubernetes + 3", len(list))
	}
	k := list[0].Status.Realized
	if k.Frontend.IP != "10.96.0.1" || k.Frontend.Port != 443 || len(k.Backends) != 1 || k.Backends[0].IP != "127.0.0.1" || k.Backends[0].Port != 6443 {
		t.Errorf("kubernetes entry = %+v", k)
	}
	svcs := benchServices(3)
	for i, s := range svcs {
		r := list[i+1].Status.Realized
		if r.ID != i+2 || r.Frontend.IP != s.ClusterIP.String() || r.Frontend.Port != servicePort || r.Flags["name"] != s.Name || r.Flags["namespace"] != appsNamespace {
			t.Errorf("entry %d = %+v, want %s %s", i+1, r, s.Name, s.ClusterIP)
		}
		if len(r.Backends) != backendsPerSvc || r.Backends[1].IP != s.Backends[1].String() || r.Backends[1].Port != backendPort {
			t.Errorf("entry %d backends = %+v, want %v", i+1, r.Backends, s.Backends)
		}
	}
}

func TestBenchServicesAreDistinct(t *testing.T) {
	seen := map[netip.Addr]bool{}
	for _, s := range benchServices(600) {
		for _, a := range append([]netip.Addr{s.ClusterIP}, s.Backends...) {
			if seen[a] {
				t.Fatalf("address %s used twice", a)
			}
			seen[a] = true
		}
		if s.ClusterIP == netip.MustParseAddr("10.96.0.1") {
			t.Fatal("collides with the kubernetes Service")
		}
	}
}

func TestCountAudit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.log")
	lines := `{"stage":"ResponseComplete","verb":"list","userAgent":"kubectl-kpr/v0 (linux/amd64)","objectRef":{"resource":"nodes"}}
{"stage":"ResponseComplete","verb":"get","userAgent":"kubectl-kpr/v0","objectRef":{"resource":"pods","subresource":"exec"}}
{"stage":"ResponseComplete","verb":"create","userAgent":"kubectl-kpr/v0","objectRef":{"resource":"pods","subresource":"exec"}}
{"stage":"ResponseComplete","verb":"get","userAgent":"kubectl-kpr/v0","objectRef":{"resource":"configmaps"}}
{"stage":"ResponseComplete","verb":"list","userAgent":"kubectl/v1.37.2","objectRef":{"resource":"pods"}}
not json
{"stage":"Panic","verb":"list","userAgent":"kubectl-kpr/v0"}
`
	if err := os.WriteFile(p, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := countAudit(p, 0, "kubectl-kpr")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"list": 1, "get": 1, "exec": 2}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	// From an offset: only what came after.
	off := int64(len(lines) - len(`{"stage":"Panic","verb":"list","userAgent":"kubectl-kpr/v0"}`+"\n"))
	got, _ = countAudit(p, off, "kubectl-kpr")
	if len(got) != 0 {
		t.Errorf("after offset: %v, want nothing", got)
	}
}

func TestMedianRun(t *testing.T) {
	runs := []Run{
		{Wall: 3 * time.Second, CPU: time.Second, MaxRSSKB: 30, API: map[string]int{"list": 4}},
		{Wall: 1 * time.Second, CPU: 3 * time.Second, MaxRSSKB: 10, API: map[string]int{"list": 4}},
		{Wall: 2 * time.Second, CPU: 2 * time.Second, MaxRSSKB: 20, API: map[string]int{"list": 5}},
	}
	m := medianRun(runs)
	if m.Wall != 2*time.Second || m.CPU != 2*time.Second || m.MaxRSSKB != 20 || m.API["list"] != 4 {
		t.Errorf("median = %+v", m)
	}
	m = medianRun(runs[:2])
	if m.Wall != 2*time.Second || m.MaxRSSKB != 20 {
		t.Errorf("even median = %+v", m)
	}
}

func TestCheckStatus(t *testing.T) {
	out := []byte(`{"nodes":[{"name":"a","servicesBy":"cilium","errors":[]},{"name":"b","servicesBy":"unknown","errors":["timed out"]}]}`)
	if err := checkStatus(2, 1)(out); err != nil {
		t.Errorf("valid output rejected: %v", err)
	}
	if err := checkStatus(2, 0)(out); err == nil {
		t.Error("an unexpected error row was accepted")
	}
	if err := checkStatus(3, 1)(out); err == nil {
		t.Error("a missing node row was accepted")
	}
	if err := checkStatus(2, 1)([]byte("{")); err == nil {
		t.Error("broken JSON was accepted")
	}
}

func TestGenSysdumpSize(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 5 MB")
	}
	root := filepath.Join("..", "..")
	if _, err := os.Stat(filepath.Join(root, "pkg/interpret/netfilter/testdata/iptables-cilium-kpr-dual.txt")); err != nil {
		t.Skip("netfilter fixtures not available")
	}
	out := t.TempDir()
	err := cmdGenSysdump([]string{"-out", out, "-size", "5000000", "-agents", "4", "-stale", "1",
		"-testdata", filepath.Join(root, "pkg/interpret/cilium/testdata"), "-netfilter-testdata", filepath.Join(root, "pkg/interpret/netfilter/testdata")})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	_ = filepath.Walk(out, func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && !fi.IsDir() {
			total += fi.Size()
		}
		return nil
	})
	if total < 4_950_000 || total > 5_050_000 {
		t.Errorf("wrote %d bytes, want 5 MB ± 1%%", total)
	}
}

// The child's peak RSS must be its own, not the harness's: a child forked
// from a big Go process inherits its RSS high-water mark through exec.
func TestTimeOnceMeasuresTheChild(t *testing.T) {
	if _, err := os.Stat(gnuTime); err != nil {
		t.Skip("GNU time not installed")
	}
	ballast := make([]byte, 96<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	run, stdout, err := timeOnce([]string{"sh", "-c", "echo hi"}, os.Environ(), "", "")
	if err != nil || run.Err != "" {
		t.Fatal(err, run.Err)
	}
	if string(stdout) != "hi\n" {
		t.Errorf("stdout = %q", stdout)
	}
	if run.MaxRSSKB <= 0 || run.MaxRSSKB > 32<<10 {
		t.Errorf("peak RSS of sh = %d KiB, want a few MiB (the harness holds %d MiB)", run.MaxRSSKB, len(ballast)>>20)
	}
	if run.Wall <= 0 {
		t.Errorf("wall = %v", run.Wall)
	}
	_ = ballast[len(ballast)-1]
}

func TestPairedRatio(t *testing.T) {
	a := []Run{{Wall: 12}, {Wall: 20}, {Wall: 9}}
	b := []Run{{Wall: 10}, {Wall: 10}, {Wall: 10}, {Wall: 99}}
	// Ratios 1.2, 2.0, 0.9 (the unpaired 4th run of b is ignored).
	if p, ok := pairedRatio(a, b, wallOf); !ok || p != 1.2 {
		t.Errorf("pairedRatio = %v, %v; want 1.2", p, ok)
	}
	if _, ok := pairedRatio(nil, b, wallOf); ok {
		t.Error("no runs must give no ratio")
	}
}
