#!/usr/bin/env bash
# Regenerates the fragment fixtures: what people paste after running the
# seed's `iptables-save | grep KUBE-SVC` (or cutting a few -A lines from a
# longer dump), made here by running exactly that grep / head on the
# captured kube-proxy v1.37.2 dump (iptables-captured-kube-proxy.txt).
set -euo pipefail
cd "$(dirname "$0")"
src=iptables-captured-kube-proxy.txt
body() { grep -v '^# fixture:\|^# captured by\|^# in a scratch' "$src"; }
{
	echo "# fixture: \`iptables-save | grep KUBE-SVC\` of kube-proxy v1.37.2 (iptables mode): made by fragments.sh,"
	echo "# running that grep on $src (the real kube-proxy's dump)"
	body | grep KUBE-SVC
} >iptables-fragment-grep-kube-svc.txt
{
	echo "# fixture: four -A lines cut from the middle of kube-proxy v1.37.2's iptables-save: made by fragments.sh,"
	echo "# \`grep -- '-A KUBE-SEP-' | head -4\` on $src (the real kube-proxy's dump)"
	body | grep -- '-A KUBE-SEP-' | head -4
} >iptables-fragment-sep-rules.txt
src=nft-captured-kube-proxy.txt
{
	echo "# fixture: \`nft list ruleset | grep -i service-\` of kube-proxy v1.37.2 (nftables mode): made by fragments.sh,"
	echo "# running that grep on $src (the real kube-proxy's ruleset)"
	grep -v '^# ' "$src" | grep -i service-
} >nft-fragment-grep-service.txt
src=ipvsadm-kube-proxy.txt
{
	echo "# fixture: \`ipvsadm -Ln | head -8\`: made by fragments.sh, running that head on $src"
	echo "# (itself constructed after ipvsadm 1.31's print format: see its header)"
	grep -v '^# ' "$src" | head -8
} >ipvsadm-fragment-head.txt
