#!/usr/bin/env bash
# Captures real kube-proxy v1.37.2 rules for the fixtures
# iptables-captured-kube-proxy.txt and nft-captured-kube-proxy.{txt,json}.
# Everything runs inside one scratch network namespace (only its loopback,
# with 10.99.0.1/32 added to it; no default route): etcd, kube-apiserver,
# the real kube-proxy (iptables mode, then nftables mode). No traffic is
# sent anywhere. Needs root, and the lab's cached binaries
# (~/.cache/kubectl-kpr/lab/v1.37.2/bin, built by lab/lab.sh up).
#   bash capture-kube-proxy.sh     (from this directory)
set -euo pipefail
BIN="${KPR_LAB_BIN:-$HOME/.cache/kubectl-kpr/lab/v1.37.2/bin}"
OUT="$(pwd)"
W="$(mktemp -d /tmp/kpr-capture.XXXXXX)"
NS="kpr-cap-$$"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 1
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
in_ns() { ip netns exec "$NS" "$@"; }
ip netns add "$NS"
in_ns ip link set lo up
in_ns ip addr add 10.99.0.1/32 dev lo

openssl genrsa -out "$W/sa.key" 2048 2>/dev/null
openssl rsa -in "$W/sa.key" -pubout -out "$W/sa.pub" 2>/dev/null
echo "capture-token,admin,admin,system:masters" >"$W/tokens.csv"
cat >"$W/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://10.99.0.1:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: capture-token}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
KC
kc() { in_ns "$BIN/kubectl" --kubeconfig "$W/kubeconfig" "$@"; }

in_ns "$BIN/etcd" --name cap --data-dir "$W/etcd" \
	--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
	--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
	--initial-cluster cap=http://127.0.0.1:2380 --unsafe-no-fsync --log-level warn >"$W/etcd.log" 2>&1 &
pids+=($!)
sleep 2
in_ns "$BIN/kube-apiserver" --etcd-servers http://127.0.0.1:2379 \
	--bind-address 10.99.0.1 --advertise-address 10.99.0.1 --secure-port 6443 \
	--cert-dir "$W/pki" --token-auth-file "$W/tokens.csv" --authorization-mode AlwaysAllow \
	--service-account-key-file "$W/sa.pub" --service-account-signing-key-file "$W/sa.key" \
	--service-account-issuer https://kubernetes.default.svc.cluster.local \
	--service-cluster-ip-range 10.96.0.0/16 --profiling=false >"$W/apiserver.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do kc get --raw /readyz >/dev/null 2>&1 && break; sleep 1; done
kc get --raw /readyz >/dev/null

# The node, Services and EndpointSlices of the fixtures (no controller-
# manager runs: the EndpointSlices are written here, as it would).
kc apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Node
metadata: {name: node-iptables, labels: {kubernetes.io/hostname: node-iptables}}
---
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec:
  clusterIP: 10.96.0.10
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
  - {name: metrics, port: 9153, protocol: TCP, targetPort: 9153}
---
apiVersion: v1
kind: Service
metadata: {name: nm-nginx, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.100.10
  selector: {app: nm-nginx}
  ports:
  - {port: 80, targetPort: 80, nodePort: 30080, protocol: TCP}
---
apiVersion: v1
kind: Service
metadata: {name: web-local, namespace: demo}
spec:
  type: LoadBalancer
  clusterIP: 10.96.77.40
  externalTrafficPolicy: Local
  loadBalancerSourceRanges: [192.0.2.0/24]
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080, nodePort: 31000, protocol: TCP}
---
apiVersion: v1
kind: Service
metadata: {name: no-backends, namespace: demo}
spec:
  clusterIP: 10.96.200.7
  ports:
  - {name: http, port: 8080, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: kube-dns-1, namespace: kube-system, labels: {kubernetes.io/service-name: kube-dns}}
addressType: IPv4
endpoints:
- {addresses: [10.244.1.2], conditions: {ready: true}, nodeName: node-a}
- {addresses: [10.244.2.3], conditions: {ready: true}, nodeName: node-b}
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
- {name: metrics, port: 9153, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: nm-nginx-1, namespace: default, labels: {kubernetes.io/service-name: nm-nginx}}
addressType: IPv4
endpoints:
- {addresses: [10.244.1.5], conditions: {ready: true}, nodeName: node-a}
- {addresses: [10.244.2.6], conditions: {ready: true}, nodeName: node-b}
ports:
- {name: "", port: 80, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-local-1, namespace: demo, labels: {kubernetes.io/service-name: web-local}}
addressType: IPv4
endpoints:
- {addresses: [10.244.1.9], conditions: {ready: true}, nodeName: node-iptables}
ports:
- {name: http, port: 8080, protocol: TCP}
YAML
kc -n kube-system get svc kube-dns >/dev/null
kc patch node node-iptables --subresource=status --type=merge -p '{"status":{"addresses":[{"type":"InternalIP","address":"10.99.0.1"}]}}' >/dev/null
kc -n demo patch svc web-local --subresource=status --type=merge -p '{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.200"}]}}}' >/dev/null

run_proxy() { # $1 = mode
	in_ns "$BIN/kube-proxy" --kubeconfig "$W/kubeconfig" --hostname-override node-iptables \
		--proxy-mode "$1" --cluster-cidr 10.244.0.0/16 \
		--conntrack-max-per-core 0 --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0 \
		--metrics-bind-address 127.0.0.1:10249 --healthz-bind-address 127.0.0.1:10256 --v 1 >"$W/kube-proxy-$1.log" 2>&1 &
	pids+=($!)
	kp=$!
}
header() {
	printf '# fixture: %s\n# captured by testdata/capture-kube-proxy.sh: the real kube-proxy v1.37.2 (built from k8s.io/kubernetes)\n# in a scratch netns, against a real kube-apiserver v1.37.2; Services as in that script\n' "$1"
}

run_proxy iptables
for _ in $(seq 1 90); do
	[ "$(in_ns iptables-save -t nat 2>/dev/null | grep -c -- '-A KUBE-NODEPORTS')" -ge 2 ] && break
	sleep 1
done
sleep 3
{ header "kube-proxy v1.37.2 iptables mode, iptables-save -c (nf_tables backend) then ip6tables-save -c"
  in_ns iptables-save -c; in_ns ip6tables-save -c; } >"$OUT/iptables-captured-kube-proxy.txt"
in_ns curl -s --max-time 2 127.0.0.1:10249/proxyMode >"$W/proxymode-iptables" || true
kill "$kp"; wait "$kp" 2>/dev/null || true

# nftables mode: kube-proxy removes the iptables mode's rules at start.
run_proxy nftables
for _ in $(seq 1 90); do
	in_ns nft list table ip kube-proxy 2>/dev/null | grep -q 'chain external-.*nm-nginx' && break
	sleep 1
done
sleep 3
{ header "kube-proxy v1.37.2 nftables mode, nft list ruleset (nft 1.0.6)"; in_ns nft list ruleset; } >"$OUT/nft-captured-kube-proxy.txt"
in_ns nft -j list ruleset >"$OUT/nft-captured-kube-proxy.json"
kill "$kp"; wait "$kp" 2>/dev/null || true
echo "proxyMode (iptables run): $(cat "$W/proxymode-iptables")" >&2
