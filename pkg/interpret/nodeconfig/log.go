package nodeconfig

import (
	"encoding/json"
	"regexp"
	"strings"
)

// ParseInitLog reads the `config` init container's log for the lines that
// say how keys were merged: "Source overrides key", "Source has
// non-overridable key", "Key set in multiple CiliumNodeConfigs" (v1.13–
// v1.17: "Key K set in multiple CiliumNodeConfigs"), "Configmap not found,
// ignoring" and the invalid-key lines. It reads the three shapes the
// releases write:
//
//	logrus text (v1.13–v1.17):  level=info msg="Source overrides key" configKey=K configSource="cilium-node-config:kube-system/" subsys=option-resolver
//	slog text (v1.18 on):       level=info msg="Source overrides key" configKey=K configSource="{Kind:cilium-node-config Namespace:kube-system Name:}"
//	JSON (--log-format json):   {"msg":"Source overrides key","configKey":"K","configSource":{"kind":..,"namespace":..,"name":..}}
//
// The slog text shape is what slog.TextHandler prints for resolver's
// ConfigSource value (%+v: its String method has a pointer receiver).
// configSource names the whole source, not which CNC set the key.
func ParseInitLog(text string) []Event {
	var out []Event
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var msg, key string
		var src Source
		if strings.HasPrefix(line, "{") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil {
				continue
			}
			msg, _ = m["msg"].(string)
			key, _ = m["configKey"].(string)
			switch s := m["configSource"].(type) {
			case string:
				src = parseLogSource(s)
			case map[string]any:
				k, _ := s["kind"].(string)
				ns, _ := s["namespace"].(string)
				n, _ := s["name"].(string)
				src = Source{Kind: SourceKind(k), Namespace: ns, Name: n}
			}
		} else {
			f := logfmt(line)
			msg, key, src = f["msg"], f["configKey"], parseLogSource(f["configSource"])
		}
		if m := legacyMultiple.FindStringSubmatch(msg); m != nil {
			msg = MsgKeySetInMultiple
			if key == "" {
				key = m[1]
			}
		}
		if strings.HasPrefix(msg, MsgInvalidCNCKey) {
			msg = MsgInvalidCNCKey
		}
		if strings.HasPrefix(msg, MsgInvalidNodeKey) {
			msg = MsgInvalidNodeKey
		}
		switch msg {
		case MsgSourceOverridesKey, MsgNonOverridableKey, MsgKeySetInMultiple, MsgConfigMapNotFound, MsgInvalidCNCKey, MsgInvalidNodeKey, MsgInvalidNodeKeyShape:
			out = append(out, Event{Message: msg, Key: key, Source: src})
		}
	}
	return out
}

var (
	legacyMultiple = regexp.MustCompile(`^Key (\S+) set in multiple CiliumNodeConfigs`)
	slogSource     = regexp.MustCompile(`^\{Kind:(\S*) Namespace:(\S*) Name:(\S*)\}$`)
)

// parseLogSource reads "kind:ns/name" (ConfigSource.String) or slog's
// "{Kind:k Namespace:ns Name:n}".
func parseLogSource(s string) Source {
	if m := slogSource.FindStringSubmatch(s); m != nil {
		return Source{Kind: SourceKind(m[1]), Namespace: m[2], Name: m[3]}
	}
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Source{}
	}
	ns, name, _ := strings.Cut(rest, "/")
	return Source{Kind: SourceKind(kind), Namespace: ns, Name: name}
}

// logfmt splits key=value and key="quoted \"value\"" pairs.
func logfmt(line string) map[string]string {
	out := map[string]string{}
	i := 0
	for i < len(line) {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		eq := strings.IndexByte(line[i:], '=')
		if eq < 0 {
			break
		}
		key := line[i : i+eq]
		i += eq + 1
		var val strings.Builder
		if i < len(line) && line[i] == '"' {
			i++
			for i < len(line) && line[i] != '"' {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				val.WriteByte(line[i])
				i++
			}
			i++
		} else {
			for i < len(line) && line[i] != ' ' {
				val.WriteByte(line[i])
				i++
			}
		}
		if strings.ContainsRune(key, ' ') {
			key = key[strings.LastIndexByte(key, ' ')+1:]
		}
		out[key] = val.String()
	}
	return out
}
