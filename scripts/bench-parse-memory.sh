#!/usr/bin/env bash
# Peak memory of parsing one large Nix file: nixherd's parser
# (`nixherd parse`) against `nix-instantiate --parse` on the same file, in
# the same run, and what nixherd allocates per byte of input (Go benchmark
# BenchmarkParseMemory).
#
# Two files of SIZE bytes (default 8 MiB, the most nixherd reads from one
# Nix file): a generated package set (small attribute sets of strings,
# lists and selections) and a list of one-digit numbers (the most tokens a
# byte of Nix can hold). Needs go, nix-instantiate and GNU time.
#
#   scripts/bench-parse-memory.sh [SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-8388608}
export NIX_CONFIG=${NIX_CONFIG:-$'experimental-features = nix-command flakes\nsandbox = false\nbuild-users-group =\nsubstituters ='}
command -v nix-instantiate >/dev/null || { echo "bench-parse-memory: nix-instantiate not found" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench-parse-memory: GNU time (/usr/bin/time) not found" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/nixherd" ./cmd/nixherd

awk -v size="$size" 'BEGIN {
  out = "rec {\n"; n = length(out); printf "%s", out
  for (i = 0; ; i++) {
    line = sprintf("  pkg%d = { name = \"pkg-%d\"; version = \"1.%d.%d\"; deps = [ pkg%d.name \"x%d\" %d ]; meta.description = \"A package number %d with some text\"; };\n", i, i, i % 97, i % 13, (i > 0 ? i - 1 : 0), i, i, i)
    if (n + length(line) + 2 > size) break
    printf "%s", line; n += length(line)
  }
  printf "}\n"
}' >"$work/generated.nix"
awk -v size="$size" 'BEGIN { printf "["; for (n = 1; n + 2 + 2 <= size; n += 2) printf " 1"; printf " ]" }' >"$work/digits.nix"

# peak resident KiB of a command that must succeed
peak() {
  /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  cat "$work/rss"
}

for shape in generated digits; do
  f=$work/$shape.nix
  bytes=$(wc -c <"$f")
  ours=$(peak "$work/nixherd" parse "$f")
  theirs=$(peak nix-instantiate --parse "$f")
  awk -v s="$shape" -v b="$bytes" -v o="$ours" -v t="$theirs" 'BEGIN {
    printf "bench: parse_memory_%s_bytes=%d\n", s, b
    printf "bench: parse_memory_%s_nixherd_peak_MiB=%.0f (%.1f bytes per input byte)\n", s, o / 1024, o * 1024 / b
    printf "bench: parse_memory_%s_nix_peak_MiB=%.0f (%.1f bytes per input byte)\n", s, t / 1024, t * 1024 / b
    printf "bench: parse_memory_%s_ratio_nixherd_over_nix=%.2f\n", s, o / t
  }'
done

go test -run '^$' -bench BenchmarkParseMemory -benchtime 3x ./internal/nixlang |
  awk '/alloc-B\/input-B/ { split($1, n, "/"); sub(/-[0-9]+$/, "", n[2]); printf "bench: parse_alloc_%s_bytes_per_input_byte=%s\n", n[2], $(NF-1) }'
