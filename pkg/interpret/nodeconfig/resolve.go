package nodeconfig

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Inputs are the objects build-config reads for one node.
type Inputs struct {
	// ConfigMaps are the ConfigMaps config-map sources may name (usually
	// just cilium-config). One with an empty Namespace matches a source in
	// any namespace.
	ConfigMaps []ConfigMap
	// CNCs are the CiliumNodeConfigs, each as read at its APIVersion. A
	// cluster from v1.16 on serves every CNC at both versions: give both
	// copies when both were read (the result is the same either way, but
	// an agent before v1.16 sees only v2alpha1 and v1.20 only v2).
	CNCs []CNC
	Node Node
}

// Resolve is ResolveWith for the common case: base is the cilium-config
// ConfigMap's data, sources the init container's (ParseSources), and
// no allow/deny lists.
func Resolve(base map[string]string, cncs []CNC, node Node, sources []Source) Effective {
	var cms []ConfigMap
	if base != nil {
		cms = []ConfigMap{{Name: DefaultConfigMap, Data: base}}
	}
	return ResolveWith(Inputs{ConfigMaps: cms, CNCs: cncs, Node: node}, BuildConfig{Sources: sources})
}

// ResolveWith does what resolver.ResolveConfigurations does for in.Node:
// the sources in order, a later source's key overwriting an earlier one's,
// the allow/deny lists applied to every source after the first, and each
// key's origin kept.
func ResolveWith(in Inputs, bc BuildConfig) Effective {
	r := resolver{in: in, rel: releaseOf(bc.Release)}
	eff := Effective{Node: in.Node.Name, Values: map[string]Value{}, release: r.rel}

	var match []string
	allowIfMatch := false
	if len(bc.AllowConfigKeys) > 0 {
		match, allowIfMatch = bc.AllowConfigKeys, true
	} else if len(bc.DenyConfigKeys) > 0 {
		match = bc.DenyConfigKeys
	}

	first := true
	for _, src := range bc.Sources {
		layer, descs, err := r.read(src)
		if err != nil {
			return Effective{Node: in.Node.Name, Values: map[string]Value{}, Events: r.events,
				Skipped: firstOccurrences(r.skipped), release: r.rel,
				Err: fmt.Errorf("failed to read config source %s: %w", src, err)}
		}
		if !first && match != nil {
			for _, k := range sortedLayerKeys(layer) {
				if slices.Contains(match, k) != allowIfMatch {
					r.events = append(r.events, Event{Message: MsgNonOverridableKey, Key: k, Source: src})
					for _, s := range layer[k] {
						r.skipped = append(r.skipped, Skip{What: s.Origin.describe(), Key: k,
							Reason: "not overridable (--allow-config-keys / --deny-config-keys)"})
					}
					delete(layer, k)
				}
			}
		}
		first = false
		if len(layer) == 0 {
			continue
		}
		for _, k := range sortedLayerKeys(layer) {
			v, set := eff.Values[k]
			if set {
				r.events = append(r.events, Event{Message: MsgSourceOverridesKey, Key: k, Source: src})
			}
			hist := append(slices.Clone(v.History), layer[k]...)
			last := hist[len(hist)-1]
			eff.Values[k] = Value{Value: last.Value, Origin: last.Origin, History: hist}
		}
		eff.Sources = append(eff.Sources, descs...)
	}
	eff.Events = r.events
	eff.Skipped = firstOccurrences(r.skipped)
	return eff
}

// layer is one source's keys, each with its settings in order (last wins).
type layer map[string][]Setting

func sortedLayerKeys(l layer) []string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

type resolver struct {
	in      Inputs
	rel     release
	events  []Event
	skipped []Skip
}

func (r *resolver) read(src Source) (layer, []Source, error) {
	switch src.Kind {
	case KindConfigMap:
		return r.readConfigMap(src)
	case KindNodeConfig:
		return r.readNodeConfigs(src)
	case KindNode:
		return r.readNode(src)
	}
	return nil, nil, fmt.Errorf("invalid source kind %s", src.Kind)
}

func sameNamespace(a, b string) bool { return a == "" || b == "" || a == b }

func (r *resolver) readConfigMap(src Source) (layer, []Source, error) {
	for _, cm := range r.in.ConfigMaps {
		if cm.Name != src.Name || !sameNamespace(cm.Namespace, src.Namespace) {
			continue
		}
		if len(cm.Data) == 0 {
			return nil, nil, nil
		}
		ns := src.Namespace
		if ns == "" {
			ns = cm.Namespace
		}
		l := layer{}
		for k, v := range cm.Data {
			l[k] = []Setting{{Value: v, Origin: Origin{Kind: OriginConfigMap, Namespace: ns, Name: cm.Name}}}
		}
		return l, []Source{src}, nil
	}
	r.events = append(r.events, Event{Message: MsgConfigMapNotFound, Source: src})
	r.skipped = append(r.skipped, Skip{What: "ConfigMap " + src.Namespace + "/" + src.Name, Reason: "not found, ignored"})
	return nil, nil, nil
}

