// Package reporoot finds the repository's root for tests that read files
// relative to it (fixtures, docs).
package reporoot

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir walks up from the test's working directory to the directory
// holding go.mod.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}
