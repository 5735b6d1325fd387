#!/usr/bin/env bash
# The kpr lab: a real Kubernetes control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler built from the Go module proxy)
# and kwok nodes (one per verdict kpr gives, lab/config.env), each in its own
# network namespace joined by a bridge.
# See lab/README.md for what is real and what is a stand-in.
#
#   lab/lab.sh up      tear down leftovers, build (cached), start, wait, check
#   lab/lab.sh down    stop everything, remove namespaces, bridge, state
#   lab/lab.sh check   probe the scenario's datapaths from inside the nodes
#   lab/lab.sh is-clean  exit 0 if nothing of the lab is left (used by tests)
#   lab/lab.sh rss       resident memory of all lab processes, MiB
#
# Needs root (network namespaces, bridge, nft). Traffic never leaves the
# lab: node namespaces have no default route, host forwarding is untouched.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=config.env
. "$here/config.env"
# shellcheck source=build/versions.env
. "$here/build/versions.env"

LAB_DIR="${KPR_LAB_DIR:-$repo/.lab}"
CACHE="${KPR_LAB_CACHE:-$HOME/.cache/kubectl-kpr/lab/$KUBE_VERSION}"
BIN="$CACHE/bin"
# Real Cilium agents (lab/build/cilium.sh), cached by version.
CILIUM_CACHE="${KPR_CILIUM_CACHE:-$HOME/.cache/kubectl-kpr/cilium}"
export KPR_LAB_DIR="$LAB_DIR" KPR_LAB_CACHE="$CACHE" KPR_LAB_BIN="$BIN" KPR_CILIUM_DIR="$CILIUM_CACHE"
API="https://$LAB_BRIDGE_IP:$LAB_APISERVER_PORT"

# The PKI, the control plane, daemons and namespaces, shared with the scale
# lab (bench/scale-lab.sh): lab/lib/controlplane.sh, set up from config.env.
# shellcheck source=lib/controlplane.sh
. "$here/lib/controlplane.sh"
CP_TAG=lab CP_ELAPSED=true CP_DIR="$LAB_DIR" CP_BIN="$BIN" CP_NETNS="" CP_API="$API"
CP_CLUSTER=kpr-lab CP_CERT_DAYS=30 CP_READY_USER=kpr-admin
CP_ETCD_CLIENT_PORT="$LAB_ETCD_CLIENT_PORT" CP_ETCD_PEER_PORT="$LAB_ETCD_PEER_PORT"
CP_APISERVER_BIND="$LAB_BRIDGE_IP" CP_APISERVER_ADVERTISE="$LAB_BRIDGE_IP" CP_APISERVER_PORT="$LAB_APISERVER_PORT"
CP_SERVICE_CIDR="$LAB_SERVICE_CIDR" CP_NODEPORT_RANGE="$LAB_NODEPORT_RANGE"

need_root() {
  require_root "the lab needs root (network namespaces, a bridge, nft rules): run 'sudo make ${1:-lab-up}'"
}

netns_of() { echo "${LAB_NETNS_PREFIX}$1"; }
ip_of() {
  local v="LAB_IP_${1//-/_}"
  echo "${!v}"
}
secondary_ip_of() { var_of LAB_SECONDARY_IP_ "$1"; }
# A node's podCIDR: LAB_POD_NET_PREFIX + the last octet of its IP.
pod_cidr_of() {
  local ip
  ip="$(ip_of "$1")"
  echo "${LAB_POD_NET_PREFIX}${ip##*.}.0/24"
}
# Host-side veth name: kpr-<node without "node-">, at most 15 characters.
veth_of() { echo "kpr-${1#node-}" | cut -c1-15; }

# Per-node roles from config.env.
var_of() { # PREFIX node [default]
  local v="${1}${2//-/_}"
  echo "${!v:-${3:-}}"
}
in_list() { [[ " $2 " == *" $1 "* ]]; }
is_cilium_node() { in_list "$1" "$LAB_CILIUM_NODES"; }
is_real_cilium_node() { in_list "$1" "$LAB_REAL_CILIUM_NODES"; }
is_legacy_cilium_node() { in_list "$1" "$LAB_CILIUM_LEGACY_NODES"; }
# The Cilium releases the lab's real agents run, one per line.
real_cilium_versions() {
  local n
  for n in $LAB_REAL_CILIUM_NODES; do
    if in_list "$n" "$LAB_NODES"; then var_of LAB_CILIUM_RELEASE_ "$n" "$LAB_CILIUM_VERSION"; fi
  done | sort -uV
}
# The machine's cgroup2 hierarchy (/sys/fs/cgroup/unified on a hybrid
# machine, /sys/fs/cgroup on a pure cgroup2 one), and a real-agent node's
# subtree in it: socket-LB attaches there, so every process of that node
# runs in it.
cgroup2_root() { findmnt -n -t cgroup2 -o TARGET 2>/dev/null | head -n 1; }
cgroup_of() { echo "$(cgroup2_root)/${LAB_NETNS_PREFIX}$1"; }
# node-notready never gets a kwok: its node object is all there is.
runs_kwok() { [ "$1" != node-notready ]; }
kube_proxy_mode_of() { in_list "$1" "$LAB_KUBE_PROXY_NODES" && var_of LAB_KUBE_PROXY_MODE_ "$1" iptables; }

# kube-proxy's ipvs mode needs the kernel's IPVS (ip_vs). Without it the lab
# leaves node-ipvs out and says why (lab-up's log, .lab/skipped-nodes):
# the e2e tests skip that node with the reason, the unit tests keep
# covering ipvs rules. Only `up` tries to load the module (load_ipvs); the
# other commands just look.
ipvs_missing() {
  [ -e /proc/net/ip_vs ] && return 1
  echo "this kernel ($(uname -r)) has no IPVS: /proc/net/ip_vs is missing and ip_vs cannot be loaded$(command -v modprobe >/dev/null || echo ' (no modprobe)'), so kube-proxy's ipvs mode cannot run here"
}
# select_nodes: LAB_NODES without what this machine cannot run, and the
# nodes that get a kwok.
select_nodes() {
  IPVS_MISSING=""
  if in_list node-ipvs "$LAB_ALL_NODES" && IPVS_MISSING="$(ipvs_missing)"; then
    LAB_NODES="$(tr ' ' '\n' <<<"$LAB_ALL_NODES" | grep -vx node-ipvs | tr '\n' ' ')"
  else
    LAB_NODES="$LAB_ALL_NODES"
  fi
  LAB_NODES="${LAB_NODES% }"
  LAB_KWOK_NODES="$(for n in $LAB_NODES; do if runs_kwok "$n"; then printf "%s " "$n"; fi; done)"
  LAB_KWOK_NODES="${LAB_KWOK_NODES% }"
}
load_ipvs() {
  [ -e /proc/net/ip_vs ] || ! command -v modprobe >/dev/null || modprobe ip_vs 2>/dev/null || true
  select_nodes
}
LAB_ALL_NODES="$LAB_NODES"
select_nodes

kubectl_admin() { "$BIN/kubectl" --kubeconfig "$LAB_DIR/internal/kubeconfig-admin" "$@"; }

# --------------------------------------------------------------- preflight