// readNode is readNodeOverrides: labels, then annotations, with the
// config.cilium.io prefix. Where two keys of one map give the same config
// key (config.cilium.io/k and config.cilium.io.x/k) Cilium's map order
// decides at random; here the later key in sort order wins.
func (r *resolver) readNode(src Source) (layer, []Source, error) {
	node := r.in.Node
	if src.Name != "" && src.Name != node.Name {
		r.skipped = append(r.skipped, Skip{What: "node source " + src.Name,
			Reason: fmt.Sprintf("build-config reads node %s's labels and annotations, not %s's, and they were not given", src.Name, node.Name)})
		return nil, nil, nil
	}
	l := layer{}
	read := func(m map[string]string, kind OriginKind, what string) {
		for _, k := range sortedKeys(m) {
			if !strings.HasPrefix(k, ConfigPrefix) {
				continue
			}
			_, key, ok := strings.Cut(k, "/")
			if !ok {
				r.events = append(r.events, Event{Message: MsgInvalidNodeKeyShape, Key: k, Source: src})
				r.skipped = append(r.skipped, Skip{What: what + " " + k, Reason: "no /<key> after " + ConfigPrefix})
				continue
			}
			if !ValidConfigKey(key) {
				r.events = append(r.events, Event{Message: MsgInvalidNodeKey, Key: k, Source: src})
				r.skipped = append(r.skipped, Skip{What: what + " " + k, Key: key, Reason: "not a valid ConfigMap key"})
				continue
			}
			s := Setting{Value: m[k], Origin: Origin{Kind: kind, Name: node.Name, Key: k}}
			s.At, s.AtWhy = node.ChangedAt[k], what+" "+k+" set"
			l[key] = append(l[key], s)
		}
	}
	read(node.Labels, OriginNodeLabel, "node label")
	read(node.Annotations, OriginNodeAnnotation, "node annotation")
	if len(l) == 0 {
		return nil, nil, nil
	}
	return l, []Source{{Kind: KindNode, Name: node.Name}}, nil
}

// readNodeConfigs is readNodeConfigsAllVersions (v1.16–v1.19), or
// readNodeConfigs of one version (v2alpha1 before v1.16, v2 from v1.20).
func (r *resolver) readNodeConfigs(src Source) (layer, []Source, error) {
	var v2, alpha []CNC
	for _, c := range r.in.CNCs {
		if !sameNamespace(src.Namespace, c.Namespace) || (src.Name != "" && c.Name != src.Name) {
			continue
		}
		switch c.version() {
		case APIVersionV2:
			v2 = append(v2, c)
		case APIVersionV2Alpha1:
			alpha = append(alpha, c)
		default:
			r.skipped = append(r.skipped, Skip{What: "CiliumNodeConfig " + c.Ref(), Reason: "unknown API version " + c.APIVersion})
		}
	}
	readsV2, readsAlpha := r.rel.readsV2(), r.rel.readsV2Alpha1()
	r.skipUnread(v2, alpha, readsV2, readsAlpha)

	var l2, la layer
	var d2, da []Source
	var err2, erra error
	if readsV2 {
		l2, d2, err2 = r.mergeVersion(src, v2)
	}
	if readsAlpha {
		la, da, erra = r.mergeVersion(src, alpha)
	}
	switch {
	case !readsAlpha:
		return l2, d2, err2
	case !readsV2:
		return la, da, erra
	}
	// Both versions (v1.16–v1.19): a v2 error is only logged.
	if erra != nil {
		if err2 != nil {
			return nil, nil, fmt.Errorf("CiliumNodeConfig v2 and v2alpha1 not found: %w", errors.Join(err2, erra))
		}
		return nil, nil, erra
	}
	if err2 != nil {
		r.skipped = append(r.skipped, Skip{What: "CiliumNodeConfig v2", Reason: "ignored: " + err2.Error()})
		l2, d2 = nil, nil
	}
	out := layer{}
	for k, h := range la {
		out[k] = h
	}
	for k, h := range l2 { // maps.Copy(v2alpha1, v2): v2 wins
		out[k] = dedupHistory(append(slices.Clone(out[k]), h...))
	}
	descs := append(d2, da...)
	if r.rel.jsonSources() {
		descs = firstOccurrences(descs)
	}
	return out, descs, nil
}

