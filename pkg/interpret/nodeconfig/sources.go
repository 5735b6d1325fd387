package nodeconfig

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// DefaultSources is build-config's --source default, the same at every
// release from v1.13.0 to v1.20.2: "config-map:cilium-config" and
// "cilium-node-config:$CILIUM_K8S_NAMESPACE" (Namespace left empty here:
// the agent's namespace, see BuildConfig.Fill).
func DefaultSources() []Source {
	return []Source{
		{Kind: KindConfigMap, Name: DefaultConfigMap},
		{Kind: KindNodeConfig},
	}
}

// ParseSources reads the --source list from the init container's command
// and args (as the DaemonSet gives them, e.g. ["cilium-dbg",
// "build-config", "--source=config-map:cilium-config,node"]), or
// DefaultSources when there is none.
func ParseSources(args []string) ([]Source, error) {
	bc, _, err := ParseBuildConfig(args, nil)
	return bc.Sources, err
}

// IsBuildConfig reports whether a container's command and args run
// `cilium build-config` or `cilium-dbg build-config`, directly or in a
// shell script.
func IsBuildConfig(command, args []string) bool {
	_, ok := buildConfigFlags(append(cloneStrings(command), args...))
	return ok
}

func cloneStrings(s []string) []string { return append([]string(nil), s...) }

// buildConfigFlags returns the tokens after "build-config" when a token
// before it is the cilium or cilium-dbg binary. A shell script token
// ("sh -c 'cilium-dbg build-config ...'") is split on white space.
func buildConfigFlags(tokens []string) ([]string, bool) {
	for i, t := range tokens {
		if t == "build-config" {
			for _, b := range tokens[:i] {
				if bin := path.Base(b); bin == "cilium" || bin == "cilium-dbg" {
					return tokens[i+1:], true
				}
			}
		}
		if strings.Contains(t, "build-config") && strings.ContainsAny(t, " \t\n") {
			if rest, ok := buildConfigFlags(strings.Fields(t)); ok {
				return rest, true
			}
		}
	}
	return nil, false
}

// ParseBuildConfig reads the init container's flags the way build-config's
// pflag set does (--source, --allow-config-keys, --deny-config-keys are
// StringSlices: comma-separated CSV, the first use replacing the default
// and later ones appending; --dest a string). found says whether the
// command runs build-config at all; when it does not, the flags are read
// from the start of command+args.
func ParseBuildConfig(command, args []string) (bc BuildConfig, found bool, err error) {
	tokens := append(cloneStrings(command), args...)
	flags, found := buildConfigFlags(tokens)
	if !found {
		flags = tokens
	}
	bc = BuildConfig{Dest: DefaultDest}
	var specs []string
	setSource := false
	setAllow, setDeny := false, false
	for i := 0; i < len(flags); i++ {
		t := flags[i]
		if t == "--" {
			break
		}
		if !strings.HasPrefix(t, "--") {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(t, "--"), "=")
		takes := name == "source" || name == "allow-config-keys" || name == "deny-config-keys" || name == "dest" || name == "node-name"
		if !hasValue {
			if i+1 < len(flags) && (takes || !strings.HasPrefix(flags[i+1], "-")) {
				value = flags[i+1]
				i++
			} else if takes {
				return bc, found, fmt.Errorf("flag needs an argument: --%s", name)
			}
		}
		switch name {
		case "source":
			vals, err := readAsCSV(value)
			if err != nil {
				return bc, found, fmt.Errorf("invalid argument %q for \"--source\" flag: %w", value, err)
			}
			if !setSource {
				specs = nil
			}
			specs = append(specs, vals...)
			setSource = true
		case "allow-config-keys", "deny-config-keys":
			vals, err := readAsCSV(value)
			if err != nil {
				return bc, found, fmt.Errorf("invalid argument %q for \"--%s\" flag: %w", value, name, err)
			}
			if name == "allow-config-keys" {
				if !setAllow {
					bc.AllowConfigKeys = nil
				}
				bc.AllowConfigKeys, setAllow = append(bc.AllowConfigKeys, vals...), true
			} else {
				if !setDeny {
					bc.DenyConfigKeys = nil
				}
				bc.DenyConfigKeys, setDeny = append(bc.DenyConfigKeys, vals...), true
			}
		case "dest":
			bc.Dest = value
		}
	}
	if !setSource {
		bc.Sources, bc.Defaulted = DefaultSources(), true
		return bc, found, nil
	}
	bc.Sources = []Source{}
	for _, spec := range specs {
		if spec == "" {
			continue
		}
		s, err := ParseSourceSpec(spec)
		if err != nil {
			return bc, found, err
		}
		bc.Sources = append(bc.Sources, s)
	}
	return bc, found, nil
}

