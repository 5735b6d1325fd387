#!/usr/bin/env bash
# The scale lab: the test lab's control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, built by lab/build/build.sh) plus
# ONE kwok process managing N nodes, a `cilium` DaemonSet on all of them, a
# kube-proxy DaemonSet on every 10th, cilium-config, and 300 Services.
# Everything (API server, kwok, every command kwok execs, and the benchmark
# clients) runs inside one network namespace, kpr-bench, that has only a
# loopback interface: nothing can leave it.
#
#   bench/scale-lab.sh up N     start (after removing any leftovers) and wait for N agents
#   bench/scale-lab.sh down     stop everything, delete the namespace and the state
#   bench/scale-lab.sh is-clean exit 0 when nothing of the scale lab is left
#   bench/scale-lab.sh exec CMD run CMD inside the namespace with KUBECONFIG set
#
# What is real: the control plane, the scheduler, the DaemonSet controller,
# exec through the API server to kwok's kubelet endpoint. What is a
# stand-in: the nodes (kwok) and the agents' `cilium-dbg`, which prints
# outputs rendered by a real Cilium release's code (bench/standin).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
# shellcheck source=../lab/build/versions.env
. "$repo/lab/build/versions.env"
CACHE="${KPR_LAB_CACHE:-$HOME/.cache/kubectl-kpr/lab/$KUBE_VERSION}"
BIN="$CACHE/bin"
DIR="${KPR_BENCH_DIR:-/tmp/kpr-bench}"
NS=kpr-bench
API=https://127.0.0.1:6443
# The API server's advertised address: the `kubernetes` Service's endpoint
# must not be a loopback one, so the namespace's lo gets one more address
# (still lo, still inside the namespace).
ADVERTISE=10.255.255.1
SERVICES="${KPR_BENCH_SERVICES:-300}"

# The PKI, the control plane, daemons and namespaces, shared with the test
# lab: lab/lib/controlplane.sh. Here every daemon runs inside $NS (start,
# wait_for and in_ns run their commands there).
# shellcheck source=../lab/lib/controlplane.sh
. "$repo/lab/lib/controlplane.sh"
CP_TAG=scale-lab CP_ELAPSED=false CP_DIR="$DIR" CP_BIN="$BIN" CP_NETNS="$NS" CP_API="$API"
CP_CLUSTER=bench CP_CERT_DAYS=2 CP_READY_USER=bench-components
CP_ETCD_CLIENT_PORT=2379 CP_ETCD_PEER_PORT=2380
CP_APISERVER_BIND=0.0.0.0 CP_APISERVER_ADVERTISE="$ADVERTISE" CP_APISERVER_PORT=6443
CP_SERVICE_CIDR=10.96.0.0/12 CP_NODEPORT_RANGE=""
ROOT_WHY="the scale lab needs root (a network namespace): run it as root"

build() {
  "$repo/lab/build/build.sh"
  mkdir -p "$DIR/bin/path"
  log "building bench/ (floor, stand-in, benchctl)"
  (cd "$here" && CGO_ENABLED=0 go build -trimpath -o "$DIR/bin/" ./floor ./standin ./benchctl)
  # kwok finds exec'd commands on its own PATH.
  ln -sf ../standin "$DIR/bin/path/cilium-dbg"
  ln -sf ../standin "$DIR/bin/path/cilium"
  # The node tools of kpr's debug pods (bench/standin/nodetools.go).
  mkdir -p "$DIR/bin/nodetools"
  for t in iptables-nft-save ip6tables-nft-save iptables-legacy-save ip6tables-legacy-save \
    iptables-save ip6tables-save nft ipset ip nsenter chroot ipvsadm curl; do
    ln -sf ../standin "$DIR/bin/nodetools/$t"
  done
}

# The PKI (lab/lib/controlplane.sh), the kubeconfigs and the audit policy.
credentials() {
  pki_ca kpr-bench-ca
  pki_cert apiserver kube-apiserver "IP:127.0.0.1,IP:$ADVERTISE,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:localhost"
  pki_cert kwok kwok "IP:127.0.0.1"
  pki_sa
  # The benchmark's clients (bench-admin, audited) and the lab's own
  # components (not audited), both cluster admins.
  tokens bench-admin=system:masters bench-components=system:masters
  for u in bench-admin bench-components; do
    kubeconfig "$DIR/kubeconfig-$u" "bench:$u"
  done
  ln -sf kubeconfig-bench-admin "$DIR/kubeconfig"
  # One ResponseComplete line per request of the benchmark's clients: the
  # harness counts them by user agent.
  cat >"$DIR/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
- level: Metadata
  users: [bench-admin]
- level: None
EOF
}

