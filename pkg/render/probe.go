package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// Probe prints `kubectl kpr probe` as a target × node matrix: one row per
// Service port and kind of address, one column per probing node; ok is
// green (with latency), every failure red.
func Probe(w io.Writer, rep *report.Probe, nodes []string, p Palette) error {
	type rowKey struct{ service, kind, target string }
	var order []rowKey
	cells := map[rowKey]map[string]report.ProbeResult{}
	for _, r := range rep.Results {
		k := rowKey{r.Service, r.Kind, ProbeTargetLabel(r)}
		if cells[k] == nil {
			cells[k] = map[string]report.ProbeResult{}
			order = append(order, k)
		}
		cells[k][r.From] = r
	}
	header := []string{"SERVICE", "KIND", "TARGET"}
	for _, n := range nodes {
		header = append(header, strings.ToUpper(Safe(n)))
	}
	rows := make([][]string, 0, len(order))
	for _, k := range order {
		row := []string{Safe(k.service), k.kind, Safe(k.target)}
		for _, n := range nodes {
			r, ok := cells[k][n]
			if !ok {
				row = append(row, p.Faint("-"))
				continue
			}
			row = append(row, ProbeCell(r, p))
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "No probes ran.")
	} else if err := Table(w, header, rows); err != nil {
		return err
	}
	if l := ProbeLegend(rep); l != "" && len(rows) > 0 {
		fmt.Fprintln(w, p.Faint(l))
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "%s %s\n", p.Faint("skipped:"), Safe(s))
	}
	return nil
}

// ProbeTargetLabel is the address column: the node's own IP varies by
// row node for nodeport-local, so it is named rather than shown; a remote
// NodePort and a hostPort name their node.
func ProbeTargetLabel(r report.ProbeResult) string {
	switch r.Kind {
	case "nodeport-local":
		_, port := splitPort(r.Target)
		return "<node IP>:" + port
	case "nodeport-remote", "hostport":
		return r.Target + " (" + r.Via + ")"
	}
	return r.Target
}

// ProbeCell is one colored outcome: "ok 1.2ms", "ok 200 3.4ms kube-proxy",
// "refused"; a session-affinity row says how many backends answered.
func ProbeCell(r report.ProbeResult, p Palette) string {
	if r.Kind == report.CheckSessionAffinity {
		s, sticky := r.Affinity()
		if sticky {
			return p.Good(s)
		}
		return p.Bad(s)
	}
	if r.Outcome != "ok" {
		return p.Bad(r.Outcome)
	}
	s := "ok"
	if r.HTTPStatus != 0 {
		s += " " + strconv.Itoa(r.HTTPStatus)
	}
	s += " " + strconv.FormatFloat(r.LatencyMs, 'f', -1, 64) + "ms"
	if by := servedByShort[r.ServedBy]; by != "" {
		s += " " + by
	}
	return p.Good(s)
}

// servedByShort keeps the matrix narrow; -o json has the full value and
// its reason.
var servedByShort = map[string]string{
	"cilium-socket-lb": "slb",
	"cilium-bpf":       "bpf",
	"kube-proxy":       "kp",
	"portmap":          "portmap",
	"unknown":          "?",
}

// ProbeLegend explains the matrix's servedBy markers, when any shows.
func ProbeLegend(rep *report.Probe) string {
	for _, r := range rep.Results {
		if servedByShort[r.ServedBy] != "" && r.Outcome == "ok" {
			return "served by: slb Cilium socket-LB, bpf Cilium BPF NodePort, kp kube-proxy (its counters moved where both are on the path), ? cannot tell (see -o json servedByReason)"
		}
	}
	return ""
}

func splitPort(hostport string) (string, string) {
	i := strings.LastIndex(hostport, ":")
	if i < 0 {
		return hostport, ""
	}
	return hostport[:i], hostport[i+1:]
}
