#!/usr/bin/env bash
# A REAL cilium-agent on one lab node (lab/README.md, "Real Cilium agents").
# node-init.sh starts it, each time the node's agent pod is (re-)created, as
#   unshare --mount --propagation private -- cilium-agent.sh NODE VERSION [KPR]
# so its mounts (a private bpffs, a tmpfs /run and /tmp, the node's cgroup2
# subtree, a read-only /proc/sys/kernel) live in a mount namespace of its
# own, like the agent's container on a real node. The script ends by
# exec'ing the agent, so its PID (node-init writes it down) is the agent's,
# and `nsenter -t PID -m` (the cilium-dbg/grep/cat/ls wrappers kwok runs
# for `kubectl exec -c cilium-agent`) lands in that container-like view.
#
# Configuration as a Helm install gives it: first the pod's `config` init
# container, i.e. the node release's REAL `cilium-dbg build-config` with the
# DaemonSet's --source list (config.env LAB_CILIUM_CONFIG_SOURCES:
# cilium-config, the CiliumNodeConfigs selecting this node, the node's
# config.cilium.io/ keys), writing /tmp/cilium/config-map (in this mount
# namespace only; its output is the init container's log); then the agent
# with --config-dir=/tmp/cilium/config-map and the flags the lab must set on
# the command line (they win over the config dir, as flags do). KPR, if
# given (node-kpr-off: false), is one of those flags; otherwise the
# configuration decides it, as on a real cluster.
set -euo pipefail
node="$1" version="$2" kpr="${3:-}"
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
logs="$KPR_LAB_DIR/logs"
rm -rf "$d"
mkdir -p "$d/lib" "$d/cgroup"
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
# A private /tmp, the pod's emptyDir `tmp`: /tmp/cilium/config-map exists
# only here, never on the machine. Everything else of the machine's /tmp
# stays reachable (the Cilium and lab caches, even the repository, may live
# under /tmp): the machine's /tmp is bound at /run/host-tmp and each of its
# top-level entries bound (symlinks copied) back into the tmpfs; a host
# /tmp/cilium is left out (this /tmp/cilium is the agent's own).
mkdir /run/host-tmp
mount --rbind /tmp /run/host-tmp
mount -t tmpfs -o mode=1777 tmpfs /tmp
for e in /run/host-tmp/* /run/host-tmp/.[!.]* /run/host-tmp/..?*; do
  [ -e "$e" ] || [ -L "$e" ] || continue
  b="${e##*/}"
  if [ "$b" = cilium ]; then
    log "the machine's /tmp/cilium is hidden from the agent (its /tmp/cilium is private)"
  elif [ -L "$e" ]; then
    cp -P "$e" "/tmp/$b"
  elif [ -d "$e" ]; then
    mkdir "/tmp/$b" && mount --rbind "$e" "/tmp/$b"
  else
    : >"/tmp/$b" && mount --bind "$e" "/tmp/$b"
  fi
done
for p in "$KPR_LAB_DIR" "$KPR_LAB_BIN" "$bin" "$src/bpf/" "$KPR_LAB_CGROUP"; do
  [ -e "$p" ] || die "$p is not reachable in the agent's mount namespace"
done
# Without a read-only /proc/sys/kernel the agent sets two GLOBAL sysctls
# (kernel.unprivileged_bpf_disabled 2 -> 1, which cannot be undone until
# reboot, and kernel.timer_migration); both writes are optional to it.
mount --bind /proc/sys/kernel /proc/sys/kernel
mount -o remount,bind,ro /proc/sys/kernel
# Refuse to start rather than change the machine: check the mount really is
# read-only (its mount options), without trying a write.
awk '$5 == "/proc/sys/kernel" { split($6, o, ","); for (i in o) if (o[i] == "ro") ok = 1 } END { exit !ok }' /proc/self/mountinfo ||
  die "/proc/sys/kernel is not read-only: not starting the agent (it would change global sysctls)"

