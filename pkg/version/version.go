// Package version holds build metadata injected with -ldflags -X.
package version

import "runtime"

// Set by the linker: -X github.com/kubectl-kpr/kubectl-kpr/pkg/version.Version=v0.1.0 ...
var (
	Version = "dev"
	Commit  = "none"
	Date    = "unknown"
)

// Info is what `kubectl kpr version -o json` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build metadata of this binary.
func Get() Info {
	return Info{Version: Version, Commit: Commit, Date: Date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
}
