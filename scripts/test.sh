#!/usr/bin/env bash
# The whole nixherd test suite, on a fresh Debian machine as root.
# Installs what the tests need (nix-bin, openssh-server, age, prometheus, chromium) when missing,
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
# Test hosts with real systemd as process 1 (never booted on this machine's
# own root: see internal/testhost/systemd.go).
[ -x /lib/systemd/systemd ] && command -v systemd-run >/dev/null 2>&1 || need+=(systemd)
command -v dbus-daemon >/dev/null 2>&1 || need+=(dbus)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)  # scrapes the pull agents in one test
command -v chromium >/dev/null 2>&1 || need+=(chromium)  # sees the dashboard as a person does (internal/testbrowser)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing ${need[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "test.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Installed packages must not start their services on this machine (dbus,
  # systemd and prometheus would try): policy-rc.d says no while apt runs.
  policy=/usr/sbin/policy-rc.d own_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
  fi
  rc=0
  { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; } || rc=$?
  [ -z "$own_policy" ] || rm -f "$policy"
  [ $rc -eq 0 ] || exit $rc
fi
export PATH="$PATH:/usr/sbin:/sbin"

# A pass must be a pass on a fresh machine: the suite runs with an empty Nix
# store, whatever earlier runs left in this machine's /nix. The script runs
# itself again in a private mount namespace with a new directory over /nix
# (Debian's nix lives in /usr/bin, so it keeps working) and a new cache
# directory for nix (its fetcher and evaluation caches); both are removed
# afterwards and the machine's /nix is never touched.
if [ -z "${NIXHERD_FRESH_STORE:-}" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: run as root: the suite needs an empty private /nix, test hosts and namespaces" >&2
    exit 1
  fi
  # Stores of runs that were killed before they could remove theirs.
  for old in /var/tmp/nixherd-test-store.*; do
    [ -f "$old/pid" ] && ! kill -0 "$(cat "$old/pid")" 2>/dev/null && rm -rf "$old"
  done
  fresh=$(mktemp -d /var/tmp/nixherd-test-store.XXXXXX)
  trap 'rm -rf "$fresh"' EXIT
  echo $$ >"$fresh/pid"
  mkdir -p /nix "$fresh/nix" "$fresh/cache"
  rc=0
  NIXHERD_FRESH_STORE=$fresh unshare --mount --propagation private -- "$0" "$@" || rc=$?
  exit $rc
fi
mount --bind "$NIXHERD_FRESH_STORE/nix" /nix
if [ -n "$(ls -A /nix)" ]; then
  echo "test.sh: /nix is not empty after mounting a fresh store over it" >&2
  exit 1
fi
export GOCACHE="$(go env GOCACHE)"  # keep Go's build cache: only nix's caches start empty
export XDG_CACHE_HOME="$NIXHERD_FRESH_STORE/cache"
echo "test.sh: running with an empty Nix store (private /nix over $NIXHERD_FRESH_STORE/nix)" >&2

# Nix without a daemon, as root, offline.
export NIX_CONFIG=$'experimental-features = nix-command flakes\nsandbox = false\nbuild-users-group =\nsubstituters ='
# Tests that need nix, ssh or age fail instead of skipping when this is set.
export NIXHERD_REQUIRE_TOOLS=1
# Screenshots of the dashboard and other files kept for people to look at.
export NIXHERD_ARTIFACTS=${NIXHERD_ARTIFACTS:-$PWD/test-artifacts}
git config --global user.email >/dev/null 2>&1 || git config --global user.email "ci@nixherd.invalid"
git config --global user.name  >/dev/null 2>&1 || git config --global user.name "nixherd CI"

# go.mod says exactly what the code imports (direct vs indirect included).
go mod tidy -diff
go vet ./...
go test -count=1 -timeout 20m "$@" ./...

# Each fuzz target ran its seed corpus above as a plain test; on a full run
# it also fuzzes for a few seconds (NIXHERD_FUZZTIME, default 5s; 0 skips),
# so every run tries new inputs. A crash fails the suite and is saved under
# the package's testdata/fuzz, where it becomes a seed.
fuzztime=${NIXHERD_FUZZTIME:-5s}
if [ $# -eq 0 ] && [ "$fuzztime" != 0 ]; then
  while read -r file; do
    for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
      echo "test.sh: fuzzing $target for $fuzztime" >&2
      go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "./$(dirname "$file")"
    done
  done < <(grep -rl --include='*_test.go' '^func Fuzz' internal cmd | sort)
fi
