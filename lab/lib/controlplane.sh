# shellcheck shell=bash
# What the lab (lab/lab.sh) and the scale lab (bench/scale-lab.sh) share:
# their log lines, the root check, the PKI (CA, certificates, the
# service-account key, static tokens, kubeconfigs), starting daemons and
# waiting for them, the control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler) and network namespace helpers.
# Sourced by both; defines functions only and changes nothing by itself.
#
# The sourcing script sets, before it calls any of them:
#   CP_TAG        log prefix: "[CP_TAG] ..."
#   CP_ELAPSED    true: log lines carry the seconds since start ($SECONDS)
#   CP_DIR        state directory: logs/NAME.log, run/NAME.pid, pki/, etcd/
#   CP_BIN        the binaries (lab/build/build.sh's cache)
#   CP_NETNS      network namespace the daemons run in (and are waited for
#                 from); empty: the host's namespaces
#   CP_API        the API server's URL, as clients reach it
#   CP_CLUSTER    the cluster's name in kubeconfigs
#   CP_CERT_DAYS  how long the CA and the certificates are valid
#   CP_ETCD_CLIENT_PORT, CP_ETCD_PEER_PORT   etcd, on 127.0.0.1
#   CP_APISERVER_BIND, CP_APISERVER_ADVERTISE, CP_APISERVER_PORT
#   CP_SERVICE_CIDR
#   CP_NODEPORT_RANGE  --service-node-port-range; empty: the default
#   CP_READY_USER  whose token (CP_DIR/pki/token-USER) asks for /readyz
# shellcheck disable=SC2154 # the CP_* settings come from the sourcing script

# ----------------------------------------------------------------- output

log() {
  if [ "${CP_ELAPSED:-false}" = true ]; then
    printf '[%s] %3ss %s\n' "$CP_TAG" "$SECONDS" "$*" >&2
  else
    printf '[%s] %s\n' "$CP_TAG" "$*" >&2
  fi
}
die() {
  printf '[%s] error: %s\n' "$CP_TAG" "$*" >&2
  exit 1
}

# require_root WHY: die with WHY unless running as root.
require_root() { [ "$(id -u)" = 0 ] || die "$1"; }

# -------------------------------------------------------------------- pki

# pki_ca CN: a fresh CA (CP_DIR/pki/ca.crt, ca.key).
pki_ca() {
  mkdir -p "$CP_DIR/pki"
  (
    cd "$CP_DIR/pki" || exit
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$CP_CERT_DAYS" \
      -keyout ca.key -out ca.crt -subj "/CN=$1" 2>/dev/null
  )
}

# pki_cert NAME CN SAN: NAME.crt and NAME.key in CP_DIR/pki, signed by the
# CA, for servers and clients.
pki_cert() {
  (
    cd "$CP_DIR/pki" || exit
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$CP_CERT_DAYS" \
      -extfile "$1.ext" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
  )
}

