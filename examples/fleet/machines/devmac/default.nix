# devmac: the Apple Silicon Mac (aarch64-darwin), managed by nix-darwin, with
# Homebrew installed and pinned by nix-homebrew for what only ships as casks.
{
  config,
  pkgs,
  inputs,
  ...
}:
{
  nixpkgs.hostPlatform = "aarch64-darwin";
  networking.hostName = "devmac";

  # Options that act for a user (Homebrew, defaults) need to know which one.
  system.primaryUser = "dylan";
  users.users.dylan = {
    home = "/Users/dylan";
    shell = pkgs.zsh;
  };
  programs.zsh.enable = true;

  nix-homebrew = {
    enable = true;
    user = "dylan";
    taps = {
      "homebrew/homebrew-core" = inputs.homebrew-core;
      "homebrew/homebrew-cask" = inputs.homebrew-cask;
    };
    # Taps come only from the flake inputs above: `brew tap` cannot add more.
    mutableTaps = false;
  };

  homebrew = {
    enable = true;
    # Declare the same taps to nix-darwin, or `brew bundle` would untap them.
    taps = builtins.attrNames config.nix-homebrew.taps;
    brews = [ "mas" ];
    # The hypervisors that run devnix and ephem.
    casks = [
      "parallels"
      "vmware-fusion"
    ];
    onActivation.cleanup = "zap";
  };

  age.secrets.anthropic-api-key = {
    file = ../../secrets/anthropic-api-key.age;
    owner = "dylan";
  };

  home-manager.users.dylan = {
    imports = [
      ../../programs/nvim
      ../../programs/zsh
      ../../programs/tmux
    ];
    home.stateVersion = "25.05";
  };

  system.stateVersion = 6;
}
