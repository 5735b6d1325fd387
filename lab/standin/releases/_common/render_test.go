package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/cilium/cilium/api/v1/models"
	pkg "github.com/cilium/cilium/pkg/client"
)

// fixtures are the files tools/fixturegen rendered with this release's
// real code (pkg/command.PrintOutput, pkg/client.FormatStatusResponse,
// pkg/loadbalancer's address formatting).
func fixtures(t *testing.T) string {
	dir := filepath.Join("..", "..", "..", "..", "pkg", "interpret", "cilium", "testdata", "v"+strings.TrimPrefix(ciliumTag, "v"))
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("fixtures for %s: %v", ciliumTag, err)
	}
	return dir
}

func render(t *testing.T, input []byte, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, bytes.NewReader(input), &out, &errb)
	return out.String(), errb.String(), code
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func same(t *testing.T, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Errorf("%s differs from the real code's rendering at line %d:\n got %q\nwant %q", what, i+1, g, w)
			return
		}
	}
}

// The status scenarios: `-o json` byte for byte, the text without and
// with --verbose byte for byte as FormatStatusResponse rendered it, and the
// CLI's output (the same writer plus the health line).
func TestStatusMatchesRealCode(t *testing.T) {
	dir := fixtures(t)
	files, _ := filepath.Glob(filepath.Join(dir, "status-*.json"))
	if len(files) < 2 {
		t.Fatalf("want at least 2 status scenarios in %s, got %v", dir, files)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			doc := read(t, f)
			out, stderr, code := render(t, doc, "status", "json")
			if code != 0 || stderr != "" {
				t.Fatalf("status json: exit %d, stderr %q", code, stderr)
			}
			same(t, name+".json", out, string(doc))

			var sr models.StatusResponse
			if err := json.Unmarshal(doc, &sr); err != nil {
				t.Fatal(err)
			}
			for _, v := range []struct {
				file    string
				details pkg.StatusDetails
				arg     string
			}{{name + ".txt", pkg.StatusNoDetails, "text"}, {name + "-verbose.txt", pkg.StatusAllDetails, "verbose"}} {
				want := string(read(t, filepath.Join(dir, v.file)))
				var b bytes.Buffer
				w := tabwriter.NewWriter(&b, 2, 0, 3, ' ', 0)
				pkg.FormatStatusResponse(w, &sr, v.details)
				w.Flush()
				same(t, v.file, b.String(), want)

				// The CLI adds the health line into the same writer: it
				// can only widen the padding of the last block, so
				// compare cell by cell.
				out, stderr, code := render(t, doc, "status", v.arg)
				if code != 0 || stderr != "" {
					t.Fatalf("status %s: exit %d, stderr %q", v.arg, code, stderr)
				}
				lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				last := lines[len(lines)-1]
				if !regexp.MustCompile(`^Cluster health:\s+Probe disabled$`).MatchString(last) {
					t.Errorf("status %s: last line %q, want the health line", v.arg, last)
				}
				if got, exp := cells(strings.Join(lines[:len(lines)-1], "\n")), cells(strings.TrimSuffix(want, "\n")); got != exp {
					t.Errorf("status %s: cells differ from %s:\n%s\n---\n%s", v.arg, v.file, got, exp)
				}
			}
		})
	}
}

func cells(s string) string {
	return regexp.MustCompile(` {2,}`).ReplaceAllString(regexp.MustCompile(`(?m) +$`).ReplaceAllString(s, ""), "  ")
}

func TestServiceListMatchesRealCode(t *testing.T) {
	dir := fixtures(t)
	doc := read(t, filepath.Join(dir, "service-list.json"))
	out, stderr, code := render(t, doc, "service-list", "json")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	same(t, "service-list.json", out, string(doc))
	out, stderr, code = render(t, doc, "service-list", "text")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	same(t, "service-list.txt", out, string(read(t, filepath.Join(dir, "service-list.txt"))))
}