// readAsCSV is pflag's: "" is no values, anything else one CSV record.
func readAsCSV(val string) ([]string, error) {
	if val == "" {
		return []string{}, nil
	}
	return csv.NewReader(strings.NewReader(val)).Read()
}

// ParseSourceSpec reads one source spec as build-config's onStart does:
// KIND[:SPEC], SPEC either "a" (ConfigMap name, CNC namespace or node
// name) or "a/b" (namespace a, name b). Namespaces and node names build-config
// would take from its environment are left empty.
func ParseSourceSpec(spec string) (Source, error) {
	kind, rest, hasRest := strings.Cut(spec, ":")
	s := Source{Kind: SourceKind(kind)}
	switch s.Kind {
	case KindConfigMap:
		s.Name = DefaultConfigMap
	case KindNodeConfig, KindNode:
	default:
		return Source{}, fmt.Errorf("unknown config source %s", kind)
	}
	if hasRest && rest != "" {
		a, b, two := strings.Cut(rest, "/")
		switch {
		case two:
			s.Namespace, s.Name = a, b
		case s.Kind == KindConfigMap:
			s.Name = a
		case s.Kind == KindNodeConfig:
			s.Namespace = a
		default:
			s.Name = a
		}
	}
	return s, nil
}

// ConfigSourcesValue is the config-sources value build-config of the
// Effective's release writes (FormatConfigSources).
func (e Effective) ConfigSourcesValue() string {
	return formatConfigSources(e.release, e.Sources)
}

// FormatConfigSources renders config-sources as that release writes it:
// v1.13–v1.16 "config-map:NS/NAME,cilium-node-config:NS/NAME,node:NODE";
// v1.17 on JSON [{"kind":..,"namespace":..,"name":..}] ("null" when no
// source gave a key).
func FormatConfigSources(version string, sources []Source) string {
	return formatConfigSources(releaseOf(version), sources)
}

type jsonSource struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func formatConfigSources(r release, sources []Source) string {
	if r.jsonSources() {
		var js []jsonSource
		for _, s := range sources {
			js = append(js, jsonSource{Kind: string(s.Kind), Namespace: s.Namespace, Name: s.Name})
		}
		b, _ := json.Marshal(js) // strings only: cannot fail
		return string(b)
	}
	parts := make([]string, 0, len(sources))
	for _, s := range sources {
		if s.Kind == KindNode {
			parts = append(parts, string(KindNode)+":"+s.Name)
			continue
		}
		parts = append(parts, s.String())
	}
	return strings.Join(parts, ",")
}

// ParseConfigSources reads a config-sources value of either format
// (as found in /tmp/cilium/config-map/config-sources in the agent).
func ParseConfigSources(text string) ([]Source, error) {
	text = strings.TrimSpace(text)
	if text == "" || text == "null" {
		return nil, nil
	}
	if strings.HasPrefix(text, "[") {
		var js []jsonSource
		if err := json.Unmarshal([]byte(text), &js); err != nil {
			return nil, fmt.Errorf("config-sources: %w", err)
		}
		out := make([]Source, 0, len(js))
		for _, s := range js {
			out = append(out, Source{Kind: SourceKind(s.Kind), Namespace: s.Namespace, Name: s.Name})
		}
		return out, nil
	}
	var out []Source
	for _, part := range strings.Split(text, ",") {
		kind, rest, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("config-sources: %q is not kind:namespace/name", part)
		}
		s := Source{Kind: SourceKind(kind)}
		if s.Kind == KindNode {
			s.Name = rest
		} else {
			s.Namespace, s.Name, _ = strings.Cut(rest, "/")
		}
		out = append(out, s)
	}
	return out, nil
}
