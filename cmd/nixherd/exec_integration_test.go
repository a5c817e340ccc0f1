package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
)

// TestExecRunsOnEveryHost: exec runs a command on two test hosts and a
// target where nothing listens, shows each line after its machine, the
// exit status of each, and exits 3 because one host was not reached.
func TestExecRunsOnEveryHost(t *testing.T) {
	for _, systemd := range []bool{false, true} {
		t.Run(map[bool]string{false: "sshd", true: "systemd"}[systemd], func(t *testing.T) {
			execOnEveryHost(t, systemd)
		})
	}
}

func execOnEveryHost(t *testing.T, systemd bool) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"x1", "x2"}, Systemd: systemd})
	f := newOpsFleet(t, c)
	m := func(n string) testhost.FixtureMachine {
		return testhost.FixtureMachine{Name: n, Platform: platform.NixOS, Generation: "1"}
	}
	f.write(placement{m("x1"), "x1"}, placement{m("x2"), "x2"}, placement{m("void"), "root@127.0.0.1:9"})

	out, errOut, code := f.nixherd("exec", "x1,x2", "--", "sh", "-c", `echo "out-$(hostname)"; echo err >&2; [ "$(hostname)" = x1 ] || exit 3`)
	if code != 1 {
		t.Errorf("exit %d, want 1 (x2's command failed)\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"x1 | out-x1\n", "x2 | out-x2\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "x1 | err\n") || !regexpMatch(`(?m)^x1\s+\S+\s+exit 0\s`, errOut) || !regexpMatch(`(?m)^x2\s+\S+\s+exit 3\s`, errOut) {
		t.Errorf("stderr lacks the lines or the exit statuses:\n%s", errOut)
	}

	// Arguments reach the remote shell exactly as given.
	args := []string{"a b", "$HOME", "it's", "=x", "*", ";ls", "back\\slash", "new\nline"}
	out, errOut, code = f.nixherd(append([]string{"exec", "x1", "--group", "--", "printf", `[%s]\n`}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	want := ""
	for _, a := range args {
		want += "[" + a + "]\n"
	}
	if !strings.Contains(out, want) {
		t.Errorf("printf's arguments changed on the way:\n%s\nwant:\n%s", out, want)
	}

	// --json, and an unreachable host is exit 3.
	out, _, code = f.nixherd("exec", "--all", "--json", "--", "true")
	var s struct {
		OK    bool
		Hosts []struct {
			Machines []string
			Outcome  string
			ExitCode int
		}
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != 3 || s.OK || len(s.Hosts) != 3 {
		t.Fatalf("exec --all --json: exit %d, %v\n%s", code, err, out)
	}
	for _, h := range s.Hosts {
		want := "ok"
		if h.Machines[0] == "void" {
			want = "unreachable"
		}
		if h.Outcome != want {
			t.Errorf("%v: %s (exit %d), want %s", h.Machines, h.Outcome, h.ExitCode, want)
		}
	}
}
