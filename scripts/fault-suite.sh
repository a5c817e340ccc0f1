#!/usr/bin/env bash
# Runs nixherd's fault-injection tests (internal/faults: real deploys to test
# hosts while sshd dies, the network is cut, activations and health checks
# fail or hang, the deployer is interrupted or killed) N times in a row and
# prints how many runs passed on each kind of test host: "sshd" hosts (a
# shell supervises sshd) and "systemd" hosts (real systemd as process 1, as
# on NixOS, where the watchdog takes its systemd-run branch). Both kinds run
# side by side in every run; KIND restricts the runs to one of them. Timing
# bugs show up as a pass count below N.
# Needs root, nix, sshd, iproute2, systemd and dbus, like scripts/test.sh.
#
# Usage: scripts/fault-suite.sh [N [KIND]]   (default 10, both kinds)
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
case $n in '' | *[!0-9]*) echo "usage: $0 [N [sshd|systemd]]" >&2; exit 2 ;; esac
kinds="sshd systemd"
run=()
case ${2:-} in
'') ;;
sshd | systemd) kinds=$2 run=(-test.run "/$2") ;;
*) echo "usage: $0 [N [sshd|systemd]]" >&2; exit 2 ;;
esac
export PATH="$PATH:/usr/sbin:/sbin"
export NIX_CONFIG=${NIX_CONFIG:-$'experimental-features = nix-command flakes\nsandbox = false\nbuild-users-group =\nsubstituters ='}
export NIXHERD_REQUIRE_TOOLS=1

log=$(mktemp -d "${TMPDIR:-/tmp}/nixherd-fault-suite.XXXXXX")
go test -c -o "$log/faults.test" ./internal/faults || exit 1
declare -A passed
for k in $kinds; do passed[$k]=0; done
all=0 total=0
for i in $(seq 1 "$n"); do
  start=$(date +%s)
  (cd internal/faults && "$log/faults.test" -test.count=1 -test.v "${run[@]}" >"$log/run-$i.log" 2>&1)
  rc=$?
  took=$(( $(date +%s) - start ))
  total=$((total + took))
  line="run $i (${took}s):"
  for k in $kinds; do
    # A kind fails when one of its subtests (TestX/KIND…) fails, or when
    # the run failed without naming a subtest (a panic, a timeout).
    if grep -qE "^\s*--- FAIL: Test[^ /]+/$k( |/)" "$log/run-$i.log" ||
      { [ $rc -ne 0 ] && ! grep -qE '^\s*--- FAIL: Test[^ /]+/' "$log/run-$i.log"; }; then
      line="$line $k FAIL"
    else
      passed[$k]=$((passed[$k] + 1))
      line="$line $k pass"
    fi
  done
  if [ $rc -eq 0 ]; then
    all=$((all + 1))
  else
    line="$line; log: $log/run-$i.log"
  fi
  echo "$line"
  [ $rc -eq 0 ] || grep -E '^\s*--- FAIL' "$log/run-$i.log" | sed 's/^/  /'
done
for k in $kinds; do
  echo "fault suite: $k hosts: ${passed[$k]}/$n runs passed"
done
echo "fault suite: $all/$n runs passed, $((total / n))s a run on average"
[ "$all" -eq "$n" ] && rm -rf "$log"
[ "$all" -eq "$n" ]
