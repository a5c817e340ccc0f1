# nixherd's pull agent on nix-darwin: a launchd daemon (options in
# options.nix). It runs as root, as darwin-rebuild must; the watchdog that
# switches the machine runs in a session of its own, so a restarted daemon
# (a new nixherd) finds it and follows it to its end.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.services.nixherd-agent;
in
{
  imports = [ ./options.nix ];

  config = lib.mkIf cfg.enable {
    launchd.daemons.nixherd-agent = {
      command = lib.escapeShellArgs cfg.command;
      # nix-store and nix-env; macOS's own tools (perl for the watchdog's
      # setsid, readlink, date) stay on the path.
      path = [
        config.nix.package
        pkgs.coreutils
        "/usr/bin"
        "/bin"
        "/usr/sbin"
        "/sbin"
      ];
      serviceConfig = {
        KeepAlive = true;
        RunAtLoad = true;
        StandardOutPath = "/var/log/nixherd-agent.log";
        StandardErrorPath = "/var/log/nixherd-agent.log";
      };
    };
  };
}
