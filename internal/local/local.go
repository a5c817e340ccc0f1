// Package local answers the questions nixherd asks about the machine it runs
// on before a local rebuild: which of the fleet's machines this is (by host
// name, the way nixos-rebuild, darwin-rebuild and home-manager pick their
// configuration), and how to install nix-darwin on a Mac that has only Nix.
package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"

	"github.com/nixherd/nixherd/internal/platform"
)

// Configurations are the machine names a fleet flake defines, per platform.
type Configurations struct {
	NixOS  []string `json:"nixos"`
	Darwin []string `json:"darwin"`
	Home   []string `json:"home"`
	// Local are the machines whose deploy target is "local" (deploy.nix).
	Local []string `json:"-"`
}

// Machine is a configuration of the fleet.
type Machine struct {
	Name     string
	Platform platform.Platform
}

// Lookup returns the platform of a named configuration. A name defined for
// more than one platform is taken for this machine's own OS first (a NixOS
// configuration on Linux, a darwin one on a Mac), then home-manager.
func (c Configurations) Lookup(name, goos string) (Machine, bool) {
	order := []platform.Platform{platform.NixOS, platform.Darwin, platform.Home}
	if goos == "darwin" {
		order = []platform.Platform{platform.Darwin, platform.NixOS, platform.Home}
	}
	for _, p := range order {
		if slices.Contains(c.names(p), name) {
			return Machine{name, p}, true
		}
	}
	return Machine{}, false
}

func (c Configurations) names(p platform.Platform) []string {
	switch p {
	case platform.NixOS:
		return c.NixOS
	case platform.Darwin:
		return c.Darwin
	}
	return c.Home
}

// All lists every configuration name, for error messages.
func (c Configurations) All() []string {
	all := slices.Concat(c.NixOS, c.Darwin, c.Home)
	slices.Sort(all)
	return slices.Compact(all)
}

// Identity is what the local machine is called, and what it is.
type Identity struct {
	Hostname string // short host name (darwin: LocalHostName)
	User     string
	GOOS     string
	// NixOS is true on NixOS (it has /etc/NIXOS, or os-release says ID=nixos).
	NixOS bool
}

// ErrWrongPlatform is returned (wrapped) when this machine cannot run a
// configuration of the platform asked for: a NixOS system anywhere but on
// NixOS, a nix-darwin system anywhere but on macOS.
var ErrWrongPlatform = errors.New("this machine cannot run it")

// CanRun says why this machine cannot switch to a configuration of platform
// p, before anything is built or changed: its profile and activation would
// take over a system of another kind (a NixOS profile set on Debian stays
// there, failing at every activation). home-manager runs anywhere.
func (id Identity) CanRun(p platform.Platform) error {
	switch {
	case p == platform.NixOS && !id.NixOS:
		return fmt.Errorf("%w: it is a NixOS configuration and this machine is not NixOS (it has no /etc/NIXOS)", ErrWrongPlatform)
	case p == platform.Darwin && id.GOOS != "darwin":
		return fmt.Errorf("%w: it is a nix-darwin configuration and this machine is not a Mac (%s)", ErrWrongPlatform, id.GOOS)
	}
	return nil
}

// isNixOS looks for the marks NixOS leaves on the machines it runs.
func isNixOS() bool {
	if _, err := os.Stat("/etc/NIXOS"); err == nil {
		return true
	}
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "ID="); ok && strings.Trim(v, `"'`) == "nixos" {
			return true
		}
	}
	return false
}

// Resolve picks the configuration to build for the machine described by id:
// an explicit name wins; otherwise the system configuration named after the
// host (as nixos-rebuild and darwin-rebuild do), then home-manager's
// "user@host" and "user" (as home-manager does), then the one machine the
// fleet deploys to "local".
func Resolve(c Configurations, id Identity, explicit string) (Machine, error) {
	if explicit != "" {
		if m, ok := c.Lookup(explicit, id.GOOS); ok {
			return m, nil
		}
		return Machine{}, fmt.Errorf("the flake defines no machine %q (machines: %s)", explicit, list(c.All()))
	}
	system := platform.NixOS
	if id.GOOS == "darwin" {
		system = platform.Darwin
	}
	if id.Hostname != "" && slices.Contains(c.names(system), id.Hostname) {
		return Machine{id.Hostname, system}, nil
	}
	if id.User != "" {
		for _, name := range []string{id.User + "@" + id.Hostname, id.User} {
			if slices.Contains(c.Home, name) {
				return Machine{name, platform.Home}, nil
			}
		}
	}
	var local []Machine
	for _, name := range c.Local {
		if m, ok := c.Lookup(name, id.GOOS); ok {
			local = append(local, m)
		}
	}
	if len(local) == 1 {
		return local[0], nil
	}
	if len(local) > 1 {
		names := make([]string, len(local))
		for i, m := range local {
			names[i] = m.Name
		}
		return Machine{}, fmt.Errorf("%w: several machines are deployed to \"local\" (%s)", ErrWhichMachine, list(names))
	}
	return Machine{}, fmt.Errorf("%w: no machine of the flake matches this host %q (machines: %s)",
		ErrWhichMachine, id.Hostname, list(c.All()))
}

// ErrWhichMachine is returned (wrapped) when the flake does not say which
// of its machines this host is: the caller asks for the name.
var ErrWhichMachine = errors.New("which machine is this?")

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// This describes the machine nixherd runs on.
func This(ctx context.Context) Identity {
	id := Identity{GOOS: runtime.GOOS, User: os.Getenv("USER"), NixOS: runtime.GOOS == "linux" && isNixOS()}
	if id.User == "" && os.Geteuid() == 0 {
		id.User = "root"
	}
	if runtime.GOOS == "darwin" {
		// darwin-rebuild's default: the Bonjour name, stable across networks.
		if out, err := exec.CommandContext(ctx, "scutil", "--get", "LocalHostName").Output(); err == nil {
			id.Hostname = strings.TrimSpace(string(out))
		}
	}
	if id.Hostname == "" {
		h, _ := os.Hostname()
		id.Hostname, _, _ = strings.Cut(h, ".")
	}
	return id
}
