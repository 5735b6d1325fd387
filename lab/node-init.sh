#!/usr/bin/env bash
# PID 1 of one lab node. lab.sh starts it as
#   ip netns exec kprlab-NODE unshare --pid --fork --mount-proc --mount ... node-init.sh NODE
# so this script, kwok, and every command kwok execs for `kubectl exec` live
# in the node's own network, PID and mount namespaces. The machine's root is
# bind-mounted at /host inside this mount namespace only, so `chroot /host
# iptables-save` or `nsenter -t 1 -n ...` from a debug pod land on this
# node, never on the machine running the lab.
set -euo pipefail
node="$1"
: "${KPR_LAB_DIR:?}" "${KPR_LAB_BIN:?}" "${KPR_LAB_CACHE:?}" "${KPR_CILIUM_DIR:?}"
lab="$KPR_LAB_DIR"
# shellcheck source=config.env
. "$(dirname "$0")/config.env"
ipvar="LAB_IP_${node//-/_}"
ip="${!ipvar}"
logs="$lab/logs"
var_of() { # PREFIX [default]: config.env's per-node value
  local v="${1}${node//-/_}"
  echo "${!v:-${2:-}}"
}
in_list() { [[ " $2 " == *" $1 "* ]]; }
cilium=""
in_list "$node" "$LAB_CILIUM_NODES" && cilium=standin
in_list "$node" "$LAB_REAL_CILIUM_NODES" && cilium=real
proxy_mode=""
in_list "$node" "$LAB_KUBE_PROXY_NODES" && proxy_mode="$(var_of LAB_KUBE_PROXY_MODE_ iptables)"

mount --rbind / /host

export KPR_LAB_NODE="$node"
export KPR_LAB_KUBECONFIG="$lab/internal/kubeconfig-admin"
# The Cilium release and KPR mode this node's agent stands for (the CLI
# stand-in gets the same through kwok's ClusterExec).
export KPR_LAB_CILIUM_VERSION="$(var_of LAB_CILIUM_RELEASE_ "$LAB_CILIUM_VERSION")"
export KPR_LAB_CILIUM_KPR_MODE="$(var_of LAB_CILIUM_KPR_)"
base_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export PATH="$base_path"

case "$cilium" in
standin)
  # Cilium's eBPF service datapath, stood in for by nft DNAT rules, and the
  # iptables chains the agent installs. An agent that reports KPR False or
  # Disabled handles no Services: the stand-in then installs the chains
  # only.
  "$lab/bin/kpr-lab-node" datapath >>"$logs/$node-datapath.log" 2>&1 &
  ;;
real)
  # A real cilium-agent (lab/cilium-agent.sh): its eBPF does the Services
  # and it installs its own iptables chains. This node's cgroup2 subtree
  # (lab.sh put this script in it before it started, so every process of
  # the node is in it) is the agent's --cgroup-root, where socket-LB
  # attaches: mount the cgroup2 hierarchy here, in the node's own mount
  # namespace (`ip netns exec` hid the machine's /sys/fs/cgroup).
  mount -t cgroup2 cgroup2 /sys/fs/cgroup
  export KPR_LAB_CGROUP="/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)"
  [ "$KPR_LAB_CGROUP" != /sys/fs/cgroup/ ] || { echo "node-init: $node is not in a cgroup of its own" >&2; exit 1; }
  # The agent's KPR flag: only where the lab's story needs one
  # (node-kpr-off: an agent still running a configuration with KPR off);
  # elsewhere the configuration (cilium-config, CiliumNodeConfigs, the
  # node's keys; build-config) decides, as on a real cluster.
  kpr_flag=""
  case "$(var_of LAB_CILIUM_KPR_)" in "" | True | Strict) ;; *) kpr_flag=false ;; esac
  # Commands in the cilium-agent container (kwok's ClusterExec sets
  # KPR_LAB_CONTAINER=cilium-agent for it) run in the agent's mount
  # namespace, as in its container: the real cilium-dbg (1.15+ images also
  # have `cilium`, a symlink to it; other containers do not have it), and
  # grep, cat and ls, so that `kubectl exec -c cilium-agent POD -- grep -R
  # -H '' /tmp/cilium/config-map` reads the agent's own config dir. In other
  # containers grep, cat and ls are the node's own.
  cli="$lab/run/cilium-cli/$node"
  nspid="$lab/run/$node-cilium-agent.nspid"
  mkdir -p "$cli"
  # The wrappers are on kwok's PATH: they name every binary by its full
  # path (and read the PID with the shell's `read`), never through PATH.
  nsenter="$(command -v nsenter)"
  for c in cilium-dbg cilium; do
    cat >"$cli/$c" <<EOF
