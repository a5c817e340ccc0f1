// Package testenv lets tests declare the real tools they need (nix, ssh,
// sshd, age, root). A missing tool skips the test on a developer's machine
// but fails it when NIXHERD_REQUIRE_TOOLS is set, as scripts/test.sh does, so
// CI never passes by skipping.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// OfflineNixConfig is the NIX_CONFIG that lets Nix run as root without a
// daemon, a sandbox or network access.
const OfflineNixConfig = "experimental-features = nix-command flakes\nsandbox = false\nbuild-users-group =\nsubstituters ="

// Required reports whether missing tools must fail tests instead of skipping them.
func Required() bool { return os.Getenv("NIXHERD_REQUIRE_TOOLS") != "" }

func missing(t testing.TB, what string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is required (NIXHERD_REQUIRE_TOOLS is set)", what)
	}
	t.Skipf("%s not available", what)
}

// NeedTool returns the path of the named program or skips/fails the test.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	for _, dir := range []string{"", "/usr/sbin/", "/sbin/"} {
		if p, err := exec.LookPath(dir + name); err == nil {
			return p
		}
	}
	missing(t, name)
	return ""
}

// NeedRoot skips/fails the test unless it runs as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "root")
	}
}

// NixEnv sets NIX_CONFIG for offline single-user Nix in the test's environment
// unless the caller already configured one, and returns the nix path.
func NixEnv(t testing.TB) string {
	t.Helper()
	p := NeedTool(t, "nix")
	if os.Getenv("NIX_CONFIG") == "" {
		t.Setenv("NIX_CONFIG", OfflineNixConfig)
	}
	return p
}

// Eventually polls cond until it holds, and fails the test with what was
// awaited when it does not within timeout. Every test that waits for
// something another process does uses it: no fixed sleeps, one deadline.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for wait := 10 * time.Millisecond; !cond(); wait = min(2*wait, 250*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(wait)
	}
}

// Await is Eventually for conditions that can say why they do not hold
// yet: it polls cond until it returns nil, and fails the test with cond's
// last error when that does not happen within timeout.
func Await(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", timeout, err)
		}
		time.Sleep(wait)
	}
}

// Artifact returns the path a test keeps a file at for people to look at
// after the run (a screenshot): in $NIXHERD_ARTIFACTS (scripts/test.sh sets
// it to test-artifacts/ in the checkout), else in the system's temporary
// directory under nixherd-test-artifacts. The path is logged.
func Artifact(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("NIXHERD_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "nixherd-test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	t.Logf("artifact: %s", p)
	return p
}
