# nixherd's pull agent on NixOS: a systemd service (options in options.nix).
#
# The agent switches the machine itself, through nixherd's watchdog, which
# runs in a transient unit of its own: a new system that restarts this
# service mid-deployment (a new nixherd) does not stop the switch, and the
# restarted agent follows it to its end.
{
  config,
  lib,
  pkgs,
  utils,
  ...
}:
let
  cfg = config.services.nixherd-agent;
in
{
  imports = [ ./options.nix ];

  options.services.nixherd-agent.openFirewall = lib.mkOption {
    type = lib.types.bool;
    default = false;
    description = "Open the port of listenAddress, for Prometheus and `nixherd status`.";
  };

  config = lib.mkIf cfg.enable {
    systemd.services.nixherd-agent = {
      description = "nixherd pull agent: keeps this machine on its published release";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      # nix-store and nix-env for the realise and the profile; systemd-run,
      # setsid and coreutils for the watchdog.
      path = [
        config.nix.package
        config.systemd.package
        pkgs.coreutils
        pkgs.util-linux
        pkgs.gnugrep
      ];
      serviceConfig = {
        # Quoted for systemd, which would expand $ and % itself.
        ExecStart = utils.escapeSystemdExecArgs cfg.command;
        Restart = "always";
        RestartSec = 10;
      };
    };

    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall [
      (lib.toInt (lib.last (lib.splitString ":" cfg.listenAddress)))
    ];
  };
}
