package render

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// VerifyDryRun words what a dry run of verify would create and probe.
func VerifyDryRun(w io.Writer, res *report.Verify) error {
	var b strings.Builder
	b.WriteString("Dry run: verify would create (and delete at the end):\n")
	for _, c := range res.Created {
		b.WriteString("  " + Safe(c) + "\n")
	}
	var chosen []string
	for _, cl := range res.Classes {
		chosen = append(chosen, cl.Chosen...)
	}
	sort.Strings(chosen)
	var targets []string
	for _, t := range res.Targets {
		targets = append(targets, t.Service+":"+t.Port)
	}
	if res.Options.DeployBackends {
		targets = append(targets, "one NodePort Service per class (above)")
	}
	fmt.Fprintf(&b, "and from %s probe %s: ClusterIP, NodePort on the node's IP, 127.0.0.1, 0.0.0.0, and on one node of every class.\n",
		strings.Join(chosen, ", "), strings.Join(targets, "; "))
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteVerifyReports writes verify's report files: JUnit XML to junit
// (when set), and each of reports as HTML or Markdown by its extension.
func WriteVerifyReports(res *report.Verify, junit string, reports []string) error {
	var errs []error
	if junit != "" {
		errs = append(errs, writeFile(junit, func(f *os.File) error { return JUnit(f, res) }))
	}
	for _, path := range reports {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".html", ".htm":
			errs = append(errs, writeFile(path, func(f *os.File) error { return HTML(f, res) }))
		default:
			errs = append(errs, writeFile(path, func(f *os.File) error { return Markdown(f, res) }))
		}
	}
	return errors.Join(errs...)
}

// writeFile writes a report through a temporary file, so that a failed
// run never leaves half a report where the last good one was.
func writeFile(path string, write func(*os.File) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
