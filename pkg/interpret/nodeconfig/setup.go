package nodeconfig

import (
	"path"
	"strings"
)

// Container is the part of a DaemonSet container this package reads.
type Container struct {
	Name    string
	Command []string
	Args    []string
	Env     map[string]string
}

// Setup is how an agent DaemonSet gets per-node configuration.
type Setup struct {
	// InitContainer is the init container that runs build-config; "" none.
	InitContainer string
	BuildConfig   BuildConfig
	// ConfigDir is the agent's --config-dir (or CILIUM_CONFIG_DIR); "" none.
	ConfigDir string
	// Err is why the init container would fail (an unknown source kind):
	// then no agent pod starts at all.
	Err error
}

// InspectDaemonSet reads the agent DaemonSet's init containers and agent
// container. Whether the init container and the agent share the
// directory (the chart's emptyDir "tmp" at /tmp) is not checked.
func InspectDaemonSet(initContainers []Container, agent Container) Setup {
	var s Setup
	for _, c := range initContainers {
		if !IsBuildConfig(c.Command, c.Args) {
			continue
		}
		s.InitContainer = c.Name
		s.BuildConfig, _, s.Err = ParseBuildConfig(c.Command, c.Args)
		break
	}
	s.ConfigDir = agentConfigDir(agent)
	return s
}

// agentConfigDir is --config-dir from the agent's command and args, or
// the CILIUM_CONFIG_DIR env (option.BindEnv in daemon_main.go); the flag wins.
func agentConfigDir(c Container) string {
	tokens := append(cloneStrings(c.Command), c.Args...)
	for i := 0; i < len(tokens); i++ {
		t := tokens[i]
		if t == "--" {
			break
		}
		if v, ok := strings.CutPrefix(t, "--config-dir="); ok {
			return v
		}
		if t == "--config-dir" && i+1 < len(tokens) {
			return tokens[i+1]
		}
		// A shell script ("cilium-agent --config-dir=/x ...").
		if strings.Contains(t, "--config-dir") && strings.ContainsAny(t, " \t\n") {
			if d := agentConfigDir(Container{Args: strings.Fields(t)}); d != "" {
				return d
			}
		}
	}
	return c.Env["CILIUM_CONFIG_DIR"]
}

// IgnoresNodeConfigs says why CiliumNodeConfigs have no effect on this
// DaemonSet's agents ("" when they do): node-config-ignored.
func (s Setup) IgnoresNodeConfigs() string {
	if r := s.ignores(); r != "" {
		return r
	}
	if !s.BuildConfig.Reads(KindNodeConfig) {
		return "the config init container's --source list has no cilium-node-config source"
	}
	return ""
}

// IgnoresNodeKeys says why config.cilium.io/<key> node labels and
// annotations have no effect ("" when they do). build-config reads them
// only when its --source list has a node source; none of the default
// lists has one.
func (s Setup) IgnoresNodeKeys() string {
	if r := s.ignores(); r != "" {
		return r
	}
	if !s.BuildConfig.Reads(KindNode) {
		return "the config init container's --source list has no node source"
	}
	return ""
}

func (s Setup) ignores() string {
	switch {
	case s.InitContainer == "":
		return "the agent DaemonSet has no init container running cilium(-dbg) build-config"
	case s.Err != nil:
		return "the config init container fails: " + s.Err.Error()
	case s.ConfigDir == "":
		return "the agent has no --config-dir, so it never reads what build-config writes"
	case path.Clean(s.ConfigDir) != path.Clean(s.BuildConfig.Dest):
		return "the agent reads --config-dir " + s.ConfigDir + " but build-config writes to " + s.BuildConfig.Dest
	}
	return ""
}
