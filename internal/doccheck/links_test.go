package doccheck

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/kubectl-kpr/kubectl-kpr/internal/reporoot"
)

// readmeMaxBytes is the README's budget: 15 KB, counted as `wc -c` bytes.
// The details belong in docs/ (CONTRIBUTING.md, "Documentation").
const readmeMaxBytes = 15000

// docFiles lists the checked Markdown files, relative to root:
// README.md, CONTRIBUTING.md and docs/**/*.md.
func docFiles(t *testing.T, root string) []string {
	t.Helper()
	files := []string{"README.md"}
	if _, err := os.Stat(filepath.Join(root, "CONTRIBUTING.md")); err == nil {
		files = append(files, "CONTRIBUTING.md")
	}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isMarkdown(path) {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files[1:])
	return files
}

func isMarkdown(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".md" || ext == ".markdown"
}

func TestRelativeLinksResolve(t *testing.T) {
	root := reporoot.Dir(t)
	files := docFiles(t, root)
	if len(files) < 2 {
		t.Fatalf("found only %v: is docs/ missing?", files)
	}
	c := newChecker(root)
	links := 0
	for _, f := range files {
		n, problems := c.check(f)
		links += n
		for _, p := range problems {
			t.Error(p)
		}
	}
	t.Logf("%d relative links in %d files", links, len(files))
}

