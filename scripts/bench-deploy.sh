#!/usr/bin/env bash
# Measures `nixherd deploy` on 16 simulated hosts on this machine (private
# mount/pid namespaces with their own sshd and /nix store, see
# internal/testhost) and prints one `bench: name=value` line per figure:
#
#   fanout                   changed closure to 16 hosts ÷ to 1 host (goal: close to 1)
#   overhead                 nixherd ÷ nix build + parallel nix copy + ssh switch by hand
#   overhead_no_rollback     the same with nixherd deploy --no-rollback
#   noop_s                   seconds to redeploy 16 hosts with nothing changed
#   noop_vs_ssh_true         that ÷ one `ssh HOST true` per host in parallel
#   evals                    nix evaluations of the fleet in one deploy of 16 hosts
#   ssh_handshakes_per_host  sshd logins per host in that deploy
#
# Needs root (namespaces), nix and sshd; no network.
#
#   scripts/bench-deploy.sh [HOSTS] [PAYLOAD_BYTES]
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=${1:-16}
payload=${2:-4194304}
if [ "$(id -u)" -ne 0 ]; then
  echo "bench-deploy: run as root (the test hosts are Linux namespaces)" >&2
  exit 1
fi
export PATH="$PATH:/usr/sbin:/sbin"
export NIX_CONFIG=${NIX_CONFIG:-$'experimental-features = nix-command flakes\nsandbox = false\nbuild-users-group =\nsubstituters ='}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/nixherd" ./cmd/nixherd
go build -o "$work/benchdeploy" ./scripts/benchdeploy
"$work/benchdeploy" -nixherd "$work/nixherd" -hosts "$hosts" -payload "$payload"
