#!/usr/bin/env bash
# Parses the same Nix files with nixherd's parser (`nixherd parse --show`,
# which also prints each expression as Nix does) and with
# `nix-instantiate --parse`, each as one process over all files, in the same
# run, and prints the times and their ratio.
#
# The files: every corpus file of internal/nixlang that Nix accepts and
# every other .nix file of the repository, repeated ROUNDS times so that
# process start-up does not dominate. The corpus's deep-nesting stress files
# (10,000 nested parentheses) are timed separately: they say little about
# real Nix files.
#
#   scripts/bench-parse.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-50}
runs=5
export NIX_CONFIG=${NIX_CONFIG:-$'experimental-features = nix-command flakes\nsandbox = false\nbuild-users-group =\nsubstituters ='}
command -v nix-instantiate >/dev/null || { echo "bench-parse: nix-instantiate not found" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/nixherd" ./cmd/nixherd

# Only files both parsers accept, so both do the whole job.
: >"$work/one"
while IFS= read -r -d '' f; do
  if nix-instantiate --parse "$f" >/dev/null 2>&1; then printf '%s\0' "$f" >>"$work/one"; fi
done < <(find . -name '*.nix' -not -path './.git/*' -not -name 'err_*' -not -name '*deep*' -print0 | sort -z)
for _ in $(seq "$rounds"); do cat "$work/one"; done >"$work/files"
nfiles=$(tr -cd '\0' <"$work/one" | wc -c)
bytes=$(xargs -0 cat <"$work/one" | wc -c)
find ./internal/nixlang/testdata/corpus -name 'ok_*deep*.nix' -print0 | sort -z >"$work/deep"

if ! xargs -0 "$work/nixherd" parse --show <"$work/files" >/dev/null; then
  echo "bench-parse: nixherd rejected a file nix accepts" >&2
  exit 1
fi

# best of $runs wall-clock seconds of a command
best() {
  local best="" t0 t1 s
  for _ in $(seq "$runs"); do
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    if [ -z "$best" ] || awk -v s="$s" -v b="$best" 'BEGIN { exit !(s < b) }'; then best=$s; fi
  done
  printf '%.3f' "$best"
}

ours=$(best sh -c "xargs -0 '$work/nixherd' parse --show <'$work/files'")
theirs=$(best sh -c "xargs -0 nix-instantiate --parse <'$work/files'")
deep_ours=$(best sh -c "xargs -0 '$work/nixherd' parse --show <'$work/deep'")
deep_theirs=$(best sh -c "xargs -0 nix-instantiate --parse <'$work/deep'")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
echo "corpus: $nfiles files, $bytes bytes, parsed $rounds times each (best of $runs runs)"
printf 'nixherd parse --show       %ss\n' "$ours"
printf 'nix-instantiate --parse    %ss\n' "$theirs"
printf 'ratio nix / nixherd        %s (above 1: nixherd is faster)\n' "$(ratio "$theirs" "$ours")"
printf 'deep-nesting stress files: nixherd %ss, nix %ss, ratio %s\n' "$deep_ours" "$deep_theirs" "$(ratio "$deep_theirs" "$deep_ours")"

