package check

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixherd/nixherd/internal/fleet"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nixlang"
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
			pos = nixlang.Position{File: m.MainFile, Line: 1, Col: 1}
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

// checkDeploy reads deploy.nix with the reader deploy and machines use
// (internal/hosts), so whatever check accepts they accept too, and
// compares it with the flake: a deploy of a configuration the flake does
// not define would fail only at deploy time. A syntax error is the syntax
// rule's to report; a deploy.nix computed in a way the static reader
// cannot follow is a warning (deploy evaluates it with nix).
func checkDeploy(f *fleet.Fleet) []Finding {
	inv, relative, out := readDeploy(f)
	if inv == nil {
		return out
	}
	for _, d := range inv.Machines {
		m := f.Machine(d.Configuration)
		if m == nil && f.MachinesUnknown {
			continue // it may be among those check cannot list (a warning says so)
		}
		if m == nil {
			out = append(out, at(relative(d.Pos), Error, fmt.Sprintf("deploy.nix deploys %s, but flake.nix defines no configuration %s", d.Name, d.Configuration)))
			continue
		}
		if d.Platform != "" && string(d.Platform) != string(m.Platform) {
			out = append(out, at(relative(d.FieldPos["platform"]), Error, fmt.Sprintf("deploy.nix says %s is %s, but flake.nix defines it in %sConfigurations", d.Name, d.Platform, m.Platform)))
		}
	}
	return out
}

// readDeploy reads the fleet's deploy.nix as deploy does (hosts.Read), and
// returns it with a function that makes its positions relative to the
// fleet. When there is none to read, or it cannot be read, the inventory
// is nil and the findings say why (a syntax error is the syntax rule's).
func readDeploy(f *fleet.Fleet) (*hosts.Inventory, func(nixlang.Position) nixlang.Position, []Finding) {
	root, err := filepath.Abs(f.Root)
	if err != nil {
		return nil, nil, nil
	}
	file := filepath.Join(root, hosts.FileName)
	if _, err := os.Stat(file); err != nil {
		return nil, nil, nil
	}
	if fl := f.Files[hosts.FileName]; fl != nil && len(fl.Problems) > 0 {
		return nil, nil, nil
	}
	inv, err := hosts.Read(file)
	relative := func(p nixlang.Position) nixlang.Position {
		if rel, err := filepath.Rel(root, p.File); err == nil {
			p.File = filepath.ToSlash(rel)
		}
		return p
	}
	var herr *hosts.Error
	var unknown *fleet.UnknownError
	switch {
	case errors.As(err, &herr):
		return nil, nil, []Finding{at(relative(herr.Pos), Error, herr.Msg)}
	case errors.As(err, &unknown):
		return nil, nil, []Finding{at(relative(unknown.Pos), Warning,
			fmt.Sprintf("%s cannot be read without evaluating it, so check does not validate deploy.nix; deploy and machines evaluate it with nix (restricted to the fleet)", unknown.What))}
	case err != nil:
		return nil, nil, []Finding{{File: hosts.FileName, Severity: Error, Message: err.Error()}}
	}
	return inv, relative, nil
}

// checkSSHOptions finds deploy.nix's ssh options that weaken host key
// checking, run programs on the deploying machine or hand the host
// something of it: the fleet commands refuse them unless the user allows
// them, and a reviewer should see them. (Why deploy.nix could not be read
// is the deploy rule's to say.)
func checkSSHOptions(f *fleet.Fleet) []Finding {
	inv, relative, _ := readDeploy(f)
	if inv == nil {
		return nil
	}
	var out []Finding
	for _, u := range hosts.UnsafeSSHOptions(inv.Machines) {
		out = append(out, at(relative(u.Pos), Error, fmt.Sprintf("%s: %s %s; nixherd refuses it from deploy.nix unless --allow-unsafe-ssh-options is given", u.Attr, u.Arg, u.Reason)))
	}
	return out
}
