// Package nodeconfig works out, per node, the configuration a Cilium agent
// starts with when the operator uses Cilium's own per-node mechanism: the
// CiliumNodeConfig (CNC) CRD and config.cilium.io/<key> node labels and
// annotations. It is pure: plain structs in, plain structs out, no client-go
// and no k8s.io/api. The commands read the objects; this package says what
// the agent's `config` init container makes of them, and judges the
// documented KubeProxyReplacement rollout.
//
// # What the real code does
//
// Read in Cilium's source at v1.13.0, v1.15.0, v1.16.0, v1.17.0, v1.18.8,
// v1.19.0 and v1.20.2 (the Go module zips of github.com/cilium/cilium):
//
//   - The agent DaemonSet's init container `config` runs `cilium
//     build-config` (v1.13.0: cilium/cmd/build-config.go) or
//     `cilium-dbg build-config` (v1.15.0 on: cilium-dbg/cmd/build-config.go),
//     with env K8S_NODE_NAME (spec.nodeName) and CILIUM_K8S_NAMESPACE
//     (metadata.namespace). Helm adds `--source=<daemon.configSources>`,
//     `--allow-config-keys=<daemon.allowedConfigOverrides>` and
//     `--deny-config-keys=<daemon.blockedConfigOverrides>` only when those
//     values are set
//     (install/kubernetes/cilium/templates/cilium-agent/daemonset.yaml).
//     It writes to --dest, default /tmp/cilium/config-map,
//     which the agent reads with `--config-dir=/tmp/cilium/config-map`
//     (pkg/option/config.go InitConfig → ReadDirConfig, each file one key,
//     value trimmed of white space, merged into viper as a config layer:
//     the agent's own flags and CILIUM_* env still win over it).
//   - From v1.19.0 the chart leaves the init container out, and mounts the
//     ConfigMap itself at /tmp/cilium/config-map, when daemon.configSources
//     matches ^config-map:[^,]+$ ($buildDaemonConfig in daemonset.yaml). The
//     agent still has --config-dir then, but no CNC or node key reaches it.
//   - Default sources, the same at every release checked:
//     ["config-map:cilium-config", "cilium-node-config:$CILIUM_K8S_NAMESPACE"].
//     Node labels and annotations are read only when the list names `node`.
//     --source is a pflag StringSlice: comma-separated (CSV), repeatable;
//     the first --source replaces the default, later ones append.
//   - A source spec is KIND[:SPEC] (build-config.go onStart): KIND is
//     config-map, cilium-node-config or node, anything else fails the init
//     container with "unknown config source KIND". SPEC "a" is the
//     ConfigMap's name (namespace: the agent's), the CNC namespace, or the
//     node's name; SPEC "a/b" is namespace a and name b for every kind
//     (cilium-node-config:NS/NAME reads that one CNC, whatever its selector).
//   - pkg/option/resolver/resolver.go ResolveConfigurations merges the
//     sources in list order, a later source overwriting an earlier one's key
//     and logging "Source overrides key" (configKey, configSource; the same
//     text at every release, logrus in v1.13–v1.17, slog from v1.18). When
//     --allow-config-keys is set, a source after the first keeps only those
//     keys; otherwise --deny-config-keys drops its listed keys ("Source has
//     non-overridable key"). The first source in the list is never filtered,
//     even when it read nothing. A source that yields no key is not merged
//     and not recorded.
//   - CNCs (readNodeConfigs): listed in the source's namespace; a CNC with
//     empty spec.defaults is ignored; a nil spec.nodeSelector selects no node
//     and an empty one every node (also the CRD's field doc). The matching
//     names are sorted (lexicographically) and merged in that order, so the
//     later name wins ("Key set in multiple CiliumNodeConfigs"). A key that
//     is not a valid ConfigMap key is dropped ("Invalid key in
//     CiliumNodeConfigs"). A selector LabelSelectorAsSelector rejects
//     fails build-config on every node, matched or not.
//   - API versions: v1.13–v1.15 read cilium.io/v2alpha1 only. v1.16–v1.19
//     (readNodeConfigsAllVersions) merge the v2 list and the v2alpha1 list
//     each as above, then copy the v2 result over the v2alpha1 one (v2 wins
//     whatever the names); an error listing v2 is only logged, one listing
//     v2alpha1 fails. v1.20 reads cilium.io/v2 only. Both versions are one
//     CRD (ciliumnodeconfigs.cilium.io: v2 storage, v2alpha1 served and
//     deprecated, from v1.16 through v1.20.2), so on a real cluster every
//     CNC is visible at both and the name order decides.
//   - Node keys (readNodeOverrides): labels first, then annotations, each
//     with a key that has the prefix "config.cilium.io" (annotation.ConfigPrefix,
//     matched with strings.HasPrefix, no slash required) and whose part after
//     the first "/" is a valid ConfigMap key; an annotation overwrites a
//     label of the same key. The node read is the source's name
//     (default K8S_NODE_NAME).
//   - config-sources (the key written next to the others): v1.13–v1.16 a
//     comma-joined list "config-map:NS/NAME,cilium-node-config:NS/NAME,
//     node:NODE" (v1.16 lists a CNC read at both versions twice); v1.17 on
//     a JSON array [{"kind":..,"namespace":..,"name":..}] without
//     duplicates, the node's entry with an empty namespace, plus
//     config-sources-overrides {"allowConfigKeys":..,"denyConfigKeys":..}.
//   - Nothing re-runs build-config but the pod's creation: "Creating or
//     modifying a CiliumNodeConfig will not cause changes to take effect
//     until pods are deleted and re-created (or their node is restarted)"
//     (Documentation/configuration/per-node-config.rst).
//
// # The documented KubeProxyReplacement rollout
//
// Documentation/configuration/per-node-config.rst, "Example:
// KubeProxyReplacement Rollout" (https://docs.cilium.io/en/stable/configuration/per-node-config/):
// patch kube-proxy's DaemonSet with a required nodeAffinity term
// {key: io.cilium.migration/kube-proxy-replacement, operator: NotIn,
// values: ["true"]}; create CNC kube-system/kube-proxy-replacement selecting
// matchLabels io.cilium.migration/kube-proxy-replacement: "true" with
// defaults kube-proxy-replacement: "true" and
// kube-proxy-replacement-healthz-bind-address; label the node
// io.cilium.migration/kube-proxy-replacement=true; delete the node's Cilium
// pod; check `cilium config get kube-proxy-replacement`. At v1.13.0 the
// label value, the NotIn value and the KPR value were "strict" (CNC
// kube-proxy-replacement-strict); from v1.15.0 "true". The CNC is
// cilium.io/v2alpha1 up to the v1.15 docs and cilium.io/v2 from v1.16.0.
// Up to v1.17.0 the YAML leaves true unquoted (a YAML boolean where the
// CRD wants strings); from the v1.18 docs (v1.18.8, v1.19.0, v1.20.2) it is
// quoted, and the healthz value is written "'0.0.0.0:10256'", so the single
// quotes are part of the value: the agent's net.Listen then fails ("lookup
// tcp/10256': unknown port"), which it reports with the hint below.
//
// The KPR healthz server (v1.13–v1.17 daemon/cmd/kube_proxy_healthz.go,
// v1.18 on daemon/healthz/kube_proxy_healthz.go) starts when the bind
// address is set and KPR is not "disabled" (before v1.16) / "false" (v1.16
// on). It listens with SO_REUSEADDR|SO_REUSEPORT; kube-proxy's listener
// (default "0.0.0.0:10256", "[::]:10256" for an IPv6 bind address) does not
// set SO_REUSEPORT, so the second to bind gets EADDRINUSE. Cilium then logs
// "hint: kube-proxy should not be running nor listening on the same
// healthz-bind-address." — as a Fatal that ends the agent up to v1.17, as an
// Error followed by the job error "failed to start kubeproxy healthz
// server: ..." from v1.18 (the agent keeps running; a real 1.20.2 agent
// in kpr's lab still reports "Cilium: Ok" and stays Ready, with no module
// health entry for the failed job).
// EADDRNOTAVAIL is only "KubeProxy healthz server not available". When
// Cilium binds first, kube-proxy logs "Healthz server failed" and retries
// every 5 s, or exits with --bind-address-hard-fail
// (kubernetes cmd/kube-proxy/app/server.go serveHealthz).
package nodeconfig
