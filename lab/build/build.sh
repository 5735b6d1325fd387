#!/usr/bin/env bash
# Builds every binary the lab runs, at the versions pinned in versions.env,
# into $KPR_LAB_CACHE (default ~/.cache/kubectl-kpr/lab/<kube version>).
# A binary already in the cache is kept, so a warm run takes well under a
# second. Cold on 2 cores: 317 s measured (kube-apiserver dominates).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"
cache="${KPR_LAB_CACHE:-$HOME/.cache/kubectl-kpr/lab/$KUBE_VERSION}"
bin="$cache/bin"
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

log() { printf '[lab-build] %s\n' "$*" >&2; }

# want NAME: true when NAME is missing from the cache (or, for etcd, is
# another release than the pinned one: the cache is keyed by the
# Kubernetes version only).
want() {
  [ ! -x "$bin/$1" ] && return 0
  [ "$1" = etcd ] && ! "$bin/etcd" --version 2>/dev/null | grep -qx "etcd Version: ${ETCD_VERSION#v}" && return 0
  return 1
}

# The server must report a real version: kubectl cannot parse the default
# "v0.0.0-master+$Format:%H$".
minor="${KUBE_VERSION#v*.}"; minor="${minor%%.*}"
major="${KUBE_VERSION#v}"; major="${major%%.*}"
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  kube_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# Say up front what a first run costs, and count the steps as they go.
missing=()
for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl etcd kwok; do
  want "$c" && missing+=("$c")
done
# etcd (cmd/etcd) and kwok (a tool dependency) are built in the kube
# module too (gen-gomod.sh), with the same modules as the control plane.
kube_missing=()
for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl etcd kwok; do
  want "$c" && kube_missing+=("$c")
done
steps=0
[ ${#kube_missing[@]} -eq 0 ] || steps=$((steps + 1))
step=0
next() { step=$((step + 1)); log "($step/$steps) $*"; }
if want kube-apiserver; then
  log "first run: building ${#missing[@]} binaries from source (${missing[*]}) in one go build: about 5-6 minutes on 2 cores" \
    "(measured 317 s in a cold make demo on 2 cores, module and build caches empty; kube-apiserver is most of it);" \
    "cached in $bin, later runs take seconds"
elif [ ${#missing[@]} -gt 0 ]; then
  log "building ${#missing[@]} missing binaries (${missing[*]}) into $bin"
fi

# All missing Kubernetes binaries in ONE go build: one action graph, so
# the packages they share compile once and the links overlap, instead of
# five builds in a row each with a serial tail. `go build -v` names each
# package as it compiles; counting those against `go list -deps` gives the
# progress line, printed every 20 s instead of a silent wait.
if [ ${#kube_missing[@]} -gt 0 ]; then
  next "building ${kube_missing[*]} (Kubernetes $KUBE_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION) in one go build"
  got_kwok="$(cd "$here/kube" && go list -m -f '{{.Version}}' sigs.k8s.io/kwok)"
  [ "$got_kwok" = "$KWOK_VERSION" ] || {
    log "error: lab/build/kube/go.mod has kwok $got_kwok, versions.env says $KWOK_VERSION: run lab/build/kube/gen-gomod.sh"
    exit 1
  }
  pkgs=()
  for c in "${kube_missing[@]}"; do
    case "$c" in
    kwok) pkgs+=(sigs.k8s.io/kwok/cmd/kwok) ;;
    *) pkgs+=("./cmd/$c") ;;
    esac
  done
  tmp="$(mktemp -d "$bin/.kube-build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  total="$(cd "$here/kube" && go list -deps "${pkgs[@]}" | wc -l)"
  (cd "$here/kube" && go build -v -trimpath -ldflags "$kube_ldflags" -o "$tmp/" "${pkgs[@]}") 2>"$tmp/log" &
  gb=$!
  t0=$SECONDS
  while kill -0 "$gb" 2>/dev/null; do
    for _ in $(seq 1 20); do kill -0 "$gb" 2>/dev/null && sleep 1; done
    kill -0 "$gb" 2>/dev/null || break
    # Module downloads print "go: downloading ..."; the rest are packages.
    done_pkgs="$(grep -vc '^go: ' "$tmp/log" || true)"
    log "  ... $done_pkgs of at most $total packages compiled, $((SECONDS - t0)) s (already cached ones are not counted)"
  done
  if ! wait "$gb"; then
    grep -v '^[a-zA-Z0-9._/-]*$' "$tmp/log" | tail -n 30 >&2 || true
    log "error: building ${kube_missing[*]} failed (the full log was $tmp/log)"
    exit 1
  fi
  for c in "${kube_missing[@]}"; do mv "$tmp/$c" "$bin/$c"; done
  log "  built ${kube_missing[*]} in $((SECONDS - t0)) s"
fi

# kwok's own stage definitions (pod/node lifecycles, heartbeats), from the
# same module version.
if [ ! -d "$cache/kwok-stages" ]; then
  kdir="$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')"
  mkdir -p "$cache/kwok-stages.tmp"
  for s in node/fast node/heartbeat pod/fast; do
    for f in "$kdir/kustomize/stage/$s"/*.yaml; do
      case "$(basename "$f")" in kustomization.yaml) continue ;; esac
      cp "$f" "$cache/kwok-stages.tmp/$(echo "$s" | tr / -)-$(basename "$f")"
    done
  done
  chmod -R u+w "$cache/kwok-stages.tmp"
  mv "$cache/kwok-stages.tmp" "$cache/kwok-stages"
fi

# The REAL portmap CNI plugin (hostPort on LAB_PORTMAP_NODES), from
# github.com/containernetworking/plugins through the Go module proxy, its
# own module (no replace lines: `go install pkg@version` builds it as
# released). Cached by version: about 5 s cold.
cni_bin="$cache/cni/$CNI_PLUGINS_VERSION"
if [ ! -x "$cni_bin/portmap" ]; then
  log "building the portmap CNI plugin (containernetworking/plugins $CNI_PLUGINS_VERSION) into $cni_bin"
  mkdir -p "$cni_bin"
  GOBIN="$cni_bin" go install -trimpath -ldflags "-s -w" \
    "github.com/containernetworking/plugins/plugins/meta/portmap@$CNI_PLUGINS_VERSION"
fi

log "binaries ready in $bin"
