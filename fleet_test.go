package nixherd

// Tests of the reference fleet in examples/fleet with the real tools: every
// .nix file parses with nix-instantiate, the pure parts (mkService, the
// services, the secrets rules, the service flakes) evaluate with real Nix to
// what the seed describes, and the example secrets decrypt with the demo
// keys using the real age CLI. nixpkgs is not available here, so nothing
// that needs it is evaluated (see examples/CHECKS.md).

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/testenv"
)

const fleetDir = "examples/fleet"

func nixFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(fleetDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".nix") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("found only %d .nix files under %s", len(files), fleetDir)
	}
	return files
}

func TestFleetFilesParse(t *testing.T) {
	nixInstantiate := testenv.NeedTool(t, "nix-instantiate")
	testenv.NixEnv(t)
	for _, f := range nixFiles(t) {
		out, err := exec.Command(nixInstantiate, "--parse", f).CombinedOutput()
		if err != nil {
			t.Errorf("nix-instantiate --parse %s: %v\n%s", f, err, out)
		}
	}
}

// Machines import programs; programs never import machines.
func TestProgramsNeverImportMachines(t *testing.T) {
	for _, f := range nixFiles(t) {
		if !strings.HasPrefix(f, filepath.Join(fleetDir, "programs")) {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("machines/")) {
			t.Errorf("%s refers to machines/", f)
		}
	}
}

// evalJSON evaluates a Nix expression with the fleet's folder as ./ and
// decodes its strict JSON value.
func evalJSON(t *testing.T, expr string, v any) {
	t.Helper()
	nixInstantiate := testenv.NeedTool(t, "nix-instantiate")
	testenv.NixEnv(t)
	abs, err := filepath.Abs(fleetDir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nixInstantiate, "--eval", "--strict", "--json", "--expr", expr)
	cmd.Dir = abs
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nix-instantiate --eval: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("decoding %s: %v", out, err)
	}
}

// The module system is not available without nixpkgs; these stubs stand in
// for the module arguments the service modules read: serviceFlakes (as
// flake.nix passes them), config.age.secrets.<name>.{path,file} (as agenix
// and mkService set them) and lib.mkDefault. Each module is applied to them
// and its imports collected one level deep, which is all git-services.nix
// and mkService use.
const servicesExpr = `
let
  serviceFlakes = {
    llmproxy.nixosModules.default = "llm-proxy module";
    gitstats.nixosModules.default = "git-stats module";
  };
  config = {
    age.secrets.openai-api-key = {
      path = "/run/agenix/openai-api-key";
      file = ./secrets/openai-api-key.age;
    };
    hardware.parallels.enable = true;
  };
  lib.mkDefault = content: { _type = "override"; priority = 1000; inherit content; };
  gitServices = import ./programs/services/git-services.nix { inherit serviceFlakes config; };
  modules = map (m: m { inherit config; }) gitServices.imports;
  merged = builtins.foldl' (acc: m: acc // m.containers) { } modules;
  container = c: (removeAttrs c [ "config" ]) // { inner = c.config { }; };
  nat = import ./programs/services/container-nat.nix { inherit config lib; };
in
{
  containers = builtins.mapAttrs (_: container) merged;
  restartTriggers = builtins.foldl' (acc: m: acc // builtins.mapAttrs (_: u: u.restartTriggers) m.systemd.services) { } modules;
  assertions = builtins.concatMap (m: m.assertions) modules;
  secrets = builtins.concatMap (m: builtins.attrNames m.age.secrets) modules;
  secretFiles = builtins.concatMap (m: map (s: baseNameOf (toString s.file)) (builtins.attrValues m.age.secrets)) modules;
  imports = builtins.concatMap (m: map (p: baseNameOf (toString p)) m.imports) modules;
  nat = nat.networking.nat // { externalInterface = nat.networking.nat.externalInterface.content; };
  unmanaged = nat.networking.networkmanager.unmanaged;
}
`

type forwardPort struct {
	Protocol      string `json:"protocol"`
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
}

type bindMount struct {
	HostPath   string `json:"hostPath"`
	IsReadOnly bool   `json:"isReadOnly"`
}

