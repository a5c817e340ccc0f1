#!/usr/bin/env bash
# Times `nixherd check` on a generated fleet of 200 machines and 2,000 .nix
# files against the budget of one second, with two baselines measured in the
# same run over the same files: reading them (cat) and parsing them with
# nix-instantiate --parse (one process for all files).
#
#   scripts/bench-check.sh [MACHINES] [FILES]
set -euo pipefail
cd "$(dirname "$0")/.."
machines=${1:-200}
files=${2:-2000}
runs=5

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/nixherd" ./cmd/nixherd
go run ./scripts/genfleet -machines "$machines" -files "$files" "$work/fleet"
find "$work/fleet" -name '*.nix' -print0 >"$work/files"

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

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { print (b > 0 ? a / b : 0) }'; }

# The check must pass on the generated fleet, or the timing means nothing.
if ! "$work/nixherd" check --flake "$work/fleet" >"$work/out" 2>&1; then
  echo "bench-check: nixherd check failed on the generated fleet:" >&2
  head -20 "$work/out" >&2
  exit 1
fi

check=$(best "$work/nixherd" check --flake "$work/fleet")
cat_s=$(best sh -c "xargs -0 cat <'$work/files'")
export NIX_CONFIG=${NIX_CONFIG:-$'experimental-features = nix-command flakes'}
if command -v nix-instantiate >/dev/null; then
  parse=$(best sh -c "xargs -0 nix-instantiate --parse <'$work/files'")
else
  parse=""
fi

echo "fleet: $machines machines, $(tr -cd '\0' <"$work/files" | wc -c) .nix files (best of $runs runs)"
printf 'nixherd check                 %ss  (%.2f of the 1 s budget)\n' "$check" "$check"
printf 'cat of the files              %ss  (check / cat = %.1f)\n' "$cat_s" "$(ratio "$check" "$cat_s")"
if [ -n "$parse" ]; then
  printf 'nix-instantiate --parse       %ss  (check / parse = %.2f)\n' "$parse" "$(ratio "$check" "$parse")"
fi
