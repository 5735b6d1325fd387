#!/usr/bin/env bash
# Builds every binary the lab runs, at the versions pinned in versions.env,
# into $KPR_LAB_CACHE (default ~/.cache/kubectl-kpr/lab/<kube version>).
# A binary already in the cache is kept, so a warm run takes well under a
# second. Cold on 2 cores: about 8 minutes (kube-apiserver dominates).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"
cache="${KPR_LAB_CACHE:-$HOME/.cache/kubectl-kpr/lab/$KUBE_VERSION}"
bin="$cache/bin"
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

log() { printf '[lab-build] %s\n' "$*" >&2; }

# want NAME: true when NAME is missing from the cache.
want() { [ ! -x "$bin/$1" ]; }

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
kube_missing=()
for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl; do
  want "$c" && kube_missing+=("$c")
done
steps=0
[ ${#kube_missing[@]} -eq 0 ] || steps=$((steps + 1))
want etcd && steps=$((steps + 1))
want kwok && steps=$((steps + 1))
step=0
next() { step=$((step + 1)); log "($step/$steps) $*"; }
if want kube-apiserver; then
  log "first run: building ${#missing[@]} binaries from source (${missing[*]}): about 8 minutes on 2 cores" \
    "(measured 507 s cold with an empty module cache; kube-apiserver is most of it); cached in $bin, later runs take seconds"
elif [ ${#missing[@]} -gt 0 ]; then
  log "building ${#missing[@]} missing binaries (${missing[*]}) into $bin"
fi

# All missing Kubernetes binaries in ONE go build: one action graph, so
# the packages they share compile once and the links overlap, instead of
# five builds in a row each with a serial tail. `go build -v` names each
# package as it compiles; counting those against `go list -deps` gives the
# progress line, printed every 20 s instead of a silent wait.
if [ ${#kube_missing[@]} -gt 0 ]; then
  next "building ${kube_missing[*]} $KUBE_VERSION (one go build)"
  pkgs=()
  for c in "${kube_missing[@]}"; do pkgs+=("./cmd/$c"); done
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

if want etcd; then
  next "building etcd $ETCD_VERSION"
  (cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" .)
  mv "$bin/etcd.tmp" "$bin/etcd"
fi

if want kwok; then
  next "installing kwok $KWOK_VERSION"
  # go install with an explicit version ignores any go.mod around it.
  (cd "$cache" && GOBIN="$bin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
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

log "binaries ready in $bin"
