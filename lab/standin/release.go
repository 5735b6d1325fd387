package main

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultCiliumVersion is the release a Cilium node speaks when kwok's
// ClusterExec does not say (KPR_LAB_CILIUM_VERSION).
const DefaultCiliumVersion = "1.18.8"

// CiliumReleases are the releases lab/standin/build.sh builds a renderer
// for (lab/standin/releases/v1_XX). Another 1.x.y is shaped by its minor
// version, but has no renderer until a module is added for it.
var CiliumReleases = []string{"1.12.19", "1.14.19", "1.16.19", "1.18.8", "1.20.2"}

// release is a Cilium release and what the stand-in shapes by it. The
// differences are the ones tools/fixturegen/README.md documents, read from
// each release's source.
type release struct {
	Version string // "1.18.8"
	Minor   int
}

func parseRelease(v string) (release, error) {
	parts := strings.Split(strings.TrimPrefix(v, "v"), ".")
	if len(parts) != 3 || parts[0] != "1" {
		return release{}, fmt.Errorf("KPR_LAB_CILIUM_VERSION=%q is not a Cilium 1.x.y release", v)
	}
	m, err := strconv.Atoi(parts[1])
	if err != nil {
		return release{}, fmt.Errorf("KPR_LAB_CILIUM_VERSION=%q is not a Cilium 1.x.y release", v)
	}
	if _, err := strconv.Atoi(parts[2]); err != nil {
		return release{}, fmt.Errorf("KPR_LAB_CILIUM_VERSION=%q is not a Cilium 1.x.y release", v)
	}
	return release{Version: strings.TrimPrefix(v, "v"), Minor: m}, nil
}

// hasCLI tells whether the cilium-agent container of this release answers
// to name: the CLI was renamed cilium-dbg in 1.15, and 1.15+ images keep a
// `cilium` symlink to it; before 1.15 there is no cilium-dbg.
func (r release) hasCLI(name string) bool {
	switch name {
	case "cilium":
		return true
	case "cilium-dbg":
		return r.Minor >= 15
	}
	return false
}

// KPR feature levels: what the agent enables in a mode.
const (
	kprOff     = iota // False, Disabled: no NodePort, socket LB, hostPort, externalIPs, affinity
	kprPartial        // Partial: the features the lab enables one by one (all of them)
	kprFull           // True, Strict, Probe
)

// kprModes are the modes the release's agent reports
// (models.KubeProxyReplacement's enum and daemon/cmd/status.go's switch):
// Strict/Partial/Probe/Disabled up to 1.12 (Probe gone in 1.13), True/False
// plus the deprecated Strict/Partial/Disabled, printed as configured, in
// 1.14/1.15, only True/False from 1.16.
func (r release) kprModes() []string {
	switch {
	case r.Minor <= 12:
		return []string{"Strict", "Partial", "Probe", "Disabled"}
	case r.Minor == 13:
		return []string{"Strict", "Partial", "Disabled"}
	case r.Minor <= 15:
		return []string{"True", "False", "Strict", "Partial", "Disabled"}
	}
	return []string{"True", "False"}
}

// kprMode resolves KPR_LAB_CILIUM_KPR_MODE (any case) to the name the
// release prints and its feature level; empty is the release's full mode
// (Strict up to 1.13, True from 1.14).
func (r release) kprMode(env string) (string, int, error) {
	if env == "" {
		env = r.kprModes()[0]
	}
	for _, m := range r.kprModes() {
		if strings.EqualFold(m, env) {
			switch m {
			case "False", "Disabled":
				return m, kprOff, nil
			case "Partial":
				return m, kprPartial, nil
			}
			return m, kprFull, nil
		}
	}
	return "", 0, fmt.Errorf("KPR_LAB_CILIUM_KPR_MODE=%q: a Cilium %s agent reports one of %s",
		env, r.Version, strings.Join(r.kprModes(), ", "))
}

// deviceIPs is a deviceList entry's `ip`: 1.15+ agents allocate the slice
// with one empty string per address and then append the addresses
// (daemon/cmd/status.go: make([]string, len(dev.Addrs))), so the JSON and
// the text carry that padding; before, the agent lists the device's
// NodePort addresses, one IPv4 and one IPv6 at most.
func (r release) deviceIPs(d Device) []string {
	if r.Minor >= 15 {
		return append(make([]string, len(d.Addrs), 2*len(d.Addrs)), d.Addrs...)
	}
	ips := []string{}
	var v4, v6 string
	for _, a := range d.Addrs {
		switch {
		case !strings.Contains(a, ":") && v4 == "":
			v4 = a
		case strings.Contains(a, ":") && v6 == "" && !strings.HasPrefix(strings.ToLower(a), "fe80:"):
			v6 = a
		}
	}
	for _, a := range []string{v4, v6} {
		if a != "" {
			ips = append(ips, a)
		}
	}
	return ips
}

// listsNodePortAddresses: up to 1.17 `service list` shows a NodePort on
// every node address besides 0.0.0.0, as the legacy service manager
// (pkg/service) holds each of them as a service of its own. From 1.18
// GET /service lists pkg/loadbalancer's frontends table
// (pkg/loadbalancer/cell/restapi.go), which holds a NodePort as 0.0.0.0
// (and ::) only: the node-address frontends exist only in the BPF maps
// (pkg/loadbalancer/reconciler/bpf_reconciler.go), where they take service
// IDs, so the listed IDs have gaps. Real 1.18.8 and 1.20.2 agents were
// seen listing only 0.0.0.0:PORT/TCP (docs/cilium-behaviours.md).
func (r release) listsNodePortAddresses() bool { return r.Minor < 18 }

// mergesProtocols: before 1.17 a service frontend is keyed by address and
// port only, so TCP and UDP on one port are one frontend (the first);
// from 1.17 the key has the protocol and the address prints "/PROTO".
func (r release) mergesProtocols() bool { return r.Minor < 17 }
