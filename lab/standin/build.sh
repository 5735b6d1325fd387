#!/usr/bin/env bash
# Builds the lab's node binary and the Cilium renderers:
#
#   OUTDIR/kpr-lab-node                 the stand-ins (this module; no Cilium code)
#   OUTDIR/cilium-render/<version>      one per releases/v1_XX module, built
#                                       from that Cilium release's own code
#
# The Cilium CLI stand-in (kpr-lab-node called as cilium-dbg/cilium) execs
# cilium-render/<version> next to the binary its symlinks resolve to.
# Each binary is rebuilt only when it is missing or one of its sources
# (non-test .go files, go.mod, go.sum; _common/ through the symlinks) is
# newer than it.
#
# Usage: lab/standin/build.sh OUTDIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

log() { printf '[lab-build] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
out="$1"
mkdir -p "$out/cilium-render" || die "cannot create $out/cilium-render"
out="$(cd "$out" && pwd)"
command -v go >/dev/null || die "go is not on the PATH (PATH=$PATH)"

# stale TARGET DIR: TARGET is missing or older than a source in DIR.
stale() {
  [ ! -x "$1" ] && return 0
  [ -n "$(find -L "$2" -maxdepth 1 -newer "$1" \
    \( \( -name '*.go' ! -name '*_test.go' \) -o -name go.mod -o -name go.sum \) -print -quit)" ]
}

# The work list: "dir|target|what".
todo=()
stale "$out/kpr-lab-node" "$here" && todo+=("$here|$out/kpr-lab-node|the lab stand-ins (kpr-lab-node)")
found=0
for dir in "$here"/releases/v1_*/; do
  dir="${dir%/}"
  ver="$(sed -n 's/^const ciliumTag = "v\(.*\)"$/\1/p' "$dir/compat.go" 2>/dev/null || true)"
  [ -n "$ver" ] || die "no ciliumTag in $dir/compat.go"
  found=$((found + 1))
  stale "$out/cilium-render/$ver" "$dir" && todo+=("$dir|$out/cilium-render/$ver|the Cilium $ver renderer")
done
[ "$found" -gt 0 ] || die "no renderer modules in $here/releases"

n=0
# Each renderer is its own module (its own Cilium release and deps): on a
# cold build cache they cost 12-19 s each on 2 cores (82 s for all five,
# measured in a cold make demo; the stand-ins reuse the control plane's
# compiled client-go and take seconds).
[ ${#todo[@]} -lt 4 ] || log "building ${#todo[@]} binaries (the stand-ins and the Cilium renderers): about 1.5 minutes on a cold build cache"
for item in "${todo[@]}"; do
  IFS='|' read -r dir target what <<<"$item"
  n=$((n + 1))
  log "($n/${#todo[@]}) building $what"
  start=$SECONDS
  if ! (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -buildvcs=false -o "$target.tmp" .); then
    rm -f "$target.tmp"
    die "building $what failed (in $dir, see the go errors above)"
  fi
  mv -f "$target.tmp" "$target"
  log "($n/${#todo[@]}) built $what in $((SECONDS - start)) s"
done
[ ${#todo[@]} -gt 0 ] || log "stand-ins and $found Cilium renderers up to date in $out"
