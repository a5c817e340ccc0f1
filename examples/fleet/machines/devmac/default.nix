# devmac: the Apple Silicon Mac (aarch64-darwin), managed by nix-darwin, with
# Homebrew installed and pinned by nix-homebrew for what only ships as casks.
{
  config,
  inputs,
  ...
}:
let
  keys = import ../../keys.nix;
in
{
  nixpkgs.hostPlatform = "aarch64-darwin";
  networking.hostName = "devmac";

  # Pull mode: nixherd's agent keeps this machine on its published release
  # (flake.nix's services.nixherd-agent; `nixherd publish`).
  services.nixherd-agent.enable = true;

  # Options that act for a user (Homebrew, defaults) need to know which one.
  system.primaryUser = "dylan";
  users.users.dylan = {
    home = "/Users/dylan";
    # No `shell` here: nix-darwin sets a user's shell only for users in
    # users.knownUsers, which it then creates and deletes itself, and it
    # says not to list the admin user there. dylan's login shell stays
    # macOS's /bin/zsh (the default since Catalina), which reads the
    # /etc/zshrc that programs.zsh below writes; home-manager's zsh
    # configuration does the rest.
    openssh.authorizedKeys.keys = keys.deploy;
  };
  programs.zsh.enable = true;

  # Remote Login (Apple's sshd), which `nixherd deploy` reaches as dylan
  # (deploy.nix), with the deploy keys of keys.nix. The first switch runs
  # on the Mac itself (provision.sh); it turns Remote Login on, as System
  # Settings > General > Sharing > Remote Login would.
  services.openssh.enable = true;

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
    # The hypervisors that run devnix and ephem. VMware Fusion is not here:
    # Homebrew disabled its cask on 2025-04-25 (the download needs a Broadcom
    # account), so `brew bundle` fails on it and stops the whole switch.
    # Install Fusion by hand: sign in at support.broadcom.com, download
    # VMware Fusion for macOS, open the .dmg and drag the app to
    # /Applications. Homebrew does not manage an app installed that way, so
    # the cleanup below leaves it alone (one installed earlier with
    # `brew install --cask vmware-fusion` is uninstalled by it, though).
    casks = [ "parallels" ];
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
