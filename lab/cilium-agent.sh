#!/usr/bin/env bash
# A REAL cilium-agent on one lab node (lab/README.md, "Real Cilium agents").
# node-init.sh starts it as
#   unshare --mount --propagation private -- cilium-agent.sh NODE VERSION KPR
# so its mounts (a private bpffs, a tmpfs /run, the node's cgroup2 subtree,
# a read-only /proc/sys/kernel) live in a mount namespace of its own, like
# the agent's container on a real node. The script ends by exec'ing the
# agent, so its PID (node-init writes it down) is the agent's, and
# `nsenter -t PID -m` (the cilium-dbg wrapper kwok runs for `kubectl exec`)
# lands in that container-like view.
#
# Configuration as a Helm install gives it: every key of the cluster's
# cilium-config ConfigMap as a file in --config-dir (what the DaemonSet's
# `config` init container writes), then the flags the lab must set on the
# command line (they win over the config dir, as flags do for the agent).
set -euo pipefail
node="$1" version="$2" kpr="$3"
: "${KPR_LAB_DIR:?}" "${KPR_LAB_BIN:?}" "${KPR_CILIUM_DIR:?}" "${KPR_LAB_CGROUP:?}"
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=config.env
. "$here/config.env"
log() { printf '[cilium-agent %s] %s\n' "$node" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

src="$KPR_CILIUM_DIR/$version/src"
bin="$KPR_CILIUM_DIR/$version/bin"
[ -x "$bin/cilium-agent" ] || die "no cilium-agent $version in $KPR_CILIUM_DIR (lab/build/cilium.sh $version)"
d="$KPR_LAB_DIR/run/cilium/$node"
rm -rf "$d"
mkdir -p "$d/lib" "$d/config-map" "$d/cgroup"
# --lib-dir: the agent compiles bpf/*.c from <lib-dir>/bpf at run time.
ln -s "$src/bpf" "$d/lib/bpf"

# The mounts, all in this private mount namespace.
# --cgroup-root must be a mount point; socket-LB attaches to it. The node's
# processes (kwok, everything kwok execs, kube-proxy) were put into this
# cgroup2 subtree by lab.sh before node-init started, so socket-LB applies
# to them as it does to a real host's processes.
mount --bind "$KPR_LAB_CGROUP" "$d/cgroup"
mount -t bpf bpf /sys/fs/bpf
# The agent always listens on /run/cilium/...; a private tmpfs keeps the
# host's /run untouched (and gives the default socket path cilium-dbg uses).
mount -t tmpfs tmpfs /run
# Without a read-only /proc/sys/kernel the agent sets two GLOBAL sysctls
# (kernel.unprivileged_bpf_disabled 2 -> 1, which cannot be undone until
# reboot, and kernel.timer_migration); both writes are optional to it.
mount --bind /proc/sys/kernel /proc/sys/kernel
mount -o remount,bind,ro /proc/sys/kernel
# Refuse to start rather than change the machine: check the mount really is
# read-only (its mount options), without trying a write.
awk '$5 == "/proc/sys/kernel" { split($6, o, ","); for (i in o) if (o[i] == "ro") ok = 1 } END { exit !ok }' /proc/self/mountinfo ||
  die "/proc/sys/kernel is not read-only: not starting the agent (it would change global sysctls)"

# cilium-config as the agent's --config-dir (one file per key).
"$KPR_LAB_BIN/kubectl" --kubeconfig "$KPR_LAB_DIR/internal/kubeconfig-admin" -n kube-system \
  get configmap cilium-config -o go-template='{{range $k, $v := .data}}{{$k}}{{"\x00"}}{{$v}}{{"\x00"}}{{end}}' |
  while IFS= read -r -d '' k && IFS= read -r -d '' v; do printf '%s' "$v" >"$d/config-map/$k"; done
[ -s "$d/config-map/kube-proxy-replacement" ] || die "could not read cilium-config into $d/config-map"

ip="$(ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)"
# The runtime BPF compiler: plain clang from PATH (1.18 and 1.20 need no
# llc; 1.20 wants LLVM >= 18.1). Debian's clang-19 lives here.
export PATH="/usr/lib/llvm-19/bin:$PATH"
command -v clang >/dev/null || die "clang (LLVM 19) missing: hack/test-deps.sh installs clang-19 and llvm-19"
log "Cilium $version (real), kube-proxy-replacement=$kpr, node IP $ip"
export K8S_NODE_NAME="$node" CILIUM_K8S_NAMESPACE=kube-system
# The lab's flags, and why each (lab/README.md):
#   --kube-proxy-replacement: the node's role (node-kpr-off runs an agent
#     with KPR off although cilium-config says true);
#   --devices/--direct-routing-device: eth0, the node's only lab link (the
#     kpr-svc veth pair is the lab's sink for unhandled ClusterIPs);
#   health checking, Hubble, the L7 proxy: need pods (cilium-health
#     endpoint) or images (Envoy) the lab cannot run;
#   --lib-dir/--cgroup-root/--bpf-root: the paths set up above.
#   KPR off (node-kpr-off): the agent still runs the configuration it had
#     before the Helm upgrade to KPR (kubeProxyReplacement=false, whose
#     values set none of the per-feature keys): those keys off as well. A
#     real 1.18.8 agent with --kube-proxy-replacement=false but
#     cilium-config's bpf-lb-sock and enable-node-port on still serves
#     ClusterIP and NodePort (captured:
#     pkg/interpret/cilium/testdata/v1.18.8/captured/kpr-false-features-on).
extra=()
[ "$kpr" = true ] || extra=(--bpf-lb-sock=false --enable-node-port=false --enable-host-port=false
  --enable-external-ips=false --enable-health-check-nodeport=false)
args=("${extra[@]}"
  --config-dir="$d/config-map"
  --k8s-kubeconfig-path="$KPR_LAB_DIR/internal/kubeconfig-admin"
  --k8s-namespace=kube-system
  --kube-proxy-replacement="$kpr"
  --devices=eth0
  --direct-routing-device=eth0
  --enable-health-checking=false --enable-endpoint-health-checking=false
  --enable-hubble=false --enable-l7-proxy=false
  --lib-dir="$d/lib" --bpf-root=/sys/fs/bpf --cgroup-root="$d/cgroup"
  --prometheus-serve-addr="$ip:9962")
# What hack/capture-cilium.sh writes into the fixtures' READMEs.
printf '%s\n' "${args[@]}" >"$d/flags"
exec "$bin/cilium-agent" "${args[@]}"
