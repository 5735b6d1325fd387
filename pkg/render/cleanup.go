package render

import (
	"fmt"
	"io"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// Cleanup prints what `kubectl kpr cleanup` deleted (or would delete).
func Cleanup(w io.Writer, rep *report.Cleanup, p Palette) error {
	if len(rep.Deleted) == 0 && len(rep.Namespaces) == 0 && len(rep.Controllers) == 0 {
		_, err := fmt.Fprintln(w, "No kpr pods found.")
		return err
	}
	verb := "deleted"
	if rep.DryRun {
		verb = "would delete"
	}
	for _, n := range rep.Namespaces {
		if _, err := fmt.Fprintf(w, "%s namespace %s (verify run %s, %s, age %s)\n", p.Good(verb), Safe(n.Name), Safe(orDash(n.RunID)), orDash(n.Phase), n.Age); err != nil {
			return err
		}
	}
	for _, c := range rep.Controllers {
		if _, err := fmt.Fprintf(w, "%s %s %s/%s (run %s, age %s)\n", p.Good(verb), c.Kind, Safe(c.Namespace), Safe(c.Name), Safe(orDash(c.RunID)), c.Age); err != nil {
			return err
		}
	}
	for _, d := range rep.Deleted {
		if _, err := fmt.Fprintf(w, "%s pod %s/%s (node %s, %s, age %s)\n", p.Good(verb), Safe(d.Namespace), Safe(d.Name), Safe(orDash(d.Node)), orDash(d.Phase), d.Age); err != nil {
			return err
		}
	}
	return nil
}
