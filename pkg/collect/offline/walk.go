// Package offline reads what `kubectl kpr analyze` is given: files,
// directories, zip and tar(.gz) archives (a `cilium sysdump` zip, its
// extracted folder, the `cilium-bugtool` archives inside) and stdin, and
// turns every command output found there into an analyze input.
//
// Design for large inputs: nothing is read whole unless it is small.
// Archives are walked entry by entry (zip through its central directory
// with random access on the file, tar.gz as a stream), entries that cannot
// hold agent output (BPF map dumps, logs, profiles) are skipped by name,
// and an output above smallLimit is sniffed from its head and, when it is
// an iptables/nft/ipvsadm dump, streamed through paste.NewCleanReader into
// the streaming netfilter parsers. Peak memory is then the parsers' chain
// sets plus one read buffer, not the input size.
package offline

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Document is one file-like input.
type Document struct {
	// Source is a path, "-", or "archive!entry" (nested: "a.zip!b.tar.gz!c").
	Source string
	// Agent is the Cilium agent pod whose bugtool produced it ("" if none).
	Agent string
	// Size is the length in bytes, -1 when unknown (stdin, tar streams).
	Size int64
	// InBundle: found inside a sysdump or bugtool bundle, where only
	// entries whose names announce agent output are read.
	InBundle bool
}

// visitFunc reads one document. It must not keep r after returning.
type visitFunc func(d Document, r io.Reader) error

// walker walks the inputs; skipped counts bundle entries left unread.
type walker struct {
	visit visitFunc
	// object reads a sysdump cluster-object file (objectFile names it);
	// nil leaves them to the bundle filter.
	object  visitFunc
	skipped int
	stdin   io.Reader
	tmpDir  string
	limits  Limits
	// read and entries count toward the limits.
	read    int64
	entries int
}

// cappedOpen opens a zip entry with its decompressed bytes counted (a
// zip entry's declared size can lie).
func (w *walker) cappedOpen(zf *zip.File) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		rc, err := zf.Open()
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{capped{rc, w}, rc}, nil
	}
}

// Bytes read are counted where they come out of a file, stdin or a
// decompressor (capped), once each.

// LimitError is a cap of Limits that an input reached.
type LimitError struct{ What string }

func (e *LimitError) Error() string { return e.What }

// capped counts what is read through it against MaxBytes.
type capped struct {
	r io.Reader
	w *walker
}

func (c capped) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.w.read += int64(n)
	if c.w.read > c.w.limits.MaxBytes {
		return n, &LimitError{What: fmt.Sprintf("more than %d MiB after decompression: stopped there (a zip or tar bomb? the cap is Limits.MaxBytes)", c.w.limits.MaxBytes>>20)}
	}
	return n, err
}

func (w *walker) countEntry(source string) error {
	w.entries++
	if w.entries > w.limits.MaxEntries {
		return &LimitError{What: fmt.Sprintf("%s: more than %d archive entries: stopped there (the cap is Limits.MaxEntries)", source, w.limits.MaxEntries)}
	}
	if d := strings.Count(source, "!"); d > w.limits.MaxDepth {
		return &LimitError{What: fmt.Sprintf("%s: archives nested %d deep, more than %d: not read", source, d, w.limits.MaxDepth)}
	}
	return nil
}

var (
	zipMagic = []byte("PK\x03\x04")
	// An empty zip is only its end-of-central-directory record.
	emptyZipMagic = []byte("PK\x05\x06")
	gzipMagic     = []byte{0x1f, 0x8b}
)

// walkArg visits everything one command-line argument names.
func (w *walker) walkArg(arg string) error {
	if arg == "-" {
		return w.walkStdin()
	}
	fi, err := os.Stat(arg)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return w.walkDir(arg)
	}
	if m := fi.Mode(); !m.IsRegular() && m&fs.ModeNamedPipe == 0 {
		// A pipe is fine (`analyze <(kubectl exec ...)`); a device or a
		// socket is never a saved output, and /dev/zero would never end.
		return fmt.Errorf("%s: not a regular file (%s): give a file, a folder, an archive or - for stdin", arg, m.Type())
	}
	return w.walkFile(arg, arg, fi.Size(), isBundleName(arg))
}

