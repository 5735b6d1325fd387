package report

import (
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/nodeconfig"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

// NodeConfig is a node's per-node Cilium configuration: the KPR-related
// keys its agent runs with, where each came from, and how kpr found them
// (status, verify and analyze carry the same).
type NodeConfig struct {
	// ReadFrom is "agent" (the agent container's config dir,
	// /tmp/cilium/config-map) or "computed" (kpr resolved cilium-config,
	// CiliumNodeConfigs and node keys as the agent's `config` init
	// container does); ReadNote says why it was not read from the agent.
	ReadFrom string `json:"readFrom"`
	ReadNote string `json:"readNote,omitempty"`
	// DaemonSet is the agent's DaemonSet ("NS/NAME").
	DaemonSet string `json:"daemonSet,omitempty"`
	// Sources is the config-sources build-config recorded (or would).
	Sources []string    `json:"sources"`
	Keys    []ConfigKey `json:"keys"`
	// Rollout is the documented KPR rollout on this node, when the node
	// takes part in it.
	Rollout *Rollout `json:"rollout,omitempty"`
	// Error: build-config fails on this node.
	Error string `json:"error,omitempty"`
}

// ConfigKey is one key of NodeConfig.
type ConfigKey struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	// Origin: "cilium-config", "CiliumNodeConfig NS/NAME", "node label",
	// "node annotation" (or why it is unknown).
	Origin string `json:"origin"`
	// Found is "agent" or "computed".
	Found string `json:"found"`
	// Configured is what the API objects give now when it differs from
	// Value (not applied until the agent pod is re-created).
	Configured       *string `json:"configured,omitempty"`
	ConfiguredOrigin string  `json:"configuredOrigin,omitempty"`
}

// Rollout is the documented KPR rollout's state on a node.
type Rollout struct {
	// State is "finished" or "inconsistent".
	State string        `json:"state"`
	Parts []RolloutPart `json:"parts"`
	// Unchecked are the parts kpr could not judge (their facts are
	// unknown): "finished" holds for the parts it could.
	Unchecked []string `json:"unchecked,omitempty"`
}

// RolloutPart is one part of the rollout.
type RolloutPart struct {
	Part   string `json:"part"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// NodeConfigFrom is the report's copy of a nodeconfig.View.
func NodeConfigFrom(daemonSet string, v nodeconfig.View) *NodeConfig {
	out := &NodeConfig{ReadFrom: v.ReadFrom, ReadNote: v.ReadNote, DaemonSet: daemonSet,
		Sources: append([]string{}, v.Sources...), Keys: []ConfigKey{}, Error: v.Err}
	for _, k := range v.Keys {
		ck := ConfigKey{Key: k.Key, Value: k.Value, Origin: k.Origin, Found: k.Found}
		if k.HasConfigured {
			c := k.Configured
			ck.Configured, ck.ConfiguredOrigin = &c, k.ConfiguredOrigin
		}
		out.Keys = append(out.Keys, ck)
	}
	if v.Rollout.InRollout {
		r := &Rollout{State: "finished", Parts: []RolloutPart{}, Unchecked: v.Rollout.Unchecked}
		if !v.Rollout.Finished() {
			r.State = "inconsistent"
		}
		for _, p := range v.Rollout.Parts {
			r.Parts = append(r.Parts, RolloutPart{Part: p.Part, OK: p.OK, Detail: p.Detail})
		}
		out.Rollout = r
	}
	return out
}

// Get returns a key's entry.
func (c *NodeConfig) Get(key string) (ConfigKey, bool) {
	if c == nil {
		return ConfigKey{}, false
	}
	for _, k := range c.Keys {
		if k.Key == key {
			return k, true
		}
	}
	return ConfigKey{}, false
}

// NodeConfigWarnings are a view's findings as report warnings.
func NodeConfigWarnings(v nodeconfig.View) []verdict.Warning {
	out := make([]verdict.Warning, 0, len(v.Findings))
	for _, f := range v.Findings {
		out = append(out, verdict.Warning{Code: f.Code, Message: f.Message})
	}
	return out
}
