# agenix rules: which public keys can decrypt which secret.
#
# Edit a secret with `nixherd secrets edit FILE` (or `agenix -e FILE`); after
# changing a key list, re-encrypt with `nixherd secrets rekey` (or `agenix -r`).
#
# The keys themselves are declared once, in ../keys.nix, which the machines'
# configurations share (they authorize its deploy keys).
let
  inherit (import ../keys.nix) dylan devmac devnix ephem;

  users = [ dylan ];
  systems = [ devmac devnix ephem ];
  linux = [ devnix ephem ];
  servers = [ devnix ];
in
{
  # Read by neovim's codecompanion on every machine.
  "anthropic-api-key.age" = {
    publicKeys = users ++ systems;
    armor = true;
  };

  # nix.conf access-tokens line, against GitHub rate limits on the NixOS VMs.
  "github-token.age".publicKeys = users ++ linux;

  # Service secrets, bind-mounted into the service containers.
  "openai-api-key.age".publicKeys = users ++ servers;
  "photoprism-admin-password.age".publicKeys = users ++ servers;
}