// What the fixtures cannot show: an unparsable frontend is reported on
// stderr and skipped, as the CLI does.
func TestServiceListBadFrontend(t *testing.T) {
	doc := `[{"spec":{"id":1,"flags":{"type":"ClusterIP"}},"status":{"realized":{"id":1,"frontend-address":{"ip":"10.96.0.1","port":80,"protocol":"TCP","scope":"nowhere"}}}},
	         {"spec":{"id":2,"flags":{"type":"ClusterIP"}},"status":{"realized":{"id":2,"frontend-address":{"ip":"10.96.0.2","port":80,"protocol":"TCP","scope":"external"},"backend-addresses":[]}}}]`
	out, stderr, code := render(t, []byte(doc), "service-list", "text")
	if code != 0 || !strings.HasPrefix(stderr, "error parsing frontend &{") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(out, "10.96.0.1") || !strings.Contains(out, "10.96.0.2:80") {
		t.Fatalf("output:\n%s", out)
	}
}

func TestUnhealthyAgentExits1WithoutHealthLine(t *testing.T) {
	out, _, code := render(t, []byte(`{"cilium":{"state":"Failure","msg":"boom"}}`), "status", "text")
	if code != 1 || strings.Contains(out, "Cluster health") || !strings.Contains(out, "Failure") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestVersion(t *testing.T) {
	ver := strings.TrimPrefix(ciliumTag, "v")
	out, _, code := render(t, nil, "version", "text")
	re := regexp.MustCompile(`^Client: ` + regexp.QuoteMeta(ver) + ` standin \S+ go version go\S+ linux/amd64\nDaemon: ` + regexp.QuoteMeta(ver) + ` standin `)
	if code != 0 || !re.MatchString(out) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	out, _, code = render(t, nil, "version", "json")
	var v struct{ Client, Daemon map[string]string }
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Daemon["Version"] != ver || v.Daemon["Revision"] != "standin" || v.Client["Arch"] != "linux/amd64" {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
}

func TestUsage(t *testing.T) {
	if _, stderr, code := render(t, nil, "status"); code != 2 || !strings.HasPrefix(stderr, "usage:") {
		t.Fatalf("exit %d, %q", code, stderr)
	}
}

// The replicated parts are checked against the release's own source in
// the module cache: if a release bump changes one of them, this fails and
// says which to re-read.
func TestReplicatedSourcesMatchRelease(t *testing.T) {
	root := moduleDir(t)
	src := func(rel string) string { return string(read(t, filepath.Join(root, rel))) }

	sum := sha256.Sum256([]byte(src(cliDir + "/cmd/service_list.go")))
	if got := hex.EncodeToString(sum[:]); got != serviceListSHA256 {
		t.Errorf("%s/cmd/service_list.go changed (sha256 %s): re-diff printServiceList in _common/render.go against it and update serviceListSHA256", cliDir, got)
	}
	status := src(cliDir + "/cmd/status.go")
	for _, want := range []string{
		"fmt.Fprint(w, " + strconv.Quote(healthProbeDisabled) + ")",
		"w := tabwriter.NewWriter(os.Stdout, 2, 0, 3, ' ', 0)",
		"pkg.FormatStatusResponse(w, sr, statusDetails)",
		"statusDetails = pkg.StatusAllDetails",
	} {
		if !strings.Contains(status, want) {
			t.Errorf("%s/cmd/status.go has no %s", cliDir, want)
		}
	}
	version := src(cliDir + "/cmd/version.go")
	for _, want := range []string{`fmt.Printf("Client: %s\n", getClientVersionAsString())`, `fmt.Printf("Daemon: %s\n", getDaemonVersionAsString())`, "Client version.CiliumVersion"} {
		if !strings.Contains(version, want) {
			t.Errorf("%s/cmd/version.go has no %s", cliDir, want)
		}
	}
	if v := src("pkg/version/version.go"); !strings.Contains(v, `Version = fmt.Sprintf("%s go version %s %s/%s", ciliumVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)`) {
		t.Errorf("pkg/version/version.go: the version string format changed")
	}
	output := src("pkg/command/output.go")
	for _, want := range []string{`result, err := json.MarshalIndent(data, "", "  ")`, "fmt.Println(string(result))\n\t\treturn \"\", nil", "fmt.Println(jsonStr)"} {
		if !strings.Contains(output, want) {
			t.Errorf("pkg/command/output.go: the -o json framing changed (no %q)", want)
		}
	}
}

func moduleDir(t *testing.T) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build info")
	}
	ver := ""
	for _, d := range bi.Deps {
		if d.Path == "github.com/cilium/cilium" {
			ver = d.Version
		}
	}
	if ver != ciliumTag {
		t.Fatalf("built with github.com/cilium/cilium %q, compat.go says %s", ver, ciliumTag)
	}
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			t.Skipf("no GOMODCACHE and no go on the PATH: %v", err)
		}
		cache = strings.TrimSpace(string(out))
	}
	dir := filepath.Join(cache, "github.com", "cilium", "cilium@"+ver)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the release's source is not in the module cache: %v", err)
	}
	return dir
}

