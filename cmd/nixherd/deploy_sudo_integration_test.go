package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/testenv"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
)

// The deploy user of these tests: not root, reaching root through sudo and
// the store through the host's nix-daemon.
const deployUser = "deploy"

// sudoFleet starts one test host with a deploy user and writes a fleet whose
// only machine is deployed as that user. gen is the fixture's generation.
func sudoFleet(t *testing.T, opts testhost.Options) (*opsFleet, *testhost.Host, func(gen string, activateExit int)) {
	t.Helper()
	hosttest.Need(t)
	testenv.NeedTool(t, "sudo")
	opts.DeployUser = deployUser
	c := hosttest.Start(t, opts)
	f := newOpsFleet(t, c)
	h := c.Hosts[0]
	write := func(gen string, activateExit int) {
		m := testhost.FixtureMachine{Name: h.Name, Platform: platform.NixOS, Generation: gen, ActivateExit: activateExit}
		f.write(placement{m, h.TargetAs(deployUser)})
	}
	return f, h, write
}

// deployWithStdin runs `nixherd deploy --all --json` with stdin, and
// returns the summary (nil when stdout is not one), stdout, stderr and the
// exit code.
func (f *opsFleet) deployWithStdin(stdin string, args ...string) (*deployJSON, string, string, int) {
	f.t.Helper()
	out, errOut, code := f.nixherdWithStdin(stdin, append([]string{"deploy", "--all", "--json"}, args...)...)
	var s *deployJSON
	if json.Unmarshal([]byte(out), &s) != nil {
		s = nil
	}
	return s, out, errOut, code
}

