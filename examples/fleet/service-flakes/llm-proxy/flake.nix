{
  description = "llm-proxy: an example service flake that needs a secret";

  # No inputs: the module gets pkgs from the container it runs in.
  outputs =
    { self }:
    {
      nixosModules.default =
        { pkgs, ... }:
        {
          systemd.services.llm-proxy = {
            description = "llm-proxy example service";
            wantedBy = [ "multi-user.target" ];
            after = [ "network.target" ];
            # PORT and OPENAI_API_KEY_FILE come from mkService. The service
            # runs as root inside its container so that it can read the
            # bind-mounted secret (agenix makes it root-only, mode 0400).
            script = ''
              if [ ! -r "$OPENAI_API_KEY_FILE" ]; then
                echo "llm-proxy: cannot read OPENAI_API_KEY_FILE ($OPENAI_API_KEY_FILE)" >&2
                exit 1
              fi
              exec ${pkgs.python3}/bin/python3 -m http.server "$PORT" --directory ${./www}
            '';
            serviceConfig.Restart = "on-failure";
          };
        };
    };
}
