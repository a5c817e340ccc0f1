#!/usr/bin/env bash
# Measures pull mode on 32 simulated hosts on this machine (private
# mount/pid namespaces with their own sshd and /nix store, see
# internal/testhost), each running `nixherd agent`, against a binary cache
# and a manifest served over HTTP on loopback, and the same fleet pushed
# with `nixherd deploy`. Prints one `bench: name=value` line per figure:
#
#   publish_fanout           nixherd publish of 32 hosts of one configuration ÷ of 1 host (goal ≤ 1.1)
#   publish_fanout_distinct  the same with 32 distinct configurations
#   pull_converge_s          seconds from the publish until every agent runs the release
#   push_deploy_s            seconds for nixherd deploy of the same fleet to the same hosts
#   pull_vs_push             pull_converge_s ÷ push_deploy_s
#
# Needs root (namespaces), nix and sshd; no network.
#
#   scripts/bench-pull.sh [HOSTS] [PAYLOAD_BYTES] [AGENT_INTERVAL]
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=${1:-32}
payload=${2:-1048576}
interval=${3:-2s}
if [ "$(id -u)" -ne 0 ]; then
  echo "bench-pull: run as root (the test hosts are Linux namespaces)" >&2
  exit 1
fi
export PATH="$PATH:/usr/sbin:/sbin"
export NIX_CONFIG=${NIX_CONFIG:-$'experimental-features = nix-command flakes\nsandbox = false\nbuild-users-group =\nsubstituters ='}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/nixherd" ./cmd/nixherd
go build -o "$work/benchpull" ./scripts/benchpull
"$work/benchpull" -nixherd "$work/nixherd" -hosts "$hosts" -payload "$payload" -interval "$interval"
