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

func TestNodeToolsAnswerWithoutTouchingTheMachine(t *testing.T) {
	for _, tool := range []string{"nsenter", "chroot", "ipvsadm", "ip"} {
		if code, ok := nodeTool(tool, nil); !ok || code == 0 {
			t.Errorf("%s: (%d, %v), want a failure so that the script uses no host", tool, code, ok)
		}
	}
	if code, ok := nodeTool("curl", []string{"-s", "--max-time", "2", "http://127.0.0.1:10249/proxyMode"}); !ok || code != 7 {
		t.Errorf("curl to kube-proxy's port: exit %d, want 7 (refused: no kube-proxy)", code)
	}
	if _, ok := nodeTool("cilium-dbg", nil); ok {
		t.Error("cilium-dbg taken for a node tool")
	}
}
