package browser

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// NeedChromium skips a test only when KPR_SKIP_BROWSER=1; otherwise a
// missing Chromium is a failure (CI installs it).
func needChromium(t *testing.T) {
	t.Helper()
	if os.Getenv("KPR_SKIP_BROWSER") == "1" {
		t.Skip("KPR_SKIP_BROWSER=1")
	}
	if _, err := Find(); err != nil {
		t.Fatal(err)
	}
}

func writePage(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "page.html")
	if err := os.WriteFile(p, []byte("<!DOCTYPE html><html><head><meta charset=utf-8><title>t</title></head><body>"+body+"</body></html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The detector must see what a broken report would do: log an error,
// throw, and reach for the network.
func TestOpenReportsErrorsAndRequests(t *testing.T) {
	needChromium(t)
	page := writePage(t, `<h1>hello</h1><img src="http://assets.example.invalid/logo.png"><script>console.error("boom"); undefinedFn();</script>`)
	p, err := Open(context.Background(), page, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Text, "hello") {
		t.Errorf("text %q", p.Text)
	}
	all := strings.Join(p.Errors, "\n")
	for _, want := range []string{"boom", "undefinedFn"} {
		if !strings.Contains(all, want) {
			t.Errorf("errors do not mention %q: %q", want, p.Errors)
		}
	}
	if len(p.Requests) != 1 || !strings.Contains(p.Requests[0], "assets.example.invalid") {
		t.Errorf("requests %q, want the image", p.Requests)
	}
}

func TestOpenCleanPage(t *testing.T) {
	needChromium(t)
	page := writePage(t, `<h1 style="color:green">all good</h1>`)
	p, err := Open(context.Background(), page, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) != 0 || len(p.Requests) != 0 {
		t.Errorf("errors %q, requests %q", p.Errors, p.Requests)
	}
	if !strings.Contains(p.DOM, "all good") {
		t.Errorf("dom %q", p.DOM)
	}
	if !bytes.HasPrefix(p.Screenshot, []byte("\x89PNG")) {
		t.Errorf("screenshot is not a PNG (%d bytes)", len(p.Screenshot))
	}
}
