# The fleet's own services, each a flake run in a NixOS container behind NAT
# (see mk-service.nix). To add one:
#   1. add its flake to flake.nix's inputs and to _module.args.serviceFlakes;
#   2. describe it below with a port and an index no other service uses;
#   3. add its mkService line to imports.
{ serviceFlakes, ... }:
let
  mkService = import ./mk-service.nix;

  services = {
    llmproxy = {
      port = 8060;
      index = 5;
      secrets = [ "openai-api-key" ];
      environment = {
        OPENAI_MODEL = "gpt-4o-mini";
      };
    };
    gitstats = {
      port = 8061;
      index = 6;
    };
  };
in
{
  imports = [
    (mkService "llmproxy" services.llmproxy serviceFlakes.llmproxy)
    (mkService "gitstats" services.gitstats serviceFlakes.gitstats)
  ];
}
