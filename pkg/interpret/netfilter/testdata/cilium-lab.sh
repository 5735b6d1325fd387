#!/usr/bin/env bash
# Regenerates iptables-cilium-lab-1.18.8.txt: the iptables chains a Cilium
# 1.18.8 agent installs on the lab's node-cilium (podCIDR 10.244.11.0/24),
# as the lab's stand-in installs them. The rules come from
# lab/standin/ciliumchains.go (transcribed from cilium/cilium
# pkg/datapath/iptables at v1.18.8); `kpr-lab-node datapath
# --print-cilium-iptables` prints its iptables-restore input, which is
# loaded into a scratch network namespace and dumped with the real
# iptables-save. Needs root, Go and Debian's iptables (1.8.9). The
# namespace has no interfaces but lo, and nothing here sends traffic.
#   bash cilium-lab.sh        (from anywhere)
set -euo pipefail
cd "$(dirname "$0")"
repo="$(cd ../../../.. && pwd)"
tmp="$(mktemp -d)"
NS=kpr-fixture-cilium-$$
ip netns add "$NS"
trap 'ip netns del "$NS"; rm -rf "$tmp"' EXIT
(cd "$repo/lab/standin" && go build -o "$tmp/kpr-lab-node" .)
env -u KPR_LAB_KUBECONFIG KPR_LAB_CILIUM_VERSION=1.18.8 \
	"$tmp/kpr-lab-node" datapath --print-cilium-iptables --pod-cidr 10.244.11.0/24 >"$tmp/rules"
ip netns exec "$NS" iptables-restore --noflush <"$tmp/rules"
ver="$(ip netns exec "$NS" iptables-save --version)"
{
	echo "# fixture: Cilium 1.18.8 agent's iptables chains on the lab's node-cilium (podCIDR 10.244.11.0/24, no kube-proxy, no kubelet):"
	echo "# rules transcribed from cilium pkg/datapath/iptables@v1.18.8 by lab/standin/ciliumchains.go, applied with"
	echo "# iptables-restore in a network namespace, dumped with iptables-save ($ver); made by cilium-lab.sh"
	ip netns exec "$NS" iptables-save
} >iptables-cilium-lab-1.18.8.txt
