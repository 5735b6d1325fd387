package cilium

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// fixtureRelease is one testdata/v<release>/ directory written by
// tools/fixturegen (see its README.md for how each file was made).
type fixtureRelease struct {
	dir     string
	version string // "1.16.19"
	minor   int
}

func fixtureReleases(t testing.TB) []fixtureRelease {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", "v1.*"))
	if err != nil {
		t.Fatal(err)
	}
	var out []fixtureRelease
	for _, d := range dirs {
		ver := strings.TrimPrefix(filepath.Base(d), "v")
		minor, err := strconv.Atoi(strings.Split(ver, ".")[1])
		if err != nil {
			t.Fatalf("bad fixture dir %s", d)
		}
		out = append(out, fixtureRelease{dir: d, version: ver, minor: minor})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].minor < out[j].minor })
	if len(out) == 0 {
		t.Fatal("no fixtures in testdata/v1.*")
	}
	return out
}

// TestFixtureCoverage: one release per minor from 1.10 to 1.20, each with
// its provenance sidecar.
func TestFixtureCoverage(t *testing.T) {
	minors := map[int]bool{}
	for _, rel := range fixtureReleases(t) {
		minors[rel.minor] = true
		if _, err := os.Stat(filepath.Join(rel.dir, "README.md")); err != nil {
			t.Errorf("%s has no README.md saying how its fixtures were made", rel.dir)
		}
	}
	for m := 10; m <= 20; m++ {
		if !minors[m] {
			t.Errorf("no fixtures for Cilium 1.%d", m)
		}
	}
}

