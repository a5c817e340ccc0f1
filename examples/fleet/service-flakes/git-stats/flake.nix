{
  description = "git-stats: an example service flake without secrets";

  # No inputs: the module gets pkgs from the container it runs in.
  outputs =
    { self }:
    {
      nixosModules.default =
        { pkgs, ... }:
        {
          systemd.services.git-stats = {
            description = "git-stats example service";
            wantedBy = [ "multi-user.target" ];
            after = [ "network.target" ];
            # PORT comes from mkService.
            script = ''
              exec ${pkgs.python3}/bin/python3 -m http.server "$PORT" --directory ${./www}
            '';
            serviceConfig = {
              DynamicUser = true;
              Restart = "on-failure";
            };
          };
        };
    };
}
