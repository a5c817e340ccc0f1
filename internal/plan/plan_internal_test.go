package plan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/nixlang"
	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/testenv"
	"github.com/nixherd/nixherd/internal/testhost"
)

func TestEvalExprQuotesPaths(t *testing.T) {
	e := evalExpr(`/fleet "x" ${y}`, `/tmp/a"b`)
	for _, want := range []string{`builtins.getFlake "/fleet \"x\" \${y}"`, `builtins.readFile "/tmp/a\"b"`} {
		if !strings.Contains(e, want) {
			t.Errorf("expression lacks %s:\n%s", want, e)
		}
	}
}

func TestMissingConfigurationNamesThePositionOnlyWhenKnown(t *testing.T) {
	m := hosts.Machine{Name: "web1", Configuration: "web1"}
	if got, want := missingConfiguration(m, platform.NixOS).Error(), `the flake has no "web1" in nixosConfigurations`; got != want {
		t.Errorf("without a position: %q, want %q", got, want)
	}
	m.Pos = nixlang.Position{File: "/fleet/deploy.nix", Line: 3, Col: 5}
	if got, want := missingConfiguration(m, "").Error(), `the flake has no "web1" in nixosConfigurations, darwinConfigurations or homeConfigurations (deploy.nix /fleet/deploy.nix:3:5)`; got != want {
		t.Errorf("with a position: %q, want %q", got, want)
	}
}

// TestThousandsOfMachinesInOneEvaluation: the machine list reaches nix in a
// file, so a fleet far larger than a command line still costs one
// evaluation (on the command line, 4,000 names overflow the argument and
// every machine was evaluated alone).
func TestThousandsOfMachinesInOneEvaluation(t *testing.T) {
	testenv.NixEnv(t)
	dir := t.TempDir()
	flake := fmt.Sprintf(`{
  outputs = { self }: {
    nixosConfigurations = builtins.listToAttrs (builtins.genList (i: {
      name = "machine-with-a-rather-long-name-number-${toString i}";
      value.config.system.build.toplevel = derivation { name = "sys"; system = %q; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; };
    }) 5000);
  };
}
`, testhost.CurrentSystem())
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(flake), 0o644); err != nil {
		t.Fatal(err)
	}
	machines := make([]hosts.Machine, 5000)
	for i := range machines {
		name := fmt.Sprintf("machine-with-a-rather-long-name-number-%d", i)
		machines[i] = hosts.Machine{Name: name, Configuration: name, Target: "root@127.0.0.1:9"}
	}
	n, err := nix.Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cs, evaluations, err := evaluate(context.Background(), n, dir, machines)
	if err != nil {
		t.Fatal(err)
	}
	if evaluations != 1 {
		t.Fatalf("%d evaluations for 5000 machines, want 1", evaluations)
	}
	for _, c := range cs {
		if c.Err != nil || c.Platform != platform.NixOS || c.OutPath == "" {
			t.Fatalf("%s: %+v", c.Machine.Name, c)
		}
	}
}
