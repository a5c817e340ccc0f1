package local

import (
	"errors"
	"fmt"

	"github.com/nixherd/nixherd/internal/flakeref"
)

// ErrNotDarwin is returned when bootstrap is asked for on a machine that is
// not a Mac: nix-darwin cannot be installed there.
var ErrNotDarwin = errors.New("bootstrap installs nix-darwin and only runs on macOS")

// BootstrapCommand is the first-time nix-darwin install for machine from the
// flake in dir: nix-darwin's own darwin-rebuild, run with nix run before it
// is installed, as root (it sets the system profile), with flakes enabled on
// the command line because a fresh Nix install may not have them. flake is
// a directory or a flake reference; nixArgs are the user's nix options
// (-L, --show-trace, …) for the nix run that builds and runs it.
func BootstrapCommand(goos, flake, machine string, isRoot bool, nixArgs []string) ([]string, error) {
	if goos != "darwin" {
		return nil, fmt.Errorf("%w (this is %s): use `nixherd switch` for NixOS and home-manager machines", ErrNotDarwin, goos)
	}
	if machine == "" {
		return nil, fmt.Errorf("%w: no machine to bootstrap", ErrWhichMachine)
	}
	ref, err := flakeref.ForNix(flake)
	if err != nil {
		return nil, err
	}
	args := []string{"nix", "--extra-experimental-features", "nix-command flakes", "run"}
	args = append(args, nixArgs...)
	args = append(args, "nix-darwin/master#darwin-rebuild", "--", "switch", "--flake", ref+"#"+machine)
	if !isRoot {
		// -H: root's HOME, so nix does not write root-owned caches into ours.
		args = append([]string{"sudo", "-H", "--"}, args...)
	}
	return args, nil
}
