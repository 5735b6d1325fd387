package cilium

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Outputs captured from REAL Cilium agents in the lab
// (testdata/v<release>/captured/<case>/, hack/capture-cilium.sh; each
// directory's README says the release, the agent's flags and the command).
// Unlike the rendered fixtures they show what an agent really puts in its
// answers; each case states what kpr must read from them.
type capturedCase struct {
	mode, replaces string
	// nodePorts: NodePort frontends the agent lists, by address ("0.0.0.0").
	nodePortAddrs []string
}

var capturedCases = map[string]capturedCase{
	// Full KPR: NodePorts only as 0.0.0.0:PORT (1.18+).
	"kpr-true": {mode: "True", replaces: ReplacesFull, nodePortAddrs: []string{"0.0.0.0"}},
	// KPR off, and nothing enabled one by one.
	"kpr-false": {mode: "False", replaces: ReplacesNone},
	// KPR off, but cilium-config's per-feature keys on: the agent serves
	// ClusterIP (socket-LB) and NodePort anyway.
	"kpr-false-features-on": {mode: "False", replaces: ReplacesPartial, nodePortAddrs: []string{"0.0.0.0"}},
}

func TestCapturedRealAgents(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "v1.*", "captured", "*"))
	if len(dirs) == 0 {
		t.Fatal("no captured real-agent outputs in testdata/v1.*/captured/")
	}
	for _, dir := range dirs {
		t.Run(strings.TrimPrefix(dir, "testdata/"), func(t *testing.T) {
			want, ok := capturedCases[filepath.Base(dir)]
			if !ok {
				t.Fatalf("no expectation for captured case %s", filepath.Base(dir))
			}
			release := strings.TrimPrefix(filepath.Base(filepath.Dir(filepath.Dir(dir))), "v")
			readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
			if err != nil || !strings.Contains(string(readme), "**Captured**") || !strings.Contains(string(readme), release) {
				t.Errorf("README.md must say it was captured, and from which release (%s): %v", release, err)
			}
			for _, f := range []string{"status.json", "status-verbose.txt"} {
				st, err := ParseStatus(mustRead(t, filepath.Join(dir, f)))
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				if !strings.HasPrefix(st.Version, release) {
					t.Errorf("%s: version %q, want %s", f, st.Version, release)
				}
				k := st.KubeProxyReplacement
				if k == nil || k.Mode != want.mode || k.ReplacesKubeProxy != want.replaces {
					t.Fatalf("%s: KPR %+v, want mode %s, replaces %s", f, k, want.mode, want.replaces)
				}
				if st.CNIChaining != "generic-veth" {
					t.Errorf("%s: CNI chaining %q, want generic-veth", f, st.CNIChaining)
				}
				// The real agent pads deviceList[].ip with "" (JSON) and
				// lists eth0's link-local IPv6 too: kpr keeps real addresses
				// only. The text prints devices only when the mode is on.
				if want.replaces != ReplacesNone && (f == "status.json" || want.mode != "False") {
					if len(k.Devices) != 1 || k.Devices[0].Name != "eth0" || !k.Devices[0].DirectRouting {
						t.Errorf("%s: devices %+v, want eth0 (direct routing)", f, k.Devices)
					} else {
						for _, a := range k.Devices[0].Addresses {
							if a == "" {
								t.Errorf("%s: an empty address kept: %q", f, k.Devices[0].Addresses)
							}
						}
						if len(k.Devices[0].Addresses) == 0 || !strings.HasPrefix(k.Devices[0].Addresses[0], "172.30.0.") {
							t.Errorf("%s: eth0 addresses %q, want the node's IPv4 first", f, k.Devices[0].Addresses)
						}
					}
				}
			}
			// The short text says only the mode: kpr cannot see features there.
			st, err := ParseStatus(mustRead(t, filepath.Join(dir, "status.txt")))
			if err != nil || st.KubeProxyReplacement == nil || st.KubeProxyReplacement.Mode != want.mode {
				t.Fatalf("status.txt: %+v %v", st, err)
			}
			for _, f := range []string{"service-list.txt", "service-list.json"} {
				svcs, err := ParseServiceList(mustRead(t, filepath.Join(dir, f)))
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				addrs := map[string]bool{}
				for _, s := range svcs {
					if s.Type == "NodePort" {
						addrs[s.IP] = true
					}
				}
				var got []string
				for a := range addrs {
					got = append(got, a)
				}
				if strings.Join(got, ",") != strings.Join(want.nodePortAddrs, ",") {
					t.Errorf("%s: NodePort frontends on %v, want only %v (a real %s agent)", f, got, want.nodePortAddrs, release)
				}
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