# preflight: before anything is built or set up, check that this machine
# can run the lab at all, and say in one sentence what is missing. Each
# probe cleans up after itself, so a failure leaves nothing behind.
preflight() {
  local what="" why="" t="kprlab-preflight"
  [ "$(uname -s)" = Linux ] || die "the lab needs Linux (network namespaces); this is $(uname -s)"
  need_root "${1:-lab-up}"
  try() { # description command...
    local d="$1" out
    shift
    [ -n "$what" ] && return 0
    if ! out="$("$@" 2>&1)"; then
      what="$d"
      why="$(head -n 1 <<<"$out")"
    fi
  }
  ip netns del "$t" 2>/dev/null || true
  try "network namespaces (ip netns add)" ip netns add "$t"
  try "veth pairs" ip -n "$t" link add kpf0 type veth peer name kpf1
  try "Linux bridges" ip -n "$t" link add kpf-br type bridge
  try "nftables" ip netns exec "$t" nft add table ip kpr-preflight
  try "iptables (nf_tables or legacy)" ip netns exec "$t" iptables -t nat -N KPR-PREFLIGHT
  try "PID and mount namespaces (unshare)" unshare --pid --fork --mount --propagation private true
  if [ -n "$LAB_REAL_CILIUM_NODES" ]; then
    # What the real Cilium agents need (lab/cilium-agent.sh).
    try "a cgroup2 hierarchy (socket-LB attaches to a cgroup2 subtree; no cgroup2 mount found)" test -n "$(cgroup2_root)"
    try "the BPF filesystem (mount -t bpf, in a private mount namespace)" \
      unshare --mount --propagation private sh -c 'mount -t bpf bpf /sys/fs/bpf'
    try "BPF system calls (bpftool-free check: /proc/sys/kernel/unprivileged_bpf_disabled readable, CONFIG_BPF_SYSCALL)" \
      test -e /proc/sys/kernel/unprivileged_bpf_disabled
    # tcx (the BPF link attach for tc that Cilium 1.18+ prefers) arrived in
    # Linux 6.6; Cilium falls back to legacy tc below it, but the lab's
    # facts were verified on tcx.
    try "tcx (Linux >= 6.6; this kernel is $(uname -r))" \
      sh -c 'v=$(uname -r); maj=${v%%.*}; min=${v#*.}; min=${min%%[.-]*}; [ "$maj" -gt 6 ] || { [ "$maj" -eq 6 ] && [ "$min" -ge 6 ]; }'
    try "cgroup2 subtrees (mkdir in the cgroup2 hierarchy)" \
      sh -c 'd="$(findmnt -n -t cgroup2 -o TARGET | head -n 1)/kprlab-preflight" && mkdir "$d" && rmdir "$d"'
  fi
  ip netns del "$t" 2>/dev/null || true
  [ -z "$what" ] || die "this machine cannot run the lab: the kernel (or this container) does not allow $what: $why"
}

# ---------------------------------------------------------------- packages

