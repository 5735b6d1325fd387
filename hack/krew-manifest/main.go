// Command krew-manifest is the release check's helper for plugins/krew.yaml:
//
//	render  -template plugins/krew.yaml -tag v0.1.0 -dist dist [-base-url URL]
//	        renders krew-release-bot's template the way the bot does, with
//	        each archive's sha256 taken from the local dist/ directory, and
//	        (with -base-url) its uri pointed at a local server instead.
//	compare A.yaml B.yaml
//	        fails when two manifests differ in anything but spec.version
//	        (the template's rendering against GoReleaser's dist/krew/kpr.yaml).
//	serve   -dir dist
//	        serves a directory on 127.0.0.1 (validate-krew-manifest installs
//	        from URLs only) and prints its base URL.
//	metadata dist/metadata.json tag|version
//	        prints a field of GoReleaser's build metadata.
//
// The bot itself is a GitHub Action that downloads from GitHub releases, so
// it cannot run offline; this reimplements only its two template functions
// (rajatjindal/krew-release-bot pkg/source/template.go: addURIAndSha, indent).
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"text/template"
	"time"

	"sigs.k8s.io/yaml"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "krew-manifest: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: krew-manifest render|compare|serve ...")
	}
	switch args[0] {
	case "render":
		fs := flag.NewFlagSet("render", flag.ContinueOnError)
		tmpl := fs.String("template", "plugins/krew.yaml", "krew-release-bot template")
		tag := fs.String("tag", "", "release tag, e.g. v0.1.0")
		dist := fs.String("dist", "dist", "directory holding the release archives")
		baseURL := fs.String("base-url", "", "serve archives from here instead of the template's URLs")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *tag == "" {
			return errors.New("render: -tag is required")
		}
		text, err := os.ReadFile(*tmpl)
		if err != nil {
			return err
		}
		rendered, err := render(string(text), *tag, *dist, *baseURL)
		if err != nil {
			return err
		}
		_, err = out.Write(rendered)
		return err
	case "compare":
		if len(args) != 3 {
			return errors.New("usage: krew-manifest compare A.yaml B.yaml")
		}
		return compareFiles(args[1], args[2])
	case "metadata":
		if len(args) != 3 {
			return errors.New("usage: krew-manifest metadata dist/metadata.json tag|version")
		}
		return printMetadata(args[1], args[2], out)
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		dir := fs.String("dir", "dist", "directory to serve")
		lifetime := fs.Duration("lifetime", 15*time.Minute, "exit after this long even if nobody stops the server")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return serve(*dir, *lifetime, out)
	}
	return fmt.Errorf("unknown subcommand %q: want render, compare, serve or metadata", args[0])
}

// printMetadata prints one field of dist/metadata.json ({"tag": "v0.1.0",
// "version": "0.1.0", ...}, written by GoReleaser).
func printMetadata(file, field string, out io.Writer) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var meta map[string]any
	if err := yaml.Unmarshal(b, &meta); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	v, ok := meta[field].(string)
	if !ok || v == "" {
		return fmt.Errorf("%s has no %q", file, field)
	}
	_, err = fmt.Fprintln(out, v)
	return err
}

// versionInTag is the bot's extractVersionFromTag: v1.2.3 -> 1.2.3.
var versionInTag = regexp.MustCompile(`\d+(\.\d+)+`)

// render executes the template with the bot's data (.TagName) and functions.
func render(text, tag, dist, baseURL string) ([]byte, error) {
	funcs := template.FuncMap{
		"addURIAndSha": func(urlTemplate, tag string) (string, error) {
			version := versionInTag.FindString(tag)
			if version == "" {
				version = tag
			}
			var url bytes.Buffer
			t, err := template.New("url").Parse(urlTemplate)
			if err != nil {
				return "", err
			}
			if err := t.Execute(&url, struct{ TagName, Version string }{tag, version}); err != nil {
				return "", err
			}
			name := path.Base(url.String())
			sum, err := fileSHA256(filepath.Join(dist, name))
			if err != nil {
				return "", fmt.Errorf("archive for %s: %w", url.String(), err)
			}
			uri := url.String()
			if baseURL != "" {
				uri = strings.TrimSuffix(baseURL, "/") + "/" + name
			}
			// Same text and indentation as the bot produces.
			return fmt.Sprintf("uri: %s\n    sha256: %s", uri, sum), nil
		},
		"indent": func(spaces int, v string) string {
			v = strings.ReplaceAll(v, "    sha256:", "sha256:")
			pad := strings.Repeat(" ", spaces)
			return strings.TrimSpace(pad + strings.ReplaceAll(v, "\n", "\n"+pad))
		},
	}
	t, err := template.New("krew").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, struct{ TagName string }{tag}); err != nil {
		return nil, err
	}
	// A rendering that is not a manifest should fail here, not in krew.
	var m manifest
	if err := yaml.UnmarshalStrict(buf.Bytes(), &m); err != nil {
		return nil, fmt.Errorf("rendered template is not a krew manifest: %w", err)
	}
	return buf.Bytes(), nil
}

