package report

import "github.com/kubectl-kpr/kubectl-kpr/pkg/version"

// Version is `kubectl kpr version -o json`.
type Version struct {
	TypeMeta
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// VersionFrom is the version document of a binary's build metadata.
func VersionFrom(i version.Info) *Version {
	return &Version{Version: i.Version, Commit: i.Commit, Date: i.Date, GoVersion: i.GoVersion, Platform: i.Platform}
}