ensure_packages() {
  local missing=()
  command -v iptables-save >/dev/null || missing+=(iptables)
  command -v nft >/dev/null || missing+=(nftables)
  command -v conntrack >/dev/null || missing+=(conntrack)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v curl >/dev/null || missing+=(curl)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v unshare >/dev/null || missing+=(util-linux)
  command -v nsenter >/dev/null || missing+=(util-linux)
  command -v ss >/dev/null || missing+=(iproute2)
  command -v pgrep >/dev/null || missing+=(procps)
  # kube-proxy's ipvs mode programs ipsets with the ipset tool.
  if in_list node-ipvs "$LAB_NODES"; then command -v ipset >/dev/null || missing+=(ipset); fi
  # The real Cilium agents compile their BPF programs at start with plain
  # clang (1.20 wants LLVM >= 18.1): Debian's clang-19, used from its own
  # directory (lab/cilium-agent.sh), never put on the machine's PATH.
  if [ -n "$(real_cilium_versions)" ]; then
    [ -x /usr/lib/llvm-19/bin/clang ] || missing+=(clang-19)
    [ -x /usr/lib/llvm-19/bin/llc ] || missing+=(llvm-19)
    command -v findmnt >/dev/null || missing+=(util-linux)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing tools (${missing[*]}) and no apt-get to install them"
  log "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ------------------------------------------------------------------ build

build() {
  "$here/build/build.sh"
  # Real Cilium agents for the releases the real-agent nodes run.
  local vs
  vs="$(real_cilium_versions | tr '\n' ' ')"
  [ -z "${vs// /}" ] || KPR_CILIUM_CACHE="$CILIUM_CACHE" "$here/build/cilium.sh" $vs
  # The stand-ins and one Cilium CLI renderer per release (each only when
  # its sources changed).
  "$here/standin/build.sh" "$LAB_DIR/bin"
  mkdir -p "$LAB_DIR/bin/cilium-node"
  ln -sf ../kpr-lab-node "$LAB_DIR/bin/cilium-node/cilium-dbg"
  ln -sf ../kpr-lab-node "$LAB_DIR/bin/cilium-node/cilium"
}

# -------------------------------------------------------------------- pki

# The CA, the API server's certificate, one per node, the service-account
# key (lab/lib/controlplane.sh).
pki() {
  pki_ca kpr-lab-ca
  local kube_svc_ip="${LAB_SERVICE_CIDR%.*/*}.1"
  pki_cert apiserver kube-apiserver "IP:$LAB_BRIDGE_IP,IP:127.0.0.1,IP:$kube_svc_ip,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
  for n in $LAB_NODES; do pki_cert "$n" "system:node:$n" "IP:$(ip_of "$n"),DNS:$n"; done
  pki_sa
}

kubeconfigs() {
  mkdir -p "$LAB_DIR/internal"
  rm -f "$LAB_DIR/kubeconfig" "$LAB_DIR"/kubeconfig-* "$LAB_DIR"/internal/kubeconfig-*
  kubeconfig "$LAB_DIR/kubeconfig" kpr-lab:kpr-admin kpr-lab-reader:kpr-reader \
    kpr-lab-inspector:kpr-inspector kpr-lab-nobody:nobody
  kubeconfig "$LAB_DIR/kubeconfig-reader" kpr-lab:kpr-reader
  kubeconfig "$LAB_DIR/kubeconfig-inspector" kpr-lab:kpr-inspector
  kubeconfig "$LAB_DIR/kubeconfig-nobody" kpr-lab:nobody
  kubeconfig "$LAB_DIR/internal/kubeconfig-admin" kpr-lab:kpr-admin
  kubeconfig "$LAB_DIR/internal/kubeconfig-kube-proxy" kpr-lab:system:kube-proxy
}

# ---------------------------------------------------------------- network

net_up() {
  if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
    # Bridged lab traffic must not traverse the host's iptables.
    cat /proc/sys/net/bridge/bridge-nf-call-iptables >"$LAB_DIR/state/bridge-nf-call-iptables"
    echo 0 >/proc/sys/net/bridge/bridge-nf-call-iptables
  fi
  ip link add "$LAB_BRIDGE" type bridge
  ip addr add "$LAB_BRIDGE_IP/$LAB_PREFIX_LEN" dev "$LAB_BRIDGE"
  ip link set "$LAB_BRIDGE" up
  for n in $LAB_NODES; do
    local ns veth
    ns="$(netns_of "$n")"
    veth="$(veth_of "$n")"
    netns_new "$ns"
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip link set "$veth" master "$LAB_BRIDGE" up
    ip -n "$ns" addr add "$(ip_of "$n")/$LAB_PREFIX_LEN" dev eth0
    # A second address in the same subnet (the kernel flags it
    # "secondary"), where config.env gives one (LAB_SECONDARY_IP_<node>).
    [ -z "$(secondary_ip_of "$n")" ] || ip -n "$ns" addr add "$(secondary_ip_of "$n")/$LAB_PREFIX_LEN" dev eth0
    ip -n "$ns" link set eth0 up
    # No default route: only the lab subnet is reachable. The service CIDR
    # goes to a sink veth pair inside the namespace through a permanent
    # neighbour nobody owns: packets no datapath rewrites are dropped there
    # (so a ClusterIP hangs on a node without service handling, as on a
    # real one) and nothing leaves the namespace. (No dummy module here.)
    ip -n "$ns" link add kpr-svc type veth peer name kpr-svc-sink
    ip -n "$ns" link set kpr-svc up
    ip -n "$ns" link set kpr-svc-sink up
    ip -n "$ns" route add "$LAB_SERVICE_CIDR" via 169.254.255.1 dev kpr-svc onlink
    ip -n "$ns" neigh replace 169.254.255.1 lladdr 02:00:00:00:00:01 dev kpr-svc nud permanent
    # NodePorts on 127.0.0.1 (kube-proxy sets this itself; the Cilium
    # stand-in needs it for its DNAT).
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.route_localnet=1
    # Forwarding inside the node's namespace (as on any Kubernetes node), so
    # a NodePort reached from another node can be forwarded to a backend on
    # a third. Only this namespace's sysctl: the host's stays untouched, and
    # with no default route nothing can be forwarded out of the lab.
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
  done
  # Pod networks: every node reaches the others' podCIDRs through their
  # node IPs on the lab bridge (a flat routed pod network, as with a
  # host-gw CNI). The pod IPs themselves sit on each node's lo
  # (kpr-lab-node pods).
  for n in $LAB_NODES; do
    for m in $LAB_NODES; do
      [ "$n" = "$m" ] || ip -n "$(netns_of "$n")" route add "$(pod_cidr_of "$m")" via "$(ip_of "$m")" dev eth0
    done
  done
}

# ---------------------------------------------------------------- processes

# The control plane (lab/lib/controlplane.sh), in the host namespaces
# (CP_NETNS is empty) with config.env's ports; every daemon of the lab in
# its own session (start, wait_for). The API server alone: restart-apiserver
# (the fault tests) starts it again (start_apiserver) with the same flags,
# etcd keeping the state.
control_plane() {
  start_etcd lab
  start_apiserver
  start_controller_manager "$LAB_DIR/internal/kubeconfig-admin"
  start_scheduler --kubeconfig "$LAB_DIR/internal/kubeconfig-admin" --leader-elect=false
}

# Cilium's CRDs, from the newest release the real agents run (its CRDs
# serve every version the older agents read); the agents wait for them.
# No operator: the agents need none of its work here.
cilium_crds() {
  local v src args=()
  v="$(real_cilium_versions | tail -n 1)"
  [ -n "$v" ] || return 0
  src="$CILIUM_CACHE/$v/src/pkg/k8s/apis/cilium.io/client/crds"
  for d in "$src"/v2 "$src"/v2alpha1; do [ -d "$d" ] && args+=(-f "$d"); done
  [ ${#args[@]} -gt 0 ] || die "no CRDs in $src"
  kubectl_admin apply --server-side "${args[@]}" >/dev/null
  kubectl_admin wait --for condition=Established crd --all --timeout=60s >/dev/null
}

# Substitute ${LAB_*} from config.env in a manifest.
render() {
  local text
  text="$(cat "$1")"
  for v in $(compgen -v LAB_); do
    text="${text//\$\{$v\}/${!v}}"
  done
  printf '%s\n' "$text"
}

nodes() {
  local kernel osimage
  kernel="$(uname -r)"
  osimage="$(. /etc/os-release && echo "${PRETTY_NAME:-Linux}")"
  for n in $LAB_NODES; do
    local labels="" annotations="" taints="[]" status kv="$kernel" now mode
    if is_cilium_node "$n"; then
      # The 1.12 agents come from DaemonSet cilium-legacy, the others from
      # cilium (lab/manifests/cilium.yaml).
      if is_legacy_cilium_node "$n"; then
        labels+=$'\n    lab.kubectl-kpr.io/cilium-legacy: "true"'
      else
        labels+=$'\n    node.cilium.io/agent: "true"'
      fi
      # Which Cilium this node runs: a real agent built from source, or the
      # stand-in (lab/README.md), and its release.
      labels+=$'\n    lab.kubectl-kpr.io/cilium-agent: '"$(is_real_cilium_node "$n" && echo real || echo standin)"
      labels+=$'\n    lab.kubectl-kpr.io/cilium-release: "'"$(var_of LAB_CILIUM_RELEASE_ "$n" "$LAB_CILIUM_VERSION")"'"'
    fi
    mode="$(kube_proxy_mode_of "$n" || true)"
    # node-stale's kube-proxy is gone (killed): its node keeps the label of
    # kube-proxy's DaemonSet, whose nodeAffinity keeps the pod off now that
    # the node is labelled for kube-proxy replacement (below).
    [ -z "$mode" ] || labels+=$'\n    '"lab.kubectl-kpr.io/kube-proxy: $mode"
    # Cilium's per-node KPR rollout (lab/manifests/node-config.yaml).
    ! in_list "$n" "$LAB_KPR_MIGRATED_NODES" || labels+=$'\n    io.cilium.migration/kube-proxy-replacement: "true"'
    # node-both: one key from a node annotation (build-config's `node`
    # source), kube-proxy's own healthz address, where a live kube-proxy
    # listens on it.
    [ "$n" != node-both ] || annotations+=$'\n    config.cilium.io/kube-proxy-replacement-healthz-bind-address: "0.0.0.0:10256"'
    [ "$n" = node-cilium ] && taints='[{key: key, value: cilium, effect: NoExecute}]'
    status=""
    if ! runs_kwok "$n"; then
      # Never Ready: what a node whose kubelet cannot start reports (kwok
      # never manages it; the node controller later marks it Unknown).
      now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
      kv="$LAB_NOTREADY_KERNEL"
      status="  conditions:
  - {type: Ready, status: \"False\", reason: KubeletNotReady, message: \"container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized\", lastHeartbeatTime: \"$now\", lastTransitionTime: \"$now\"}"
    fi
    cat <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $n
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake${annotations}
  labels:
    kubernetes.io/hostname: $n
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok${labels}
spec:
  podCIDR: $(pod_cidr_of "$n")
  podCIDRs: [$(pod_cidr_of "$n")]
  taints: $taints
status:
  addresses:
  - {type: InternalIP, address: "$(ip_of "$n")"}
  - {type: Hostname, address: "$n"}
$status
  nodeInfo:
    architecture: amd64
    kernelVersion: "$kv"
    osImage: "$osimage"
    operatingSystem: linux
    containerRuntimeVersion: "containerd://2.1.4"
    kubeletVersion: "$KUBE_VERSION"
    kubeProxyVersion: ""
    machineID: ""
    systemUUID: ""
    bootID: ""
---
EOF
  done
}

# SIMULATION for the fault tests (test/e2e/faults_test.go): pods whose
# first container uses the image kpr.invalid/simulated-slow-start:v0 become
# Ready 8 s late, so that a signal or an API server restart reliably lands
# while kpr waits for its debug pods. Derived at lab-up from kwok's own
# pod-ready stage (same status), with a weight (wins over pod-ready), an
# image selector and a delay added.
kwok_slow_start_stage() {
  sed -e 's/^  name: pod-ready$/  name: kpr-lab-pod-slow-start/' \
    -e 's/^spec:$/spec:\n  weight: 1\n  delay:\n    durationMilliseconds: 8000/' \
    -e "s/^    matchExpressions:$/    matchExpressions:\n    - key: '.spec.containers.[0].image'\n      operator: 'In'\n      values:\n      - 'kpr.invalid\/simulated-slow-start:v0'/" \
    "$CACHE/kwok-stages/pod-fast-pod-ready.yaml" >"$LAB_DIR/internal/kwok-stage-slow-start.yaml"
  grep -q simulated-slow-start "$LAB_DIR/internal/kwok-stage-slow-start.yaml" || die "could not derive the slow-start kwok stage"
}

kwok_execs() {
  kwok_slow_start_stage
  for n in $LAB_KWOK_NODES; do
    cat >"$LAB_DIR/internal/kwok-exec-$n.yaml" <<EOF
# kubectl exec into this node's pods runs the command as a local process in
# the node's namespaces (kwok ClusterExec). The Cilium CLI stand-in checks
# KPR_LAB_CONTAINER, so only the cilium-agent container "has" it.
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: kpr-lab-$n
spec:
  execs:
  - containers: [cilium-agent]
    local:
      envs:
      - {name: KPR_LAB_CONTAINER, value: cilium-agent}
      - {name: KPR_LAB_CILIUM_VERSION, value: "$(var_of LAB_CILIUM_RELEASE_ "$n" "$LAB_CILIUM_VERSION")"}
      - {name: KPR_LAB_CILIUM_KPR_MODE, value: "$(var_of LAB_CILIUM_KPR_ "$n")"}
  - local:
      envs:
      - {name: KPR_LAB_CONTAINER, value: other}
EOF
    is_real_cilium_node "$n" || continue
    # `kubectl logs` of the real agent's pod: the config init container's
    # (build-config) and the agent's output, in the CRI log format
    # lab/cilium-agent.sh writes them in (kwok reads log files as a kubelet
    # does). Other containers have no logs, as before.
    cat >>"$LAB_DIR/internal/kwok-exec-$n.yaml" <<EOF
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: kpr-lab-$n-cilium
spec:
  selector:
    matchNamespaces: [kube-system]
  logs:
  - containers: [config]
    logsFile: $LAB_DIR/logs/$n-cilium-config.cri
  - containers: [cilium-agent]
    logsFile: $LAB_DIR/logs/$n-cilium-agent.cri
EOF
  done
}

start_nodes() {
  [ -d /host ] || {
    mkdir /host
    touch "$LAB_DIR/state/created-host-dir"
  }
  for n in $LAB_KWOK_NODES; do
    # A real-agent node's processes start in its own cgroup2 subtree, the
    # agent's --cgroup-root (node-init.sh).
    ! is_real_cilium_node "$n" || mkdir -p "$(cgroup_of "$n")"
    in_cgroup_of "$n"
    start "node-$n" "${IN_CGROUP[@]}" ip netns exec "$(netns_of "$n")" \
      unshare --pid --fork --mount-proc --mount --propagation private \
      "$here/node-init.sh" "$n"
  done
}

all_pods_running() {
  local out
  out="$(kubectl_admin get pods -n kube-system -o 'jsonpath={range .items[*]}{.metadata.name}={.status.phase}{"\n"}{end}')"
  [ "$(grep -c '=Running$' <<<"$out")" -ge 5 ] && ! grep -qv '=Running$' <<<"$out"
}

nodes_ready() {
  [ "$(kubectl_admin get nodes -o 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)" -eq "$(wc -w <<<"$LAB_KWOK_NODES")" ]
}

endpoints_ready() {
  for s in nm-nginx nm-nginx-ovs; do
    [ -n "$(kubectl_admin get endpointslices -n kube-system -l "kubernetes.io/service-name=$s" \
      -o 'jsonpath={.items[*].endpoints[*].addresses[*]}')" ] || return 1
  done
}

# in_cgroup_of NODE: sets IN_CGROUP to the command prefix that runs a
# command in a real-agent node's cgroup2 subtree, as the node's own
# processes are (socket-LB applies only there); empty for other nodes.
in_cgroup_of() {
  IN_CGROUP=()
  if is_real_cilium_node "$1" && [ -d "$(cgroup_of "$1")" ]; then
    IN_CGROUP=(sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$(cgroup_of "$1")")
  fi
}

in_node() { # node command...
  local n="$1"
  shift
  in_cgroup_of "$n"
  "${IN_CGROUP[@]}" ip netns exec "$(netns_of "$n")" "$@"
}
# The node's real agent's CLI, the way kpr reaches it: `kubectl exec` into
# the node's agent pod, container cilium-agent (kwok runs the real
# cilium-dbg in the agent's mount namespace, node-init.sh).
real_cilium_dbg() { # node args...
  local n="$1" pod
  shift
  pod="$(kubectl_admin get pods -n kube-system -l k8s-app=cilium --field-selector "spec.nodeName=$n" -o 'jsonpath={.items[0].metadata.name}')"
  [ -n "$pod" ] || return 1
  kubectl_admin exec -n kube-system "$pod" -c cilium-agent -- cilium-dbg "$@"
}

# Nodes by role, among those this lab runs.
lab_nodes_in() {
  local n
  for n in $1; do if in_list "$n" "$LAB_NODES"; then printf '%s\n' "$n"; fi; done
}
# Cilium nodes whose agent does Services (KPR not False/Disabled).
kpr_nodes() {
  local n
  for n in $(lab_nodes_in "$LAB_CILIUM_NODES"); do
    case "$(var_of LAB_CILIUM_KPR_ "$n")" in False | Disabled) ;; *) echo "$n" ;; esac
  done
}
standin_kpr_nodes() { for n in $(kpr_nodes); do is_real_cilium_node "$n" || echo "$n"; done; }
real_kpr_nodes() { for n in $(kpr_nodes); do ! is_real_cilium_node "$n" || echo "$n"; done; }
# Live kube-proxies (node-stale's is killed once it has written its rules).
kube_proxy_nodes() { lab_nodes_in "$LAB_KUBE_PROXY_NODES" | grep -vx node-stale || true; }

# Both Services in every stand-in table and every kube-proxy's rules: the
# stand-in writes its table as EndpointSlices fill, one Service may come a
# sync before the other (a self-check once ran between the two and found
# nm-nginx's ClusterIP dark).
datapaths_ready() {
  local n t
  for n in $(standin_kpr_nodes); do
    t=$(in_node "$n" nft list table ip kpr-lab-ebpf-standin) || return 1
    grep -q "$LAB_NM_NGINX_OVS_CLUSTERIP" <<<"$t" && grep -q "$LAB_NM_NGINX_CLUSTERIP " <<<"$t" || return 1
  done
  # Real agents: up, and both Services in their service table (the agent
  # with KPR off lists the ClusterIPs too, it just does not serve them).
  for n in $(lab_nodes_in "$LAB_REAL_CILIUM_NODES"); do
    t=$(real_cilium_dbg "$n" service list) || return 1
    grep -q "$LAB_NM_NGINX_OVS_CLUSTERIP:" <<<"$t" && grep -q "$LAB_NM_NGINX_CLUSTERIP:" <<<"$t" || return 1
  done
  for n in $(kube_proxy_nodes); do
    case "$(kube_proxy_mode_of "$n")" in
    iptables) [ "$(in_node "$n" iptables-save -t nat | grep -c '^-A KUBE-NODEPORTS .*nm-nginx')" -ge 2 ] || return 1 ;;
    nftables)
      t=$(in_node "$n" nft list table ip kube-proxy) || return 1
      grep -q 'kube-system/nm-nginx/' <<<"$t" && grep -q 'kube-system/nm-nginx-ovs/' <<<"$t" || return 1
      ;;
    ipvs)
      t=$(in_node "$n" ip -o addr show kube-ipvs0) || return 1
      grep -q "$LAB_NM_NGINX_CLUSTERIP/" <<<"$t" && grep -q "$LAB_NM_NGINX_OVS_CLUSTERIP/" <<<"$t" || return 1
      ;;
    esac
  done
  # The real KPR agents' BPF datapath, not just their tables: a NodePort
  # reached from another node answers through tcx on their eth0 (what the
  # self-check probes; an agent started late, once its pod existed, may
  # still be loading its programs when its service table is full).
  for n in $(real_kpr_nodes); do
    [ "$(in_node node-bare curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$(ip_of "$n"):$LAB_NM_NGINX_OVS_NODEPORT/")" = 200 ] || return 1
  done
  [ -e "$LAB_DIR/run/node-stale.stale-ready" ]
}

