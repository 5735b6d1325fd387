#!/usr/bin/env bash
# `make demo`: kpr's main job on the lab, through the pinned kubectl's plugin
# discovery (bin/kubectl-kpr on PATH), colors forced.
set -euo pipefail
cd "$(dirname "$0")/.."
. lab/build/versions.env
cache="${KPR_LAB_CACHE:-$HOME/.cache/kubectl-kpr/lab/$KUBE_VERSION}"
export KUBECONFIG="$PWD/.lab/kubeconfig"
export PATH="$PWD/bin:$cache/bin:$PATH"
show() {
  printf '\n\033[1m$ %s\033[0m\n' "$*"
  "$@" || true
}
show kubectl get nodes -o wide
# The whole acceptance test first: backends on one node of each class,
# every check from every class, reports; everything it creates is deleted.
mkdir -p .lab/reports
show kubectl kpr verify --deploy-backends --color always --report .lab/reports/verify.html --report .lab/reports/verify.md --junit .lab/reports/verify.xml
echo "reports: $PWD/.lab/reports/verify.{html,md,xml}"
show kubectl kpr status --color always
if kubectl-kpr diff --help >/dev/null 2>&1 && ! kubectl-kpr diff --help 2>&1 | grep 'not implemented' >/dev/null; then
  show kubectl kpr diff node-cilium node-bare --color always
else
  echo "(kubectl kpr diff is not implemented yet: skipped)"
fi
echo
echo "The lab stays up: export KUBECONFIG=$KUBECONFIG  (make lab-down to remove it)"
