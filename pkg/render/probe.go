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
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "%s %s\n", p.Faint("skipped:"), Safe(s))
	}
	return nil
}

// ProbeTargetLabel is the address column: the node's own IP varies by
// row node for nodeport-local, so it is named rather than shown.
func ProbeTargetLabel(r report.ProbeResult) string {
	switch r.Kind {
	case "nodeport-local":
		_, port := splitPort(r.Target)
		return "<node IP>:" + port
	case "nodeport-remote":
		return r.Target + " (" + r.Via + ")"
	}
	return r.Target
}

// ProbeCell is one colored outcome: "ok 1.2ms", "ok 200 3.4ms", "refused".
func ProbeCell(r report.ProbeResult, p Palette) string {
	if r.Outcome != "ok" {
		return p.Bad(r.Outcome)
	}
	s := "ok"
	if r.HTTPStatus != 0 {
		s += " " + strconv.Itoa(r.HTTPStatus)
	}
	s += " " + strconv.FormatFloat(r.LatencyMs, 'f', -1, 64) + "ms"
	return p.Good(s)
}

func splitPort(hostport string) (string, string) {
	i := strings.LastIndex(hostport, ":")
	if i < 0 {
		return hostport, ""
	}
	return hostport[:i], hostport[i+1:]
}