func readFixture(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scenarioMode maps the fixture scenario name to the mode it renders.
var scenarioMode = map[string]string{
	"kpr-strict": "Strict", "kpr-true": "True", "kpr-false": "False",
	"kpr-disabled": "Disabled", "kpr-partial": "Partial", "kpr-probe": "Probe",
}

var statusFileRe = regexp.MustCompile(`^status-(kpr-[a-z]+)(-verbose)?\.(txt|json)$`)

// wantDevices is the node the generator describes: eth0 with IPv4+IPv6 as
// the direct-routing device, eth1 with one IPv4.
func wantDevices() []Device {
	return []Device{
		{Name: "eth0", Addresses: []string{"10.0.0.11", "fd00:10::11"}, DirectRouting: true},
		{Name: "eth1", Addresses: []string{"192.168.50.11"}},
	}
}

func TestParseStatusFixtures(t *testing.T) {
	seen := 0
	for _, rel := range fixtureReleases(t) {
		files, _ := filepath.Glob(filepath.Join(rel.dir, "status-*"))
		if len(files) < 6 {
			t.Fatalf("%s: expected at least 2 scenarios × 3 renderings, found %d files", rel.dir, len(files))
		}
		for _, path := range files {
			m := statusFileRe.FindStringSubmatch(filepath.Base(path))
			if m == nil {
				t.Fatalf("unexpected fixture %s", path)
			}
			scenario, verbose, format := m[1], m[2] != "", m[3]
			t.Run(rel.version+"/"+filepath.Base(path), func(t *testing.T) {
				seen++
				st, err := ParseStatus(readFixture(t, path))
				if err != nil {
					t.Fatalf("ParseStatus: %v", err)
				}
				checkStatus(t, rel, scenario, verbose, format, st)
			})
		}
	}
	if seen < 60 {
		t.Errorf("only %d status fixtures checked", seen)
	}
}

func checkStatus(t *testing.T, rel fixtureRelease, scenario string, verbose bool, format string, st *Status) {
	t.Helper()
	mode := scenarioMode[scenario]
	if want := map[string]string{"txt": "text", "json": "json"}[format]; st.Format != want {
		t.Errorf("Format = %q, want %q", st.Format, want)
	}
	if st.Version != rel.version {
		t.Errorf("Version = %q, want %q", st.Version, rel.version)
	}
	if st.CiliumState != "Ok" || st.KubernetesState != "Ok" {
		t.Errorf("states = %q/%q, want Ok/Ok", st.CiliumState, st.KubernetesState)
	}
	wantChaining := ""
	if rel.minor >= 12 {
		wantChaining = "none"
		if mode == "False" || mode == "Disabled" || mode == "Partial" {
			wantChaining = "generic-veth"
		}
	}
	if st.CNIChaining != wantChaining {
		t.Errorf("CNIChaining = %q, want %q", st.CNIChaining, wantChaining)
	}
	kpr := st.KubeProxyReplacement
	if kpr == nil {
		t.Fatal("KubeProxyReplacement is nil")
	}
	if kpr.Mode != mode {
		t.Errorf("Mode = %q, want %q", kpr.Mode, mode)
	}
	if want := Replacement(mode); kpr.ReplacesKubeProxy != want {
		t.Errorf("ReplacesKubeProxy = %q, want %q", kpr.ReplacesKubeProxy, want)
	}
	// The text omits devices when the mode is Disabled (≤1.15) / False
	// (1.16+); 1.14/1.15 still list them for False. JSON always has them.
	wantDevs := wantDevices()
	if format == "txt" && (mode == "Disabled" || (mode == "False" && rel.minor >= 16)) {
		wantDevs = []Device{}
	}
	assertDevices(t, kpr.Devices, wantDevs)

	on := mode != "False" && mode != "Disabled"
	if format == "json" || verbose {
		if kpr.NodePort == nil || *kpr.NodePort != on {
			t.Errorf("NodePort = %v, want %v", ptrStr(kpr.NodePort), on)
		}
		if kpr.SocketLB == nil || *kpr.SocketLB != on {
			t.Errorf("SocketLB = %v, want %v", ptrStr(kpr.SocketLB), on)
		}
		if on && kpr.NodePortRange != "30000-32767" {
			t.Errorf("NodePortRange = %q", kpr.NodePortRange)
		}
		// The hostns-only flag exists from 1.14 (model and text).
		if rel.minor >= 14 {
			wantHostns := mode == "Partial" || (mode == "True" && rel.minor >= 16)
			if kpr.SocketLBHostnsOnly == nil || *kpr.SocketLBHostnsOnly != wantHostns {
				t.Errorf("SocketLBHostnsOnly = %v, want %v", ptrStr(kpr.SocketLBHostnsOnly), wantHostns)
			}
		}
	} else if kpr.NodePort != nil || kpr.SocketLB != nil {
		t.Errorf("plain text has no feature lines, got NodePort=%v SocketLB=%v", ptrStr(kpr.NodePort), ptrStr(kpr.SocketLB))
	}
}

func assertDevices(t *testing.T, got, want []Device) {
	t.Helper()
	if got == nil {
		t.Fatal("Devices is nil, want a (possibly empty) list")
	}
	if len(got) != len(want) {
		t.Fatalf("Devices = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].DirectRouting != want[i].DirectRouting ||
			strings.Join(got[i].Addresses, ",") != strings.Join(want[i].Addresses, ",") {
			t.Errorf("Devices[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func ptrStr(b *bool) string {
	if b == nil {
		return "<nil>"
	}
	return strconv.FormatBool(*b)
}

// TestParseStatusSpecific spells out a few fixtures field by field, so a
// reader sees what the generic loop asserts.
func TestParseStatusSpecific(t *testing.T) {
	t.Run("1.10 strict verbose", func(t *testing.T) {
		st, err := ParseStatus(readFixture(t, "testdata/v1.10.0/status-kpr-strict-verbose.txt"))
		if err != nil {
			t.Fatal(err)
		}
		k := st.KubeProxyReplacement
		if st.Version != "1.10.0" || k.Mode != "Strict" || k.ReplacesKubeProxy != ReplacesFull {
			t.Fatalf("got %+v / %+v", st, k)
		}
		// 1.10 has no "Socket LB:" line, only "Socket LB Protocols: TCP, UDP".
		if k.SocketLB == nil || !*k.SocketLB || k.NodePortMode != "DSR" || k.XDPAcceleration != "Disabled" {
			t.Errorf("details: %+v", k)
		}
		if st.CNIChaining != "" {
			t.Errorf("1.10 prints no CNI Chaining, got %q", st.CNIChaining)
		}
	})
	t.Run("1.16 false text lists no devices", func(t *testing.T) {
		st, err := ParseStatus(readFixture(t, "testdata/v1.16.19/status-kpr-false.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if k := st.KubeProxyReplacement; k.Mode != "False" || k.ReplacesKubeProxy != ReplacesNone || len(k.Devices) != 0 {
			t.Errorf("got %+v", k)
		}
		if st.CNIChaining != "generic-veth" {
			t.Errorf("CNIChaining = %q", st.CNIChaining)
		}
	})
	t.Run("1.20 json with empty-address padding", func(t *testing.T) {
		b := readFixture(t, "testdata/v1.20.2/status-kpr-true.json")
		if !strings.Contains(string(b), `""`) {
			t.Fatal("fixture lost the 1.15+ empty-string padding it is meant to exercise")
		}
		st, err := ParseStatus(b)
		if err != nil {
			t.Fatal(err)
		}
		assertDevices(t, st.KubeProxyReplacement.Devices, wantDevices())
		if st.Version != "1.20.2" || st.Format != "json" {
			t.Errorf("got %+v", st)
		}
	})
	t.Run("1.12 probe is partial", func(t *testing.T) {
		st, err := ParseStatus(readFixture(t, "testdata/v1.12.19/status-kpr-probe.json"))
		if err != nil {
			t.Fatal(err)
		}
		if k := st.KubeProxyReplacement; k.Mode != "Probe" || k.ReplacesKubeProxy != ReplacesPartial {
			t.Errorf("got %+v", k)
		}
	})
}

func TestParseServiceListFixtures(t *testing.T) {
	for _, rel := range fixtureReleases(t) {
		var byFormat = map[string][]Service{}
		for _, format := range []string{"json", "txt"} {
			path := filepath.Join(rel.dir, "service-list."+format)
			t.Run(rel.version+"/"+filepath.Base(path), func(t *testing.T) {
				svcs, err := ParseServiceList(readFixture(t, path))
				if err != nil {
					t.Fatalf("ParseServiceList: %v", err)
				}
				byFormat[format] = svcs
				checkServices(t, rel, format, svcs)
			})
		}
		t.Run(rel.version+"/json-equals-text", func(t *testing.T) {
			j, x := byFormat["json"], byFormat["txt"]
			if len(j) != len(x) {
				t.Fatalf("json %d services, text %d", len(j), len(x))
			}
			for i := range j {
				if j[i].ID != x[i].ID || j[i].Frontend != x[i].Frontend || j[i].Type != x[i].Type ||
					j[i].Remote != x[i].Remote || j[i].Internal != x[i].Internal || len(j[i].Backends) != len(x[i].Backends) {
					t.Errorf("service %d: json %+v, text %+v", j[i].ID, j[i], x[i])
					continue
				}
				for k := range j[i].Backends {
					if j[i].Backends[k].Address != x[i].Backends[k].Address || j[i].Backends[k].State != x[i].Backends[k].State {
						t.Errorf("service %d backend %d: json %+v, text %+v", j[i].ID, k, j[i].Backends[k], x[i].Backends[k])
					}
				}
			}
		})
	}
}

func checkServices(t *testing.T, rel fixtureRelease, format string, svcs []Service) {
	t.Helper()
	want := 14 // ids 1–15 with kube-dns TCP+UDP as one frontend
	if rel.minor >= 14 {
		want++ // the remote (ClusterMesh) service
	}
	if rel.minor >= 17 {
		want++ // TCP and UDP on one port are two frontends
	}
	if rel.minor >= 18 {
		want-- // no NodePort row on the node's IPv4 address (id 6)
	}
	if len(svcs) != want {
		t.Fatalf("%d services, want %d", len(svcs), want)
	}
	byID := map[int64]Service{}
	for _, s := range svcs {
		byID[s.ID] = s
	}
	get := func(id int64) Service {
		s, ok := byID[id]
		if !ok {
			t.Fatalf("service %d missing", id)
		}
		return s
	}
	state := func(s string) string {
		if rel.minor < 12 {
			return "" // no backend state before 1.12
		}
		return s
	}
	proto := func(p string) string {
		if format == "txt" && rel.minor < 17 {
			return "" // no /PROTO suffix in text before 1.17
		}
		return p
	}

	dns := get(2)
	if dns.Frontend != "10.96.0.10:53" || dns.IP != "10.96.0.10" || dns.Port != 53 || dns.Protocol != proto("UDP") || dns.Type != "ClusterIP" || len(dns.Backends) != 2 {
		t.Errorf("kube-dns: %+v", dns)
	}
	if rel.minor >= 17 {
		if tcp := get(3); tcp.Protocol != "TCP" || tcp.Frontend != "10.96.0.10:53" {
			t.Errorf("kube-dns/TCP: %+v", tcp)
		}
	} else if _, ok := byID[3]; ok {
		t.Errorf("before 1.17 kube-dns TCP and UDP share one frontend")
	}

	v6 := get(4)
	if v6.Frontend != "[fd00:10:96::a]:80" || v6.IP != "fd00:10:96::a" || len(v6.Backends) != 2 ||
		v6.Backends[1].Address != "[fd00:10:244:2::33]:8080" || v6.Backends[1].State != state("quarantined") {
		t.Errorf("IPv6 service: %+v", v6)
	}

	web := get(5)
	if len(web.Backends) != 3 {
		t.Fatalf("web backends: %+v", web.Backends)
	}
	for i, ws := range []string{"active", "terminating", "maintenance"} {
		if web.Backends[i].State != state(ws) {
			t.Errorf("web backend %d state %q, want %q", i, web.Backends[i].State, state(ws))
		}
	}
	if web.Backends[0].Address != "10.244.1.21:8080" {
		t.Errorf("web backend 0: %+v", web.Backends[0])
	}
	if format == "json" && (web.Namespace != "demo" || web.Name != "web" || web.Backends[0].NodeName != "kind-worker") {
		t.Errorf("json names: %+v", web)
	}

	if s := get(7); s.Frontend != "0.0.0.0:30080" || s.IP != "0.0.0.0" || s.Type != "NodePort" || len(s.Backends) != 3 || s.Protocol != proto("TCP") {
		t.Errorf("NodePort surrogate: %+v", s)
	}
	// Up to 1.17 the NodePort is also listed on each node address; 1.18+
	// lists it on the zero addresses only, and the IDs the node-address
	// frontends took in the BPF maps are gaps.
	if rel.minor <= 17 {
		if s := get(6); s.Frontend != "10.0.0.11:30080" || s.Type != "NodePort" {
			t.Errorf("NodePort on the node address: %+v", s)
		}
		if s := get(8); s.Frontend != "[fd00:10::11]:30080" || s.Type != "NodePort" {
			t.Errorf("NodePort IPv6: %+v", s)
		}
	} else {
		if s, ok := byID[6]; ok {
			t.Errorf("1.18+ lists no NodePort on a node address: %+v", s)
		}
		if s := get(8); s.Frontend != "[::]:30080" || s.IP != "::" || s.Port != 30080 || s.Type != "NodePort" || s.Protocol != "TCP" {
			t.Errorf("NodePort IPv6 surrogate: %+v", s)
		}
		for _, s := range svcs {
			if s.Type == "NodePort" && s.IP != "0.0.0.0" && s.IP != "::" {
				t.Errorf("1.18+ NodePort row on a node address: %+v", s)
			}
		}
	}
	if s := get(9); s.Internal || len(s.Backends) != 1 {
		t.Errorf("eTP=Local external frontend: %+v", s)
	}
	if s := get(10); !s.Internal || s.Frontend != "0.0.0.0:31443" || len(s.Backends) != 2 {
		t.Errorf("internal-scope frontend: %+v", s)
	}
	if s := get(11); s.Type != "LoadBalancer" || s.Frontend != "172.18.255.200:80" {
		t.Errorf("LoadBalancer: %+v", s)
	}
	if s := get(12); s.Type != "ExternalIPs" || s.Frontend != "198.51.100.10:8080" {
		t.Errorf("ExternalIPs: %+v", s)
	}
	if s := get(13); s.Type != "HostPort" {
		t.Errorf("HostPort: %+v", s)
	}
	if s := get(14); s.Type != "LocalRedirect" || s.Protocol != proto("UDP") {
		t.Errorf("LocalRedirect: %+v", s)
	}
	if s := get(15); s.Backends == nil || len(s.Backends) != 0 {
		t.Errorf("no-endpoints service must have an empty, non-nil backend list: %+v", s)
	}
	if rel.minor >= 14 {
		if s := get(16); !s.Remote || s.Type != "ClusterIP" || len(s.Backends) != 1 {
			t.Errorf("remote service: %+v", s)
		}
	}
	for _, s := range svcs {
		if s.Remote && s.ID != 16 {
			t.Errorf("service %d wrongly marked remote", s.ID)
		}
	}
}
