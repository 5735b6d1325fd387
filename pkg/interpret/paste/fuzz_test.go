package paste

import (
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzClean(f *testing.F) {
	seed, err := os.ReadFile("testdata/ticket-crlf.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("$ cilium status -o json\n{\"kube-proxy-replacement\": {\"mode\": \"True\"\n```\n"))
	f.Add([]byte("build\tx\t2024-05-01T12:00:00Z   *nat\n  :A - [0:0]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := Clean(b)
		if !utf8.Valid(out) {
			t.Fatalf("Clean output is not UTF-8: %q", out)
		}
		secs := Split(b)
		if len(secs) == 0 {
			t.Fatal("Split returned no section")
		}
		for _, s := range secs {
			if s.Kind == Unknown && s.Reason == "" {
				t.Fatalf("unknown section without a reason: %+v", s)
			}
			if strings.Contains(string(s.Text), "\r\n") {
				t.Fatalf("CRLF left in %q", s.Text)
			}
		}
	})
}
