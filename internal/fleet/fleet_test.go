package fleet

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestReferenceFleet reads examples/fleet and checks the model against what
// its files say.
func TestReferenceFleet(t *testing.T) {
	f, err := Read(filepath.Join("..", "..", "examples", "fleet"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range f.Files {
		for _, p := range file.Problems {
			t.Errorf("problem: %s: %s", p.Pos, p.Message)
		}
	}
	want := map[string][2]string{
		"devmac": {"darwin", "aarch64-darwin"},
		"devnix": {"nixos", "aarch64-linux"},
		"ephem":  {"nixos", "aarch64-linux"},
	}
	if len(f.Machines) != len(want) {
		t.Errorf("machines: %d, want %d", len(f.Machines), len(want))
	}
	for _, m := range f.Machines {
		w, ok := want[m.Name]
		if !ok || string(m.Platform) != w[0] || m.System != w[1] {
			t.Errorf("machine %s: %s %s", m.Name, m.Platform, m.System)
		}
		if !m.StateVersionFound || m.MainFile != "machines/"+m.Name+"/default.nix" {
			t.Errorf("machine %s: stateVersion found %v, main file %q", m.Name, m.StateVersionFound, m.MainFile)
		}
		if !contains(m.Files, "programs/nvim/default.nix") {
			t.Errorf("machine %s does not use programs/nvim: %v", m.Name, m.Files)
		}
	}
	if devnix := f.Machine("devnix"); devnix == nil || !contains(devnix.Files, "programs/services/git-services.nix") {
		t.Errorf("devnix does not run the services")
	}
	if in := f.Input("homebrew-core"); in == nil || in.Flake || in.Attrs["type"] != "github" {
		t.Errorf("homebrew-core input: %+v", in)
	}
	if in := f.Input("home-manager"); in == nil || len(in.InputFollows) != 1 || in.InputFollows[0].Follows != "nixpkgs" {
		t.Errorf("home-manager input: %+v", in)
	}
	names := map[string]int{}
	for _, s := range f.Services {
		names[s.Name] = s.Index
		if !s.Imported {
			t.Errorf("service %s not seen as imported", s.Name)
		}
	}
	if names["llmproxy"] != 5 || names["gitstats"] != 6 {
		t.Errorf("services: %v", names)
	}
	if sf := f.ServiceFlakes["llmproxy"]; sf.Input != "llm-proxy" {
		t.Errorf("serviceFlakes.llmproxy = %+v", sf)
	}
	var secrets []string
	for _, s := range f.Secrets {
		secrets = append(secrets, s.File)
		if !s.KeysKnown || len(s.PublicKeys) < 2 {
			t.Errorf("secret %s: keys %v", s.Name, s.PublicKeys)
		}
	}
	if !contains(secrets, "secrets/github-token.age") {
		t.Errorf("secrets: %v", secrets)
	}
	for _, n := range f.Notes {
		t.Logf("note: %s: %s", n.Pos, n.Message)
	}
}

// TestGenericLayouts reads the common ways of writing a fleet that are not
// the reference fleet's, and says what it cannot see.
func TestGenericLayouts(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"flake.nix": `{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs";
  inputs.utils = { type = "github"; owner = "numtide"; repo = "flake-utils"; };
  outputs = inputs@{ self, nixpkgs, ... }:
    let
      lib = nixpkgs.lib;
      hosts = import ./hosts.nix;
      mk = { name, system ? "x86_64-linux" }: lib.nixosSystem {
        inherit system;
        specialArgs = { inherit inputs; };
        modules = [ (./hosts + "/${name}.nix") ./common ];
      };
    in {
      nixosConfigurations = {
        web = mk { name = "web"; };
        db = mk { name = "db"; system = hosts.db.system; };
        odd = inputs.other.lib.mkSystem { };
      } // { extra = mk { name = "web"; }; };
      darwinConfigurations = builtins.listToAttrs (map mk (builtins.attrNames (builtins.readDir ./hosts)));
    };
}
`,
		"hosts.nix":             `{ db.system = "aarch64-linux"; }`,
		"hosts/web.nix":         `{ pkgs, ... }: { imports = [ ../pkgs/tool.nix ]; environment.systemPackages = [ (pkgs.callPackage ../pkgs/tool { }) ]; }`,
		"hosts/db.nix":          `{ lib, ... }: { imports = lib.optional true ./gone.nix ++ lib.optionals false [ ./db-extra.nix ]; system.stateVersion = "24.05"; }`,
		"hosts/db-extra.nix":    `{ }`,
		"common/default.nix":    `{ lib, ... }: { config = { system.stateVersion = lib.mkDefault "24.05"; }; }`,
		"pkgs/tool/default.nix": `{ stdenv }: stdenv.mkDerivation { name = "tool"; }`,
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	f, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range f.Machines {
		got[m.Name] = m.System + " " + strings.Join(m.Modules, ",")
	}
	want := map[string]string{
		"web":   "x86_64-linux hosts/web.nix,common/default.nix",
		"db":    "aarch64-linux hosts/db.nix,common/default.nix",
		"extra": "x86_64-linux hosts/web.nix,common/default.nix",
		"odd":   " ",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("machines:\n got %v\nwant %v", got, want)
	}
	if in := f.Input("utils"); in == nil || in.Attrs["owner"] != "numtide" {
		t.Errorf("attribute-form input: %+v", in)
	}
	var missing []string
	for _, im := range f.Imports {
		if !im.Exists {
			missing = append(missing, im.From+" "+string(im.Kind)+" "+im.Written)
		}
	}
	if !reflect.DeepEqual(missing, []string{"hosts/db.nix imports ./gone.nix", "hosts/web.nix imports ../pkgs/tool.nix"}) {
		t.Errorf("missing imports: %v", missing)
	}
	var callPackage, optionals bool
	for _, im := range f.Imports {
		optionals = optionals || im.To == "hosts/db-extra.nix" && im.Exists
		callPackage = callPackage || im.Kind == CallPackage && im.To == "pkgs/tool/default.nix" && im.Exists
	}
	if !optionals {
		t.Error("lib.optionals [ ./db-extra.nix ] not followed")
	}
	if !callPackage {
		t.Error("callPackage ../pkgs/tool not resolved to its default.nix")
	}
	notes := ""
	for _, n := range f.Notes {
		notes += n.Pos.String() + " " + n.Message + "\n"
	}
	if !strings.Contains(notes, "machine odd is built by a call of inputs.other.lib.mkSystem") ||
		!strings.Contains(notes, "darwinConfigurations is computed") {
		t.Errorf("notes:\n%s", notes)
	}
}

// TestComputedMachineSets reads machines made by lib.genAttrs, mapAttrs
// and flake-parts' mkFlake.
func TestComputedMachineSets(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"flake.nix": `{
  inputs.flake-parts.url = "github:hercules-ci/flake-parts";
  outputs = inputs@{ flake-parts, nixpkgs, darwin, ... }:
    flake-parts.lib.mkFlake { inherit inputs; } {
      systems = [ "x86_64-linux" ];
      flake = {
        nixosConfigurations = nixpkgs.lib.genAttrs [ "a" "b" ] (name: nixpkgs.lib.nixosSystem {
          system = "x86_64-linux";
          modules = [ ./hosts/${name}.nix ];
        });
        darwinConfigurations = builtins.mapAttrs (name: system: darwin.lib.darwinSystem {
          inherit system;
          modules = [ ./hosts/${name}.nix ];
        }) { mac = "aarch64-darwin"; };
      };
    };
}
`,
		"hosts/a.nix":   `{ system.stateVersion = "24.05"; }`,
		"hosts/b.nix":   `{ system.stateVersion = "24.05"; }`,
		"hosts/mac.nix": `{ system.stateVersion = 5; }`,
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	f, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range f.Machines {
		got[m.Name] = string(m.Platform) + " " + m.System + " " + strings.Join(m.Modules, ",")
	}
	want := map[string]string{
		"a":   "nixos x86_64-linux hosts/a.nix",
		"b":   "nixos x86_64-linux hosts/b.nix",
		"mac": "darwin aarch64-darwin hosts/mac.nix",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("machines:\n got %v\nwant %v\nnotes %v", got, want, f.Notes)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
