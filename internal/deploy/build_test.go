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

const threeMachineFlake = `{
  outputs = { self }: let
    # nonce: a fresh output per test run, so "good" really is built here.
    sys = name: derivation { inherit name; nonce = %[2]q; system = %[1]q; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; };
  in {
    nixosConfigurations.good.config.system.build.toplevel = sys "good";
    nixosConfigurations.broken.config.system.build.toplevel = throw "broken: this machine's configuration does not evaluate";
    nixosConfigurations.fails.config.system.build.toplevel = derivation { name = "fails"; system = %[1]q; builder = "/bin/sh"; args = [ "-c" "echo this build fails >&2; exit 1" ]; };
  };
}
`

// TestOneBrokenMachineDoesNotStopTheOthers: when the single evaluation of
// all machines fails, each is evaluated alone; the broken one is named and
// fails, the others go on. A closure that fails to build fails its machine
// only: the others are built all the same.
func TestOneBrokenMachineDoesNotStopTheOthers(t *testing.T) {
	testenv.NixEnv(t)
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("flake.nix", fmt.Sprintf(threeMachineFlake, testhost.CurrentSystem(), dir))
	write("deploy.nix", `{ machines = { good.target = "root@127.0.0.1:9"; broken.target = "root@127.0.0.1:9"; fails.target = "root@127.0.0.1:9"; }; }`)
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
	if fails := result(t, s, "fails"); fails.Outcome != deploy.Failed || !strings.Contains(fails.Error, "fails: its closure did not build") {
		t.Errorf("fails: %+v", fails)
	}
	if s.OK || s.Evaluations != 4 {
		t.Errorf("ok %v after %d evaluations, want false after 4 (all, then each)", s.OK, s.Evaluations)
	}

	// A flake that does not evaluate at all fails the run as a whole.
	write("flake.nix", "{ outputs = { self }: { nixosConfigurations = throw \"no fleet\"; }; }")
	if _, err := deploy.Run(ctx, inv.Machines, deploy.Options{Flake: dir, Action: target.Build}); err == nil || !strings.Contains(err.Error(), "no fleet") {
		t.Errorf("err = %v", err)
	}
}
