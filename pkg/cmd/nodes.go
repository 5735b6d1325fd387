package cmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// printNodeErrors writes per-node failures to w.
func printNodeErrors(w io.Writer, errs []report.NodeError) {
	for _, e := range errs {
		if strings.Contains(e.Message, "node "+e.Node) {
			fmt.Fprintf(w, "error: %s\n", e.Message)
		} else {
			fmt.Fprintf(w, "error: node %s: %s\n", e.Node, e.Message)
		}
	}
}

// partialFailure is the exit status when some nodes failed: the results
// of the others were printed. With -o json|yaml the failures are in the
// document's "errors", not on stderr above.
func partialFailure(errs []report.NodeError, total int, structured bool) error {
	if len(errs) == 0 {
		return nil
	}
	where := "see above"
	if structured {
		where = `see "errors" in the output`
	}
	return &ExitError{Code: 1, Err: fmt.Errorf("%d of %d node(s) could not be read (%s)", len(errs), total, where)}
}
