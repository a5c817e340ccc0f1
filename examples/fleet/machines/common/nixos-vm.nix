# What devnix and ephem share: an aarch64 NixOS guest on a Mac, with GNOME,
# Docker, a Swiss German keyboard and dylan's home-manager setup. Each
# machine adds its hypervisor's guest tools and its own services.
{
  config,
  pkgs,
  ...
}:
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
  };

  services.openssh.enable = true;

  # Secrets, decrypted at activation with this machine's SSH host key.
  age.secrets.anthropic-api-key = {
    file = ../../secrets/anthropic-api-key.age;
    owner = "dylan";
  };
  age.secrets.github-token.file = ../../secrets/github-token.age;
  # The decrypted file holds an `access-tokens = github.com=...` line; `!`
  # lets Nix start before the secret exists (first boot, rekeys).
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
