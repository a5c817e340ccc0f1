// Package fleetgen writes synthetic fleet repositories shaped like the
// reference fleet (flake.nix with machines, machines/*, programs/*, the
// mkService services and agenix secrets), at any size. They exist to measure
// `nixherd check` on a fleet far larger than a real one (scripts/bench-check.sh)
// and to test that the checker passes a clean fleet of that shape.
//
// A generated fleet is consistent: every rule of `nixherd check` holds, so a
// check of it must report nothing.
package fleetgen

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"

	"github.com/nixherd/nixherd/internal/secrets"
)

// Options sizes a fleet.
type Options struct {
	Machines int // machines in total: about 3/4 NixOS, 1/5 darwin, the rest home-manager
	Files    int // .nix files in total (at least what the machines need)
	Services int // mkService services
}

// Generate writes a fleet into dir (which must be empty or absent) and
// returns the number of .nix files written.
func Generate(dir string, o Options) (int, error) {
	g := &gen{dir: dir}
	if o.Services <= 0 {
		o.Services = 10
	}
	if o.Services > 200 {
		return 0, fmt.Errorf("at most 200 services fit in 192.168.100.0/24")
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return 0, err
	}
	// Programs take whatever files the machines and the fixed files leave.
	fixed := 3 + 2*o.Machines // flake.nix, secrets.nix, git-services.nix, machines
	perProgram := 4
	programs := (o.Files - fixed) / perProgram
	if programs < 1 {
		programs = 1
	}
	extra := o.Files - fixed - programs*perProgram

	g.flake(o)
	g.lock(o)
	for i := 0; i < o.Machines; i++ {
		g.machine(i, o, programs)
	}
	for p := 0; p < programs; p++ {
		n := perProgram
		if p == 0 && extra > 0 {
			n += extra
		}
		g.program(p, n)
	}
	g.services(o)
	g.secrets(o, id)
	return g.files, g.err
}

type gen struct {
	dir   string
	files int
	err   error
}

func (g *gen) write(rel, content string) {
	if g.err != nil {
		return
	}
	path := filepath.Join(g.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		g.err = err
		return
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		g.err = err
		return
	}
	if strings.HasSuffix(rel, ".nix") {
		g.files++
	}
}

// platform of machine i: NixOS, darwin or home-manager.
func platform(i, machines int) string {
	switch {
	case i < machines*3/4:
		return "nixos"
	case i < machines*19/20:
		return "darwin"
	default:
		return "home"
	}
}

func machineName(i int) string { return fmt.Sprintf("m%03d", i) }
func serviceName(i int) string { return fmt.Sprintf("svc%02d", i) }

func (g *gen) flake(o Options) {
	var b strings.Builder
	b.WriteString(`{
  description = "A generated fleet";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    home-manager = {
      url = "github:nix-community/home-manager";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    nix-darwin = {
      url = "github:nix-darwin/nix-darwin";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    agenix.url = "github:ryantm/agenix";
`)
	for s := 0; s < o.Services; s++ {
		fmt.Fprintf(&b, "    %s.url = \"git+ssh://git@github.com/example/%s.git\";\n", serviceName(s), serviceName(s))
	}
	b.WriteString(`  };

  outputs = { self, nixpkgs, home-manager, nix-darwin, agenix, ... }@inputs:
    let
      serviceFlakes = {
`)
	for s := 0; s < o.Services; s++ {
		fmt.Fprintf(&b, "        %s = inputs.%s;\n", serviceName(s), serviceName(s))
	}
	b.WriteString(`      };
      shared = [
        agenix.nixosModules.default
        { _module.args.serviceFlakes = serviceFlakes; }
      ];
    in
    {
      nixosConfigurations = {
`)
	for i := 0; i < o.Machines; i++ {
		if platform(i, o.Machines) == "nixos" {
			fmt.Fprintf(&b, "        %s = nixpkgs.lib.nixosSystem {\n          system = \"aarch64-linux\";\n          modules = shared ++ [\n            ./machines/%s\n            home-manager.nixosModules.home-manager\n          ];\n        };\n", machineName(i), machineName(i))
		}
	}
	b.WriteString("      };\n\n      darwinConfigurations = {\n")
	for i := 0; i < o.Machines; i++ {
		if platform(i, o.Machines) == "darwin" {
			fmt.Fprintf(&b, "        %s = nix-darwin.lib.darwinSystem {\n          system = \"aarch64-darwin\";\n          modules = [ ./machines/%s home-manager.darwinModules.home-manager ];\n        };\n", machineName(i), machineName(i))
		}
	}
	b.WriteString("      };\n\n      homeConfigurations = {\n")
	for i := 0; i < o.Machines; i++ {
		if platform(i, o.Machines) == "home" {
			fmt.Fprintf(&b, "        \"dylan@%s\" = home-manager.lib.homeManagerConfiguration {\n          pkgs = nixpkgs.legacyPackages.x86_64-linux;\n          modules = [ ./machines/%s ];\n        };\n", machineName(i), machineName(i))
		}
	}
	b.WriteString("      };\n    };\n}\n")
	g.write("flake.nix", b.String())
}

