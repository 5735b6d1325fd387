package nodeconfig

import "github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/textutil"

// release is what differs between Cilium releases in build-config and the
// KPR healthz server (see the package comment for the files).
type release struct {
	known        bool
	major, minor int
}

func releaseOf(version string) release {
	maj, min, ok := textutil.MajorMinor(version)
	return release{known: ok, major: maj, minor: min}
}

func (r release) before(maj, min int) bool {
	return r.known && (r.major < maj || (r.major == maj && r.minor < min))
}

// readsV2Alpha1: every release before v1.20 lists cilium.io/v2alpha1.
func (r release) readsV2Alpha1() bool { return r.before(1, 20) || !r.known }

// readsV2: v1.16 on lists cilium.io/v2.
func (r release) readsV2() bool { return !r.before(1, 16) }

// jsonSources: v1.17 on writes config-sources as JSON without duplicates.
func (r release) jsonSources() bool { return !r.before(1, 17) }

// healthzFatal: up to v1.17 a failed KPR healthz listen ends the agent.
func (r release) healthzFatal() bool { return r.before(1, 18) }

// ReadsAPIVersion reports whether build-config of that Cilium release
// lists CiliumNodeConfigs at apiVersion (v2alpha1 before v1.20, v2 from
// v1.16; an unknown release reads both).
func ReadsAPIVersion(version, apiVersion string) bool {
	r := releaseOf(version)
	switch apiVersion {
	case APIVersionV2Alpha1:
		return r.readsV2Alpha1()
	case APIVersionV2, "":
		return r.readsV2()
	}
	return false
}

// InitCommand is the init container's command at that release: "cilium"
// before v1.15, "cilium-dbg" from v1.15 (the chart's `config` container).
func InitCommand(version string) string {
	if releaseOf(version).before(1, 15) {
		return "cilium"
	}
	return "cilium-dbg"
}