# ------------------------------------------------------------------ check

# agent_pod NODE: the name of the node's live Cilium agent pod.
agent_pod() {
  kubectl_admin get pods -n kube-system -l k8s-app=cilium --field-selector "spec.nodeName=$1" \
    -o 'go-template={{range .items}}{{if not .metadata.deletionTimestamp}}{{.metadata.name}}{{"\n"}}{{end}}{{end}}' | tail -n 1
}
# agent_config NODE KEY: KEY of the node's real agent's config dir, read
# the way kpr reads it (kubectl exec -c cilium-agent ... cat, which runs in
# the agent's mount namespace).
agent_config() {
  local pod
  pod="$(agent_pod "$1")"
  [ -n "$pod" ] && kubectl_admin exec -n kube-system "$pod" -c cilium-agent -- cat "/tmp/cilium/config-map/$2" 2>/dev/null
}

# The per-node configuration's claims (lab/README.md, "Per-node
# configuration"); called by check (ok/bad are check's).
node_config_checks() {
  local n v pod t
  # The documented rollout: the CNC's keys in the config dir of the
  # labelled nodes' agents, config-sources naming it; no kube-proxy pod.
  for n in $(lab_nodes_in "$LAB_KPR_MIGRATED_NODES"); do
    v="$(agent_config "$n" config-sources || true)"
    [ "$(agent_config "$n" kube-proxy-replacement || true)" = true ] &&
      grep -q '"kind":"cilium-node-config","namespace":"kube-system","name":"kube-proxy-replacement"' <<<"$v" &&
      [ "$(agent_config "$n" kube-proxy-replacement-healthz-bind-address || true)" = 0.0.0.0:10256 ] &&
      ok "$n: agent config dir has kube-proxy-replacement=true and the healthz address from CNC kube-proxy-replacement (config-sources $v)" ||
      bad "$n: agent config dir lacks the CNC kube-proxy-replacement's keys (config-sources $v)"
    [ -z "$(kubectl_admin get pods -n kube-system -l k8s-app=kube-proxy --field-selector "spec.nodeName=$n" -o name)" ] &&
      ok "$n: no kube-proxy pod (labelled for KPR; kube-proxy's nodeAffinity)" || bad "$n: a kube-proxy pod runs there"
  done
  [ "$(kubectl_admin get daemonset -n kube-system kube-proxy -o 'jsonpath={.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key}')" = io.cilium.migration/kube-proxy-replacement ] &&
    ok "kube-proxy DaemonSet: nodeAffinity io.cilium.migration/kube-proxy-replacement NotIn [true]" || bad "kube-proxy DaemonSet: no migration nodeAffinity"
  # node-both: the healthz address from the node's annotation, where
  # kube-proxy listens on it: the agent logs the clash and runs on.
  if in_list node-both "$LAB_NODES"; then
    v="$(agent_config node-both config-sources || true)"
    [ "$(agent_config node-both kube-proxy-replacement-healthz-bind-address || true)" = 0.0.0.0:10256 ] &&
      grep -q '"kind":"node","namespace":"","name":"node-both"' <<<"$v" &&
      ok "node-both: healthz address 0.0.0.0:10256 from the node's annotation (config-sources $v)" ||
      bad "node-both: the node annotation's healthz address is not in the agent's config dir (config-sources $v)"
    pod="$(agent_pod node-both)"
    t="$(kubectl_admin logs -n kube-system "$pod" -c cilium-agent 2>/dev/null || true)"
    grep -q 'hint: kube-proxy should not be running nor listening on the same healthz-bind-address' <<<"$t" &&
      ok "node-both: the agent's log (kubectl logs) has the healthz clash hint" || bad "node-both: no healthz clash hint in the agent's log"
    in_node node-both ss -Hltnp 'sport = :10256' | grep -q '"kube-proxy"' &&
      ok "node-both: kube-proxy holds :10256" || bad "node-both: kube-proxy does not listen on :10256"
    kubectl_admin logs -n kube-system "$pod" -c config 2>/dev/null | grep -q 'Reading configuration from source' &&
      ok "node-both: kubectl logs -c config shows build-config's log" || bad "node-both: no build-config log through kubectl logs -c config"
  fi
  # node-kpr-off: a CNC created after its agent pod, so not in effect.
  if in_list node-kpr-off "$LAB_NODES"; then
    pod="$(agent_pod node-kpr-off)"
    t="$(kubectl_admin get pod -n kube-system "$pod" -o 'jsonpath={.metadata.creationTimestamp}')"
    v="$(kubectl_admin get ciliumnodeconfigs.v2alpha1.cilium.io -n kube-system node-kpr-off-sock -o 'jsonpath={.metadata.creationTimestamp}' 2>/dev/null || true)"
    [ -n "$v" ] && [[ "$v" > "$t" ]] &&
      ok "node-kpr-off: CNC node-kpr-off-sock ($v) is newer than its agent pod ($t)" || bad "node-kpr-off: CNC node-kpr-off-sock ($v) not newer than the agent pod ($t)"
    v="$(agent_config node-kpr-off config-sources || true)"
    ! grep -q node-kpr-off-sock <<<"$v" && [ "$(agent_config node-kpr-off bpf-lb-sock-hostns-only || true)" = true ] &&
      ok "node-kpr-off: the late CNC is not in the agent's config dir (config-sources $v)" || bad "node-kpr-off: the late CNC is in effect (config-sources $v)"
  fi
  # node-partial: a 1.12 agent from DaemonSet cilium-legacy, which never
  # reads the CNC that selects it.
  if in_list node-partial "$LAB_NODES"; then
    [ "$(kubectl_admin get pods -n kube-system -l k8s-app=cilium --field-selector spec.nodeName=node-partial -o 'jsonpath={.items[*].metadata.ownerReferences[0].name}')" = cilium-legacy ] &&
      kubectl_admin get ciliumnodeconfigs.v2.cilium.io -n kube-system node-partial-kpr >/dev/null 2>&1 &&
      ok "node-partial: agent pod from DaemonSet cilium-legacy (no build-config); CNC node-partial-kpr selects the node" ||
      bad "node-partial: agent pod not from cilium-legacy, or CNC node-partial-kpr missing"
  fi
}

