# Evaluates the reference fleet's flake.nix outputs without nixpkgs: every
# input is replaced by a stub, and nixosSystem, darwinSystem and
# home-manager's users.<name> are evaluated by the small module system
# below instead of nixpkgs'.
#
# What this checks: the flake's wiring (which modules each machine gets,
# specialArgs, _module.args.serviceFlakes), that every import path exists,
# that the fleet's own modules evaluate with the arguments NixOS passes and
# merge without conflicting definitions, and the values they set. What it
# cannot check: option names and types (nothing declares options here), and
# anything the upstream modules (home-manager, agenix, nix-homebrew, nixpkgs)
# would add.
#
# The small module system: a module is a path, a function of the module
# arguments, or an attribute set; `imports` are followed (a path once, as in
# NixOS); the definitions are merged recursively, lists concatenated, equal
# values accepted, a lib.mkDefault definition loses to a plain one, and
# anything else is an error naming the option. The arguments include
# `config`, the merged result itself, lazily. NixOS systems start from the
# defaults of the upstream options the fleet reads (nixosDefaults).
#
# extraInputs adds inputs the reference fleet does not have, for tests that
# edit it first (nixherd service add).
{ fleet, extraInputs ? { } }:
let
  imap = f: list: builtins.genList (i: f i (builtins.elemAt list i)) (builtins.length list);

  collect =
    args: roots:
    let
      item =
        key: m:
        let
          isFile = builtins.isPath m || builtins.isString m;
          imported = if isFile then import m else m;
          # Like NixOS, pass each argument the function names, looked up
          # lazily, so that _module.args can come from the modules themselves.
          value =
            if builtins.isFunction imported then
              imported (builtins.mapAttrs (name: _: args name) (builtins.functionArgs imported))
            else
              imported;
        in
        {
          key = if isFile then toString m else key;
          inherit value;
        };
    in
    map (x: removeAttrs x.value [ "imports" ]) (
      builtins.genericClosure {
        startSet = imap (i: item "root-${toString i}") roots;
        operator = x: imap (i: item "${x.key}/imports/${toString i}") (x.value.imports or [ ]);
      }
    );

  # lib.mkDefault and the option defaults, as NixOS writes them: the lower
  # priority number wins.
  isOverride = v: builtins.isAttrs v && (v._type or null) == "override";
  priority = v: if isOverride v then v.priority else 100;
  withoutOverrides =
    v:
    if isOverride v then
      withoutOverrides v.content
    else if builtins.isAttrs v && !(v ? _type) then
      builtins.mapAttrs (_: withoutOverrides) v
    else
      v;

  merge =
    path: a: b:
    if isOverride a || isOverride b then
      if priority a < priority b then
        a
      else if priority b < priority a then
        b
      else
        merge path (withoutOverrides a) (withoutOverrides b)
    else if builtins.isAttrs a && builtins.isAttrs b then
      a
      // b
      // builtins.listToAttrs (
        map (n: {
          name = n;
          value = merge (path ++ [ n ]) a.${n} b.${n};
        }) (builtins.filter (n: a ? ${n}) (builtins.attrNames b))
      )
    else if builtins.isList a && builtins.isList b then
      a ++ b
    else if a == b then
      a
    else
      throw "conflicting definitions of ${builtins.concatStringsSep "." path}";

  evalModules =
    {
      modules,
      specialArgs ? { },
      upstream ? (config: config),
    }:
    let
      known = specialArgs // {
        inherit config lib pkgs;
        options = { };
      };
      args = name: known.${name} or merged._module.args.${name};
      merged = withoutOverrides (builtins.foldl' (merge [ ]) { } (collect args modules));
      # What the upstream modules would add that the fleet reads back.
      config = upstream merged;
    in
    {
      inherit config;
    };

  # agenix sets age.secrets.<name>.path.
  withAgenix =
    config:
    config
    // {
      age = (config.age or { }) // {
        secrets = builtins.mapAttrs (name: secret: { path = "/run/agenix/${name}"; } // secret) (
          config.age.secrets or { }
        );
      };
    };

  # home-manager evaluates home-manager.users.<name> as modules of their own,
  # with the system's configuration as osConfig.
  withHomeManager =
    config:
    config
    // {
      home-manager = (config.home-manager or { }) // {
        users = builtins.mapAttrs (
          name: user:
          (evalModules {
            modules = [ user ];
            specialArgs = {
              osConfig = config;
            };
          }).config
        ) (config.home-manager.users or { });
      };
    };

  lib = {
    getName = pkg: pkg.pname or pkg;
    mkOverride = priority: content: {
      _type = "override";
      inherit priority content;
    };
    mkDefault = lib.mkOverride 1000;
    mkOptionDefault = lib.mkOverride 1500;
  };

  # The defaults of the NixOS options the fleet reads without setting them
  # on every machine.
  nixosDefaults = {
    hardware.parallels.enable = lib.mkOptionDefault false;
    virtualisation.vmware.guest.enable = lib.mkOptionDefault false;
  };

  # The packages the fleet names, as strings.
  stubs = prefix: names: builtins.listToAttrs (map (n: { name = n; value = "${prefix}${n}"; }) names);
  pkgs =
    stubs "pkgs." [ "zsh" "nil" "gopls" "lua-language-server" "python3" ]
    // {
      vimPlugins =
        stubs "vimPlugins." [ "nvim-lspconfig" "dracula-nvim" "vim-oscyank" "plenary-nvim" "codecompanion-nvim" "coc-nvim" ]
        // {
          nvim-treesitter.withAllGrammars = "vimPlugins.nvim-treesitter.withAllGrammars";
        };
      tmuxPlugins = stubs "tmuxPlugins." [ "sensible" "yank" ];
    };

  system = modules: specialArgs: evalModules {
    inherit modules specialArgs;
    upstream = config: withHomeManager (withAgenix config);
  };

  # The service flakes are real (they have no inputs); the others are stubs.
  serviceFlake = dir: (import (fleet + "/service-flakes/${dir}/flake.nix")).outputs { self = { }; };
  inputs = {
    self = { };
    nixpkgs.lib.nixosSystem = { modules, specialArgs ? { }, ... }: system ([ nixosDefaults ] ++ modules) specialArgs;
    nix-darwin.lib.darwinSystem = { modules, specialArgs ? { }, ... }: system modules specialArgs;
    home-manager.nixosModules.home-manager = { };
    home-manager.darwinModules.home-manager = { };
    agenix.nixosModules.default = { };
    agenix.darwinModules.default = { };
    nix-homebrew.darwinModules.nix-homebrew = { };
    homebrew-core = "/stub/homebrew-core";
    homebrew-cask = "/stub/homebrew-cask";
    llm-proxy = serviceFlake "llm-proxy";
    git-stats = serviceFlake "git-stats";
  } // extraInputs;

  flake = import (fleet + "/flake.nix");
  outputs = flake.outputs inputs;
in
{
  inherit (flake) inputs;
  inherit outputs;
  # A container's config is a NixOS module of its own.
  evalContainer = container: (evalModules { modules = [ container.config ]; }).config;
  # Any NixOS module, for tests of one module on its own.
  evalNixos = modules: (evalModules { modules = [ nixosDefaults ] ++ modules; }).config;
}
