package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/testhost"
)

// The README's first command: three test hosts, the fixture fleet deployed
// to them, status shown, and nothing left behind afterwards.
func TestDemoDeploysThreeHostsAndCleansUp(t *testing.T) {
	testhost.Need(t)
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
