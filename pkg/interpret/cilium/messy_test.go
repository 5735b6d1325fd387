package cilium

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	regexpLeadingSpace  = regexp.MustCompile(`(?m)^[ \t]+`)
	regexpTrailingSpace = regexp.MustCompile(`(?m)[ \t]+$`)
	regexpLineStart     = regexp.MustCompile(`(?m)^`)
)

// The pastes below are derived from the generated fixtures by the test
// itself (CRLF, noise lines, concatenation, truncation), so every variant
// still rests on upstream-rendered bytes. The few hand-written lines are
// marked "constructed" with the source they follow.

const pasteNoise = "$ kubectl -n kube-system exec ds/cilium -- cilium-dbg status\n" +
	"Defaulted container \"cilium-agent\" out of: cilium-agent, config (init), mount-cgroup (init)\n"

func TestParseStatusMessyPastes(t *testing.T) {
	for _, rel := range fixtureReleases(t) {
		files, _ := filepath.Glob(filepath.Join(rel.dir, "status-*"))
		for _, path := range files {
			m := statusFileRe.FindStringSubmatch(filepath.Base(path))
			scenario, verbose, format := m[1], m[2] != "", m[3]
			b := string(readFixture(t, path))
			// Another scenario of the same release and rendering, pasted
			// before: it must lose.
			var other string
			for _, o := range files {
				om := statusFileRe.FindStringSubmatch(filepath.Base(o))
				if om[1] != scenario && om[2] == m[2] && om[3] == format {
					other = filepath.Base(o)
					break
				}
			}
			first := string(readFixture(t, filepath.Join(rel.dir, other)))
			variants := map[string]string{
				"crlf":          strings.ReplaceAll(b, "\n", "\r\n"),
				"noise":         pasteNoise + b,
				"two-listings":  first + "\n" + pasteNoise + b,
				"no-final-nl":   strings.TrimRight(b, "\n"),
				"trailing-junk": b + "$ \n",
				// Quoted in an email or an indented markdown code block.
				"indented": regexpLineStart.ReplaceAllString(b, "    "),
			}
			for name, in := range variants {
				t.Run(rel.version+"/"+filepath.Base(path)+"/"+name, func(t *testing.T) {
					st, err := ParseStatus([]byte(in))
					if err != nil {
						t.Fatalf("ParseStatus: %v", err)
					}
					checkStatus(t, rel, scenario, verbose, format, st)
				})
			}
		}
	}
}

