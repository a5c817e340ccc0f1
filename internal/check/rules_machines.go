package check

import (
	"fmt"
	"strings"

	"github.com/nixherd/nixherd/internal/fleet"
)

func checkStateVersion(f *fleet.Fleet) []Finding {
	var out []Finding
	for _, m := range f.Machines {
		if m.StateVersionFound {
			continue
		}
		opt := "system.stateVersion"
		if m.Platform == fleet.Home {
			opt = "home.stateVersion"
		}
		pos := m.Pos
		if m.MainFile != "" {
			pos = fleet.Pos{File: m.MainFile, Line: 1, Col: 1}
		}
		out = append(out, at(pos, Error, fmt.Sprintf("machine %s does not set %s (none of its modules does)", m.Name, opt)))
	}
	return out
}

func checkSystemPlatform(f *fleet.Fleet) []Finding {
	var out []Finding
	for _, m := range f.Machines {
		if m.System == "" {
			continue
		}
		switch {
		case m.Platform == fleet.Darwin && !strings.HasSuffix(m.System, "-darwin"):
			out = append(out, at(m.SystemPos, Error, fmt.Sprintf("darwin machine %s has system %q; nix-darwin needs aarch64-darwin or x86_64-darwin", m.Name, m.System)))
		case m.Platform == fleet.NixOS && !strings.HasSuffix(m.System, "-linux"):
			out = append(out, at(m.SystemPos, Error, fmt.Sprintf("NixOS machine %s has system %q; NixOS needs a linux system such as aarch64-linux", m.Name, m.System)))
		}
	}
	return out
}

// checkDeploy compares deploy.nix with the flake: a deploy of a
// configuration the flake does not define would fail only at deploy time.
func checkDeploy(f *fleet.Fleet) []Finding {
	var out []Finding
	for _, d := range f.Deployments {
		m := f.Machine(d.Configuration)
		if m == nil {
			out = append(out, at(d.Pos, Error, fmt.Sprintf("deploy.nix deploys %s, but flake.nix defines no configuration %s", d.Name, d.Configuration)))
			continue
		}
		if d.Platform != "" && d.Platform != string(m.Platform) {
			out = append(out, at(d.PlatformPos, Error, fmt.Sprintf("deploy.nix says %s is %s, but flake.nix defines it in %sConfigurations", d.Name, d.Platform, m.Platform)))
		}
	}
	return out
}
