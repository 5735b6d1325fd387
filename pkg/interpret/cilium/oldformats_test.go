package cilium

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The status formats kpr used to misread (issue 20, "analyze: formats
// still misread"): the KubeProxyReplacement line of 1.7 and 1.8, which
// carries feature lists (and 1.8's devices in "(…)" or with "(DR)"), 1.9's
// "Protocols:" socket-LB line, and device lists with redacted addresses or
// a dummy direct-routing device. The fixtures in testdata/old-formats/
// are rendered by each release's own pkg/client code (gen/gen.sh, see its
// README.md); the redacted ones are then redacted the way a public issue
// shows it.

func bp(b bool) *bool { return &b }

// oldFormatWant is what kpr must read from one fixture. Pointers left nil
// are not checked; wantNil lists features that must stay "not reported".
type oldFormatWant struct {
	mode, replaces                       string
	devices                              []Device
	nodePort, hostPort, externalIPs, slb *bool
	npMode, npRange, xdp                 string
	hostPortNotReported                  bool
	detailsOnly                          bool // features only in the --verbose block
}

var eth01 = []Device{{Name: "eth0", Addresses: []string{}, DirectRouting: true}, {Name: "eth1", Addresses: []string{}}}

var oldFormatCases = map[string]oldFormatWant{
	// 1.7: features on the line, no devices; 1.7's model has no HostPort.
	"1.7.0-status-kpr-strict.txt": {mode: "Strict", replaces: ReplacesFull, devices: []Device{},
		nodePort: bp(true), externalIPs: bp(true), slb: bp(true), npMode: "SNAT", npRange: "30000-32767", hostPortNotReported: true},
	"1.7.0-status-kpr-probe.txt": {mode: "Probe", replaces: ReplacesPartial, devices: []Device{},
		nodePort: bp(true), externalIPs: bp(true), slb: bp(true), npMode: "DSR", npRange: "30000-32767", hostPortNotReported: true},
	"1.7.0-status-kpr-partial.txt": {mode: "Partial", replaces: ReplacesPartial, devices: []Device{},
		nodePort: bp(false), externalIPs: bp(false), slb: bp(true), hostPortNotReported: true},
	"1.7.0-status-kpr-disabled.txt": {mode: "Disabled", replaces: ReplacesNone, devices: []Device{},
		nodePort: bp(false), externalIPs: bp(false), slb: bp(false), hostPortNotReported: true},
	// 1.8.0-rc1: devices in "(…)", no direct-routing device yet.
	"1.8.0-rc1-status-kpr-strict.txt": {mode: "Strict", replaces: ReplacesFull, devices: []Device{{Name: "eth0", Addresses: []string{}}},
		nodePort: bp(true), hostPort: bp(true), externalIPs: bp(true), slb: bp(true), npMode: "SNAT", npRange: "30000-32767", xdp: "NONE"},
	"1.8.0-rc1-status-kpr-probe.txt": {mode: "Probe", replaces: ReplacesPartial, devices: []Device{{Name: "eth0", Addresses: []string{}}, {Name: "eth1", Addresses: []string{}}},
		nodePort: bp(true), hostPort: bp(true), externalIPs: bp(true), slb: bp(true), npMode: "HYBRID", npRange: "30000-32767", xdp: "NATIVE"},
	// 1.8.0: "[eth0 (DR), eth1]   [features]".
	"1.8.0-status-kpr-strict.txt": {mode: "Strict", replaces: ReplacesFull, devices: eth01,
		nodePort: bp(true), hostPort: bp(true), externalIPs: bp(true), slb: bp(true), npMode: "SNAT", npRange: "30000-32767", xdp: "DISABLED"},
	"1.8.0-status-kpr-probe.txt": {mode: "Probe", replaces: ReplacesPartial, devices: eth01,
		nodePort: bp(true), hostPort: bp(true), externalIPs: bp(true), slb: bp(true), npMode: "HYBRID", xdp: "NATIVE"},
	"1.8.0-status-kpr-partial.txt": {mode: "Partial", replaces: ReplacesPartial, devices: eth01,
		nodePort: bp(false), hostPort: bp(false), externalIPs: bp(false), slb: bp(true)},
	// 1.9: devices only on the line; features in --verbose, where the
	// socket-LB protocols line is "Protocols:".
	"1.9.0-status-kpr-strict.txt":         {mode: "Strict", replaces: ReplacesFull, devices: eth01, detailsOnly: true},
	"1.9.0-status-kpr-strict-verbose.txt": {mode: "Strict", replaces: ReplacesFull, devices: eth01, nodePort: bp(true), hostPort: bp(true), externalIPs: bp(true), slb: bp(true), npMode: "SNAT", npRange: "30000-32767", xdp: "Disabled"},
	"1.9.0-status-kpr-probe.txt":          {mode: "Probe", replaces: ReplacesPartial, devices: eth01, detailsOnly: true},
	"1.9.0-status-kpr-probe-verbose.txt":  {mode: "Probe", replaces: ReplacesPartial, devices: eth01, nodePort: bp(true), slb: bp(true), npMode: "Hybrid", xdp: "Native"},
	"1.9.0-status-kpr-partial.txt":        {mode: "Partial", replaces: ReplacesPartial, devices: eth01, detailsOnly: true},
	"1.9.0-status-kpr-partial-verbose.txt": {mode: "Partial", replaces: ReplacesPartial, devices: eth01,
		nodePort: bp(false), hostPort: bp(false), externalIPs: bp(false), slb: bp(true)},
	"1.9.0-status-kpr-disabled.txt":         {mode: "Disabled", replaces: ReplacesNone, devices: []Device{}, detailsOnly: true},
	"1.9.0-status-kpr-disabled-verbose.txt": {mode: "Disabled", replaces: ReplacesNone, devices: []Device{}, nodePort: bp(false), slb: bp(false)},
	// A dummy device as the direct-routing device: read as printed.
	"1.9.0-status-kpr-strict-dummy0.txt": {mode: "Strict", replaces: ReplacesFull, detailsOnly: true,
		devices: []Device{{Name: "eth0", Addresses: []string{}}, {Name: "dummy0", Addresses: []string{}, DirectRouting: true}}},
	"1.9.0-status-kpr-strict-dummy0-verbose.txt": {mode: "Strict", replaces: ReplacesFull, nodePort: bp(true), slb: bp(true),
		devices: []Device{{Name: "eth0", Addresses: []string{}}, {Name: "dummy0", Addresses: []string{}, DirectRouting: true}}},
	// Redacted 1.18 device lists (cilium/cilium#44427's shape): the
	// placeholder is an address of enp1s0, not a device.
	"1.18.8-status-kpr-true-dummy0-redacted.txt": {mode: "True", replaces: ReplacesFull, detailsOnly: true, devices: []Device{
		{Name: "enp1s0", Addresses: []string{"fe80::5054:ff:fe6b:a1c2", "<PUBLIC_NODE_IP>"}},
		{Name: "dummy0", Addresses: []string{"203.0.113.254"}, DirectRouting: true}}},
	"1.18.8-status-kpr-true-dummy0-redacted-verbose.txt": {mode: "True", replaces: ReplacesFull, nodePort: bp(true), slb: bp(true), devices: []Device{
		{Name: "enp1s0", Addresses: []string{"fe80::5054:ff:fe6b:a1c2", "<PUBLIC_NODE_IP>"}},
		{Name: "dummy0", Addresses: []string{"203.0.113.254"}, DirectRouting: true}}},
	"1.18.8-status-kpr-true-redacted.txt": {mode: "True", replaces: ReplacesFull, detailsOnly: true, devices: []Device{
		{Name: "eth0", Addresses: []string{"<NODE_IP>", "[REDACTED]"}, DirectRouting: true},
		{Name: "eth1", Addresses: []string{"x.x.x.x"}}}},
	"1.18.8-status-kpr-true-redacted-verbose.txt": {mode: "True", replaces: ReplacesFull, nodePort: bp(true), slb: bp(true), devices: []Device{
		{Name: "eth0", Addresses: []string{"<NODE_IP>", "[REDACTED]"}, DirectRouting: true},
		{Name: "eth1", Addresses: []string{"x.x.x.x"}}}},
}

func TestOldFormatFixtures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "old-formats", "*.txt"))
	if len(files) < len(oldFormatCases) {
		t.Fatalf("%d fixtures for %d cases", len(files), len(oldFormatCases))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want, ok := oldFormatCases[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			b := readFixture(t, path)
			if !strings.HasPrefix(string(b), "# fixture: ") {
				t.Error("the fixture must say where it comes from in a '# fixture:' header")
			}
			if !LooksLikeStatus(b) {
				t.Error("LooksLikeStatus = false")
			}
			st, err := ParseStatus(b)
			if err != nil {
				t.Fatal(err)
			}
			checkOldFormat(t, st, want)
		})
	}
}

