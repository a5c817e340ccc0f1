# devnix: the everyday NixOS VM (aarch64-linux) in Parallels Desktop, with a
# GNOME desktop, Docker and the fleet's services.
{ lib, ... }:
{
  imports = [
    ./hardware-configuration.nix
    ../common/nixos-vm.nix
    ../../programs/services/git-services.nix
    ../../programs/services/forgejo.nix
    ../../programs/services/photoprism.nix
  ];

  networking.hostName = "devnix";

  # Pull mode: nixherd's agent keeps this machine on its published release
  # (flake.nix's services.nixherd-agent; `nixherd publish`).
  services.nixherd-agent.enable = true;

  # Parallels Tools: shared clipboard and folders, display resizing.
  hardware.parallels.enable = true;
  nixpkgs.config.allowUnfreePredicate = pkg: builtins.elem (lib.getName pkg) [ "prl-tools" ];
}