// skipUnread records CNCs given only at an API version this release does
// not list.
func (r *resolver) skipUnread(v2, alpha []CNC, readsV2, readsAlpha bool) {
	has := func(list []CNC, c CNC) bool {
		return slices.ContainsFunc(list, func(o CNC) bool { return o.Namespace == c.Namespace && o.Name == c.Name })
	}
	if !readsV2 {
		for _, c := range v2 {
			if !has(alpha, c) {
				r.skipped = append(r.skipped, Skip{What: "CiliumNodeConfig " + c.Ref(), Reason: "read at cilium.io/v2, which build-config before v1.16 does not list"})
			}
		}
	}
	if !readsAlpha {
		for _, c := range alpha {
			if !has(v2, c) {
				r.skipped = append(r.skipped, Skip{What: "CiliumNodeConfig " + c.Ref(), Reason: "read at cilium.io/v2alpha1, which build-config from v1.20 does not list"})
			}
		}
	}
}

// mergeVersion is readNodeConfigs for one API version: CNCs with
// non-empty defaults whose selector matches the node (or the one named
// by the source, whatever its selector), merged in name order.
func (r *resolver) mergeVersion(src Source, cncs []CNC) (layer, []Source, error) {
	byName := map[string]CNC{}
	var names []string
	for _, c := range cncs {
		if _, dup := byName[c.Name]; !dup {
			names = append(names, c.Name)
		}
		byName[c.Name] = c
	}
	slices.Sort(names) // the API lists by name; Cilium sorts the matches again
	var matching []string
	for _, name := range names {
		c := byName[name]
		what := "CiliumNodeConfig " + c.Ref()
		if len(c.Defaults) == 0 {
			r.skipped = append(r.skipped, Skip{What: what, Reason: "spec.defaults is empty"})
			continue
		}
		if src.Name != "" {
			matching = append(matching, name)
			continue
		}
		if c.NodeSelector == nil {
			r.skipped = append(r.skipped, Skip{What: what, Reason: "no spec.nodeSelector: selects no node"})
			continue
		}
		if err := c.NodeSelector.Validate(); err != nil {
			return nil, nil, fmt.Errorf("invalid selector in CiliumNodeConfig %s: %w", c.Name, err)
		}
		if !c.NodeSelector.Matches(r.in.Node.Labels) {
			r.skipped = append(r.skipped, Skip{What: what, Reason: "spec.nodeSelector does not select node " + r.in.Node.Name})
			continue
		}
		matching = append(matching, name)
	}
	l := layer{}
	var descs []Source
	for _, name := range matching {
		c := byName[name]
		at, why := r.cncTime(c)
		for _, k := range sortedKeys(c.Defaults) {
			if !ValidConfigKey(k) {
				r.events = append(r.events, Event{Message: MsgInvalidCNCKey, Key: k, Source: src})
				r.skipped = append(r.skipped, Skip{What: "CiliumNodeConfig " + c.Ref(), Key: k, Reason: "not a valid ConfigMap key"})
				continue
			}
			if _, set := l[k]; set {
				r.events = append(r.events, Event{Message: MsgKeySetInMultiple, Key: k, Source: src})
			}
			l[k] = append(l[k], Setting{Value: c.Defaults[k],
				Origin: Origin{Kind: OriginCNC, Namespace: c.Namespace, Name: c.Name, APIVersion: c.version()},
				At:     at, AtWhy: why})
		}
		ns := src.Namespace
		if ns == "" {
			ns = c.Namespace
		}
		descs = append(descs, Source{Kind: KindNodeConfig, Namespace: ns, Name: name})
	}
	return l, descs, nil
}

// cncTime is when a CNC started to apply to the node: its last change, or
// the setting of a node label its selector reads, whichever is later.
func (r *resolver) cncTime(c CNC) (time.Time, string) {
	at, why := c.ChangedAt(), "CiliumNodeConfig "+c.Ref()+" changed"
	if !c.LastChange.After(c.CreationTime) {
		why = "CiliumNodeConfig " + c.Ref() + " created"
	}
	for _, k := range c.NodeSelector.Keys() {
		if t, ok := r.in.Node.ChangedAt[k]; ok && t.After(at) {
			at, why = t, "node label "+k+" set"
		}
	}
	return at, why
}

func dedupHistory(h []Setting) []Setting {
	out := make([]Setting, 0, len(h))
	for i, s := range h {
		later := slices.ContainsFunc(h[i+1:], func(o Setting) bool {
			return o.Value == s.Value && o.Origin.Kind == s.Origin.Kind &&
				o.Origin.Namespace == s.Origin.Namespace && o.Origin.Name == s.Origin.Name
		})
		if !later {
			out = append(out, s)
		}
	}
	return out
}

// firstOccurrences keeps each element's first occurrence, in order.
func firstOccurrences[T comparable](s []T) []T {
	var out []T
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func (o Origin) describe() string {
	switch o.Kind {
	case OriginNodeLabel, OriginNodeAnnotation:
		return o.String() + " " + o.Key
	}
	return o.String()
}
