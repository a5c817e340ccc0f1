package deploy_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/deploy"
	"github.com/nixherd/nixherd/internal/fanout"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/plan"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
)

// versionedFleet writes a flake whose one NixOS machine's closure holds
// packages with versions, so that a diff has something to name.
func versionedFleet(t *testing.T, dir, target string, pkgs ...string) {
	t.Helper()
	var deps []string
	for _, p := range pkgs {
		deps = append(deps, fmt.Sprintf(`"${mk %q ""}"`, p))
	}
	flake := fmt.Sprintf(`{
  outputs = { self }: let
    mk = name: extra: derivation {
      inherit name; system = %q; builder = "/bin/sh";
      args = [ "-c" "echo ${name} ${extra} > $out" ];
    };
  in {
    nixosConfigurations.host1.config.system.build.toplevel = mk "nixos-system-host1-1" (toString [ %s ]);
  };
}
`, testhost.CurrentSystem(), strings.Join(deps, " "))
	files := map[string]string{
		"flake.nix":  flake,
		"flake.lock": `{ "nodes": { "root": {} }, "root": "root", "version": 7 }` + "\n",
		"deploy.nix": fmt.Sprintf(`{ machines.host1 = { target = %q; platform = "nixos"; }; }`+"\n", target),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func evaluateAndBuild(t *testing.T, ctx context.Context, n *nix.Nix, dir string) []plan.Closure {
	t.Helper()
	inv, err := hosts.Load(ctx, filepath.Join(dir, hosts.FileName))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := inv.Select(nil, true)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := plan.Evaluate(ctx, n, dir, ms)
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Build(ctx, n, cs); err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestDiffsReadWhatTheHostRuns compares a new build with the closure a
// remote host really runs: the host's store is read over ssh, not the
// deployer's.
func TestDiffsReadWhatTheHostRuns(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{N: 1})
	h := c.Hosts[0]
	ctx := context.Background()
	n, err := nix.Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sshOpts := c.SSHArgs()

	// Nothing runs on the host yet: everything is new.
	versionedFleet(t, dir, h.Target(), "hello-2.10", "curl-8.4.0")
	old := evaluateAndBuild(t, ctx, n, dir)
	diffs, err := deploy.Diffs(ctx, old, fanout.Options{SSHOptions: sshOpts})
	if err != nil || len(diffs) != 1 || diffs[0].Err != nil {
		t.Fatalf("diffs %v, %v", diffs, err)
	}
	if d := diffs[0]; d.Current != "" || len(d.Diff.Added) != 3 {
		t.Fatalf("fresh host: current %q, diff:\n%s", d.Current, d.Diff)
	}

	// Put the old closure on the host and make it the running system.
	cp := exec.Command("nix", "copy", "--no-check-sigs", "--to", h.StoreURL(), old[0].OutPath)
	cp.Env = append(os.Environ(), c.Env()...)
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("nix copy: %v: %s", err, out)
	}
	if _, err := h.Run(ctx, "ln -sfn "+old[0].OutPath+" /run/current-system"); err != nil {
		t.Fatal(err)
	}

	versionedFleet(t, dir, h.Target(), "hello-2.12", "ripgrep-14.0.3")
	new := evaluateAndBuild(t, ctx, n, dir)
	diffs, err = deploy.Diffs(ctx, new, fanout.Options{SSHOptions: sshOpts})
	if err != nil || diffs[0].Err != nil {
		t.Fatalf("diffs %v, %v", diffs, err)
	}
	d := diffs[0]
	if d.Current != old[0].OutPath || d.New != new[0].OutPath {
		t.Fatalf("current %s new %s", d.Current, d.New)
	}
	s := d.String()
	for _, want := range []string{"host1 (" + h.Target() + ")", "[C] hello  2.10 -> 2.12", "[A] ripgrep  14.0.3", "[R] curl  8.4.0", "Closure size: 3 paths"} {
		if !strings.Contains(s, want) {
			t.Errorf("diff lacks %q:\n%s", want, s)
		}
	}
}
