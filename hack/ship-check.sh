#!/usr/bin/env bash
# ship-check: proves kubectl-kpr ships as a kubectl plugin, with the real
# tools (called by `make ship-check` and .ci/run):
#   1. goreleaser check; goreleaser release --snapshot --clean (all six
#      platforms, nothing uploaded);
#   2. plugins/krew.yaml rendered for the snapshot's archives (real sha256)
#      agrees with GoReleaser's dist/krew/kpr.yaml, and validate-krew-manifest
#      passes on both (the rendered one with a full install of every platform,
#      served from 127.0.0.1);
#   3. `kubectl krew install --manifest --archive` into a temporary KREW_ROOT,
#      then `kubectl kpr version`, `kubectl plugin list` and `kubectl kpr <TAB>`
#      (through kubectl_complete-kpr) via kubectl's own plugin handling.
# Tools are pinned and built once from the Go module proxy into
# $KPR_TOOLS_CACHE (default ~/.cache/kubectl-kpr/tools); later runs reuse them.
# No network beyond the Go module proxy and 127.0.0.1.
set -euo pipefail

GORELEASER_VERSION=v2.15.1
KREW_VERSION=v0.4.3
KUBECTL_MODULE_VERSION=v0.37.2 # k8s.io/kubectl, i.e. kubectl v1.37.2 (hack/tools/kubectl/go.mod)
KUBECTL_VERSION=v1.37.2

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
tools="${KPR_TOOLS_CACHE:-$HOME/.cache/kubectl-kpr/tools}"
export CGO_ENABLED=0 GOFLAGS=-trimpath

