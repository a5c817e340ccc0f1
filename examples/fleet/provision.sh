#!/usr/bin/env bash
# Legacy provisioning, largely superseded by the flake: the first switch of a
# machine that has Nix but not yet its configuration. Afterwards use
# darwin-rebuild / nixos-rebuild (or nixherd) directly.
#
#   ./provision.sh [MACHINE]    MACHINE defaults to this host's short name
set -euo pipefail
cd "$(dirname "$0")"

machine=${1:-$(hostname -s)}
features=(--extra-experimental-features 'nix-command flakes')

if ! command -v nix >/dev/null 2>&1; then
  echo "provision.sh: Nix is not installed; install it first (https://nixos.org/download)" >&2
  exit 1
fi

case "$(uname -s)" in
Darwin)
  # nix-darwin is not installed yet: run its darwin-rebuild from the flake.
  sudo nix "${features[@]}" run nix-darwin/nix-darwin-25.05#darwin-rebuild -- switch --flake ".#$machine"
  ;;
Linux)
  sudo nixos-rebuild switch --flake ".#$machine"
  ;;
*)
  echo "provision.sh: unsupported system $(uname -s)" >&2
  exit 1
  ;;
esac