func TestReadmeSize(t *testing.T) {
	st, err := os.Stat(filepath.Join(reporoot.Dir(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > readmeMaxBytes {
		t.Errorf("README.md is %d bytes, more than %d: move details (and example outputs) into docs/", st.Size(), readmeMaxBytes)
	}
}

// The README's example is an excerpt of docs/commands/status.md, which
// hack/readme-outputs.sh regenerates from the lab: every line of it must be
// a line of that file, so that it can never be typed by hand or go stale
// on its own.
func TestReadmeExcerptIsRealOutput(t *testing.T) {
	root := reporoot.Dir(t)
	readme := readFile(t, filepath.Join(root, "README.md"))
	begin := regexp.MustCompile(`<!-- BEGIN STATUS-EXCERPT\b[^\n]*?-->`).FindStringIndex(readme)
	end := strings.Index(readme, "<!-- END STATUS-EXCERPT -->")
	if begin == nil || end < begin[1] {
		t.Fatal("README.md lacks the STATUS-EXCERPT markers hack/readme-outputs.sh fills in")
	}
	status := map[string]bool{}
	for _, l := range strings.Split(readFile(t, filepath.Join(root, "docs/commands/status.md")), "\n") {
		status[l] = true
	}
	lines := 0
	for _, l := range strings.Split(readme[begin[1]:end], "\n") {
		if l == "" || strings.HasPrefix(l, "```") {
			continue
		}
		lines++
		if !status[l] {
			t.Errorf("README.md's status excerpt has a line that docs/commands/status.md does not: %q", l)
		}
	}
	if lines < 3 {
		t.Errorf("README.md's status excerpt has %d lines", lines)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checker resolves links against the files of one tree and caches each
// Markdown file's anchors.
type checker struct {
	root    string
	anchors map[string]map[string]bool
}

func newChecker(root string) *checker {
	return &checker{root: root, anchors: map[string]map[string]bool{}}
}

var scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// check returns how many relative links file (relative to the root) has,
// and one message per link that does not resolve.
func (c *checker) check(file string) (int, []string) {
	src, err := os.ReadFile(filepath.Join(c.root, file))
	if err != nil {
		return 0, []string{err.Error()}
	}
	var problems []string
	n := 0
	for _, l := range extractLinks(string(src)) {
		if l.target == "" || scheme.MatchString(l.target) || strings.HasPrefix(l.target, "//") {
			continue // absolute URLs, mailto: and the like are not checked
		}
		n++
		if msg := c.resolve(file, l.target); msg != "" {
			problems = append(problems, fmt.Sprintf("%s:%d: link %q: %s", file, l.line, l.target, msg))
		}
	}
	return n, problems
}

// resolve returns "" when target, linked from file, exists (and so does
// its #anchor, for a Markdown file), else why not.
func (c *checker) resolve(file, target string) string {
	pathPart, frag, _ := strings.Cut(target, "#")
	if i := strings.IndexByte(pathPart, '?'); i >= 0 {
		pathPart = pathPart[:i]
	}
	p, err := url.PathUnescape(pathPart)
	if err != nil {
		return fmt.Sprintf("bad escape: %v", err)
	}
	var rel string
	switch {
	case p == "":
		rel = file // #anchor in the same file
	case strings.HasPrefix(p, "/"):
		rel = filepath.Clean(strings.TrimPrefix(p, "/")) // GitHub: from the repository root
	default:
		rel = filepath.Join(filepath.Dir(file), p)
	}
	rel = filepath.ToSlash(filepath.Clean(rel))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "points outside the repository"
	}
	st, err := os.Stat(filepath.Join(c.root, rel))
	if err != nil {
		return fmt.Sprintf("%s does not exist", rel)
	}
	if frag == "" || st.IsDir() || !isMarkdown(rel) {
		return ""
	}
	anchors, ok := c.anchors[rel]
	if !ok {
		src, err := os.ReadFile(filepath.Join(c.root, rel))
		if err != nil {
			return err.Error()
		}
		anchors = headingAnchors(string(src))
		c.anchors[rel] = anchors
	}
	frag, err = url.PathUnescape(frag)
	if err != nil {
		return fmt.Sprintf("bad escape in anchor: %v", err)
	}
	if !anchors[frag] {
		return fmt.Sprintf("%s has no heading with anchor #%s (it has: %s)", rel, frag, strings.Join(sortedKeys(anchors), ", "))
	}
	return ""
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type link struct {
	line   int
	target string
}

var (
	fence        = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})")
	htmlComment  = regexp.MustCompile(`(?s)<!--.*?-->`)
	refDef       = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?`)
	htmlLinkAttr = regexp.MustCompile(`(?i)\b(?:href|src)\s*=\s*"([^"]*)"`)
)

// extractLinks returns the targets of the inline links and images, the
// reference definitions and the HTML href/src attributes of a Markdown
// text, outside fenced code blocks, code spans and HTML comments.
func extractLinks(src string) []link {
	src = htmlComment.ReplaceAllStringFunc(src, func(s string) string {
		return strings.Repeat("\n", strings.Count(s, "\n")) // keep line numbers
	})
	var links []link
	for i, line := range outsideFences(src) {
		if line == "" {
			continue
		}
		line = stripCodeSpans(line)
		if m := refDef.FindStringSubmatch(line); m != nil {
			links = append(links, link{i + 1, m[1]})
			continue
		}
		for _, m := range htmlLinkAttr.FindAllStringSubmatch(line, -1) {
			links = append(links, link{i + 1, m[1]})
		}
		for rest := line; ; {
			k := strings.Index(rest, "](")
			if k < 0 {
				break
			}
			target, n := linkDestination(rest[k+2:])
			links = append(links, link{i + 1, target})
			rest = rest[k+2+n:]
		}
	}
	return links
}

// outsideFences returns src's lines with those in fenced code blocks
// (fences included) blanked, so that indexes stay line numbers - 1.
func outsideFences(src string) []string {
	lines := strings.Split(src, "\n")
	open := ""
	for i, l := range lines {
		if open != "" {
			if m := fence.FindStringSubmatch(l); m != nil && m[1][0] == open[0] && len(m[1]) >= len(open) &&
				strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(l), m[1][:1])) == "" {
				open = ""
			}
			lines[i] = ""
			continue
		}
		if m := fence.FindStringSubmatch(l); m != nil {
			open = m[1]
			lines[i] = ""
		}
	}
	return lines
}

