package cilium

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The fuzzers are seeded with every generated fixture (f.Add) on top of
// the corpus kept in testdata/fuzz/<FuzzName>/. They check that nothing
// panics and that a successful parse yields a well-formed result.

func addFixtureSeeds(f *testing.F, pattern string) {
	files, err := filepath.Glob(filepath.Join("testdata", "v1.*", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed fixtures for %s", pattern)
	}
	for _, p := range files {
		f.Add(readFixture(f, p))
	}
}

func FuzzParseStatus(f *testing.F) {
	addFixtureSeeds(f, "status-*")
	// The 1.7–1.9 and redacted renderings (testdata/old-formats/).
	old, _ := filepath.Glob(filepath.Join("testdata", "old-formats", "*-status-*"))
	for _, p := range old {
		f.Add(readFixture(f, p))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStatus(b)
		if err != nil {
			if st != nil {
				t.Fatal("error with a non-nil result")
			}
			return
		}
		if st == nil {
			t.Fatal("nil result without error")
		}
		if k := st.KubeProxyReplacement; k != nil {
			if k.Devices == nil {
				t.Fatal("KPR with nil device list")
			}
			if k.ReplacesKubeProxy != ReplacementOf(k) {
				t.Fatalf("replacement %q for mode %q", k.ReplacesKubeProxy, k.Mode)
			}
			for _, d := range k.Devices {
				if d.Name == "" || d.Addresses == nil {
					t.Fatalf("malformed device %+v", d)
				}
				for _, a := range d.Addresses {
					if a == "" {
						t.Fatalf("empty address in %+v", d)
					}
				}
			}
		}
		if _, err := json.Marshal(st); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParseServiceList(f *testing.F) {
	addFixtureSeeds(f, "service-list.*")
	f.Fuzz(func(t *testing.T, b []byte) {
		svcs, err := ParseServiceList(b)
		if err != nil {
			if svcs != nil {
				t.Fatal("error with a non-nil result")
			}
			return
		}
		if svcs == nil {
			t.Fatal("nil list without error")
		}
		for _, s := range svcs {
			if s.Frontend == "" || s.Backends == nil {
				t.Fatalf("malformed service %+v", s)
			}
			for _, be := range s.Backends {
				if be.Address == "" {
					t.Fatalf("backend without address in %+v", s)
				}
			}
		}
	})
}

func BenchmarkParseStatusJSON(b *testing.B) {
	in := readFixture(b, "testdata/v1.20.2/status-kpr-true.json")
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseStatus(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseStatusText(b *testing.B) {
	in := readFixture(b, "testdata/v1.20.2/status-kpr-true-verbose.txt")
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseStatus(in); err != nil {
			b.Fatal(err)
		}
	}
}

// bigServiceListText repeats the 1.20 fixture's rows with fresh IDs until
// there are n services.
func bigServiceListText(b *testing.B, n int) []byte {
	lines := strings.Split(strings.TrimRight(string(readFixture(b, "testdata/v1.20.2/service-list.txt")), "\n"), "\n")
	header, rows := lines[0], lines[1:]
	var out strings.Builder
	out.WriteString(header + "\n")
	id := 0
	for id < n {
		for _, r := range rows {
			if r != "" && r[0] != ' ' {
				if id == n {
					break
				}
				id++
				_, rest, _ := strings.Cut(r, " ")
				r = fmt.Sprintf("%-5d%s", id, strings.TrimLeft(rest, " "))
			}
			out.WriteString(r + "\n")
		}
	}
	return []byte(out.String())
}

func bigServiceListJSON(b testing.TB, n int) []byte {
	var list []map[string]any
	if err := json.Unmarshal(readFixture(b, "testdata/v1.20.2/service-list.json"), &list); err != nil {
		b.Fatal(err)
	}
	var out []map[string]any
	for len(out) < n {
		for _, s := range list {
			if len(out) == n {
				break
			}
			raw, _ := json.Marshal(s)
			var c map[string]any
			_ = json.Unmarshal(raw, &c)
			c["status"].(map[string]any)["realized"].(map[string]any)["id"] = len(out) + 1
			out = append(out, c)
		}
	}
	raw, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

func BenchmarkParseServiceListText500(b *testing.B) {
	in := bigServiceListText(b, 500)
	if svcs, err := ParseServiceList(in); err != nil || len(svcs) != 500 {
		b.Fatalf("setup: %d services, %v", len(svcs), err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseServiceList(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseServiceListJSON500(b *testing.B) {
	in := bigServiceListJSON(b, 500)
	if svcs, err := ParseServiceList(in); err != nil || len(svcs) != 500 {
		b.Fatalf("setup: %d services, %v", len(svcs), err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseServiceList(in); err != nil {
			b.Fatal(err)
		}
	}
}

// The go-json-experiment fast path must read every release's real output
// exactly as the encoding/json path does (forced here by a line of text in
// front, which only the general path accepts).
func TestServiceListFastPathMatchesGeneralPath(t *testing.T) {
	files, err := filepath.Glob("testdata/v*/service-list.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range append(files, "") {
		var in []byte
		if f == "" {
			in = bigServiceListJSON(t, 50)
		} else if in, err = os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
		if _, ok := decodeServiceArray(in); !ok {
			t.Errorf("%s: the fast path refused a plain service list", f)
			continue
		}
		fast, err1 := ParseServiceListJSON(in)
		general, err2 := ParseServiceListJSON(append([]byte("$ cilium-dbg service list -o json\n"), in...))
		if err1 != nil || err2 != nil || !reflect.DeepEqual(fast, general) {
			t.Errorf("%s: fast path %d services (%v), general path %d (%v), equal=%v", f, len(fast), err1, len(general), err2, reflect.DeepEqual(fast, general))
		}
	}
}
