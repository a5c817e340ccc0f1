# NAT between the service containers (interfaces ve-<name>) and the host's
# external interface, so that containers reach the network and forwarded
# ports reach the containers. mkService imports this file by path; NixOS
# includes a module imported from several places once.
#
# The external interface is a machine's own setting,
# networking.nat.externalInterface. It defaults to the name an aarch64 NixOS
# guest gives the virtual network card of its hypervisor: enp0s5 under
# Parallels Desktop (hardware.parallels.enable), ens160 under VMware Fusion
# (virtualisation.vmware.guest.enable). Elsewhere, or when `ip link` shows
# another name, set it in the machine's file:
#   networking.nat.externalInterface = "eth0";
# Left unset on other hardware, NAT applies to whichever interface a
# container's traffic leaves by.
{ config, lib, ... }:
let
  hypervisorInterface =
    if config.hardware.parallels.enable then
      "enp0s5"
    else if config.virtualisation.vmware.guest.enable then
      "ens160"
    else
      null;
in
{
  networking.nat = {
    enable = true;
    internalInterfaces = [ "ve-+" ];
    externalInterface = lib.mkDefault hypervisorInterface;
  };

  # NetworkManager would take the container links over and drop their
  # addresses; the NixOS manual's container networking section asks for this.
  networking.networkmanager.unmanaged = [ "interface-name:ve-*" ];
}
