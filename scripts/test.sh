#!/usr/bin/env bash
# The whole nixherd test suite, on a fresh Debian machine as root.
# Installs what the tests need (nix-bin, openssh-server, age) when missing,
# sets up Nix for offline single-user use, then runs every Go test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nix >/dev/null 2>&1 || need+=(nix-bin)
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v age >/dev/null 2>&1 || need+=(age)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v git >/dev/null 2>&1 || need+=(git)
command -v sudo >/dev/null 2>&1 || need+=(sudo)  # test hosts' non-root deploy user
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing ${need[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "test.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin:/sbin"

# Nix without a daemon, as root, offline.
export NIX_CONFIG=$'experimental-features = nix-command flakes\nsandbox = false\nbuild-users-group =\nsubstituters ='
# Tests that need nix, ssh or age fail instead of skipping when this is set.
export NIXHERD_REQUIRE_TOOLS=1
git config --global user.email >/dev/null 2>&1 || git config --global user.email "ci@nixherd.invalid"
git config --global user.name  >/dev/null 2>&1 || git config --global user.name "nixherd CI"

# go.mod says exactly what the code imports (direct vs indirect included).
go mod tidy -diff
go vet ./...
go test -count=1 -timeout 20m "$@" ./...
