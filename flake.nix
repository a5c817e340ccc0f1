{
  description = "nixherd: provision NixOS, nix-darwin and home-manager fleets from one flake";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  # `nix run github:nixherd/nixherd -- deploy @vm`, `nix profile install
  # github:nixherd/nixherd`, or this flake as an input of your fleet's.
  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      # What `nixherd version` prints: the commit, or "dirty" for a tree
      # with uncommitted changes.
      version = self.shortRev or self.dirtyShortRev or "dirty";
    in
    {
      packages = forAll (pkgs:
        let
          # go.mod's go line is the oldest Go that builds nixherd.
          buildGoModule = pkgs.buildGoModule.override { go = pkgs.go_1_26 or pkgs.go; };
          nixherd = buildGoModule {
            pname = "nixherd";
            inherit version;
            src = self;
            # The NAR hash of `go mod vendor`'s output for go.sum's modules:
            # scripts/vendor-hash.sh recomputes it after go.mod changes, and
            # TestFlake fails while it is stale.
            vendorHash = "sha256-67HjC5X/gTJ7aFFAUa1CmO/ZnJfEyLgmxi4Wb7ODTEg=";
            subPackages = [ "cmd/nixherd" ];
            ldflags = [ "-s" "-w" "-X github.com/nixherd/nixherd/internal/buildinfo.version=${version}" ];
            # The tests need test hosts (namespaces, sshd) and an offline nix:
            # scripts/test.sh runs them.
            doCheck = false;
            meta = {
              description = "Provision NixOS, nix-darwin and home-manager fleets from one flake";
              homepage = "https://github.com/nixherd/nixherd";
              mainProgram = "nixherd";
            };
          };
        in
        {
          inherit nixherd;
          default = nixherd;
        });
    };
}