func (w *walker) walkStdin() error {
	br := bufio.NewReaderSize(w.stdin, 64*1024)
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, zipMagic), bytes.HasPrefix(head, emptyZipMagic):
		// zip needs random access: spool stdin to a temporary file.
		f, err := os.CreateTemp(w.tmpDir, "kpr-stdin-*.zip")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		defer f.Close()
		n, err := io.Copy(f, capped{br, w})
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
		zr, err := zip.NewReader(f, n)
		if err != nil {
			return fmt.Errorf("stdin: %w", err)
		}
		return w.walkZip("-", zr, true)
	case bytes.HasPrefix(head, gzipMagic):
		return w.walkTarGz("-", br, true)
	}
	return w.visit(Document{Source: "-", Size: -1}, capped{br, w})
}

func (w *walker) walkFile(p, source string, size int64, inBundle bool) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	switch {
	case bytes.HasPrefix(head, zipMagic), bytes.HasPrefix(head, emptyZipMagic):
		zr, err := zip.NewReader(f, size)
		if err != nil {
			return fmt.Errorf("%s: %w", source, err)
		}
		return w.walkZip(source, zr, inBundle || isBundleName(source) || zipLooksLikeBundle(zr))
	case bytes.HasPrefix(head, gzipMagic):
		return w.walkTarGz(source, f, inBundle || isBundleName(source))
	case strings.HasSuffix(p, ".tar"):
		return w.walkTar(source, capped{f, w}, inBundle || isBundleName(source))
	}
	if w.object != nil && objectFile(source) != "" {
		return w.object(Document{Source: source, Size: size, InBundle: inBundle}, capped{f, w})
	}
	if inBundle && !wanted(source) {
		w.skipped++
		return nil
	}
	return w.visitDoc(Document{Source: source, Agent: agentOf(source), Size: size, InBundle: inBundle}, capped{f, w})
}

