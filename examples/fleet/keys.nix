# Every SSH public key of the fleet, declared once. secrets/secrets.nix
# encrypts the agenix secrets to them, and the machines authorize the deploy
# keys (machines/common/nixos-vm.nix, machines/devmac/default.nix).
#
# DEMO KEYS: the private halves of these keys are published with nixherd
# (testdata/demo-keys), so anyone can decrypt the example secrets and log in
# with them. Replace every key below with your own (`cat ~/.ssh/id_ed25519.pub`
# for you, `ssh-keyscan HOST` for a machine), then re-encrypt every secret.
let
  # People: they edit the secrets, and deploy.
  dylan = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBi1M2GvRuTeSba89jge4hHOUvghX6B3MV48gcXKek1S dylan@demo";
in
{
  inherit dylan;

  # Machines' SSH host keys: agenix decrypts a machine's secrets with its key
  # at activation.
  devmac = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEDf/Q7418LsF/qpLs82zN07Px0kdJKnRas3ebwVNljz root@devmac";
  devnix = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHSb9f4M+LMjvg+92HsOyb0c/dtKfLaMgm5eI5XVWWEW root@devnix";
  ephem = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQChxWakU27lHetKZsnn75Gj8EuukptnVb4OacmC41WBT282YG/j2sRtN8IgMicNEyB3twHMJ7xPFCXHIWEHzs7tBbnYTUte5+VOF1xvaYzjNFYWle/XW7FXIbX7wy+OaFQEK1UC+fDro1368BZrSXofBxe3gBdDUEeYKB5011oUMHGXt2julQKQnYwrWSUgbGe2BAlssc8GnmaOz0FYYqwpazR/4YWzTSPYR0gaKXiu2k8CKTzjHFGIkC7h/oeMzT47CEjm3Im3CZmg9XR1ytmLBHUY5R1lsstfbAcvxTEba46fHPVwpH3AgFjwj8EGWNRBhOchHYS5p/zSKMBnpMjIj0U52ysqOfo9TRXLC35IYOQgwtA5D553pJP4JTAp/WVNAZHHUM0pBme+HLkPEfxmLQ98C0szzHNkBebtoFsiWqf2LOoXpt4O0UYEly61ybXSR1SUlNt1/5d/bqXoebsvusjm/hlhnb6ePmcc/acLaEomTOciiccBaa7IK0n1TNs= root@ephem";

  # The keys `nixherd deploy` (or `nixos-rebuild --target-host`) may log in
  # with: as root and as dylan on every NixOS machine, as dylan on the Mac
  # (the targets in deploy.nix).
  deploy = [ dylan ];
}
