// Package target knows how each kind of machine takes a new configuration:
// one Executor per platform (NixOS, nix-darwin, standalone home-manager),
// each following the upstream contract (nixos-rebuild, darwin-rebuild,
// home-manager switch; see docs/contracts.md §1–3).
//
// An Executor never builds or copies: it names the flake attribute to build,
// checks that a store path really is a system of its kind (the guard), sets
// the profile and activates. The same calls serve a local switch, a fleet
// deploy and a rollback, on a remote.Runner that is either SSH or local.
package target

import (
	"context"
	"fmt"
	"strings"

	"github.com/nixherd/nixherd/internal/platform"
	"github.com/nixherd/nixherd/internal/remote"
)

// Action is what to do with a built configuration, as in nixos-rebuild.
type Action string

const (
	// Switch makes it the boot default and activates it now.
	Switch Action = "switch"
	// Boot makes it the boot default without activating it.
	Boot Action = "boot"
	// Test activates it now without touching the boot default.
	Test Action = "test"
	// DryActivate prints what activation would do.
	DryActivate Action = "dry-activate"
	// Build only builds it.
	Build Action = "build"
)

// Actions lists the actions in the order the help text shows them.
var Actions = []Action{Switch, Boot, Test, DryActivate, Build}

// ParseAction checks an --action value.
func ParseAction(s string) (Action, error) {
	for _, a := range Actions {
		if string(a) == s {
			return a, nil
		}
	}
	return "", fmt.Errorf("unknown action %q: use switch, boot, test, dry-activate or build", s)
}

// SetsProfile reports whether the action creates a new profile generation.
func (a Action) SetsProfile() bool { return a == Switch || a == Boot }

// Activates reports whether the action runs anything on the host.
func (a Action) Activates() bool { return a != Build }

// SystemProfile is the profile of NixOS and nix-darwin systems.
const SystemProfile = "/nix/var/nix/profiles/system"

// Executor deploys one platform's configurations.
type Executor interface {
	Platform() platform.Platform
	// Attr is the flake output attribute of configuration's closure.
	Attr(configuration string) string
	// Supports returns an error when the platform has no such action.
	Supports(a Action) error
	// Profile is the profile path on the host.
	Profile(ctx context.Context, r remote.Runner) (string, error)
	// Guard refuses a store path that is not a configuration of this platform.
	Guard(ctx context.Context, r remote.Runner, path string) error
	// SetProfile points the profile at path, creating a new generation.
	SetProfile(ctx context.Context, r remote.Runner, path string) error
	// Activate runs the activation of path for action (profile already set
	// when the action needs it).
	Activate(ctx context.Context, r remote.Runner, path string, a Action) error
}

// For returns the executor of a platform.
func For(p platform.Platform) (Executor, error) {
	switch p {
	case platform.NixOS:
		return NixOS{}, nil
	case platform.Darwin:
		return Darwin{}, nil
	case platform.Home:
		return Home{}, nil
	}
	return nil, fmt.Errorf("unknown platform %q (nixos, darwin or home)", string(p))
}

// NeedsRoot reports whether the executor's profile belongs to root (system
// profiles do; a home-manager profile belongs to its user).
func NeedsRoot(e Executor) bool { return e.Platform().System() }

// quoteAttr quotes a configuration name for use in an attribute path.
func quoteAttr(name string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`).Replace(name) + `"`
}

// setProfile runs nix-env --set, which creates the generation link.
func setProfile(ctx context.Context, r remote.Runner, profile, path string, root bool) error {
	c := remote.Cmd("nix-env", "-p", profile, "--set", path)
	c.Root = root
	if _, err := r.Run(ctx, c); err != nil {
		return fmt.Errorf("setting profile %s: %w", profile, err)
	}
	return nil
}

// testFile runs `test -f path` and distinguishes "absent" from "cannot ask".
func testFile(ctx context.Context, r remote.Runner, flag, path string) (bool, error) {
	_, err := r.Run(ctx, remote.Cmd("test", flag, path))
	if err == nil {
		return true, nil
	}
	if ee, ok := err.(*remote.ExitError); ok && ee.Code == 1 {
		return false, nil
	}
	return false, err
}
