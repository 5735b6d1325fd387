#!/usr/bin/env bash
# `make test`'s end-to-end half: bring the lab up, run the e2e tests, and
# always take the lab down again (trap), also when something fails; then
# check that lab-down left nothing behind. Exit status: the first failure.
set -uo pipefail
cd "$(dirname "$0")/.."
make="${MAKE:-make}"
status=0
global=""

teardown() {
  local rc=$?
  [ $status -ne 0 ] || status=$rc
  trap - EXIT INT TERM
  $make --no-print-directory lab-down || { [ $status -ne 0 ] || status=1; }
  KPR_E2E_AFTER_LABDOWN=1 KPR_E2E_GLOBAL_STATE="$global" go test -count=1 -run '^TestLabDownLeftNothing$' ./test/e2e/ ||
    { [ $status -ne 0 ] || status=1; }
  exit $status
}
trap teardown EXIT
trap 'status=130; exit 130' INT TERM

# The machine's global state before the lab exists (sysctls, root mounts,
# links, ip_forward): TestLabDownLeftNothing compares after lab-down.
global="$(mktemp /tmp/kpr-global-state.XXXXXX)"
KPR_E2E_BEFORE_LABUP=1 KPR_E2E_GLOBAL_STATE="$global" go test -count=1 -run '^TestGlobalStateSnapshot$' ./test/e2e/ ||
  { status=1; exit 1; }
$make --no-print-directory lab-up || { status=$?; exit $status; }
$make --no-print-directory e2e || { status=$?; exit $status; }
