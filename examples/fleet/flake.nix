{
  description = "A fleet of Apple Silicon machines: one nix-darwin Mac and NixOS VMs, with home-manager and agenix";

  inputs = {
    # The NixOS machines follow the NixOS release branch; the Mac follows the
    # darwin branch, which nix-darwin's own flake and template use on macOS.
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";
    nixpkgs-darwin.url = "github:NixOS/nixpkgs/nixpkgs-25.05-darwin";

    # home-manager's modules build with the pkgs of the system they are part
    # of (useGlobalPkgs); its own nixpkgs serves only its lib, so one copy does.
    home-manager = {
      url = "github:nix-community/home-manager/release-25.05";
      inputs.nixpkgs.follows = "nixpkgs";
    };

    # darwinSystem builds from nix-darwin's nixpkgs input (nixpkgs.source):
    # following nixpkgs-darwin is what puts the Mac on the darwin branch.
    nix-darwin = {
      url = "github:nix-darwin/nix-darwin/nix-darwin-25.05";
      inputs.nixpkgs.follows = "nixpkgs-darwin";
    };

    agenix = {
      url = "github:ryantm/agenix";
      inputs.nixpkgs.follows = "nixpkgs";
      inputs.darwin.follows = "nix-darwin";
      inputs.home-manager.follows = "home-manager";
    };

    # nixherd itself: its flake builds the binary the pull agent runs
    # (programs/nixherd-agent).
    nixherd = {
      url = "github:nixherd/nixherd";
      inputs.nixpkgs.follows = "nixpkgs";
    };

    # Homebrew itself, pinned, with its core and cask taps as plain sources.
    nix-homebrew.url = "github:zhaofengli/nix-homebrew";
    homebrew-core = {
      url = "github:homebrew/homebrew-core";
      flake = false;
    };
    homebrew-cask = {
      url = "github:homebrew/homebrew-cask";
      flake = false;
    };

    # Service flakes: each exports nixosModules.default, which mkService runs
    # in its own NixOS container (programs/services/git-services.nix). A real
    # service usually lives in its own repository:
    #   my-service.url = "git+ssh://git@github.com/user/my-service.git";
    # The two examples live in this repository, as relative `path:` inputs,
    # which need Nix 2.26 or later: from 2.26 they are part of this flake.
    # Older Nix locks them by content hash and keeps building the locked copy
    # after they change, until their input is updated, and it cannot read a
    # flake.lock that Nix 2.26 wrote for them. `nixherd check` warns when the
    # local nix is older.
    llm-proxy.url = "path:./service-flakes/llm-proxy";
    git-stats.url = "path:./service-flakes/git-stats";
  };

  outputs =
    inputs@{
      nixpkgs,
      home-manager,
      nix-darwin,
      agenix,
      nix-homebrew,
      llm-proxy,
      git-stats,
      ...
    }:
    let
      # Configuration every machine shares, NixOS and nix-darwin alike.
      shared = {
        nix.settings.experimental-features = [
          "nix-command"
          "flakes"
        ];
        environment.variables.EDITOR = "nvim";

        # Pull mode: each machine whose agent is enabled (its own file)
        # keeps itself on the release `nixherd publish` writes here, signed
        # with the release key; systems come from the cache, signed with the
        # cache key. Replace both keys with yours (nix key generate-secret).
        services.nixherd-agent = {
          manifestUrl = "https://deploy.example.org/fleet/manifest.json";
          publicKeys = [ "fleet-release-1:0rpvSMURYRG+AiJN9mW9wWmdlXYVBxBOBV7tpKDWVfw=" ];
          cache = "https://cache.example.org";
          cachePublicKey = "fleet-cache-1:Xq2nRwJ5oJdGk0TnT5Bf7LJXbYm2k8Qmv9Bz5gH1cdE=";
          listenAddress = "0.0.0.0:9851";
        };

        home-manager = {
          useGlobalPkgs = true;
          useUserPackages = true;
          backupFileExtension = "backup";
          users.dylan = {
            programs.git = {
              enable = true;
              extraConfig.init.defaultBranch = "main";
            };
          };
        };
      };

      # A NixOS machine: the shared configuration, home-manager, agenix, the
      # service flakes for mkService, and the machine's own module.
      nixosMachine =
        machine:
        nixpkgs.lib.nixosSystem {
          specialArgs = { inherit inputs; };
          modules = [
            shared
            home-manager.nixosModules.home-manager
            agenix.nixosModules.default
            ./programs/nixherd-agent/nixos.nix
            {
              _module.args.serviceFlakes = {
                llmproxy = llm-proxy;
                gitstats = git-stats;
              };
            }
            machine
          ];
        };

      # A nix-darwin machine: the shared configuration, home-manager, agenix,
      # nix-homebrew, and the machine's own module, built from nixpkgs-darwin
      # (nix-darwin's nixpkgs input follows it).
      darwinMachine =
        machine:
        nix-darwin.lib.darwinSystem {
          specialArgs = { inherit inputs; };
          modules = [
            shared
            home-manager.darwinModules.home-manager
            agenix.darwinModules.default
            ./programs/nixherd-agent/darwin.nix
            nix-homebrew.darwinModules.nix-homebrew
            machine
          ];
        };
    in
    {
      # One line per machine: `nixherd init --machines` keeps only the lines
      # (and machines/ folders) of the machines asked for.
      darwinConfigurations = {
        devmac = darwinMachine ./machines/devmac;
      };

      nixosConfigurations = {
        devnix = nixosMachine ./machines/devnix;
        ephem = nixosMachine ./machines/ephem;
      };
    };
}