# pki_sa: the service-account signing key pair (CP_DIR/pki/sa.key, sa.pub).
pki_sa() {
  (
    cd "$CP_DIR/pki" || exit
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}

# tokens USER[=GROUP]...: CP_DIR/pki/tokens.csv (token,user,uid[,"group"]),
# the API server's --token-auth-file, and each user's token alone in
# CP_DIR/pki/token-USER (":" in USER written "_").
tokens() {
  local f="$CP_DIR/pki/tokens.csv" spec u t
  [ $# -gt 0 ] || die "tokens: no users"
  : >"$f"
  chmod 600 "$f"
  for spec in "$@"; do
    u="${spec%%=*}"
    t="$(openssl rand -hex 24)"
    printf '%s\n' "$t" >"$CP_DIR/pki/token-${u//:/_}"
    if [ "$u" != "$spec" ]; then
      printf '%s,%s,uid-%s,"%s"\n' "$t" "$u" "${u//:/_}" "${spec#*=}" >>"$f"
    else
      printf '%s,%s,uid-%s\n' "$t" "$u" "${u//:/_}" >>"$f"
    fi
  done
}

# kubeconfig FILE CONTEXT:USER...: one file, written directly (a kubectl
# config call per entry cost seconds under load): cluster CP_CLUSTER at
# CP_API, one context per CONTEXT:USER with that user's token. The first
# context is the current one.
kubeconfig() {
  local f="$1" ca cu u
  shift
  ca="$(base64 -w0 <"$CP_DIR/pki/ca.crt")"
  {
    printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: %s\n  cluster:\n    server: %s\n    certificate-authority-data: %s\n' "$CP_CLUSTER" "$CP_API" "$ca"
    printf 'contexts:\n'
    for cu in "$@"; do printf -- '- name: %s\n  context:\n    cluster: %s\n    user: %s\n' "${cu%%:*}" "$CP_CLUSTER" "${cu#*:}"; done
    printf 'current-context: %s\nusers:\n' "${1%%:*}"
    for cu in "$@"; do
      u="${cu#*:}"
      printf -- '- name: %s\n  user:\n    token: %s\n' "$u" "$(cat "$CP_DIR/pki/token-${u//:/_}")"
    done
  } >"$f"
  chmod 600 "$f"
}

# -------------------------------------------------------------- processes

# in_ns CMD...: CMD in CP_NETNS (or right here when CP_NETNS is empty).
in_ns() {
  if [ -n "${CP_NETNS:-}" ]; then
    ip netns exec "$CP_NETNS" "$@"
  else
    "$@"
  fi
}

# start NAME CMD...: a daemon in its own session (in CP_NETNS when set),
# output appended to CP_DIR/logs/NAME.log, its pid in CP_DIR/run/NAME.pid.
start() {
  local name="$1"
  shift
  [ -z "${CP_NETNS:-}" ] || set -- ip netns exec "$CP_NETNS" "$@"
  # 9>&-: daemons must not inherit the lab lock.
  setsid "$@" >>"$CP_DIR/logs/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$CP_DIR/run/$name.pid"
}

wait_for() { # description timeout-seconds command...
  local what="$1" t="$2"
  shift 2
  local deadline=$((SECONDS + t)) pidfile="$CP_DIR/run/$what.pid"
  until "$@" >/dev/null 2>&1; do
    # A daemon that died (a port taken, a bad flag) will not come up: say
    # why now instead of after the timeout.
    if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      die "$what exited while starting: $(tail -n 3 "$CP_DIR/logs/$what.log" 2>/dev/null | tr '\n' ' ')"
    fi
    [ $SECONDS -lt $deadline ] || die "timed out after ${t}s waiting for $what (logs: $CP_DIR/logs)"
    sleep 0.3
  done
}

# recorded_pids STRING...: the pids in CP_DIR/run/*.pid whose process still
# has one of the STRINGs on its command line (pids get reused).
recorded_pids() {
  local f pid s args=()
  for s in "$@"; do args+=(-e "$s"); done
  for f in "$CP_DIR"/run/*.pid; do
    [ -e "$f" ] || continue
    pid="$(cat "$f")"
    { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -F "${args[@]}" >/dev/null && echo "$pid"
  done
  return 0
}

# ---------------------------------------------------------- control plane

# start_etcd NAME [FLAG...]: etcd on 127.0.0.1 (CP_ETCD_CLIENT_PORT,
# CP_ETCD_PEER_PORT), data in CP_DIR/etcd; waits until it is healthy.
start_etcd() {
  local name="$1"
  shift
  start etcd "$CP_BIN/etcd" --name "$name" --data-dir "$CP_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$CP_ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$CP_ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$CP_ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$CP_ETCD_PEER_PORT" \
    --initial-cluster "$name=http://127.0.0.1:$CP_ETCD_PEER_PORT" \
    --unsafe-no-fsync "$@" --log-level warn
  wait_for etcd 30 in_ns curl -sf "http://127.0.0.1:$CP_ETCD_CLIENT_PORT/health"
}

# start_apiserver [FLAG...]: kube-apiserver on etcd, with the PKI above and
# RBAC; waits until it is ready. Started again with the same settings, it
# finds its state in etcd (lab.sh restart-apiserver).
# shellcheck disable=SC2120 # the lab passes no flags, the scale lab some
start_apiserver() {
  local p="$CP_DIR/pki"
  start kube-apiserver "$CP_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$CP_ETCD_CLIENT_PORT" \
    --bind-address "$CP_APISERVER_BIND" --advertise-address "$CP_APISERVER_ADVERTISE" --secure-port "$CP_APISERVER_PORT" \
    --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" \
    --client-ca-file "$p/ca.crt" \
    --token-auth-file "$p/tokens.csv" \
    --authorization-mode Node,RBAC \
    --service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range "$CP_SERVICE_CIDR" ${CP_NODEPORT_RANGE:+--service-node-port-range "$CP_NODEPORT_RANGE"} \
    --allow-privileged=true \
    --kubelet-preferred-address-types InternalIP \
    "$@" \
    --cert-dir "$p/apiserver-generated" \
    --profiling=false
  wait_for kube-apiserver 90 in_ns curl -sf --cacert "$p/ca.crt" \
    -H "Authorization: Bearer $(cat "$p/token-$CP_READY_USER")" "$CP_API/readyz"
}

# start_controller_manager KUBECONFIG [FLAG...]: without nodeipam (the
# nodes come with their podCIDRs), no leader election.
start_controller_manager() {
  local kc="$1" p="$CP_DIR/pki"
  shift
  start kube-controller-manager "$CP_BIN/kube-controller-manager" \
    --kubeconfig "$kc" \
    --controllers '*,-nodeipam' --use-service-account-credentials=false --leader-elect=false \
    --service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" \
    --service-cluster-ip-range "$CP_SERVICE_CIDR" \
    --node-monitor-grace-period 120s \
    "$@" \
    --bind-address 127.0.0.1 --secure-port 0
}

# start_scheduler FLAG...: the flags say where its kubeconfig is.
start_scheduler() {
  start kube-scheduler "$CP_BIN/kube-scheduler" "$@" --bind-address 127.0.0.1 --secure-port 0
}

# ------------------------------------------------------ network namespaces

# netns_new NS: a network namespace with its loopback up.
netns_new() {
  ip netns add "$1"
  ip -n "$1" link set lo up
}

# netns_list PREFIX: the network namespaces whose name starts with PREFIX.
netns_list() { ip netns list 2>/dev/null | awk '{print $1}' | grep "^$1" || true; }

# netns_exists NS: whether the network namespace NS exists.
netns_exists() { grep -qxF -- "$1" <<<"$(netns_list "$1")"; }

# netns_pids NS...: the pids of the processes in those network namespaces.
netns_pids() {
  local ns
  for ns in "$@"; do ip netns pids "$ns" 2>/dev/null || true; done
}

# netns_delete NS: delete the namespace once its processes are gone (waits
# up to 3 s for them); fails as `ip netns del` does.
netns_delete() {
  for _ in $(seq 1 30); do
    [ -z "$(netns_pids "$1")" ] && break
    sleep 0.1
  done
  ip netns del "$1"
}