# Probe the scenario from inside the nodes: the datapaths are real where
# they should be and absent where they should be. Loopback and lab
# addresses only.
HOSTPORT_CHECK_NS=kpr-lab-selfcheck HOSTPORT_CHECK_PORT=18080
hostport_check() {
  local n nodes rules i
  nodes="$( (lab_nodes_in "${LAB_PORTMAP_NODES:-}"; lab_nodes_in node-nftables) | sort -u)"
  {
    echo "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$HOSTPORT_CHECK_NS\"}}"
    for n in $nodes; do
      echo "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"hostport-$n\",\"namespace\":\"$HOSTPORT_CHECK_NS\"},\"spec\":{\"nodeName\":\"$n\",\"tolerations\":[{\"operator\":\"Exists\"}],\"containers\":[{\"name\":\"app\",\"image\":\"registry.k8s.io/e2e-test-images/agnhost:2.53\",\"ports\":[{\"containerPort\":8080,\"hostPort\":$HOSTPORT_CHECK_PORT}]}]}}"
    done
  } | kubectl_admin apply -f - >/dev/null
  for n in $nodes; do
    for i in $(seq 1 20); do
      rules="$(in_node "$n" iptables-save -t nat)"
      grep -q '^-A CNI-DN-.*DNAT' <<<"$rules" && break
      in_list "$n" "${LAB_PORTMAP_NODES:-}" || { sleep 3; break; }
      sleep 0.5
    done
    if in_list "$n" "${LAB_PORTMAP_NODES:-}"; then
      grep -q -- '-A PREROUTING .*-j CNI-HOSTPORT-DNAT' <<<"$rules" && grep -q '^-A CNI-DN-.*DNAT --to-destination' <<<"$rules" &&
        ok "$n: real portmap $CNI_PLUGINS_VERSION wrote CNI-HOSTPORT-DNAT and CNI-DN-* for a hostPort pod" || bad "$n: no portmap rules for a hostPort pod"
      [ "$(in_node node-bare curl -s --max-time 3 "http://$(ip_of "$n"):$HOSTPORT_CHECK_PORT/hostname" || true)" = "hostport-$n" ] &&
        ok "node-bare -> $n:$HOSTPORT_CHECK_PORT answers (hostPort through portmap)" || bad "hostPort on $n does not answer"
    else
      grep -q CNI-HOSTPORT <<<"$rules" && bad "$n: portmap chains on a node without portmap" || ok "$n: no portmap rules for a hostPort pod (no hostPort support)"
      in_node node-bare curl -s --max-time 2 "http://$(ip_of "$n"):$HOSTPORT_CHECK_PORT/" >/dev/null 2>&1 &&
        bad "hostPort on $n answers" || ok "node-bare -> $n:$HOSTPORT_CHECK_PORT refused (no hostPort support)"
    fi
  done
  kubectl_admin delete namespace "$HOSTPORT_CHECK_NS" --wait=true --timeout=60s >/dev/null
  for n in $(lab_nodes_in "${LAB_PORTMAP_NODES:-}"); do
    for i in $(seq 1 10); do
      in_node "$n" iptables-save -t nat | grep -q '^:CNI-DN-' || break
      sleep 0.5
    done
    in_node "$n" iptables-save -t nat | grep -q '^:CNI-DN-' && bad "$n: portmap DEL left CNI-DN-* behind" || ok "$n: portmap DEL removed the pod's CNI-DN-* chain"
  done
}

check() {
  local fail=0
  ok() { printf '[lab] check ok:   %s\n' "$1" >&2; }
  bad() {
    printf '[lab] check FAIL: %s\n' "$1" >&2
    fail=1
  }
  http() { in_node "$1" curl -s -o /dev/null -w '%{http_code}' --max-time "${3:-3}" "http://$2/"; }
  local c="$LAB_NM_NGINX_CLUSTERIP" o="$LAB_NM_NGINX_OVS_CLUSTERIP" n kpr mode
  kpr="$(kpr_nodes | tr '\n' ' ')"
  # Every node with a Service datapath: Cilium's (stand-in) or kube-proxy's.
  for n in $( (kpr_nodes; kube_proxy_nodes) | sort -u); do
    [ "$(http "$n" "$c:80")" = 200 ] && ok "$n: ClusterIP $c:80 answers" || bad "$n: ClusterIP $c:80 does not answer"
    # Where Cilium does Services, it serves 127.0.0.1 whatever kube-proxy does.
    mode=""
    in_list "$n" "$kpr" || mode="$(kube_proxy_mode_of "$n")"
    case "$mode" in
    nftables | ipvs)
      # By design: kube-proxy's nftables and ipvs modes serve no NodePorts on
      # 127.0.0.1 (only iptables mode does, with route_localnet).
      [ "$(http "$n" "127.0.0.1:$LAB_NM_NGINX_NODEPORT" 1 || true)" != 200 ] && ok "$n: NodePort 127.0.0.1:$LAB_NM_NGINX_NODEPORT does not answer (kube-proxy $mode mode, by design)" || bad "$n: NodePort on 127.0.0.1 answers"
      ;;
    *) [ "$(http "$n" "127.0.0.1:$LAB_NM_NGINX_NODEPORT")" = 200 ] && ok "$n: NodePort 127.0.0.1:$LAB_NM_NGINX_NODEPORT answers" || bad "$n: NodePort on 127.0.0.1 does not answer" ;;
    esac
    [ "$(http "$n" "$(ip_of "$n"):$LAB_NM_NGINX_OVS_NODEPORT")" = 200 ] && ok "$n: NodePort $(ip_of "$n"):$LAB_NM_NGINX_OVS_NODEPORT answers" || bad "$n: NodePort on the node IP does not answer"
  done
  # A NodePort reached from another node, backend on a third node.
  [ "$(http node-bare "$(ip_of node-cilium):$LAB_NM_NGINX_NODEPORT")" = 200 ] && ok "node-bare -> node-cilium:$LAB_NM_NGINX_NODEPORT answers (remote NodePort)" || bad "remote NodePort via node-cilium does not answer"
  [ "$(http node-cilium "$(ip_of node-iptables):$LAB_NM_NGINX_OVS_NODEPORT")" = 200 ] && ok "node-cilium -> node-iptables:$LAB_NM_NGINX_OVS_NODEPORT answers (remote NodePort)" || bad "remote NodePort via node-iptables does not answer"
  # The real agents' eBPF, with no NAT rule of the lab's own on their
  # nodes: a NodePort reached from another node (tcx on the node's eth0)
  # and, above, ClusterIP and NodePorts from the node itself (socket-LB).
  for n in $(real_kpr_nodes); do
    [ "$(http node-bare "$(ip_of "$n"):$LAB_NM_NGINX_OVS_NODEPORT")" = 200 ] &&
      ok "node-bare -> $n:$LAB_NM_NGINX_OVS_NODEPORT answers (remote NodePort, real Cilium $(var_of LAB_CILIUM_RELEASE_ "$n") tcx)" ||
      bad "remote NodePort via $n (real agent) does not answer"
  done
  for n in $(lab_nodes_in "$LAB_REAL_CILIUM_NODES"); do
    rules="$(in_node "$n" nft list tables)"
    grep -q kpr-lab <<<"$rules" && bad "$n: a lab nft table on a real-agent node ($rules)" || ok "$n: no nft table of the lab's own (real agent)"
    rules="$(in_node "$n" iptables-save -t nat)"
    if [ -z "$(kube_proxy_mode_of "$n" || true)" ]; then
      grep -q -- '-j DNAT' <<<"$rules" && bad "$n: a DNAT rule on a node without kube-proxy" || ok "$n: no DNAT rule in iptables (real agent, no kube-proxy)"
    fi
    real_cilium_dbg "$n" status --brief >/dev/null 2>&1 && ok "$n: real Cilium $(var_of LAB_CILIUM_RELEASE_ "$n") agent answers through its container's cilium-dbg" ||
      bad "$n: the real agent's cilium-dbg does not answer"
  done
  # No Service datapath: node-bare (nothing) and node-kpr-off (an agent
  # without KPR, no kube-proxy).
  local code
  for n in node-bare node-kpr-off; do
    code="$(http "$n" "$o:80" 1 || true)"
    [ "$code" = 000 ] && ok "$n: ClusterIP $o:80 hangs (no service handling)" || bad "$n: ClusterIP answered ($code)"
    if in_node "$n" curl -s --max-time 2 "http://$(ip_of "$n"):$LAB_NM_NGINX_NODEPORT/" >/dev/null 2>&1; then
      bad "$n: NodePort answered"
    else ok "$n: NodePort refused"; fi
  done
  # Capture first: `cmd | grep -q` fails under pipefail when grep exits early.
  local rules
  rules="$(in_node node-cilium iptables-save)"
  grep -q KUBE-SVC <<<"$rules" && bad "node-cilium: KUBE-SVC rules present" || ok "node-cilium: no KUBE-SVC rules"
  rules="$(in_node node-stale iptables-save)"
  grep -q '^-A KUBE-SVC-' <<<"$rules" && ok "node-stale: leftover KUBE-SVC rules present" || bad "node-stale: no leftover KUBE-SVC rules"
  grep -q '^-A KUBE-NODEPORTS' <<<"$rules" && ok "node-stale: leftover KUBE-NODEPORTS present" || bad "node-stale: no leftover KUBE-NODEPORTS"
  # Every Cilium node has the chains a Cilium agent installs.
  for n in $(lab_nodes_in "$LAB_CILIUM_NODES"); do
    rules="$(in_node "$n" iptables-save)"
    grep -q '^-A CILIUM_' <<<"$rules" && grep -q 'cilium-feeder: CILIUM_' <<<"$rules" &&
      ok "$n: Cilium's iptables chains present" || bad "$n: no Cilium iptables chains"
  done
  local want
  for n in $(kube_proxy_nodes); do
    want="$(kube_proxy_mode_of "$n")"
    [ "$(in_node "$n" curl -s --max-time 2 127.0.0.1:10249/proxyMode)" = "$want" ] && ok "$n: kube-proxy reports proxyMode $want" || bad "$n: kube-proxy proxyMode is not $want"
  done
  # hostPort: the real portmap plugin's chains on LAB_PORTMAP_NODES only
  # (the pod bodies call it when a pod with a hostPort runs there).
  for n in $( (kube_proxy_nodes; lab_nodes_in "$LAB_REAL_CILIUM_NODES") | sort -u); do
    rules="$(in_node "$n" iptables-save -t nat)"
    if in_list "$n" "${LAB_PORTMAP_NODES:-}"; then
      [ -x "$CACHE/cni/$CNI_PLUGINS_VERSION/portmap" ] && grep -q "hostPorts through the portmap CNI plugin" "$LAB_DIR/logs/$n-pods.log" &&
        ok "$n: pod bodies call the portmap CNI plugin $CNI_PLUGINS_VERSION" || bad "$n: pod bodies without portmap"
    else
      grep -q CNI-HOSTPORT <<<"$rules" && bad "$n: portmap chains on a node without portmap" || ok "$n: no portmap (CNI-HOSTPORT) chains"
    fi
  done
  # A hostPort round trip: one pod with hostPort on each portmap node and
  # on node-nftables (no portmap, no hostPort support), in a throwaway
  # namespace; portmap's CNI-HOSTPORT-DNAT and CNI-DN-* appear, the
  # hostPort answers from node-bare, and DEL removes the CNI-DN-* chain.
  hostport_check
  # Secondary addresses (LAB_SECONDARY_IP_<node>).
  local sec
  for n in $LAB_NODES; do
    sec="$(secondary_ip_of "$n")"
    [ -n "$sec" ] || continue
    in_node "$n" ip -4 -o addr show dev eth0 | grep -q " $sec/$LAB_PREFIX_LEN .*secondary" &&
      ok "$n: secondary address $sec on eth0" || bad "$n: secondary address $sec missing"
  done
  node_config_checks
  [ "$(kubectl_admin get node node-notready -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" != True ] &&
    ok "node-notready: not Ready" || bad "node-notready: Ready"
  [ "$(kubectl_admin get pods -n kube-system -l k8s-app=cilium --field-selector spec.nodeName=node-agent-unready \
    -o 'jsonpath={.items[*].status.phase}/{.items[*].status.conditions[?(@.type=="Ready")].status}')" = Running/False ] &&
    ok "node-agent-unready: Cilium agent pod Running, not Ready" || bad "node-agent-unready: agent pod is not Running/unready"
  return $fail
}

