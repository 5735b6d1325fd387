#!/usr/bin/env bash
# `make test`'s end-to-end half: bring the lab up, run the e2e tests, and
# always take the lab down again (trap), also when something fails; then
# check that lab-down left nothing behind. Exit status: the first failure.
set -uo pipefail
cd "$(dirname "$0")/.."
make="${MAKE:-make}"
status=0

teardown() {
  local rc=$?
  [ $status -ne 0 ] || status=$rc
  trap - EXIT INT TERM
  $make --no-print-directory lab-down || { [ $status -ne 0 ] || status=1; }
  KPR_E2E_AFTER_LABDOWN=1 go test -count=1 -run '^TestLabDownLeftNothing$' ./test/e2e/ ||
    { [ $status -ne 0 ] || status=1; }
  exit $status
}
trap teardown EXIT
trap 'status=130; exit 130' INT TERM

$make --no-print-directory lab-up || { status=$?; exit $status; }
$make --no-print-directory e2e || { status=$?; exit $status; }
