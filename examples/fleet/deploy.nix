# Where nixherd deploys each machine of this fleet (read by `nixherd deploy`,
# `nixherd status` and `nixherd machines`). Plain data: no nixpkgs, no flake
# evaluation; nixherd reads it with `nix-instantiate --eval --strict --json`.
#
#   defaults.*               applies to every machine (lists are appended)
#   machines.<name>          <name> is the configuration in the flake
#                            (nixosConfigurations, darwinConfigurations or
#                            homeConfigurations) unless `configuration` says otherwise
#     target                 "local", or "user@host[:port]" for ssh (required)
#     tags                   [ "vm" ... ]; select with `nixherd deploy @vm`
#     buildOn                "local" (default): build here and copy the closure;
#                            "target": copy the derivations and build on the host
#     sshOptions             extra ssh arguments, one per element: [ "-o" "ProxyJump=bastion" ]
#     platform               "nixos" | "darwin" | "home"; default: found in the flake
#     configuration          the flake's name for the machine, if not <name>
#     pull                   { agent = "http://host:9851"; }: the machine pulls its
#                            releases (nixherd publish); status asks its agent
#     healthChecks           run after a switch; each one of
#                              { http = "http://host:port/path"; status = 200; }
#                              { tcp = "host:port"; }
#                              { command = "systemctl is-system-running"; }
#                            with an optional timeout = seconds;
{
  defaults = {
    buildOn = "local";
  };

  machines = {
    devmac = {
      target = "dylan@devmac.local";
      pull = { agent = "http://devmac.local:9851"; };
      platform = "darwin";
      tags = [ "mac" "dev" ];
      healthChecks = [
        { command = "darwin-version"; }
      ];
    };

    devnix = {
      target = "root@devnix.local";
      pull = { agent = "http://devnix.local:9851"; };
      tags = [ "vm" "linux" "dev" ];
      healthChecks = [
        { tcp = "devnix.local:22"; }
        { command = "systemctl is-system-running --wait"; timeout = 60; }
      ];
    };

    ephem = {
      target = "root@ephem.local";
      pull = { agent = "http://ephem.local:9851"; };
      tags = [ "vm" "linux" ];
      buildOn = "target";
    };
  };
}