func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// manifest is the part of krew's v1alpha2 Plugin (sigs.k8s.io/krew
// pkg/index/types.go) that kpr's manifests use. krew's own types live in
// a module whose dependency tree we do not want in go.mod for one check.
type manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string     `json:"version"`
		Homepage         string     `json:"homepage"`
		ShortDescription string     `json:"shortDescription"`
		Description      string     `json:"description"`
		Caveats          string     `json:"caveats"`
		Platforms        []platform `json:"platforms"`
	} `json:"spec"`
}

type platform struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	URI    string `json:"uri"`
	Sha256 string `json:"sha256"`
	Bin    string `json:"bin"`
	Files  []struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"files,omitempty"`
}

func readManifest(name string) (manifest, error) {
	var m manifest
	b, err := os.ReadFile(name)
	if err != nil {
		return m, err
	}
	if err := yaml.UnmarshalStrict(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

func compareFiles(a, b string) error {
	ma, err := readManifest(a)
	if err != nil {
		return err
	}
	mb, err := readManifest(b)
	if err != nil {
		return err
	}
	diffs := compare(ma, mb)
	if len(diffs) > 0 {
		return fmt.Errorf("%s and %s differ:\n  %s", a, b, strings.Join(diffs, "\n  "))
	}
	return nil
}

// compare lists the differences between two manifests, platforms matched by
// their os/arch selector (GoReleaser sorts them its own way).
func compare(a, b manifest) []string {
	var diffs []string
	field := func(name, x, y string) {
		if x != y {
			diffs = append(diffs, fmt.Sprintf("%s: %q vs %q", name, x, y))
		}
	}
	field("apiVersion", a.APIVersion, b.APIVersion)
	field("kind", a.Kind, b.Kind)
	field("metadata.name", a.Metadata.Name, b.Metadata.Name)
	field("spec.homepage", a.Spec.Homepage, b.Spec.Homepage)
	field("spec.shortDescription", a.Spec.ShortDescription, b.Spec.ShortDescription)
	field("spec.description", a.Spec.Description, b.Spec.Description)
	field("spec.caveats", a.Spec.Caveats, b.Spec.Caveats)
	byKey := func(ps []platform) map[string]platform {
		m := map[string]platform{}
		for _, p := range ps {
			m[p.Selector.MatchLabels["os"]+"/"+p.Selector.MatchLabels["arch"]] = p
		}
		return m
	}
	pa, pb := byKey(a.Spec.Platforms), byKey(b.Spec.Platforms)
	for key, x := range pa {
		y, ok := pb[key]
		if !ok {
			diffs = append(diffs, "platform "+key+": only in the first")
			continue
		}
		if !reflect.DeepEqual(x, y) {
			diffs = append(diffs, fmt.Sprintf("platform %s: %+v vs %+v", key, x, y))
		}
	}
	for key := range pb {
		if _, ok := pa[key]; !ok {
			diffs = append(diffs, "platform "+key+": only in the second")
		}
	}
	return diffs
}

// serve answers on loopback only, prints its base URL and exits after
// lifetime, so a check that dies early leaves no server behind for long.
func serve(dir string, lifetime time.Duration, out io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(out, "http://%s\n", ln.Addr()); err != nil {
		return err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 10 * time.Second}
	time.AfterFunc(lifetime, func() { _ = srv.Close() })
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
