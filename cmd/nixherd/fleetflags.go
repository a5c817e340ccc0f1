package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/nixherd/nixherd/internal/flakeref"
	"github.com/nixherd/nixherd/internal/hosts"
	"github.com/nixherd/nixherd/internal/nix"
	"github.com/nixherd/nixherd/internal/rollout"
	"github.com/nixherd/nixherd/internal/status"
	"github.com/spf13/pflag"
)

// flakeFlag is --flake, the fleet every command works on, as nixos-rebuild,
// darwin-rebuild, deploy-rs and colmena take it: a directory, DIR#machine,
// or a flake reference nix fetches (path:, git+file:, github:…).
type flakeFlag struct {
	value string
}

const flakeUsage = "the fleet: a `FLAKE` directory or reference (DIR, DIR#machine, path:…, git+file:…, github:owner/repo#machine)"

func (f *flakeFlag) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.value, "flake", ".", flakeUsage)
}

func (f *flakeFlag) ref() flakeref.Ref { return flakeref.Parse(f.value) }

// resolve finds the fleet: a directory as it is, a reference fetched by nix
// (probed when n is nil). A directory that does not exist is bad input
// (exit 2); a reference nix cannot fetch fails the command (exit 1).
func (f *flakeFlag) resolve(ctx context.Context, n *nix.Nix) (flakeref.Fleet, error) {
	r := f.ref()
	if r.IsDirectory() {
		fl, err := flakeref.Local(r)
		if err != nil {
			return fl, exitCode(2, err)
		}
		return fl, nil
	}
	if n == nil {
		var err error
		if n, err = nix.Probe(ctx); err != nil {
			return flakeref.Fleet{}, err
		}
	}
	return flakeref.Resolve(ctx, r, n.FetchFlake)
}

// dir is the fleet's directory for a command that changes its files or
// works on all of it: a flake reference or a #machine is bad input.
func (f *flakeFlag) dir(command string) (string, error) {
	r := f.ref()
	fl, err := flakeref.Local(r)
	if err != nil {
		return "", exitCode(2, fmt.Errorf("%s: %w", command, err))
	}
	if r.Machine != "" {
		return "", exitCode(2, fmt.Errorf("%s works on the whole fleet, not on one machine: drop #%s from --flake", command, r.Machine))
	}
	return fl.Dir, nil
}

// machineArg merges the machine a command takes by name (--machine) with
// the one --flake's fragment names.
func (f *flakeFlag) machineArg(explicit string) (string, error) {
	frag := f.ref().Machine
	switch {
	case frag == "":
		return explicit, nil
	case explicit == "" || explicit == frag:
		return frag, nil
	}
	return "", exitCode(2, fmt.Errorf("--machine %s and --flake …#%s name different machines", explicit, frag))
}

// fleetFlags are the flags of the commands that reach the fleet's machines
// (deploy, diff, status, generations, rollback, gc, exec): where the fleet
// is and how to ssh, and for those that evaluate or build (registerNix) the
// nix options.
type fleetFlags struct {
	flakeFlag
	nixFlags
	sshConfig string
	sshOpts   []string
	// allowUnsafeSSH lets deploy.nix's sshOptions weaken host key
	// checking, run programs here or hand hosts this machine's agent,
	// credentials or network (hosts.RefuseUnsafeSSHOptions).
	allowUnsafeSSH bool
	evaluates      bool

	// Set by open.
	nix   *nix.Nix
	fleet flakeref.Fleet
}

func (f *fleetFlags) register(fs *pflag.FlagSet) {
	f.flakeFlag.register(fs)
	fs.StringVarP(&f.sshConfig, "ssh-config", "F", "", "ssh configuration `FILE` for every host (ssh -F)")
	fs.StringArrayVarP(&f.sshOpts, "ssh-option", "o", nil, "extra ssh `OPTION=VALUE` for every host (ssh -o), repeatable")
	fs.BoolVar(&f.allowUnsafeSSH, allowUnsafeSSHFlag, false, "use deploy.nix's sshOptions even where they weaken host key checking, run programs here or forward to hosts (ProxyCommand, StrictHostKeyChecking=no, -F, ForwardAgent ...)")
}

// registerNix adds the nix options, for a command that evaluates or builds.
func (f *fleetFlags) registerNix(fs *pflag.FlagSet) {
	f.evaluates = true
	f.nixFlags.register(fs)
}

const allowUnsafeSSHFlag = "allow-unsafe-ssh-options"

