package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"
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

// Structured writes v as indented JSON or as YAML. Custom structs are not
// runtime.Objects, so cli-runtime's printers cannot take them; JSON and YAML
// go through encoding/json and sigs.k8s.io/yaml as kubectl's own do.
func Structured(w io.Writer, f Format, v any) error {
	switch f {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case FormatYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("format %q is not structured", f)
}