# ------------------------------------------------------------ global state

# The lab changes nothing global: across lab-up and lab-down the machine's
# sysctls, its root mount table, its links and net.ipv4.ip_forward stay
# identical (the real agents would otherwise set two kernel sysctls,
# lab/cilium-agent.sh). global_state FILE writes what is compared; the
# kernel's own counters (dentries, inodes, open files, the last PID, a
# random UUID) change by themselves and are left out.
GLOBAL_COUNTERS='^(fs\.(dentry-state|file-nr|inode-nr|inode-state|aio-nr)|kernel\.(ns_last_pid|random\.(uuid|boot_id|entropy_avail)|pty\.nr)|net\.netfilter\.nf_conntrack_count) '
global_state() { # FILE
  {
    echo "## sysctl -a (counters left out)"
    sysctl -a 2>/dev/null | grep -Ev "$GLOBAL_COUNTERS" || true
    echo "## net.ipv4.ip_forward"
    cat /proc/sys/net/ipv4/ip_forward
    echo "## root mount table (mount point, type, source)"
    awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { print $5, $(i + 1), $(i + 2); break } }' /proc/self/mountinfo | sort
    echo "## links"
    ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort
  } >"$1"
}
# global_unchanged WHEN [up]: compare with the snapshot lab-up took before
# it set anything up. While the lab is up, its own documented host objects
# (the bridge and veths with their per-interface sysctls, the /run/netns
# mounts, bridge-nf-call-iptables) are left out of the comparison; after
# lab-down nothing is.
global_unchanged() {
  local before="$LAB_DIR/global-state.before" now mode="${2:-}"
  [ -f "$before" ] || return 0
  now="$(mktemp)"
  global_state "$now"
  lab_own() {
    if [ "$mode" = up ]; then
      grep -Ev "^($LAB_BRIDGE|kpr-[a-z-]*|/run/netns/${LAB_NETNS_PREFIX}.* .*|net\.bridge\.bridge-nf-call-iptables .*|net\.ipv[46]\.(conf|neigh)\.($LAB_BRIDGE|kpr-[^.]*)\..*)\$" "$1" || true
    else cat "$1"; fi
  }
  if ! diff <(lab_own "$before") <(lab_own "$now") >"$now.diff"; then
    printf '[lab] global state changed %s (< before lab-up, > now):\n' "$1" >&2
    head -n 40 "$now.diff" >&2
    rm -f "$now" "$now.diff"
    return 1
  fi
  rm -f "$now" "$now.diff"
}

