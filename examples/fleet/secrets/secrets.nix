# agenix rules: which public keys can decrypt which secret.
#
# Edit a secret with `nixherd secrets edit FILE` (or `agenix -e FILE`); after
# changing a key list, re-encrypt with `nixherd secrets rekey` (or `agenix -r`).
#
# DEMO KEYS: the private halves of these keys are published with nixherd
# (testdata/demo-keys), so anyone can decrypt the example secrets here.
# Replace every key below with your own (`cat ~/.ssh/id_ed25519.pub` for
# you, `ssh-keyscan HOST` for a machine), then re-encrypt every secret.
let
  # People who edit secrets.
  dylan = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBi1M2GvRuTeSba89jge4hHOUvghX6B3MV48gcXKek1S dylan@demo";

  # Machines that decrypt secrets at activation, with their SSH host keys.
  devmac = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEDf/Q7418LsF/qpLs82zN07Px0kdJKnRas3ebwVNljz root@devmac";
  devnix = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHSb9f4M+LMjvg+92HsOyb0c/dtKfLaMgm5eI5XVWWEW root@devnix";
  ephem = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQChxWakU27lHetKZsnn75Gj8EuukptnVb4OacmC41WBT282YG/j2sRtN8IgMicNEyB3twHMJ7xPFCXHIWEHzs7tBbnYTUte5+VOF1xvaYzjNFYWle/XW7FXIbX7wy+OaFQEK1UC+fDro1368BZrSXofBxe3gBdDUEeYKB5011oUMHGXt2julQKQnYwrWSUgbGe2BAlssc8GnmaOz0FYYqwpazR/4YWzTSPYR0gaKXiu2k8CKTzjHFGIkC7h/oeMzT47CEjm3Im3CZmg9XR1ytmLBHUY5R1lsstfbAcvxTEba46fHPVwpH3AgFjwj8EGWNRBhOchHYS5p/zSKMBnpMjIj0U52ysqOfo9TRXLC35IYOQgwtA5D553pJP4JTAp/WVNAZHHUM0pBme+HLkPEfxmLQ98C0szzHNkBebtoFsiWqf2LOoXpt4O0UYEly61ybXSR1SUlNt1/5d/bqXoebsvusjm/hlhnb6ePmcc/acLaEomTOciiccBaa7IK0n1TNs= root@ephem";

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
