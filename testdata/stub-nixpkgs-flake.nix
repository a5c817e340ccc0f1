# Evaluates nixherd's own flake.nix (the package `nix run` builds) against a
# stand-in for nixpkgs: buildGoModule records what it is given, so the test
# sees the arguments the real one would get. nixpkgs cannot be fetched where
# nixherd is tested; the build itself is not run.
{ shortRev ? null }:
let
  flake = import ../flake.nix;
  systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
  pkgsFor = system: {
    inherit system;
    go = { version = "nixpkgs-default"; };
    go_1_26 = { version = "1.26"; };
    buildGoModule = {
      override = { go }: args: args // { go = go.version; };
    };
  };
  nixpkgs = {
    lib.genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
    legacyPackages = builtins.listToAttrs (map (s: { name = s; value = pkgsFor s; }) systems);
  };
  self = { outPath = toString ../.; } // (if shortRev == null then { } else { inherit shortRev; });
  out = flake.outputs { inherit self nixpkgs; };
  pkg = out.packages.x86_64-linux.default;
in
{
  inherit (pkg) pname version vendorHash subPackages ldflags go doCheck;
  mainProgram = pkg.meta.mainProgram;
  systems = builtins.attrNames out.packages;
  same = out.packages.aarch64-darwin.default == out.packages.aarch64-darwin.nixherd;
}
