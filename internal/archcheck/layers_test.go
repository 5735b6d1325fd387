package archcheck

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/kubectl-kpr/kubectl-kpr/"

// rooms: a package's room, and the rooms and packages it must never
// depend on (transitively), so that an arrow back up fails this test.
var rules = []struct {
	room      string
	forbidden []string
}{
	// interpret: pure parsers and classifiers over plain structs.
	{mod + "pkg/interpret/", []string{"k8s.io/client-go/", mod + "pkg/collect", mod + "pkg/render", mod + "pkg/cmd", mod + "pkg/nodecheck", mod + "pkg/verify"}},
	// collect: API, exec, debug pods, probes; it returns reports, never prints.
	{mod + "pkg/collect", []string{mod + "pkg/render", mod + "pkg/cmd", mod + "pkg/nodecheck", mod + "pkg/verify"}},
	// render: tables, diffs, JSON/YAML of the reports; no cluster access
	// (client-go's jsonpath, which cli-runtime's printers use, is fine).
	{mod + "pkg/render", []string{"k8s.io/client-go/kubernetes", "k8s.io/client-go/rest", "k8s.io/client-go/tools/remotecommand", mod + "pkg/collect", mod + "pkg/cmd", mod + "pkg/nodecheck", mod + "pkg/verify"}},
	// engines: run the checks and return reports; the commands print them.
	{mod + "pkg/nodecheck", []string{mod + "pkg/cmd", mod + "pkg/render", mod + "pkg/verify"}},
	{mod + "pkg/verify", []string{mod + "pkg/cmd", mod + "pkg/render"}},
}

func TestNoArrowBackUp(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		pkg, deps := f[0], f[1:]
		for _, r := range rules {
			if !strings.HasPrefix(pkg, r.room) {
				continue
			}
			checked++
			for _, d := range deps {
				for _, bad := range r.forbidden {
					if strings.HasPrefix(d, bad) {
						t.Errorf("%s depends on %s: an arrow back up (its room may not depend on %s)", pkg, d, bad)
					}
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d packages checked: the module's layout changed, update the rules", checked)
	}
}
