// Package doccheck holds only tests: that the Markdown documentation
// (README.md, CONTRIBUTING.md, docs/**/*.md) links to files and headings
// that exist, and that README.md stays a short front door. Run them with
// `go test ./internal/doccheck/`.
package doccheck
