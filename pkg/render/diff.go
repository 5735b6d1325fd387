package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// Diff prints `kubectl kpr diff`: a verdict line per node, then the facts
// side by side; differing rows carry "*" (bold when decisive), working
// values are green and failing ones red.
func Diff(w io.Writer, d *report.Diff, p Palette) error {
	for _, v := range d.Verdicts {
		name, rest, _ := strings.Cut(v, ": ")
		fmt.Fprintf(w, "%s %s\n", p.Bold(Safe(name)+":"), Safe(rest))
	}
	fmt.Fprintln(w)
	header := []string{"", "SECTION", "FACT"}
	for _, n := range d.Nodes {
		header = append(header, strings.ToUpper(Safe(n)))
	}
	rows := make([][]string, 0, len(d.Rows))
	for _, r := range d.Rows {
		mark := ""
		if r.Differs {
			mark = "*"
			if r.Decisive {
				mark = p.Bold(p.Warn("*"))
			}
		}
		rows = append(rows, []string{mark, r.Section, Safe(r.Fact), diffCell(r.A, r.AState, p), diffCell(r.B, r.BState, p)})
	}
	if err := Table(w, header, rows); err != nil {
		return err
	}
	if d.Differs {
		fmt.Fprintf(w, "\n%s\n", p.Warn("The nodes differ in how they handle Services (rows marked *)."))
	} else {
		fmt.Fprintf(w, "\n%s\n", p.Good("The nodes handle Services the same way."))
	}
	return nil
}

func diffCell(v, state string, p Palette) string {
	switch state {
	case report.StateGood:
		return p.Good(Safe(v))
	case report.StateBad:
		return p.Bad(Safe(v))
	}
	return Safe(v)
}
