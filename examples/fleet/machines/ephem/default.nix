# ephem: a throwaway NixOS VM (aarch64-linux) in VMware Fusion. It shares
# devnix's structure (machines/common/nixos-vm.nix) and runs no services.
{ ... }:
{
  imports = [
    ./hardware-configuration.nix
    ../common/nixos-vm.nix
  ];

  networking.hostName = "ephem";

  # open-vm-tools: shared clipboard, display resizing, clean shutdown.
  virtualisation.vmware.guest.enable = true;
}
