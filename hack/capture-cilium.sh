#!/usr/bin/env bash
# Captures what the lab's REAL Cilium agents print (lab/cilium-agent.sh)
# as parser fixtures: pkg/interpret/cilium/testdata/v<release>/captured/
# <kpr-true|kpr-false>/, one file per command, plus a README that says for
# each file the release, the agent's flags and the exact command. Run on a
# running lab (sudo make lab-up), through the API as kpr does:
# `kubectl exec -n kube-system <agent pod> -c cilium-agent -- cilium-dbg ...`.
# Usage: hack/capture-cilium.sh (make capture-cilium)
set -euo pipefail
cd "$(dirname "$0")/.."
. lab/config.env
. lab/build/versions.env
export KUBECONFIG="${KUBECONFIG:-$PWD/.lab/kubeconfig}"
KUBECTL="${KUBECTL:-$HOME/.cache/kubectl-kpr/lab/$KUBE_VERSION/bin/kubectl}"
[ -f "$KUBECONFIG" ] || { echo "capture-cilium: no lab kubeconfig at $KUBECONFIG: run 'sudo make lab-up' first" >&2; exit 1; }

var_of() { local v="${1}${2//-/_}"; echo "${!v:-${3:-}}"; }
# One node per release and KPR setting is enough: the first real node of
# each (release, kpr) pair in config.env's order.
declare -A seen=()
for n in $LAB_REAL_CILIUM_NODES; do
  rel="$(var_of LAB_CILIUM_RELEASE_ "$n" "$LAB_CILIUM_VERSION")"
  case "$(var_of LAB_CILIUM_KPR_ "$n")" in False | Disabled) kpr=false ;; *) kpr=true ;; esac
  [ -z "${seen[$rel/$kpr]:-}" ] || continue
  seen[$rel/$kpr]=1
  pod="$("$KUBECTL" get pods -n kube-system -l k8s-app=cilium --field-selector "spec.nodeName=$n" -o 'jsonpath={.items[0].metadata.name}')"
  out="pkg/interpret/cilium/testdata/v$rel/captured/kpr-$kpr"
  mkdir -p "$out"
  dbg() { "$KUBECTL" exec -n kube-system "$pod" -c cilium-agent -- cilium-dbg "$@"; }
  # Wait until the agent has both lab Services (a capture right after
  # lab-up could catch it syncing).
  for _ in $(seq 1 30); do
    dbg service list 2>/dev/null | grep -q "$LAB_NM_NGINX_OVS_CLUSTERIP:" && break
    sleep 1
  done
  dbg status >"$out/status.txt"
  dbg status --verbose >"$out/status-verbose.txt"
  dbg status -o json >"$out/status.json"
  dbg service list >"$out/service-list.txt"
  dbg service list -o json >"$out/service-list.json"
  dbg version >"$out/version.txt"
  # `config get` is what an operator tries first; keep its real answer.
  dbg config get kube-proxy-replacement >"$out/config-get-kube-proxy-replacement.txt" 2>&1 || true
  # The agent's startup log up to its KPR decision (`kubectl logs`, what
  # pods/log serves): every option it registered, then the line with the
  # KPR configuration it settled on.
  "$KUBECTL" logs -n kube-system "$pod" -c cilium-agent | sed -e "s|$PWD/||g" -e '/kube-proxy replacement starting/q' >"$out/agent-startup-log.txt"
  # The agent's real command line, as lab/cilium-agent.sh started it.
  flags="$(sed "s|$PWD/||" ".lab/run/cilium/$n/flags" | tr '\n' ' ')"
  cat >"$out/README.md" <<EOF
# Captured from a real Cilium $rel agent (kube-proxy-replacement=$kpr)

**Captured**, not rendered: printed by a real \`cilium-agent\` v$rel and its
\`cilium-dbg\`, built from Cilium's own source at tag v$rel through the Go
module proxy (lab/build/cilium.sh; the version string's revision is
"unknown": the proxy gives no commit), running on the lab node \`$n\`
(lab/cilium-agent.sh) with its real eBPF datapath, CNI chaining
generic-veth, native routing, against the lab's kube-apiserver $KUBE_VERSION.
Captured by \`hack/capture-cilium.sh\` on $(date -u +%Y-%m-%d) through the API:
\`kubectl exec -n kube-system $pod -c cilium-agent -- cilium-dbg <command>\`.

Agent configuration: every key of the lab's \`cilium-config\`
(lab/manifests/cilium.yaml) as its --config-dir, then these flags:
\`$flags\`

Lab values: node IP $(var_of LAB_IP_ "$n") on eth0, Services nm-nginx
($LAB_NM_NGINX_CLUSTERIP:80, NodePort $LAB_NM_NGINX_NODEPORT) and nm-nginx-ovs
($LAB_NM_NGINX_OVS_CLUSTERIP:80, NodePort $LAB_NM_NGINX_OVS_NODEPORT), plus the
\`kubernetes\` Service and whatever the e2e tests had created.

| file | command |
|---|---|
| status.txt | \`cilium-dbg status\` |
| status-verbose.txt | \`cilium-dbg status --verbose\` |
| status.json | \`cilium-dbg status -o json\` |
| service-list.txt | \`cilium-dbg service list\` |
| service-list.json | \`cilium-dbg service list -o json\` |
| version.txt | \`cilium-dbg version\` |
| config-get-kube-proxy-replacement.txt | \`cilium-dbg config get kube-proxy-replacement\` (stdout and stderr) |
| agent-startup-log.txt | \`kubectl logs -c cilium-agent\` up to the line "kube-proxy replacement starting" |

Do not edit by hand: recapture with \`sudo make lab-up && make capture-cilium\`.
EOF
  echo "captured Cilium $rel (kpr $kpr) from $n into $out" >&2
done
