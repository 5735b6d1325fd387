package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The real template, rendered against fake archives: every platform gets
// the sha256 of its own file, and the uri follows -base-url.
func TestRenderShippedTemplate(t *testing.T) {
	dist := t.TempDir()
	want := map[string]string{}
	for _, name := range []string{
		"kubectl-kpr_v1.2.3_linux_amd64.tar.gz", "kubectl-kpr_v1.2.3_linux_arm64.tar.gz",
		"kubectl-kpr_v1.2.3_darwin_amd64.tar.gz", "kubectl-kpr_v1.2.3_darwin_arm64.tar.gz",
		"kubectl-kpr_v1.2.3_windows_amd64.zip", "kubectl-kpr_v1.2.3_windows_arm64.zip",
	} {
		if err := os.WriteFile(filepath.Join(dist, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		sum, err := fileSHA256(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		want[name] = sum
	}
	var out bytes.Buffer
	if err := run([]string{"render", "-template", "../../plugins/krew.yaml", "-tag", "v1.2.3", "-dist", dist, "-base-url", "http://127.0.0.1:8080/"}, &out); err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.UnmarshalStrict(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Metadata.Name != "kpr" || m.Spec.Version != "v1.2.3" {
		t.Errorf("name %q version %q, want kpr v1.2.3", m.Metadata.Name, m.Spec.Version)
	}
	if len(m.Spec.Platforms) != len(want) {
		t.Fatalf("%d platforms, want %d", len(m.Spec.Platforms), len(want))
	}
	for _, p := range m.Spec.Platforms {
		name := strings.TrimPrefix(p.URI, "http://127.0.0.1:8080/")
		if p.Sha256 != want[name] {
			t.Errorf("%s: sha256 %q, want %q", p.URI, p.Sha256, want[name])
		}
		goos, arch := p.Selector.MatchLabels["os"], p.Selector.MatchLabels["arch"]
		if !strings.Contains(name, "_"+goos+"_"+arch+".") {
			t.Errorf("selector %s/%s installs %s", goos, arch, name)
		}
		wantBin := "kubectl-kpr"
		if goos == "windows" {
			wantBin += ".exe"
		}
		if p.Bin != wantBin {
			t.Errorf("%s/%s: bin %q, want %q", goos, arch, p.Bin, wantBin)
		}
	}
}

func TestRenderMissingArchiveFails(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"render", "-template", "../../plugins/krew.yaml", "-tag", "v1.2.3", "-dist", t.TempDir()}, &out)
	if err == nil || !strings.Contains(err.Error(), "kubectl-kpr_v1.2.3_linux_amd64.tar.gz") {
		t.Errorf("err = %v, want it to name the missing archive", err)
	}
}

func TestCompare(t *testing.T) {
	var a manifest
	a.Metadata.Name = "kpr"
	a.Spec.Version = "v1.0.0"
	a.Spec.Platforms = []platform{{URI: "u1", Sha256: "s1", Bin: "b"}, {URI: "u2", Sha256: "s2", Bin: "b"}}
	a.Spec.Platforms[0].Selector.MatchLabels = map[string]string{"os": "linux", "arch": "amd64"}
	a.Spec.Platforms[1].Selector.MatchLabels = map[string]string{"os": "darwin", "arch": "arm64"}

	b := a
	b.Spec.Version = "v1.0.1-snapshot" // ignored
	b.Spec.Platforms = []platform{a.Spec.Platforms[1], a.Spec.Platforms[0]}
	if d := compare(a, b); len(d) != 0 {
		t.Errorf("same manifests in another order differ: %q", d)
	}

	b.Spec.Platforms = []platform{a.Spec.Platforms[1], a.Spec.Platforms[0]}
	b.Spec.Platforms[0].Sha256 = "other"
	b.Spec.Caveats = "new"
	if d := compare(a, b); len(d) != 2 {
		t.Errorf("want a sha256 and a caveats difference, got %q", d)
	}
	b.Spec.Platforms = b.Spec.Platforms[:1]
	if d := compare(a, b); len(d) != 3 {
		t.Errorf("want a missing platform reported too, got %q", d)
	}
}
