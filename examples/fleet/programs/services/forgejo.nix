# Forgejo, the git forge, as a Docker container (oci-containers) with its
# data in /var/lib/forgejo on the host: web UI on port 3000, git over SSH on
# port 2222.
#
# No networking.firewall.allowedTCPPorts: Docker publishes the ports with
# its own iptables rules (DNAT before the host's INPUT chain, where the NixOS
# firewall filters), so they are reachable whatever the firewall says. To
# keep one private, publish it on loopback only ("127.0.0.1:3000:3000").
{ ... }:
{
  virtualisation.docker.enable = true;

  virtualisation.oci-containers = {
    backend = "docker";
    containers.forgejo = {
      image = "codeberg.org/forgejo/forgejo:11";
      ports = [
        "3000:3000"
        "2222:22"
      ];
      volumes = [
        "/var/lib/forgejo:/data"
        "/etc/localtime:/etc/localtime:ro"
      ];
      environment = {
        USER_UID = "1000";
        USER_GID = "1000";
        FORGEJO__server__SSH_PORT = "2222";
      };
    };
  };

  systemd.tmpfiles.rules = [ "d /var/lib/forgejo 0750 1000 1000 -" ];
}
