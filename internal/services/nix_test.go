package services

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/nixherd/nixherd/internal/testenv"
)

// evalFleet evaluates expr with real Nix; expr sees `e`, the reference
// fleet in dir evaluated by testdata/stub-flake-eval.nix (flake.nix's
// outputs with stub inputs and a small module system, no nixpkgs), with
// extraInputs added to the inputs.
func evalFleet(t *testing.T, dir, extraInputs, expr string, v any) {
	t.Helper()
	nixInstantiate := testenv.NeedTool(t, "nix-instantiate")
	testenv.NixEnv(t)
	stub, err := filepath.Abs("../../testdata/stub-flake-eval.nix")
	if err != nil {
		t.Fatal(err)
	}
	full := `let e = import (/. + "` + stub + `") { fleet = /. + "` + dir + `"; extraInputs = ` + extraInputs + `; }; in ` + expr
	cmd := exec.Command(nixInstantiate, "--eval", "--strict", "--json", "--expr", full)
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

// A service added with two secrets and environment, evaluated with real
// Nix through flake.nix (the input reaches serviceFlakes) and mkService
// (the container the seed describes): its own address, the port forwarded
// and opened, each secret decrypted on the host, bind-mounted read-only and
// named by a _FILE variable, the environment set, the flake's module
// imported in the container.
func TestAddedServiceEvaluates(t *testing.T) {
	dir := referenceFleet(t)
	mustAdd(t, dir, Spec{
		Name: "notes", FlakeURL: "github:me/notes", Port: 8070, Index: -1,
		Secrets:     []string{"openai-api-key", "github-token"},
		Environment: []EnvVar{{"NOTES_MODE", "prod"}, {"GREETING", `say "hi" ${HOME}`}},
	})
	inputs := `{ notes.nixosModules.default = { services.notes.enable = true; }; }`
	expr := `
let
  c = e.outputs.nixosConfigurations.devnix.config;
  n = c.containers.notes;
  inner = e.evalContainer n;
in
{
  serviceFlakes = builtins.attrNames c._module.args.serviceFlakes;
  inherit (n) autoStart privateNetwork hostAddress localAddress forwardPorts bindMounts;
  ageSecrets = builtins.mapAttrs (_: s: baseNameOf (toString s.file)) c.age.secrets;
  firewall = inner.networking.firewall.allowedTCPPorts;
  environment = inner.systemd.globalEnvironment;
  variables = inner.environment.variables;
  moduleImported = inner.services.notes.enable;
  assertionsHold = builtins.all (a: a.assertion) c.assertions;
  addresses = builtins.mapAttrs (_: c: c.localAddress) c.containers;
}`
	var got struct {
		ServiceFlakes  []string          `json:"serviceFlakes"`
		AutoStart      bool              `json:"autoStart"`
		PrivateNetwork bool              `json:"privateNetwork"`
		HostAddress    string            `json:"hostAddress"`
		LocalAddress   string            `json:"localAddress"`
		ForwardPorts   []map[string]any  `json:"forwardPorts"`
		BindMounts     map[string]any    `json:"bindMounts"`
		AgeSecrets     map[string]string `json:"ageSecrets"`
		Firewall       []int             `json:"firewall"`
		Environment    map[string]string `json:"environment"`
		Variables      map[string]string `json:"variables"`
		ModuleImported bool              `json:"moduleImported"`
		AssertionsHold bool              `json:"assertionsHold"`
		Addresses      map[string]string `json:"addresses"`
	}
	evalFleet(t, dir, inputs, expr, &got)

	if want := []string{"gitstats", "llmproxy", "notes"}; !reflect.DeepEqual(got.ServiceFlakes, want) {
		t.Errorf("serviceFlakes = %v, want %v", got.ServiceFlakes, want)
	}
	if !got.AutoStart || !got.PrivateNetwork || got.HostAddress != HostAddress || got.LocalAddress != "192.168.100.10" {
		t.Errorf("container: autoStart=%v privateNetwork=%v host=%s local=%s", got.AutoStart, got.PrivateNetwork, got.HostAddress, got.LocalAddress)
	}
	if want := []map[string]any{{"protocol": "tcp", "hostPort": 8070.0, "containerPort": 8070.0}}; !reflect.DeepEqual(got.ForwardPorts, want) {
		t.Errorf("forwardPorts = %v, want %v", got.ForwardPorts, want)
	}
	wantMounts := map[string]any{
		"/run/secrets/openai-api-key": map[string]any{"hostPath": "/run/agenix/openai-api-key", "isReadOnly": true},
		"/run/secrets/github-token":   map[string]any{"hostPath": "/run/agenix/github-token", "isReadOnly": true},
	}
	if !reflect.DeepEqual(got.BindMounts, wantMounts) {
		t.Errorf("bindMounts = %v, want %v", got.BindMounts, wantMounts)
	}
	for _, s := range []string{"openai-api-key", "github-token"} {
		if got.AgeSecrets[s] != s+".age" {
			t.Errorf("age.secrets.%s from %q, want %s.age", s, got.AgeSecrets[s], s)
		}
	}
	if !reflect.DeepEqual(got.Firewall, []int{8070}) {
		t.Errorf("container firewall opens %v, want [8070]", got.Firewall)
	}
	wantEnv := map[string]string{
		"PORT":                "8070",
		"NOTES_MODE":          "prod",
		"GREETING":            `say "hi" ${HOME}`,
		"OPENAI_API_KEY_FILE": "/run/secrets/openai-api-key",
		"GITHUB_TOKEN_FILE":   "/run/secrets/github-token",
	}
	if !reflect.DeepEqual(got.Environment, wantEnv) || !reflect.DeepEqual(got.Variables, wantEnv) {
		t.Errorf("environment = %v / %v, want %v", got.Environment, got.Variables, wantEnv)
	}
	if !got.ModuleImported {
		t.Error("the service flake's nixosModules.default is not imported in the container")
	}
	if !got.AssertionsHold {
		t.Error("an assertion fails on devnix")
	}
	if want := map[string]string{"llmproxy": "192.168.100.15", "gitstats": "192.168.100.16", "notes": "192.168.100.10"}; !reflect.DeepEqual(got.Addresses, want) {
		t.Errorf("container addresses = %v, want %v", got.Addresses, want)
	}
}
