# mkService NAME SERVICE FLAKE: a NixOS module that runs FLAKE's
# nixosModules.default in a NixOS container called NAME, reachable through
# NAT on the host.
#
#   SERVICE = {
#     port = 8060;                     # the port the service listens on, forwarded from the host
#     index = 5;                       # unique per host: the container gets 192.168.100.(10 + index)
#     secrets = [ "openai-api-key" ];  # optional: agenix secrets to mount read-only
#     environment = { K = "v"; };      # optional: extra environment for the service
#   };
#
# Inside the container every secret is at /run/secrets/<name>, and its path
# is in <NAME>_FILE (openai-api-key -> OPENAI_API_KEY_FILE); PORT holds the
# port. The container starts at boot; a switch restarts it when its
# definition changes or when one of its secrets does. The function uses only
# builtins so that it can be evaluated (and tested) without nixpkgs.
name: service: flake:
{ config, ... }:
let
  inherit (service) port index;
  secrets = service.secrets or [ ];

  # The host's end of every container link, and this container's address.
  hostAddress = "192.168.100.1";
  octet = 10 + index;
  localAddress = "192.168.100.${toString octet}";

  secretPath = secret: "/run/secrets/${secret}";

  # openai-api-key -> OPENAI_API_KEY_FILE
  lower = [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" "-" ];
  upper = [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" "_" ];
  secretVariable = secret: builtins.replaceStrings lower upper secret + "_FILE";

  forEachSecret = f: builtins.listToAttrs (map f secrets);

  environment =
    { PORT = toString port; }
    // (service.environment or { })
    // forEachSecret (secret: {
      name = secretVariable secret;
      value = secretPath secret;
    });
in
{
  # NAT for every container; imported by path so that several services
  # share one definition.
  imports = [ ./container-nat.nix ];

  assertions = [
    {
      assertion = builtins.isInt index && index >= 0 && octet <= 254;
      message = "mkService ${name}: index ${toString index} gives 192.168.100.${toString octet}; index must be between 0 and 244";
    }
  ];

  # Decrypt each secret on the host (agenix) ...
  age.secrets = forEachSecret (secret: {
    name = secret;
    value.file = ../../secrets + "/${secret}.age";
  });

  containers.${name} = {
    # Start at boot. A switch restarts the container only when its definition
    # changed (restartIfChanged, on by default); for its secrets, see below.
    autoStart = true;

    # hostAddress, localAddress and forwardPorts only take effect with a
    # private network.
    privateNetwork = true;
    inherit hostAddress localAddress;
    forwardPorts = [
      {
        protocol = "tcp";
        hostPort = port;
        containerPort = port;
      }
    ];

    # ... and bind it read-only into the container. The bind mount holds the
    # file agenix decrypted when the container started: agenix decrypts into
    # a new folder at every activation and removes the previous one, so a
    # running container never sees a rotated secret.
    bindMounts = forEachSecret (secret: {
      name = secretPath secret;
      value = {
        hostPath = config.age.secrets.${secret}.path;
        isReadOnly = true;
      };
    });

    config =
      { ... }:
      {
        imports = [ flake.nixosModules.default ];

        # The container runs its own firewall.
        networking.firewall.allowedTCPPorts = [ port ];

        # For the service's systemd unit and for interactive shells.
        systemd.globalEnvironment = environment;
        environment.variables = environment;

        system.stateVersion = "25.05";
      };
  };

  # So restart the container when one of its secrets changes. "${file}" is
  # the encrypted file copied to the Nix store, named by its content (the
  # same copy agenix decrypts): a re-encrypted secret changes the container
  # unit's restart triggers, an unrelated change to the flake does not.
  systemd.services."container@${name}".restartTriggers = map (
    secret: "${config.age.secrets.${secret}.file}"
  ) secrets;
}
