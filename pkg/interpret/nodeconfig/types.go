package nodeconfig

import (
	"fmt"
	"time"
)

// The CiliumNodeConfig API versions (one CRD, ciliumnodeconfigs.cilium.io).
const (
	APIVersionV2Alpha1 = "cilium.io/v2alpha1"
	APIVersionV2       = "cilium.io/v2"
)

// Names build-config uses (resolver.go, build-config.go, annotation/k8s.go).
const (
	// ConfigPrefix is annotation.ConfigPrefix: node labels and annotations
	// whose key starts with it carry config keys (config.cilium.io/<key>).
	ConfigPrefix = "config.cilium.io"
	// KeyConfigSources records the sources build-config applied.
	KeyConfigSources = "config-sources"
	// KeyConfigSourcesOverrides records the allow/deny lists (v1.17 on).
	KeyConfigSourcesOverrides = "config-sources-overrides"
	// DefaultDest is build-config's --dest default, and the agent's
	// --config-dir in Cilium's chart.
	DefaultDest = "/tmp/cilium/config-map"
	// DefaultConfigMap is the ConfigMap a bare "config-map" source reads.
	DefaultConfigMap = "cilium-config"
)

// Config keys of the KubeProxyReplacement rollout.
const (
	KeyKPR            = "kube-proxy-replacement"
	KeyKPRHealthzBind = "kube-proxy-replacement-healthz-bind-address"
)

// MigrationLabel is the node label of the documented KPR rollout.
const MigrationLabel = "io.cilium.migration/kube-proxy-replacement"

// Requirement is one matchExpressions entry of a label selector (also one
// of a nodeAffinity term). Operator is In, NotIn, Exists or DoesNotExist
// (plus Gt and Lt in node affinity).
type Requirement struct {
	Key      string
	Operator string
	Values   []string
}

// Selector is a metav1.LabelSelector: matchLabels and matchExpressions,
// all ANDed. A CNC's nil *Selector selects no node; an empty one selects
// every node.
type Selector struct {
	MatchLabels      map[string]string
	MatchExpressions []Requirement
}

// CNC is a CiliumNodeConfig, as read at APIVersion.
type CNC struct {
	Namespace  string
	Name       string
	APIVersion string // APIVersionV2Alpha1 or APIVersionV2; "" is taken as v2
	// CreationTime is metadata.creationTimestamp.
	CreationTime time.Time
	// LastChange, when known (the newest metadata.managedFields time), is
	// when its spec last changed; zero means CreationTime.
	LastChange   time.Time
	NodeSelector *Selector
	Defaults     map[string]string
}

// Ref is "NAMESPACE/NAME".
func (c CNC) Ref() string { return c.Namespace + "/" + c.Name }

// ChangedAt is the later of CreationTime and LastChange.
func (c CNC) ChangedAt() time.Time {
	if c.LastChange.After(c.CreationTime) {
		return c.LastChange
	}
	return c.CreationTime
}

func (c CNC) version() string {
	if c.APIVersion == "" {
		return APIVersionV2
	}
	return c.APIVersion
}

// Node is what build-config reads of a Node.
type Node struct {
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	// ChangedAt, when known, is when a label or annotation key was last
	// set (from metadata.managedFields), keyed by that label or annotation
	// key. Used only to say whether a change is newer than the agent pod.
	ChangedAt map[string]time.Time
}

// ConfigMap is a ConfigMap a config-map source may name.
type ConfigMap struct {
	Namespace string
	Name      string
	Data      map[string]string
}

// SourceKind is a build-config source kind.
type SourceKind string

// The source kinds (resolver.KindConfigMap, KindNodeConfig, KindNode).
const (
	KindConfigMap  SourceKind = "config-map"
	KindNodeConfig SourceKind = "cilium-node-config"
	KindNode       SourceKind = "node"
)

// Source is one entry of build-config's --source list. An empty Namespace
// stands for the agent's namespace (CILIUM_K8S_NAMESPACE), an empty node
// Name for the agent's node (K8S_NODE_NAME), until Fill sets them. A
// cilium-node-config source with a Name reads that one CNC.
type Source struct {
	Kind      SourceKind
	Namespace string
	Name      string
}

// String is Cilium's ConfigSource.String(): "kind:namespace/name".
func (s Source) String() string {
	return fmt.Sprintf("%s:%s/%s", s.Kind, s.Namespace, s.Name)
}

// BuildConfig is what the init container is told: its sources in order,
// the override allow/deny lists, and the release that runs it.
type BuildConfig struct {
	Sources         []Source
	AllowConfigKeys []string
	DenyConfigKeys  []string
	// Release is the Cilium version of the init container's image ("1.18.8");
	// "" behaves like v1.17–v1.19 (both API versions, JSON config-sources).
	Release string
	// Dest is --dest (DefaultDest when absent).
	Dest string
	// Defaulted: no --source flag, so Sources is build-config's default.
	Defaulted bool
}

