package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
)

// The README's demo: three test hosts, the fixture fleet deployed to them,
// status shown; then a change to devnix that status, diff, deploy,
// generations and rollback have something to show of; and nothing left
// behind afterwards.
func TestDemoDeploysThreeHostsAndCleansUp(t *testing.T) {
	hosttest.Need(t)
	var out, errw bytes.Buffer
	root := newRootCmd()
	root.SetArgs([]string{"demo", "--no-install"})
	root.SetOut(&out)
	root.SetErr(&errw)
	if err := root.Execute(); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errw.String())
	}
	stdout := out.String()
	for _, host := range []string{"devmac", "devnix", "ephem"} {
		if !regexp.MustCompile(`(?m)^` + host + `\s.*\sswitched\s`).MatchString(stdout) {
			t.Errorf("no switched row for %s in:\n%s", host, stdout)
		}
	}
	for _, want := range []string{
		`(?m)^==> a change to the fleet: devnix's configuration`,
		`(?m)^devnix\s+\S+\s+out of sync\s+1\s`,
		`(?m)^==> nixherd diff devnix$\ndevnix \(root@\S+\)\n  /nix/store/\S+\n  -> /nix/store/\S+\n  No package changes\.\n  Closure size: 3 paths \(1\.0 MiB\) -> 3 paths \(3\.0 MiB\), \+2\.0 MiB$`,
		`(?m)^==> nixherd deploy devnix\n.*\ndevnix\s+\S+\s+switched\s+2\s`,
		`(?m)^2\s+\S+ \S+\s+/nix/store/\S+\s+current, running$`,
		`(?m)^devnix\s+rolled back\s+1\s`,
	} {
		if !regexp.MustCompile(want).MatchString(stdout) {
			t.Errorf("the demo's output does not match %s:\n%s", want, stdout)
		}
	}
	m := regexp.MustCompile(`(/\S+/nixherd-testhost-[0-9]+)/hosts/devmac/nix`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("demo did not show the hosts' directory:\n%s", stdout)
	}
	if _, err := os.Stat(m[1]); err == nil {
		t.Errorf("the hosts' directory %s is left", m[1])
	}
	// No process of the demo's hosts is left: their command lines name the
	// hosts' directory.
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		cmdline, err := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		if err == nil && strings.Contains(string(cmdline), m[1]) {
			t.Errorf("process %s left: %q", p.Name(), cmdline)
		}
	}
}

// The demo's fleet computes its configurations (builtins.listToAttrs), which
// check cannot list: that is a warning, and check passes on the fleet the
// demo deploys.
func TestDemoFleetPassesCheck(t *testing.T) {
	dir := t.TempDir()
	var ms []testhost.FixtureMachine
	deployNix := "{\n  machines = {\n"
	for _, h := range demoHosts {
		ms = append(ms, testhost.FixtureMachine{Name: h.name, Platform: h.platform, Generation: "1"})
		deployNix += fmt.Sprintf("    %s = { target = \"root@127.0.0.1\"; platform = %q; };\n", h.name, h.platform)
	}
	deployNix += "  };\n}\n"
	if err := testhost.WriteFixture(dir, testhost.FixtureOptions{Machines: ms, Files: map[string]string{"deploy.nix": deployNix}}); err != nil {
		t.Fatal(err)
	}
	var out, errw bytes.Buffer
	root := newRootCmd()
	root.SetArgs([]string{"check", "--flake", dir})
	root.SetOut(&out)
	root.SetErr(&errw)
	if err := root.Execute(); err != nil {
		t.Fatalf("check of the demo fleet: %v\n%s%s", err, out.String(), errw.String())
	}
	if !strings.Contains(out.String(), "warning: nixosConfigurations is computed") {
		t.Errorf("check does not say what it could not read:\n%s", out.String())
	}
}