kwok_config() {
  local f="$DIR/kwok.yaml"
  : >"$f"
  for s in "$CACHE"/kwok-stages/*.yaml; do
    cat "$s" >>"$f"
    printf '\n---\n' >>"$f"
  done
  # Agents in namespace cilium-hang get KPR_BENCH_HANG_GROUP=1: they hang
  # while $DIR/data/hang exists (the hang run). The first matching
  # ClusterExec wins, so the narrower one comes first.
  cat >>"$f" <<EOF
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: kpr-nodes
spec:
  selector:
    matchNamespaces: [kpr-nodes]
  execs:
  - local:
      envs:
      - {name: PATH, value: "$DIR/bin/nodetools:/usr/bin:/bin"}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: cilium-hang
spec:
  selector:
    matchNamespaces: [cilium-hang]
  execs:
  - local:
      envs:
      - {name: KPR_BENCH_DATA, value: "$DIR/data"}
      - {name: KPR_BENCH_HANG_GROUP, value: "1"}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: cilium
spec:
  execs:
  - local:
      envs:
      - {name: KPR_BENCH_DATA, value: "$DIR/data"}
EOF
}

up() {
  local n="$1"
  require_root "$ROOT_WHY"
  down_quiet
  build
  mkdir -p "$DIR"/{logs,run,data}
  credentials
  kwok_config
  local version
  version="$("$DIR/bin/benchctl" fixtures -testdata "$repo/pkg/interpret/cilium/testdata" -out "$DIR/data" -services "$SERVICES" -apiserver "$ADVERTISE:6443")"
  log "agents answer with Cilium $version outputs (pkg/interpret/cilium/testdata/v$version)"

  netns_new "$NS"
  touch "$DIR/run/netns"
  in_ns ip addr add "$ADVERTISE/32" dev lo

  start_etcd bench --quota-backend-bytes 4294967296
  start_apiserver \
    --max-requests-inflight 1000 --max-mutating-requests-inflight 500 \
    --audit-policy-file "$DIR/audit-policy.yaml" --audit-log-path "$DIR/audit.log" \
    --audit-log-format json --audit-log-mode blocking
  local kc="$DIR/kubeconfig-bench-components" p="$DIR/pki"
  start_controller_manager "$kc" \
    --kube-api-qps 500 --kube-api-burst 1000 --concurrent-daemonset-syncs 4
  cat >"$DIR/scheduler.yaml" <<EOF
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $kc
  qps: 500
  burst: 1000
leaderElection:
  leaderElect: false
EOF
  start_scheduler --config "$DIR/scheduler.yaml"
  start kwok env PATH="$DIR/bin/path:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    "$BIN/kwok" --kubeconfig "$kc" --manage-all-nodes \
    --server-address 127.0.0.1:10250 --node-ip 127.0.0.1 --node-port 10250 \
    --tls-cert-file "$p/kwok.crt" --tls-private-key-file "$p/kwok.key" \
    -c "$DIR/kwok.yaml"

  local t0=$SECONDS
  in_ns "$DIR/bin/benchctl" setup -kubeconfig "$kc" -nodes "$n" -services "$SERVICES" \
    -cilium-image "quay.io/cilium/cilium:v$version" -timeout 10m
  log "scale lab up with $n nodes in $((SECONDS - t0)) s; kubeconfig $DIR/kubeconfig (use: $0 exec CMD)"
}

# pids of everything the scale lab started: the recorded ones still running
# something of its own and anything else living in its network namespace
# (kwok's children).
scale_lab_pids() {
  recorded_pids "$DIR" "$BIN"
  netns_pids "$NS"
}

down_quiet() {
  local pids
  pids="$(scale_lab_pids | sort -u)"
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 50); do
      # shellcheck disable=SC2086
      kill -0 $pids 2>/dev/null || break
      sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
  fi
  if netns_exists "$NS"; then
    netns_delete "$NS"
  fi
  rm -rf "$DIR"
}

is_clean() {
  local dirty=0
  netns_exists "$NS" && {
    log "namespace $NS still exists"
    dirty=1
  }
  [ -e "$DIR" ] && {
    log "$DIR still exists"
    dirty=1
  }
  grep -q "/run/netns/$NS" /proc/mounts && {
    log "a mount of /run/netns/$NS is left"
    dirty=1
  }
  return $dirty
}

case "${1:-}" in
up)
  [ $# -eq 2 ] || die "usage: $0 up N"
  up "$2"
  ;;
down)
  require_root "$ROOT_WHY"
  down_quiet
  is_clean || die "scale-lab down left things behind"
  log "scale lab down"
  ;;
is-clean) is_clean ;;
exec)
  shift
  KUBECONFIG="$DIR/kubeconfig" exec ip netns exec "$NS" "$@"
  ;;
*)
  echo "usage: $0 up N|down|is-clean|exec CMD..." >&2
  exit 2
  ;;
esac
