package nodeconfig

import (
	"path"
	"strings"
)

// ConfigDirCommand is how kpr reads an agent's config dir in one exec:
// `grep -R -H ” DIR` prints every line of every file as "PATH:LINE".
// -R, not -r: a ConfigMap mounted as a volume (Cilium's chart from v1.19
// without build-config) holds its keys as symlinks into ..data, which -r
// does not follow. grep is in every Cilium agent image (Ubuntu-based); no
// maintained package reads "a directory of files over exec", so this is
// the smallest command that gives every key with its name.
func ConfigDirCommand(dir string) []string {
	return []string{"grep", "-R", "-H", "", path.Clean(dir)}
}

// ParseConfigDir reads ConfigDirCommand's output: one key per file
// directly in dir, its value the file's lines (trimmed of white space, as
// the agent's ReadDirConfig does). Paths through a ".."-named entry (the
// volume's ..data and ..<timestamp> directories) are left out: the same
// keys are read through their symlinks. An empty file prints no line and
// so is absent, which the agent treats alike for the keys kpr reads.
func ParseConfigDir(out string, dir string) map[string]string {
	prefix := path.Clean(dir) + "/"
	lines := map[string][]string{}
	var order []string
	for _, line := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		key, value, ok := strings.Cut(rest, ":")
		if !ok || key == "" || strings.Contains(key, "/") || strings.HasPrefix(key, "..") {
			continue
		}
		if _, seen := lines[key]; !seen {
			order = append(order, key)
		}
		lines[key] = append(lines[key], value)
	}
	m := make(map[string]string, len(order))
	for _, k := range order {
		m[k] = strings.TrimSpace(strings.Join(lines[k], "\n"))
	}
	return m
}
