# The disk layout of a Parallels Desktop VM installed with the NixOS
# installer's defaults. Regenerate it on the VM with
# `nixos-generate-config --show-hardware-config` if yours differs.
{ ... }:
{
  boot.initrd.availableKernelModules = [
    "xhci_pci"
    "sr_mod"
  ];

  fileSystems."/" = {
    device = "/dev/disk/by-label/nixos";
    fsType = "ext4";
  };
  fileSystems."/boot" = {
    device = "/dev/disk/by-label/boot";
    fsType = "vfat";
    options = [
      "fmask=0077"
      "dmask=0077"
    ];
  };
  swapDevices = [ ];
}
