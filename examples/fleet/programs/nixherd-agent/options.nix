# The options of nixherd's pull agent, shared by its NixOS module (nixos.nix,
# a systemd service) and its nix-darwin module (darwin.nix, a launchd
# daemon). The agent keeps the machine on the system its fleet's signed
# release manifest names (`nixherd publish`): see nixherd's README, "Pull
# mode".
{
  config,
  lib,
  pkgs,
  inputs,
  ...
}:
let
  inherit (lib) mkOption mkEnableOption types;
  cfg = config.services.nixherd-agent;
in
{
  options.services.nixherd-agent = {
    enable = mkEnableOption "nixherd's pull agent, which keeps this machine on its published release";

    package = mkOption {
      type = types.package;
      # nixherd's own flake (the fleet's `nixherd` input) builds it.
      default = inputs.nixherd.packages.${pkgs.stdenv.hostPlatform.system}.default;
      defaultText = lib.literalExpression "inputs.nixherd.packages.\${system}.default";
      description = "The nixherd package the agent runs.";
    };

    machine = mkOption {
      type = types.str;
      default = config.networking.hostName;
      defaultText = lib.literalExpression "config.networking.hostName";
      description = "This machine's name in the release manifest (its deploy.nix name).";
    };

    manifestUrl = mkOption {
      type = types.str;
      example = "https://deploy.example.org/fleet/manifest.json";
      description = "Where the fleet's signed release manifest is served.";
    };

    publicKeys = mkOption {
      type = types.listOf types.str;
      example = [ "fleet-release-1:0rpvSMURYRG+AiJN9mW9wWmdlXYVBxBOBV7tpKDWVfw=" ];
      description = ''
        Public keys (NAME:BASE64, `nix key convert-secret-to-public`) the
        manifest must be signed with. Two during a key rotation.
      '';
    };

    cache = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "https://cache.example.org";
      description = "The binary cache systems are substituted from (null: the machine's nix.settings.substituters).";
    };

    cachePublicKey = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = ''
        The key the cache's paths are signed with, when
        nix.settings.trusted-public-keys does not list it. The agent always
        requires valid signatures.
      '';
    };

    interval = mkOption {
      type = types.str;
      default = "60s";
      description = "Time between polls (a Go duration: 30s, 5m); a random tenth of it is added.";
    };

    listenAddress = mkOption {
      type = types.str;
      default = "127.0.0.1:9851";
      example = "0.0.0.0:9851";
      description = "Where the read-only /status (JSON) and /metrics (Prometheus) are served.";
    };

    confirmTimeout = mkOption {
      type = types.str;
      default = "2m";
      description = "How long the watchdog waits for the agent's confirmation (health checks included) before it rolls back.";
    };

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "More arguments for `nixherd agent`.";
    };

    # The command line the service runs (read-only, for the two modules).
    command = mkOption {
      type = types.listOf types.str;
      internal = true;
      readOnly = true;
      default =
        [
          "${cfg.package}/bin/nixherd"
          "agent"
          "--machine"
          cfg.machine
          "--manifest"
          cfg.manifestUrl
          "--interval"
          cfg.interval
          "--listen"
          cfg.listenAddress
          "--confirm-timeout"
          cfg.confirmTimeout
        ]
        ++ lib.concatMap (k: [
          "--public-key"
          k
        ]) cfg.publicKeys
        ++ lib.optionals (cfg.cache != null) [
          "--cache"
          cfg.cache
        ]
        ++ lib.optionals (cfg.cachePublicKey != null) [
          "--cache-public-key"
          cfg.cachePublicKey
        ]
        ++ cfg.extraArgs;
    };
  };
}
