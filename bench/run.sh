#!/usr/bin/env bash
# `make bench` and `make bench-smoke`: for each N, bring the scale lab up
# (bench/scale-lab.sh), time the cases inside its network namespace
# (benchctl run), bring it down; time `kpr analyze` on a generated 100 MB
# sysdump-like folder; print one table. Leaves nothing behind: the lab is
# torn down in a trap, also on failure or Ctrl-C.
#
#   bench/run.sh            N=200 and N=1000, the full case list
#   bench/run.sh --smoke    N=20, two runs of the fast cases, a short hang run
#
# Results (full run): $KPR_BENCH_RESULTS (default bench/results/), one
# JSON per N and table.md. Needs root (a network namespace).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$repo"
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
# shellcheck source=../lab/build/versions.env
. "$repo/lab/build/versions.env"
CACHE="${KPR_LAB_CACHE:-$HOME/.cache/kubectl-kpr/lab/$KUBE_VERSION}"
DIR="${KPR_BENCH_DIR:-/tmp/kpr-bench}"
OUT="${KPR_BENCH_RESULTS:-$repo/bench/results}"
KPR="$repo/bin/kubectl-kpr"

smoke=false
[ "${1:-}" = --smoke ] && smoke=true
[ "$(id -u)" = 0 ] || {
  echo "bench: needs root (the scale lab runs in a network namespace)" >&2
  exit 1
}
# GNU time measures each case's peak RSS.
command -v openssl >/dev/null && command -v curl >/dev/null && command -v ip >/dev/null && [ -x /usr/bin/time ] || {
  echo "bench: installing openssl, curl, iproute2, time" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl curl iproute2 time >/dev/null
}

bench_tools="$(mktemp -d)"
# The smoke run keeps no results in the tree.
$smoke && OUT="$bench_tools/results"
trap '"$here/scale-lab.sh" down >/dev/null 2>&1 || true; rm -rf "$DIR-sysdump" "$bench_tools"' EXIT
mkdir -p "$OUT"
rm -f "$OUT"/results-*.json

make -s build
(cd "$here" && CGO_ENABLED=0 go build -trimpath -o "$bench_tools/" ./benchctl)

if $smoke; then
  sizes=(20)
  cases=floor,status,xargs,services,inspect-ds,inspect-pods,probe-ds,hang
  run_flags=(-runs 2 -slow-runs 1 -hang-timeout 5s)
else
  sizes=(200 1000)
fi

for n in "${sizes[@]}"; do
  if ! $smoke; then
    # Node checks (issue 12) at both sizes; the sequential loops (kubectl
    # exec, kubectl debug node) only at 200: linear in N, they are
    # extrapolated to 1000 in the table, and marked so.
    cases=floor,status,xargs,services,inspect-ds,inspect-pods,probe-ds,probe-pods,verify,hang
    [ "$n" -le 200 ] && cases=floor,status,xargs,seq,services,inspect-ds,inspect-pods,probe-ds,probe-pods,debug-seq,verify,hang
    # The hang run's --timeout must leave the healthy agents time to
    # answer: 1000 execs take longer than 10 s on 2 shared cores.
    hang_timeout=10s
    [ "$n" -gt 200 ] && hang_timeout=30s
    slow=3
    [ "$n" -gt 200 ] && slow=2
    run_flags=(-runs 5 -slow-runs "$slow" -hang-timeout "$hang_timeout")
  fi
  "$here/scale-lab.sh" up "$n"
  "$here/scale-lab.sh" exec "$DIR/bin/benchctl" run -nodes "$n" \
    -kpr "$KPR" -kubectl "$CACHE/bin/kubectl" -floor "$DIR/bin/floor" \
    -kubeconfig "$DIR/kubeconfig" -audit-log "$DIR/audit.log" -data "$DIR/data" \
    -cases "$cases" "${run_flags[@]}" -out "$OUT/results-$n.json"
  "$here/scale-lab.sh" down
done

# analyze is offline: no lab, no network.
if ! $smoke; then
  "$bench_tools/benchctl" gen-sysdump -out "$DIR-sysdump" -size 100000000
  "$bench_tools/benchctl" run -cases analyze -kpr "$KPR" -sysdump "$DIR-sysdump" -runs 5 -out "$OUT/results-analyze.json"
fi

"$bench_tools/benchctl" table "$OUT"/results-*.json | tee "$OUT/table.md"