// detailsBlock cuts the "KubeProxyReplacement Details:" block out of a
// verbose listing, as a user would paste it alone.
func detailsBlock(t *testing.T, verbose string) string {
	t.Helper()
	i := strings.Index(verbose, "KubeProxyReplacement Details:\n")
	if i < 0 {
		t.Fatal("no details block")
	}
	lines := strings.Split(verbose[i:], "\n")
	out := []string{lines[0]}
	for _, l := range lines[1:] {
		if l == "" || (l[0] != ' ') {
			break
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n") + "\n"
}

func TestParseStatusDetailsBlockAlone(t *testing.T) {
	for _, rel := range fixtureReleases(t) {
		files, _ := filepath.Glob(filepath.Join(rel.dir, "status-*-verbose.txt"))
		for _, path := range files {
			scenario := statusFileRe.FindStringSubmatch(filepath.Base(path))[1]
			mode := scenarioMode[scenario]
			block := detailsBlock(t, string(readFixture(t, path)))
			variants := map[string]string{
				"as-printed": block,
				// Some chat tools strip leading spaces.
				"unindented": regexpLeadingSpace.ReplaceAllString(block, ""),
				"noise":      pasteNoise + block,
			}
			for name, in := range variants {
				t.Run(rel.version+"/"+scenario+"/"+name, func(t *testing.T) {
					if !LooksLikeStatus([]byte(in)) {
						t.Error("LooksLikeStatus = false")
					}
					st, err := ParseStatus([]byte(in))
					if err != nil {
						t.Fatal(err)
					}
					k := st.KubeProxyReplacement
					if k == nil || k.Mode != mode || k.ReplacesKubeProxy != Replacement(mode) {
						t.Fatalf("KPR = %+v, want mode %s", k, mode)
					}
					wantDevs := wantDevices()
					if mode == "Disabled" || (mode == "False" && rel.minor >= 16) {
						wantDevs = []Device{}
					}
					assertDevices(t, k.Devices, wantDevs)
					on := mode != "False" && mode != "Disabled"
					if k.NodePort == nil || *k.NodePort != on {
						t.Errorf("NodePort = %s, want %v", ptrStr(k.NodePort), on)
					}
					if st.Version != "" || st.CNIChaining != "" {
						t.Errorf("the block alone carries no version/chaining: %+v", st)
					}
				})
			}
		}
	}
}

func TestParseStatusConstructed(t *testing.T) {
	tests := []struct {
		name, in string
		mode     string
		devs     []Device
	}{
		{
			// Constructed from pkg/client/client.go FormatStatusResponse: the
			// ", " separator is decided by len(Devices) (legacy) while the
			// loop walks DeviceList, so a shorter legacy list leaves a stray
			// trailing ", ".
			name: "stray trailing separator",
			in:   "KubeProxyReplacement:   True   [eth0   10.0.0.11 (Direct Routing), eth1  192.168.50.11, ]\nCilium:   Ok   1.16.5 (v1.16.5-abc)\n",
			mode: "True",
			devs: []Device{{Name: "eth0", Addresses: []string{"10.0.0.11"}, DirectRouting: true}, {Name: "eth1", Addresses: []string{"192.168.50.11"}}},
		},
		{
			// Constructed: a 1.15+ device without addresses prints "<dev> ".
			name: "device without addresses",
			in:   "KubeProxyReplacement:   True   [eth0 , eth1   10.1.0.2 fd00::2]\n",
			mode: "True",
			devs: []Device{{Name: "eth0", Addresses: []string{}}, {Name: "eth1", Addresses: []string{"10.1.0.2", "fd00::2"}}},
		},
		{
			// Constructed: Disabled leaves "<mode><pad>" and nothing else.
			name: "disabled with trailing pad",
			in:   "KubeProxyReplacement:   Disabled   \n",
			mode: "Disabled",
			devs: []Device{},
		},
		{
			// Constructed: a paste cut inside the device list.
			name: "truncated device list",
			in:   "KubeProxyReplacement:   Strict   [eth0 10.0.0.11 (Direct Routing), eth1 192.168",
			mode: "Strict",
			devs: []Device{{Name: "eth0", Addresses: []string{"10.0.0.11"}, DirectRouting: true}, {Name: "eth1", Addresses: []string{"192.168"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := ParseStatus([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if st.KubeProxyReplacement.Mode != tt.mode {
				t.Errorf("Mode = %q", st.KubeProxyReplacement.Mode)
			}
			assertDevices(t, st.KubeProxyReplacement.Devices, tt.devs)
		})
	}
}

func TestParseStatusErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":        "",
		"prose":        "error: unable to upgrade connection: container not found (\"cilium-agent\")\n",
		"other json":   `{"kind":"Pod","apiVersion":"v1"}`,
		"service list": "ID   Frontend   Service Type   Backend\n",
	} {
		t.Run(name, func(t *testing.T) {
			st, err := ParseStatus([]byte(in))
			if err == nil {
				t.Fatalf("want an error, got %+v", st)
			}
			if !strings.Contains(err.Error(), "expected") {
				t.Errorf("error should say what was expected: %v", err)
			}
		})
	}
	// A JSON document cut in half, with nothing complete before it.
	b := readFixture(t, "testdata/v1.16.19/status-kpr-true.json")
	if _, err := ParseStatusJSON(b[:len(b)/2]); err == nil {
		t.Error("truncated JSON: want an error")
	}
	// ...but after a complete document, the complete one is used.
	st, err := ParseStatus(append(append([]byte{}, b...), b[:len(b)/2]...))
	if err != nil || st.KubeProxyReplacement.Mode != "True" {
		t.Errorf("complete then truncated: %+v, %v", st, err)
	}
}

func TestParseServiceListMessyPastes(t *testing.T) {
	for _, rel := range fixtureReleases(t) {
		for _, format := range []string{"json", "txt"} {
			path := filepath.Join(rel.dir, "service-list."+format)
			b := string(readFixture(t, path))
			// A shorter listing pasted first must lose.
			earlier := b
			if format == "txt" {
				earlier = strings.Join(strings.Split(b, "\n")[:3], "\n") + "\n"
			} else {
				earlier = "[]\n"
			}
			variants := map[string]string{
				"crlf":         strings.ReplaceAll(b, "\n", "\r\n"),
				"noise":        pasteNoise + b,
				"two-listings": earlier + pasteNoise + b,
				"no-final-nl":  strings.TrimRight(b, "\n"),
				"indented":     regexpLineStart.ReplaceAllString(earlier+b, "    "),
			}
			if format == "txt" {
				// Some tools strip the table's trailing padding.
				variants["rstripped"] = regexpTrailingSpace.ReplaceAllString(b, "")
			}
			for name, in := range variants {
				t.Run(rel.version+"/"+format+"/"+name, func(t *testing.T) {
					if !LooksLikeServiceList([]byte(in)) {
						t.Error("LooksLikeServiceList = false")
					}
					svcs, err := ParseServiceList([]byte(in))
					if err != nil {
						t.Fatal(err)
					}
					checkServices(t, rel, format, svcs)
				})
			}
		}
	}
}

func TestParseServiceListTruncated(t *testing.T) {
	b := string(readFixture(t, "testdata/v1.20.2/service-list.txt"))
	full, err := ParseServiceListText([]byte(b))
	if err != nil {
		t.Fatal(err)
	}
	// Cut inside the last row's backend cell: the rows above stay intact.
	cut := strings.TrimRight(b, " \n")
	cut = cut[:len(cut)-12]
	svcs, err := ParseServiceListText([]byte(cut))
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs) != len(full) {
		t.Fatalf("%d services, want %d (the cut row keeps its frontend)", len(svcs), len(full))
	}
	for i := 0; i < len(full)-1; i++ {
		if svcs[i].Frontend != full[i].Frontend || len(svcs[i].Backends) != len(full[i].Backends) {
			t.Errorf("row %d changed: %+v", i, svcs[i])
		}
	}
	// A broken backend cell is dropped, not guessed.
	if last := svcs[len(svcs)-1]; len(last.Backends) != 0 {
		t.Errorf("truncated backend cell should be dropped: %+v", last.Backends)
	}
}

func TestParseServiceListConstructed(t *testing.T) {
	// Constructed from cilium-dbg/cmd/service_list.go printServiceList:
	// " (preferred)" with --clustermesh-affinity, and a paste whose
	// continuation rows lost their indentation.
	in := "ID   Frontend            Service Type   Backend\n" +
		"1    10.96.0.10:53/UDP   ClusterIP      1 => 10.244.0.5:53/UDP (active) (preferred)\n" +
		"2 => 10.244.1.9:53/UDP (terminating-not-serving)\n" +
		"2    [::1]:80            ClusterIP      1 => [::1]:8080 (active)\n"
	svcs, err := ParseServiceList([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs) != 2 || len(svcs[0].Backends) != 2 || svcs[0].Backends[1].State != "terminating-not-serving" ||
		svcs[1].Frontend != "[::1]:80" || svcs[1].Backends[0].Address != "[::1]:8080" {
		t.Fatalf("got %+v", svcs)
	}
}

func TestParseServiceListErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":      "",
		"status":     "KubeProxyReplacement:   True\n",
		"other json": `[{"kind":"Pod"}]`,
	} {
		t.Run(name, func(t *testing.T) {
			svcs, err := ParseServiceList([]byte(in))
			if err == nil {
				t.Fatalf("want an error, got %+v", svcs)
			}
			if !strings.Contains(err.Error(), "expected") {
				t.Errorf("error should say what was expected: %v", err)
			}
		})
	}
	for name, in := range map[string]string{"empty json": "[]\n", "null": "null\n", "header only": "ID   Frontend   Service Type   Backend   \n"} {
		t.Run(name, func(t *testing.T) {
			svcs, err := ParseServiceList([]byte(in))
			if err != nil || svcs == nil || len(svcs) != 0 {
				t.Errorf("want an empty list, got %+v, %v", svcs, err)
			}
		})
	}
}

func TestDetectors(t *testing.T) {
	for _, rel := range fixtureReleases(t) {
		files, _ := filepath.Glob(filepath.Join(rel.dir, "*.*"))
		for _, path := range files {
			base := filepath.Base(path)
			if strings.HasSuffix(base, ".md") {
				continue
			}
			b := readFixture(t, path)
			isStatus := strings.HasPrefix(base, "status-")
			if LooksLikeStatus(b) != isStatus {
				t.Errorf("%s: LooksLikeStatus = %v", path, !isStatus)
			}
			if LooksLikeServiceList(b) == isStatus {
				t.Errorf("%s: LooksLikeServiceList = %v", path, isStatus)
			}
		}
	}
}

// Cilium's own JSON has numeric ids (models.ServiceSpec.ID is int64); kpr's
// JSON keeps them numbers, from text and from JSON alike.
func TestServiceIDIsANumberInJSON(t *testing.T) {
	text := "ID   Frontend           Service Type   Backend\n12   10.96.0.10:53/UDP   ClusterIP      1 => 10.244.0.5:53/UDP (active)\n"
	svcs, err := ParseServiceListText([]byte(text))
	if err != nil || len(svcs) != 1 || svcs[0].ID != 12 {
		t.Fatalf("%+v %v", svcs, err)
	}
	b, err := json.Marshal(svcs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"id":12,`) {
		t.Errorf("id is not a JSON number: %s", b)
	}
}
