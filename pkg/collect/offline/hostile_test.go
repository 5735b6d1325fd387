package offline

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// Hostile and broken inputs: each ends with a clear message, within the
// caps, without a panic or a hang. The archives are built here, so their
// shape is what the test says.

func zipOf(t *testing.T, entries map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, data := range entries {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func tarGzOf(t *testing.T, entries map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for name, data := range entries {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	tw.Close()
	gz.Close()
	return b.Bytes()
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// limitErr finds the cap's message: a walk error, or the reason of the
// input whose parser was reading when the cap hit.
func limitErr(t *testing.T, out *report.Analyze, st Stats, want string) {
	t.Helper()
	for _, err := range st.Errors {
		var le *LimitError
		if errors.As(err, &le) && strings.Contains(err.Error(), want) {
			return
		}
	}
	for _, in := range out.Inputs {
		if strings.Contains(in.Reason, want) {
			return
		}
	}
	t.Errorf("no limit error naming %q: %v %+v", want, st.Errors, out.Inputs)
}

const nat = "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]\nCOMMIT\n"

func TestZipBombStopsAtTheByteCap(t *testing.T) {
	dir := t.TempDir()
	// 64 MiB of one rule repeated deflate to a few hundred KiB, and look
	// like a dump all the way, so the parser keeps reading.
	body := append([]byte("*nat\n:KUBE-SERVICES - [0:0]\n"), bytes.Repeat([]byte("-A KUBE-SERVICES -j KUBE-SVC-AAAAAAAAAAAAAAAA\n"), (64<<20)/46)...)
	bomb := writeFile(t, dir, "outputs.zip", zipOf(t, map[string][]byte{"iptables-save.txt": body}))
	out, st := Analyze([]string{bomb}, Options{Limits: Limits{MaxBytes: 8 << 20}})
	limitErr(t, out, st, "more than 8 MiB after decompression")
}

// A tar.gz's skipped entries are decompressed too: they count.
func TestTarGzBombInSkippedEntry(t *testing.T) {
	dir := t.TempDir()
	bomb := writeFile(t, dir, "cilium-bugtool-x.tar.gz", tarGzOf(t, map[string][]byte{"bpf-maps.bin": make([]byte, 64<<20)}))
	out, st := Analyze([]string{bomb}, Options{Limits: Limits{MaxBytes: 8 << 20}})
	limitErr(t, out, st, "after decompression")
}

func TestEntryCountCap(t *testing.T) {
	entries := map[string][]byte{}
	for i := 0; i < 50; i++ {
		entries[strings.Repeat("x", i+1)+".txt"] = nil
	}
	p := writeFile(t, t.TempDir(), "many.zip", zipOf(t, entries))
	out, st := Analyze([]string{p}, Options{Limits: Limits{MaxEntries: 10}})
	limitErr(t, out, st, "50 entries, more than the 10 left under the cap")
	if len(out.Inputs) != 1 || out.Inputs[0].Reason == "" {
		t.Errorf("the archive must be reported with the reason: %+v", out.Inputs)
	}
}

func TestNestingDepthCap(t *testing.T) {
	inner := tarGzOf(t, map[string][]byte{"iptables-save.txt": []byte(nat)})
	for i := 0; i < 3; i++ {
		inner = tarGzOf(t, map[string][]byte{"nested.tar.gz": inner})
	}
	p := writeFile(t, t.TempDir(), "deep.tar.gz", inner)
	out, st := Analyze([]string{p}, Options{Limits: Limits{MaxDepth: 2}})
	limitErr(t, out, st, "nested 3 deep, more than 2")
}

// Entry names are labels, never paths: "../" and absolute names are read
// from the archive and nothing outside it is opened or written.
func TestTraversalNamesStayInsideTheArchive(t *testing.T) {
	dir := t.TempDir()
	outside := writeFile(t, dir, "victim.txt", []byte("untouched"))
	p := writeFile(t, filepath.Join(dir), "evil.zip", zipOf(t, map[string][]byte{
		"../victim.txt":            []byte(nat),
		"/etc/iptables-save.txt":   []byte(nat),
		"../../../../../../../tmp": []byte(nat),
	}))
	out, st := Analyze([]string{p}, Options{})
	if len(st.Errors) != 0 || st.Recognised != 3 {
		t.Fatalf("errors %v, recognised %d", st.Errors, st.Recognised)
	}
	for _, in := range out.Inputs {
		if !strings.HasPrefix(in.Source, p+"!") || in.Kind != "iptables-save" {
			t.Errorf("input %s %s", in.Source, in.Kind)
		}
	}
	if b, _ := os.ReadFile(outside); string(b) != "untouched" {
		t.Error("a file outside the archive changed")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("analyze wrote into the folder: %v", ents)
	}
}

// A folder with a symlink loop, a dangling link and a FIFO: WalkDir does
// not follow links, non-regular files are skipped and counted; a device
// given by name is refused.
func TestFolderWithLinksAndSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "iptables-save.txt", []byte(nat))
	os.Symlink(".", filepath.Join(dir, "loop"))
	os.Symlink("nowhere", filepath.Join(dir, "dangling"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, st := Analyze([]string{dir}, Options{})
	if st.Recognised != 1 || st.Skipped != 3 || len(st.Errors) != 0 {
		t.Errorf("recognised %d, skipped %d (want 3), errors %v", st.Recognised, st.Skipped, st.Errors)
	}
	out, st := Analyze([]string{"/dev/zero"}, Options{})
	if len(st.Errors) != 1 || !strings.Contains(st.Errors[0].Error(), "not a regular file") || out.Inputs[0].Reason == "" {
		t.Errorf("/dev/zero: %v %+v", st.Errors, out.Inputs)
	}
}

// endless repeats one byte: a stream no test has to store.
type endless struct {
	b    byte
	left int64
}

func (e *endless) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > e.left {
		n = e.left
	}
	for i := range p[:n] {
		p[i] = e.b
	}
	e.left -= n
	return int(n), nil
}

// One 1 GiB line on stdin: recognised as nothing, from its head, without
// reading it into memory.
func TestOneGiBLine(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	out, _ := Analyze([]string{"-"}, Options{Stdin: &endless{b: 'a', left: 1 << 30}})
	runtime.ReadMemStats(&after)
	if len(out.Inputs) != 1 || out.Inputs[0].Kind != "unknown" || out.Inputs[0].Reason == "" {
		t.Errorf("inputs %+v", out.Inputs)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("allocated %d MiB for a 1 GiB line", alloc>>20)
	}
}

// The same line inside what starts as an iptables dump: the parser's line
// cap ends it with an error, not an allocation of the whole line.
func TestOneGiBLineInsideADump(t *testing.T) {
	r := io.MultiReader(strings.NewReader("*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES "), &endless{b: 'x', left: 1 << 30})
	out, _ := Analyze([]string{"-"}, Options{Stdin: r})
	if len(out.Inputs) != 1 || !strings.Contains(out.Inputs[0].Reason, "token too long") {
		t.Errorf("inputs %+v", out.Inputs)
	}
}

// Invalid UTF-8 in a dump is read; NUL bytes make an input binary, said
// so. kpr's JSON stays valid either way.
func TestInvalidUTF8AndNUL(t *testing.T) {
	dump := func(comment string) string {
		return "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]\n-A KUBE-SERVICES -m comment --comment \"" + comment + " cluster IP\" -d 10.0.0.1/32 -j KUBE-SVC-AAAAAAAAAAAAAAAA\nCOMMIT\n"
	}
	for _, tc := range []struct {
		name, in   string
		recognised int
	}{
		{"invalid UTF-8", dump("ns/\xff\xfesvc:p"), 1},
		{"NUL", dump("ns/\x00svc:p"), 0},
	} {
		out, st := Analyze([]string{"-"}, Options{Stdin: strings.NewReader(tc.in)})
		if st.Recognised != tc.recognised || (tc.recognised == 0 && out.Inputs[0].Reason == "") {
			t.Errorf("%s: inputs %+v", tc.name, out.Inputs)
		}
		b, err := json.Marshal(out)
		if err != nil || !json.Valid(b) {
			t.Errorf("%s: JSON: %v", tc.name, err)
		}
	}
}