#!/bin/sh
if [ "\${KPR_LAB_CONTAINER:-}" != cilium-agent ]; then
  echo 'exec: "$c": executable file not found in \$PATH' >&2
  exit 127
fi
read -r pid <'$nspid' || exit 1
exec '$nsenter' -t "\$pid" -m -- '$KPR_CILIUM_DIR/$KPR_LAB_CILIUM_VERSION/bin/cilium-dbg' "\$@"
EOF
    chmod +x "$cli/$c"
  done
  for c in grep cat ls; do
    own="$(command -v "$c")"
    cat >"$cli/$c" <<EOF
#!/bin/sh
[ "\${KPR_LAB_CONTAINER:-}" = cilium-agent ] || exec '$own' "\$@"
read -r pid <'$nspid' || exit 1
exec '$nsenter' -t "\$pid" -m -- '$own' "\$@"
EOF
    chmod +x "$cli/$c"
  done
  # The agent runs while the node's agent pod exists, as its container
  # would: started once the DaemonSet's pod is there, and stopped and
  # started again (build-config included, cilium-agent.sh) when the pod is
  # re-created: `kubectl delete pod` is how Cilium's docs apply a
  # CiliumNodeConfig. kpr-lab-node agent-pod --watch prints the live pod's
  # UID ("-": none) each time it changes (polled every 2 s).
  agent_log() { printf '[node-init %s] %s %s\n' "$node" "$(date -u +%H:%M:%S)" "$*" >>"$logs/$node-cilium-agent.log"; }
  start_agent() {
    # shellcheck disable=SC2086 # $kpr_flag: no argument when empty
    unshare --mount --propagation private -- "$(dirname "$0")/cilium-agent.sh" "$node" "$KPR_LAB_CILIUM_VERSION" $kpr_flag \
      >>"$logs/$node-cilium-agent.log" 2>&1 &
    agent=$!
    echo "$agent" >"$nspid"
    # (.nspid, not .pid: a PID of the node's PID namespace, which lab.sh
    # must never take for one of the machine's.)
  }
  # As a kubelet stops the container: SIGTERM, then SIGKILL after the
  # pod's terminationGracePeriodSeconds (Cilium's chart: 1 s).
  stop_agent() {
    kill -TERM "$agent" 2>/dev/null || true
    for _ in $(seq 1 10); do kill -0 "$agent" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$agent" 2>/dev/null || true
    wait "$agent" 2>/dev/null || true
    agent=""
  }
  (
    agent="" uid=""
    # node-stale, the half-done rollout: its agent got the KPR
    # configuration after kube-proxy had been removed.
    if [ "$node" = node-stale ]; then
      for _ in $(seq 1 260); do [ -e "$lab/run/$node.stale-ready" ] && break; sleep 0.5; done
    fi
    while true; do
      while read -r line; do
        if [ "$line" = - ]; then
          [ -z "$agent" ] || { stop_agent; agent_log "agent pod $uid gone: cilium-agent stopped"; }
          uid=""
        elif [ "$line" != "$uid" ]; then
          if [ -n "$agent" ]; then
            stop_agent
            agent_log "agent pod re-created ($uid -> $line): cilium-agent stopped, starting it again (build-config runs again)"
          else
            agent_log "agent pod $line: starting cilium-agent"
          fi
          uid="$line"
          start_agent
        fi
      done < <("$lab/bin/kpr-lab-node" agent-pod --watch 2>>"$logs/$node-agent-pod.log")
      sleep 2
    done
  ) &
  ;;
esac

