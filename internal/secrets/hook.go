package secrets

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nixherd/nixherd/internal/shell"
)

const hookMarker = "# nixherd secrets check hook"

// ErrForeignHook is a pre-commit hook nixherd did not write, which it
// replaces only when told to.
var ErrForeignHook = errors.New("a pre-commit hook exists that nixherd did not write")

// InstallHook writes a git pre-commit hook in the repository holding dir
// that runs `nixherd secrets check`, so drift and plaintext never get
// committed. An existing hook that nixherd did not write is left alone
// unless force is set. It returns the hook's path.
func InstallHook(dir, rulesFile string, force bool) (string, error) {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--show-toplevel", "--git-path", "hooks").Output()
	if err != nil {
		return "", fmt.Errorf("%s is not in a git repository", displayPath(dir))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return "", fmt.Errorf("unexpected output from git rev-parse: %q", out)
	}
	top, hooks := lines[0], lines[1]
	if !filepath.IsAbs(hooks) {
		hooks = filepath.Join(dir, hooks)
	}
	hook := filepath.Join(hooks, "pre-commit")
	if old, err := os.ReadFile(hook); err == nil && !bytes.Contains(old, []byte(hookMarker)) && !force {
		return "", fmt.Errorf("%s: %w; add `nixherd secrets check` to it, or replace it", hook, ErrForeignHook)
	}
	absRules, err := filepath.Abs(rulesFile)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(top, absRules)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("the rules file %s is outside the repository %s", rulesFile, top)
	}
	// Prefer the nixherd on PATH at commit time; fall back to this binary.
	self, _ := os.Executable()
	// Paths go into the script quoted, and only where they are data: never
	// in a comment, where a newline in a name would start a command.
	for _, p := range []struct{ what, path string }{{"the rules file's path", rel}, {"nixherd's path", self}} {
		if err := shell.CheckText(p.what, p.path); err != nil {
			return "", err
		}
	}
	script := fmt.Sprintf(`#!/bin/sh
%s
# Refuses a commit whose secrets drift from the rules or hold plaintext.
# Needs no private key. Remove this file to disable.
cd "$(git rev-parse --show-toplevel)" || exit 1
nixherd=$(command -v nixherd || echo %s)
exec "$nixherd" secrets check --rules %s
`, hookMarker, shell.Quote(self), shell.Quote(rel))
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		return "", err
	}
	s, err := stage(hook, []byte(script))
	if err != nil {
		return "", err
	}
	if err := os.Chmod(s.Temp, 0o755); err != nil {
		s.Abort()
		return "", err
	}
	if err := s.Commit(); err != nil {
		s.Abort()
		return "", err
	}
	return hook, nil
}
