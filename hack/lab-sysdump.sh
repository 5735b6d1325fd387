#!/usr/bin/env bash
# Writes a sysdump-shaped directory from a running cluster (the local lab:
# KUBECONFIG from `make lab-up`), with the file names `cilium sysdump` uses
# for what `kubectl kpr analyze` reads, so analyze's per-node configuration
# can be checked against real objects without cilium-cli:
#
#   k8s-nodes-<ts>.yaml          kubectl get nodes -o yaml            (NodeList)
#   k8s-pods-<ts>.yaml           kubectl get pods -A -o yaml          (PodList)
#   ciliumnodeconfigs-<ts>.yaml  kubectl get ciliumnodeconfigs.v2.cilium.io -A -o yaml
#   cilium-configmap-<ts>.yaml   kubectl -n NS get configmap cilium-config -o yaml
#   cilium-daemonset-<ts>.yaml   kubectl -n NS get daemonsets -l k8s-app=cilium -o yaml
#   cilium-bugtool-<pod>-<ts>/cilium-bugtool-<ts>/cmd/
#       cilium-dbg-status---verbose.md      cilium-dbg status --verbose
#       cilium-dbg-service-list--o-json.md  cilium-dbg service list -o json
#       iptables-save--c.md                 iptables-save -c
#     (`cilium` instead of `cilium-dbg` for agents before 1.15)
#
# The names are cilium-cli's (cilium-cli/sysdump/constants.go: <ts> in the
# format 20060102-150405, bugtool's folder "cilium-bugtool-<pod>-<ts>") and
# cilium-bugtool's ("<command, spaces as dashes>.md" under cmd/, with
# --enable-markdown: bugtool/cmd/root.go writeCmdToFile). Differences from a
# real sysdump: kubectl writes "kind: List" where cilium-cli writes
# NodeList/PodList/DaemonSetList (analyze reads items either way); only
# these three of bugtool's commands; no logs, no other objects.
#
# Usage: KUBECONFIG=... hack/lab-sysdump.sh [OUT_DIR]   (default: a new
# cilium-sysdump-<ts> under the current directory); CILIUM_NAMESPACE
# (default kube-system). Then: kubectl kpr analyze OUT_DIR
set -euo pipefail

: "${KUBECONFIG:?set KUBECONFIG to the running lab kubeconfig (make lab-up prints it)}"
ns="${CILIUM_NAMESPACE:-kube-system}"
ts="$(date -u +%Y%m%d-%H%M%S)"
out="${1:-cilium-sysdump-$ts}"
mkdir -p "$out"
k() { "${KUBECTL:-kubectl}" "$@"; }

echo "writing $out (namespace $ns)" >&2
k get nodes -o yaml >"$out/k8s-nodes-$ts.yaml"
k get pods -A -o yaml >"$out/k8s-pods-$ts.yaml"
# One CRD served at v2 (1.16 on) and v2alpha1 (up to 1.19): ask for v2,
# else v2alpha1; none at all (no CRD) leaves the file out, as cilium-cli
# does when its list fails.
if ! k get ciliumnodeconfigs.v2.cilium.io -A -o yaml >"$out/ciliumnodeconfigs-$ts.yaml" 2>/dev/null &&
	! k get ciliumnodeconfigs.v2alpha1.cilium.io -A -o yaml >"$out/ciliumnodeconfigs-$ts.yaml" 2>/dev/null; then
	rm -f "$out/ciliumnodeconfigs-$ts.yaml"
	echo "no CiliumNodeConfig CRD: ciliumnodeconfigs-$ts.yaml left out" >&2
fi
k -n "$ns" get configmap cilium-config -o yaml >"$out/cilium-configmap-$ts.yaml" ||
	{ rm -f "$out/cilium-configmap-$ts.yaml"; echo "no cilium-config in $ns" >&2; }
k -n "$ns" get daemonsets -l k8s-app=cilium -o yaml >"$out/cilium-daemonset-$ts.yaml"

# bugtool's markdown: "# <prompt>", a blank line, the output fenced.
md() { printf '# %s\n\n```\n' "$1"; cat; printf '\n```\n'; }
k -n "$ns" get pods -l k8s-app=cilium --field-selector=status.phase=Running \
	-o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' |
	while read -r pod; do
		[ -n "$pod" ] || continue
		dir="$out/cilium-bugtool-$pod-$ts/cilium-bugtool-$ts/cmd"
		mkdir -p "$dir"
		# bugtool runs the agent image's own CLI: cilium-dbg from 1.15,
		# cilium before.
		bin=cilium-dbg
		k -n "$ns" exec "$pod" -c cilium-agent -- cilium-dbg version </dev/null >/dev/null 2>&1 || bin=cilium
		for cmd in "$bin status --verbose" "$bin service list -o json" "iptables-save -c"; do
			file="$dir/${cmd// /-}.md"
			# shellcheck disable=SC2086 # the command is split on purpose
			if ! k -n "$ns" exec "$pod" -c cilium-agent -- $cmd </dev/null 2>"$file.err" | md "$cmd" >"$file"; then
				# bugtool's own line for a command that failed in the agent.
				printf "> Error while running '%s':  %s\n\n" "$cmd" "$(tr '\n' ' ' <"$file.err")" >"$file"
			fi
			rm -f "$file.err"
		done
	done
echo "done: kubectl kpr analyze $out" >&2
