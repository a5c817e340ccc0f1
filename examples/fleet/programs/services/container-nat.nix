# NAT between the service containers (interfaces ve-<name>) and the host's
# external interface, so that containers reach the network and forwarded
# ports reach the containers. mkService imports this file by path; NixOS
# includes a module imported from several places once.
{ ... }:
{
  networking.nat = {
    enable = true;
    internalInterfaces = [ "ve-+" ];
    externalInterface = "ens160";
  };
}