// The documents the stand-in sends for a fixed node
// (lab/standin/testdata/docs, kept in step with the stand-in's code by its
// TestDocsGolden) render without complaint, and the only fields of them
// this release's model drops are the ones compat.go lists
// (docFieldsDropped): fields the release does not have (a false, zero or
// empty value may be omitted by the model's omitempty, and is not
// counted). A misspelt key would show up here for every release.
func TestRendersStandinDocs(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "docs", "v"+strings.TrimPrefix(ciliumTag, "v"))
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) < 3 {
		t.Fatalf("want the stand-in's documents in %s, got %v", dir, files)
	}
	dropped := map[string]bool{}
	for _, f := range files {
		doc := read(t, f)
		what, formats := "status", []string{"text", "verbose", "json"}
		if filepath.Base(f) == "service-list.json" {
			what, formats = "service-list", []string{"text", "json"}
		}
		for _, format := range formats {
			out, stderr, code := render(t, doc, what, format)
			if code != 0 || stderr != "" || out == "" {
				t.Errorf("%s %s %s: exit %d, stderr %q, output %q", filepath.Base(f), what, format, code, stderr, out)
			}
			if format != "json" {
				continue
			}
			var in, rendered any
			if err := json.Unmarshal(doc, &in); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(out), &rendered); err != nil {
				t.Fatal(err)
			}
			droppedKeys(in, rendered, what, dropped)
		}
	}
	var got []string
	for k := range dropped {
		got = append(got, k)
	}
	sort.Strings(got)
	want := append([]string(nil), docFieldsDropped...)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("fields the %s model drops from the stand-in's documents:\n\t%q\ncompat.go docFieldsDropped says:\n\t%q", ciliumTag, got, want)
	}
}

// The stand-in's service list, printed by this release's code, has the
// NodePort rows the release's agent lists: up to 1.17 one per node address
// besides 0.0.0.0; from 1.18 only 0.0.0.0 (GET /service then lists
// pkg/loadbalancer's frontends table, which holds a NodePort with the zero
// address only; real 1.18.8 and 1.20.2 agents list no NODE-IP:PORT row).
func TestStandinNodePortRows(t *testing.T) {
	minor, err := strconv.Atoi(strings.Split(strings.TrimPrefix(ciliumTag, "v"), ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	doc := read(t, filepath.Join("..", "..", "testdata", "docs", "v"+strings.TrimPrefix(ciliumTag, "v"), "service-list.json"))
	out, stderr, code := render(t, doc, "service-list", "text")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var wildcard, perAddress []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[2] != "NodePort" {
			continue
		}
		if strings.HasPrefix(f[1], "0.0.0.0:") || strings.HasPrefix(f[1], "[::]:") {
			wildcard = append(wildcard, f[1])
		} else {
			perAddress = append(perAddress, f[1])
		}
	}
	if len(wildcard) == 0 {
		t.Fatalf("no 0.0.0.0 NodePort row:\n%s", out)
	}
	switch {
	case minor >= 18 && len(perAddress) > 0:
		t.Errorf("%s lists NodePorts only on 0.0.0.0 / ::, the stand-in printed %v:\n%s", ciliumTag, perAddress, out)
	case minor <= 17 && len(perAddress) == 0:
		t.Errorf("%s lists a NodePort on each node address too, the stand-in printed none:\n%s", ciliumTag, out)
	}
}

func droppedKeys(in, out any, path string, dropped map[string]bool) {
	switch x := in.(type) {
	case map[string]any:
		o, _ := out.(map[string]any)
		for k, v := range x {
			if ov, ok := o[k]; ok {
				droppedKeys(v, ov, path+"."+k, dropped)
			} else if !isZero(v) {
				dropped[path+"."+k] = true
			}
		}
	case []any:
		o, _ := out.([]any)
		for i, v := range x {
			var ov any
			if i < len(o) {
				ov = o[i]
			}
			droppedKeys(v, ov, path+".*", dropped)
		}
	}
}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case float64:
		return x == 0
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		for _, e := range x {
			if !isZero(e) {
				return false
			}
		}
		return true
	}
	return false
}