# ------------------------------------------------------------------- down

# Our processes: those named in pid files, plus anything still running a
# binary from the lab's cache with this lab's files on its command line, or
# a binary from .lab/bin. There is one lab per machine (bridge, namespaces
# and ports are global), so a lab started from another checkout (its files
# are under that checkout's .lab/) counts as ours too. Other users of the
# cached binaries (the scale bench runs its own control plane from them,
# with its files elsewhere) are not ours: never touch them.
lab_pids() {
  local pid exe
  # Only if that pid still runs one of ours (pids get reused).
  recorded_pids "$LAB_DIR" "$BIN" "$here/"
  # One find over /proc rather than a readlink per process.
  while read -r exe; do
    pid="${exe#/proc/}"
    pid="${pid%/exe}"
    case "$(readlink "$exe" 2>/dev/null)" in
    "$LAB_DIR"/bin/*) echo "$pid" ;;
    *) { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -F -e "$LAB_DIR/" -e "/.lab/" >/dev/null && echo "$pid" ;;
    esac
  done < <(find /proc -mindepth 2 -maxdepth 2 -name exe \( -lname "$BIN/*" -o -lname "$LAB_DIR/bin/*" \) 2>/dev/null)
  return 0
}

down() {
  local ns pid
  # Killing a node's PID 1 ends everything in that PID namespace (kwok,
  # kube-proxy, stand-ins, exec'd commands).
  for ns in $(netns_list "$LAB_NETNS_PREFIX"); do
    for pid in $(netns_pids "$ns"); do kill -9 "$pid" 2>/dev/null || true; done
  done
  local pids alive
  pids="$(lab_pids | sort -u)"
  # SIGKILL straight away: everything the lab keeps is thrown away anyway,
  # and a graceful kube-apiserver shutdown takes seconds.
  for pid in $pids; do kill -9 "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    alive=""
    for pid in $pids; do [ -d "/proc/$pid" ] && alive+=" $pid"; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for pid in $pids; do kill -9 "$pid" 2>/dev/null || true; done
  for ns in $(netns_list "$LAB_NETNS_PREFIX"); do netns_delete "$ns" 2>/dev/null || true; done
  ip link del "$LAB_BRIDGE" 2>/dev/null || true
  for n in $LAB_ALL_NODES; do ip link del "$(veth_of "$n")" 2>/dev/null || true; done
  # The real-agent nodes' cgroups (empty once their processes are gone; the
  # agents' socket-LB programs go with them).
  local cg
  for cg in "$(cgroup2_root)/${LAB_NETNS_PREFIX}"*; do
    [ -d "$cg" ] || continue
    for _ in $(seq 1 30); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
  done
  if [ -f "$LAB_DIR/state/bridge-nf-call-iptables" ] && [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
    cat "$LAB_DIR/state/bridge-nf-call-iptables" >/proc/sys/net/bridge/bridge-nf-call-iptables
  fi
  if [ -f "$LAB_DIR/state/created-host-dir" ]; then
    rmdir /host 2>/dev/null || true
  fi
  rm -rf "$LAB_DIR/etcd" "$LAB_DIR/run" "$LAB_DIR/state" "$LAB_DIR/internal" "$LAB_DIR/pki" \
    "$LAB_DIR/kubeconfig" "$LAB_DIR"/kubeconfig-* "$LAB_DIR/skipped-nodes"
}

# is_clean: nothing of the lab left. Prints what is left, exit 1 if any.
is_clean() {
  local left=0
  if [ -n "$(netns_list "$LAB_NETNS_PREFIX")" ]; then
    echo "network namespaces left: $(netns_list "$LAB_NETNS_PREFIX" | tr '\n' ' ')"
    left=1
  fi
  if ip link show "$LAB_BRIDGE" >/dev/null 2>&1; then
    echo "bridge left: $LAB_BRIDGE"
    left=1
  fi
  if grep -q '^kpr-' <<<"$(ip -o link show | awk -F': ' '{print $2}')"; then
    echo "veths left: $(ip -o link show | awk -F': ' '{print $2}' | grep '^kpr-' | tr '\n' ' ')"
    left=1
  fi
  local pids
  pids="$(lab_pids | sort -u | tr '\n' ' ')"
  if [ -n "${pids// /}" ]; then
    echo "processes left: $pids"
    left=1
  fi
  if grep -E "/run/netns/${LAB_NETNS_PREFIX}| /host( |/)" /proc/self/mountinfo >/dev/null 2>&1; then
    echo "mounts left: $(grep -E "/run/netns/${LAB_NETNS_PREFIX}| /host( |/)" /proc/self/mountinfo | awk '{print $5}' | tr '\n' ' ')"
    left=1
  fi
  if compgen -G "$(cgroup2_root)/${LAB_NETNS_PREFIX}*" >/dev/null; then
    echo "cgroups left: $(compgen -G "$(cgroup2_root)/${LAB_NETNS_PREFIX}*" | tr '\n' ' ')"
    left=1
  fi
  if [ -d "$LAB_DIR/run" ] || [ -d "$LAB_DIR/etcd" ]; then
    echo "state left: $LAB_DIR/run or $LAB_DIR/etcd"
    left=1
  fi
  return $left
}

# rss: the lab's memory (control plane and everything in the node
# namespaces), in MiB: PSS (each shared page counted once, split among its
# users: what the lab really takes) and the plain sum of RSS (counts the
# text of a binary once per process: ten kwoks map the same 70 MB).
rss() {
  local pids ns
  pids="$(lab_pids)"
  for ns in $(netns_list "$LAB_NETNS_PREFIX"); do
    pids+=" $(netns_pids "$ns" | tr '\n' ' ')"
  done
  local rss=0 pss=0 pid kb
  for pid in $(tr ' ' '\n' <<<"$pids" | grep -E '^[0-9]+$' | sort -u); do
    kb="$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
    rss=$((rss + ${kb:-0}))
    kb="$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || true)"
    pss=$((pss + ${kb:-0}))
  done
  echo "PSS $((pss / 1024)) MiB, RSS sum $((rss / 1024)) MiB"
}

# --------------------------------------------------------------------- up

up() {
  local t0=$SECONDS
  need_root lab-up
  load_ipvs
  ensure_packages
  preflight lab-up
  build
  log "removing anything a previous run left"
  down
  mkdir -p "$LAB_DIR"/{logs,run,state,internal,pki}
  rm -f "$LAB_DIR"/logs/*.log
  global_state "$LAB_DIR/global-state.before"
  if [ -n "${IPVS_MISSING:-}" ]; then
    log "leaving node-ipvs out: $IPVS_MISSING (e2e tests skip it, unit tests cover ipvs)"
    printf 'node-ipvs\t%s\n' "$IPVS_MISSING" >"$LAB_DIR/skipped-nodes"
  fi
  pki
  # tokens.csv: token,user,uid,"groups". The restricted users have no
  # bindings here; deploy/rbac.yaml's ClusterRoles are bound by tests.
  tokens kpr-admin=system:masters system:kube-proxy kpr-reader kpr-inspector nobody
  kubeconfigs
  kwok_execs
  net_up
  log "starting etcd and the control plane"
  control_plane
  log "creating nodes and the scenario's objects"
  nodes | kubectl_admin create -f - >/dev/null
  cilium_crds
  for m in cilium kube-proxy node-config backends; do
    render "$here/manifests/$m.yaml" | kubectl_admin apply -f - >/dev/null
  done
  log "starting the nodes (kwok in per-node network/PID/mount namespaces)"
  start_nodes
  wait_for "$(wc -w <<<"$LAB_KWOK_NODES") Ready nodes" 90 nodes_ready
  log "nodes Ready"
  wait_for "kube-system pods Running" 120 all_pods_running
  wait_for "EndpointSlices of nm-nginx and nm-nginx-ovs" 60 endpoints_ready
  log "pods Running, EndpointSlices filled"
  wait_for "datapaths (stand-in table, kube-proxy rules, stale rules)" 120 datapaths_ready
  # The CiliumNodeConfig that is not in effect: created after
  # node-kpr-off's agent started (its pod is not re-created).
  if in_list node-kpr-off "$LAB_NODES"; then
    render "$here/manifests/node-config-late.yaml" | kubectl_admin apply -f - >/dev/null
  fi
  log "datapaths programmed; self-check"
  check || die "the lab is up but its self-check failed (logs: $LAB_DIR/logs)"
  global_unchanged "while the lab is up" up || die "the lab changed the machine's global state (see above)"
  log "Cilium on the nodes:"
  for n in $(lab_nodes_in "$LAB_CILIUM_NODES"); do
    if is_real_cilium_node "$n"; then
      log "  $n: Cilium $(var_of LAB_CILIUM_RELEASE_ "$n" "$LAB_CILIUM_VERSION"), REAL agent (built from source), kube-proxy-replacement $(var_of LAB_CILIUM_KPR_ "$n" true)"
    else
      log "  $n: Cilium $(var_of LAB_CILIUM_RELEASE_ "$n" "$LAB_CILIUM_VERSION"), stand-in (lab/standin), KPR reported as $(var_of LAB_CILIUM_KPR_ "$n" full)"
    fi
  done
  log "lab up in $((SECONDS - t0))s"
  echo "export KUBECONFIG=$LAB_DIR/kubeconfig"
}

# One lab per machine: serialise up/down of concurrent callers.
case "${1:-}" in
up | down)
  need_root "lab-$1"
  exec 9>/run/kpr-lab.lock
  flock 9
  ;;
esac

case "${1:-}" in
up) up ;;
down)
  need_root lab-down
  down
  is_clean >&2 || die "lab-down left things behind"
  global_unchanged "across lab-up and lab-down" || die "lab-down did not leave the machine as lab-up found it"
  rm -f "$LAB_DIR/global-state.before"
  log "lab down"
  ;;
check) check ;;
preflight)
  need_root "${2:-lab-up}"
  ensure_packages
  preflight "${2:-lab-up}"
  ;;
restart-apiserver)
  # Stop the API server (SIGKILL: as a crash), wait, start it again.
  need_root lab-restart-apiserver
  kill -9 "$(cat "$LAB_DIR/run/kube-apiserver.pid")" 2>/dev/null || true
  sleep "${2:-2}"
  start_apiserver
  log "kube-apiserver restarted"
  ;;
rss) rss ;;
is-clean) is_clean ;;
build) build ;;
*)
  echo "usage: $0 up|down|check|preflight|restart-apiserver [SECONDS-DOWN]|is-clean|rss|build" >&2
  exit 2
  ;;
esac
