# tmux, as a home-manager module: vi copy mode, C-a prefix, mouse, and yanks
# that reach the local clipboard over SSH (OSC 52).
{ pkgs, ... }:
{
  programs.tmux = {
    enable = true;
    shortcut = "a";
    keyMode = "vi";
    mouse = true;
    baseIndex = 1;
    escapeTime = 10;
    historyLimit = 50000;
    terminal = "tmux-256color";
    plugins = with pkgs.tmuxPlugins; [
      sensible
      yank
    ];
    extraConfig = ''
      set -g set-clipboard on
      set -g renumber-windows on
      bind-key -T copy-mode-vi v send-keys -X begin-selection
      bind | split-window -h -c "#{pane_current_path}"
      bind - split-window -v -c "#{pane_current_path}"
    '';
  };
}
