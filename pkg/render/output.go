package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// Format is the value of -o.
type Format string

const (
	FormatTable Format = ""
	FormatWide  Format = "wide"
	FormatJSON  Format = "json"
	FormatYAML  Format = "yaml"
)

// ParseFormat validates -o against the formats a command supports.
func ParseFormat(s string, allowed ...Format) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if f == "table" {
		f = FormatTable
	}
	for _, a := range allowed {
		if f == a {
			return f, nil
		}
	}
	names := make([]string, 0, len(allowed))
	for _, a := range allowed {
		if a == FormatTable {
			continue
		}
		names = append(names, string(a))
	}
	return "", fmt.Errorf("unsupported output format %q: use one of %s (or leave -o unset for a table)", s, strings.Join(names, ", "))
}

// IsStructured reports whether f is a machine-readable format.
func (f Format) IsStructured() bool { return f == FormatJSON || f == FormatYAML }

// Structured writes doc as indented JSON or as YAML, its apiVersion and
// kind first: it sets them itself (doc.SetTypeMeta), so no command can
// print a document without them; a value that is not a report.Document
// does not compile. Custom structs are not runtime.Objects, so
// cli-runtime's printers cannot take them; JSON and YAML go through
// encoding/json and sigs.k8s.io/yaml as kubectl's own do.
func Structured(w io.Writer, f Format, doc report.Document) error {
	doc.SetTypeMeta()
	switch f {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	case FormatYAML:
		b, err := documentYAML(doc)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("format %q is not structured", f)
}

// documentYAML is doc as sigs.k8s.io/yaml writes it (through JSON, every
// mapping's keys sorted), except that apiVersion and kind come first, as
// in JSON, rather than wherever they sort among the other keys.
func documentYAML(doc report.Document) ([]byte, error) {
	j, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	head, err := json.Marshal(doc.GetTypeMeta())
	if err != nil {
		return nil, err
	}
	// TypeMeta is embedded first, so the document's JSON starts with
	// head's members: cut them off, keep the rest as an object.
	prefix := head[:len(head)-1]
	if !bytes.HasPrefix(j, prefix) {
		return nil, fmt.Errorf("%T: apiVersion and kind are not its first fields", doc)
	}
	body := append([]byte("{"), bytes.TrimPrefix(j[len(prefix):], []byte(","))...)
	out, err := yaml.JSONToYAML(head)
	if err != nil {
		return nil, err
	}
	rest, err := yaml.JSONToYAML(body)
	if err != nil {
		return nil, err
	}
	if string(rest) == "{}\n" {
		return out, nil
	}
	return append(out, rest...), nil
}
