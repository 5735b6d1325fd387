// Command gen renders the old-format `cilium status` fixtures in the
// directory above with one Cilium release's own code: api/v1/models for
// the data, pkg/client.FormatStatusResponse through the CLI's
// tabwriter(2,0,3) for the text (as cilium/cmd/status.go does), and
// pkg/command's JSON printer for `-o json`. The scenario values (node,
// devices, addresses, versions' build hashes) are invented; the rendering
// is upstream's. One compat_<release>.go per release, chosen by build tag,
// bridges the models and the formatter's signature; gen.sh builds each in
// a scratch module that requires that release (a module can require one
// cilium version only).
package main

import (
	"bytes"
	"flag"
	"log"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/cilium/cilium/api/v1/models"
	"github.com/cilium/cilium/pkg/command"
)

// device is one KPR device of the invented node.
type device struct {
	name   string
	ips    []string
	direct bool
}

// scenario is one agent configuration, written once for every release;
// each compat file maps it onto its release's models.
type scenario struct {
	name        string // file name part: "kpr-strict"
	mode        string // "Strict", "Probe", "Partial", "Disabled", "True"
	devices     []device
	nodePort    bool
	npMode      string // "SNAT", "DSR", "HYBRID"
	accel       string // "NONE", "DISABLED", "NATIVE"
	hostPort    bool
	externalIPs bool
	socketLB    []string // host-reachable-services protocols; nil = off
	affinity    bool
	algorithm   string // "Random", "Maglev" (1.9+)
	lutSize     int64
	// redact: replacements applied to the rendered text, the way a user
	// hides addresses before pasting (see the README for the paste each
	// one follows).
	redact [][2]string
	// seen: where this rendering of the line is seen pasted (an issue or
	// pull request), for the fixture's header.
	seen string
}

var eth = []device{
	{name: "eth0", ips: []string{"10.0.0.11", "fd00:10::11"}, direct: true},
	{name: "eth1", ips: []string{"192.168.50.11"}},
}

func main() {
	out := flag.String("out", "", "directory to write fixtures into")
	flag.Parse()
	if *out == "" {
		log.Fatal("-out is required")
	}
	for _, sc := range scenarios() {
		sr := &models.StatusResponse{
			Kvstore:              &models.Status{State: "Ok", Msg: "Disabled"},
			Kubernetes:           &models.K8sStatus{State: "Ok", Msg: k8sMsg, K8sAPIVersions: k8sAPIs},
			Cilium:               &models.Status{State: "Ok", Msg: ciliumMsg},
			ContainerRuntime:     &models.Status{State: "Ok", Msg: "containerd"},
			KubeProxyReplacement: kprModel(sc),
		}
		base := strings.TrimPrefix(ciliumTag, "v") + "-status-" + sc.name
		write(*out, base+".txt", sc, render(sr, false))
		if hasVerbose {
			write(*out, base+"-verbose.txt", sc, render(sr, true))
		}
		if sc.redact == nil {
			write(*out, base+".json", sc, printJSON(sr))
		}
	}
}

// tab is the CLI's writer: cilium/cmd/status.go wraps stdout in
// tabwriter.NewWriter(os.Stdout, 2, 0, 3, ' ', 0).
func tab(f func(w *tabwriter.Writer)) string {
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 2, 0, 3, ' ', 0)
	f(w)
	w.Flush()
	return buf.String()
}

// printJSON is `cilium status -o json`: pkg/command prints to stdout.
func printJSON(data any) string {
	f, err := os.CreateTemp("", "gen-*.json")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(f.Name())
	stdout := os.Stdout
	os.Stdout = f
	err = command.PrintOutputWithType(data, "json")
	os.Stdout = stdout
	if err != nil {
		log.Fatal(err)
	}
	f.Close()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		log.Fatal(err)
	}
	return string(b)
}

func write(dir, name string, sc scenario, body string) {
	for _, r := range sc.redact {
		body = strings.ReplaceAll(body, r[0], r[1])
	}
	cmd := "cilium status"
	switch {
	case strings.HasSuffix(name, ".json"):
		cmd += " -o json"
	case strings.HasSuffix(name, "-verbose.txt"):
		cmd += " --verbose"
	}
	header := "# fixture: `" + cmd + "` of Cilium " + ciliumTag + ", rendered by that release's own pkg/client code (old-formats/gen/gen.sh); scenario values invented"
	if sc.seen != "" && !strings.HasSuffix(name, ".json") {
		header += "; this form of the line is seen pasted in " + sc.seen
	}
	if sc.redact != nil {
		header += "; addresses then redacted by gen.sh (see old-formats/README.md)"
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(header+"\n"+body), 0o644); err != nil {
		log.Fatal(err)
	}
}