func (f *fleetFlags) sshOptions() []string {
	var extra []string
	if f.sshConfig != "" {
		extra = append(extra, "-F", f.sshConfig)
	}
	for _, o := range f.sshOpts {
		extra = append(extra, "-o", o)
	}
	return extra
}

// open resolves the fleet. nix is probed (with the user's nix options;
// nix's own output goes to stderr when they ask for it) when the command
// evaluates or the fleet is a reference nix must fetch.
func (f *fleetFlags) open(ctx context.Context, stderr io.Writer) error {
	if f.evaluates || !f.ref().IsDirectory() {
		n, err := f.nixFlags.probe(ctx, stderr)
		if err != nil {
			return err
		}
		f.nix = n
	}
	var err error
	f.fleet, err = f.flakeFlag.resolve(ctx, f.nix)
	return err
}

// selection is the machines a command was asked to act on, and how to word
// a selection that names none: what the command does to machines ("deploy",
// "roll back") and whether it has --all.
type selection struct {
	hosts.Selection
	verb      string
	offersAll bool
}

// inventory opens the fleet and reads its deploy.nix; one that cannot be
// read is bad input (exit 2).
func (f *fleetFlags) inventory(ctx context.Context, stderr io.Writer) (*hosts.Inventory, error) {
	if err := f.open(ctx, stderr); err != nil {
		return nil, err
	}
	inv, err := hosts.Load(ctx, filepath.Join(f.fleet.Dir, hosts.FileName))
	if err != nil {
		return nil, exitCode(2, err)
	}
	return inv, nil
}

// selectMachines opens the fleet, reads deploy.nix and resolves the
// selection.
func (f *fleetFlags) selectMachines(ctx context.Context, stderr io.Writer, sel selection) ([]hosts.Machine, error) {
	inv, err := f.inventory(ctx, stderr)
	if err != nil {
		return nil, err
	}
	return f.selectIn(inv, sel)
}

// selectIn resolves the selection in inv, to which --flake's #machine adds
// itself, worded for the command. A bad selection is bad input (exit 2).
func (f *fleetFlags) selectIn(inv *hosts.Inventory, sel selection) ([]hosts.Machine, error) {
	if m := f.ref().Machine; m != "" {
		sel.Selectors = append(sel.Selectors, m)
		if sel.All {
			return nil, exitCode(2, fmt.Errorf("--all and the machine %s of --flake cannot be combined", m))
		}
	}
	ms, err := inv.SelectFor(sel.Selection)
	switch {
	case errors.Is(err, hosts.ErrNothingSelected):
		msg := fmt.Sprintf("name the machines to %s (names, globs like dev*, tags like @vm)", sel.verb)
		if sel.offersAll {
			msg += " or pass --all"
		}
		return nil, exitCode(2, errors.New(msg))
	case errors.Is(err, hosts.ErrAllAndSelectors):
		return nil, exitCode(2, fmt.Errorf("--all and machine selectors %s cannot be combined", strings.Join(sel.Selectors, " ")))
	case err != nil:
		return nil, exitCode(2, err)
	}
	if !f.allowUnsafeSSH {
		if err := hosts.RefuseUnsafeSSHOptions(ms); err != nil {
			return nil, exitCode(2, fmt.Errorf("%w; move them into your own ssh config (~/.ssh/config, or -F FILE), or pass --%s to use them", err, allowUnsafeSSHFlag))
		}
	}
	return ms, nil
}

// selectWithPlatforms selects machines and finds, for those whose
// deploy.nix entry does not say it, their platform in the flake:
// generations and rollback need it before reaching a host.
func (f *fleetFlags) selectWithPlatforms(ctx context.Context, stderr io.Writer, sel selection) ([]hosts.Machine, error) {
	machines, err := f.selectMachines(ctx, stderr, sel)
	if err != nil {
		return nil, err
	}
	return status.Platforms(ctx, f.nix, f.fleet.Flake, machines)
}

// pushRecord is where push rollouts of this fleet keep their record
// (rollout.PushRecordFile): the fleet is named by its directory's absolute
// path, or by the flake reference as given (without #machine).
func (f *fleetFlags) pushRecord() (string, error) {
	name := f.fleet.Ref.Flake
	if !f.fleet.Fetched {
		abs, err := filepath.Abs(f.fleet.Dir)
		if err != nil {
			return "", err
		}
		name = abs
	}
	return rollout.PushRecordFile(name)
}