func checkOldFormat(t *testing.T, st *Status, want oldFormatWant) {
	t.Helper()
	k := st.KubeProxyReplacement
	if k == nil {
		t.Fatal("no KubeProxyReplacement read")
	}
	if k.Mode != want.mode || k.ReplacesKubeProxy != want.replaces {
		t.Errorf("mode %q replaces %q, want %q %q", k.Mode, k.ReplacesKubeProxy, want.mode, want.replaces)
	}
	if want.devices != nil {
		assertDevices(t, k.Devices, want.devices)
	}
	for _, f := range []struct {
		name      string
		got, want *bool
	}{{"NodePort", k.NodePort, want.nodePort}, {"HostPort", k.HostPort, want.hostPort}, {"ExternalIPs", k.ExternalIPs, want.externalIPs}, {"SocketLB", k.SocketLB, want.slb}} {
		if f.want != nil && ptrStr(f.got) != ptrStr(f.want) {
			t.Errorf("%s = %s, want %s", f.name, ptrStr(f.got), ptrStr(f.want))
		}
	}
	if want.detailsOnly && (k.NodePort != nil || k.SocketLB != nil || k.HostPort != nil) {
		t.Errorf("the plain 1.9+ line carries no features, got NodePort=%s SocketLB=%s", ptrStr(k.NodePort), ptrStr(k.SocketLB))
	}
	if want.hostPortNotReported && k.HostPort != nil {
		t.Errorf("HostPort = %s, want not reported (1.7 has no HostPort)", ptrStr(k.HostPort))
	}
	if want.npMode != "" && k.NodePortMode != want.npMode {
		t.Errorf("NodePortMode = %q, want %q", k.NodePortMode, want.npMode)
	}
	if want.npRange != "" && k.NodePortRange != want.npRange {
		t.Errorf("NodePortRange = %q, want %q", k.NodePortRange, want.npRange)
	}
	if want.xdp != "" && k.XDPAcceleration != want.xdp {
		t.Errorf("XDPAcceleration = %q, want %q", k.XDPAcceleration, want.xdp)
	}
}

