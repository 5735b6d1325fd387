package main

import "testing"

func TestOutputFile(t *testing.T) {
	for args, want := range map[string]string{
		"status -o json":             "status.json",
		"status":                     "status.txt",
		"status --verbose":           "status-verbose.txt",
		"service list -o json":       "service-list.json",
		"service list":               "service-list.txt",
		"bpf lb list":                "",
		"status -o":                  "status.txt",
		"":                           "",
		"service list --output=json": "service-list.json",
	} {
		if got := outputFile(splitArgs(args)); got != want {
			t.Errorf("outputFile(%q) = %q, want %q", args, got, want)
		}
	}
}

func splitArgs(s string) []string {
	var out []string
	word := ""
	for _, r := range s + " " {
		if r == ' ' {
			if word != "" {
				out = append(out, word)
			}
			word = ""
			continue
		}
		word += string(r)
	}
	return out
}