export K8S_NODE_NAME="$node" CILIUM_K8S_NAMESPACE=kube-system
# cri FILE: stdin to FILE in the CRI log format kubelets write (kwok's
# ClusterLogs serves it for `kubectl logs`, lab.sh kwok_execs), and to
# stdout as it is.
cri() {
  awk -v f="$1" '{ print; fflush(); printf "%s stdout F %s\n", strftime("%Y-%m-%dT%H:%M:%SZ", systime(), 1), $0 >f; fflush(f) }'
}
# The `config` init container: the node release's real build-config, as
# the DaemonSet runs it (lab/manifests/cilium.yaml).
cfg="/tmp/cilium/config-map"
log "build-config (Cilium $version, --source=$LAB_CILIUM_CONFIG_SOURCES)"
: >"$logs/$node-cilium-config.cri"
{
  printf '=== %s: cilium-dbg build-config (the config init container of the agent pod)\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$logs/$node-cilium-config.log"
  "$bin/cilium-dbg" build-config \
    --k8s-kubeconfig-path="$KPR_LAB_DIR/internal/kubeconfig-admin" \
    --source="$LAB_CILIUM_CONFIG_SOURCES" --dest="$cfg" 2>&1
} | cri "$logs/$node-cilium-config.cri" >>"$logs/$node-cilium-config.log" ||
  die "build-config failed ($logs/$node-cilium-config.log)"
[ -s "$cfg/kube-proxy-replacement" ] || die "build-config wrote no kube-proxy-replacement into $cfg ($logs/$node-cilium-config.log)"
log "config-sources: $(cat "$cfg/config-sources")"

# The node IP: eth0's primary address (a node may have a secondary one,
# config.env LAB_SECONDARY_IP_<node>).
ip="$(ip -4 -o addr show dev eth0 | grep -v ' secondary ' | awk '{print $4}' | cut -d/ -f1 | head -n 1)"
# The runtime BPF compiler: plain clang from PATH (1.18 and 1.20 need no
# llc; 1.20 wants LLVM >= 18.1). Debian's clang-19 lives here.
export PATH="/usr/lib/llvm-19/bin:$PATH"
command -v clang >/dev/null || die "clang (LLVM 19) missing: hack/test-deps.sh installs clang-19 and llvm-19"
log "Cilium $version (real), kube-proxy-replacement=${kpr:-"from the config: $(cat "$cfg/kube-proxy-replacement")"}, node IP $ip"
# The lab's flags, and why each (lab/README.md):
#   --kube-proxy-replacement (only where given): node-kpr-off runs an
#     agent with KPR off although its configuration says true; elsewhere
#     the config dir decides;
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
case "$kpr" in
"") ;;
true) extra=(--kube-proxy-replacement=true) ;;
*) extra=(--kube-proxy-replacement="$kpr" --bpf-lb-sock=false --enable-node-port=false --enable-host-port=false
  --enable-external-ips=false --enable-health-check-nodeport=false) ;;
esac
args=("${extra[@]}"
  --config-dir="$cfg"
  --k8s-kubeconfig-path="$KPR_LAB_DIR/internal/kubeconfig-admin"
  --k8s-namespace=kube-system
  --devices=eth0
  --direct-routing-device=eth0
  --enable-health-checking=false --enable-endpoint-health-checking=false
  --enable-hubble=false --enable-l7-proxy=false
  --lib-dir="$d/lib" --bpf-root=/sys/fs/bpf --cgroup-root="$d/cgroup"
  --prometheus-serve-addr="$ip:9962")
# What hack/capture-cilium.sh writes into the fixtures' READMEs.
printf '%s\n' "${args[@]}" >"$d/flags"
# The agent container's log, also in CRI format for `kubectl logs`.
: >"$logs/$node-cilium-agent.cri"
exec > >(cri "$logs/$node-cilium-agent.cri") 2>&1
exec "$bin/cilium-agent" "${args[@]}"
