#!/usr/bin/env bash
# Builds real Cilium agents from Cilium's own source (through the Go module
# proxy) for the lab's real-agent nodes, cached by version:
#
#   $KPR_CILIUM_CACHE/<version>/bin/cilium-agent   (Cilium's ./daemon)
#   $KPR_CILIUM_CACHE/<version>/bin/cilium-dbg
#   $KPR_CILIUM_CACHE/<version>/src                the module's source (bpf/ is
#                                                  compiled by the agent at run time)
#
# Default cache: ~/.cache/kubectl-kpr/cilium. A version already built is
# kept, so a warm run takes well under a second.
#
# Two things the module proxy refuses, and what the lab uses instead
# (../shared/real-cilium-recipe.md, verified):
#   - Cilium's fork k8s.io/apimachinery => github.com/cilium/apimachinery
#     (1.16-1.18): 403 "not available". The upstream release of the same
#     minor builds (the fork only adds omitzero handling).
#   - 1.20.2 pins github.com/osrg/gobgp/v4 at a pseudo-version whose zip is
#     refused; v4.7.0, tagged the same day with the same go.mod, builds
#     (BGP stays off in the lab).
#
# Usage: lab/build/cilium.sh VERSION [VERSION...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${KPR_CILIUM_CACHE:-$HOME/.cache/kubectl-kpr/cilium}"
log() { printf '[lab-build] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
[ $# -gt 0 ] || die "usage: $0 VERSION [VERSION...]"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

# Measured on 2 cores in a cold .ci/run (empty module and build caches):
# 1.18.8 474 s, then 1.20.2 424 s.
missing=()
for v in "$@"; do
  [ -x "$cache/$v/bin/cilium-agent" ] && [ -x "$cache/$v/bin/cilium-dbg" ] || missing+=("$v")
done
[ ${#missing[@]} -gt 0 ] || { log "Cilium agents ${*} ready in $cache"; exit 0; }
log "first run: building real Cilium agents from source for ${missing[*]} (cilium-agent and cilium-dbg each):" \
  "about 8 minutes per release on 2 cores (measured cold: 1.18.8 474 s, 1.20.2 424 s); cached in $cache, later runs take seconds"

step=0
for v in "${missing[@]}"; do
  step=$((step + 1))
  log "($step/${#missing[@]}) Cilium $v: fetching the module source"
  dir="$(go mod download -json "github.com/cilium/cilium@v$v" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')"
  [ -d "$dir" ] || die "go mod download github.com/cilium/cilium@v$v gave no directory"
  dst="$cache/$v"
  rm -rf "$dst.tmp"
  mkdir -p "$dst.tmp/bin"
  cp -r "$dir" "$dst.tmp/src"
  chmod -R u+w "$dst.tmp/src"
  (
    cd "$dst.tmp/src"
    # The refused fork (see the header): drop it, then move every k8s.io
    # staging module go.mod names to one patch of the same minor that the
    # proxy serves for all of them (it serves only some patches of each,
    # e.g. for 1.18.8 it refuses k8s.io/endpointslice v0.33.9 but serves
    # v0.33.13), newest first.
    if grep -q 'k8s.io/apimachinery => github.com/cilium/apimachinery' go.mod; then
      go mod edit -dropreplace k8s.io/apimachinery
      log "  dropped the refused fork github.com/cilium/apimachinery"
    fi
    staging="$(sed -n 's/^\s*\(k8s.io\/\(api\|apiextensions-apiserver\|apimachinery\|apiserver\|cli-runtime\|client-go\|code-generator\|component-base\|endpointslice\|kubectl\|metrics\|kube-aggregator\)\) v0\..*/\1/p' go.mod | sort -u)"
    cur_full="$(sed -n 's/^\s*k8s.io\/api \(v0\.[0-9]*\.[0-9]*\).*/\1/p' go.mod | head -1)"
    cur="$(sed -n 's/^\s*k8s.io\/api v\(0\.[0-9]*\)\..*/\1/p' go.mod | head -1)"
    chosen=""
    # The version go.mod names first: moved only when the proxy refuses it.
    for v in "$cur_full" $(go list -m -versions k8s.io/api | tr ' ' '\n' | grep "^v$cur\.[0-9]*$" | sort -rV); do
      ok=1
      for m in $staging; do
        go mod download "$m@$v" >/dev/null 2>&1 || { ok=0; break; }
      done
      [ $ok = 1 ] && { chosen="$v"; break; }
    done
    [ -n "$chosen" ] || die "no v$cur.x patch served for all of: $staging"
    for m in $staging; do go mod edit -require "$m@$chosen"; done
    [ "$chosen" = "$cur_full" ] || log "  k8s.io staging modules at $chosen instead of $cur_full (the newest patch the proxy serves for all of them)"
    # A replace whose target the proxy refuses and that only a tool needs
    # (1.20.2: sigs.k8s.io/controller-tools => github.com/cilium/controller-tools
    # v0.21.0-1, for code generation): dropped, so the module graph loads.
    if grep -q 'sigs.k8s.io/controller-tools => github.com/cilium/controller-tools' go.mod &&
      ! go mod download "$(sed -n 's/.*sigs.k8s.io\/controller-tools => \(github.com\/cilium\/controller-tools\) \(v[^ ]*\).*/\1@\2/p' go.mod)" >/dev/null 2>&1; then
      go mod edit -dropreplace sigs.k8s.io/controller-tools
      log "  dropped the refused replace sigs.k8s.io/controller-tools => github.com/cilium/controller-tools (code generation only)"
    fi
    if grep -q 'github.com/osrg/gobgp/v4 v4.6.1-0.20260630022313-d6dee8360046' go.mod; then
      go mod edit -replace github.com/osrg/gobgp/v4=github.com/osrg/gobgp/v4@v4.7.0
      log "  replaced the refused github.com/osrg/gobgp/v4 pseudo-version by v4.7.0"
    fi
  )
  # pkg/version wants exactly "VERSION REVISION DATE". The proxy gives no
  # commit hash for a module version: the revision says "unknown" rather
  # than invent one; the date is the module version's time on the proxy.
  mod_time="$(go list -m -f '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' "github.com/cilium/cilium@v$v")"
  ver_str="$v unknown ${mod_time:-unknown}"
  total="$(cd "$dst.tmp/src" && go list -mod=mod -deps ./daemon ./cilium-dbg 2>/dev/null | wc -l || echo '?')"
  log "($step/${#missing[@]}) Cilium $v: building cilium-agent and cilium-dbg ($total packages)"
  t0=$SECONDS
  (cd "$dst.tmp/src" && go build -mod=mod -v -tags osusergo -trimpath \
    -ldflags "-s -w -X 'github.com/cilium/cilium/pkg/version.ciliumVersion=$ver_str'" \
    -o "$dst.tmp/bin/" ./daemon ./cilium-dbg) 2>"$dst.tmp/build.log" &
  gb=$!
  while kill -0 "$gb" 2>/dev/null; do
    for _ in $(seq 1 20); do kill -0 "$gb" 2>/dev/null && sleep 1; done
    kill -0 "$gb" 2>/dev/null || break
    log "  ... $(grep -vc '^go: ' "$dst.tmp/build.log" || true) of at most $total packages compiled, $((SECONDS - t0)) s"
  done
  if ! wait "$gb"; then
    grep -v '^[a-zA-Z0-9._/-]*$' "$dst.tmp/build.log" | tail -n 30 >&2 || true
    die "building Cilium $v failed (log: $dst.tmp/build.log)"
  fi
  mv "$dst.tmp/bin/daemon" "$dst.tmp/bin/cilium-agent"
  rm -rf "$dst"
  mv "$dst.tmp" "$dst"
  log "($step/${#missing[@]}) Cilium $v built in $((SECONDS - t0)) s"
done
log "Cilium agents ${*} ready in $cache"
