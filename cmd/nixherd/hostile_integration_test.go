package main

// Hostile input against the CLI on real test hosts: a deploy.nix written to
// turn off host key checking, and hosts that answer with floods and
// terminal escape sequences.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/testhost"
	"github.com/nixherd/nixherd/internal/testhost/hosttest"
)

// TestDeployNixCannotTurnOffHostKeyChecking: the deployer's own ssh config
// knows another key for the host (an impostor answers at its address). A
// deploy.nix whose sshOptions switch host key checking off would deploy to
// it anyway; nixherd refuses such options before any login, unless the
// user passes --allow-unsafe-ssh-options.
func TestDeployNixCannotTurnOffHostKeyChecking(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"impostor"}})
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
		out, errOut, code, _ := runNixherd(t, bin, append([]string{"deploy", "--all", "--flake", fleet, "-F", config}, extra...)...)
		return out, errOut, code
	}

	// The premise: with the deployer's config alone, ssh refuses the host
	// (it could not be reached: exit 3).
	write(`"-o" "ConnectTimeout=10"`)
	out, errOut, code := deploy()
	if code != exitUnreachable || !strings.Contains(out+errOut, "Host key verification failed") {
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

// hostileWrapper is a test host's sshd session wrapper whose answers
// depend on the file /run/testhost/mode: "flood" sends 512 MiB without a
// newline for the generation list; "escapes" lists a generation and a
// running system whose store paths retitle the terminal and clear it;
// "fail" fails the generation list with an escape sequence and 2 MiB of
// noise on stderr. Every other command runs as on any host.
const hostileWrapper = `mode=$(cat /run/testhost/mode 2>/dev/null)
evil=$(printf '/nix/store/aaaa-\033]0;pwned\007\033[2J-system')
case "$mode:$SSH_ORIGINAL_COMMAND" in
flood:*-\*-link*) head -c 536870912 /dev/zero | tr '\0' x; exit 0 ;;
escapes:*-\*-link*) printf 'current /nix/var/nix/profiles/system-1-link\n1 1764100000 %s\n' "$evil"; exit 0 ;;
escapes:*readlink*current-system*) printf '%s\n' "$evil"; exit 0 ;;
fail:*-\*-link*) head -c 2097152 /dev/zero | tr '\0' '\n' >&2; printf '\033]0;pwned\007 boom\n' >&2; exit 1 ;;
esac
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"`

// TestHostileHostCannotExhaustOrRetitle: a host that floods nixherd
// with output costs it a few MiB and a short error, not gigabytes; a host
// whose paths and errors carry terminal escape sequences has them shown
// escaped, in tables and in errors.
func TestHostileHostCannotExhaustOrRetitle(t *testing.T) {
	c := hosttest.Start(t, testhost.Options{Names: []string{"hostile"}, SessionWrapper: hostileWrapper})
	h := c.Host("hostile")
	f := newOpsFleet(t, c)
	f.write(placement{testhost.FixtureMachine{Name: "hostile", Platform: platform.NixOS, Generation: "1"}, "hostile"})
	mode := func(m string) { writeTestFile(t, filepath.Join(h.Dir, "mode"), m) }
	run := func(args ...string) (string, string, int, int64) {
		// The flags go first: exec's command follows "--".
		return runNixherd(t, f.bin, append([]string{args[0], "--flake", f.dir, "-F", c.SSHConfig}, args[1:]...)...)
	}

	mode("flood")
	out, errOut, code, rss := run("generations", "hostile")
	t.Logf("flood: exit %d, max RSS %d MiB, %d bytes of stderr", code, rss>>20, len(errOut))
	if code != 1 || !strings.Contains(errOut, "printed more than 4 MiB") || len(errOut) > 1000 || out != "" {
		t.Errorf("flood: exit %d\nstdout %.200q\nstderr %.1000q", code, out, errOut)
	}
	if rss > 256<<20 {
		t.Errorf("a host's flood took nixherd to %d MiB", rss>>20)
	}

	mode("escapes")
	out, errOut, code, _ = run("generations", "hostile")
	if code != 0 || strings.ContainsAny(out+errOut, "\x1b\x07") || !strings.Contains(out, `/nix/store/aaaa-\x1b]0;pwned\x07\x1b[2J-system`) {
		t.Errorf("generations: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	out, errOut, _, _ = run("status")
	if strings.ContainsAny(out+errOut, "\x1b\x07") || !strings.Contains(out, `\x1b]0;pwned\x07`) {
		t.Errorf("status:\nstdout %q\nstderr %q", out, errOut)
	}

	// exec shows what the host printed, escaped, and keeps a bounded part.
	mode("none")
	out, errOut, code, _ = run("exec", "hostile", "--", "printf", `\033]0;pwned\007 hello\n`)
	if code != 0 || strings.ContainsAny(out+errOut, "\x1b\x07") || !strings.Contains(out, `hostile | \x1b]0;pwned\x07 hello`) {
		t.Errorf("exec: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	out, errOut, code, rss = run("exec", "hostile", "--group", "--", "head", "-c", "536870912", "/dev/zero")
	t.Logf("exec of a flood: exit %d, max RSS %d MiB, %d bytes shown", code, rss>>20, len(out))
	if code != 0 || rss > 256<<20 || !strings.Contains(out, "(only the first 4 MiB are kept)") {
		t.Errorf("exec of a flood: exit %d, max RSS %d MiB\nstderr %.500q", code, rss>>20, errOut)
	}

	mode("fail")
	out, errOut, code, _ = run("generations", "hostile")
	if code != 1 || strings.ContainsAny(errOut, "\x1b\x07") || !strings.Contains(errOut, `\x1b]0;pwned\x07 boom`) || len(errOut) > 1000 {
		t.Errorf("failing host: exit %d\nstdout %q\nstderr %.1000q", code, out, errOut)
	}
}

func writeTestFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