type container struct {
	AutoStart      bool                 `json:"autoStart"`
	PrivateNetwork bool                 `json:"privateNetwork"`
	HostAddress    string               `json:"hostAddress"`
	LocalAddress   string               `json:"localAddress"`
	ForwardPorts   []forwardPort        `json:"forwardPorts"`
	BindMounts     map[string]bindMount `json:"bindMounts"`
	Inner          struct {
		Imports    []string `json:"imports"`
		Networking struct {
			Firewall struct {
				AllowedTCPPorts []int `json:"allowedTCPPorts"`
			} `json:"firewall"`
		} `json:"networking"`
		Systemd struct {
			GlobalEnvironment map[string]string `json:"globalEnvironment"`
		} `json:"systemd"`
		Environment struct {
			Variables map[string]string `json:"variables"`
		} `json:"environment"`
	} `json:"inner"`
}

func TestMkServiceContainers(t *testing.T) {
	var got struct {
		Containers map[string]container `json:"containers"`
		Assertions []struct {
			Assertion bool   `json:"assertion"`
			Message   string `json:"message"`
		} `json:"assertions"`
		RestartTriggers map[string][]string `json:"restartTriggers"`
		Secrets         []string            `json:"secrets"`
		SecretFiles     []string            `json:"secretFiles"`
		Imports         []string            `json:"imports"`
		Nat             struct {
			Enable             bool     `json:"enable"`
			InternalInterfaces []string `json:"internalInterfaces"`
			ExternalInterface  string   `json:"externalInterface"`
		} `json:"nat"`
		Unmanaged []string `json:"unmanaged"`
	}
	evalJSON(t, servicesExpr, &got)

	if len(got.Containers) != 2 {
		t.Fatalf("containers = %v, want llmproxy and gitstats", got.Containers)
	}
	tests := []struct {
		name, address, module string
		port                  int
		mounts                map[string]bindMount
		env                   map[string]string
	}{
		{
			name: "llmproxy", address: "192.168.100.15", port: 8060, module: "llm-proxy module",
			mounts: map[string]bindMount{"/run/secrets/openai-api-key": {HostPath: "/run/agenix/openai-api-key", IsReadOnly: true}},
			env:    map[string]string{"PORT": "8060", "OPENAI_MODEL": "gpt-4o-mini", "OPENAI_API_KEY_FILE": "/run/secrets/openai-api-key"},
		},
		{
			name: "gitstats", address: "192.168.100.16", port: 8061, module: "git-stats module",
			mounts: map[string]bindMount{},
			env:    map[string]string{"PORT": "8061"},
		},
	}
	for _, tt := range tests {
		c, ok := got.Containers[tt.name]
		if !ok {
			t.Errorf("no container %s", tt.name)
			continue
		}
		if !c.AutoStart || !c.PrivateNetwork {
			t.Errorf("%s: autoStart=%v privateNetwork=%v, want both true", tt.name, c.AutoStart, c.PrivateNetwork)
		}
		if c.HostAddress != "192.168.100.1" || c.LocalAddress != tt.address {
			t.Errorf("%s: hostAddress=%s localAddress=%s, want 192.168.100.1 and %s", tt.name, c.HostAddress, c.LocalAddress, tt.address)
		}
		if want := []forwardPort{{"tcp", tt.port, tt.port}}; !reflect.DeepEqual(c.ForwardPorts, want) {
			t.Errorf("%s: forwardPorts=%v, want %v", tt.name, c.ForwardPorts, want)
		}
		if !reflect.DeepEqual(c.BindMounts, tt.mounts) {
			t.Errorf("%s: bindMounts=%v, want %v", tt.name, c.BindMounts, tt.mounts)
		}
		if !reflect.DeepEqual(c.Inner.Imports, []string{tt.module}) {
			t.Errorf("%s: container imports %v, want the service flake's nixosModules.default", tt.name, c.Inner.Imports)
		}
		if !reflect.DeepEqual(c.Inner.Networking.Firewall.AllowedTCPPorts, []int{tt.port}) {
			t.Errorf("%s: container firewall opens %v, want [%d]", tt.name, c.Inner.Networking.Firewall.AllowedTCPPorts, tt.port)
		}
		if !reflect.DeepEqual(c.Inner.Systemd.GlobalEnvironment, tt.env) || !reflect.DeepEqual(c.Inner.Environment.Variables, tt.env) {
			t.Errorf("%s: environment %v / %v, want %v", tt.name, c.Inner.Systemd.GlobalEnvironment, c.Inner.Environment.Variables, tt.env)
		}
	}
	for _, a := range got.Assertions {
		if !a.Assertion {
			t.Errorf("assertion fails for the reference services: %s", a.Message)
		}
	}
	if !reflect.DeepEqual(got.Secrets, []string{"openai-api-key"}) || !reflect.DeepEqual(got.SecretFiles, []string{"openai-api-key.age"}) {
		t.Errorf("age.secrets = %v from %v, want openai-api-key from openai-api-key.age", got.Secrets, got.SecretFiles)
	}
	if !reflect.DeepEqual(got.Imports, []string{"container-nat.nix", "container-nat.nix"}) {
		t.Errorf("mkService imports %v, want container-nat.nix (by path, so NixOS includes it once)", got.Imports)
	}
	if !got.Nat.Enable || !reflect.DeepEqual(got.Nat.InternalInterfaces, []string{"ve-+"}) || got.Nat.ExternalInterface != "enp0s5" {
		t.Errorf("networking.nat = %+v, want enabled, ve-+ to enp0s5 (a Parallels guest)", got.Nat)
	}
	if !reflect.DeepEqual(got.Unmanaged, []string{"interface-name:ve-*"}) {
		t.Errorf("networking.networkmanager.unmanaged = %q, want the container links", got.Unmanaged)
	}
	// A container restarts when one of its secrets changes: the trigger is
	// the encrypted file as a store path, named by its content.
	if len(got.RestartTriggers) != 2 || len(got.RestartTriggers["container@gitstats"]) != 0 {
		t.Errorf("restart triggers %q, want one for llmproxy's secret and none for gitstats", got.RestartTriggers)
	}
	if tr := got.RestartTriggers["container@llmproxy"]; len(tr) != 1 || !strings.HasPrefix(tr[0], "/nix/store/") || !strings.HasSuffix(tr[0], "-openai-api-key.age") {
		t.Errorf("container@llmproxy restart triggers = %q, want the store copy of openai-api-key.age", tr)
	}
}