// Fill sets what build-config takes from its environment: the agent's
// namespace for sources without one and the node's name for a node source
// without one.
func (b BuildConfig) Fill(namespace, nodeName string) BuildConfig {
	out := b
	out.Sources = make([]Source, len(b.Sources))
	for i, s := range b.Sources {
		switch s.Kind {
		case KindConfigMap, KindNodeConfig:
			if s.Namespace == "" {
				s.Namespace = namespace
			}
		case KindNode:
			if s.Name == "" {
				s.Name = nodeName
			}
		}
		out.Sources[i] = s
	}
	return out
}

// Reads reports whether the sources include kind.
func (b BuildConfig) Reads(kind SourceKind) bool {
	for _, s := range b.Sources {
		if s.Kind == kind {
			return true
		}
	}
	return false
}

// OriginKind says which kind of object set a key.
type OriginKind string

// Origin kinds.
const (
	OriginConfigMap      OriginKind = "config-map"
	OriginCNC            OriginKind = "cilium-node-config"
	OriginNodeLabel      OriginKind = "node-label"
	OriginNodeAnnotation OriginKind = "node-annotation"
)

// Origin is where a key's value came from.
type Origin struct {
	Kind       OriginKind
	Namespace  string // ConfigMap or CNC namespace
	Name       string // ConfigMap, CNC or node name
	APIVersion string // CNC: the version it was read at
	// Key is the node label or annotation key (config.cilium.io/<key>).
	Key string
}

// String is how kpr names the origin: "cilium-config",
// "ConfigMap NS/NAME", "CiliumNodeConfig NS/NAME", "node label" or
// "node annotation".
func (o Origin) String() string {
	switch o.Kind {
	case OriginConfigMap:
		if o.Name == DefaultConfigMap {
			return DefaultConfigMap
		}
		return "ConfigMap " + o.Namespace + "/" + o.Name
	case OriginCNC:
		return "CiliumNodeConfig " + o.Namespace + "/" + o.Name
	case OriginNodeLabel:
		return "node label"
	case OriginNodeAnnotation:
		return "node annotation"
	}
	return string(o.Kind)
}

// Setting is one source's value for a key.
type Setting struct {
	Value  string
	Origin Origin
	// At is when this setting began to apply to the node, when the inputs
	// tell: a CNC's ChangedAt, or later the setting of a node label its
	// selector reads; a node label's or annotation's time. Zero: unknown
	// (always for ConfigMaps).
	At time.Time
	// AtWhy says what At is ("CiliumNodeConfig kube-system/x created").
	AtWhy string
}

// Value is a key's effective value: the last Setting of History wins.
type Value struct {
	Value  string
	Origin Origin
	// History is every setting of the key in merge order, the effective
	// one last; a CNC read at both API versions appears once.
	History []Setting
}

// Event is a line build-config logs that kpr can compare with the init
// container's log.
type Event struct {
	Message string // one of the Msg* constants
	Key     string // configKey
	Source  Source // configSource (the whole source, not the CNC)
}

// Log messages of build-config (resolver.go; the same text v1.13–v1.20,
// except that v1.13–v1.17 print "Key %s set in multiple
// CiliumNodeConfigs", "Invalid key in CiliumNodeConfigs %s/%s: %v" and
// "Node annotation format invalid: invalid key: %v", which ParseInitLog
// maps onto these).
const (
	MsgSourceOverridesKey  = "Source overrides key"
	MsgNonOverridableKey   = "Source has non-overridable key"
	MsgKeySetInMultiple    = "Key set in multiple CiliumNodeConfigs"
	MsgConfigMapNotFound   = "Configmap not found, ignoring"
	MsgInvalidCNCKey       = "Invalid key in CiliumNodeConfigs"
	MsgInvalidNodeKey      = "Node annotation format invalid: invalid key"
	MsgInvalidNodeKeyShape = "Node annotation format invalid: should be of the format config.cilium.io/<KEY>"
)

// Skip is an object, or one of its keys, that does not reach the node's
// configuration, and why.
type Skip struct {
	What   string // "CiliumNodeConfig NS/NAME", "ConfigMap NS/NAME", "node label KEY"...
	Key    string // the config key, when one key is dropped
	Reason string
}

// Effective is the configuration build-config writes for one node.
type Effective struct {
	Node   string
	Values map[string]Value
	// Sources is what config-sources records, in order (see
	// ConfigSourcesValue for the text).
	Sources []Source
	Events  []Event
	Skipped []Skip
	// Err is set when build-config fails on this node (the init container
	// exits, the agent does not start): Values is then empty.
	Err     error
	release release
}

// Get returns a key's effective value and origin.
func (e Effective) Get(key string) (string, Origin, bool) {
	v, ok := e.Values[key]
	return v.Value, v.Origin, ok
}

// Map is the key/value map written to --dest, without config-sources.
func (e Effective) Map() map[string]string {
	out := make(map[string]string, len(e.Values))
	for k, v := range e.Values {
		out[k] = v.Value
	}
	return out
}
