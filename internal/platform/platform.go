// Package platform names the three kinds of machine nixherd deploys:
// NixOS systems, nix-darwin systems and standalone home-manager homes. One
// type, used by deploy.nix (hosts), the static fleet reader (fleet), the
// executors (target), the watchdog and the test fixture, so that a platform
// is spelled and checked in one place.
package platform

import "fmt"

// Platform is the kind of a machine's configuration.
type Platform string

const (
	NixOS  Platform = "nixos"  // nixosConfigurations.NAME.config.system.build.toplevel
	Darwin Platform = "darwin" // darwinConfigurations.NAME.system
	Home   Platform = "home"   // homeConfigurations.NAME.activationPackage
)

// All lists the platforms in the order messages name them.
var All = []Platform{NixOS, Darwin, Home}

// Parse checks a platform's name.
func Parse(s string) (Platform, error) {
	for _, p := range All {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown platform %q (nixos, darwin or home)", s)
}

// Output is the flake output that holds the platform's configurations.
func (p Platform) Output() string {
	switch p {
	case NixOS:
		return "nixosConfigurations"
	case Darwin:
		return "darwinConfigurations"
	case Home:
		return "homeConfigurations"
	}
	return ""
}

// System reports whether the platform's profile is a system profile, owned
// by root (a home-manager profile belongs to its user).
func (p Platform) System() bool { return p == NixOS || p == Darwin }
