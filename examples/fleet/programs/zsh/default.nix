# zsh, as a home-manager module, with vi keybindings.
{ ... }:
{
  programs.zsh = {
    enable = true;
    defaultKeymap = "viins";
    enableCompletion = true;
    autosuggestion.enable = true;
    syntaxHighlighting.enable = true;

    history = {
      size = 50000;
      save = 50000;
      ignoreDups = true;
      share = true;
    };

    shellAliases = {
      ll = "ls -l";
      la = "ls -la";
    };

    initContent = ''
      # Leave insert mode with jk, and do not wait long for it.
      bindkey -M viins 'jk' vi-cmd-mode
      export KEYTIMEOUT=20
      # Search history with the prefix typed so far.
      bindkey -M vicmd 'k' history-beginning-search-backward
      bindkey -M vicmd 'j' history-beginning-search-forward
    '';
  };
}
