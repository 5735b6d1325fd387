package nodeconfig

import (
	"slices"
	"strings"
	"time"
)

// Change is a per-node setting (a CNC, a node label or annotation) that
// gives a key a value other than the earlier sources give it.
type Change struct {
	Key   string
	Value string
	// Previous is the value without this setting; HadPrevious is false
	// when no earlier source set the key.
	Previous    string
	HadPrevious bool
	Origin      Origin
	// At and AtWhy: see Setting.
	At    time.Time
	AtWhy string
}

// Changes lists, for the given keys (every key when none), the per-node
// setting that decides the node's value when that value differs from what
// the earlier sources give. ConfigMap settings are cluster-wide and not
// listed.
func (e Effective) Changes(keys ...string) []Change {
	if len(keys) == 0 {
		for k := range e.Values {
			keys = append(keys, k)
		}
	}
	keys = slices.Clone(keys)
	slices.Sort(keys)
	var out []Change
	for _, k := range slices.Compact(keys) {
		v, ok := e.Values[k]
		if !ok || len(v.History) == 0 {
			continue
		}
		win := v.History[len(v.History)-1]
		if win.Origin.Kind == OriginConfigMap {
			continue
		}
		c := Change{Key: k, Value: win.Value, Origin: win.Origin, At: win.At, AtWhy: win.AtWhy}
		if n := len(v.History); n > 1 {
			c.Previous, c.HadPrevious = v.History[n-2].Value, true
			if c.Previous == c.Value {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// NotApplied keeps the changes made after the agent's configuration was
// built (podStart: the `config` init container's finish, or the agent
// pod's creation): those are not in effect until the pod is re-created
// (node-config-not-applied). Changes of unknown time are left out.
func NotApplied(changes []Change, podStart time.Time) []Change {
	var out []Change
	for _, c := range changes {
		if !c.At.IsZero() && c.At.After(podStart) {
			out = append(out, c)
		}
	}
	return out
}

// Mismatch is a key whose value in the running agent's configuration
// differs from the node's effective configuration.
type Mismatch struct {
	Key       string
	Effective string
	Running   string
	// InEffective / InRunning: whether the key is set on either side.
	InEffective, InRunning bool
	Origin                 Origin
}

// Compare compares the effective configuration with the one the agent
// runs with (the files in its /tmp/cilium/config-map), for the given keys
// (every key of either side when none). config-sources and
// config-sources-overrides are left out.
func (e Effective) Compare(running map[string]string, keys ...string) []Mismatch {
	if len(keys) == 0 {
		for k := range e.Values {
			keys = append(keys, k)
		}
		for k := range running {
			keys = append(keys, k)
		}
	}
	keys = slices.Clone(keys)
	slices.Sort(keys)
	var out []Mismatch
	for _, k := range slices.Compact(keys) {
		if k == KeyConfigSources || k == KeyConfigSourcesOverrides {
			continue
		}
		v, inE := e.Values[k]
		r, inR := running[k]
		// The agent's ReadDirConfig trims each file's value.
		if inE == inR && strings.TrimSpace(v.Value) == strings.TrimSpace(r) {
			continue
		}
		out = append(out, Mismatch{Key: k, Effective: v.Value, Running: r, InEffective: inE, InRunning: inR, Origin: v.Origin})
	}
	return out
}