// walkDir visits a directory's files in name order. A directory holding
// bugtool output (an extracted sysdump) is read like a bundle.
func (w *walker) walkDir(dir string) error {
	bundle := isBundleName(dir) || dirLooksLikeBundle(dir)
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// WalkDir does not follow symlinks (no loop can trap it); links,
		// devices, sockets and pipes inside a folder are not outputs.
		switch {
		case d.Type().IsRegular():
			files = append(files, p)
		case !d.IsDir():
			w.skipped++
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	var errs []error
	for _, p := range files {
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := w.walkFile(p, p, fi.Size(), bundle || isBundleName(p)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (w *walker) walkZip(source string, zr *zip.Reader, bundle bool) error {
	files := append([]*zip.File(nil), zr.File...)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	if len(files) > w.limits.MaxEntries-w.entries {
		return &LimitError{What: fmt.Sprintf("%s: %d entries, more than the %d left under the cap: not read (the cap is Limits.MaxEntries)", source, len(files), w.limits.MaxEntries-w.entries)}
	}
	var errs []error
	for _, zf := range files {
		if zf.FileInfo().IsDir() {
			continue
		}
		name := source + "!" + zf.Name
		err := w.countEntry(name)
		if err == nil {
			err = w.entry(name, zf.Name, int64(zf.UncompressedSize64), bundle, w.cappedOpen(zf))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			var le *LimitError
			if errors.As(err, &le) {
				break // the cap is global: the other entries would hit it too
			}
		}
	}
	return errors.Join(errs...)
}

// walkTarGz walks a gzipped tar, or reads a gzipped single output
// (iptables-save.txt.gz) as a document.
func (w *walker) walkTarGz(source string, r io.Reader, bundle bool) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	defer gz.Close()
	// Counted here, after decompression: also what tar skips over.
	br := bufio.NewReaderSize(capped{gz, w}, 64*1024)
	if head, _ := br.Peek(262); len(head) < 262 || string(head[257:262]) != "ustar" {
		// A gzipped single output on stdin is what was given: read it
		// (the bundle filter is for entries of an archive).
		if bundle && source != "-" && !wanted(source) {
			w.skipped++
			return nil
		}
		return w.visitDoc(Document{Source: source, Agent: agentOf(source), Size: -1, InBundle: bundle && source != "-"}, br)
	}
	return w.walkTar(source, br, bundle)
}

func (w *walker) walkTar(source string, r io.Reader, bundle bool) error {
	tr := tar.NewReader(r)
	var errs []error
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w (the archive looks truncated)", source, err))
			break
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := source + "!" + h.Name
		open := func() (io.ReadCloser, error) { return io.NopCloser(tr), nil }
		err = w.countEntry(name)
		if err == nil {
			err = w.entry(name, h.Name, h.Size, bundle, open)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			var le *LimitError
			if errors.As(err, &le) {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// entry visits one archive entry: a nested archive is walked, an output
// is read unless the bundle filter skips it.
func (w *walker) entry(source, name string, size int64, bundle bool, open func() (io.ReadCloser, error)) error {
	lower := strings.ToLower(name)
	nested := strings.HasSuffix(lower, ".tar.gz") || strings.HasSuffix(lower, ".tgz") || strings.HasSuffix(lower, ".tar")
	if !nested && w.object != nil && objectFile(source) != "" {
		rc, err := open()
		if err != nil {
			return err
		}
		defer rc.Close()
		return w.object(Document{Source: source, Size: size, InBundle: bundle}, rc)
	}
	if !nested && bundle && !wanted(source) {
		w.skipped++
		return nil
	}
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	switch {
	case strings.HasSuffix(lower, ".tar"):
		return w.walkTar(source, rc, true)
	case nested:
		return w.walkTarGz(source, rc, true)
	}
	return w.visitDoc(Document{Source: source, Agent: agentOf(source), Size: size, InBundle: bundle}, rc)
}

func (w *walker) visitDoc(d Document, r io.Reader) error { return w.visit(d, r) }

// bugtoolPodRE finds the agent pod in the names cilium sysdump gives each
// agent's bugtool output: "cilium-bugtool-<pod>-<YYYYMMDD-HHMMSS>" (.tar,
// .tar.gz, or the folder it is extracted to; cilium-cli sysdump/sysdump.go
// ciliumBugtoolFileName with "<ts>" in time format 20060102-150405).
var bugtoolPodRE = regexp.MustCompile(`cilium-bugtool-([a-z][a-z0-9.-]*?)-(\d{8}-\d{6})`)

// agentOf returns the agent pod a bundle path belongs to, or, for a lone
// bugtool archive (no pod in its name), that archive's name.
func agentOf(source string) string {
	if m := bugtoolPodRE.FindAllStringSubmatch(source, -1); m != nil {
		return m[len(m)-1][1]
	}
	for _, seg := range strings.FieldsFunc(source, func(r rune) bool { return r == '/' || r == '!' || r == '\\' }) {
		if strings.HasPrefix(seg, "cilium-bugtool-") {
			return strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(seg, ".gz"), ".tar"), ".tgz")
		}
	}
	return ""
}

func isBundleName(p string) bool {
	b := strings.ToLower(p)
	return strings.Contains(b, "cilium-sysdump") || strings.Contains(b, "cilium-bugtool")
}

func zipLooksLikeBundle(zr *zip.Reader) bool {
	for _, f := range zr.File {
		if isBundleName(f.Name) {
			return true
		}
	}
	return false
}

func dirLooksLikeBundle(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if isBundleName(e.Name()) {
			return true
		}
	}
	return false
}

// wanted reports whether a bundle entry is read: agent output written by
// cilium-bugtool. Other sysdump files (cluster objects, logs, cilium-cli's
// own summaries) are not agent output.
func wanted(source string) bool {
	return relevant(source) && strings.Contains(strings.ToLower(source), "cilium-bugtool")
}

// relevant reports whether a bundle entry can hold output kpr reads:
// cilium-bugtool writes each command to "<command with spaces as
// dashes>.md" under cmd/ (bugtool/cmd/root.go writeCmdToFile), e.g.
// cilium-dbg-status---verbose.md, cilium-dbg-service-list.md,
// iptables-nft-save--c.md, ip6tables-legacy-save--c.md.
func relevant(name string) bool {
	base := strings.ToLower(path.Base(filepath.ToSlash(name)))
	switch {
	case strings.Contains(base, "health"), strings.Contains(base, "bpf-"), strings.HasSuffix(base, ".pprof"), strings.HasSuffix(base, ".log"):
		return false
	case strings.HasPrefix(base, "cilium") && strings.Contains(base, "-status"):
		return true
	case strings.HasPrefix(base, "cilium") && strings.Contains(base, "service-list"):
		return true
	case strings.Contains(base, "tables-save"), strings.Contains(base, "tables-nft-save"), strings.Contains(base, "tables-legacy-save"):
		return true
	case strings.HasPrefix(base, "nft-") && strings.Contains(base, "ruleset"):
		return true
	case strings.HasPrefix(base, "ipvsadm"):
		return true
	}
	return false
}