// The text and `-o json` renderings of one scenario must read alike: the
// JSON parser reads the model itself, so it is the reference.
func TestOldFormatTextMatchesJSON(t *testing.T) {
	jsons, _ := filepath.Glob(filepath.Join("testdata", "old-formats", "*.json"))
	if len(jsons) < 10 {
		t.Fatalf("only %d JSON fixtures", len(jsons))
	}
	for _, jp := range jsons {
		t.Run(filepath.Base(jp), func(t *testing.T) {
			js, err := ParseStatus(readFixture(t, jp))
			if err != nil {
				t.Fatal(err)
			}
			tp := strings.TrimSuffix(jp, ".json") + ".txt"
			if v := strings.TrimSuffix(jp, ".json") + "-verbose.txt"; fileExists(v) {
				tp = v // 1.9+: the features are in the details block
			}
			ts, err := ParseStatus(readFixture(t, tp))
			if err != nil {
				t.Fatal(err)
			}
			j, x := js.KubeProxyReplacement, ts.KubeProxyReplacement
			if j.Mode != x.Mode || j.ReplacesKubeProxy != x.ReplacesKubeProxy {
				t.Errorf("mode json %s/%s text %s/%s", j.Mode, j.ReplacesKubeProxy, x.Mode, x.ReplacesKubeProxy)
			}
			if len(x.Devices) > 0 || j.ReplacesKubeProxy != ReplacesNone {
				// The text leaves the devices out when KPR is off.
				assertDevices(t, x.Devices, j.Devices)
			}
			for _, f := range []struct {
				name    string
				js, txt *bool
			}{{"NodePort", j.NodePort, x.NodePort}, {"HostPort", j.HostPort, x.HostPort}, {"ExternalIPs", j.ExternalIPs, x.ExternalIPs}, {"SocketLB", j.SocketLB, x.SocketLB}} {
				if f.txt != nil && *f.txt != *f.js {
					t.Errorf("%s: json %v, text %v", f.name, *f.js, *f.txt)
				}
			}
			if x.NodePort != nil && *x.NodePort && (x.NodePortMode != j.NodePortMode || x.XDPAcceleration != j.XDPAcceleration) {
				t.Errorf("NodePort json %s/%s, text %s/%s", j.NodePortMode, j.XDPAcceleration, x.NodePortMode, x.XDPAcceleration)
			}
		})
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// Lines written by hand after formats no tagged release renders, or cut
// the way pastes cut them. Each says what it follows.
func TestParseKPRLineConstructed(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       oldFormatWant
	}{
		{
			// The 1.7 development builds between cilium/cilium#10059 and
			// #10083 (February 2020) named the socket-LB protocols in the
			// feature names (format from #10059's pkg/client/client.go).
			name: "1.7 development build", line: "KubeProxyReplacement:   Probe   [NodePort, HostReachableServicesTCP]",
			want: oldFormatWant{mode: "Probe", replaces: ReplacesPartial, devices: []Device{}, nodePort: bp(true), externalIPs: bp(false), slb: bp(true), hostPortNotReported: true},
		},
		{
			// 1.8 with no device and no feature: two empty groups.
			name: "1.8 empty groups", line: "KubeProxyReplacement:   Disabled   []   []",
			want: oldFormatWant{mode: "Disabled", replaces: ReplacesNone, devices: []Device{}, nodePort: bp(false), hostPort: bp(false), slb: bp(false)},
		},
		{
			// A 1.8 line cut inside the feature list.
			name: "1.8 truncated", line: "KubeProxyReplacement:   Strict   [eth0 (DR)]   [NodePort (SNAT, 30000-32767, XDP: NONE), HostPo",
			want: oldFormatWant{mode: "Strict", replaces: ReplacesFull, devices: []Device{{Name: "eth0", Addresses: []string{}, DirectRouting: true}}, nodePort: bp(true), npMode: "SNAT", xdp: "NONE"},
		},
		{
			// The whole entry of a device replaced: the placeholder keeps
			// the direct-routing mark on the device before it.
			name: "redacted entry with the mark", line: "KubeProxyReplacement:   True   [eth0 10.0.0.1, <redacted> (Direct Routing)]",
			want: oldFormatWant{mode: "True", replaces: ReplacesFull, devices: []Device{{Name: "eth0", Addresses: []string{"10.0.0.1", "<redacted>"}, DirectRouting: true}}},
		},
		{
			name: "cilium_host direct routing, IPv4 with blanked digits", line: "KubeProxyReplacement:   Strict   [ens3 10.1.x.x, cilium_host 10.244.0.1 (Direct Routing)]",
			want: oldFormatWant{mode: "Strict", replaces: ReplacesFull, devices: []Device{{Name: "ens3", Addresses: []string{"10.1.x.x"}}, {Name: "cilium_host", Addresses: []string{"10.244.0.1"}, DirectRouting: true}}},
		},
		{
			name: "address-only entries of 1.15+ padding", line: "KubeProxyReplacement:    True   [eth0   192.0.2.1, 2001:db8::1 (Direct Routing)]",
			want: oldFormatWant{mode: "True", replaces: ReplacesFull, devices: []Device{{Name: "eth0", Addresses: []string{"192.0.2.1", "2001:db8::1"}, DirectRouting: true}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := ParseStatus([]byte(tc.line + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			checkOldFormat(t, st, tc.want)
		})
	}
}

func TestIsDeviceName(t *testing.T) {
	for s, want := range map[string]bool{
		"eth0": true, "dummy0": true, "cilium_host": true, "bond0.100": true, "enp1s0f0np0": true, "br-ex": true,
		"10.0.0.1": false, "fe80::1": false, "<PUBLIC_NODE_IP>": false, "[REDACTED]": false, "x.x.x.x": false,
		"xxx.xxx.xxx.xxx": false, "10.0.x.x": false, "***": false, "REDACTED": false, "a-very-long-interface-name": false,
	} {
		if got := isDeviceName(s); got != want {
			t.Errorf("isDeviceName(%q) = %v, want %v", s, got, want)
		}
	}
}
