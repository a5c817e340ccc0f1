# Neovim, as a home-manager module: Coc for completion, the built-in LSP
# client for language servers, codecompanion with Anthropic's models, the
# dracula theme, and OSCYank so yanks reach the local clipboard over SSH.
#
# The Anthropic API key is never in the Nix store: codecompanion reads it at
# run time from the agenix secret the machine declares
# (age.secrets.anthropic-api-key, owned by the user).
{
  pkgs,
  osConfig,
  ...
}:
let
  anthropicKeyFile = osConfig.age.secrets.anthropic-api-key.path;
in
{
  programs.neovim = {
    enable = true;
    defaultEditor = true;
    viAlias = true;
    vimAlias = true;

    # Completion popups from Coc; diagnostics come from the built-in LSP
    # client below, so Coc's are off to avoid showing everything twice.
    coc = {
      enable = true;
      settings = {
        "suggest.noselect" = true;
        "diagnostic.enable" = false;
      };
    };

    # Language servers the built-in LSP client starts.
    extraPackages = with pkgs; [
      nil
      gopls
      lua-language-server
    ];

    plugins = with pkgs.vimPlugins; [
      nvim-lspconfig
      dracula-nvim
      vim-oscyank
      plenary-nvim
      nvim-treesitter.withAllGrammars
      codecompanion-nvim
    ];

    extraLuaConfig = ''
      vim.opt.number = true
      vim.opt.relativenumber = true
      vim.opt.expandtab = true
      vim.opt.shiftwidth = 2
      vim.opt.termguicolors = true

      vim.cmd.colorscheme("dracula")

      -- Language servers, configured by nvim-lspconfig. Nvim 0.11 (what
      -- nixos-25.05 ships) enables them with vim.lsp.enable, reading the lsp/
      -- configurations nvim-lspconfig has since 2.0; older Nvim, or an older
      -- nvim-lspconfig, needs lspconfig's own setup.
      local servers = { "nil_ls", "gopls", "lua_ls" }
      if vim.fn.has("nvim-0.11") == 1 and #vim.api.nvim_get_runtime_file("lsp/nil_ls.lua", false) > 0 then
        vim.lsp.enable(servers)
      else
        local lspconfig = require("lspconfig")
        for _, server in ipairs(servers) do
          lspconfig[server].setup({})
        end
      end

      -- Over SSH there is no shared clipboard: send every yank to the
      -- terminal with OSC 52.
      vim.api.nvim_create_autocmd("TextYankPost", {
        callback = function()
          if vim.env.SSH_CONNECTION and vim.v.event.operator == "y" and vim.v.event.regname == "" then
            vim.cmd('OSCYankRegister "')
          end
        end,
      })

      require("codecompanion").setup({
        adapters = {
          anthropic = function()
            return require("codecompanion.adapters").extend("anthropic", {
              env = { api_key = "cmd:cat ${anthropicKeyFile}" },
            })
          end,
        },
        strategies = {
          chat = { adapter = "anthropic" },
          inline = { adapter = "anthropic" },
        },
      })
    '';
  };
}
