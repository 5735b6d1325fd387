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

log() { printf '[scale-lab] %s\n' "$*" >&2; }
die() {
  printf '[scale-lab] error: %s\n' "$*" >&2
  exit 1
}
need_root() { [ "$(id -u)" = 0 ] || die "the scale lab needs root (a network namespace): run it as root"; }
in_ns() { ip netns exec "$NS" "$@"; }

# start NAME CMD...: a process inside the namespace, in its own session.
start() {
  local name="$1"
  shift
  setsid ip netns exec "$NS" "$@" >>"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/run/$name.pid"
}

wait_for() { # what timeout-seconds command...
  local what="$1" t="$2"
  shift 2
  local deadline=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "timed out after ${t}s waiting for $what (logs: $DIR/logs)"
    sleep 0.3
  done
}

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

pki() {
  local d="$DIR/pki"
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -keyout ca.key -out ca.crt -subj "/CN=kpr-bench-ca" 2>/dev/null
    cert() { # name cn san
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
      printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    cert apiserver kube-apiserver "IP:127.0.0.1,IP:$ADVERTISE,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:localhost"
    cert kwok kwok "IP:127.0.0.1"
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    # The benchmark's clients (bench-admin, audited) and the lab's own
    # components (not audited), both cluster admins.
    : >tokens.csv
    chmod 600 tokens.csv
    for u in bench-admin bench-components; do
      openssl rand -hex 24 >"token-$u"
      printf '%s,%s,uid-%s,"system:masters"\n' "$(cat "token-$u")" "$u" "$u" >>tokens.csv
    done
  )
  for u in bench-admin bench-components; do
    local f="$DIR/kubeconfig-$u"
    "$BIN/kubectl" config --kubeconfig "$f" set-cluster bench --server "$API" --certificate-authority "$DIR/pki/ca.crt" --embed-certs >/dev/null
    "$BIN/kubectl" config --kubeconfig "$f" set-credentials "$u" --token "$(cat "$DIR/pki/token-$u")" >/dev/null
    "$BIN/kubectl" config --kubeconfig "$f" set-context bench --cluster bench --user "$u" >/dev/null
    "$BIN/kubectl" config --kubeconfig "$f" use-context bench >/dev/null
    chmod 600 "$f"
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
  need_root
  down_quiet
  build
  mkdir -p "$DIR"/{logs,run,data}
  pki
  kwok_config
  local version
  version="$("$DIR/bin/benchctl" fixtures -testdata "$repo/pkg/interpret/cilium/testdata" -out "$DIR/data" -services "$SERVICES" -apiserver "$ADVERTISE:6443")"
  log "agents answer with Cilium $version outputs (pkg/interpret/cilium/testdata/v$version)"

  ip netns add "$NS"
  touch "$DIR/run/netns"
  in_ns ip link set lo up
  in_ns ip addr add "$ADVERTISE/32" dev lo

  start etcd "$BIN/etcd" --name bench --data-dir "$DIR/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster bench=http://127.0.0.1:2380 \
    --unsafe-no-fsync --quota-backend-bytes 4294967296 --log-level warn
  wait_for etcd 30 in_ns curl -sf http://127.0.0.1:2379/health

  local p="$DIR/pki"
  start kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers http://127.0.0.1:2379 \
    --bind-address 0.0.0.0 --advertise-address "$ADVERTISE" --secure-port 6443 \
    --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" \
    --client-ca-file "$p/ca.crt" --token-auth-file "$p/tokens.csv" \
    --authorization-mode Node,RBAC \
    --service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range 10.96.0.0/12 \
    --allow-privileged=true \
    --kubelet-preferred-address-types InternalIP \
    --max-requests-inflight 1000 --max-mutating-requests-inflight 500 \
    --audit-policy-file "$DIR/audit-policy.yaml" --audit-log-path "$DIR/audit.log" \
    --audit-log-format json --audit-log-mode blocking \
    --cert-dir "$p/apiserver-generated" --profiling=false
  wait_for kube-apiserver 90 in_ns curl -sf --cacert "$p/ca.crt" \
    -H "Authorization: Bearer $(cat "$p/token-bench-components")" "$API/readyz"

  local kc="$DIR/kubeconfig-bench-components"
  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$kc" --controllers '*,-nodeipam' --use-service-account-credentials=false --leader-elect=false \
    --service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" \
    --service-cluster-ip-range 10.96.0.0/12 --node-monitor-grace-period 120s \
    --kube-api-qps 500 --kube-api-burst 1000 --concurrent-daemonset-syncs 4 \
    --bind-address 127.0.0.1 --secure-port 0
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
  start kube-scheduler "$BIN/kube-scheduler" --config "$DIR/scheduler.yaml" --bind-address 127.0.0.1 --secure-port 0
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

# pids of everything the scale lab started: the recorded ones and anything
# else living in its network namespace (kwok's children).
lab_pids() {
  cat "$DIR"/run/*.pid 2>/dev/null || true
  ip netns pids "$NS" 2>/dev/null || true
}

down_quiet() {
  local pids
  pids="$(lab_pids | sort -u)"
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
  if ip netns list 2>/dev/null | grep -w "$NS" >/dev/null; then
    ip netns del "$NS"
  fi
  rm -rf "$DIR"
}

is_clean() {
  local dirty=0
  ip netns list 2>/dev/null | grep -w "$NS" >/dev/null && {
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
  need_root
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