// nixherdWithStdin runs a nixherd command against the fleet with stdin.
func (f *opsFleet) nixherdWithStdin(stdin string, args ...string) (string, string, int) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args = append(args, "--flake", f.dir, "-F", f.c.SSHConfig)
	cmd := exec.CommandContext(ctx, f.bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		f.t.Fatalf("nixherd %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), code
}

// switchedTo checks that the host runs and boots the fixture's system and
// that the summary says so.
func switchedTo(t *testing.T, h *testhost.Host, s *deployJSON, out, errOut string) string {
	t.Helper()
	if s == nil || !s.OK || len(s.Machines) != 1 || s.Machines[0].Outcome != "switched" {
		t.Fatalf("summary %+v\n%s%s", s, out, errOut)
	}
	sys := h.CurrentSystem()
	if sys == "" || h.Profile(systemProfile) != sys || !strings.Contains(sys, "-nixos-system-"+h.Name+"-fixture") {
		t.Fatalf("running %q, profile %q", sys, h.Profile(systemProfile))
	}
	return sys
}

// unchanged checks that the host still runs (and boots) what it ran before.
func unchanged(t *testing.T, h *testhost.Host, before string) {
	t.Helper()
	if got := h.CurrentSystem(); got != before {
		t.Errorf("running %q, want it unchanged (%q)", got, before)
	}
	if got := h.Profile(systemProfile); got != before {
		t.Errorf("system profile %q, want it unchanged (%q)", got, before)
	}
}

// TestDeployAsSudoUser deploys as a non-root user whose sudo needs no
// password: the guarded switch (watchdog, confirmation) ends on the new
// generation, and so does --no-rollback.
func TestDeployAsSudoUser(t *testing.T) {
	f, h, write := sudoFleet(t, testhost.Options{Names: []string{"sudonopw"}, TrustedDeployUser: true})

	write("1", 0)
	s, out, errOut, code := f.deployWithStdin("")
	if code != 0 {
		t.Fatalf("guarded deploy as %s: exit %d\n%s%s", deployUser, code, out, errOut)
	}
	first := switchedTo(t, h, s, out, errOut)
	t.Logf("guarded deploy:\n%s", errOut)
	if _, err := os.Stat(h.Path("/run/nixherd/deploy.lock")); !os.IsNotExist(err) {
		t.Error("the deploy lock was left behind")
	}

	write("2", 0)
	s, out, errOut, code = f.deployWithStdin("", "--no-rollback")
	if code != 0 {
		t.Fatalf("--no-rollback deploy as %s: exit %d\n%s%s", deployUser, code, out, errOut)
	}
	if second := switchedTo(t, h, s, out, errOut); second == first {
		t.Errorf("still on the first generation %s", first)
	}
}

// TestDeployAsSudoUserWithPassword deploys as a user whose sudo asks for a
// password. With --ask-sudo-password and the password as stdin's first line
// the host switches, and the password is in no process's argv or
// environment (on the deployer or the host) during the run, nor in the
// output; an activation that fails is rolled back by the host's watchdog,
// and `nixherd rollback --ask-sudo-password` takes the password the same way. Without the flag, or with a wrong password, the deploy fails
// with an error that says so (naming the flag), and the host is unchanged.
func TestDeployAsSudoUserWithPassword(t *testing.T) {
	const password = "s3cret-sudo-pw-7f1c"
	f, h, write := sudoFleet(t, testhost.Options{Names: []string{"sudopw"}, DeployPassword: password, TrustedDeployUser: true})

	write("1", 0)
	s, out, errOut, code := f.deployWithStdin("")
	if code == 0 {
		t.Fatalf("deploy without --ask-sudo-password exited 0\n%s%s", out, errOut)
	}
	all := out + errOut
	t.Logf("without --ask-sudo-password:\n%s", errOut)
	if !strings.Contains(all, "sudo") || !strings.Contains(all, "password") || !strings.Contains(all, "--ask-sudo-password") {
		t.Errorf("the error does not say sudo needs a password and to pass --ask-sudo-password:\n%s", all)
	}
	if s != nil && s.OK {
		t.Errorf("summary says OK: %+v", s)
	}
	unchanged(t, h, "")

	// A wrong password: that host fails, and says so.
	s, out, errOut, code = f.deployWithStdin("not-"+password+"\n", "--ask-sudo-password")
	if code == 0 || !strings.Contains(errOut, "sudo refused the password") {
		t.Errorf("deploy with a wrong password: exit %d\n%s%s", code, out, errOut)
	}
	unchanged(t, h, "")

	// The watch sees a process that does have the password in its argv.
	stop := watchArgv(t, password)
	exec.Command("sh", "-c", "sleep 0.2", password).Run()
	if seen, _ := stop(); len(seen) == 0 {
		t.Fatal("the process watch missed a process with the password in its argv")
	}

	stop = watchArgv(t, password)
	s, out, errOut, code = f.deployWithStdin(password+"\n", "--ask-sudo-password")
	seen, scanned := stop()
	t.Logf("%d process snapshots during the deploy; stderr:\n%s", scanned, errOut)
	if code != 0 {
		t.Fatalf("deploy with --ask-sudo-password: exit %d\n%s%s", code, out, errOut)
	}
	good := switchedTo(t, h, s, out, errOut)
	if strings.Contains(out+errOut, password) {
		t.Errorf("the password is in nixherd's output:\n%s%s", out, errOut)
	}
	for _, p := range seen {
		t.Errorf("the password is in a process's argv or environment: %s", p)
	}
	if scanned < 3 {
		t.Errorf("only %d snapshots of the processes were taken during the deploy", scanned)
	}

	// A failed activation: the host's watchdog, started through the
	// password sudo, returns it to the previous generation.
	write("2", 4)
	s, out, errOut, code = f.deployWithStdin(password+"\n", "--ask-sudo-password")
	if code == 0 || s == nil || len(s.Machines) != 1 || !strings.Contains(strings.ToLower(s.Machines[0].Outcome), "roll") || !strings.Contains(s.Machines[0].Error, "activation exited 4") {
		t.Errorf("a failing activation: exit %d, summary %+v\n%s%s", code, s, out, errOut)
	}
	unchanged(t, h, good)

	// rollback takes the password the same way.
	write("3", 0)
	s, out, errOut, code = f.deployWithStdin(password+"\n", "--ask-sudo-password")
	third := switchedTo(t, h, s, out, errOut)
	// Listing generations needs no sudo.
	for _, verb := range []string{"generations", "status"} {
		out, errOut, code = f.nixherdWithStdin("", verb, h.Name)
		if code != 0 || !strings.Contains(out, filepath.Base(third)[:8]) {
			t.Errorf("%s as %s: exit %d\n%s%s", verb, deployUser, code, out, errOut)
		}
	}
	out, errOut, code = f.nixherdWithStdin("", "rollback", h.Name)
	if code == 0 || !strings.Contains(out+errOut, "--ask-sudo-password") {
		t.Errorf("rollback without --ask-sudo-password: exit %d\n%s%s", code, out, errOut)
	}
	unchanged(t, h, third)
	out, errOut, code = f.nixherdWithStdin(password+"\n", "rollback", h.Name, "--ask-sudo-password")
	if code != 0 || strings.Contains(out+errOut, password) {
		t.Errorf("rollback with --ask-sudo-password: exit %d\n%s%s", code, out, errOut)
	}
	unchanged(t, h, good)
}

// watchArgv snapshots /proc/*/cmdline and /proc/*/environ of every process
// on this machine (the test hosts' processes included: their pid namespaces
// are children of this one) until stop is called, and reports those that
// held secret, and how many snapshots were taken.
func watchArgv(t *testing.T, secret string) (stop func() (seen []string, snapshots int)) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	var seen []string
	n := 0
	self := strconv.Itoa(os.Getpid())
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			dirs, _ := filepath.Glob("/proc/[0-9]*")
			for _, d := range dirs {
				if filepath.Base(d) == self {
					continue
				}
				for _, file := range []string{"cmdline", "environ"} {
					b, err := os.ReadFile(filepath.Join(d, file))
					if err == nil && bytes.Contains(b, []byte(secret)) {
						seen = append(seen, d+"/"+file+": "+strings.ReplaceAll(string(b), "\x00", " "))
					}
				}
			}
			n++
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() ([]string, int) {
		close(done)
		wg.Wait()
		return seen, n
	}
}

// TestDeployAsUntrustedUser deploys as a user who is not in the host's
// trusted-users, with unsigned paths: the copy is refused, and nixherd says
// why and how to fix it (trusted-users or signing), exits non-zero, and the
// host is unchanged.
func TestDeployAsUntrustedUser(t *testing.T) {
	f, h, write := sudoFleet(t, testhost.Options{Names: []string{"untrusted"}})
	write("1", 0)
	s, out, errOut, code := f.deployWithStdin("")
	if code == 0 {
		t.Fatalf("an untrusted deploy exited 0\n%s%s", out, errOut)
	}
	all := out + errOut
	t.Logf("untrusted:\n%s", errOut)
	for _, want := range []string{"lacks a signature by a key the host trusts", "trusted-users", "trusted-public-keys", "sign"} {
		if !strings.Contains(all, want) {
			t.Errorf("the error lacks %q:\n%s", want, all)
		}
	}
	if s == nil || s.OK || len(s.Machines) != 1 || s.Machines[0].Outcome == "switched" {
		t.Errorf("summary %+v", s)
	}
	unchanged(t, h, "")
}