// stripCodeSpans removes `code spans` from one line: a run of backticks
// up to the next run of the same length.
func stripCodeSpans(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); {
		if line[i] != '`' {
			b.WriteByte(line[i])
			i++
			continue
		}
		n := 0
		for i+n < len(line) && line[i+n] == '`' {
			n++
		}
		run := line[i : i+n]
		closing := -1
		for j := i + n; j < len(line); {
			k := strings.Index(line[j:], run)
			if k < 0 {
				break
			}
			k += j
			m := 0
			for k+m < len(line) && line[k+m] == '`' {
				m++
			}
			if m == n {
				closing = k
				break
			}
			j = k + m
		}
		if closing < 0 { // no closing run: literal backticks
			b.WriteString(run)
			i += n
			continue
		}
		i = closing + n
	}
	return b.String()
}

// linkDestination reads an inline link's destination from s, which starts
// right after "](": <...>, or up to whitespace or the unbalanced ")".
// It returns the destination and how many bytes of s it took.
func linkDestination(s string) (string, int) {
	t := strings.TrimLeft(s, " \t")
	skipped := len(s) - len(t)
	if strings.HasPrefix(t, "<") {
		if end := strings.IndexByte(t, '>'); end > 0 {
			return t[1:end], skipped + end + 1
		}
	}
	depth := 0
	for i, r := range t {
		switch {
		case r == '(':
			depth++
		case r == ')' && depth == 0:
			return t[:i], skipped + i
		case r == ')':
			depth--
		case r == ' ' || r == '\t':
			return t[:i], skipped + i
		}
	}
	return t, len(s)
}

var (
	atxHeading = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	setextLine = regexp.MustCompile(`^ {0,3}(=+|-+)[ \t]*$`)
	htmlAnchor = regexp.MustCompile(`(?i)<a\s[^>]*\b(?:name|id)\s*=\s*"([^"]+)"|\bid\s*=\s*"([^"]+)"`)
	mdImage    = regexp.MustCompile(`!\[([^\]]*)\]\([^)]*\)`)
	mdLink     = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	htmlTag    = regexp.MustCompile(`<[^>]+>`)
)

// headingAnchors returns the anchors GitHub gives a Markdown file's
// headings (ATX and setext, outside code blocks; duplicates numbered -1,
// -2, ...) and its explicit HTML anchors (name= and id=).
func headingAnchors(src string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	add := func(text string) {
		s := slug(headingText(text))
		if n, dup := seen[s]; dup {
			seen[s] = n + 1
			for {
				cand := fmt.Sprintf("%s-%d", s, seen[s])
				if _, taken := seen[cand]; !taken {
					s = cand
					break
				}
				seen[s]++
			}
		}
		seen[s] = 0
		anchors[s] = true
	}
	lines := outsideFences(src)
	for i, l := range lines {
		for _, m := range htmlAnchor.FindAllStringSubmatch(l, -1) {
			anchors[m[1]+m[2]] = true
		}
		if m := atxHeading.FindStringSubmatch(l); m != nil {
			add(m[2])
			continue
		}
		if i > 0 && setextLine.MatchString(l) {
			prev := strings.TrimSpace(lines[i-1])
			if prev != "" && !atxHeading.MatchString(lines[i-1]) && !setextLine.MatchString(lines[i-1]) &&
				!strings.HasPrefix(prev, "|") && !strings.HasPrefix(prev, "- ") && !strings.HasPrefix(prev, "* ") {
				add(prev)
			}
		}
	}
	return anchors
}

// headingText is the text a heading renders to: links and images by their
// text, without code-span backticks, emphasis asterisks or HTML tags.
func headingText(s string) string {
	s = mdImage.ReplaceAllString(s, "$1")
	s = mdLink.ReplaceAllString(s, "$1")
	s = htmlTag.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "`", "")
	s = strings.ReplaceAll(s, "*", "")
	return strings.TrimSpace(s)
}

