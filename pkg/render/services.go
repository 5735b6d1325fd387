package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// Services prints `services`: per node a summary line and a table of its
// problems; wide adds a row for every frontend that is fine.
func Services(w io.Writer, rep *report.Services, p Palette, wide bool) error {
	ns := "all namespaces"
	if rep.Namespace != "" {
		ns = "namespace " + Safe(rep.Namespace)
	}
	fmt.Fprintf(w, "Services in %s, compared with the Cilium agents in %s\n", ns, Safe(orDash(rep.CiliumNamespace)))
	for _, n := range rep.Nodes {
		fmt.Fprintln(w)
		fmt.Fprintln(w, nodeServicesLine(n, p))
		for _, e := range n.Errors {
			fmt.Fprintf(w, "  %s %s\n", p.Bad("error:"), Safe(e))
		}
		if n.CiliumAgent == nil || len(n.Errors) > 0 {
			continue
		}
		rows := make([][]string, 0, len(n.Problems))
		for _, pr := range n.Problems {
			rows = append(rows, []string{p.Paint(problemTone(pr.Code), pr.Code), Safe(orDash(pr.Service)), frontendCell(pr.Frontend, pr.Protocol), Safe(pr.Type), Safe(pr.Detail)})
		}
		if wide {
			for _, f := range n.Frontends {
				if f.Status != report.FrontendOK && f.Status != report.FrontendUnmanaged {
					continue
				}
				detail := backendsSummary(f)
				if f.Reason != "" {
					detail = f.Reason
				}
				if f.Internal {
					detail = "internal scope (/i), " + detail
				}
				tone := ToneGood
				if f.Status == report.FrontendUnmanaged {
					tone = ToneInfo
				}
				rows = append(rows, []string{p.Paint(tone, f.Status), Safe(orDash(f.Service)), frontendCell(f.Frontend, f.Protocol), Safe(f.Type), Safe(detail)})
			}
		}
		if len(rows) == 0 {
			fmt.Fprintln(w, "  "+p.Good("no problems"))
			continue
		}
		first := "PROBLEM"
		if wide {
			first = "STATUS"
		}
		if err := Table(w, []string{first, "SERVICE", "FRONTEND", "TYPE", "DETAIL"}, rows); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, servicesSummaryLine(rep.Summary, p))
	return nil
}

func nodeServicesLine(n report.NodeServices, p Palette) string {
	head := p.Bold(Safe(n.Node))
	if a := n.CiliumAgent; a != nil {
		head += " (" + Safe(a.Namespace+"/"+a.Pod)
		if !a.Ready {
			head += ", " + p.Warn("not ready")
		}
		head += ")"
	}
	if n.CiliumAgent == nil || len(n.Errors) > 0 {
		return head
	}
	c := n.Counts
	parts := []string{
		fmt.Sprintf("%d frontends expected", c.Expected),
		fmt.Sprintf("%d found", c.Found),
		p.Good(fmt.Sprintf("%d ok", c.OK)),
	}
	if c.Missing > 0 {
		parts = append(parts, p.Bad(fmt.Sprintf("%d missing", c.Missing)))
	}
	if c.Stale > 0 {
		parts = append(parts, p.Bad(fmt.Sprintf("%d stale", c.Stale)))
	}
	if c.Mismatch > 0 {
		parts = append(parts, p.Warn(fmt.Sprintf("%d mismatched", c.Mismatch)))
	}
	if c.Unmanaged > 0 {
		parts = append(parts, fmt.Sprintf("%d unmanaged", c.Unmanaged))
	}
	return head + ": " + strings.Join(parts, ", ")
}

func servicesSummaryLine(s report.ServicesSummary, p Palette) string {
	line := fmt.Sprintf("%d node(s) checked", s.Nodes)
	if s.Problems == 0 && s.NodesFailed == 0 {
		return line + ": " + p.Good("Cilium's service tables match the cluster")
	}
	if s.Problems > 0 {
		line += ", " + p.Bad(fmt.Sprintf("%d with problems (%d problems)", s.NodesWithProblems, s.Problems))
	}
	if s.NodesFailed > 0 {
		line += ", " + p.Warn(fmt.Sprintf("%d agent(s) unreadable", s.NodesFailed))
	}
	return line
}

func problemTone(code string) Tone {
	switch code {
	case report.ProblemMissingFrontend, report.ProblemStaleFrontend, report.ProblemMissingBackend:
		return ToneBad
	}
	return ToneWarn
}

func frontendCell(frontend, proto string) string {
	if proto == "" {
		return Safe(frontend)
	}
	return Safe(frontend + "/" + proto)
}

func backendsSummary(f report.FrontendCheck) string {
	n := f.BackendCount
	if n == 1 {
		return "1 backend"
	}
	return fmt.Sprintf("%d backends", n)
}
