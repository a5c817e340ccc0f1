# What devnix and ephem share: an aarch64 NixOS guest on a Mac, with GNOME,
# Docker, a Swiss German keyboard and dylan's home-manager setup. Each
# machine adds its hypervisor's guest tools and its own services.
{
  config,
  pkgs,
  ...
}:
let
  keys = import ../../keys.nix;
in
{
  nixpkgs.hostPlatform = "aarch64-linux";

  boot.loader.systemd-boot.enable = true;
  boot.loader.efi.canTouchEfiVariables = true;

  networking.networkmanager.enable = true;
  time.timeZone = "Europe/Zurich";
  i18n.defaultLocale = "en_US.UTF-8";

  # Swiss German keyboard, in X11/GNOME and on the console.
  services.xserver = {
    enable = true;
    xkb = {
      layout = "ch";
      variant = "de_mac";
    };
    displayManager.gdm.enable = true;
    desktopManager.gnome.enable = true;
  };
  console.keyMap = "sg";

  virtualisation.docker.enable = true;

  programs.zsh.enable = true;
  users.users.dylan = {
    isNormalUser = true;
    extraGroups = [
      "wheel"
      "docker"
      "networkmanager"
    ];
    shell = pkgs.zsh;
    openssh.authorizedKeys.keys = keys.deploy;
  };

  # nixherd deploys as root@ and dylan@ (deploy.nix): the deploy keys
  # (keys.nix) may log in as both. sshd lets root in with a key only
  # (PermitRootLogin's default, prohibit-password).
  services.openssh.enable = true;
  # The pull agent's /status and /metrics (when the machine enables it),
  # for `nixherd status` and Prometheus.
  services.nixherd-agent.openFirewall = true;
  users.users.root.openssh.authorizedKeys.keys = keys.deploy;

  # Secrets, decrypted at activation with this machine's SSH host key.
  age.secrets.anthropic-api-key = {
    file = ../../secrets/anthropic-api-key.age;
    owner = "dylan";
  };
  # The decrypted file holds an `access-tokens = github.com=...` line, which
  # nix.conf includes. Every nix process reads nix.conf, and flake inputs are
  # fetched by the one that evaluates: dylan's `nix` needs the token as much
  # as root's `nixos-rebuild`. Nix skips an included file it cannot read
  # without a word, so the secret is readable by the wheel group (dylan), not
  # by root alone; other users' nix runs without the token.
  age.secrets.github-token = {
    file = ../../secrets/github-token.age;
    mode = "0440";
    group = "wheel";
  };
  # `!` lets Nix start before the secret exists (first boot, rekeys).
  nix.extraOptions = ''
    !include ${config.age.secrets.github-token.path}
  '';

  home-manager.users.dylan = {
    imports = [
      ../../programs/nvim
      ../../programs/zsh
      ../../programs/tmux
    ];
    home.stateVersion = "25.05";
  };

  system.stateVersion = "25.05";
}
