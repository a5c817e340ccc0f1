#!/usr/bin/env bash
# Re-creates examples/fleet/secrets/*.age from the demo plaintexts below with
# the real age CLI, encrypted to exactly the keys secrets.nix lists for each
# file (armored where secrets.nix says armor = true). Needs nix-instantiate
# and age. The plaintexts are fake demo values; the tests expect them.
set -euo pipefail
cd "$(dirname "$0")/../../examples/fleet/secrets"

declare -A plaintext=(
  [anthropic-api-key]='sk-ant-DEMO-not-a-real-key'
  [github-token]='access-tokens = github.com=ghp_DEMOnotARealToken0000000000000000'
  [openai-api-key]='sk-DEMO-not-a-real-key'
  [photoprism-admin-password]='demo-password-change-me'
)

rules=$(nix-instantiate --eval --strict --json secrets.nix)
for name in "${!plaintext[@]}"; do
  file="$name.age"
  recipients=$(mktemp)
  jq -r --arg f "$file" '.[$f].publicKeys[]' <<<"$rules" >"$recipients"
  armor=()
  [ "$(jq -r --arg f "$file" '.[$f].armor // false' <<<"$rules")" = true ] && armor=(--armor)
  printf '%s\n' "${plaintext[$name]}" | age --encrypt "${armor[@]}" -R "$recipients" -o "$file.tmp"
  mv "$file.tmp" "$file"
  rm -f "$recipients"
done