// restartTrigger evaluates the restart triggers of llmproxy's container
// unit in the fleet at dir.
func restartTrigger(t *testing.T, dir string) string {
	t.Helper()
	var got []string
	evalJSON(t, `
let
  e = import `+mustAbs(t, "testdata/stub-flake-eval.nix")+` { fleet = `+dir+`; };
in
e.outputs.nixosConfigurations.devnix.config.systemd.services."container@llmproxy".restartTriggers
`, &got)
	if len(got) != 1 {
		t.Fatalf("restart triggers %q, want one", got)
	}
	return got[0]
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// The trigger follows the secret's content, not where the flake is: a
// change elsewhere in the fleet (which moves a flake's store path) leaves
// it alone, a re-encrypted secret changes it.
func TestSecretRestartTriggerFollowsContent(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(fleetDir)); err != nil {
		t.Fatal(err)
	}
	before := restartTrigger(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if after := restartTrigger(t, dir); after != before {
		t.Errorf("an unrelated change moved the trigger from %s to %s", before, after)
	}
	secret := filepath.Join(dir, "secrets", "openai-api-key.age")
	data, err := os.ReadFile(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if after := restartTrigger(t, dir); after == before {
		t.Errorf("a changed secret left the trigger at %s", before)
	}
}

// The NAT's external interface defaults per hypervisor and is the
// machine's to override; evaluated through the stub module system, with
// the NixOS defaults of the guest options.
func TestContainerNatInterfacePerHypervisor(t *testing.T) {
	expr := `
let
  e = import ../../testdata/stub-flake-eval.nix { fleet = ./.; };
  nat = machine: (e.evalNixos [ ./programs/services/container-nat.nix machine ]).networking.nat.externalInterface;
in
{
  parallels = nat { hardware.parallels.enable = true; };
  vmware = nat { virtualisation.vmware.guest.enable = true; };
  neither = nat { };
  overridden = nat { hardware.parallels.enable = true; networking.nat.externalInterface = "eth0"; };
}
`
	var got map[string]*string
	evalJSON(t, expr, &got)
	str := func(p *string) string {
		if p == nil {
			return "null"
		}
		return *p
	}
	want := map[string]string{"parallels": "enp0s5", "vmware": "ens160", "neither": "null", "overridden": "eth0"}
	for k, w := range want {
		if g := str(got[k]); g != w {
			t.Errorf("%s: externalInterface = %s, want %s", k, g, w)
		}
	}
}

// 10 + index must stay a host address in 192.168.100.0/24.
func TestMkServiceAssertsIndexRange(t *testing.T) {
	expr := `
let
  mkService = import ./programs/services/mk-service.nix;
  check = index: builtins.head ((mkService "svc" { port = 9000; inherit index; } { } { config = { }; }).assertions);
in
map (i: (check i).assertion) [ 0 244 245 (-1) ]
`
	var got []bool
	evalJSON(t, expr, &got)
	if want := []bool{true, true, false, false}; !reflect.DeepEqual(got, want) {
		t.Errorf("assertion for index 0, 244, 245, -1 = %v, want %v", got, want)
	}
}

func demoKey(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "demo-keys", name+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// keys.nix declares every key once: the demo keys secrets.nix encrypts to,
// and the deploy keys the machines authorize (TestFleetEvaluatesWithStubInputs
// checks that they do).
func TestKeysFile(t *testing.T) {
	var got map[string]any
	evalJSON(t, "import ./keys.nix", &got)
	dylan := demoKey(t, "dylan")
	want := map[string]any{
		"dylan":  dylan,
		"devmac": demoKey(t, "devmac"),
		"devnix": demoKey(t, "devnix"),
		"ephem":  demoKey(t, "ephem"),
		"deploy": []any{dylan},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("keys.nix = %v, want %v", got, want)
	}
}

func TestSecretsRules(t *testing.T) {
	var got map[string]struct {
		PublicKeys []string `json:"publicKeys"`
		Armor      bool     `json:"armor"`
	}
	evalJSON(t, "import ./secrets/secrets.nix", &got)

	dylan, devmac, devnix, ephem := demoKey(t, "dylan"), demoKey(t, "devmac"), demoKey(t, "devnix"), demoKey(t, "ephem")
	want := map[string][]string{
		"anthropic-api-key.age":         {dylan, devmac, devnix, ephem},
		"github-token.age":              {dylan, devnix, ephem},
		"openai-api-key.age":            {dylan, devnix},
		"photoprism-admin-password.age": {dylan, devnix},
	}
	if len(got) != len(want) {
		t.Errorf("secrets.nix has %d entries, want %d", len(got), len(want))
	}
	for file, keys := range want {
		if !reflect.DeepEqual(got[file].PublicKeys, keys) {
			t.Errorf("%s publicKeys = %q, want %q", file, got[file].PublicKeys, keys)
		}
		if got[file].Armor != (file == "anthropic-api-key.age") {
			t.Errorf("%s armor = %v", file, got[file].Armor)
		}
		if _, err := os.Stat(filepath.Join(fleetDir, "secrets", file)); err != nil {
			t.Errorf("secrets.nix lists %s: %v", file, err)
		}
	}
}

// Each example secret decrypts, with the real age CLI, with exactly the demo
// keys secrets.nix lists for it.
func TestSecretsDecryptWithDemoKeys(t *testing.T) {
	age := testenv.NeedTool(t, "age")
	plaintext := map[string]string{
		"anthropic-api-key.age":         "sk-ant-DEMO-not-a-real-key\n",
		"github-token.age":              "access-tokens = github.com=ghp_DEMOnotARealToken0000000000000000\n",
		"openai-api-key.age":            "sk-DEMO-not-a-real-key\n",
		"photoprism-admin-password.age": "demo-password-change-me\n",
	}
	readers := map[string][]string{
		"anthropic-api-key.age":         {"dylan", "devmac", "devnix", "ephem"},
		"github-token.age":              {"dylan", "devnix", "ephem"},
		"openai-api-key.age":            {"dylan", "devnix"},
		"photoprism-admin-password.age": {"dylan", "devnix"},
	}
	for file, text := range plaintext {
		path := filepath.Join(fleetDir, "secrets", file)
		if data, _ := os.ReadFile(path); bytes.HasPrefix(data, []byte("-----BEGIN AGE ENCRYPTED FILE-----")) != (file == "anthropic-api-key.age") {
			t.Errorf("%s: armored must match secrets.nix's armor", file)
		}
		for _, key := range []string{"dylan", "devmac", "devnix", "ephem"} {
			out, err := exec.Command(age, "-d", "-i", filepath.Join("testdata", "demo-keys", key), path).Output()
			canRead := false
			for _, r := range readers[file] {
				canRead = canRead || r == key
			}
			switch {
			case canRead && err != nil:
				t.Errorf("age -d -i %s %s: %v", key, file, err)
			case canRead && string(out) != text:
				t.Errorf("%s decrypted with %s = %q, want %q", file, key, out, text)
			case !canRead && err == nil:
				t.Errorf("%s decrypts with %s, which secrets.nix does not list", file, key)
			}
		}
	}
}

// The example service flakes are flakes Nix accepts, and their module
// defines the systemd unit mkService's environment is meant for.
func TestServiceFlakes(t *testing.T) {
	nix := testenv.NixEnv(t)
	for name, unit := range map[string]string{"llm-proxy": "llm-proxy", "git-stats": "git-stats"} {
		// A copy outside the repository: a path: flake inside a git
		// checkout would be fetched as the whole checkout.
		dir := filepath.Join(t.TempDir(), name)
		if err := os.CopyFS(dir, os.DirFS(filepath.Join(fleetDir, "service-flakes", name))); err != nil {
			t.Fatal(err)
		}
		apply := `m: let c = m { pkgs.python3 = "/python3"; }; in builtins.attrNames c.systemd.services`
		cmd := exec.Command(nix, "eval", "--json", "path:"+dir+"#nixosModules.default", "--apply", apply)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("nix eval %s: %v\n%s", name, err, stderr.String())
		}
		var units []string
		if err := json.Unmarshal(out, &units); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(units, []string{unit}) {
			t.Errorf("%s defines units %v, want [%s]", name, units, unit)
		}
	}
}

// factsExpr evaluates flake.nix's outputs with stub inputs (see
// testdata/stub-flake-eval.nix) and picks what the seed says about each
// machine.
const factsExpr = `
let
  e = import ../../testdata/stub-flake-eval.nix { fleet = ./.; };
  names = builtins.attrNames;
  home = c: let u = c.home-manager.users.dylan; in {
    programs = names u.programs;
    git = u.programs.git.extraConfig.init.defaultBranch;
    neovim = { inherit (u.programs.neovim) defaultEditor; coc = u.programs.neovim.coc.enable; plugins = u.programs.neovim.plugins; };
    anthropicKeyFromSecret = builtins.match ".*\"cmd:cat /run/agenix/anthropic-api-key\".*" u.programs.neovim.extraLuaConfig != null;
    zsh = u.programs.zsh.defaultKeymap;
    tmux = u.programs.tmux.keyMode;
    stateVersion = u.home.stateVersion;
  };
  common = c: {
    inherit (c.networking) hostName;
    inherit (c.nixpkgs) hostPlatform;
    inherit (c.system) stateVersion;
    experimentalFeatures = c.nix.settings.experimental-features;
    editor = c.environment.variables.EDITOR;
    secrets = builtins.mapAttrs (n: s: { file = baseNameOf (toString s.file); owner = s.owner or "root"; } // builtins.intersectAttrs { mode = 0; group = 0; } s) c.age.secrets;
    home = home c;
    containers = builtins.mapAttrs (n: c: c.localAddress) (c.containers or { });
    assertionsHold = builtins.all (a: a.assertion) (c.assertions or [ ]);
  };
  nixos = c: common c // {
    keyboard = { inherit (c.services.xserver.xkb) layout variant; console = c.console.keyMap; };
    gnome = c.services.xserver.desktopManager.gnome.enable && c.services.xserver.displayManager.gdm.enable;
    docker = c.virtualisation.docker.enable;
    groups = c.users.users.dylan.extraGroups;
    parallels = c.hardware.parallels.enable or false;
    vmware = c.virtualisation.vmware.guest.enable or false;
    nat = c.networking.nat or null;
    forgejo = c.virtualisation.oci-containers.containers.forgejo.image or null;
    photoprism = c.services.photoprism.enable or false;
    serviceFlakes = names c._module.args.serviceFlakes;
    githubToken = c.nix.extraOptions;
    deployKeys = { root = c.users.users.root.openssh.authorizedKeys.keys; dylan = c.users.users.dylan.openssh.authorizedKeys.keys; };
    sshd = c.services.openssh.enable;
    unmanaged = c.networking.networkmanager.unmanaged or [ ];
    firewall = c.networking.firewall.allowedTCPPorts or [ ];
  };
  devmac = e.outputs.darwinConfigurations.devmac.config;
  devnix = e.outputs.nixosConfigurations.devnix.config;
in
{
  outputs = { darwin = names e.outputs.darwinConfigurations; nixos = names e.outputs.nixosConfigurations; };
  inputs = builtins.mapAttrs (n: i: { url = i.url; flake = i.flake or true; follows = builtins.mapAttrs (_: f: f.follows) (i.inputs or { }); }) e.inputs;
  devmac = common devmac // {
    inherit (devmac.system) primaryUser;
    userHome = devmac.users.users.dylan.home;
    userShellSet = devmac.users.users.dylan ? shell;
    knownUsers = devmac.users.knownUsers or [ ];
    deployKeys = devmac.users.users.dylan.openssh.authorizedKeys.keys;
    remoteLogin = devmac.services.openssh.enable;
    homebrew = { inherit (devmac.homebrew) enable taps casks; cleanup = devmac.homebrew.onActivation.cleanup; };
    nixHomebrew = { inherit (devmac.nix-homebrew) enable user mutableTaps; taps = builtins.attrValues devmac.nix-homebrew.taps; };
  };
  devnix = nixos devnix // {
    llmproxy = (e.evalContainer devnix.containers.llmproxy).systemd.services.llm-proxy.wantedBy;
  };
  ephem = nixos e.outputs.nixosConfigurations.ephem.config;
}
`

const factsWant = `{
  "outputs": {"darwin": ["devmac"], "nixos": ["devnix", "ephem"]},
  "inputs": {
    "nixpkgs": {"url": "github:NixOS/nixpkgs/nixos-25.05", "flake": true, "follows": {}},
    "nixpkgs-darwin": {"url": "github:NixOS/nixpkgs/nixpkgs-25.05-darwin", "flake": true, "follows": {}},
    "home-manager": {"url": "github:nix-community/home-manager/release-25.05", "flake": true, "follows": {"nixpkgs": "nixpkgs"}},
    "nix-darwin": {"url": "github:nix-darwin/nix-darwin/nix-darwin-25.05", "flake": true, "follows": {"nixpkgs": "nixpkgs-darwin"}},
    "agenix": {"url": "github:ryantm/agenix", "flake": true, "follows": {"nixpkgs": "nixpkgs", "darwin": "nix-darwin", "home-manager": "home-manager"}},
    "nixherd": {"url": "github:nixherd/nixherd", "flake": true, "follows": {"nixpkgs": "nixpkgs"}},
    "nix-homebrew": {"url": "github:zhaofengli/nix-homebrew", "flake": true, "follows": {}},
    "homebrew-core": {"url": "github:homebrew/homebrew-core", "flake": false, "follows": {}},
    "homebrew-cask": {"url": "github:homebrew/homebrew-cask", "flake": false, "follows": {}},
    "llm-proxy": {"url": "path:./service-flakes/llm-proxy", "flake": true, "follows": {}},
    "git-stats": {"url": "path:./service-flakes/git-stats", "flake": true, "follows": {}}
  },
  "devmac": {
    "hostName": "devmac", "hostPlatform": "aarch64-darwin", "stateVersion": 6,
    "experimentalFeatures": ["nix-command", "flakes"], "editor": "nvim",
    "secrets": {"anthropic-api-key": {"file": "anthropic-api-key.age", "owner": "dylan"}},
    "home": {"programs": ["git", "neovim", "tmux", "zsh"], "git": "main",
      "neovim": {"defaultEditor": true, "coc": true, "plugins": ["vimPlugins.nvim-lspconfig", "vimPlugins.dracula-nvim", "vimPlugins.vim-oscyank", "vimPlugins.plenary-nvim", "vimPlugins.nvim-treesitter.withAllGrammars", "vimPlugins.codecompanion-nvim"]},
      "anthropicKeyFromSecret": true, "zsh": "viins", "tmux": "vi", "stateVersion": "25.05"},
    "containers": {}, "assertionsHold": true,
    "primaryUser": "dylan", "userHome": "/Users/dylan", "userShellSet": false, "knownUsers": [],
    "deployKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBi1M2GvRuTeSba89jge4hHOUvghX6B3MV48gcXKek1S dylan@demo"], "remoteLogin": true,
    "homebrew": {"enable": true, "taps": ["homebrew/homebrew-cask", "homebrew/homebrew-core"], "casks": ["parallels"], "cleanup": "zap"},
    "nixHomebrew": {"enable": true, "user": "dylan", "mutableTaps": false, "taps": ["/stub/homebrew-cask", "/stub/homebrew-core"]}
  },
  "devnix": {
    "hostName": "devnix", "hostPlatform": "aarch64-linux", "stateVersion": "25.05",
    "experimentalFeatures": ["nix-command", "flakes"], "editor": "nvim",
    "secrets": {
      "anthropic-api-key": {"file": "anthropic-api-key.age", "owner": "dylan"},
      "github-token": {"file": "github-token.age", "owner": "root", "mode": "0440", "group": "wheel"},
      "openai-api-key": {"file": "openai-api-key.age", "owner": "root"},
      "photoprism-admin-password": {"file": "photoprism-admin-password.age", "owner": "root"}
    },
    "home": {"programs": ["git", "neovim", "tmux", "zsh"], "git": "main",
      "neovim": {"defaultEditor": true, "coc": true, "plugins": ["vimPlugins.nvim-lspconfig", "vimPlugins.dracula-nvim", "vimPlugins.vim-oscyank", "vimPlugins.plenary-nvim", "vimPlugins.nvim-treesitter.withAllGrammars", "vimPlugins.codecompanion-nvim"]},
      "anthropicKeyFromSecret": true, "zsh": "viins", "tmux": "vi", "stateVersion": "25.05"},
    "containers": {"llmproxy": "192.168.100.15", "gitstats": "192.168.100.16"}, "assertionsHold": true,
    "keyboard": {"layout": "ch", "variant": "de_mac", "console": "sg"},
    "gnome": true, "docker": true, "groups": ["wheel", "docker", "networkmanager"],
    "parallels": true, "vmware": false,
    "nat": {"enable": true, "internalInterfaces": ["ve-+"], "externalInterface": "enp0s5"},
    "unmanaged": ["interface-name:ve-*"], "firewall": [2342],
    "forgejo": "codeberg.org/forgejo/forgejo:11", "photoprism": true,
    "serviceFlakes": ["gitstats", "llmproxy"],
    "githubToken": "!include /run/agenix/github-token\n",
    "sshd": true, "deployKeys": {"root": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBi1M2GvRuTeSba89jge4hHOUvghX6B3MV48gcXKek1S dylan@demo"], "dylan": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBi1M2GvRuTeSba89jge4hHOUvghX6B3MV48gcXKek1S dylan@demo"]},
    "llmproxy": ["multi-user.target"]
  },
  "ephem": {
    "hostName": "ephem", "hostPlatform": "aarch64-linux", "stateVersion": "25.05",
    "experimentalFeatures": ["nix-command", "flakes"], "editor": "nvim",
    "secrets": {
      "anthropic-api-key": {"file": "anthropic-api-key.age", "owner": "dylan"},
      "github-token": {"file": "github-token.age", "owner": "root", "mode": "0440", "group": "wheel"}
    },
    "home": {"programs": ["git", "neovim", "tmux", "zsh"], "git": "main",
      "neovim": {"defaultEditor": true, "coc": true, "plugins": ["vimPlugins.nvim-lspconfig", "vimPlugins.dracula-nvim", "vimPlugins.vim-oscyank", "vimPlugins.plenary-nvim", "vimPlugins.nvim-treesitter.withAllGrammars", "vimPlugins.codecompanion-nvim"]},
      "anthropicKeyFromSecret": true, "zsh": "viins", "tmux": "vi", "stateVersion": "25.05"},
    "containers": {}, "assertionsHold": true,
    "keyboard": {"layout": "ch", "variant": "de_mac", "console": "sg"},
    "gnome": true, "docker": true, "groups": ["wheel", "docker", "networkmanager"],
    "parallels": false, "vmware": true, "nat": null, "forgejo": null, "photoprism": false,
    "unmanaged": [], "firewall": [],
    "serviceFlakes": ["gitstats", "llmproxy"],
    "githubToken": "!include /run/agenix/github-token\n",
    "sshd": true, "deployKeys": {"root": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBi1M2GvRuTeSba89jge4hHOUvghX6B3MV48gcXKek1S dylan@demo"], "dylan": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBi1M2GvRuTeSba89jge4hHOUvghX6B3MV48gcXKek1S dylan@demo"]}
  }
}`

// The whole flake evaluates, with stub inputs and a small stand-in for the
// module system, to the machines the seed describes: every import resolves,
// the fleet's modules merge without conflicts, and the values are the seed's.
func TestFleetEvaluatesWithStubInputs(t *testing.T) {
	var got, want any
	evalJSON(t, factsExpr, &got)
	if err := json.Unmarshal([]byte(factsWant), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("facts differ from the seed's; got:\n%s", g)
	}
}

// The stand-in module system does catch a broken fleet: an import that does
// not exist fails the evaluation.
func TestFleetEvaluationCatchesMissingImport(t *testing.T) {
	nixInstantiate := testenv.NeedTool(t, "nix-instantiate")
	testenv.NixEnv(t)
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(fleetDir)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "machines", "ephem", "default.nix")
	data, _ := os.ReadFile(p)
	broken := bytes.Replace(data, []byte("../common/nixos-vm.nix"), []byte("../common/nixos-mv.nix"), 1)
	if err := os.WriteFile(p, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	stub, _ := filepath.Abs("testdata/stub-flake-eval.nix")
	expr := "(import " + stub + " { fleet = " + dir + "; }).outputs.nixosConfigurations.ephem.config.networking.hostName"
	out, err := exec.Command(nixInstantiate, "--eval", "--strict", "--expr", expr).CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("nixos-mv.nix")) {
		t.Errorf("evaluating a fleet with a missing import: err=%v\n%s", err, out)
	}
}

// The service flakes are inputs by relative path ("path:./service-flakes/…").
// Real Nix locks and evaluates such inputs in a git checkout: a flake with
// exactly flake.nix's path inputs, beside copies of the service flakes.
func TestServiceFlakeInputsLockByRelativePath(t *testing.T) {
	nix := testenv.NixEnv(t)
	git := testenv.NeedTool(t, "git")
	flake, err := os.ReadFile(filepath.Join(fleetDir, "flake.nix"))
	if err != nil {
		t.Fatal(err)
	}
	var inputs []string
	for _, line := range strings.Split(string(flake), "\n") {
		if l := strings.TrimSpace(line); strings.Contains(l, `.url = "path:./`) {
			inputs = append(inputs, l)
		}
	}
	if len(inputs) != 2 {
		t.Fatalf("flake.nix has path inputs %q, want the two service flakes", inputs)
	}
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "service-flakes"), os.DirFS(filepath.Join(fleetDir, "service-flakes"))); err != nil {
		t.Fatal(err)
	}
	test := "{\n  inputs = {\n    " + strings.Join(inputs, "\n    ") + "\n  };\n" +
		"  outputs = inputs: { modules = builtins.mapAttrs (_: i: builtins.attrNames i.nixosModules) (removeAttrs inputs [ \"self\" ]); };\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}} {
		cmd := exec.Command(git, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	cmd := exec.Command(nix, "eval", "--json", ".#modules")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nix eval: %v\n%s", err, stderr.String())
	}
	var got map[string][]string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"llm-proxy": {"default"}, "git-stats": {"default"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("service flake inputs give %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "flake.lock")); err != nil {
		t.Errorf("no flake.lock written: %v", err)
	}
}

// provision.sh, the seed's legacy script, is valid bash.
func TestProvisionScriptParses(t *testing.T) {
	bash := testenv.NeedTool(t, "bash")
	if out, err := exec.Command(bash, "-n", filepath.Join(fleetDir, "provision.sh")).CombinedOutput(); err != nil {
		t.Errorf("bash -n provision.sh: %v\n%s", err, out)
	}
}
