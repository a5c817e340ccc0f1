#!/usr/bin/env bash
# Benchmark nixherd secrets against the work agenix does for the same change.
#
# 300 secrets, each encrypted to a user key and two host keys; then a new
# host key is added to 10 of them in secrets.nix. Timed in one run:
#   - `nixherd secrets rekey`: re-encrypts only the 10 files whose recipients
#     changed, in one process;
#   - the agenix-equivalent: agenix -r re-encrypts every file, calling age once
#     to decrypt and once to encrypt per file (its per-file nix-instantiate
#     calls are left out, which favours agenix);
#   - `nixherd secrets check` over the 300 files (offline, no private key).
# Needs: go, nix-instantiate, age, ssh-keygen. Prints the times and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-300}
CHANGED=${CHANGED:-10}
export NIX_CONFIG=${NIX_CONFIG:-$'experimental-features = nix-command flakes\nsandbox = false\nbuild-users-group =\nsubstituters ='}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/nixherd" ./cmd/nixherd
nixherd=$work/nixherd

for k in user host1 host2 newhost; do
  ssh-keygen -q -t ed25519 -N '' -C "$k" -f "$work/$k"
done
pub() { tr -d '\n' < "$work/$1.pub"; }

rules() { # rules N_CHANGED: secrets.nix where the first N_CHANGED secrets also go to newhost
  echo "let"
  for k in user host1 host2 newhost; do echo "  $k = \"$(pub $k)\";"; done
  echo "  base = [ user host1 host2 ];"
  echo "in {"
  for i in $(seq 1 "$N"); do
    if [ "$i" -le "$1" ]; then
      echo "  \"s$i.age\".publicKeys = base ++ [ newhost ];"
    else
      echo "  \"s$i.age\".publicKeys = base;"
    fi
  done
  echo "}"
}

mkdir -p "$work/a/secrets"
rules 0 > "$work/a/secrets/secrets.nix"
for i in $(seq 1 "$N"); do
  printf 'secret number %s\n' "$i" | age -R "$work/user.pub" -R "$work/host1.pub" -R "$work/host2.pub" -o "$work/a/secrets/s$i.age"
done
rules "$CHANGED" > "$work/a/secrets/secrets.nix"
cp -r "$work/a" "$work/b"
cp -r "$work/a" "$work/c"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# nixherd: only the drifted files.
t0=$(now)
(cd "$work/a" && "$nixherd" secrets rekey -i "$work/user" 2>"$work/rekey.log")
t1=$(now)
nixherd_rekey=$(elapsed "$t0" "$t1")
grep -q "^$CHANGED rekeyed" "$work/rekey.log" || { cat "$work/rekey.log"; echo "unexpected rekey result" >&2; exit 1; }

# agenix -r: every file, age -d then age -e per file, recipients from the rules.
t0=$(now)
for i in $(seq 1 "$N"); do
  f=$work/b/secrets/s$i.age
  recips=(-R "$work/user.pub" -R "$work/host1.pub" -R "$work/host2.pub")
  [ "$i" -le "$CHANGED" ] && recips+=(-R "$work/newhost.pub")
  age -d -i "$work/user" "$f" | age "${recips[@]}" -o "$f.tmp"
  mv "$f.tmp" "$f"
done
t1=$(now)
agenix_rekey=$(elapsed "$t0" "$t1")

# For reference: nixherd re-encrypting all files too, in one process.
t0=$(now)
(cd "$work/c" && "$nixherd" secrets rekey --all -i "$work/user" 2>/dev/null)
t1=$(now)
nixherd_all=$(elapsed "$t0" "$t1")

# Both trees now satisfy the rules.
(cd "$work/a" && "$nixherd" secrets check 2>/dev/null)
(cd "$work/b" && "$nixherd" secrets check 2>/dev/null)

t0=$(now)
(cd "$work/a" && "$nixherd" secrets check 2>/dev/null)
t1=$(now)
check=$(elapsed "$t0" "$t1")

printf 'secrets: %d, recipient added to: %d\n' "$N" "$CHANGED"
printf 'nixherd secrets rekey:            %6.3f s\n' "$nixherd_rekey"
printf 'agenix-equivalent (age per file): %6.3f s\n' "$agenix_rekey"
awk -v a="$agenix_rekey" -v n="$nixherd_rekey" 'BEGIN { printf "ratio agenix/nixherd:             %6.1fx\n", a / n }'
printf 'nixherd secrets rekey --all:      %6.3f s (every file, for reference)\n' "$nixherd_all"
printf 'nixherd secrets check (%d files): %6.3f s\n' "$N" "$check"