log() { printf '[ship-check] %s\n' "$*" >&2; }
fail() { printf '[ship-check] FAIL: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# install_tool DIR CMD...: runs CMD with GOBIN=DIR.tmp unless DIR exists, then
# renames it into place, so an interrupted build never looks finished.
install_tool() {
  local dir="$1"; shift
  [ -d "$dir" ] && return 0
  log "building $(basename "$dir") (first run only)"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  GOBIN="$dir.tmp" "$@"
  mv "$dir.tmp" "$dir"
}

for f in LICENSE README.md kubectl_complete-kpr; do
  [ -f "$f" ] || fail "$f is missing: every release archive includes it"
done

start=$(now)
t=$(now)
goreleaser_dir="$tools/goreleaser-$GORELEASER_VERSION"
install_tool "$goreleaser_dir" go install "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION"
krew_dir="$tools/krew-$KREW_VERSION"
install_tool "$krew_dir" sh -c "go install sigs.k8s.io/krew/cmd/krew@$KREW_VERSION sigs.k8s.io/krew/cmd/validate-krew-manifest@$KREW_VERSION && mv \"\$GOBIN/krew\" \"\$GOBIN/kubectl-krew\""
# kubectl: the lab's build of the same version if it exists, else our own.
kubectl_dir="$tools/kubectl-$KUBECTL_VERSION"
lab_kubectl="$HOME/.cache/kubectl-kpr/lab/$KUBECTL_VERSION/bin/kubectl"
if [ ! -x "$kubectl_dir/kubectl" ] && [ -x "$lab_kubectl" ]; then
  mkdir -p "$kubectl_dir" && cp "$lab_kubectl" "$kubectl_dir/kubectl"
fi
ver_pkg=k8s.io/component-base/version
install_tool "$kubectl_dir" sh -c "cd hack/tools/kubectl && go build -ldflags '-s -w -X $ver_pkg.gitVersion=$KUBECTL_VERSION -X $ver_pkg.gitMajor=1 -X $ver_pkg.gitMinor=37' -o \"\$GOBIN/kubectl\" ."
grep -q "k8s.io/kubectl $KUBECTL_MODULE_VERSION" hack/tools/kubectl/go.mod || fail "hack/tools/kubectl/go.mod does not pin k8s.io/kubectl $KUBECTL_MODULE_VERSION"
goreleaser="$goreleaser_dir/goreleaser"
log "tools ready in $(since "$t")"

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
# A PATH with only what the checks need: no stray kubectl-kpr or kubectl.
base_path="$kubectl_dir:$krew_dir:$(dirname "$(command -v go)"):/usr/local/bin:/usr/bin:/bin"
export KUBECONFIG="$tmp/kubeconfig" KREW_NO_UPGRADE_CHECK=1
: >"$KUBECONFIG"

# --- 1. GoReleaser ---------------------------------------------------------
t=$(now)
"$goreleaser" check
"$goreleaser" release --snapshot --clean
log "goreleaser release --snapshot: $(since "$t")"

go build -o "$tmp/krew-manifest" ./hack/krew-manifest
tag="$("$tmp/krew-manifest" metadata dist/metadata.json tag)"
version="$("$tmp/krew-manifest" metadata dist/metadata.json version)"
goos="$(go env GOOS)" goarch="$(go env GOARCH)"
archive="dist/kubectl-kpr_${tag}_${goos}_${goarch}.tar.gz"
[ -f "$archive" ] || fail "no archive $archive in dist/"
for f in LICENSE README.md kubectl_complete-kpr kubectl-kpr; do
  tar -tzf "$archive" | grep -x "$f" >/dev/null || fail "$archive lacks $f"
done
(cd dist && sha256sum -c checksums.txt >/dev/null) || fail "dist/checksums.txt does not match the archives"
log "snapshot $version (tag $tag): $(ls dist/*.tar.gz dist/*.zip | wc -l) archives, checksums OK"

# --- 2. krew manifests -----------------------------------------------------
t=$(now)
mkdir -p "$tmp/released" "$tmp/local"
"$tmp/krew-manifest" render -template plugins/krew.yaml -tag "$tag" -dist dist >"$tmp/released/kpr.yaml"
"$tmp/krew-manifest" compare "$tmp/released/kpr.yaml" dist/krew/kpr.yaml
log "plugins/krew.yaml rendered for $tag equals GoReleaser's dist/krew/kpr.yaml (uri, sha256, bin, selectors, texts)"
PATH="$base_path" validate-krew-manifest -manifest dist/krew/kpr.yaml -skip-install

"$tmp/krew-manifest" serve -dir dist >"$tmp/server-url" &
server_pid=$!
for _ in $(seq 50); do [ -s "$tmp/server-url" ] && break; sleep 0.1; done
base_url="$(cat "$tmp/server-url")"
case "$base_url" in http://127.0.0.1:*) ;; *) fail "archive server did not start on 127.0.0.1 ($base_url)" ;; esac
"$tmp/krew-manifest" render -template plugins/krew.yaml -tag "$tag" -dist dist -base-url "$base_url" >"$tmp/local/kpr.yaml"
# Installs every platform (KREW_OS/KREW_ARCH) from the local server and
# checks each installation has a LICENSE.
PATH="$base_path" validate-krew-manifest -manifest "$tmp/local/kpr.yaml"
log "validate-krew-manifest: $(since "$t")"

# --- 3. krew install + kubectl plugin discovery -----------------------------
t=$(now)
export KREW_ROOT="$tmp/krew"
PATH="$base_path" kubectl krew install --manifest="$tmp/local/kpr.yaml" --archive="$archive"
mkdir -p "$tmp/shim"
tar -xzf "$archive" -C "$tmp/shim" kubectl_complete-kpr
plugin_path="$KREW_ROOT/bin:$tmp/shim:$base_path"

out="$(PATH="$plugin_path" kubectl kpr version)"
printf '%s\n' "$out"
case "$out" in "kubectl-kpr $version "*) ;; *) fail "kubectl kpr version printed \"$out\", want version $version" ;; esac
PATH="$plugin_path" kubectl kpr version -o json | grep "\"version\": *\"$version\"" >/dev/null || fail "kubectl kpr version -o json lacks version $version"
[ "$(PATH="$plugin_path" kubectl kpr --version)" = "kubectl-kpr $version" ] || fail "kubectl kpr --version does not print kubectl-kpr $version"

list="$(PATH="$plugin_path" kubectl plugin list 2>&1)"
printf '%s\n' "$list"
grep -qx "$KREW_ROOT/bin/kubectl-kpr" <<<"$list" || fail "kubectl plugin list does not show $KREW_ROOT/bin/kubectl-kpr"

# kubectl runs kubectl_complete-kpr from PATH for `kubectl kpr <TAB>`.
comp="$(PATH="$plugin_path" kubectl __complete kpr "" 2>/dev/null)"
for want in status version completion; do
  grep -q "^$want" <<<"$comp" || fail "kubectl __complete kpr \"\" lacks $want: $comp"
done
comp="$(PATH="$plugin_path" kubectl __complete kpr completion "" 2>/dev/null)"
grep -qx "zsh" <<<"$comp" || fail "kubectl __complete kpr completion \"\" lacks zsh: $comp"
log "krew install + kubectl plugin discovery + completion: $(since "$t")"

log "OK in $(since "$start")"
