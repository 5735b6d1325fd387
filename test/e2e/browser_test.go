package e2e

import (
	"context"
	"os"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/internal/browser"
)

// openInChromium renders an HTML report in headless Chromium (no network),
// fails the test on console errors, exceptions or any request the page
// makes, writes a screenshot to shot, and returns the text a reader sees.
func openInChromium(t *testing.T, file, shot string) string {
	t.Helper()
	if os.Getenv("KPR_SKIP_BROWSER") == "1" {
		t.Skip("KPR_SKIP_BROWSER=1")
	}
	p, err := browser.Open(context.Background(), file, shot != "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) > 0 || len(p.Requests) > 0 {
		t.Errorf("the report did not render cleanly: errors %q, requests %q", p.Errors, p.Requests)
	}
	if shot != "" {
		if err := os.WriteFile(shot, p.Screenshot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", shot)
	}
	return p.Text
}