// slug is GitHub's anchor for a heading's text (github-slugger): lower
// case, every character but letters, digits, marks, '-' and '_' dropped,
// each space a '-'.
func slug(text string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestSlug(t *testing.T) {
	for text, want := range map[string]string{
		"Many nodes: per-node pods or one DaemonSet (`--mode`)": "many-nodes-per-node-pods-or-one-daemonset---mode",
		"verify: with your Services, or with its own backends":  "verify-with-your-services-or-with-its-own-backends",
		"Numbers (measured on this project's 2-core machine)":   "numbers-measured-on-this-projects-2-core-machine",
		"`kubectl kpr status`: who implements Services":         "kubectl-kpr-status-who-implements-services",
		"Hostile and partial input (`analyze`)":                 "hostile-and-partial-input-analyze",
		"[Links](x.md) and **bold** — dashes":                   "links-and-bold--dashes",
		"snake_case Ünïcode":                                    "snake_case-ünïcode",
	} {
		if got := slug(headingText(text)); got != want {
			t.Errorf("slug(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestHeadingAnchors(t *testing.T) {
	got := headingAnchors(strings.Join([]string{
		"# Title",
		"## Usage",
		"## Usage",
		"```sh",
		"# not a heading",
		"```",
		"Setext",
		"------",
		"### Closed ###",
		`<a name="custom"></a>`,
	}, "\n"))
	want := map[string]bool{"title": true, "usage": true, "usage-1": true, "setext": true, "closed": true, "custom": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("headingAnchors = %v, want %v", sortedKeys(got), sortedKeys(want))
	}
}

func TestExtractLinks(t *testing.T) {
	src := strings.Join([]string{
		"See [a](a.md) and ![img](img/x.png \"title\") and [b](<b c.md>).", // 1
		"Not `[code](no.md)`, and [x](https://example.com).",               // 2
		"```",                 // 3
		"[fenced](no.md)",     // 4
		"```",                 // 5
		"<!-- [c](no.md) -->", // 6
		"[ref]: ref.md#top",   // 7
		`<img src="pic.png">`, // 8
		"[p](f(1).md#s)",      // 9
	}, "\n")
	var got []link
	for _, l := range extractLinks(src) {
		got = append(got, l)
	}
	want := []link{{1, "a.md"}, {1, "img/x.png"}, {1, "b c.md"}, {2, "https://example.com"}, {7, "ref.md#top"}, {8, "pic.png"}, {9, "f(1).md#s"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("extractLinks = %v, want %v", got, want)
	}
}

// The checker must report what breaks: a missing file, a missing anchor
// in another file or the same one, a link out of the repository.
func TestCheckerFindsBrokenLinks(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("docs/b.md", "# B\n\n## Part two\n")
	write("README.md", strings.Join([]string{
		"# Top",
		"[ok](docs/b.md#part-two) [ok](#top) [ok](docs/) [ok](/docs/b.md)",
		"[gone](docs/missing.md)",
		"[bad anchor](docs/b.md#part-three)",
		"[bad self](#nowhere)",
		"[out](../x.md)",
	}, "\n"))
	n, problems := newChecker(root).check("README.md")
	if n != 8 {
		t.Errorf("checked %d links, want 8", n)
	}
	wantIn := []string{"README.md:3: link \"docs/missing.md\"", "README.md:4: link \"docs/b.md#part-three\"",
		"README.md:5: link \"#nowhere\"", "README.md:6: link \"../x.md\""}
	if len(problems) != len(wantIn) {
		t.Fatalf("problems = %q, want %d", problems, len(wantIn))
	}
	for i, w := range wantIn {
		if !strings.HasPrefix(problems[i], w) {
			t.Errorf("problem %d = %q, want it to start with %q", i, problems[i], w)
		}
	}
}
