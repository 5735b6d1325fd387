#!/usr/bin/env bash
# Installs the Debian packages `make unit`, `make test` and `make demo` need,
# only when something is missing (checked with command -v / dpkg-query first;
# a machine that has everything runs no apt-get at all):
#
#   hack/test-deps.sh unit   what the unit tests run: chromium (the HTML
#                            report tests, headless), libxml2-utils (xmllint:
#                            --junit against the JUnit schema), curl and
#                            ca-certificates (hack/junit-xsd.sh, the probe
#                            script test), gcc and libc6-dev (go test -race
#                            needs cgo); as root also iproute2, iptables and
#                            nftables (lab/standin's network-namespace tests,
#                            which skip only for non-root)
#   hack/test-deps.sh demo   what the lab needs beyond lab/lab.sh's own set:
#                            clang-19 and llvm-19 (the real Cilium agents
#                            compile their BPF programs at run time)
#   hack/test-deps.sh [test] both
#
# With demo/test it also makes a private bin dir,
# ${KPR_TOOLS_CACHE:-~/.cache/kubectl-kpr/tools}/bin, with clang, llc,
# llvm-objcopy... symlinked to /usr/lib/llvm-19/bin, and prints its path on
# stdout, for the lab to put first on the agents' PATH (the system PATH dirs
# are left alone). Messages go to stderr.
#
# Measured on Debian bookworm, 2 cores: chromium, libxml2-utils, iptables
# and nftables with apt-get update, 50 s; clang-19 and llvm-19, about 17 s;
# nothing missing, 0.3 s.
set -euo pipefail

mode="${1:-test}"
case "$mode" in
unit | demo | test) ;;
*) echo "usage: $0 [unit|demo|test]" >&2; exit 2 ;;
esac

log() { printf '[test-deps] %s\n' "$*" >&2; }
root=false
[ "$(id -u)" = 0 ] && root=true
llvm=/usr/lib/llvm-19/bin

missing=() why=()
# need PACKAGE WHY CHECK...: PACKAGE is missing unless one CHECK (a command
# on PATH, or an absolute path) is there or dpkg has it installed.
need() {
  local pkg="$1" reason="$2" c
  shift 2
  for c in "$@"; do
    if [[ $c == /* ]]; then [ -e "$c" ] && return 0; else command -v "$c" >/dev/null && return 0; fi
  done
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' && return 0
  missing+=("$pkg")
  why+=("$pkg ($reason)")
}

if [ "$mode" != demo ]; then
  # internal/browser.Find's names; KPR_CHROMIUM points at another browser.
  # KPR_SKIP_BROWSER=1 (`make unit` only; `make test` clears it) skips the
  # browser tests, so Chromium is not needed then.
  if [ "${KPR_SKIP_BROWSER:-}" = 1 ]; then
    log "KPR_SKIP_BROWSER=1: not checking for Chromium, the HTML report browser tests will skip"
  else
    need chromium "headless browser for the HTML report tests" ${KPR_CHROMIUM:+"$KPR_CHROMIUM"} chromium chromium-browser google-chrome google-chrome-stable
  fi
  need libxml2-utils "xmllint for the JUnit schema tests" xmllint
  need curl "hack/junit-xsd.sh, the probe script test" curl
  need ca-certificates "HTTPS for hack/junit-xsd.sh" /etc/ssl/certs/ca-certificates.crt
  need gcc "cgo for go test -race" gcc
  need libc6-dev "cgo for go test -race" /usr/include/stdio.h
  if $root; then
    need iproute2 "lab/standin's netns tests" ip
    need iptables "lab/standin's netns tests" iptables-restore
    need nftables "lab/standin's netns tests" nft
  fi
fi
if [ "$mode" != unit ]; then
  need clang-19 "the lab's Cilium agents compile BPF at run time" "$llvm/clang"
  need llvm-19 "the lab's Cilium agents compile BPF at run time" "$llvm/llc"
fi

if [ ${#missing[@]} -gt 0 ]; then
  if ! $root; then
    log "error: missing Debian packages ${missing[*]}: run 'sudo $0 $mode' (or 'sudo apt-get install --no-install-recommends ${missing[*]}')"
    exit 1
  fi
  command -v apt-get >/dev/null || { log "error: missing ${missing[*]} and no apt-get to install them"; exit 1; }
  log "installing Debian packages: ${why[*]}"
  t0=$SECONDS
  # Other apt runs on the machine: wait for the dpkg lock instead of failing.
  apt=(apt-get -qq -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
  export DEBIAN_FRONTEND=noninteractive
  "${apt[@]}" update
  "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null
  log "installed ${missing[*]} in $((SECONDS - t0)) s"
fi

if [ "$mode" != unit ]; then
  bin="${KPR_TOOLS_CACHE:-$HOME/.cache/kubectl-kpr/tools}/bin"
  mkdir -p "$bin"
  for t in clang llc opt llvm-objcopy llvm-objdump llvm-strip llvm-readelf llvm-ar llvm-nm llvm-link llvm-dis llvm-mc; do
    [ -x "$llvm/$t" ] || continue
    [ "$(readlink "$bin/$t" 2>/dev/null)" = "$llvm/$t" ] || ln -sfn "$llvm/$t" "$bin/$t"
  done
  [ -x "$bin/clang" ] || { log "error: $bin/clang does not run ($llvm/clang missing)"; exit 1; }
  echo "$bin"
fi