# Every node: bodies for its pod-network pods (verify's backends).
# On LAB_PORTMAP_NODES they also call the real portmap CNI plugin for
# pods with hostPorts (KPR_LAB_PORTMAP; lab/build/build.sh builds it).
portmap=""
if in_list "$node" "${LAB_PORTMAP_NODES:-}"; then
  . "$(dirname "$0")/build/versions.env"
  portmap="$KPR_LAB_CACHE/cni/$CNI_PLUGINS_VERSION/portmap"
fi
KPR_LAB_PORTMAP="$portmap" KPR_LAB_POD_NET_PREFIX="$LAB_POD_NET_PREFIX" "$lab/bin/kpr-lab-node" pods >>"$logs/$node-pods.log" 2>&1 &

case "$node" in
node-cilium) "$lab/bin/kpr-lab-node" httpd --listen :80 --name nm-nginx >>"$logs/$node-httpd.log" 2>&1 & ;;
node-bare) "$lab/bin/kpr-lab-node" httpd --listen :80 --name nm-nginx-ovs >>"$logs/$node-httpd.log" 2>&1 & ;;
esac

# Runs in a background subshell: exec, so $! is kube-proxy itself.
kube_proxy() {
  exec "$KPR_LAB_BIN/kube-proxy" \
    --kubeconfig "$lab/internal/kubeconfig-kube-proxy" \
    --hostname-override "$node" \
    --proxy-mode "$proxy_mode" \
    --conntrack-max-per-core 0 \
    --conntrack-tcp-timeout-established 0 \
    --conntrack-tcp-timeout-close-wait 0 \
    --metrics-bind-address 127.0.0.1:10249 \
    --healthz-bind-address 0.0.0.0:10256 \
    --v 1
}

case "$node" in
node-stale)
  # A kube-proxy that ran here and was removed without `--cleanup`: start
  # it, wait until it has programmed Services, kill it hard.
  (
    kube_proxy >>"$logs/$node-kube-proxy.log" 2>&1 &
    kp=$!
    for _ in $(seq 1 240); do
      # Both lab NodePorts programmed (their endpoints came up after the
      # kubernetes Service's).
      if [ "$(iptables-save -t nat 2>/dev/null | grep -c '^-A KUBE-NODEPORTS .*nm-nginx')" -ge 2 ]; then
        sleep 1
        kill -9 "$kp"
        echo "stale kube-proxy rules left behind" >>"$logs/$node-kube-proxy.log"
        touch "$lab/run/$node.stale-ready"
        exit 0
      fi
      sleep 0.5
    done
    kill -9 "$kp"
    echo "kube-proxy never programmed rules" >>"$logs/$node-kube-proxy.log"
  ) &
  ;;
*)
  [ -z "$proxy_mode" ] || kube_proxy >>"$logs/$node-kube-proxy.log" 2>&1 &
  ;;
esac

# kwok resolves exec'd commands with its own PATH: the Cilium CLI stand-in
# is on it only on nodes that run a Cilium agent.
kwok_path="$base_path"
case "$cilium" in
standin) kwok_path="$lab/bin/cilium-node:$base_path" ;;
real) kwok_path="$lab/run/cilium-cli/$node:$base_path" ;;
esac

cfgs=()
for f in "$KPR_LAB_CACHE"/kwok-stages/*.yaml; do cfgs+=(-c "$f"); done
# The lab's own stages (lab/kwok-stages: simulations for kpr's tests).
for f in "$(dirname "$0")"/kwok-stages/*.yaml; do cfgs+=(-c "$f"); done
for f in "$lab"/internal/kwok-stage-*.yaml; do cfgs+=(-c "$f"); done
cfgs+=(-c "$lab/internal/kwok-exec-$node.yaml")

PATH="$kwok_path" "$KPR_LAB_BIN/kwok" \
  --kubeconfig "$lab/internal/kubeconfig-admin" \
  --manage-single-node "$node" \
  --node-ip "$ip" --node-port 10250 \
  --server-address "$ip:10250" \
  --tls-cert-file "$lab/pki/$node.crt" --tls-private-key-file "$lab/pki/$node.key" \
  "${cfgs[@]}" >>"$logs/$node-kwok.log" 2>&1 &

# As PID 1: reap children until killed; lab.sh down SIGKILLs this process,
# which takes everything in the namespace with it.
while true; do wait || true; sleep 1; done
