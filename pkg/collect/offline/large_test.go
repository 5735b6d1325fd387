package offline

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Above smallLimit an output is streamed; a CRLF paste of a big dump goes
// through the clean reader, other big outputs are refused with a reason.
func TestLargeInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and parses two 18 MB dumps")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "big.txt")
	n := writeBigDump(t, p, smallLimit+(2<<20))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	crlf := bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
	out, st := Analyze([]string{"-"}, Options{Stdin: bytes.NewReader(append([]byte("$ iptables-save -c\r\n"), crlf...))})
	if st.Recognised != 1 || out.Inputs[0].Netfilter == nil || len(out.Inputs[0].Netfilter.KubeServiceChains) != n {
		t.Fatalf("stdin CRLF dump: %+v %+v", st, out.Inputs)
	}
	if out.Inputs[0].Netfilter.Counts.KubeSVC.Rules == 0 || len(out.Inputs[0].Netfilter.Warnings) != 0 {
		t.Errorf("netfilter = %+v", out.Inputs[0].Netfilter.Counts)
	}
	prose := filepath.Join(dir, "huge-log.txt")
	if err := os.WriteFile(prose, bytes.Repeat([]byte("level=info msg=\"nothing to see\"\n"), smallLimit/30), 0o644); err != nil {
		t.Fatal(err)
	}
	out, st = Analyze([]string{prose}, Options{})
	if st.Recognised != 0 || out.Inputs[0].Kind != "unknown" || !strings.Contains(out.Inputs[0].Reason, "larger than 4 MiB") {
		t.Errorf("big prose: %+v", out.Inputs)
	}
}

func TestLargeServiceList(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 9 MB service list")
	}
	var b strings.Builder
	b.WriteString("ID   Frontend                  Service Type   Backend\n")
	const n = 100000
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%-4d 10.96.%d.%d:80/TCP        ClusterIP      1 => 10.244.%d.%d:8080/TCP (active)\n", i, i>>8&255, i&255, i>>8&255, i&255)
	}
	if b.Len() <= smallLimit {
		t.Fatalf("only %d bytes: not the large path", b.Len())
	}
	out, st := Analyze([]string{"-"}, Options{Stdin: strings.NewReader(b.String())})
	if st.Recognised != 1 || len(out.Inputs[0].Services) != n {
		t.Fatalf("recognised %d, services %d, reason %q", st.Recognised, len(out.Inputs[0].Services), out.Inputs[0].Reason)
	}
}
