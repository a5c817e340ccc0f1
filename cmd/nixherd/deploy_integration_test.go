package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/shell"
	"github.com/nixherd/nixherd/internal/testenv"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
)

type deployJSON struct {
	OK             bool
	Evaluations    int
	SSHConnections int
	Machines       []struct {
		Machine    string
		Outcome    string
		Generation int
		Error      string
	}
}

// TestDeployCommandSummaryAndExitCode runs `nixherd deploy --json` on two
// test hosts and a target where nothing listens: the two are switched, the
// third is named unreachable, and the exit code is 1.
func TestDeployCommandSummaryAndExitCode(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"cli1", "cli2"}})
	f := newOpsFleet(t, c)
	m := func(n string) testhost.FixtureMachine {
		return testhost.FixtureMachine{Name: n, Platform: platform.NixOS, Generation: "1"}
	}
	f.write(placement{m("cli1"), "cli1"}, placement{m("cli2"), "cli2"}, placement{m("void"), "root@127.0.0.1:9"})

	// A host that cannot be reached: exit 3, the others deployed.
	out, errOut, code := f.nixherd("deploy", "--all", "--json")
	if code != exitUnreachable {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitUnreachable, out, errOut)
	}
	var s deployJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, out)
	}
	if s.OK || s.Evaluations != 1 || s.SSHConnections != 3 || len(s.Machines) != 3 {
		t.Errorf("summary: %+v", s)
	}
	for _, h := range s.Machines {
		want := "switched"
		if h.Machine == "void" {
			want = "unreachable"
		}
		if h.Outcome != want {
			t.Errorf("%s: outcome %s (%s), want %s", h.Machine, h.Outcome, h.Error, want)
		}
	}
	// Not a terminal: progress is plain timestamped lines on stderr.
	if !strings.Contains(errOut, "cli1") || strings.Contains(errOut, "\x1b[") {
		t.Errorf("stderr is not plain progress lines:\n%s", errOut)
	}

	// Both already run their system: up to date, exit 0.
	out, _, code = f.nixherd("deploy", "cli1,cli2")
	if code != 0 || strings.Count(out, "up to date") != 2 {
		t.Errorf("deploy of the reachable hosts: exit %d\n%s", code, out)
	}
}

// TestDeployCommandCleansUpOnSIGTERM stops `nixherd deploy` while a host
// activates: it exits, the host's lock is released, no ssh master
// connection is left running, and its private socket directory is gone.
func TestDeployCommandCleansUpOnSIGTERM(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"term"}})
	f := newOpsFleet(t, c)
	slow := testhost.FixtureMachine{Name: "term", Platform: platform.NixOS, Generation: "1", ActivateScript: "sleep 20"}
	f.write(placement{slow, "term"})
	h := c.Host("term")

	tmp := t.TempDir()
	cmd := exec.Command(f.bin, "deploy", "term", "--flake", f.dir, "-F", c.SSHConfig)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	defer func() { t.Logf("stderr:\n%s", stderr.String()) }()
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	testenv.Eventually(t, 30*time.Second, "the deploy starts activating", func() bool { return activating(h) })
	termAt := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case <-waited:
		t.Logf("exited %s after SIGTERM", time.Since(termAt).Round(time.Millisecond))
	case <-time.After(60 * time.Second): // the guarded switch first asks the host's watchdog to roll back
		t.Fatal("nixherd deploy did not exit after SIGTERM")
	}
	if cmd.ProcessState.ExitCode() == 0 {
		t.Error("an interrupted deploy exited 0")
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "nixherd-*"))
	for _, p := range left {
		t.Errorf("left behind: %s", p)
	}
	if out, _ := exec.Command("pgrep", "-f", "ControlPath="+tmp).Output(); len(out) > 0 {
		t.Errorf("ssh master still running: pids %s", strings.Fields(string(out)))
	}
	testenv.Eventually(t, 10*time.Second, "the host's deploy lock is released after the deploy", func() bool {
		_, err := os.Stat(h.Path("/run/nixherd/deploy.lock"))
		return os.IsNotExist(err)
	})
}

// activating reports whether the fixture's activation hook runs on h.
func activating(h *testhost.Host) bool {
	out, err := h.Run(context.Background(), "pgrep -f '[s]leep 20' || true")
	return err == nil && strings.TrimSpace(out) != ""
}

// TestDeployLocalAndRemoteInOneRun runs nixherd on a test host whose
// deploy.nix target is "local", together with a second host over ssh: the
// local machine is switched without ssh or copying, the other as usual.
func TestDeployLocalAndRemoteInOneRun(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"here", "there"}})
	f := newOpsFleet(t, c)
	m := func(n string) testhost.FixtureMachine {
		return testhost.FixtureMachine{Name: n, Platform: platform.NixOS, Generation: "1"}
	}
	f.write(placement{m("here"), "local"}, placement{m("there"), "there"})
	here, there := c.Host("here"), c.Host("there")

	argv := []string{f.bin, "deploy", "--all", "--json", "--flake", f.dir, "-F", c.SSHConfig}
	script := "NIX_CONFIG=" + shell.Quote(testenv.OfflineNixConfig) + " exec " + shell.Join(argv)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := here.SSH(ctx, script).Output()
	if err != nil {
		t.Fatalf("deploy on here: %v\n%s", err, out)
	}
	var s deployJSON
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !s.OK || s.SSHConnections != 1 {
		t.Errorf("summary: %+v (one ssh connection: to there only)", s)
	}
	for _, h := range []*testhost.Host{here, there} {
		if sys := h.CurrentSystem(); sys == "" || h.Profile(systemProfile) != sys || !strings.Contains(sys, "-nixos-system-"+h.Name+"-fixture") {
			t.Errorf("%s: running %q, profile %q", h.Name, sys, h.Profile(systemProfile))
		}
	}
	if n := there.Logins(); n < 1 || here.Logins() != 1 {
		t.Errorf("logins: here %d (the test's own), there %d", here.Logins(), n)
	}
	if _, err := os.Stat(here.Path("/run/nixherd/deploy.lock")); !os.IsNotExist(err) {
		t.Error("the local deploy lock was left behind")
	}
}