// lock writes a flake.lock that matches flake.nix, as nix would.
func (g *gen) lock(o Options) {
	rev := func(n int) string { return fmt.Sprintf("%040x", n+1) }
	github := func(n int, owner, repo, ref string) map[string]any {
		orig := map[string]any{"type": "github", "owner": owner, "repo": repo}
		if ref != "" {
			orig["ref"] = ref
		}
		return map[string]any{
			"original": orig,
			"locked":   map[string]any{"type": "github", "owner": owner, "repo": repo, "rev": rev(n), "narHash": "sha256-AAAA", "lastModified": 1700000000},
		}
	}
	nodes := map[string]any{
		"nixpkgs": github(0, "NixOS", "nixpkgs", "nixos-unstable"),
		"agenix":  github(3, "ryantm", "agenix", ""),
	}
	hm := github(1, "nix-community", "home-manager", "")
	hm["inputs"] = map[string]any{"nixpkgs": []string{"nixpkgs"}}
	nodes["home-manager"] = hm
	nd := github(2, "nix-darwin", "nix-darwin", "")
	nd["inputs"] = map[string]any{"nixpkgs": []string{"nixpkgs"}}
	nodes["nix-darwin"] = nd
	root := map[string]any{"nixpkgs": "nixpkgs", "home-manager": "home-manager", "nix-darwin": "nix-darwin", "agenix": "agenix"}
	for s := 0; s < o.Services; s++ {
		name := serviceName(s)
		url := "ssh://git@github.com/example/" + name + ".git"
		nodes[name] = map[string]any{
			"original": map[string]any{"type": "git", "url": url},
			"locked":   map[string]any{"type": "git", "url": url, "rev": rev(10 + s), "narHash": "sha256-AAAA", "lastModified": 1700000000, "revCount": 1},
		}
		root[name] = name
	}
	nodes["root"] = map[string]any{"inputs": root}
	data, err := json.MarshalIndent(map[string]any{"nodes": nodes, "root": "root", "version": 7}, "", "  ")
	if err != nil {
		g.err = err
		return
	}
	g.write("flake.lock", string(data)+"\n")
}

func (g *gen) machine(i int, o Options, programs int) {
	name := machineName(i)
	plat := platform(i, o.Machines)
	var imports strings.Builder
	imports.WriteString("    ./hardware.nix\n")
	for k := 0; k < 5; k++ {
		fmt.Fprintf(&imports, "    ../../programs/p%03d\n", (i*7+k*13)%programs)
	}
	if plat == "nixos" && i%10 == 0 {
		imports.WriteString("    ../../programs/services/git-services.nix\n")
	}
	state := `"25.05"`
	if plat == "darwin" {
		state = "6"
	}
	stateLine := fmt.Sprintf("  system.stateVersion = %s;\n", state)
	if plat == "home" {
		stateLine = "  home.stateVersion = \"25.05\";\n"
	}
	g.write(filepath.Join("machines", name, "default.nix"), fmt.Sprintf(`{ config, pkgs, lib, ... }:

{
  imports = [
%s  ];

  networking.hostName = %q;
%s
  users.users.dylan = {
    description = "Dylan";
    extraGroups = [ "wheel" ];
  };
}
`, imports.String(), name, stateLine))
	g.write(filepath.Join("machines", name, "hardware.nix"), `{ lib, ... }:

{
  # Hardware of this machine.
  boot.initrd.availableKernelModules = [ "xhci_pci" "usbhid" "sr_mod" ];
  fileSystems."/" = {
    device = "/dev/disk/by-label/nixos";
    fsType = "ext4";
  };
  nixpkgs.hostPlatform = lib.mkDefault "aarch64-linux";
}
`)
}

