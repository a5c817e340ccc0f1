package target

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
)

// Darwin deploys darwinConfigurations the way darwin-rebuild does: set the
// system profile, then run activate as root (after the old activate-user
// as the deploying user when the configuration still has a live one).
type Darwin struct{}

func (Darwin) Platform() platform.Platform { return platform.Darwin }

func (Darwin) Attr(configuration string) string {
	return "darwinConfigurations." + quoteAttr(configuration) + ".system"
}

func (Darwin) Supports(a Action) error {
	if a == Boot || a == DryActivate {
		return fmt.Errorf("nix-darwin has no %s action (use switch, test or build)", a)
	}
	return nil
}

func (Darwin) Profile(context.Context, remote.Runner) (string, error) { return SystemProfile, nil }

// Guard: a nix-darwin system has an activate script and a darwin-version
// file, and no nixos-version.
func (Darwin) Guard(ctx context.Context, r remote.Runner, path string) error {
	ok, err := testFile(ctx, r, "-x", path+"/activate")
	if err != nil {
		return err
	}
	nixos, err := testFile(ctx, r, "-f", path+"/nixos-version")
	if err != nil {
		return err
	}
	if !ok || nixos {
		return fmt.Errorf("%s is not a nix-darwin system (no activate script, or it is NixOS); refusing to activate it", path)
	}
	return nil
}

func (Darwin) SetProfile(ctx context.Context, r remote.Runner, path string) error {
	return setProfile(ctx, r, SystemProfile, path, true)
}

// deprecatedActivateUser marks an activate-user that newer nix-darwin keeps
// only as a stub; it must not be run.
const deprecatedActivateUser = "# nix-darwin: deprecated"

func (Darwin) Activate(ctx context.Context, r remote.Runner, path string, a Action) error {
	if !a.Activates() {
		return nil
	}
	if err := (Darwin{}).Supports(a); err != nil {
		return err
	}
	au := path + "/activate-user"
	if ok, err := testFile(ctx, r, "-f", au); err != nil {
		return err
	} else if ok {
		out, err := r.Run(ctx, remote.Cmd("cat", au))
		if err != nil {
			return err
		}
		if !strings.Contains(string(out), deprecatedActivateUser) {
			if _, err := r.Run(ctx, remote.Cmd(au)); err != nil {
				return activationError(err, a, "activate-user failed")
			}
		}
	}
	_, err := r.Run(ctx, remote.RootCmd(path+"/activate"))
	return activationError(err, a, "the activate script failed")
}

func activationError(err error, a Action, meaning string) error {
	var ee *remote.ExitError
	if errors.As(err, &ee) {
		return &ActivationError{Host: ee.Host, Action: a, Code: ee.Code, Meaning: meaning, Output: ee.Stderr}
	}
	return err
}
