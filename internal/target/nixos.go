package target

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
)

// NixOS deploys nixosConfigurations with switch-to-configuration.
type NixOS struct{}

func (NixOS) Platform() platform.Platform { return platform.NixOS }

func (NixOS) Attr(configuration string) string {
	return "nixosConfigurations." + quoteAttr(configuration) + ".config.system.build.toplevel"
}

func (NixOS) Supports(Action) error { return nil }

func (NixOS) Profile(context.Context, remote.Runner) (string, error) { return SystemProfile, nil }

// Guard: every NixOS toplevel has a nixos-version file; refusing anything
// else keeps a darwin or home closure off a NixOS profile.
func (NixOS) Guard(ctx context.Context, r remote.Runner, path string) error {
	ok, err := testFile(ctx, r, "-f", path+"/nixos-version")
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s is not a NixOS system (it has no nixos-version); refusing to activate it", path)
	}
	return nil
}

func (NixOS) SetProfile(ctx context.Context, r remote.Runner, path string) error {
	return setProfile(ctx, r, SystemProfile, path, true)
}

// systemdRunCheck is true when systemd manages the host (the test that
// sd_booted uses) and systemd-run exists: only then does wrapping the
// activation in a transient unit make sense.
const systemdRunCheck = `test -d /run/systemd/system && command -v systemd-run >/dev/null`

// Activate runs switch-to-configuration. Where systemd runs the host it runs
// inside a transient unit, as nixos-rebuild does, so that an SSH connection
// dropped by the new configuration cannot kill the activation half way.
func (NixOS) Activate(ctx context.Context, r remote.Runner, path string, a Action) error {
	if !a.Activates() {
		return nil
	}
	stc := []string{path + "/bin/switch-to-configuration", string(a)}
	args := stc
	if _, err := r.Run(ctx, remote.Sh(systemdRunCheck)); err == nil {
		args = append([]string{"systemd-run", "-E", "LOCALE_ARCHIVE", "-E", "NIXOS_INSTALL_BOOTLOADER",
			"--collect", "--no-ask-password", "--pipe", "--quiet", "--service-type=exec",
			"--unit=" + activationUnit, "--wait"}, stc...)
	}
	_, err := r.Run(ctx, remote.RootCmd(args...))
	var ee *remote.ExitError
	if errors.As(err, &ee) {
		meaning := SwitchExitMeaning(ee.Code)
		if len(args) > len(stc) && strings.Contains(ee.Stderr, activationUnit) && strings.Contains(ee.Stderr, "already") {
			// A deploy that lost its connection left its activation
			// running: the unit name doubles as a lock.
			meaning = "an earlier activation is still running on the host (unit " + activationUnit + ")"
		}
		return &ActivationError{Host: ee.Host, Action: a, Code: ee.Code, Meaning: meaning, Output: ee.Stderr}
	}
	return err
}

// DryActivator is an executor that can show what an activation would do
// without doing it (NixOS's dry-activate).
type DryActivator interface {
	DryActivate(ctx context.Context, r remote.Runner, path string) (output string, err error)
}

// DryActivate runs switch-to-configuration dry-activate and returns what it
// prints (the units it would stop, start, restart, reload), stderr with
// stdout in order: that output is the point of a dry activation. It changes
// nothing, so it needs no transient unit.
func (NixOS) DryActivate(ctx context.Context, r remote.Runner, path string) (string, error) {
	c := remote.Sh(`exec "$1" dry-activate 2>&1`, path+"/bin/switch-to-configuration")
	c.Root = true
	out, err := r.Run(ctx, c)
	var ee *remote.ExitError
	if errors.As(err, &ee) {
		return string(out), &ActivationError{Host: ee.Host, Action: DryActivate, Code: ee.Code, Meaning: SwitchExitMeaning(ee.Code), Output: string(out) + ee.Stderr}
	}
	return string(out), err
}

// activationUnit is the transient unit activations run in where systemd
// runs the host; systemd refuses to start a second one of that name.
const activationUnit = "nixherd-switch-to-configuration"

// SwitchExitMeaning explains an exit status of switch-to-configuration.
func SwitchExitMeaning(code int) string {
	switch code {
	case 1:
		return "usage error, bootloader installation failed, or not run as root"
	case 2:
		return "the activation script failed"
	case 3:
		return "systemd daemon-reload failed"
	case 4:
		return "a unit failed to stop, start or restart, or is failed afterwards"
	case 100:
		return "the new configuration needs a reboot"
	case 255:
		return "the SSH connection was lost"
	}
	return "failed"
}

// ActivationError is a failed activation with the platform's explanation.
type ActivationError struct {
	Host    string
	Action  Action
	Code    int
	Meaning string
	Output  string
}

func (e *ActivationError) Error() string {
	msg := fmt.Sprintf("%s: activation (%s) exited with status %d: %s", e.Host, e.Action, e.Code, e.Meaning)
	if out := remote.Excerpt(e.Output); out != "" {
		msg += "\n" + out
	}
	return msg
}

// rebootScript names what differs between the booted and the running
// system among kernel, initrd and kernel modules.
const rebootScript = `[ -e /run/booted-system ] || exit 0
for f in kernel initrd kernel-modules; do
	a=$(readlink -f "/run/booted-system/$f" 2>/dev/null) b=$(readlink -f "/run/current-system/$f" 2>/dev/null)
	[ "$a" = "$b" ] || echo "$f"
done`

// NeedsReboot reports whether a NixOS machine runs a kernel, initrd or
// kernel modules other than those it booted (what only a reboot applies).
func NeedsReboot(ctx context.Context, r remote.Runner) (bool, error) {
	out, err := r.Run(ctx, remote.Sh(rebootScript))
	if err != nil {
		return false, fmt.Errorf("comparing the booted and the running system: %w", err)
	}
	return strings.TrimSpace(string(out)) != "", nil
}