func (g *gen) program(p, files int) {
	dir := filepath.Join("programs", fmt.Sprintf("p%03d", p))
	var parts strings.Builder
	for f := 1; f < files; f++ {
		if f == 1 {
			continue // part1 is the package, called below
		}
		fmt.Fprintf(&parts, "    ./part%d.nix\n", f)
	}
	g.write(filepath.Join(dir, "default.nix"), fmt.Sprintf(`{ config, pkgs, lib, ... }:

let
  cfg = config.programs.p%03d;
  tool = pkgs.callPackage ./part1.nix { };
in
{
  imports = [
%s  ];

  options.programs.p%03d.enable = lib.mkEnableOption "program %d";

  config = lib.mkIf cfg.enable {
    environment.systemPackages = [ tool ];
    environment.variables.EDITOR = "nvim";
  };
}
`, p, parts.String(), p, p))
	g.write(filepath.Join(dir, "part1.nix"), `{ stdenv, lib }:

stdenv.mkDerivation {
  pname = "tool";
  version = "1.0";
  src = ./.;
  installPhase = ''
    mkdir -p $out/bin
    echo '#!/bin/sh' > $out/bin/tool
  '';
  meta.description = "a generated tool";
}
`)
	for f := 2; f < files; f++ {
		g.write(filepath.Join(dir, fmt.Sprintf("part%d.nix", f)), fmt.Sprintf(`{ lib, pkgs, ... }:

let
  aliases = {
    ll = "ls -l";
    gs = "git status";
  };
in
{
  programs.zsh.shellAliases = aliases // { p%d = "echo %d"; };
  environment.etc."generated/%d-%d".text = lib.concatStringsSep "\n" [ "a" "b" ];
}
`, f, f, p, f))
	}
}

func (g *gen) services(o Options) {
	var svc, imports strings.Builder
	for s := 0; s < o.Services; s++ {
		fmt.Fprintf(&svc, "    %s = {\n      port = %d;\n      index = %d;\n", serviceName(s), 8000+s, s+1)
		if s%2 == 0 {
			fmt.Fprintf(&svc, "      secrets = [ \"openai-api-key\" ];\n")
		}
		svc.WriteString("    };\n")
		fmt.Fprintf(&imports, "    (mkService %q services.%s serviceFlakes.%s)\n", serviceName(s), serviceName(s), serviceName(s))
	}
	g.write(filepath.Join("programs", "services", "git-services.nix"), fmt.Sprintf(`{ config, lib, pkgs, serviceFlakes, ... }:

let
  services = {
%s  };

  mkService = name: cfg: flake: {
    containers.${name} = {
      autoStart = true;
      privateNetwork = true;
      hostAddress = "192.168.100.1";
      localAddress = "192.168.100.${toString (10 + cfg.index)}";
      forwardPorts = [ { protocol = "tcp"; hostPort = cfg.port; containerPort = cfg.port; } ];
      config = { ... }: {
        imports = [ flake.nixosModules.default ];
        networking.firewall.allowedTCPPorts = [ cfg.port ];
        system.stateVersion = "25.05";
      };
    };
  };
in
{
  imports = [
%s  ];
}
`, svc.String(), imports.String()))
}

func (g *gen) secrets(o Options, id *age.X25519Identity) {
	recipient := id.Recipient().String()
	names := []string{"openai-api-key", "github-token"}
	var b strings.Builder
	fmt.Fprintf(&b, "let\n  fleet = %q;\n  keys = [ fleet ];\nin\n{\n", recipient)
	for _, n := range names {
		fmt.Fprintf(&b, "  %q.publicKeys = keys;\n", n+".age")
	}
	b.WriteString("}\n")
	g.write(filepath.Join("secrets", "secrets.nix"), b.String())
	if g.err != nil {
		return
	}
	// Through the secrets tool, which records what each file is encrypted
	// to, as a fleet's own secrets are.
	rs, err := secrets.LoadRules(filepath.Join(g.dir, "secrets", "secrets.nix"))
	if err != nil {
		g.err = err
		return
	}
	for _, n := range names {
		r, err := rs.Lookup(n)
		if err == nil {
			err = rs.Encrypt(r, []byte(fmt.Sprintf("generated %s\n", n)))
		}
		if err != nil {
			g.err = err
			return
		}
	}
}
