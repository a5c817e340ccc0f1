# ephem: a throwaway NixOS VM (aarch64-linux) in VMware Fusion. It shares
# devnix's structure (machines/common/nixos-vm.nix) and runs no services.
{ ... }:
{
  imports = [
    ./hardware-configuration.nix
    ../common/nixos-vm.nix
  ];

  networking.hostName = "ephem";

  # Pull mode: nixherd's agent keeps this machine on its published release
  # (flake.nix's services.nixherd-agent; `nixherd publish`).
  services.nixherd-agent.enable = true;

  # open-vm-tools: shared clipboard, display resizing, clean shutdown.
  virtualisation.vmware.guest.enable = true;
}
