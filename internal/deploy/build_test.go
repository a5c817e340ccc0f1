package deploy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/target"
	"github.com/nixherd/nixherd/internal/testenv"
	"github.com/nixherd/nixherd/internal/testhost"
)

const twoMachineFlake = `{
  outputs = { self }: let
    sys = name: derivation { inherit name; system = %q; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; };
  in {
    nixosConfigurations.good.config.system.build.toplevel = sys "good";
    nixosConfigurations.broken.config.system.build.toplevel = throw "broken: this machine's configuration does not evaluate";
  };
}
`

// TestOneBrokenMachineDoesNotStopTheOthers: when the single evaluation of
// all machines fails, each is evaluated alone; the broken one is named and
// fails, the others go on (here: are built).
func TestOneBrokenMachineDoesNotStopTheOthers(t *testing.T) {
	testenv.NixEnv(t)
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("flake.nix", fmt.Sprintf(twoMachineFlake, testhost.CurrentSystem()))
	write("deploy.nix", `{ machines = { good.target = "root@127.0.0.1:9"; broken.target = "root@127.0.0.1:9"; }; }`)
	ctx := context.Background()
	inv, err := hosts.Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := deploy.Run(ctx, inv.Machines, deploy.Options{Flake: dir, Action: target.Build})
	if err != nil {
		t.Fatal(err)
	}
	good, broken := result(t, s, "good"), result(t, s, "broken")
	if good.Outcome != deploy.Built || good.Path == "" {
		t.Errorf("good: %+v", good)
	}
	if broken.Outcome != deploy.Failed || !strings.Contains(broken.Error, "evaluating broken") || !strings.Contains(broken.Error, "does not evaluate") {
		t.Errorf("broken: %+v", broken)
	}
	if s.OK || s.Evaluations != 3 {
		t.Errorf("ok %v after %d evaluations, want false after 3 (all, then each)", s.OK, s.Evaluations)
	}

	// A flake that does not evaluate at all fails the run as a whole.
	write("flake.nix", "{ outputs = { self }: { nixosConfigurations = throw \"no fleet\"; }; }")
	if _, err := deploy.Run(ctx, inv.Machines, deploy.Options{Flake: dir, Action: target.Build}); err == nil || !strings.Contains(err.Error(), "no fleet") {
		t.Errorf("err = %v", err)
	}
}
