#!/usr/bin/env bash
# Runs nixherd's fault-injection tests (internal/faults: real deploys to test
# hosts while sshd dies, the network is cut, activations and health checks
# fail, the deployer is interrupted or killed) N times in a row and prints
# how many runs passed. Timing bugs show up as a pass count below N.
# Needs root, nix, sshd and iproute2, like scripts/test.sh.
#
# Usage: scripts/fault-suite.sh [N]   (default 10)
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
case $n in '' | *[!0-9]*) echo "usage: $0 [N]" >&2; exit 2 ;; esac
export PATH="$PATH:/usr/sbin:/sbin"
export NIX_CONFIG=${NIX_CONFIG:-$'experimental-features = nix-command flakes\nsandbox = false\nbuild-users-group =\nsubstituters ='}
export NIXHERD_REQUIRE_TOOLS=1

log=$(mktemp -d "${TMPDIR:-/tmp}/nixherd-fault-suite.XXXXXX")
go test -c -o "$log/faults.test" ./internal/faults || exit 1
passed=0
for i in $(seq 1 "$n"); do
  start=$(date +%s)
  if (cd internal/faults && "$log/faults.test" -test.count=1 -test.v >"$log/run-$i.log" 2>&1); then
    passed=$((passed + 1))
    echo "run $i: pass ($(( $(date +%s) - start ))s)"
  else
    echo "run $i: FAIL ($(( $(date +%s) - start ))s), log: $log/run-$i.log"
    grep -E '^\s*--- FAIL' "$log/run-$i.log" | sed 's/^/  /'
  fi
done
echo "fault suite: $passed/$n runs passed"
[ "$passed" -eq "$n" ] && rm -rf "$log"
[ "$passed" -eq "$n" ]
