package plan_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/plan"
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
	p, err := plan.Make(ctx, inv.Machines, plan.Options{Flake: dir, Action: target.Build})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]plan.Closure{}
	for _, c := range p.Closures {
		byName[c.Machine.Name] = c
	}
	if good := byName["good"]; good.Err != nil || good.OutPath == "" {
		t.Errorf("good: %+v", good)
	} else if _, err := os.Stat(good.OutPath); err != nil {
		t.Errorf("good was not built: %v", err)
	}
	if broken := byName["broken"]; broken.Err == nil || !strings.Contains(broken.Err.Error(), "evaluating broken") || !strings.Contains(broken.Err.Error(), "does not evaluate") {
		t.Errorf("broken: %+v", broken)
	}
	if fails := byName["fails"]; fails.Err == nil || !strings.HasPrefix(fails.Err.Error(), "fails: did not build: builder for '"+fails.DrvPath+"' failed with exit code 1: this build fails") {
		t.Errorf("fails: %+v", fails)
	}
	if p.Evaluations != 4 {
		t.Errorf("%d evaluations, want 4 (all, then each)", p.Evaluations)
	}

	// A flake that does not evaluate at all fails the run as a whole.
	write("flake.nix", "{ outputs = { self }: { nixosConfigurations = throw \"no fleet\"; }; }")
	if _, err := plan.Make(ctx, inv.Machines, plan.Options{Flake: dir, Action: target.Build}); err == nil || !strings.Contains(err.Error(), "no fleet") {
		t.Errorf("err = %v", err)
	}
}
