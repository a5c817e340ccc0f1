#!/usr/bin/env bash
# Prints the vendorHash of nixherd's flake.nix: the NAR hash of what
# `go mod vendor` writes for go.sum's modules, as buildGoModule computes it
# (it vendors in a fixed-output derivation and hashes the result). Run it
# after go.mod changes and put the hash in flake.nix; TestFlake fails while
# flake.nix has a stale one. Uses the module cache (GOPROXY=off): run
# `go mod download` first on a machine that has never built nixherd.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
GOFLAGS=-mod=mod GOPROXY=off go mod vendor -o "$out/vendor"
nix --extra-experimental-features nix-command hash path "$out/vendor"
