package main

// Hostile input against the CLI on real test hosts: a deploy.nix written to
// turn off host key checking, and hosts that answer with floods and
// terminal escape sequences.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/testhost"
)

// runNixherd runs the nixherd binary with args and returns stdout, stderr
// and the exit code.
func runNixherd(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("nixherd %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), code
}

// TestDeployNixCannotTurnOffHostKeyChecking: the deployer's own ssh config
// knows another key for the host (an impostor answers at its address). A
// deploy.nix whose sshOptions switch host key checking off would deploy to
// it anyway; nixherd refuses such options before any login, unless the
// user passes --allow-unsafe-ssh-options.
func TestDeployNixCannotTurnOffHostKeyChecking(t *testing.T) {
	c := testhost.Start(t, testhost.Options{Names: []string{"impostor"}})
	h := c.Host("impostor")
	dir := t.TempDir()
	other := filepath.Join(dir, "other")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	otherPub, err := os.ReadFile(other + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	knownHosts := filepath.Join(dir, "known_hosts")
	writeTestFile(t, knownHosts, fmt.Sprintf("[%s]:%d %s", h.Addr, h.Port, otherPub))
	config := filepath.Join(dir, "ssh_config")
	writeTestFile(t, config, fmt.Sprintf("Host *\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n  BatchMode yes\n", c.IdentityFile, knownHosts))

	fleet := filepath.Join(dir, "fleet")
	m := testhost.FixtureMachine{Name: "impostor", Platform: platform.NixOS, Generation: "1"}
	write := func(sshOptions string) {
		deployNix := fmt.Sprintf("{\n  machines.impostor = {\n    target = %q;\n    sshOptions = [ %s ];\n  };\n}\n", h.Target(), sshOptions)
		if err := testhost.WriteFixture(fleet, testhost.FixtureOptions{Machines: []testhost.FixtureMachine{m}, Files: map[string]string{"deploy.nix": deployNix}}); err != nil {
			t.Fatal(err)
		}
	}
	bin := nixherdBin(t)
	deploy := func(extra ...string) (string, string, int) {
		return runNixherd(t, bin, append([]string{"deploy", "--all", "--flake", fleet, "-F", config}, extra...)...)
	}

	// The premise: with the deployer's config alone, ssh refuses the host.
	write(`"-o" "ConnectTimeout=10"`)
	out, errOut, code := deploy()
	if code != 1 || !strings.Contains(out+errOut, "Host key verification failed") {
		t.Fatalf("with a wrong known key: exit %d\n%s%s", code, out, errOut)
	}

	// The attack: deploy.nix turns the check off. Refused, exit 2, before
	// any login.
	write(`"-o" "StrictHostKeyChecking=no" "-o" "UserKnownHostsFile=/dev/null"`)
	out, errOut, code = deploy()
	if code != 2 || !strings.Contains(errOut, "deploy.nix:4:5: machines.impostor.sshOptions: -o StrictHostKeyChecking=no weakens host key checking") {
		t.Errorf("hostile deploy.nix: exit %d, want 2 and the option named\n%s%s", code, out, errOut)
	}
	if h.Logins() != 0 || h.CurrentSystem() != "" {
		t.Fatalf("the impostor was logged in to (%d logins) or activated %q", h.Logins(), h.CurrentSystem())
	}

	// Only the user can allow it, on the command line.
	out, errOut, code = deploy("--allow-unsafe-ssh-options")
	if code != 0 || h.CurrentSystem() == "" {
		t.Errorf("with --allow-unsafe-ssh-options: exit %d, running %q\n%s%s", code, h.CurrentSystem(), out, errOut)
	}
}

func writeTestFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
